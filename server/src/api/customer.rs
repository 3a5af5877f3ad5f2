//! The customer's API: the widget starts a conversation, reads its history
//! and sends messages. The conversation token (a bearer credential) is the
//! only way to address a conversation here, so a token reaches exactly one.
//!
//! Every route works on the request's site ([`RequestSite`]: the
//! `X-Messenger-Site` header, and the origin rule); a token of a customer
//! of another site is refused like any unknown token (401).

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use messenger_wire::{
    Author, Conversation, ConversationPage, CustomerAccount, ErrorCode, MarkRead, Message,
    RequestResumeLink, Resume, ResumeLinkRequested, SendMessage, SetEmail, StartConversation,
    StartedConversation,
};

use super::sites::RequestSite;
use super::{ApiJson, ApiQuery, NO_PROXY_BUFFERING, PageParams, StreamParams, bearer, stream};
use crate::error::ApiError;
use crate::presence::Party;
use crate::store::{ResumeRefusal, StartContext};
use crate::{AppState, ids};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", post(start))
        .route("/conversation", get(read))
        .route("/conversation/messages", post(send))
        .route("/conversation/events", get(events))
        .route("/conversation/read", post(read_up_to))
        .route("/conversation/typing", post(typing))
        .route("/widget/status", get(widget_status))
        .route("/customer", get(account))
        .route("/customer/email", put(set_email))
        .route(
            "/customer/conversations/{id}/token",
            post(conversation_token),
        )
        .route("/resume-links", post(request_resume_link))
        .route("/resume", post(resume))
}

/// `GET /api/v1/widget/status` (public, no token): whether the request's
/// site is open now, with its greeting and expected reply time, or when it
/// opens again and its away message. Caches may keep it for a minute.
async fn widget_status(State(state): State<AppState>, site: RequestSite) -> impl IntoResponse {
    let current = site.site.hours.clone();
    let now = state.now_ms();
    let open = current.hours.is_open(now);
    let next_open_at = if open {
        None
    } else {
        current.hours.next_open(now)
    };
    let settings = &current.settings;
    (
        [
            (header::CACHE_CONTROL, "public, max-age=60"),
            (header::VARY, "x-messenger-site, x-messenger-origin, origin"),
        ],
        ApiJson(messenger_wire::WidgetStatus {
            open,
            greeting: settings.greeting.clone(),
            expected_reply_minutes: settings.expected_reply_minutes,
            next_open_at,
            away_message: (!open).then(|| {
                crate::hours::away_text(
                    settings.away_message.as_deref(),
                    &current.hours,
                    next_open_at,
                )
            }),
        }),
    )
}

/// The conversation a request's token opens.
pub struct Customer(pub Conversation);

impl FromRequestParts<AppState> for Customer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let account = Account::from_request_parts(parts, state).await?;
        Ok(Customer(account.conversation))
    }
}

/// The customer a request's token belongs to, and the conversation it
/// opens, on the request's site (whose origin rule it passed).
pub struct Account {
    pub customer_id: String,
    pub conversation: Conversation,
    pub site: RequestSite,
}

impl FromRequestParts<AppState> for Account {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let site = RequestSite::from_request_parts(parts, state).await?;
        let token = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        state
            .store
            .customer_by_token_on(&ids::hash_secret(token), &site.id)
            .await?
            .map(|(customer_id, conversation)| Account {
                customer_id,
                conversation,
                site,
            })
            .ok_or_else(ApiError::unauthorized)
    }
}

/// `POST /api/v1/conversations`: a new, empty conversation and its token.
/// The widget calls it only when the customer sends a first message. The
/// optional body (`StartConversation`) says on which page and in which
/// language; the User-Agent header is recorded too (cut to a maximum).
#[tracing::instrument(skip_all)]
async fn start(
    State(state): State<AppState>,
    site: RequestSite,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, ApiJson<StartedConversation>), ApiError> {
    let body = body.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "the request body is too large",
        )
    })?;
    let (mut context, identity) = start_context(&headers, &body)?;
    context.site_id = Some(site.id.clone());
    // With a signed identity, the new conversation is that verified
    // customer's. Else, with a token, it is the same customer's; a token
    // that is not (or no longer) valid, or of another site, is refused
    // rather than ignored, so that the widget does not silently split a
    // customer in two.
    let customer = match (identity, bearer(&headers)) {
        (Some(jwt), parent) => Some(
            match super::identity::verified_customer(&state, &site, &jwt).await {
                Ok(customer) => customer,
                // The page's identity token expired while the panel stayed
                // open (they live minutes). A token of a verified customer
                // of this site still proves who is writing: the new
                // conversation is theirs.
                Err(error) if error.code == ErrorCode::IdentityExpired => {
                    verified_parent(&state, &site, parent).await?.ok_or(error)?
                }
                Err(error) => return Err(error),
            },
        ),
        (None, Some(parent)) => Some(
            state
                .store
                .customer_by_token_on(&ids::hash_secret(parent), &site.id)
                .await?
                .ok_or_else(ApiError::unauthorized)?
                .0,
        ),
        (None, None) => None,
    };
    let token = ids::conversation_token();
    let (conversation, _) = state
        .store
        .start_conversation_for(
            &ids::hash_secret(&token),
            state.now_ms(),
            &context,
            customer.as_deref(),
        )
        .await?;
    tracing::info!(conversation = %conversation.id, "conversation started");
    Ok((
        StatusCode::CREATED,
        ApiJson(StartedConversation {
            token,
            conversation,
        }),
    ))
}

/// The customer of `parent`, a device token, when it is a verified
/// customer of `site`.
async fn verified_parent(
    state: &AppState,
    site: &RequestSite,
    parent: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(parent) = parent else {
        return Ok(None);
    };
    let found = state
        .store
        .token_customer(&ids::hash_secret(parent), &site.id)
        .await?;
    Ok(found
        .filter(|c| c.external_id.is_some())
        .map(|c| c.customer_id))
}

/// What a start request tells about the customer: the body (none, or JSON
/// `StartConversation`, validated) and the User-Agent; and the signed
/// identity, if the body has one.
fn start_context(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(StartContext, Option<String>), ApiError> {
    let request: StartConversation = if body.iter().all(u8::is_ascii_whitespace) {
        StartConversation::default()
    } else {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "expected Content-Type: application/json",
            ));
        }
        serde_json::from_slice(body).map_err(|err| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidJson,
                err.to_string(),
            )
        })?
    };
    if let Some(url) = &request.page_url {
        messenger_wire::validate_page_url(url).map_err(|code| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                code,
                "page_url must be an http(s) URL of at most 2048 characters",
            )
        })?;
    }
    if let Some(language) = &request.language {
        messenger_wire::validate_language(language).map_err(|code| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                code,
                "language must be a language tag such as en or de-CH",
            )
        })?;
    }
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| {
            ua.chars()
                .filter(|c| !c.is_control())
                .take(messenger_wire::MAX_USER_AGENT_CHARS)
                .collect::<String>()
        })
        .filter(|ua| !ua.trim().is_empty());
    Ok((
        StartContext {
            page_url: request.page_url,
            user_agent,
            language: request.language,
            site_id: None,
        },
        request.identity,
    ))
}

/// `GET /api/v1/conversation`: the token's conversation and a page of history.
async fn read(
    State(state): State<AppState>,
    Customer(conversation): Customer,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<ConversationPage>, ApiError> {
    super::read_page(&state, conversation, &params)
        .await
        .map(ApiJson)
}

/// `POST /api/v1/conversation/messages`: sends a customer message.
///
/// The token is checked by the appending transaction itself (see
/// [`crate::store::Store::append_customer_message`]), not by a read of its
/// own before: one statement less per message, and a token revoked on any
/// instance is refused at once all the same. A request whose body is
/// refused is checked first, as every route does, so a wrong token is a 401
/// whatever its body.
async fn send(
    State(state): State<AppState>,
    site: RequestSite,
    headers: HeaderMap,
    request: Result<ApiJson<SendMessage>, ApiError>,
) -> Result<(StatusCode, ApiJson<Message>), ApiError> {
    let token = bearer(&headers).ok_or_else(ApiError::unauthorized)?;
    let token_hash = ids::hash_secret(token);
    let request = match request.and_then(|ApiJson(request)| {
        super::check_send(&request)?;
        Ok(request)
    }) {
        Ok(request) => request,
        Err(refused) => {
            state
                .store
                .customer_by_token_on(&token_hash, &site.id)
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            return Err(refused);
        }
    };
    let appended = state
        .store
        .append_customer_message(
            token_hash,
            &site.id,
            &request.client_id,
            &request.body,
            state.now_ms(),
        )
        .await?;
    match appended {
        crate::store::Appended::NoConversation => Err(ApiError::unauthorized()),
        appended => super::sent(appended),
    }
}

/// `GET /api/v1/conversation/events`: the conversation's messages as Server-
/// Sent Events, from `Last-Event-ID` (or `after`) on, then live. While it is
/// open the customer counts as here: missed replies are not emailed.
async fn events(
    State(state): State<AppState>,
    account: Account,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<impl IntoResponse, ApiError> {
    let after = stream::resume_point(&headers, params.after)?;
    let here = state.presence.enter(Party::Customer(account.customer_id));
    Ok((
        NO_PROXY_BUFFERING,
        stream::conversation(&state, account.conversation.id, after, here),
    ))
}

/// `POST /api/v1/conversation/read`: the customer has seen up to `seq`.
async fn read_up_to(
    State(state): State<AppState>,
    Customer(conversation): Customer,
    ApiJson(mark): ApiJson<MarkRead>,
) -> Result<ApiJson<Conversation>, ApiError> {
    super::mark_read(&state, &conversation.id, Author::Customer, mark).await
}

/// `POST /api/v1/conversation/typing`: the customer is typing.
async fn typing(State(state): State<AppState>, Customer(conversation): Customer) -> StatusCode {
    state.typing(&conversation.id, Author::Customer);
    StatusCode::NO_CONTENT
}

/// `GET /api/v1/customer`: the customer's email and their conversations on
/// every device, latest activity first.
async fn account(
    State(state): State<AppState>,
    account: Account,
) -> Result<ApiJson<CustomerAccount>, ApiError> {
    Ok(ApiJson(
        state.store.customer_account(&account.customer_id).await?,
    ))
}

/// `PUT /api/v1/customer/email`: where to email replies the customer
/// misses (`null` forgets the address). A new address is subscribed.
async fn set_email(
    State(state): State<AppState>,
    account: Account,
    ApiJson(request): ApiJson<SetEmail>,
) -> Result<ApiJson<CustomerAccount>, ApiError> {
    let email = optional_email(request.email.as_deref())?;
    state
        .store
        .set_customer_email(&account.customer_id, email.as_deref())
        .await?;
    Ok(ApiJson(
        state.store.customer_account(&account.customer_id).await?,
    ))
}

/// An address a customer typed: `None` for none (absent, empty or blank),
/// else checked as the widget checks it (400 `invalid_email`).
pub(super) fn optional_email(email: Option<&str>) -> Result<Option<String>, ApiError> {
    match email.map(str::trim) {
        None | Some("") => Ok(None),
        Some(email) => checked_email(email).map(Some),
    }
}

/// An email address from a customer, checked as the widget checks it.
fn checked_email(email: &str) -> Result<String, ApiError> {
    messenger_wire::validate_email(email).map_err(|code| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code,
            "email must be an address like name@example.com",
        )
    })?;
    Ok(email.to_owned())
}

/// `POST /api/v1/customer/conversations/{id}/token`: a token on this device
/// for another conversation of the same customer.
async fn conversation_token(
    State(state): State<AppState>,
    account: Account,
    Path(id): Path<String>,
) -> Result<(StatusCode, ApiJson<StartedConversation>), ApiError> {
    let token = ids::conversation_token();
    let conversation = state
        .store
        .issue_customer_token(
            &ids::hash_secret(&token),
            &account.customer_id,
            &id,
            state.now_ms(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("no such conversation"))?;
    Ok((
        StatusCode::CREATED,
        ApiJson(StartedConversation {
            token,
            conversation,
        }),
    ))
}

/// `POST /api/v1/resume-links`: email a resume link to this address if a
/// customer left it. The answer is the same, and takes the same time,
/// whether or not the address is known: the request is only recorded here,
/// and the mail worker looks the address up.
async fn request_resume_link(
    State(state): State<AppState>,
    site: RequestSite,
    ApiJson(request): ApiJson<RequestResumeLink>,
) -> Result<(StatusCode, ApiJson<ResumeLinkRequested>), ApiError> {
    let email = checked_email(request.email.trim())?;
    state
        .store
        .request_resume_link(&email, &site.id, state.now_ms())
        .await?;
    state.mail.wake();
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(ResumeLinkRequested {
            valid_minutes: state.mail.resume_link_ttl_ms / 60_000,
        }),
    ))
}

/// `POST /api/v1/resume`: uses a resume link's code (once) and answers with
/// a new token for this device to the customer's latest conversation.
async fn resume(
    State(state): State<AppState>,
    site: RequestSite,
    ApiJson(request): ApiJson<Resume>,
) -> Result<ApiJson<StartedConversation>, ApiError> {
    let token = ids::conversation_token();
    let redeemed = state
        .store
        .redeem_resume_link(
            &ids::hash_secret(request.code.trim()),
            &site.id,
            &ids::hash_secret(&token),
            state.now_ms(),
        )
        .await?;
    match redeemed {
        Ok(conversation) => {
            tracing::info!(conversation = %conversation.id, "conversation resumed on a new device");
            Ok(ApiJson(StartedConversation {
                token,
                conversation,
            }))
        }
        Err(ResumeRefusal::Invalid) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ResumeLinkInvalid,
            "this link is not valid",
        )),
        Err(ResumeRefusal::Used) => Err(ApiError::new(
            StatusCode::GONE,
            ErrorCode::ResumeLinkUsed,
            "this link was already used; each link works once",
        )),
        Err(ResumeRefusal::Expired) => Err(ApiError::new(
            StatusCode::GONE,
            ErrorCode::ResumeLinkExpired,
            "this link has expired",
        )),
    }
}
