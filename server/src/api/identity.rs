//! Identity routes of the customer API: a site's signed-in users (vouched
//! for by a JWT from the site's backend, see [`crate::identity`]) find
//! their conversations on every device; an anonymous customer's
//! conversations become theirs only when they claim them; a device forgets
//! its token on logout; an anonymous customer may leave a name and email.
//!
//! - `POST /identify` `{"identity": JWT}` → `{"token", "customer"}`
//! - `POST /customer/claim` (Bearer: an anonymous customer's token)
//!   `{"identity": JWT}` → `{"token", "customer"}`; 409 `already_identified`
//! - `POST /customer/forget` (Bearer) → 204
//! - `PUT /customer/profile` (Bearer) `{"name"?, "email"?}` → `CustomerAccount`;
//!   403 `identity_required` when the site enforces verification
//!
//! Every route works on the request's site ([`RequestSite`]): a token of a
//! customer of another site is refused like any unknown token (401).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{post, put};
use messenger_wire::{CustomerAccount, ErrorCode};
use serde::{Deserialize, Deserializer, Serialize};

use super::sites::RequestSite;
use super::{ApiJson, bearer};
use crate::error::ApiError;
use crate::identity::{self, Refusal};
use crate::store::identity::{Claimed, TokenCustomer};
use crate::{AppState, ids};

/// Longest name a customer may type in, in characters.
pub const MAX_PROFILE_NAME_CHARS: usize = 255;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/identify", post(identify))
        .route("/customer/claim", post(claim))
        .route("/customer/forget", post(forget))
        .route("/customer/profile", put(profile))
}

/// Body of `POST /identify` and `POST /customer/claim`.
#[derive(Debug, Deserialize, Serialize)]
pub struct IdentifyRequest {
    /// The JWT the site's backend signed.
    pub identity: String,
}

/// Answer of `POST /identify` and `POST /customer/claim`.
#[derive(Debug, Deserialize, Serialize)]
pub struct Identified {
    /// A device token for the customer's most recently active (identify)
    /// or the claimed (claim) conversation; `null` when they have none yet.
    pub token: Option<String>,
    pub customer: CustomerAccount,
    /// Whether the bearer token sent along belongs to an anonymous customer
    /// of this site, whose conversations the user may add to their account
    /// (`POST /customer/claim`); false for another verified user's token.
    #[serde(default)]
    pub claimable: bool,
}

/// Body of `PUT /customer/profile`: an absent field stays as it is; `null`
/// or an empty string clears it.
#[derive(Debug, Default, Deserialize)]
pub struct ProfileRequest {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
}

/// A field that is present (perhaps `null`), as opposed to absent.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The verified customer a signed identity names on the request's site:
/// found, or created on first sight; the name and email it carries are
/// recorded. Returns their id.
///
/// 400 `identity_not_configured` when the site has no secret; 401
/// `identity_invalid` or `identity_expired` when the token does not pass.
pub async fn verified_customer(
    state: &AppState,
    site: &RequestSite,
    jwt: &str,
) -> Result<String, ApiError> {
    let secret = state.store.site_secret(&site.id).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::IdentityNotConfigured,
            "this site has no identity secret; an admin creates one in the inbox",
        )
    })?;
    let identity =
        identity::verify(jwt, &secret, state.now_ms()).map_err(|refusal| match refusal {
            Refusal::Invalid(why) => {
                ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::IdentityInvalid, why)
            }
            Refusal::Expired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::IdentityExpired,
                "the identity token has expired; sign a new one",
            ),
        })?;
    Ok(state
        .store
        .verified_customer(&site.id, &identity, state.now_ms())
        .await?)
}

/// The customer behind the request's bearer token, on the request's site;
/// 401 otherwise (missing, unknown, forgotten, or another site's).
async fn token_customer(
    state: &AppState,
    site: &RequestSite,
    headers: &HeaderMap,
) -> Result<TokenCustomer, ApiError> {
    let token = bearer(headers).ok_or_else(ApiError::unauthorized)?;
    state
        .store
        .token_customer(&ids::hash_secret(token), &site.id)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// `POST /api/v1/identify`: the verified customer named by the identity,
/// with a device token for their latest conversation. When the request
/// carries a token of that same customer (this device identified before),
/// it is answered again rather than a new one made; any other token is
/// ignored (it gives no access to anything).
#[tracing::instrument(skip_all)]
async fn identify(
    State(state): State<AppState>,
    site: RequestSite,
    headers: HeaderMap,
    ApiJson(request): ApiJson<IdentifyRequest>,
) -> Result<ApiJson<Identified>, ApiError> {
    let customer_id = verified_customer(&state, &site, &request.identity).await?;
    let device = match bearer(&headers) {
        Some(token) => state
            .store
            .token_customer(&ids::hash_secret(token), &site.id)
            .await?
            .map(|c| (token, c)),
        None => None,
    };
    let claimable = device
        .as_ref()
        .is_some_and(|(_, c)| c.external_id.is_none());
    let current = device
        .filter(|(_, c)| c.customer_id == customer_id)
        .map(|(token, _)| token.to_owned());
    let token = match current {
        Some(token) => Some(token),
        None => {
            let token = ids::conversation_token();
            state
                .store
                .token_for_latest_conversation(
                    &customer_id,
                    &ids::hash_secret(&token),
                    state.now_ms(),
                )
                .await?
                .map(|_| token)
        }
    };
    tracing::info!(customer = %customer_id, "verified customer identified");
    Ok(ApiJson(Identified {
        token,
        customer: state.store.customer_account(&customer_id).await?,
        claimable,
    }))
}

/// `POST /api/v1/customer/claim`: the anonymous customer behind the bearer
/// token hands all their conversations to the verified customer the
/// identity names. Only this explicit request does that (never an email).
#[tracing::instrument(skip_all)]
async fn claim(
    State(state): State<AppState>,
    site: RequestSite,
    headers: HeaderMap,
    ApiJson(request): ApiJson<IdentifyRequest>,
) -> Result<ApiJson<Identified>, ApiError> {
    let current = token_customer(&state, &site, &headers).await?;
    if current.external_id.is_some() {
        return Err(already_identified());
    }
    let verified = verified_customer(&state, &site, &request.identity).await?;
    let token = ids::conversation_token();
    let claimed = state
        .store
        .claim_customer(
            &ids::hash_secret(bearer(&headers).unwrap_or_default()),
            &verified,
            &ids::hash_secret(&token),
            state.now_ms(),
        )
        .await?;
    match claimed {
        Claimed::Done(conversation) => {
            tracing::info!(customer = %verified, conversation = %conversation.id,
                           "anonymous conversations claimed by a verified customer");
            Ok(ApiJson(Identified {
                token: Some(token),
                customer: state.store.customer_account(&verified).await?,
                claimable: false,
            }))
        }
        Claimed::NoToken => Err(ApiError::unauthorized()),
        Claimed::AlreadyIdentified => Err(already_identified()),
    }
}

fn already_identified() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::AlreadyIdentified,
        "this customer is verified already; there is nothing to claim",
    )
}

/// `POST /api/v1/customer/forget`: this device's token stops working
/// (logout, reset). The customer's conversations and their other devices'
/// tokens stay.
async fn forget(
    State(state): State<AppState>,
    site: RequestSite,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    token_customer(&state, &site, &headers).await?;
    let token = bearer(&headers).unwrap_or_default();
    state
        .store
        .forget_customer_token(&ids::hash_secret(token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/customer/profile`: the name and email the customer typed in
/// (unverified; the inbox shows them). Refused with 403 when the site
/// accepts contact details only from verified customers.
async fn profile(
    State(state): State<AppState>,
    site: RequestSite,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ProfileRequest>,
) -> Result<ApiJson<CustomerAccount>, ApiError> {
    let customer = token_customer(&state, &site, &headers).await?;
    if site.identity_required {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::IdentityRequired,
            "this site takes names and emails only from verified (signed-in) users",
        ));
    }
    let name = match request.name {
        None => None,
        Some(name) => Some(checked_name(name.as_deref())?),
    };
    let email = match request.email {
        None => None,
        Some(email) => Some(super::customer::optional_email(email.as_deref())?),
    };
    state
        .store
        .set_customer_profile(
            &customer.customer_id,
            name.as_ref().map(Option::as_deref),
            email.as_ref().map(Option::as_deref),
        )
        .await?;
    Ok(ApiJson(
        state.store.customer_account(&customer.customer_id).await?,
    ))
}

/// A typed-in name: trimmed; empty clears it; at most
/// [`MAX_PROFILE_NAME_CHARS`] characters, no control characters.
fn checked_name(name: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_PROFILE_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInput,
            "name must be at most 255 characters, without control characters",
        ));
    }
    Ok(Some(name.to_owned()))
}
