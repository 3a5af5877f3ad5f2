//! A sleep that can be cut short: the outbox waits out its backoff delay
//! with it, and the network coming back (or the stream reconnecting) rings
//! it so waiting messages go at once.

use leptos::prelude::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

#[derive(Clone, Copy)]
pub struct Alarm {
    /// Resolves the current sleep, if one is under way.
    wake: StoredValue<Option<js_sys::Function>, LocalStorage>,
}

impl Alarm {
    pub fn new() -> Self {
        Alarm {
            wake: StoredValue::new_local(None),
        }
    }

    /// Sleeps `ms` milliseconds, or until [`Alarm::ring`].
    pub async fn sleep(self, ms: u32) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                ms.try_into().unwrap_or(i32::MAX),
            );
            self.wake.set_value(Some(resolve));
        });
        _ = JsFuture::from(promise).await;
        self.wake.set_value(None);
    }

    /// Ends the current sleep, if any.
    pub fn ring(self) {
        if let Some(resolve) = self.wake.try_update_value(Option::take).flatten() {
            _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }
}

impl Default for Alarm {
    fn default() -> Self {
        Self::new()
    }
}
