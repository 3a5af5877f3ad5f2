//! Every HTTP call of the inbox. Requests go to the server's own origin with
//! the session cookie (`credentials: same-origin`); every state-changing one
//! carries the session's CSRF token in `X-CSRF-Token`.

use std::collections::BTreeMap;

use gloo_net::http::{Request, RequestBuilder};
pub use messenger_client::{ApiError, EventStream};
use messenger_client::{json, no_content};
use messenger_wire::{
    API_PREFIX, AgentAccount, AgentList, ApiKeyInfo, ApiKeyList, Assign, ChangePassword,
    Conversation, CreatedApiKey, ErrorCode, InboxConversation, InboxConversationList,
    InboxConversationView, InboxSession, LauncherPosition, Login, MarkRead, Message, NewAgent,
    NewApiKey, Note, SendMessage, SiteAdmin, SiteHours, SiteSecret, SiteSettings, Team,
};
use serde::Deserialize;
use web_sys::{AbortSignal, RequestCache, RequestCredentials};

/// How the inbox reads a failed call.
pub trait ForAgent {
    /// What to tell the agent.
    fn message(&self) -> String;
}

impl ForAgent for ApiError {
    fn message(&self) -> String {
        match self {
            ApiError::Network => {
                "The server cannot be reached. Check the connection and try again.".to_owned()
            }
            ApiError::Status {
                code: ErrorCode::InvalidCredentials,
                ..
            } => "Wrong email or password.".to_owned(),
            ApiError::Status {
                code: ErrorCode::TooManyRequests,
                ..
            } => "Too many attempts. Wait a few minutes, then try again.".to_owned(),
            ApiError::Status {
                code: ErrorCode::InvalidSite,
                message,
                ..
            } => site_problem(message),
            ApiError::Status { message, .. } if !message.is_empty() => {
                let mut text = message.clone();
                if let Some(first) = text.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                format!("{text}.")
            }
            _ => "Something went wrong. Try again.".to_owned(),
        }
    }
}

/// The server's `invalid_site` message (`field: what is wrong`), with the
/// field named as the form labels it.
fn site_problem(message: &str) -> String {
    let (field, rest) = message.split_once(": ").unwrap_or(("", message));
    let label = match field.split('.').next().unwrap_or("") {
        "name" => "Name",
        "allowed_origins" => "Allowed origins",
        "color" => "Brand color",
        "offset_x" => "Distance from the side",
        "offset_y" => "Distance from the bottom",
        "z_index" => "Stacking order (z-index)",
        "greeting" => "Greeting",
        "default_language" => "Default language",
        "texts" => "Texts",
        _ => return format!("{message}."),
    };
    format!("{label}: {rest}.")
}

fn url(path: &str) -> String {
    format!("{API_PREFIX}/inbox{path}")
}

fn same_origin(request: RequestBuilder) -> RequestBuilder {
    request
        .credentials(RequestCredentials::SameOrigin)
        .cache(RequestCache::NoStore)
}

/// The signed-in agent, if the session cookie is valid.
pub async fn session() -> Result<InboxSession, ApiError> {
    json(same_origin(Request::get(&url("/session"))).build()).await
}

pub async fn sign_in(email: &str, password: &str) -> Result<InboxSession, ApiError> {
    let body = Login {
        email: email.to_owned(),
        password: password.to_owned(),
    };
    json(same_origin(Request::post(&url("/session"))).json(&body)).await
}

pub async fn sign_out(csrf_token: &str) -> Result<(), ApiError> {
    let request = same_origin(Request::delete(&url("/session")))
        .header("X-CSRF-Token", csrf_token)
        .build();
    no_content(request).await
}

/// Which conversations the list shows.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Filter {
    /// `open`, `closed`, or all.
    pub status: Option<&'static str>,
    /// `us` or `customer`: whose turn it is.
    pub waiting: Option<&'static str>,
    /// `me`, `unassigned`, or all.
    pub assignee: Option<&'static str>,
    pub query: String,
}

/// A page of the list under `filter`, after the page whose `next_cursor`
/// is `before`.
pub async fn conversations(
    filter: &Filter,
    before: Option<&str>,
) -> Result<InboxConversationList, ApiError> {
    let limit = messenger_wire::MAX_PAGE_SIZE.to_string();
    let mut query: Vec<(&str, &str)> = vec![("limit", &limit)];
    if let Some(cursor) = before {
        query.push(("before", cursor));
    }
    if let Some(status) = filter.status {
        query.push(("status", status));
    }
    if let Some(waiting) = filter.waiting {
        query.push(("waiting", waiting));
    }
    if let Some(assignee) = filter.assignee {
        query.push(("assignee", assignee));
    }
    let q = filter.query.trim();
    if !q.is_empty() {
        query.push(("q", q));
    }
    json(
        same_origin(Request::get(&url("/conversations")))
            .query(query)
            .build(),
    )
    .await
}

/// One conversation: its latest messages, or those before `cursor`.
pub async fn conversation(
    id: &str,
    before: Option<&str>,
) -> Result<InboxConversationView, ApiError> {
    let mut request = same_origin(Request::get(&url(&format!("/conversations/{id}"))));
    if let Some(cursor) = before {
        request = request.query([("before", cursor)]);
    }
    json(request.build()).await
}

pub async fn reply(csrf: &str, id: &str, message: &SendMessage) -> Result<Message, ApiError> {
    json(post(csrf, &format!("/conversations/{id}/messages")).json(message)).await
}

pub async fn note(csrf: &str, id: &str, note: &SendMessage) -> Result<Note, ApiError> {
    json(post(csrf, &format!("/conversations/{id}/notes")).json(note)).await
}

/// `action`: `close` or `reopen`.
pub async fn set_status(csrf: &str, id: &str, action: &str) -> Result<InboxConversation, ApiError> {
    json(post(csrf, &format!("/conversations/{id}/{action}")).body("")).await
}

pub async fn assign(
    csrf: &str,
    id: &str,
    agent_id: Option<String>,
) -> Result<InboxConversation, ApiError> {
    json(post(csrf, &format!("/conversations/{id}/assign")).json(&Assign { agent_id })).await
}

pub async fn mark_read(csrf: &str, id: &str, seq: i64) -> Result<Conversation, ApiError> {
    json(post(csrf, &format!("/conversations/{id}/read")).json(&MarkRead { seq })).await
}

/// The enabled agents, for assigning.
pub async fn team() -> Result<Team, ApiError> {
    json(same_origin(Request::get(&url("/team"))).build()).await
}

/// Every account (admins only).
pub async fn agents() -> Result<AgentList, ApiError> {
    json(same_origin(Request::get(&url("/agents"))).build()).await
}

pub async fn create_agent(csrf: &str, agent: &NewAgent) -> Result<AgentAccount, ApiError> {
    json(post(csrf, "/agents").json(agent)).await
}

/// `action`: `disable` or `enable`.
pub async fn set_agent_enabled(
    csrf: &str,
    id: &str,
    action: &str,
) -> Result<AgentAccount, ApiError> {
    json(post(csrf, &format!("/agents/{id}/{action}")).body("")).await
}

pub async fn change_password(csrf: &str, change: &ChangePassword) -> Result<(), ApiError> {
    no_content(post(csrf, "/password").json(change)).await
}

/// A site's hours, reply time and greeting (admins only).
pub async fn hours(site: &str) -> Result<SiteHours, ApiError> {
    json(
        same_origin(Request::get(&url("/settings/hours")))
            .query([("site", site)])
            .build(),
    )
    .await
}

pub async fn save_hours(csrf: &str, site: &str, hours: &SiteHours) -> Result<SiteHours, ApiError> {
    json(
        same_origin(Request::put(&url("/settings/hours")))
            .query([("site", site)])
            .header("X-CSRF-Token", csrf)
            .json(hours),
    )
    .await
}

/// A [`SiteAdmin`] as the server sends it, read field by field: serde's
/// `flatten` (of `SiteAdmin::settings`) buffers every field first, which
/// costs the bundle several kilobytes.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SiteJson {
    id: String,
    key: String,
    name: String,
    allowed_origins: Vec<String>,
    color: String,
    position: LauncherPosition,
    offset_x: u32,
    offset_y: u32,
    z_index: i32,
    greeting: Option<String>,
    default_language: String,
    texts: BTreeMap<String, BTreeMap<String, String>>,
    identity_required: bool,
    has_secret: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<SiteJson> for SiteAdmin {
    fn from(site: SiteJson) -> Self {
        SiteAdmin {
            id: site.id,
            key: site.key,
            settings: SiteSettings {
                name: site.name,
                allowed_origins: site.allowed_origins,
                color: site.color,
                position: site.position,
                offset_x: site.offset_x,
                offset_y: site.offset_y,
                z_index: site.z_index,
                greeting: site.greeting,
                default_language: site.default_language,
                texts: site.texts,
                identity_required: site.identity_required,
            },
            has_secret: site.has_secret,
            created_at: site.created_at,
            updated_at: site.updated_at,
        }
    }
}

#[derive(Deserialize)]
struct SitesJson {
    sites: Vec<SiteJson>,
}

#[derive(Deserialize)]
struct CreatedJson {
    site: SiteJson,
    secret: String,
}

/// Every site, oldest first (any agent; never a secret).
pub async fn sites() -> Result<Vec<SiteAdmin>, ApiError> {
    let list: SitesJson = json(same_origin(Request::get(&url("/sites"))).build()).await?;
    Ok(list.sites.into_iter().map(SiteAdmin::from).collect())
}

/// A new site (admins) and its identity secret, shown this once.
pub async fn create_site(
    csrf: &str,
    settings: &SiteSettings,
) -> Result<(SiteAdmin, String), ApiError> {
    let created: CreatedJson = json(post(csrf, "/sites").json(settings)).await?;
    Ok((created.site.into(), created.secret))
}

pub async fn save_site(
    csrf: &str,
    id: &str,
    settings: &SiteSettings,
) -> Result<SiteAdmin, ApiError> {
    let saved: SiteJson = json(
        same_origin(Request::put(&url(&format!("/sites/{id}"))))
            .header("X-CSRF-Token", csrf)
            .json(settings),
    )
    .await?;
    Ok(saved.into())
}

/// A new identity secret for the site (admins), shown once; the old one
/// stops working.
pub async fn rotate_site_secret(csrf: &str, id: &str) -> Result<SiteSecret, ApiError> {
    json(post(csrf, &format!("/sites/{id}/secret")).body("")).await
}

/// The integrations' API keys (admins only); never the keys themselves.
pub async fn api_keys() -> Result<ApiKeyList, ApiError> {
    json(same_origin(Request::get(&url("/api-keys"))).build()).await
}

/// A new key: the answer holds its secret, once.
pub async fn create_api_key(csrf: &str, name: &str) -> Result<CreatedApiKey, ApiError> {
    let body = NewApiKey {
        name: name.to_owned(),
    };
    json(post(csrf, "/api-keys").json(&body)).await
}

pub async fn revoke_api_key(csrf: &str, id: &str) -> Result<ApiKeyInfo, ApiError> {
    json(post(csrf, &format!("/api-keys/{id}/revoke")).body("")).await
}

fn post(csrf: &str, path: &str) -> RequestBuilder {
    same_origin(Request::post(&url(path))).header("X-CSRF-Token", csrf)
}

/// Opens the inbox's live stream (every conversation's events). Aborting
/// `signal` closes it.
pub async fn events(signal: &AbortSignal) -> Result<EventStream, ApiError> {
    let request = same_origin(Request::get(&url("/events")))
        .header("Accept", "text/event-stream")
        .abort_signal(Some(signal))
        .build();
    EventStream::open(request).await
}
