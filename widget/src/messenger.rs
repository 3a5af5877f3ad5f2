//! The panel's state, shared by every component through the context, and
//! the actions that change it: starting from the host's `mw:init`, loading
//! history, the outbox (one message at a time, in order, kept by the host
//! page until acknowledged), read marks and typing notices.
//!
//! The conversation token lives here and in the host page's storage (via
//! the bridge), never in a URL. A request answered with 401 means the server
//! does not know the token: the panel forgets it and starts over empty.
//!
//! A customer may have several conversations (listed by
//! [`crate::account`]). Moving to another one — chosen from the list, opened
//! from a resume link, or started with "New conversation" — is a change of
//! token like any other: the host page stores it (so the site's other tabs
//! follow) and this panel loads the other conversation in place. A new
//! conversation is a *draft* until its first message: the stored token stays
//! the one it was started from (its parent), so a reload simply returns to
//! that conversation.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::{
    Author, Conversation, ConversationStatus, ErrorCode, MAX_PAGE_SIZE, Message, SendMessage,
    StartConversation, StartedConversation, TYPING_INTERVAL_MS, WidgetStatus,
};

use crate::alarm::Alarm;
use crate::api::{self, ApiError, ForCustomer as _, StreamEvent};
use crate::backoff::Backoff;
use crate::bridge::{Bridge, HostEvent, Queued};
use crate::effect::effect;
use crate::tabs::Tabs;
use crate::timeline::{Delivery, Pending, Timeline};
use crate::{clock, ids};
use messenger_wire::sse;
use web_sys::{AbortController, AbortSignal};

/// How long "typing…" shows after the last notice: the agent's client
/// repeats it every [`TYPING_INTERVAL_MS`] while typing goes on.
const TYPING_SHOWN_MS: u64 = 3 * TYPING_INTERVAL_MS as u64;

/// How often the panel reloads the team's hours.
const STATUS_REFRESH_MS: u64 = 5 * 60 * 1000;

/// How long the outbox waits for the server to answer a send.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

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
    /// [`crate::sync`], or shared by the leading tab).
    pub reconnecting: RwSignal<bool>,
    /// An agent is typing.
    pub agent_typing: RwSignal<bool>,
    /// The team's hours and reply time, once known.
    pub status: RwSignal<Option<WidgetStatus>>,
    /// The conversation shown is closed (a message from the customer
    /// reopens it).
    pub closed: RwSignal<bool>,
    /// Why the resume link the page was opened with did not work.
    pub resume_problem: RwSignal<Option<ResumeProblem>>,
    /// The list of the customer's conversations is shown instead of the
    /// conversation.
    pub showing_list: RwSignal<bool>,
    /// A new conversation is being written, not started yet: the token it
    /// was started from (still the stored one).
    draft_parent: RwSignal<Option<String>>,
    /// The site's greeting, from its configuration.
    pub greeting: RwSignal<Option<String>>,
    /// The site accepts only verified identities.
    identity_required: StoredValue<bool>,
    /// The latest signed identity that the server accepted: memory only,
    /// never stored; new conversations are started with it.
    identity: StoredValue<Option<String>>,
    /// Contact details from an identify call without a signature, kept
    /// for the conversation's start.
    profile: StoredValue<Option<api::Profile>>,
    /// The token of an anonymous conversation this device had before the
    /// customer was identified: offered to be added to their account.
    pub claim_offer: RwSignal<Option<String>>,
    /// The latest message announced to screen readers.
    pub announcement: RwSignal<String>,
    /// Counts identify calls, so only the latest one's answer counts.
    identifies: StoredValue<u32>,
    /// The host page's URL, recorded with a conversation when it starts.
    page: StoredValue<Option<String>>,
    /// Which tab keeps the stream open.
    pub tabs: Tabs,
    /// The tab is in view (not in the background, not minimized).
    visible: RwSignal<bool>,
    /// The highest `seq` the customer has seen.
    seen: RwSignal<i64>,
    /// The highest `seq` the server knows the customer has seen.
    read_reported: StoredValue<i64>,
    reporting_read: StoredValue<bool>,
    token: RwSignal<Option<String>>,
    /// The outbox is being worked through.
    sending: StoredValue<bool>,
    /// Cuts the outbox's wait short when the network is back.
    outbox_alarm: Alarm,
    /// The outbox entries the host page has stored: id and whether refused.
    stored_outbox: StoredValue<Vec<(String, bool)>>,
    /// Counts typing notices, so an old notice's timer cannot hide a newer one.
    typing_notices: StoredValue<u32>,
    /// When this side last said it was typing (Unix ms).
    typing_sent_at: StoredValue<i64>,
    /// A catch-up of messages the leading tab's events skipped is under way.
    filling: StoredValue<bool>,
    /// Aborts the outbox's request under way.
    in_flight: StoredValue<Option<AbortController>, LocalStorage>,
}

impl Messenger {
    /// Creates the state and starts reporting `seen`, unread counts and the
    /// outbox to the host page.
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
            agent_typing: RwSignal::new(false),
            status: RwSignal::new(None),
            closed: RwSignal::new(false),
            resume_problem: RwSignal::new(None),
            showing_list: RwSignal::new(false),
            draft_parent: RwSignal::new(None),
            greeting: RwSignal::new(None),
            identity_required: StoredValue::new(false),
            identity: StoredValue::new(None),
            profile: StoredValue::new(None),
            claim_offer: RwSignal::new(None),
            announcement: RwSignal::new(String::new()),
            identifies: StoredValue::new(0),
            page: StoredValue::new(None),
            tabs: Tabs::new(bridge),
            visible: RwSignal::new(!document().hidden()),
            seen: RwSignal::new(0),
            read_reported: StoredValue::new(0),
            reporting_read: StoredValue::new(false),
            token: RwSignal::new(None),
            sending: StoredValue::new(false),
            outbox_alarm: Alarm::new(),
            stored_outbox: StoredValue::new(Vec::new()),
            typing_notices: StoredValue::new(0),
            typing_sent_at: StoredValue::new(0),
            filling: StoredValue::new(false),
            in_flight: StoredValue::new_local(None),
        };
        messenger.report_reading();
        messenger.store_outbox();
        messenger.watch_page();
        messenger
    }

    pub fn handle(self, event: HostEvent) {
        match event {
            HostEvent::Init(init) => {
                let init = *init;
                api::set_site(&init.site, init.origin.as_deref());
                if let Some(config) = init.config {
                    self.configure(&config);
                }
                self.title.set(init.title);
                self.page.set_value(init.page);
                self.tabs.set_leader(init.lead);
                self.seen.set(init.seen);
                self.open.set(init.open);
                // The messages a reload (or another tab) left unsent.
                self.sync_outbox(init.outbox);
                let has_token = init.token.is_some();
                self.token.set(init.token);
                let identity = init.identity;
                if let Some(code) = init.resume {
                    self.history.set(History::Loading);
                    spawn_local(self.resume(code));
                } else if has_token {
                    // Before the first render with `ready`: no "empty" flash.
                    self.history.set(History::Loading);
                    spawn_local(async move {
                        self.load_latest().await;
                        // Knowing the conversation shown first tells
                        // whether it is already the identified customer's.
                        if let Some(identity) = identity {
                            self.identify(identity).await;
                        }
                    });
                } else if let Some(identity) = identity {
                    spawn_local(self.identify(identity));
                }
                self.ready.set(true);
                spawn_local(self.follow_status());
                // Anything written before the token was known goes now.
                spawn_local(self.flush_outbox());
            }
            HostEvent::Visibility { open } => self.open.set(open),
            // Another language: the panel is drawn afresh, from the
            // loader's next `mw:init` (which carries the new config).
            HostEvent::Config(config) => {
                if config.lang() != crate::site::current_lang() {
                    _ = window().location().reload();
                } else {
                    self.configure(&config);
                }
            }
            HostEvent::Identify(identity) => spawn_local(self.identify(identity)),
            HostEvent::Reset => spawn_local(self.reset()),
            HostEvent::Lead => self.take_lead(),
            HostEvent::Stored(outbox) => self.sync_outbox(outbox),
            HostEvent::Shared(text) => {
                if let Some(shared) = self.tabs.accept(&text) {
                    self.apply(&shared.events, true);
                    if let Some(reconnecting) = shared.reconnecting {
                        self.reconnecting.set(reconnecting);
                    }
                }
            }
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

    /// The token of the conversation shown, tracked.
    pub fn current_token(self) -> Option<String> {
        self.token.get()
    }

    /// The token the host page stores: the conversation's, or while a new
    /// one is a draft, the one it was started from. Tracked. It speaks for
    /// the customer (their email, their other conversations).
    pub fn customer_token(self) -> Option<String> {
        self.token.get().or_else(|| self.draft_parent.get())
    }

    pub fn customer_token_untracked(self) -> Option<String> {
        self.token
            .get_untracked()
            .or_else(|| self.draft_parent.get_untracked())
    }

    /// Whether the conversation shown is the one with this id.
    pub fn showing_conversation(self, id: &str) -> bool {
        self.tabs.is_showing(id)
    }

    /// The conversation shown is open or closed, as the server said.
    pub fn conversation_status(self, status: ConversationStatus) {
        self.closed.set(status == ConversationStatus::Closed);
    }

    /// A new conversation is being written (not sent yet); tracked.
    pub fn is_draft(self) -> bool {
        self.draft_parent.with(Option::is_some)
    }

    /// Opens the resume link `code`: on success, its conversation replaces
    /// the one shown.
    async fn resume(self, code: String) {
        match api::resume(&code).await {
            Ok(started) => self.switch_to(&started),
            Err(error) => {
                self.resume_problem.set(Some(ResumeProblem::of(&error)));
                if self.token().is_some() {
                    self.load_latest().await;
                } else {
                    self.history.set(History::Loaded);
                }
            }
        }
    }

    /// Shows another conversation of the customer: `started` holds a token
    /// for it, made for this device. The host page stores the token, so the
    /// site's other tabs follow.
    pub fn switch_to(self, started: &StartedConversation) {
        let of = self.customer_token_untracked();
        self.bridge
            .token_changed(Some(&started.token), of.as_deref());
        self.draft_parent.set(None);
        self.reset_view();
        self.history.set(History::Loading);
        self.closed
            .set(started.conversation.status == ConversationStatus::Closed);
        self.token.set(Some(started.token.clone()));
        spawn_local(self.load_latest());
    }

    /// An empty conversation view whose first message starts a new
    /// conversation of the same customer. Nothing changes on the host page
    /// until then.
    pub fn start_new_conversation(self) {
        let Some(parent) = self.customer_token_untracked() else {
            return;
        };
        self.draft_parent.set(Some(parent));
        self.token.set(None);
        self.reset_view();
        self.closed.set(false);
        self.history.set(History::Loaded);
    }

    /// Clears what belonged to the conversation shown. (Unsent messages
    /// stay: they go to the conversation shown next.)
    fn reset_view(self) {
        self.tabs.show(None);
        self.seen.set(0);
        self.read_reported.set_value(0);
        self.older_cursor.set(None);
        self.earlier_failed.set(false);
        self.agent_typing.set(false);
        self.timeline.update(Timeline::forget_history);
    }

    /// Keeps the team's hours current: loaded now, again every few minutes,
    /// and right when the team is due back.
    async fn follow_status(self) {
        loop {
            let mut wait = STATUS_REFRESH_MS;
            if let Ok(status) = api::status().await {
                if let Some(back) = status.next_open_at {
                    let until = (back - clock::now_ms()).clamp(1_000, STATUS_REFRESH_MS as i64);
                    wait = until as u64;
                }
                self.status.set(Some(status));
            }
            crate::alarm::Alarm::new().sleep(wait as u32).await;
        }
    }

    /// This tab now leads: it holds the stream and sends the outbox.
    pub fn take_lead(self) {
        self.tabs.set_leader(true);
        spawn_local(self.flush_outbox());
    }

    /// Takes in the stored outbox (at start, or changed by another tab):
    /// every tab shows the same pending messages, and the leading tab sends
    /// them all, so only one tab starts a conversation and the order holds
    /// across tabs. An entry missing from storage is dropped here only if it
    /// was refused: a queued one may be on its way, or just written.
    fn sync_outbox(self, outbox: Vec<Queued>) {
        self.stored_outbox.update_value(|stored| {
            stored.retain(|(id, refused)| !refused || outbox.iter().any(|m| &m.id == id));
            for m in &outbox {
                let entry = (m.id.clone(), m.refused.is_some());
                stored.retain(|(id, _)| *id != m.id);
                stored.push(entry);
            }
        });
        let stored = outbox
            .into_iter()
            .map(|queued| Pending {
                client_id: queued.id,
                body: queued.body,
                created_at: queued.at,
                delivery: queued.refused.map_or(Delivery::Queued, Delivery::Refused),
            })
            .collect();
        self.timeline.update(|t| t.take_stored(stored));
        spawn_local(self.flush_outbox());
    }

    /// Shows the message at once and queues it for sending.
    pub fn send(self, body: String) {
        self.timeline.update(|t| {
            t.push_pending(Pending {
                client_id: ids::new_client_id(),
                body,
                created_at: clock::now_ms(),
                delivery: Delivery::Queued,
            })
        });
        self.typing_sent_at.set_value(0);
        // A new message is a good moment to try again whatever waits.
        self.wake_outbox();
        spawn_local(self.flush_outbox());
    }

    /// Removes a refused message from the outbox.
    pub fn remove(self, client_id: &str) {
        self.timeline.update(|t| t.remove_pending(client_id));
    }

    /// Whatever held the outbox back may be over (the network is back, the
    /// stream reconnected): try now rather than at the end of the wait.
    pub fn wake_outbox(self) {
        self.outbox_alarm.ring();
        // A read mark that failed to go out goes now.
        if self.seen.get_untracked() > self.read_reported.get_value() {
            spawn_local(self.report_read());
        }
    }

    /// The customer is writing: tell the agents, at most once per
    /// [`TYPING_INTERVAL_MS`].
    pub fn typing(self) {
        let Some(token) = self.token() else { return };
        let now = clock::now_ms();
        if now - self.typing_sent_at.get_value() < TYPING_INTERVAL_MS {
            return;
        }
        self.typing_sent_at.set_value(now);
        // A lost typing notice is not worth a retry.
        spawn_local(async move {
            _ = api::typing(&token).await;
        });
    }

    /// Applies what the conversation's stream brought, in order: from this
    /// tab's own stream, or shared by the leading tab (`shared`).
    pub fn apply(self, events: &[sse::Event], shared: bool) {
        let mut messages = Vec::new();
        for event in events.iter().filter_map(StreamEvent::parse) {
            match event {
                StreamEvent::Message(message) => {
                    if message.author != Author::Customer {
                        self.agent_typing.set(false);
                    }
                    messages.push(message);
                }
                StreamEvent::Read(read) => {
                    self.merge_messages(std::mem::take(&mut messages), shared);
                    self.read(read.reader, read.seq);
                }
                StreamEvent::Typing(typing) => {
                    if typing.author != Author::Customer {
                        self.agent_typing_notice();
                    }
                }
                StreamEvent::Conversation(conversation) => {
                    if self.showing_conversation(&conversation.id) {
                        self.conversation_status(conversation.status);
                    }
                }
            }
        }
        self.merge_messages(messages, shared);
    }

    fn merge_messages(self, messages: Vec<Message>, shared: bool) {
        if messages.is_empty() {
            return;
        }
        self.announce_new(&messages);
        if shared {
            // The leader's stream is gapless from its own sync point, which
            // may be ahead of this tab's: catch up on anything in between.
            self.timeline.update(|t| t.merge(messages));
            let gap = self.timeline.with_untracked(|t| t.last_seq() > t.synced());
            if gap && self.history.get_untracked() == History::Loaded {
                spawn_local(self.fill_gap());
            }
        } else {
            // This tab's stream: complete from the sync point on.
            self.timeline.update(|t| t.merge_synced(messages));
        }
    }

    /// Fetches the messages after the sync point, page by page.
    async fn fill_gap(self) {
        let Some(token) = self.token() else { return };
        if std::mem::replace(&mut *self.filling.write_value(), true) {
            return;
        }
        loop {
            let after = self.timeline.with_untracked(Timeline::synced);
            let Ok(page) = api::messages_after(&token, after).await else {
                break;
            };
            if !self.is_current(&token) {
                break;
            }
            let complete = page.messages.len() < MAX_PAGE_SIZE as usize;
            self.timeline.update(|t| t.merge_synced(page.messages));
            if complete {
                break;
            }
        }
        self.filling.set_value(false);
    }

    /// `reader` has read up to `seq`: the customer (in another tab or on
    /// another device), or an agent.
    fn read(self, reader: Author, seq: i64) {
        if reader == Author::Customer {
            self.read_reported
                .update_value(|reported| *reported = (*reported).max(seq));
            if seq > self.seen.get_untracked() {
                self.seen.set(seq);
                self.bridge.seen(seq, self.token().as_deref());
            }
        } else if seq > 0 {
            self.timeline.update(|t| t.agent_read(seq));
        }
    }

    /// Shows "typing…" for a while; the agent's client repeats the notice
    /// while typing goes on.
    fn agent_typing_notice(self) {
        let id = self.typing_notices.get_value().wrapping_add(1);
        self.typing_notices.set_value(id);
        self.agent_typing.set(true);
        set_timeout(
            move || {
                if self.typing_notices.get_value() == id {
                    self.agent_typing.set(false);
                }
            },
            Duration::from_millis(TYPING_SHOWN_MS),
        );
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
                self.conversation_known(&page.conversation);
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
        self.bridge.token_changed(None, Some(token));
        self.reset_view();
        self.closed.set(false);
        self.history.set(History::Loaded);
    }

    /// A conversation was just created for the first message (`parent`:
    /// the token of the customer's conversation it was started from).
    fn adopt(self, started: &StartedConversation, parent: Option<&str>) {
        self.token.set(Some(started.token.clone()));
        self.draft_parent.set(None);
        // Hand it over before anything else can fail: this token is the
        // customer's only key to the conversation.
        self.bridge.token_changed(Some(&started.token), parent);
        self.seen.set(0);
        self.read_reported.set_value(0);
        self.conversation_known(&started.conversation);
        self.history.set(History::Loaded);
    }

    /// The server's view of the conversation: how far both sides have read;
    /// and which conversation the tabs share events of.
    fn conversation_known(self, conversation: &Conversation) {
        self.read(Author::Customer, conversation.customer_read_seq);
        self.read(Author::Agent, conversation.agent_read_seq);
        self.closed
            .set(conversation.status == ConversationStatus::Closed);
        self.tabs.show(Some(&conversation.id));
        // What the leading tab shared before this tab knew the conversation
        // was dropped: fetch anything newer than the page just loaded.
        if !self.tabs.is_leader_untracked() {
            spawn_local(self.fill_gap());
        }
    }

    /// Sends queued messages one by one, oldest first, so they keep the
    /// order they were written in: the next goes only once the server has
    /// stored the one before. A message refused for good is set aside; on
    /// any other failure (offline, server down) the loop waits, with
    /// backoff, and tries the same message again. A single loop runs at a
    /// time.
    async fn flush_outbox(self) {
        // Until `mw:init` says which conversation this is, sending could
        // start a second one; and only the leading tab sends (the others
        // hand their messages over through the stored outbox), except a new
        // conversation's first message, which only this tab knows about.
        if self.sending.get_value()
            || !self.ready.get_untracked()
            || !(self.tabs.is_leader_untracked()
                || self.draft_parent.with_untracked(Option::is_some))
        {
            return;
        }
        self.sending.set_value(true);
        let mut backoff = Backoff::default();
        while let Some(pending) = self.timeline.with_untracked(Timeline::next_to_send) {
            match self.deliver(&pending).await {
                Ok(()) => {
                    backoff = Backoff::default();
                    self.set_stalled(false);
                }
                Err(Failure::Refused(reason)) => self
                    .timeline
                    .update(|t| t.refuse(&pending.client_id, reason)),
                Err(Failure::Transient) => {
                    self.set_stalled(true);
                    let delay = backoff.next_delay(0, js_sys::Math::random());
                    self.outbox_alarm.sleep(delay).await;
                }
            }
        }
        self.set_stalled(false);
        self.sending.set_value(false);
    }

    fn set_stalled(self, stalled: bool) {
        if self.timeline.with_untracked(|t| t.is_stalled()) != stalled {
            self.timeline.update(|t| t.set_stalled(stalled));
        }
    }

    /// Sends one message, starting the conversation first if there is none.
    /// A request that takes longer than [`SEND_TIMEOUT`], or is under way
    /// when the network comes back, is given up and sent again: a connection
    /// that died silently (a laptop waking up, a changed network) would
    /// otherwise hold the outbox for minutes.
    async fn deliver(self, pending: &Pending) -> Result<(), Failure> {
        let Ok(controller) = AbortController::new() else {
            return Err(Failure::Transient);
        };
        let signal = controller.signal();
        let timer = set_timeout_with_handle(
            {
                let controller = controller.clone();
                move || controller.abort()
            },
            SEND_TIMEOUT,
        );
        self.in_flight.set_value(Some(controller));
        let outcome = self.deliver_with(pending, &signal).await;
        self.in_flight.set_value(None);
        if let Ok(timer) = timer {
            timer.clear();
        }
        outcome
    }

    async fn deliver_with(self, pending: &Pending, signal: &AbortSignal) -> Result<(), Failure> {
        let token = match self.token() {
            Some(token) => token,
            None => {
                let parent = self.draft_parent.get_untracked();
                let start = StartConversation {
                    page_url: self.page.get_value(),
                    language: browser_language(),
                    identity: self.identity.get_value(),
                };
                let started = match api::start_conversation(&start, parent.as_deref(), signal).await
                {
                    Ok(started) => started,
                    Err(error) if error.is_unauthorized() && parent.is_some() => {
                        // The parent is gone: start on its own.
                        self.draft_parent.set(None);
                        return Err(Failure::Transient);
                    }
                    Err(error) => return Err(failed(&error)),
                };
                if self.token().is_some() || self.draft_parent.get_untracked() != parent {
                    // Another conversation was chosen meanwhile; this one
                    // stays empty, and the message goes to the one shown.
                    return Err(Failure::Transient);
                }
                self.adopt(&started, parent.as_deref());
                if let Some(profile) = self.profile.try_update_value(Option::take).flatten() {
                    let token = started.token.clone();
                    spawn_local(async move {
                        _ = api::set_profile(&token, &profile).await;
                    });
                }
                started.token
            }
        };
        let message = SendMessage {
            client_id: pending.client_id.clone(),
            body: pending.body.clone(),
        };
        let result = api::send_message(&token, &message, signal).await;
        if !self.is_current(&token) {
            if result.is_ok() {
                // Stored in the conversation shown when it was sent; the
                // customer has moved to another one since.
                self.timeline
                    .update(|t| t.remove_pending(&pending.client_id));
                return Ok(());
            }
            // Forgotten meanwhile: the message goes to the new conversation.
            return Err(Failure::Transient);
        }
        match result {
            Ok(message) => {
                self.timeline.update(|t| t.merge([message]));
                // A customer's message reopens a closed conversation.
                self.closed.set(false);
                Ok(())
            }
            Err(error) if error.is_unauthorized() => {
                self.forget_conversation(&token);
                Err(Failure::Transient)
            }
            Err(error) => Err(failed(&error)),
        }
    }

    /// Keeps the host page's stored outbox equal to the messages not yet
    /// acknowledged, so a reload, a crash or a closed tab loses none.
    fn store_outbox(self) {
        effect(move || {
            // A new conversation's first message is this tab's alone until
            // the conversation exists (another tab would send it to its own).
            if !self.ready.get() || self.is_draft() {
                return;
            }
            self.timeline.with(|t| {
                let now: Vec<(String, bool)> = t
                    .pending()
                    .iter()
                    .map(|p| {
                        (
                            p.client_id.clone(),
                            matches!(p.delivery, Delivery::Refused(_)),
                        )
                    })
                    .collect();
                self.stored_outbox.update_value(|stored| {
                    for (id, _) in stored.iter() {
                        if !now.iter().any(|(n, _)| n == id) {
                            self.bridge.outbox_remove(id);
                        }
                    }
                    for pending in t.pending() {
                        let entry = (
                            pending.client_id.clone(),
                            matches!(pending.delivery, Delivery::Refused(_)),
                        );
                        if !stored.contains(&entry) {
                            self.bridge.outbox_put(&Queued {
                                id: pending.client_id.clone(),
                                body: pending.body.clone(),
                                at: pending.created_at,
                                refused: match &pending.delivery {
                                    Delivery::Refused(reason) => Some(reason.clone()),
                                    Delivery::Queued => None,
                                },
                            });
                        }
                    }
                    *stored = now;
                });
            });
        });
    }

    /// Follows the tab's visibility (only a visible panel counts as read)
    /// and the network (back online: send what waits).
    fn watch_page(self) {
        let _visibility = window_event_listener(leptos::ev::visibilitychange, move |_| {
            self.visible.set(!document().hidden());
        });
        let _online = window_event_listener(leptos::ev::online, move |_| {
            // A request made before may hang on a connection that is gone.
            if let Some(controller) = self.in_flight.try_update_value(Option::take).flatten() {
                controller.abort();
            }
            self.wake_outbox();
        });
    }

    /// While the panel is open and in view everything in it counts as seen,
    /// and the server is told (so the agents see it, and the customer's
    /// other tabs and devices stop counting it as unread); while it is
    /// closed the host's badge shows what came since.
    fn report_reading(self) {
        effect(move || {
            if !(self.ready.get() && self.open.get() && self.visible.get()) {
                return;
            }
            let last = self.timeline.with(Timeline::last_seq);
            if last > self.seen.get_untracked() {
                self.seen.set(last);
                self.bridge.seen(last, self.token().as_deref());
            }
        });
        effect(move || {
            if self.seen.get() > self.read_reported.get_value() {
                spawn_local(self.report_read());
            }
        });
        // Nothing is reported before the history is in: a panel drawn
        // afresh (another language, a reload) would otherwise tell the
        // launcher 0 and then the real count, and the badge would flicker.
        let unread = Memo::new(move |_| {
            if !self.ready.get() || self.history.get() != History::Loaded {
                return None;
            }
            Some(if self.open.get() {
                0
            } else {
                let seen = self.seen.get();
                self.timeline.with(|t| t.unread_after(seen))
            })
        });
        effect(move || {
            if let Some(count) = unread.get() {
                self.bridge.unread(count);
            }
        });
    }
}

impl Messenger {
    /// Applies the site's configuration (language, texts, colours,
    /// greeting).
    fn configure(self, config: &crate::site::Config) {
        crate::site::apply(config);
        self.greeting
            .set(config.greeting.clone().filter(|g| !g.trim().is_empty()));
        self.identity_required.set_value(config.identity_required);
    }

    /// Messages from the team that arrived live (newer than any shown):
    /// told to the host page's listeners and read out by screen readers.
    fn announce_new(self, messages: &[Message]) {
        let last = self.timeline.with_untracked(Timeline::last_seq);
        if self.history.get_untracked() != History::Loaded {
            return;
        }
        for message in messages
            .iter()
            .filter(|m| m.seq > last && m.author != Author::Customer)
        {
            self.bridge.received(&crate::bridge::Received {
                id: &message.id,
                body: &message.body,
                author: message.author.as_str(),
                at: message.created_at,
            });
            let author =
                crate::texts::t(crate::components::message_item::speaker_key(message.author));
            self.announcement.set(crate::texts::tf(
                "messages.new",
                &[("author", &author), ("body", &message.body)],
            ));
        }
    }

    /// The host page's identify call. With a signed identity: the server
    /// checks it, and the panel moves to the verified customer's latest
    /// conversation; an anonymous conversation shown before is offered to
    /// be added to their account (never added without the customer's
    /// click). Without one: contact details, unless the site requires
    /// verification.
    pub async fn identify(self, identity: crate::bridge::Identity) {
        let call = self.identifies.get_value().wrapping_add(1);
        self.identifies.set_value(call);
        let Some(jwt) = identity.token.filter(|t| !t.trim().is_empty()) else {
            if self.identity_required.get_value() {
                self.bridge.identified(Some("identity_required"));
                return;
            }
            let profile = api::Profile {
                name: identity.name.filter(|n| !n.trim().is_empty()),
                email: identity.email.filter(|e| !e.trim().is_empty()),
            };
            if profile == api::Profile::default() {
                self.bridge.identified(None);
                return;
            }
            let result = match self.customer_token_untracked() {
                Some(token) => api::set_profile(&token, &profile).await,
                None => {
                    self.profile.set_value(Some(profile));
                    Ok(())
                }
            };
            self.bridge
                .identified(result.err().map(|e| error_code(&e)).as_deref());
            return;
        };
        let before = self.customer_token_untracked();
        let result = api::identify(&jwt, before.as_deref()).await;
        if self.identifies.get_value() != call {
            return;
        }
        let identified = match result {
            Ok(identified) => identified,
            Err(error) => {
                self.bridge.identified(Some(&error_code(&error)));
                return;
            }
        };
        self.identity.set_value(Some(jwt));
        // The conversation shown: the verified customer's own, or one this
        // device had before, anonymous.
        let theirs = identified
            .customer
            .conversations
            .iter()
            .any(|c| self.tabs.is_showing(&c.conversation.id));
        if !theirs {
            // Offered only for an anonymous conversation: another signed-in
            // user's (a shared computer without reset) is not theirs to add.
            self.claim_offer
                .set(before.clone().filter(|_| identified.claimable));
            match &identified.token {
                Some(token) => self.switch_token(token),
                None if before.is_some() => self.leave_conversation(),
                None => {}
            }
        }
        self.bridge.identified(None);
    }

    /// The customer's click on "Add": the anonymous conversation of this
    /// device joins their verified account, and is shown.
    pub async fn claim(self) -> Result<(), ApiError> {
        let (Some(anonymous), Some(jwt)) =
            (self.claim_offer.get_untracked(), self.identity.get_value())
        else {
            return Ok(());
        };
        let claimed = api::claim(&anonymous, &jwt).await?;
        self.claim_offer.set(None);
        if let Some(token) = &claimed.token {
            self.switch_token(token);
        }
        Ok(())
    }

    /// Shows the conversation of `token` (one made for this device).
    fn switch_token(self, token: &str) {
        let of = self.customer_token_untracked();
        self.bridge.token_changed(Some(token), of.as_deref());
        self.draft_parent.set(None);
        self.reset_view();
        self.history.set(History::Loading);
        self.closed.set(false);
        self.token.set(Some(token.to_owned()));
        spawn_local(self.load_latest());
    }

    /// Shows nothing: the verified customer has no conversation yet.
    fn leave_conversation(self) {
        let of = self.customer_token_untracked();
        self.bridge.token_changed(None, of.as_deref());
        self.draft_parent.set(None);
        self.token.set(None);
        self.reset_view();
        self.closed.set(false);
        self.history.set(History::Loaded);
    }

    /// The host page's reset (a logout): the server forgets this device's
    /// token, the panel forgets everything it held, and the host page is
    /// told to forget its copy (it then reloads the panel).
    async fn reset(self) {
        let of = self.customer_token_untracked();
        self.identifies.update_value(|n| *n = n.wrapping_add(1));
        self.token.set(None);
        self.draft_parent.set(None);
        self.identity.set_value(None);
        self.profile.set_value(None);
        self.claim_offer.set(None);
        self.showing_list.set(false);
        self.resume_problem.set(None);
        self.reset_view();
        self.timeline.set(Timeline::default());
        self.closed.set(false);
        self.history.set(History::Loaded);
        if let Some(token) = &of {
            // Best effort, but before the host page reloads the panel.
            _ = api::forget(token).await;
        }
        self.bridge.forget_standalone();
        self.bridge.token_changed(None, of.as_deref());
    }

    /// Tells the server how far the customer has read; one request at a
    /// time, the latest mark wins. A failure is left for the next change.
    async fn report_read(self) {
        if std::mem::replace(&mut *self.reporting_read.write_value(), true) {
            return;
        }
        loop {
            let seq = self.seen.get_untracked();
            let Some(token) = self.token() else { break };
            if seq <= self.read_reported.get_value() {
                break;
            }
            if api::mark_read(&token, seq).await.is_err() {
                break;
            }
            self.read_reported
                .update_value(|reported| *reported = (*reported).max(seq));
        }
        self.reporting_read.set_value(false);
    }
}

/// The stable code of a failed call, for the host page's console.
fn error_code(error: &ApiError) -> String {
    match error {
        ApiError::Status { code, status, .. } => match code {
            ErrorCode::IdentityInvalid => "identity_invalid".to_owned(),
            ErrorCode::IdentityExpired => "identity_expired".to_owned(),
            ErrorCode::IdentityNotConfigured => "identity_not_configured".to_owned(),
            ErrorCode::IdentityRequired => "identity_required".to_owned(),
            ErrorCode::OriginNotAllowed => "origin_not_allowed".to_owned(),
            _ => format!("http_{status}"),
        },
        ApiError::Network => "network".to_owned(),
        ApiError::Decode => "decode".to_owned(),
    }
}

/// The browser's language, if the server takes it as given.
fn browser_language() -> Option<String> {
    window()
        .navigator()
        .language()
        .filter(|l| messenger_wire::validate_language(l).is_ok())
}

/// Why a resume link did not open a conversation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ResumeProblem {
    Used,
    Expired,
    Invalid,
    /// The server could not be reached, or failed.
    Unavailable,
}

impl ResumeProblem {
    pub fn of(error: &ApiError) -> Self {
        match error {
            ApiError::Status {
                code: ErrorCode::ResumeLinkUsed,
                ..
            } => ResumeProblem::Used,
            ApiError::Status {
                code: ErrorCode::ResumeLinkExpired,
                ..
            } => ResumeProblem::Expired,
            ApiError::Status {
                code: ErrorCode::ResumeLinkInvalid | ErrorCode::NotFound,
                ..
            } => ResumeProblem::Invalid,
            _ => ResumeProblem::Unavailable,
        }
    }

    /// What the customer reads.
    pub fn explanation(self) -> String {
        crate::texts::t(match self {
            ResumeProblem::Used => "resume.used",
            ResumeProblem::Expired => "resume.expired",
            ResumeProblem::Invalid => "resume.invalid",
            ResumeProblem::Unavailable => "resume.unavailable",
        })
    }
}

/// Why a message was not stored.
enum Failure {
    /// The network or the server failed; the same message is tried again.
    Transient,
    /// The server refused it for good; the reason is the server's message.
    Refused(String),
}

fn failed(error: &ApiError) -> Failure {
    if error.is_transient() {
        Failure::Transient
    } else {
        Failure::Refused(error.message())
    }
}

#[cfg(test)]
mod tests {
    use super::ResumeProblem;
    use crate::api::ApiError;
    use messenger_wire::ErrorCode;

    fn refused(status: u16, code: ErrorCode) -> ApiError {
        ApiError::Status {
            status,
            code,
            message: String::new(),
        }
    }

    #[test]
    fn each_resume_failure_is_explained_plainly() {
        let used = ResumeProblem::of(&refused(410, ErrorCode::ResumeLinkUsed));
        assert_eq!(
            used.explanation(),
            "This link was already used. Links work once."
        );
        let expired = ResumeProblem::of(&refused(410, ErrorCode::ResumeLinkExpired));
        assert_eq!(expired.explanation(), "This link has expired.");
        let invalid = ResumeProblem::of(&refused(404, ErrorCode::ResumeLinkInvalid));
        assert_eq!(invalid.explanation(), "This link is not valid.");
        assert_eq!(
            ResumeProblem::of(&ApiError::Network),
            ResumeProblem::Unavailable
        );
    }
}
