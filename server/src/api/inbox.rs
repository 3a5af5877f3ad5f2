//! The inbox's API under `/api/v1/inbox`, for agents signed in with an email
//! and a password: the session (sign in, who am I, sign out), the password,
//! the agent accounts (admins only), the team directory (every agent), the
//! event stream, (in [`api_keys`]) the agent API keys (admins only), (in
//! [`settings`]) each site's business hours (admins only), (in
//! [`super::sites`]) the sites themselves, and (in
//! [`conversations`]) the conversations themselves.
//!
//! Rules for every route (see the README's "Agent accounts"):
//! - A request whose `Origin` is not this server's own, or that a browser
//!   marks `Sec-Fetch-Site: cross-site`, is refused (403 `forbidden`), so no
//!   other site can use an agent's cookie, nor sign an agent in.
//! - The session is the `mw_session` cookie (HttpOnly, SameSite=Strict,
//!   Secure when the public URL is https). Missing, unknown or expired, or
//!   the agent disabled: 401 `unauthorized`.
//! - Every request but GET and HEAD also carries the session's CSRF token in
//!   `X-CSRF-Token` (403 `csrf_failed` otherwise); signing in needs none.

mod api_keys;
mod conversations;
mod settings;

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use messenger_wire::{
    AgentAccount, AgentList, ChangePassword, ErrorCode, InboxSession, Login, NewAgent, Role, Team,
};
use subtle::ConstantTimeEq;

use super::{ApiJson, ApiQuery, NO_PROXY_BUFFERING, StreamParams, stream};
use crate::accounts::{self, CreateError, SESSION_MAX_MS, SESSION_TOUCH_MS};
use crate::error::ApiError;
use crate::presence::Party;
use crate::{AppState, ids};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "mw_session";
/// Header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session", post(login).get(current).delete(logout))
        .route("/password", post(change_password))
        .route("/agents", get(list_agents).post(create_agent))
        .route("/agents/{id}/disable", post(disable_agent))
        .route("/agents/{id}/enable", post(enable_agent))
        .route("/team", get(team))
        .route("/events", get(events))
        .merge(conversations::router())
        .merge(api_keys::router())
        .merge(settings::router())
        .merge(super::sites::inbox_router())
}

/// A request from this server's own pages (or from no browser page at all:
/// tools send no `Origin`).
pub struct SameOrigin;

impl FromRequestParts<AppState> for SameOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let cross_site = parts
            .headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        let foreign_origin = parts
            .headers
            .get(header::ORIGIN)
            .is_some_and(|origin| !is_own_origin(origin, parts, state));
        if cross_site || foreign_origin {
            return Err(ApiError::forbidden(
                "the inbox answers only requests from its own origin",
            ));
        }
        Ok(SameOrigin)
    }
}

/// Whether `origin` is this server's: its public URL's origin, or the
/// request's own host with the public URL's scheme (a browser cannot forge
/// the host of the page it calls).
pub(crate) fn is_own_origin(origin: &HeaderValue, parts: &Parts, state: &AppState) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.to_ascii_lowercase();
    if state.public_origin.as_deref() == Some(origin.as_str()) {
        return true;
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let scheme = if state.https { "https" } else { "http" };
    host.is_some_and(|host| origin == format!("{scheme}://{}", host.to_ascii_lowercase()))
}

/// The value of the session cookie, if the request has one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// A request of a signed-in agent, from our origin, with the CSRF token if
/// it changes anything.
pub struct InboxAgent {
    pub session_id: String,
    pub agent: AgentAccount,
    pub csrf_token: String,
}

impl FromRequestParts<AppState> for InboxAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        SameOrigin::from_request_parts(parts, state).await?;
        let token = session_cookie(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let now = state.now_ms();
        let session = state
            .store
            .session_by_token(&ids::hash_secret(token), now)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let csrf_token = ids::csrf_token(token);
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if !bool::from(given.ct_eq(csrf_token.as_bytes())) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    ErrorCode::CsrfFailed,
                    "missing or wrong X-CSRF-Token",
                ));
            }
        }
        if now - session.last_seen_at >= SESSION_TOUCH_MS {
            state.store.touch_session(&session.id, now).await?;
        }
        Ok(InboxAgent {
            session_id: session.id,
            agent: session.agent,
            csrf_token,
        })
    }
}

/// An [`InboxAgent`] who is an admin (403 `forbidden` for other agents).
pub struct InboxAdmin(pub InboxAgent);

impl FromRequestParts<AppState> for InboxAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let agent = InboxAgent::from_request_parts(parts, state).await?;
        if agent.agent.role != Role::Admin {
            return Err(ApiError::forbidden("only admins may do this"));
        }
        Ok(InboxAdmin(agent))
    }
}

/// The address of the TCP peer, when the server was started with it.
pub struct PeerAddress(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidCredentials,
        "wrong email or password",
    )
}

fn session_cookie_header(value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::try_from(format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_s}{secure}"
    ))
    .expect("session tokens are cookie-safe")
}

/// `POST /api/v1/inbox/session`: signs in. Wrong email, wrong password and
/// a disabled agent get the same 401; failures beyond the limits get 429.
#[tracing::instrument(skip_all)]
async fn login(
    _: SameOrigin,
    State(state): State<AppState>,
    PeerAddress(peer): PeerAddress,
    ApiJson(login): ApiJson<Login>,
) -> Result<impl IntoResponse, ApiError> {
    let limits = &state.login_limits;
    let email_key = accounts::normalize_email(&login.email);
    let address_key = peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let now = state.now_ms();
    limits
        .by_email
        .acquire(&email_key, now)
        .map_err(ApiError::too_many_requests)?;
    if let Err(retry) = limits.by_address.acquire(&address_key, now) {
        limits.by_email.forgive(&email_key);
        return Err(ApiError::too_many_requests(retry));
    }
    let Some(agent) = accounts::check_login(&state.store, &login.email, &login.password).await?
    else {
        tracing::info!(address = %address_key, "failed inbox login");
        return Err(invalid_credentials());
    };
    limits.by_email.clear(&email_key);
    limits.by_address.forgive(&address_key);

    let token = ids::session_token();
    let session_id = ids::session_id();
    state
        .store
        .insert_session(
            &session_id,
            &ids::hash_secret(&token),
            &agent.account.id,
            now,
        )
        .await?;
    tracing::info!(agent = %agent.account.id, "inbox login");
    let cookie = session_cookie_header(&token, SESSION_MAX_MS / 1000, state.https);
    Ok((
        [(header::SET_COOKIE, cookie)],
        ApiJson(InboxSession {
            agent: agent.account,
            csrf_token: ids::csrf_token(&token),
        }),
    ))
}

/// `GET /api/v1/inbox/session`: the signed-in agent and the CSRF token (for
/// a reloaded inbox page).
async fn current(agent: InboxAgent) -> ApiJson<InboxSession> {
    ApiJson(InboxSession {
        agent: agent.agent,
        csrf_token: agent.csrf_token,
    })
}

/// `DELETE /api/v1/inbox/session`: signs out; the session's stream ends.
async fn logout(
    agent: InboxAgent,
    State(state): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    state.store.delete_session(&agent.session_id).await?;
    state.revocations.revoke([agent.session_id]);
    Ok((
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            session_cookie_header("", 0, state.https),
        )],
    ))
}

/// `POST /api/v1/inbox/password`: changes the agent's own password and ends
/// every other session of the agent (this one stays).
#[tracing::instrument(skip_all, fields(agent = %agent.agent.id))]
async fn change_password(
    agent: InboxAgent,
    State(state): State<AppState>,
    ApiJson(change): ApiJson<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    messenger_wire::validate_password(&change.new_password).map_err(|code| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "the new password must be 12 to 1024 characters",
        )
    })?;
    // Guessing the current password from a stolen session counts against
    // the same limit as guessing it at the login.
    let email_key = &agent.agent.email;
    state
        .login_limits
        .by_email
        .acquire(email_key, state.now_ms())
        .map_err(ApiError::too_many_requests)?;
    let record = state
        .store
        .agent(&agent.agent.id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if !accounts::verify_password(record.password_hash, change.current_password).await {
        // 403, not 401: the session is fine, and a client must not take
        // this for being signed out.
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidCredentials,
            "the current password is wrong",
        ));
    }
    state.login_limits.by_email.clear(email_key);
    let hash = accounts::hash_password(change.new_password).await;
    let revoked = state
        .store
        .set_password(&agent.agent.id, &hash, &agent.session_id, state.now_ms())
        .await?;
    tracing::info!(ended_sessions = revoked.len(), "password changed");
    state.revocations.revoke(revoked);
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/inbox/agents` (admins): every account, oldest first.
async fn list_agents(
    _: InboxAdmin,
    State(state): State<AppState>,
) -> Result<ApiJson<AgentList>, ApiError> {
    Ok(ApiJson(AgentList {
        agents: state.store.agents().await?,
    }))
}

/// `GET /api/v1/inbox/team` (any agent): the enabled agents, by name, to
/// assign a conversation to.
async fn team(_: InboxAgent, State(state): State<AppState>) -> Result<ApiJson<Team>, ApiError> {
    Ok(ApiJson(Team {
        agents: state.store.team().await?,
    }))
}

/// `POST /api/v1/inbox/agents` (admins): creates an account.
#[tracing::instrument(skip_all, fields(admin = %admin.0.agent.id))]
async fn create_agent(
    admin: InboxAdmin,
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewAgent>,
) -> Result<(StatusCode, ApiJson<AgentAccount>), ApiError> {
    let account = accounts::create_agent(&state.store, new, state.now_ms())
        .await
        .map_err(|err| match err {
            CreateError::Invalid(code, why) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, why)
            }
            CreateError::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::EmailTaken,
                "an agent with this email already exists",
            ),
            CreateError::Database(err) => err.into(),
        })?;
    tracing::info!(agent = %account.id, "agent created");
    Ok((StatusCode::CREATED, ApiJson(account)))
}

/// `POST /api/v1/inbox/agents/{id}/disable` (admins): the agent can no
/// longer sign in; its sessions end and its open streams close.
#[tracing::instrument(skip_all, fields(admin = %admin.0.agent.id, agent = %id))]
async fn disable_agent(
    admin: InboxAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<ApiJson<AgentAccount>, ApiError> {
    if id == admin.0.agent.id {
        return Err(ApiError::forbidden(
            "an admin cannot disable their own account",
        ));
    }
    let (account, revoked) = state
        .store
        .set_agent_disabled(&id, true, state.now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("no such agent"))?;
    tracing::info!(ended_sessions = revoked.len(), "agent disabled");
    state.revocations.revoke(revoked);
    Ok(ApiJson(account))
}

/// `POST /api/v1/inbox/agents/{id}/enable` (admins): the agent may sign in again.
#[tracing::instrument(skip_all, fields(admin = %admin.0.agent.id, agent = %id))]
async fn enable_agent(
    admin: InboxAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<ApiJson<AgentAccount>, ApiError> {
    let (account, _) = state
        .store
        .set_agent_disabled(&id, false, state.now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("no such agent"))?;
    Ok(ApiJson(account))
}

/// `GET /api/v1/inbox/events`: the agent stream of `/api/v1/agent/events`,
/// for a signed-in agent. It ends when the session does (sign-out, password
/// changed elsewhere, agent disabled).
async fn events(
    agent: InboxAgent,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<impl IntoResponse, ApiError> {
    let after = stream::agent_resume_point(&headers, params.after)?;
    // Listen for revocations first, then check the session again: one
    // revoked in between is seen either way.
    let ended = state
        .revocations
        .ended(state.store.clone(), agent.session_id.clone());
    if !state
        .store
        .session_is_active(&agent.session_id, state.now_ms())
        .await?
    {
        return Err(ApiError::unauthorized());
    }
    Ok((
        NO_PROXY_BUFFERING,
        stream::all_conversations(
            &state,
            after,
            ended,
            Some(state.presence.enter(Party::Agent(agent.agent.id.clone()))),
        )
        .await?,
    ))
}
