//! Each site's settings (business hours, expected reply time, greeting,
//! away message), one row per site in `site_settings`. The store keeps them
//! in memory with the site ([`super::sites`]), validated, for the appender
//! (the away reply of the conversation's site) and the widget's status
//! (the request's site); writing them replaces that copy.

use std::sync::Arc;

use messenger_wire::{SiteHours, WeekHours};
use sqlx::{AnyPool, Row};

use super::Store;
use crate::hours::Hours;

/// The site of the one-site era (id and public key).
pub const DEFAULT_SITE: &str = "default";

/// Settings as stored, and their validated hours.
#[derive(Debug, Clone, Default)]
pub struct SiteSettings {
    pub settings: SiteHours,
    pub hours: Hours,
}

/// Reads the settings; a row that no longer validates (a time zone that a
/// later release dropped) counts as no hours, with a warning.
pub(super) async fn load(pool: &AnyPool, site_id: &str) -> Result<SiteSettings, sqlx::Error> {
    let row = sqlx::query(
        "SELECT time_zone, hours, holidays, expected_reply_minutes, greeting, away_message
         FROM site_settings WHERE site_id = $1",
    )
    .bind(site_id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(SiteSettings::default());
    };
    let settings = SiteHours {
        time_zone: row.get("time_zone"),
        hours: serde_json::from_str::<WeekHours>(row.get("hours")).unwrap_or_default(),
        holidays: serde_json::from_str(row.get("holidays")).unwrap_or_default(),
        expected_reply_minutes: row
            .get::<Option<i64>, _>("expected_reply_minutes")
            .and_then(|m| u32::try_from(m).ok()),
        greeting: row.get("greeting"),
        away_message: row.get("away_message"),
    };
    let hours = Hours::parse(&settings).unwrap_or_else(|error| {
        tracing::warn!(%error, "the stored business hours are invalid; always open");
        Hours::default()
    });
    Ok(SiteSettings { settings, hours })
}

impl Store {
    /// The default site's settings in force.
    pub fn site_settings(&self) -> Arc<SiteSettings> {
        self.site_settings_of(DEFAULT_SITE)
    }

    /// A site's settings in force (the default site's for an unknown id).
    pub fn site_settings_of(&self, site_id: &str) -> Arc<SiteSettings> {
        self.sites().hours_of(site_id)
    }

    /// Stores the default site's validated settings and puts them in force.
    pub async fn set_site_settings(
        &self,
        settings: SiteHours,
        hours: Hours,
        now: i64,
    ) -> Result<Arc<SiteSettings>, sqlx::Error> {
        self.set_site_settings_of(DEFAULT_SITE, settings, hours, now)
            .await
    }

    /// Stores a site's validated settings and puts them in force (with the
    /// greeting, which the site's settings show too).
    pub async fn set_site_settings_of(
        &self,
        site_id: &str,
        settings: SiteHours,
        hours: Hours,
        now: i64,
    ) -> Result<Arc<SiteSettings>, sqlx::Error> {
        let _writer = self.site_writes.lock().await;
        sqlx::query(
            "INSERT INTO site_settings (site_id, time_zone, hours, holidays,
                 expected_reply_minutes, greeting, away_message, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (site_id) DO UPDATE SET time_zone = $2, hours = $3, holidays = $4,
                 expected_reply_minutes = $5, greeting = $6, away_message = $7, updated_at = $8",
        )
        .bind(site_id)
        .bind(&settings.time_zone)
        .bind(to_json(&settings.hours))
        .bind(to_json(&settings.holidays))
        .bind(settings.expected_reply_minutes.map(i64::from))
        .bind(&settings.greeting)
        .bind(&settings.away_message)
        .bind(now)
        .execute(&self.write)
        .await?;
        let current = Arc::new(SiteSettings { settings, hours });
        if self.refresh_site(site_id).await?.is_none() {
            tracing::warn!(
                site = site_id,
                "hours stored for a site that does not exist"
            );
        }
        Ok(current)
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
