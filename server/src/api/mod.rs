//! The JSON API under `/api/v1`: one module per audience, plus the
//! extractors they share (JSON bodies, queries and credentials that fail with
//! [`ApiError`] instead of axum's plain-text rejections).

pub mod agent;
pub mod customer;
pub mod identity;
pub mod inbox;
pub mod sites;
pub mod stream;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use messenger_wire::{ConversationPage, ErrorCode, Message};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;
use crate::ids;
use crate::store::{Appended, Window};

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(customer::router())
        .merge(sites::router())
        .merge(identity::router())
        .nest("/agent", agent::router())
        .nest("/inbox", inbox::router())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
}

/// `axum::Json`, failing with a JSON error body.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for ApiJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query`, failing with a JSON error body.
#[derive(FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The bearer credential of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim())
        .filter(|c| !c.is_empty())
}

/// A request to the agent API, authenticated by an agent API key created
/// in the inbox (`mwk_…`, found by its hash; revoked keys fail at once) or
/// by the configured `--agent-api-key`, a bootstrap for the first
/// integration. Every failure is the same 401.
pub struct Agent {
    /// The id of the API key used; `None` for the configured key.
    pub api_key_id: Option<String>,
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let given = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let hash = ids::hash_secret(given);
        if let Some(expected) = state.agent_key_hash.as_ref()
            && bool::from(hash[..].ct_eq(&expected[..]))
        {
            return Ok(Agent { api_key_id: None });
        }
        if !given.starts_with(messenger_wire::API_KEY_PREFIX) {
            return Err(ApiError::unauthorized());
        }
        let key = state
            .store
            .active_api_key(&hash)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let now = state.now_ms();
        if key
            .last_used_at
            .is_none_or(|at| now - at >= crate::store::API_KEY_TOUCH_MS)
        {
            state.store.touch_api_key(&key.id, now).await?;
        }
        Ok(Agent {
            api_key_id: Some(key.id),
        })
    }
}

/// Where a stream starts, when no `Last-Event-ID` header says.
#[derive(Deserialize, Debug, Default)]
pub struct StreamParams {
    pub after: Option<i64>,
}

/// SSE responses must not be held back by buffering proxies.
const NO_PROXY_BUFFERING: [(&str, &str); 1] = [("x-accel-buffering", "no")];

/// History paging shared by the customer and agent views of a conversation:
/// `limit`, and at most one of `before` (a cursor from `older_cursor`) and
/// `after` (a `seq`).
#[derive(Deserialize, Debug, Default)]
pub struct PageParams {
    pub limit: Option<u32>,
    pub before: Option<String>,
    pub after: Option<i64>,
}

impl PageParams {
    fn window(&self) -> Result<(Window, u32), ApiError> {
        let limit = page_limit(self.limit)?;
        let window = match (&self.before, self.after) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_query(
                    "use either before or after, not both",
                ));
            }
            (Some(cursor), None) => match cursor.parse::<i64>() {
                Ok(seq) if seq > 0 => Window::Before(seq),
                _ => return Err(ApiError::invalid_query("before is not a valid cursor")),
            },
            (None, Some(seq)) if seq >= 0 => Window::After(seq),
            (None, Some(_)) => return Err(ApiError::invalid_query("after must be 0 or more")),
            (None, None) => Window::Latest,
        };
        Ok((window, limit))
    }
}

/// The `limit` of a paged request: the default when absent, else 1 to the maximum.
fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(messenger_wire::DEFAULT_PAGE_SIZE);
    if limit == 0 || limit > messenger_wire::MAX_PAGE_SIZE {
        return Err(ApiError::invalid_query(format!(
            "limit must be between 1 and {}",
            messenger_wire::MAX_PAGE_SIZE
        )));
    }
    Ok(limit)
}

/// Reads one page of a conversation's history.
async fn read_page(
    state: &AppState,
    conversation: messenger_wire::Conversation,
    params: &PageParams,
) -> Result<ConversationPage, ApiError> {
    let (window, limit) = params.window()?;
    let (messages, has_older) = state
        .store
        .messages(&conversation.id, window, limit)
        .await?;
    let older_cursor = has_older
        .then(|| messages.first().map(|m| m.seq.to_string()))
        .flatten();
    Ok(ConversationPage {
        conversation,
        messages,
        older_cursor,
    })
}

/// Validates and stores a message; 201 when new, 200 when it replays an
/// earlier send of the same client id and body.
/// A send's client id and body, checked by the wire's rules (for messages
/// and notes alike).
pub fn check_send(request: &messenger_wire::SendMessage) -> Result<(), ApiError> {
    messenger_wire::validate_client_id(&request.client_id).map_err(ApiError::invalid_input)?;
    messenger_wire::validate_body(&request.body).map_err(ApiError::invalid_input)
}

async fn send(
    state: &AppState,
    conversation_id: &str,
    author: messenger_wire::Author,
    request: messenger_wire::SendMessage,
) -> Result<(StatusCode, ApiJson<Message>), ApiError> {
    check_send(&request)?;
    let appended = state
        .store
        .append_message(
            conversation_id,
            author,
            &request.client_id,
            &request.body,
            state.now_ms(),
        )
        .await?;
    sent(appended)
}

/// The answer to a send: 201 when new, 200 when replayed, 409, 404.
fn sent(appended: Appended) -> Result<(StatusCode, ApiJson<Message>), ApiError> {
    match appended {
        Appended::Created(message, _) => {
            crate::ops::message_stored(message.author);
            Ok((StatusCode::CREATED, ApiJson(message)))
        }
        Appended::Replayed(message) => Ok((StatusCode::OK, ApiJson(message))),
        Appended::Conflict => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::ClientIdConflict,
            "this client_id was already used for a different message",
        )),
        Appended::NoConversation => Err(ApiError::not_found("no such conversation")),
    }
}

/// Moves a read mark forward (never back, never past the last message).
async fn mark_read(
    state: &AppState,
    conversation_id: &str,
    reader: messenger_wire::Author,
    mark: messenger_wire::MarkRead,
) -> Result<ApiJson<messenger_wire::Conversation>, ApiError> {
    state
        .store
        .mark_read(conversation_id, reader, mark.seq)
        .await?
        .map(ApiJson)
        .ok_or_else(|| ApiError::not_found("no such conversation"))
}
