//! The panel's state, shared by every component through the context, and
//! the actions that change it: starting from the host's `mw:init`, loading
//! history, sending (one message at a time, in order), retrying.
//!
//! The conversation token lives here and in the host page's storage (via
//! the bridge), never in a URL. A request answered with 401 means the server
//! does not know the token: the panel forgets it and starts over empty.

use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::SendMessage;

use crate::api::{self, ApiError};
use crate::bridge::{Bridge, HostEvent};
use crate::timeline::{Delivery, Pending, Timeline};
use crate::{clock, ids};

/// Where the conversation's history stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum History {
    /// Asked for, no answer yet.
    Loading,
    /// Shown (or there is no conversation yet, so nothing to load).
    Loaded,
    /// The last attempt failed; [`crate::sync`] tries again.
    Failed,
}

#[derive(Clone, Copy)]
pub struct Messenger {
    pub bridge: Bridge,
    /// Set when the host's `mw:init` has arrived (at once when standalone);
    /// nothing is fetched or reported before.
    pub ready: RwSignal<bool>,
    pub title: RwSignal<String>,
    pub open: RwSignal<bool>,
    pub timeline: RwSignal<Timeline>,
    pub history: RwSignal<History>,
    /// Where the page of earlier messages starts, if there is one.
    pub older_cursor: RwSignal<Option<String>>,
    pub loading_earlier: RwSignal<bool>,
    pub earlier_failed: RwSignal<bool>,
    /// The stream of new messages has been down for a moment (set by
    /// [`crate::sync`]).
    pub reconnecting: RwSignal<bool>,
    /// The highest `seq` the customer has seen.
    seen: RwSignal<i64>,
    token: RwSignal<Option<String>>,
    /// The outbox is being worked through.
    sending: StoredValue<bool>,
}

impl Messenger {
    /// Creates the state and starts reporting `seen` and unread counts.
    pub fn new(bridge: Bridge) -> Self {
        let messenger = Messenger {
            bridge,
            ready: RwSignal::new(false),
            title: RwSignal::new(String::new()),
            open: RwSignal::new(false),
            timeline: RwSignal::new(Timeline::default()),
            history: RwSignal::new(History::Loaded),
            older_cursor: RwSignal::new(None),
            loading_earlier: RwSignal::new(false),
            earlier_failed: RwSignal::new(false),
            reconnecting: RwSignal::new(false),
            seen: RwSignal::new(0),
            token: RwSignal::new(None),
            sending: StoredValue::new(false),
        };
        messenger.report_reading();
        messenger
    }

    pub fn handle(self, event: HostEvent) {
        match event {
            HostEvent::Init(init) => {
                self.title.set(init.title);
                self.seen.set(init.seen);
                self.open.set(init.open);
                let has_token = init.token.is_some();
                self.token.set(init.token);
                if has_token {
                    // Before the first render with `ready`: no "empty" flash.
                    self.history.set(History::Loading);
                    spawn_local(self.load_latest());
                }
                self.ready.set(true);
                // Anything written before the token was known goes now.
                spawn_local(self.flush_outbox());
            }
            HostEvent::Visibility { open } => self.open.set(open),
        }
    }

    pub fn token(self) -> Option<String> {
        self.token.get_untracked()
    }

    /// Whether there is a conversation, tracked: an effect reading it runs
    /// again when a conversation starts or is forgotten.
    pub fn has_conversation(self) -> bool {
        self.token.with(Option::is_some)
    }

    /// Shows the message at once and queues it for sending.
    pub fn send(self, body: String) {
        self.timeline.update(|t| {
            t.push_pending(Pending {
                client_id: ids::new_client_id(),
                body,
                created_at: clock::now_ms(),
                delivery: Delivery::Sending,
            })
        });
        spawn_local(self.flush_outbox());
    }

    /// Sends a failed message again, with its original client id.
    pub fn retry(self, client_id: &str) {
        if self.timeline.try_update(|t| t.retry(client_id)) == Some(true) {
            spawn_local(self.flush_outbox());
        }
    }

    /// Fetches the latest page of history, replacing nothing already shown.
    pub async fn load_latest(self) {
        let Some(token) = self.token() else { return };
        self.history.set(History::Loading);
        let result = api::latest_messages(&token).await;
        if !self.is_current(&token) {
            return;
        }
        match result {
            Ok(page) => {
                self.older_cursor.set(page.older_cursor);
                self.timeline.update(|t| t.merge_synced(page.messages));
                self.history.set(History::Loaded);
            }
            Err(error) if error.is_unauthorized() => self.forget_conversation(&token),
            Err(_) => self.history.set(History::Failed),
        }
    }

    /// Fetches the page before the oldest message shown.
    pub async fn load_earlier(self) {
        let (Some(token), Some(cursor)) = (self.token(), self.older_cursor.get_untracked()) else {
            return;
        };
        if self.loading_earlier.get_untracked() {
            return;
        }
        self.loading_earlier.set(true);
        self.earlier_failed.set(false);
        let result = api::messages_before(&token, &cursor).await;
        self.loading_earlier.set(false);
        if !self.is_current(&token) {
            return;
        }
        match result {
            Ok(page) => {
                self.older_cursor.set(page.older_cursor);
                self.timeline.update(|t| t.merge(page.messages));
            }
            Err(error) if error.is_unauthorized() => self.forget_conversation(&token),
            Err(_) => self.earlier_failed.set(true),
        }
    }

    /// Whether `token` is still the conversation shown: answers to requests
    /// made for a forgotten conversation are dropped.
    pub fn is_current(self, token: &str) -> bool {
        self.token.with_untracked(|t| t.as_deref() == Some(token))
    }

    /// The server does not know `token`: drop the conversation, here and on
    /// the host page.
    pub fn forget_conversation(self, token: &str) {
        if !self.is_current(token) {
            return;
        }
        self.token.set(None);
        self.bridge.token_changed(None);
        self.seen.set(0);
        self.older_cursor.set(None);
        self.timeline.update(Timeline::forget_history);
        self.history.set(History::Loaded);
    }

    /// A conversation was just created for the first message.
    fn adopt(self, token: &str) {
        self.token.set(Some(token.to_owned()));
        // Hand it over before anything else can fail: this token is the
        // customer's only key to the conversation.
        self.bridge.token_changed(Some(token));
        self.seen.set(0);
        self.history.set(History::Loaded);
    }

    /// Sends queued messages one by one, oldest first, so they keep the order
    /// they were written in. A single loop runs at a time.
    async fn flush_outbox(self) {
        // Until `mw:init` says which conversation this is, sending could
        // start a second one.
        if self.sending.get_value() || !self.ready.get_untracked() {
            return;
        }
        self.sending.set_value(true);
        while let Some(pending) = self.timeline.with_untracked(Timeline::next_to_send) {
            if let Err(delivery) = self.deliver(&pending).await {
                self.timeline
                    .update(|t| t.set_delivery(&pending.client_id, delivery));
            }
        }
        self.sending.set_value(false);
    }

    /// Sends one message, starting the conversation first if there is none.
    /// On failure, returns how the message now stands.
    async fn deliver(self, pending: &Pending) -> Result<(), Delivery> {
        let token = match self.token() {
            Some(token) => token,
            None => {
                let started = api::start_conversation().await.map_err(|e| failed(&e))?;
                self.adopt(&started.token);
                started.token
            }
        };
        let message = SendMessage {
            client_id: pending.client_id.clone(),
            body: pending.body.clone(),
        };
        let result = api::send_message(&token, &message).await;
        if !self.is_current(&token) {
            return Err(Delivery::NotSent);
        }
        match result {
            Ok(message) => {
                self.timeline.update(|t| t.merge([message]));
                Ok(())
            }
            Err(error) if error.is_unauthorized() => {
                self.forget_conversation(&token);
                Err(Delivery::NotSent)
            }
            Err(error) => Err(failed(&error)),
        }
    }

    /// While the panel is open everything in it counts as seen; while it is
    /// closed the host's badge shows what came since.
    fn report_reading(self) {
        Effect::new(move |_| {
            if !(self.ready.get() && self.open.get()) {
                return;
            }
            let last = self.timeline.with(Timeline::last_seq);
            if last > self.seen.get_untracked() {
                self.seen.set(last);
                self.bridge.seen(last);
            }
        });
        let unread = Memo::new(move |_| {
            if !self.ready.get() {
                return None;
            }
            Some(if self.open.get() {
                0
            } else {
                let seen = self.seen.get();
                self.timeline.with(|t| t.unread_after(seen))
            })
        });
        Effect::new(move |_| {
            if let Some(count) = unread.get() {
                self.bridge.unread(count);
            }
        });
    }
}

/// Transient failures can be retried; refusals show the server's reason.
fn failed(error: &ApiError) -> Delivery {
    if error.is_transient() {
        Delivery::NotSent
    } else {
        Delivery::Refused(error.message())
    }
}
