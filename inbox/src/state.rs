//! The signed-in inbox's state and actions, shared through the context: the
//! list under its filter, the open conversation, and the live stream that
//! keeps both current.
//!
//! Live updates are simple on purpose: any event about a conversation makes
//! the list load again, and the open conversation too when the event is
//! about it. Loads are coalesced (one at a time, one more if something came
//! meanwhile), so a burst of events costs two requests, and after a
//! reconnect the same loads catch up on whatever was missed.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::sse;
use messenger_wire::{
    AgentRef, InboxConversation, InboxConversationView, InboxSession, Message, MessageEvent, Note,
    SendMessage, SiteAdmin,
};
use web_sys::AbortController;

use crate::api::{self, ApiError, Filter, ForAgent as _};
use crate::components::app::Auth;

/// Rows the list shows at first, and adds with each "Show more".
const LIST_PAGE: usize = 50;

/// Reconnect waits: doubling from the first up to the last.
const RECONNECT_MS: [u64; 6] = [500, 1_000, 2_000, 5_000, 10_000, 15_000];

/// A load that runs one at a time, and once more if asked while running.
#[derive(Clone, Copy)]
struct Coalesced {
    running: StoredValue<bool>,
    again: StoredValue<bool>,
}

impl Coalesced {
    fn new() -> Self {
        Coalesced {
            running: StoredValue::new(false),
            again: StoredValue::new(false),
        }
    }

    fn run<F: Future<Output = ()> + 'static>(self, load: impl Fn() -> F + 'static) {
        if self.running.get_value() {
            self.again.set_value(true);
            return;
        }
        self.running.set_value(true);
        spawn_local(async move {
            loop {
                self.again.set_value(false);
                load().await;
                if !self.again.get_value() {
                    break;
                }
            }
            self.running.set_value(false);
        });
    }
}

#[derive(Clone, Copy)]
pub struct Inbox {
    pub session: StoredValue<InboxSession>,
    pub filter: RwSignal<Filter>,
    pub list: RwSignal<Vec<InboxConversation>>,
    /// How many rows the list wants: a page more each "Show more".
    pub list_wanted: RwSignal<usize>,
    /// The list goes on beyond what is shown.
    pub list_more: RwSignal<bool>,
    pub list_error: RwSignal<Option<String>>,
    pub selected: RwSignal<Option<String>>,
    pub view: RwSignal<Option<InboxConversationView>>,
    pub view_error: RwSignal<Option<String>>,
    /// The live stream is connected.
    pub live: RwSignal<bool>,
    /// The enabled agents, to assign conversations to.
    pub team: RwSignal<Vec<AgentRef>>,
    /// The server's sites, oldest first (no secrets).
    pub sites: RwSignal<Vec<SiteAdmin>>,
    auth: RwSignal<Auth>,
    list_loads: Coalesced,
    view_loads: Coalesced,
}

impl Inbox {
    pub fn new(session: InboxSession, auth: RwSignal<Auth>) -> Self {
        let inbox = Inbox {
            session: StoredValue::new(session),
            filter: RwSignal::new(Filter {
                status: Some("open"),
                ..Filter::default()
            }),
            list: RwSignal::new(Vec::new()),
            list_wanted: RwSignal::new(LIST_PAGE),
            list_more: RwSignal::new(false),
            list_error: RwSignal::new(None),
            selected: RwSignal::new(None),
            view: RwSignal::new(None),
            view_error: RwSignal::new(None),
            live: RwSignal::new(false),
            team: RwSignal::new(Vec::new()),
            sites: RwSignal::new(Vec::new()),
            auth,
            list_loads: Coalesced::new(),
            view_loads: Coalesced::new(),
        };
        // A new filter: load the list again, from its first page.
        Effect::new(move |_| {
            inbox.filter.track();
            inbox.list_wanted.set(LIST_PAGE);
            inbox.reload_list();
        });
        spawn_local(inbox.follow());
        inbox.reload_team();
        inbox.reload_sites();
        inbox
    }

    /// Loads the sites again (on start, after a change, and when a
    /// conversation comes from a site not known yet).
    pub fn reload_sites(self) {
        spawn_local(async move {
            if let Ok(sites) = api::sites().await {
                self.sites.set(sites);
            }
        });
    }

    /// Whether the server has more than one site: conversations then say
    /// which site they came from.
    pub fn many_sites(self) -> bool {
        self.sites.with(|s| s.len() > 1)
    }

    /// Loads the team again (agents come and go: on start, and each time a
    /// conversation is opened).
    pub fn reload_team(self) {
        spawn_local(async move {
            if let Ok(team) = api::team().await {
                self.team.set(team.agents);
            }
        });
    }

    pub fn csrf(self) -> String {
        self.session.with_value(|s| s.csrf_token.clone())
    }

    pub fn agent_id(self) -> String {
        self.session.with_value(|s| s.agent.id.clone())
    }

    /// A call failed: a lost session signs the page out; anything else is
    /// for the caller to show.
    fn failed(self, error: &ApiError) -> String {
        if error.is_unauthorized() {
            self.auth.set(Auth::SignedOut);
        }
        error.message()
    }

    /// Loads the list again under its filter, as many rows as it shows
    /// (pages of the server's largest size, following its cursor).
    pub fn reload_list(self) {
        self.list_loads.run(move || async move {
            let filter = self.filter.get_untracked();
            let wanted = self.list_wanted.get_untracked();
            let mut rows: Vec<InboxConversation> = Vec::new();
            let mut cursor: Option<String> = None;
            let more = loop {
                match api::conversations(&filter, cursor.as_deref()).await {
                    Ok(page) => {
                        rows.extend(page.conversations);
                        cursor = page.next_cursor;
                        if cursor.is_none() || rows.len() >= wanted {
                            break cursor.is_some() || rows.len() > wanted;
                        }
                    }
                    Err(error) => {
                        self.list_error.set(Some(self.failed(&error)));
                        return;
                    }
                }
            };
            rows.truncate(wanted);
            let unknown_site = self.sites.with_untracked(|sites| {
                rows.iter()
                    .any(|row| !sites.iter().any(|site| site.id == row.site.id))
            });
            if unknown_site {
                self.reload_sites();
            }
            self.list.set(rows);
            self.list_more.set(more);
            self.list_error.set(None);
        });
    }

    /// Shows a page more of the list.
    pub fn show_more(self) {
        self.list_wanted.update(|w| *w += LIST_PAGE);
        self.reload_list();
    }

    /// Opens a conversation (and marks it read).
    pub fn select(self, id: String) {
        self.reload_team();
        if self.selected.get_untracked().as_deref() != Some(id.as_str()) {
            self.view.set(None);
            self.selected.set(Some(id));
        }
        self.reload_view();
    }

    pub fn reload_view(self) {
        self.view_loads.run(move || async move {
            let Some(id) = self.selected.get_untracked() else {
                return;
            };
            match api::conversation(&id, None).await {
                Ok(fresh) if self.selected.get_untracked().as_deref() == Some(id.as_str()) => {
                    let last_seq = fresh.conversation.last_seq;
                    let unread = fresh.conversation.agent_read_seq < last_seq;
                    self.view.update(|view| match view {
                        // Keep the earlier pages already loaded.
                        Some(view) if view.conversation.id == id => merge_view(view, fresh),
                        _ => *view = Some(fresh),
                    });
                    self.view_error.set(None);
                    if unread && api::mark_read(&self.csrf(), &id, last_seq).await.is_ok() {
                        self.reload_list();
                    }
                }
                Ok(_) => {}
                Err(error) => self.view_error.set(Some(self.failed(&error))),
            }
        });
    }

    /// Loads the page before the oldest message shown.
    pub async fn load_earlier(self) {
        let Some((id, cursor)) = self.view.with_untracked(|v| {
            v.as_ref()
                .and_then(|v| Some((v.conversation.id.clone(), v.older_cursor.clone()?)))
        }) else {
            return;
        };
        match api::conversation(&id, Some(&cursor)).await {
            Ok(page) => self.view.update(|view| {
                if let Some(view) = view.as_mut().filter(|v| v.conversation.id == id) {
                    view.older_cursor = page.older_cursor.clone();
                    merge_view(view, page);
                }
            }),
            Err(error) => self.view_error.set(Some(self.failed(&error))),
        }
    }

    /// Sends a reply, or an internal note when `note`.
    pub async fn send(self, body: String, note: bool) -> Result<(), String> {
        let Some(id) = self.selected.get_untracked() else {
            return Err("No conversation is open.".to_owned());
        };
        let message = SendMessage {
            client_id: client_id(),
            body,
        };
        let csrf = self.csrf();
        let result = if note {
            api::note(&csrf, &id, &message).await.map(drop)
        } else {
            api::reply(&csrf, &id, &message).await.map(drop)
        };
        result.map_err(|e| self.failed(&e))?;
        self.reload_view();
        self.reload_list();
        Ok(())
    }

    /// Closes or reopens the open conversation.
    pub async fn set_status(self, action: &'static str) {
        self.act(move |csrf, id| async move { api::set_status(&csrf, &id, action).await })
            .await;
    }

    /// Assigns the open conversation to an agent, or to nobody.
    pub async fn assign(self, agent: Option<String>) {
        self.act(move |csrf, id| async move { api::assign(&csrf, &id, agent).await })
            .await;
    }

    async fn act<F>(self, call: impl FnOnce(String, String) -> F)
    where
        F: Future<Output = Result<InboxConversation, ApiError>>,
    {
        let Some(id) = self.selected.get_untracked() else {
            return;
        };
        match call(self.csrf(), id).await {
            Ok(conversation) => {
                self.view.update(|view| {
                    if let Some(view) = view
                        .as_mut()
                        .filter(|v| v.conversation.id == conversation.id)
                    {
                        view.conversation = conversation;
                    }
                });
                self.view_error.set(None);
                self.reload_list();
            }
            Err(error) => self.view_error.set(Some(self.failed(&error))),
        }
    }

    /// Keeps the live stream open for as long as the page is signed in.
    async fn follow(self) {
        let mut failures = 0usize;
        loop {
            if !matches!(self.auth.get_untracked(), Auth::SignedIn(_)) {
                return;
            }
            let Ok(controller) = AbortController::new() else {
                return;
            };
            match api::events(&controller.signal()).await {
                Ok(mut events) => {
                    failures = 0;
                    self.live.set(true);
                    // Catch up on what came while disconnected.
                    self.reload_list();
                    self.reload_view();
                    while let Ok(Some(batch)) = events.next().await {
                        if !matches!(self.auth.get_untracked(), Auth::SignedIn(_)) {
                            controller.abort();
                            return;
                        }
                        self.on_events(&batch);
                    }
                    self.live.set(false);
                }
                Err(error) if error.is_unauthorized() => {
                    self.auth.set(Auth::SignedOut);
                    return;
                }
                Err(_) => self.live.set(false),
            }
            let wait = RECONNECT_MS[failures.min(RECONNECT_MS.len() - 1)];
            failures += 1;
            sleep(Duration::from_millis(wait)).await;
        }
    }

    fn on_events(self, batch: &[sse::Event]) {
        let selected = self.selected.get_untracked();
        let mut list = false;
        let mut view = false;
        for event in batch {
            let conversation = match event.event.as_str() {
                "message" => serde_json::from_str::<MessageEvent>(&event.data)
                    .ok()
                    .map(|e| e.conversation_id),
                "conversation" => serde_json::from_str::<InboxConversation>(&event.data)
                    .ok()
                    .map(|c| c.id),
                "note" => serde_json::from_str::<Note>(&event.data)
                    .ok()
                    .map(|n| n.conversation_id),
                _ => None,
            };
            if let Some(id) = conversation {
                list = true;
                view |= selected.as_deref() == Some(id.as_str());
            }
        }
        if list {
            self.reload_list();
        }
        if view {
            self.reload_view();
        }
    }
}

/// Adds `page`'s messages and notes to `view`, each once, in order.
fn merge_view(view: &mut InboxConversationView, page: InboxConversationView) {
    view.conversation = page.conversation;
    view.customer = page.customer;
    let mut messages: Vec<Message> = std::mem::take(&mut view.messages);
    for message in page.messages {
        match messages.binary_search_by_key(&message.seq, |m| m.seq) {
            Ok(i) => messages[i] = message,
            Err(i) => messages.insert(i, message),
        }
    }
    view.messages = messages;
    for note in page.notes {
        if !view.notes.iter().any(|n| n.id == note.id) {
            view.notes.push(note);
        }
    }
    view.notes.sort_by_key(|n| n.created_at);
}

/// A random id for a reply, so a repeated request stores it once.
fn client_id() -> String {
    let mut bytes = [0u8; 16];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn sleep(duration: Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
            &resolve,
            duration.as_millis().try_into().unwrap_or(i32::MAX),
        );
    });
    _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
