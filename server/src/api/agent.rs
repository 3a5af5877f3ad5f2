//! The agent's API for integrations, authenticated by an agent API key
//! (created by an admin in the inbox) or by the configured key (a bootstrap
//! for the first integration): list conversations by last activity, read
//! one, reply, follow every conversation's events.

use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use messenger_wire::{
    Author, Conversation, ConversationList, ConversationPage, MarkRead, Message, SendMessage,
};
use serde::Deserialize;

use super::{Agent, ApiJson, ApiQuery, NO_PROXY_BUFFERING, PageParams, StreamParams, stream};
use crate::AppState;
use crate::error::ApiError;
use crate::store::ListCursor;
use axum::response::IntoResponse;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list))
        .route("/conversations/{id}", get(read))
        .route("/conversations/{id}/messages", post(reply))
        .route("/conversations/{id}/read", post(read_up_to))
        .route("/conversations/{id}/typing", post(typing))
        .route("/events", get(events))
}

#[derive(Deserialize, Debug)]
struct ListParams {
    limit: Option<u32>,
    before: Option<String>,
}

/// `GET /api/v1/agent/conversations`: most recently active first.
async fn list(
    _: Agent,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiJson<ConversationList>, ApiError> {
    let limit = super::page_limit(params.limit)?;
    let cursor = params
        .before
        .as_deref()
        .map(|c| c.parse::<ListCursor>())
        .transpose()
        .map_err(|()| ApiError::invalid_query("before is not a valid cursor"))?;
    let (conversations, next) = state
        .store
        .list_conversations(cursor.as_ref(), limit)
        .await?;
    Ok(ApiJson(ConversationList {
        conversations,
        next_cursor: next.map(|c| c.to_string()),
    }))
}

/// `GET /api/v1/agent/conversations/{id}`: one conversation's history.
async fn read(
    _: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<ConversationPage>, ApiError> {
    let conversation = state
        .store
        .conversation(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such conversation"))?;
    super::read_page(&state, conversation, &params)
        .await
        .map(ApiJson)
}

/// `POST /api/v1/agent/conversations/{id}/messages`: replies as an agent.
#[tracing::instrument(skip_all, fields(conversation = %id))]
async fn reply(
    _: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<SendMessage>,
) -> Result<(StatusCode, ApiJson<Message>), ApiError> {
    super::send(&state, &id, Author::Agent, request).await
}

/// `GET /api/v1/agent/events`: every conversation's messages as Server-Sent
/// Events of `MessageEvent`, each with its global position as id: after the
/// position in `Last-Event-ID` (or `after`), else live from now.
/// A stream opened with an API key ends when the key is revoked; one opened
/// with the configured key lasts until the server stops.
async fn events(
    agent: Agent,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<impl IntoResponse, ApiError> {
    let after = stream::agent_resume_point(&headers, params.after)?;
    let ended: Pin<Box<dyn Future<Output = ()> + Send>> = match agent.api_key_id {
        Some(key_id) => {
            // Listen for revocations first, then check the key again: one
            // revoked in between is seen either way.
            let revoked = state
                .revocations
                .key_revoked(state.store.clone(), key_id.clone());
            if !state.store.api_key_is_active(&key_id).await? {
                return Err(ApiError::unauthorized());
            }
            Box::pin(revoked)
        }
        None => Box::pin(std::future::pending()),
    };
    Ok((
        NO_PROXY_BUFFERING,
        stream::all_conversations(&state, after, ended, None).await?,
    ))
}

/// `POST /api/v1/agent/conversations/{id}/read`: an agent has read up to `seq`.
async fn read_up_to(
    _: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(mark): ApiJson<MarkRead>,
) -> Result<ApiJson<Conversation>, ApiError> {
    super::mark_read(&state, &id, Author::Agent, mark).await
}

/// `POST /api/v1/agent/conversations/{id}/typing`: an agent is typing.
async fn typing(
    _: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.conversation(&id).await?.is_none() {
        return Err(ApiError::not_found("no such conversation"));
    }
    state.typing(&id, Author::Agent);
    Ok(StatusCode::NO_CONTENT)
}
