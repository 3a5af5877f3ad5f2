//! The inbox's conversations under `/api/v1/inbox/conversations`: the list
//! with its filters and search, one conversation with its history, notes
//! and customer panel, replies, internal notes, closing, reopening,
//! assigning and read marks. Same session, CSRF and origin rules as every
//! inbox route ([`InboxAgent`]).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use messenger_wire::{
    Assign, Author, Conversation, ConversationStatus, ErrorCode, InboxConversation,
    InboxConversationList, InboxConversationView, MarkRead, Message, Note, SendMessage,
};
use serde::Deserialize;

use super::InboxAgent;
use crate::AppState;
use crate::api::{ApiJson, ApiQuery, PageParams};
use crate::error::ApiError;
use crate::store::{
    AssignOutcome, AssigneeFilter, InboxCursor, InboxFilter, NoteOutcome, Waiting, Window,
};

/// Longest search text accepted, in characters.
const MAX_QUERY_CHARS: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list))
        .route("/conversations/{id}", get(view))
        .route("/conversations/{id}/messages", post(reply))
        .route("/conversations/{id}/notes", post(add_note))
        .route("/conversations/{id}/close", post(close))
        .route("/conversations/{id}/reopen", post(reopen))
        .route("/conversations/{id}/assign", post(assign))
        .route("/conversations/{id}/read", post(read_up_to))
}

#[derive(Deserialize, Debug, Default)]
struct ListParams {
    status: Option<String>,
    waiting: Option<String>,
    assignee: Option<String>,
    q: Option<String>,
    limit: Option<u32>,
    before: Option<String>,
}

impl ListParams {
    fn filter(self, me: &str) -> Result<(InboxFilter, Option<InboxCursor>, u32), ApiError> {
        let limit = crate::api::page_limit(self.limit)?;
        let status = match self.status.as_deref() {
            None | Some("" | "all") => None,
            Some(s) => Some(
                ConversationStatus::parse(s)
                    .ok_or_else(|| ApiError::invalid_query("status must be open or closed"))?,
            ),
        };
        let waiting = match self.waiting.as_deref() {
            None | Some("") => None,
            Some("us") => Some(Waiting::Us),
            Some("customer") => Some(Waiting::Customer),
            Some(_) => return Err(ApiError::invalid_query("waiting must be us or customer")),
        };
        let assignee = match self.assignee.as_deref() {
            None | Some("" | "all") => AssigneeFilter::All,
            Some("me") => AssigneeFilter::Agent(me.to_owned()),
            Some("unassigned") => AssigneeFilter::Unassigned,
            Some(_) => {
                return Err(ApiError::invalid_query(
                    "assignee must be me, unassigned or all",
                ));
            }
        };
        if self
            .q
            .as_deref()
            .is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS)
        {
            return Err(ApiError::invalid_query(format!(
                "q must be at most {MAX_QUERY_CHARS} characters"
            )));
        }
        let cursor = self
            .before
            .as_deref()
            .map(str::parse::<InboxCursor>)
            .transpose()
            .map_err(|()| ApiError::invalid_query("before is not a valid cursor"))?;
        let filter = InboxFilter {
            status,
            waiting,
            assignee,
            query: self.q,
        };
        Ok((filter, cursor, limit))
    }
}

/// `GET /api/v1/inbox/conversations`: conversations with at least one
/// message, filtered; those waiting on us first (longest wait first), then
/// the others by latest activity.
async fn list(
    agent: InboxAgent,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiJson<InboxConversationList>, ApiError> {
    let (filter, cursor, limit) = params.filter(&agent.agent.id)?;
    let (conversations, next) = state
        .store
        .list_inbox(&filter, cursor.as_ref(), limit)
        .await?;
    Ok(ApiJson(InboxConversationList {
        conversations,
        next_cursor: next.map(|c| c.to_string()),
    }))
}

/// `GET /api/v1/inbox/conversations/{id}`: a page of history (paged like
/// the agent API's), the notes of its time span and the customer panel.
///
/// The notes of a page are those written from the time of its first
/// message (from the very beginning when the page holds the conversation's
/// first message, or when the page is empty) until the time of the message
/// right after the page (until now on the latest page and on `after`
/// pages). A note written exactly at a page boundary may come in both
/// pages: merge by id.
async fn view(
    _: InboxAgent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<InboxConversationView>, ApiError> {
    let (window, limit) = params.window()?;
    let conversation = found(state.store.inbox_conversation(&id).await?)?;
    let customer = found(state.store.customer_profile(&id).await?)?;
    let (messages, has_older) = state.store.messages(&id, window, limit).await?;
    let older_cursor = has_older
        .then(|| messages.first().map(|m| m.seq.to_string()))
        .flatten();
    let from = match (window, messages.first()) {
        (Window::After(seq), _) if seq > 0 => state
            .store
            .message_time(&id, seq)
            .await?
            .unwrap_or(i64::MIN),
        (Window::Latest | Window::Before(_), Some(first)) if has_older => first.created_at,
        _ => i64::MIN,
    };
    let until = match window {
        Window::Before(seq) => state
            .store
            .message_time(&id, seq)
            .await?
            .unwrap_or(i64::MAX),
        Window::Latest | Window::After(_) => i64::MAX,
    };
    let notes = state.store.notes_between(&id, from, until).await?;
    Ok(ApiJson(InboxConversationView {
        conversation,
        messages,
        notes,
        older_cursor,
        customer,
    }))
}

/// `POST /api/v1/inbox/conversations/{id}/messages`: replies as the
/// signed-in agent (idempotent by `client_id`, like every send).
#[tracing::instrument(skip_all, fields(conversation = %id, agent = %agent.agent.id))]
async fn reply(
    agent: InboxAgent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<SendMessage>,
) -> Result<(StatusCode, ApiJson<Message>), ApiError> {
    crate::api::check_send(&request)?;
    let appended = state
        .store
        .append_agent_reply(
            &id,
            &agent.agent.id,
            &request.client_id,
            &request.body,
            state.now_ms(),
        )
        .await?;
    crate::api::sent(appended)
}

/// `POST /api/v1/inbox/conversations/{id}/notes`: an internal note, which
/// only agents ever see. Idempotent by `client_id` per agent.
#[tracing::instrument(skip_all, fields(conversation = %id, agent = %agent.agent.id))]
async fn add_note(
    agent: InboxAgent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<SendMessage>,
) -> Result<(StatusCode, ApiJson<Note>), ApiError> {
    crate::api::check_send(&request)?;
    let outcome = state
        .store
        .add_note(
            &id,
            &agent.agent.id,
            &request.client_id,
            &request.body,
            state.now_ms(),
        )
        .await?;
    match outcome {
        NoteOutcome::Created(note) => Ok((StatusCode::CREATED, ApiJson(note))),
        NoteOutcome::Replayed(note) => Ok((StatusCode::OK, ApiJson(note))),
        NoteOutcome::Conflict => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::ClientIdConflict,
            "this client_id was already used for a different note",
        )),
        NoteOutcome::NoConversation => Err(ApiError::not_found("no such conversation")),
    }
}

/// `POST /api/v1/inbox/conversations/{id}/close`.
#[tracing::instrument(skip_all, fields(conversation = %id, agent = %agent.agent.id))]
async fn close(
    agent: InboxAgent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<ApiJson<InboxConversation>, ApiError> {
    set_status(&state, &id, ConversationStatus::Closed).await
}

/// `POST /api/v1/inbox/conversations/{id}/reopen`.
#[tracing::instrument(skip_all, fields(conversation = %id, agent = %agent.agent.id))]
async fn reopen(
    agent: InboxAgent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<ApiJson<InboxConversation>, ApiError> {
    set_status(&state, &id, ConversationStatus::Open).await
}

async fn set_status(
    state: &AppState,
    id: &str,
    status: ConversationStatus,
) -> Result<ApiJson<InboxConversation>, ApiError> {
    found(state.store.set_status(id, status, state.now_ms()).await?).map(ApiJson)
}

/// `POST /api/v1/inbox/conversations/{id}/assign` `{agent_id}`: to an
/// enabled agent (oneself or another), or to nobody with `null`.
#[tracing::instrument(skip_all, fields(conversation = %id, agent = %agent.agent.id))]
async fn assign(
    agent: InboxAgent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<Assign>,
) -> Result<ApiJson<InboxConversation>, ApiError> {
    match state.store.assign(&id, request.agent_id.as_deref()).await? {
        AssignOutcome::Done(conversation) => Ok(ApiJson(*conversation)),
        AssignOutcome::NoConversation => Err(ApiError::not_found("no such conversation")),
        AssignOutcome::NoAgent => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInput,
            "no enabled agent has this id",
        )),
    }
}

/// `POST /api/v1/inbox/conversations/{id}/read` `{seq}`: agents have read
/// up to `seq` (as the agent API's read mark).
async fn read_up_to(
    _: InboxAgent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(mark): ApiJson<MarkRead>,
) -> Result<ApiJson<Conversation>, ApiError> {
    crate::api::mark_read(&state, &id, Author::Agent, mark).await
}

fn found<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::not_found("no such conversation"))
}
