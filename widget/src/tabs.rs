//! Several tabs of the same site show the same conversation (the host page's
//! storage holds one token for the whole site), and the server should not
//! carry one stream per tab. So the tabs elect a leader: the tab holding the
//! Web Lock named after the conversation keeps its stream open and shares
//! every event it receives over a `BroadcastChannel` of the same name; the
//! others follow. When the leader's tab closes, the browser releases its
//! lock and the next tab in line takes over, resuming its own stream from
//! the last `seq` it holds, so nothing falls between two leaders.
//!
//! The panel runs in a frame of the messenger's origin, so both the lock and
//! the channel are keyed by the host site as well (storage partitioning):
//! tabs of other sites never meet. Where the browser has no Web Locks (or
//! refuses them to a third-party frame), every tab leads its own stream, as
//! if it were alone.
//!
//! Sending needs no coordination: each tab posts its own messages, and the
//! others receive them through the leader's stream like any other message.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, BroadcastChannel, MessageEvent};

use crate::sse;

/// What the leader tells the other tabs: the events one read of its stream
/// brought, in order and as the server sent them, or a change of its
/// connection state.
#[derive(Serialize, Deserialize, Clone, Default, PartialEq, Eq, Debug)]
pub struct Shared {
    #[serde(default)]
    pub events: Vec<sse::Event>,
    /// Whether the leader's stream is reconnecting, when that changed.
    #[serde(default)]
    pub reconnecting: Option<bool>,
}

#[derive(Clone, Copy)]
pub struct Tabs {
    /// This tab keeps the stream open (and shares what it receives).
    leader: RwSignal<bool>,
    /// The conversation joined, if any.
    joined: StoredValue<Option<String>>,
    channel: StoredValue<Option<BroadcastChannel>, LocalStorage>,
    /// Ends the lock's hold, once granted.
    release: StoredValue<Option<js_sys::Function>, LocalStorage>,
    /// Withdraws the lock request while it waits in line.
    cancel: StoredValue<Option<AbortController>, LocalStorage>,
}

impl Tabs {
    pub fn new() -> Self {
        Tabs {
            leader: RwSignal::new(false),
            joined: StoredValue::new(None),
            channel: StoredValue::new_local(None),
            release: StoredValue::new_local(None),
            cancel: StoredValue::new_local(None),
        }
    }

    /// Whether this tab keeps the stream open; tracked.
    pub fn is_leader(self) -> bool {
        self.leader.get()
    }

    pub fn is_leader_untracked(self) -> bool {
        self.leader.get_untracked()
    }

    /// Joins the tabs showing `conversation_id`: listens to what their
    /// leader shares and lines up to lead. Joining the conversation already
    /// joined does nothing.
    pub fn join(self, conversation_id: &str, on_shared: impl Fn(Shared) + 'static) {
        if self
            .joined
            .with_value(|j| j.as_deref() == Some(conversation_id))
        {
            return;
        }
        self.leave();
        self.joined.set_value(Some(conversation_id.to_owned()));
        let name = format!("messenger:{conversation_id}");

        if let Ok(channel) = BroadcastChannel::new(&name) {
            let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
                let shared = event
                    .data()
                    .as_string()
                    .and_then(|text| serde_json::from_str::<Shared>(&text).ok());
                if let Some(shared) = shared {
                    on_shared(shared);
                }
            });
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            // Lives as long as the channel, which is closed on leave; the
            // few bytes of a closure are not worth tracking.
            on_message.forget();
            self.channel.set_value(Some(channel));
        }
        if !self.request_lock(&name) {
            self.leader.set(true);
        }
    }

    /// Leaves the conversation (it was forgotten): gives up the lead, closes
    /// the channel.
    pub fn leave(self) {
        if self
            .joined
            .try_update_value(Option::take)
            .flatten()
            .is_none()
        {
            return;
        }
        if let Some(cancel) = self.cancel.try_update_value(Option::take).flatten() {
            cancel.abort();
        }
        if let Some(release) = self.release.try_update_value(Option::take).flatten() {
            _ = release.call0(&JsValue::UNDEFINED);
        }
        if let Some(channel) = self.channel.try_update_value(Option::take).flatten() {
            channel.set_onmessage(None);
            channel.close();
        }
        self.leader.set(false);
    }

    /// Tells the other tabs (a no-op for a follower or a lone tab).
    pub fn share(self, shared: &Shared) {
        if !self.leader.get_untracked() {
            return;
        }
        let Ok(text) = serde_json::to_string(shared) else {
            return;
        };
        self.channel.with_value(|channel| {
            if let Some(channel) = channel {
                _ = channel.post_message(&JsValue::from_str(&text));
            }
        });
    }

    /// Lines up for the conversation's lock; this tab leads once it is
    /// granted, until [`Tabs::leave`] or the tab closes. Returns `false`
    /// where Web Locks are missing.
    fn request_lock(self, name: &str) -> bool {
        let Some(locks) = web_locks() else {
            return false;
        };
        let Ok(request) = js_sys::Reflect::get(&locks, &"request".into())
            .and_then(JsCast::dyn_into::<js_sys::Function>)
        else {
            return false;
        };
        let Ok(cancel) = AbortController::new() else {
            return false;
        };
        let options = js_sys::Object::new();
        _ = js_sys::Reflect::set(&options, &"signal".into(), &cancel.signal());
        let granted = Closure::once_into_js(move |_lock: JsValue| -> js_sys::Promise {
            self.cancel.set_value(None);
            self.leader.set(true);
            // Held until this promise settles.
            js_sys::Promise::new(&mut |resolve, _| self.release.set_value(Some(resolve)))
        });
        let outcome = request.call3(&locks, &JsValue::from_str(name), &options, &granted);
        self.cancel.set_value(Some(cancel));
        match outcome.map(JsCast::dyn_into::<js_sys::Promise>) {
            Ok(Ok(promise)) => {
                // Refused (a frame denied storage, say): lead alone. Withdrawn
                // by `leave`: nothing to do.
                let joined = self.joined.get_value();
                let refused = Closure::once(move |_error: JsValue| {
                    if joined.is_some() && self.joined.with_value(|j| *j == joined) {
                        self.leader.set(true);
                    }
                });
                _ = promise.catch(&refused);
                refused.forget();
                true
            }
            _ => {
                self.cancel.set_value(None);
                false
            }
        }
    }
}

impl Default for Tabs {
    fn default() -> Self {
        Self::new()
    }
}

/// `navigator.locks`, where the browser has it.
fn web_locks() -> Option<JsValue> {
    let navigator = window().navigator();
    js_sys::Reflect::get(&navigator, &"locks".into())
        .ok()
        .filter(JsValue::is_object)
}
