//! Sites on the API: the site of a customer request ([`RequestSite`], with
//! the origin rule), the widget's public configuration
//! (`GET /api/v1/sites/{key}/widget`) and the admins' site routes under
//! `/api/v1/inbox/sites`.
//!
//! The origin rule: the embedding origin of a request is its `Origin`
//! header when present and not this server's own, otherwise the
//! `X-Messenger-Origin` header the frame sends (the host page's origin, as
//! the browser reported it to the frame). When the site lists allowed
//! origins, that origin must be one of them (exact `scheme://host[:port]`),
//! or the request is refused with 403 `origin_not_allowed` before anything
//! happens. An empty list admits any origin (development).

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use messenger_wire::{
    CreatedSite, ErrorCode, SiteAdmin, SiteList, SiteSecret, SiteSettings, WidgetConfig,
};
use serde::Deserialize;
use tower_http::cors::{Any, CorsLayer};

use super::inbox::{InboxAdmin, InboxAgent};
use super::{ApiJson, ApiQuery};
use crate::AppState;
use crate::error::ApiError;
use crate::store::sites::Site;

/// The header that names the site of a customer request (its public key).
pub const SITE_HEADER: &str = "x-messenger-site";

/// The header with the host page's origin, sent by the frame.
pub const ORIGIN_HEADER: &str = "x-messenger-origin";

/// The site of a customer request, whose origin it admits.
#[derive(Clone)]
pub struct RequestSite {
    /// `sites.id`.
    pub id: String,
    /// The public key.
    pub key: String,
    /// Whether the site accepts contact details only from verified customers.
    pub identity_required: bool,
    /// The embedding origin, if the request named one.
    pub origin: Option<String>,
    pub site: Arc<Site>,
}

impl FromRequestParts<AppState> for RequestSite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(known) = parts.extensions.get::<RequestSite>() {
            return Ok(known.clone());
        }
        let key = match parts.headers.get(SITE_HEADER) {
            None => crate::store::DEFAULT_SITE,
            Some(value) => value.to_str().map_err(|_| site_not_found())?.trim(),
        };
        let site = state.store.site_by_key(key).ok_or_else(site_not_found)?;
        let origin = embedding_origin(parts, state);
        check_origin(&site, origin.as_deref())?;
        let found = RequestSite {
            id: site.id.clone(),
            key: site.key.clone(),
            identity_required: site.settings.identity_required,
            origin,
            site,
        };
        parts.extensions.insert(found.clone());
        Ok(found)
    }
}

fn site_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::SiteNotFound,
        "no site has this key",
    )
}

/// 403 `origin_not_allowed` unless the site admits `origin`.
fn check_origin(site: &Site, origin: Option<&str>) -> Result<(), ApiError> {
    if site.allows(origin) {
        return Ok(());
    }
    tracing::info!(site = %site.id, origin = origin.unwrap_or("(none)"), "origin refused");
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::OriginNotAllowed,
        "this site does not allow requests from this origin",
    ))
}

/// The embedding origin of a request (see the module's documentation),
/// lowercased, without a trailing slash.
pub fn embedding_origin(parts: &Parts, state: &AppState) -> Option<String> {
    let normalize = |value: &HeaderValue| {
        value
            .to_str()
            .ok()
            .map(|v| v.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|v| !v.is_empty())
    };
    if let Some(origin) = parts.headers.get(header::ORIGIN)
        && !super::inbox::is_own_origin(origin, parts, state)
    {
        // A browser's own word (or a client's forgery): either way it is
        // the origin this request claims, and the frame's header cannot
        // override it.
        return Some(normalize(origin).unwrap_or_else(|| "null".to_owned()));
    }
    parts.headers.get(ORIGIN_HEADER).and_then(normalize)
}

/// The public route (any origin may read it; the handler refuses origins
/// the site does not list).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sites/{key}/widget", get(widget_config))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET])
                .max_age(std::time::Duration::from_secs(600)),
        )
}

/// The admins' routes, merged under `/api/v1/inbox`.
pub fn inbox_router() -> Router<AppState> {
    Router::new()
        .route("/sites", get(list).post(create))
        .route("/sites/{id}", put(update))
        .route("/sites/{id}/secret", post(rotate_secret))
}

#[derive(Deserialize, Debug, Default)]
pub struct WidgetParams {
    /// The browser's languages, in order (`de-DE,de,en`).
    pub lang: Option<String>,
}

/// `GET /api/v1/sites/{key}/widget?lang=…`: what the loader needs to draw
/// the site's launcher and what the panel needs to speak its language.
/// Public; caches may keep it a minute (per origin: `Vary: Origin`).
async fn widget_config(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ApiQuery(params): ApiQuery<WidgetParams>,
    request: axum::extract::Request,
) -> Result<impl IntoResponse, ApiError> {
    let site = state.store.site_by_key(&key).ok_or_else(site_not_found)?;
    let (parts, _) = request.into_parts();
    check_origin(&site, embedding_origin(&parts, &state).as_deref())?;
    let config = widget_config_of(&site, params.lang.as_deref().unwrap_or(""));
    Ok((
        [
            (header::CACHE_CONTROL, "public, max-age=60"),
            (header::VARY, "Origin"),
        ],
        ApiJson(config),
    ))
}

/// The site's widget configuration in the first supported language of
/// `wanted`.
pub fn widget_config_of(site: &Site, wanted: &str) -> WidgetConfig {
    let settings = &site.settings;
    let language = messenger_wire::resolve_language(wanted, &settings.default_language);
    WidgetConfig {
        site: site.key.clone(),
        name: settings.name.clone(),
        color: settings.color.clone(),
        text_color: messenger_wire::contrast_text_color(&settings.color).to_owned(),
        position: settings.position,
        offset_x: settings.offset_x,
        offset_y: settings.offset_y,
        z_index: settings.z_index,
        greeting: site.hours.settings.greeting.clone(),
        language: language.to_owned(),
        dir: messenger_wire::language_dir(language).to_owned(),
        texts: crate::i18n::texts(language, &settings.texts),
        identity_required: settings.identity_required,
    }
}

/// Trims and lowercases what an admin typed, then checks it (400
/// `invalid_site` naming the field).
fn checked(mut settings: SiteSettings) -> Result<SiteSettings, ApiError> {
    settings.name = settings.name.trim().to_owned();
    settings.color = settings.color.trim().to_ascii_lowercase();
    settings.default_language = settings.default_language.trim().to_ascii_lowercase();
    let mut origins: Vec<String> = Vec::with_capacity(settings.allowed_origins.len());
    for origin in &settings.allowed_origins {
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if !origin.is_empty() && !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    settings.allowed_origins = origins;
    settings.greeting = settings
        .greeting
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty());
    match messenger_wire::site_settings_problem(&settings) {
        None => Ok(settings),
        Some(problem) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidSite,
            problem,
        )),
    }
}

/// `GET /api/v1/inbox/sites` (any agent): every site, oldest first.
async fn list(_: InboxAgent, State(state): State<AppState>) -> ApiJson<SiteList> {
    ApiJson(SiteList {
        sites: state.store.site_list().iter().map(|s| s.admin()).collect(),
    })
}

/// `POST /api/v1/inbox/sites` (admins): a new site, with its identity
/// secret shown this once.
#[tracing::instrument(skip_all, fields(admin = %admin.0.agent.id))]
async fn create(
    admin: InboxAdmin,
    State(state): State<AppState>,
    ApiJson(settings): ApiJson<SiteSettings>,
) -> Result<(StatusCode, ApiJson<CreatedSite>), ApiError> {
    let settings = checked(settings)?;
    let (site, secret) = state.store.create_site(&settings, state.now_ms()).await?;
    tracing::info!(site = %site.id, "site created");
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedSite {
            site: site.admin(),
            secret,
        }),
    ))
}

/// `PUT /api/v1/inbox/sites/{id}` (admins): replaces the site's settings.
#[tracing::instrument(skip_all, fields(admin = %admin.0.agent.id))]
async fn update(
    admin: InboxAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(settings): ApiJson<SiteSettings>,
) -> Result<ApiJson<SiteAdmin>, ApiError> {
    let settings = checked(settings)?;
    let site = state
        .store
        .update_site(&id, &settings, state.now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("no such site"))?;
    tracing::info!(site = %site.id, "site changed");
    Ok(ApiJson(site.admin()))
}

/// `POST /api/v1/inbox/sites/{id}/secret` (admins): a new identity secret,
/// shown this once; identities signed with the old one stop passing.
#[tracing::instrument(skip_all, fields(admin = %admin.0.agent.id))]
async fn rotate_secret(
    admin: InboxAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<ApiJson<SiteSecret>, ApiError> {
    let secret = state
        .store
        .rotate_site_secret(&id, state.now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("no such site"))?;
    tracing::info!(site = %id, "identity secret rotated");
    Ok(ApiJson(SiteSecret { secret }))
}
