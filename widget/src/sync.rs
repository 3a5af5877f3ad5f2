//! How new messages reach the panel: pushed by the server over one stream
//! (Server-Sent Events, see [`api::message_events`]), held open for as long
//! as there is a conversation, whether the panel is open or closed (the
//! closed panel still counts unread messages for the launcher's badge).
//!
//! One loop owns the stream. It waits until there is a conversation and its
//! history has loaded, then connects from the timeline's sync point: the
//! server first sends everything after it, then each new message as it is
//! stored, in `seq` order, so every message merges like the history page
//! does. Whenever the stream ends or breaks, the loop waits (see
//! [`Backoff`]) and connects again from the sync point it has reached; it
//! never gives up. Coming back online or to the page skips the wait. A stream
//! silent for longer than the server's keep-alives allow is assumed dead.
//!
//! While disconnected for more than a moment, [`Messenger::reconnecting`]
//! says so.
//!
//! Only the leading tab (see [`crate::tabs`]) holds a stream; it shares what
//! it receives, and its connection state, with the other tabs.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortController;

use crate::api;
use crate::backoff::Backoff;
use crate::clock::now_ms;
use crate::effect::effect;
use crate::messenger::{History, Messenger};
use crate::timeline::Timeline;

/// The server sends a keep-alive every 15 s; nothing for this long means the
/// connection is gone without the browser noticing (a sleeping laptop, a
/// changed network).
const SILENCE_LIMIT_MS: i64 = 45_000;
/// A disconnection shorter than this is not worth showing.
const QUIET_OUTAGE: Duration = Duration::from_secs(1);

/// What the loop shares with the event handlers that nudge it.
#[derive(Clone, Copy)]
struct Link {
    messenger: Messenger,
    /// Resolves the loop's current wait, if it is waiting, and whether that
    /// wait is for a change of state (rather than a backoff delay).
    ///
    /// The loop looks at the state and starts waiting without yielding in
    /// between, so a change it must see cannot slip past: one made while it
    /// is busy elsewhere is seen when it next looks.
    wake: StoredValue<Option<(js_sys::Function, bool)>, LocalStorage>,
    /// The network came back while the loop was busy: its next backoff
    /// delay is skipped.
    hurry: StoredValue<bool>,
    /// Aborts the stream being opened or read.
    abort: StoredValue<Option<AbortController>, LocalStorage>,
    /// The token of that stream.
    streaming: StoredValue<Option<String>>,
    /// When the stream last received anything, keep-alives included.
    heard: StoredValue<i64>,
    /// Counts outages, so the timer of an earlier one cannot show a later one.
    outage: StoredValue<Option<u32>>,
    outages: StoredValue<u32>,
}

pub fn start(messenger: Messenger) {
    let link = Link {
        messenger,
        wake: StoredValue::new_local(None),
        hurry: StoredValue::new(false),
        abort: StoredValue::new_local(None),
        streaming: StoredValue::new(None),
        heard: StoredValue::new(0),
        outage: StoredValue::new(None),
        outages: StoredValue::new(0),
    };
    // A conversation started (by the first send): connect at once. Or
    // forgotten, or another one chosen: close its stream.
    effect(move || {
        let token = messenger.current_token();
        if link.streaming.with_value(|s| s.is_some() && *s != token) {
            link.abort();
        }
        link.nudge(false);
    });
    // History loaded (the stream starts from it) or failed (to retry).
    effect(move || {
        messenger.history.track();
        link.nudge(false);
    });
    // This tab now leads the tabs of the conversation.
    effect(move || {
        if messenger.tabs.is_leader() {
            link.nudge(false);
        }
    });
    // The network is back: the stream may be a dead connection by now.
    let online = Closure::<dyn Fn()>::new(move || {
        link.hurry.set_value(true);
        link.abort();
        link.nudge(true);
    });
    _ = window().add_event_listener_with_callback("online", online.as_ref().unchecked_ref());
    // Back to the page: a connection was perhaps refused while away.
    let visible = Closure::<dyn Fn()>::new(move || {
        if !document().hidden() {
            link.nudge(true);
        }
    });
    _ = document()
        .add_event_listener_with_callback("visibilitychange", visible.as_ref().unchecked_ref());
    // A visible tab that has not heard from the leading tab for longer than
    // its keep-alives allow (the leader's tab frozen in the background, say)
    // takes its own stream, and the outbox with it.
    _ = set_interval_with_handle(
        move || {
            let tabs = messenger.tabs;
            if tabs.is_leader_untracked() || document().hidden() || messenger.token().is_none() {
                return;
            }
            if now_ms() - tabs.heard() > SILENCE_LIMIT_MS {
                messenger.take_lead();
            }
        },
        Duration::from_secs(5),
    );
    // The panel lives as long as its frame: so do the listeners.
    online.forget();
    visible.forget();
    spawn_local(run(link));
}

async fn run(link: Link) {
    let messenger = link.messenger;
    let mut backoff = Backoff::default();
    loop {
        let Some(token) = messenger.token() else {
            link.outage_over();
            link.wait(None).await;
            continue;
        };
        match messenger.history.get_untracked() {
            // The stream starts where the history page ends.
            History::Loading => {
                link.wait(None).await;
                continue;
            }
            History::Failed => {
                link.wait(Some(backoff.next_delay(0, js_sys::Math::random())))
                    .await;
                messenger.load_latest().await;
                continue;
            }
            History::Loaded => {}
        }
        if !messenger.tabs.is_leader_untracked() {
            // Another tab holds the stream and shares what it receives.
            link.outage.set_value(None);
            link.wait(None).await;
            continue;
        }
        let connected_ms = link.stream(&token).await;
        if !messenger.is_current(&token) {
            // Forgotten (401) or replaced: nothing to reconnect to.
            continue;
        }
        link.outage_began();
        let delay = backoff.next_delay(connected_ms, js_sys::Math::random());
        link.wait(Some(delay)).await;
    }
}

impl Link {
    /// Reads the stream until it ends or breaks; returns how long it was
    /// connected (0 when it never was).
    async fn stream(self, token: &str) -> i64 {
        let messenger = self.messenger;
        let Ok(controller) = AbortController::new() else {
            return 0;
        };
        let signal = controller.signal();
        self.abort.set_value(Some(controller));
        self.streaming.set_value(Some(token.to_owned()));
        let after = messenger.timeline.with_untracked(Timeline::synced);
        let opened = api::message_events(token, after, &signal).await;
        let mut connected_ms = 0;
        match opened {
            Err(error) if error.is_unauthorized() => messenger.forget_conversation(token),
            Err(_) => {}
            Ok(mut events) => {
                let since = now_ms();
                self.outage_over();
                // The server is reachable: what waits in the outbox can go.
                messenger.wake_outbox();
                self.heard.set_value(since);
                let watchdog = set_interval_with_handle(
                    move || {
                        if now_ms() - self.heard.get_value() > SILENCE_LIMIT_MS {
                            self.abort();
                        }
                    },
                    Duration::from_secs(5),
                );
                while let Ok(Some(events)) = events.next().await {
                    if !messenger.is_current(token) {
                        break;
                    }
                    self.heard.set_value(now_ms());
                    if !events.is_empty() {
                        // Messages in `seq` order and without gaps from the
                        // sync point on.
                        messenger.apply(&events, false);
                    }
                    // Keep-alives too: they tell the other tabs this one
                    // still leads.
                    messenger.tabs.share(events, None);
                }
                if let Ok(watchdog) = watchdog {
                    watchdog.clear();
                }
                connected_ms = now_ms() - since;
            }
        }
        // Closes the connection if the loop left it open.
        self.abort();
        connected_ms
    }

    fn abort(self) {
        self.streaming.set_value(None);
        if let Some(controller) = self.abort.try_update_value(Option::take).flatten() {
            controller.abort();
        }
    }

    /// Waits `ms` milliseconds, or for a change of state when `None`.
    async fn wait(self, ms: Option<u32>) {
        if ms.is_some() && std::mem::take(&mut *self.hurry.write_value()) {
            return;
        }
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(ms) = ms {
                _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
                    &resolve,
                    ms.try_into().unwrap_or(i32::MAX),
                );
            }
            self.wake.set_value(Some((resolve, ms.is_none())));
        });
        _ = JsFuture::from(promise).await;
        self.wake.set_value(None);
        self.hurry.set_value(false);
    }

    /// Ends the loop's wait for a change of state, or with `any` also its
    /// backoff delay (the network or the page is back: try now).
    fn nudge(self, any: bool) {
        let resolve = self.wake.try_update_value(|wake| match wake {
            Some((_, idle)) if *idle || any => wake.take(),
            _ => None,
        });
        if let Some((resolve, _)) = resolve.flatten() {
            _ = resolve.call0(&wasm_bindgen::JsValue::UNDEFINED);
        }
    }

    /// The stream is down; say so if it stays down for more than a moment.
    fn outage_began(self) {
        if self.outage.get_value().is_some() {
            return;
        }
        let id = self.outages.get_value().wrapping_add(1);
        self.outages.set_value(id);
        self.outage.set_value(Some(id));
        set_timeout(
            move || {
                if self.outage.get_value() == Some(id) {
                    self.messenger.reconnecting.set(true);
                    self.messenger.tabs.share(Vec::new(), Some(true));
                }
            },
            QUIET_OUTAGE,
        );
    }

    fn outage_over(self) {
        self.outage.set_value(None);
        if self.messenger.reconnecting.get_untracked() {
            self.messenger.reconnecting.set(false);
            self.messenger.tabs.share(Vec::new(), Some(false));
        }
    }
}
