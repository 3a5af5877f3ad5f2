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
    /// Rung while nobody slept (the outbox was busy sending): the next
    /// sleep ends at once, so the news is not lost.
    rung: StoredValue<bool>,
}

impl Alarm {
    pub fn new() -> Self {
        Alarm {
            wake: StoredValue::new_local(None),
            rung: StoredValue::new(false),
        }
    }

    /// Sleeps `ms` milliseconds, or until [`Alarm::ring`].
    pub async fn sleep(self, ms: u32) {
        if std::mem::take(&mut *self.rung.write_value()) {
            return;
        }
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

    /// Ends the current sleep, or else the next one before it starts.
    pub fn ring(self) {
        match self.wake.try_update_value(Option::take).flatten() {
            Some(resolve) => _ = resolve.call0(&JsValue::UNDEFINED),
            None => self.rung.set_value(true),
        }
    }
}

impl Default for Alarm {
    fn default() -> Self {
        Self::new()
    }
}
