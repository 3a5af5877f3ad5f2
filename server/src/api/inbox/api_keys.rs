//! Agent API keys under `/api/v1/inbox/api-keys`, for admins: list, create
//! (the secret is in the answer, and nowhere else ever after: only its hash
//! is stored) and revoke (the key stops working at once, and the agent
//! streams opened with it end). Same session, CSRF and origin rules as every
//! inbox route ([`InboxAdmin`]).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use messenger_wire::{ApiKeyInfo, ApiKeyList, CreatedApiKey, ErrorCode, NewApiKey};

use super::InboxAdmin;
use crate::api::ApiJson;
use crate::error::ApiError;
use crate::{AppState, ids};

/// Longest key name, in characters.
const MAX_NAME_CHARS: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api-keys", get(list).post(create))
        .route("/api-keys/{id}/revoke", post(revoke))
}

/// `GET /api/v1/inbox/api-keys` (admins): every key, revoked ones too,
/// oldest first; never the keys themselves.
async fn list(
    _: InboxAdmin,
    State(state): State<AppState>,
) -> Result<ApiJson<ApiKeyList>, ApiError> {
    Ok(ApiJson(ApiKeyList {
        keys: state.store.api_keys().await?,
    }))
}

/// `POST /api/v1/inbox/api-keys` (admins): a new key, shown this once.
#[tracing::instrument(skip_all, fields(admin = %admin.0.agent.id))]
async fn create(
    admin: InboxAdmin,
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewApiKey>,
) -> Result<(StatusCode, ApiJson<CreatedApiKey>), ApiError> {
    let name = new.name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInput,
            "the name must be 1 to 100 characters",
        ));
    }
    let secret = ids::api_key();
    let key = state
        .store
        .insert_api_key(
            &ids::api_key_id(),
            name,
            &ids::hash_secret(&secret),
            &ids::api_key_hint(&secret),
            &admin.0.agent.id,
            state.now_ms(),
        )
        .await?;
    tracing::info!(key = %key.id, "API key created");
    Ok((StatusCode::CREATED, ApiJson(CreatedApiKey { key, secret })))
}

/// `POST /api/v1/inbox/api-keys/{id}/revoke` (admins): the key stops
/// working at once; revoking it again changes nothing.
#[tracing::instrument(skip_all, fields(admin = %admin.0.agent.id, key = %id))]
async fn revoke(
    admin: InboxAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<ApiJson<ApiKeyInfo>, ApiError> {
    let key = state
        .store
        .revoke_api_key(&id, state.now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("no such API key"))?;
    tracing::info!("API key revoked");
    state.revocations.revoke([key.id.clone()]);
    Ok(ApiJson(key))
}
