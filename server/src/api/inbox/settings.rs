//! Each site's settings under `/api/v1/inbox/settings`, for admins: business
//! hours (time zone, per weekday ranges, holidays), the expected reply time,
//! the greeting and the away message; `?site=ID` says which site (the
//! default site without it; 404 `site_not_found` for an unknown id). Same
//! session, CSRF and origin rules as every inbox route ([`InboxAdmin`]).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use messenger_wire::{ErrorCode, SiteHours};

use serde::Deserialize;

use super::InboxAdmin;
use crate::AppState;
use crate::api::{ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::hours::Hours;

pub fn router() -> Router<AppState> {
    Router::new().route("/settings/hours", get(read).put(write))
}

/// Which site's settings (`?site=ID`).
#[derive(Deserialize, Debug, Default)]
struct SiteParam {
    site: Option<String>,
}

impl SiteParam {
    /// The id of an existing site (the default site when not given).
    fn site_id(&self, state: &AppState) -> Result<String, ApiError> {
        let id = self.site.as_deref().unwrap_or(crate::store::DEFAULT_SITE);
        state
            .store
            .site(id)
            .map(|site| site.id.clone())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    ErrorCode::SiteNotFound,
                    "no such site",
                )
            })
    }
}

/// `GET /api/v1/inbox/settings/hours?site=ID` (admins): the settings in force.
async fn read(
    _: InboxAdmin,
    State(state): State<AppState>,
    ApiQuery(param): ApiQuery<SiteParam>,
) -> Result<ApiJson<SiteHours>, ApiError> {
    let id = param.site_id(&state)?;
    Ok(ApiJson(state.store.site_settings_of(&id).settings.clone()))
}

/// `PUT /api/v1/inbox/settings/hours?site=ID` (admins): replaces the
/// settings, after checking them (422 `invalid_input` says what is wrong).
#[tracing::instrument(skip_all, fields(admin = %admin.0.agent.id))]
async fn write(
    admin: InboxAdmin,
    State(state): State<AppState>,
    ApiQuery(param): ApiQuery<SiteParam>,
    ApiJson(mut settings): ApiJson<SiteHours>,
) -> Result<ApiJson<SiteHours>, ApiError> {
    let site_id = param.site_id(&state)?;
    settings.time_zone = settings.time_zone.trim().to_owned();
    let hours = Hours::parse(&settings).map_err(|message| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInput,
            message,
        )
    })?;
    let current = state
        .store
        .set_site_settings_of(&site_id, settings, hours, state.now_ms())
        .await?;
    tracing::info!(site = %site_id, "business hours changed");
    Ok(ApiJson(current.settings.clone()))
}
