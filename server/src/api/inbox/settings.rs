//! The site's settings under `/api/v1/inbox/settings`, for admins: business
//! hours (time zone, per weekday ranges, holidays), the expected reply time,
//! the greeting and the away message. Same session, CSRF and origin rules
//! as every inbox route ([`InboxAdmin`]).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use messenger_wire::{ErrorCode, SiteHours};

use super::InboxAdmin;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::ApiError;
use crate::hours::Hours;

pub fn router() -> Router<AppState> {
    Router::new().route("/settings/hours", get(read).put(write))
}

/// `GET /api/v1/inbox/settings/hours` (admins): the settings in force.
async fn read(_: InboxAdmin, State(state): State<AppState>) -> ApiJson<SiteHours> {
    ApiJson(state.store.site_settings().settings.clone())
}

/// `PUT /api/v1/inbox/settings/hours` (admins): replaces the settings,
/// after checking them (422 `invalid_input` says what is wrong).
#[tracing::instrument(skip_all, fields(admin = %admin.0.agent.id))]
async fn write(
    admin: InboxAdmin,
    State(state): State<AppState>,
    ApiJson(mut settings): ApiJson<SiteHours>,
) -> Result<ApiJson<SiteHours>, ApiError> {
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
        .set_site_settings(settings, hours, state.now_ms())
        .await?;
    tracing::info!("business hours changed");
    Ok(ApiJson(current.settings.clone()))
}
