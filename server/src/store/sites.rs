//! Sites: the `sites` table, with each site's hours in `site_settings`.
//! The store keeps every site in memory (they are few, read on every
//! customer request and written rarely by an admin), keyed by id and by
//! public key. A write goes to the database first, then the site is read
//! back and replaces its copy, one writer at a time.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use messenger_wire::{LauncherPosition, SiteAdmin};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::Store;
use super::settings::{self, SiteSettings};

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds the admin's settings, in the order of the `sites` columns from
/// `name` to `identity_required` (the same for insert and update).
fn bind_settings<'q>(
    query: SqliteQuery<'q>,
    settings: &'q messenger_wire::SiteSettings,
) -> SqliteQuery<'q> {
    query
        .bind(settings.name.trim())
        .bind(to_json(&settings.allowed_origins))
        .bind(settings.color.to_ascii_lowercase())
        .bind(settings.position.as_str())
        .bind(i64::from(settings.offset_x))
        .bind(i64::from(settings.offset_y))
        .bind(i64::from(settings.z_index))
        .bind(&settings.default_language)
        .bind(to_json(&settings.texts))
        .bind(i64::from(settings.identity_required))
}

/// A site as the server uses it.
#[derive(Clone)]
pub struct Site {
    pub id: String,
    pub key: String,
    /// What the admin set; `greeting` is the one in the site's hours row.
    pub settings: messenger_wire::SiteSettings,
    /// The HMAC secret identities are signed with, if set up.
    pub secret: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Business hours, expected reply time, greeting and away message.
    pub hours: Arc<SiteSettings>,
}

/// Everything but the secret, which no log line may carry.
impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("id", &self.id)
            .field("key", &self.key)
            .field("settings", &self.settings)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl Site {
    /// The site as admins see it (never its secret).
    pub fn admin(&self) -> SiteAdmin {
        SiteAdmin {
            id: self.id.clone(),
            key: self.key.clone(),
            settings: self.settings.clone(),
            has_secret: self.secret.is_some(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Whether a request embedded in `origin` (`None`: the request names
    /// none) may use this site: any when the list is empty, else an
    /// exact match.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        let list = &self.settings.allowed_origins;
        list.is_empty() || origin.is_some_and(|origin| list.iter().any(|o| o == origin))
    }

    /// The CSP `frame-ancestors` source list: the allowed origins, or `*`.
    pub fn frame_ancestors(&self) -> String {
        if self.settings.allowed_origins.is_empty() {
            "*".to_owned()
        } else {
            self.settings.allowed_origins.join(" ")
        }
    }
}

/// Every site, by id and by key.
#[derive(Debug, Default)]
pub struct Sites {
    by_id: HashMap<String, Arc<Site>>,
    id_by_key: HashMap<String, String>,
}

impl Sites {
    pub fn by_id(&self, id: &str) -> Option<&Arc<Site>> {
        self.by_id.get(id)
    }

    pub fn by_key(&self, key: &str) -> Option<&Arc<Site>> {
        self.by_id.get(self.id_by_key.get(key)?)
    }

    /// The hours of a site (the default site's, or none, for an unknown id).
    pub fn hours_of(&self, id: &str) -> Arc<SiteSettings> {
        self.by_id(id)
            .or_else(|| self.by_id(super::DEFAULT_SITE))
            .map(|site| site.hours.clone())
            .unwrap_or_default()
    }

    fn put(&mut self, site: Site) {
        self.id_by_key.insert(site.key.clone(), site.id.clone());
        self.by_id.insert(site.id.clone(), Arc::new(site));
    }
}

/// The sites in force, shared by the store's clones and the appender.
pub(super) type SiteCache = Arc<RwLock<Arc<Sites>>>;

const SITE_COLUMNS: &str = "id, key, name, allowed_origins, color, position, offset_x, offset_y,
    z_index, default_language, texts, identity_required, secret, created_at, updated_at";

/// Reads every site with its hours.
pub(super) async fn load_all(pool: &AnyPool) -> Result<Sites, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {SITE_COLUMNS} FROM sites"))
        .fetch_all(pool)
        .await?;
    let mut sites = Sites::default();
    for row in rows {
        let hours = settings::load(pool, row.get("id")).await?;
        sites.put(site_from_row(&row, hours));
    }
    Ok(sites)
}

async fn load_one(pool: &AnyPool, id: &str) -> Result<Option<Site>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {SITE_COLUMNS} FROM sites WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let hours = settings::load(pool, id).await?;
    Ok(Some(site_from_row(&row, hours)))
}

fn site_from_row(row: &AnyRow, hours: SiteSettings) -> Site {
    let settings = messenger_wire::SiteSettings {
        name: row.get("name"),
        allowed_origins: serde_json::from_str(row.get("allowed_origins")).unwrap_or_default(),
        color: row.get("color"),
        position: LauncherPosition::parse(row.get("position")).unwrap_or_default(),
        offset_x: u32::try_from(row.get::<i64, _>("offset_x")).unwrap_or(20),
        offset_y: u32::try_from(row.get::<i64, _>("offset_y")).unwrap_or(20),
        z_index: i32::try_from(row.get::<i64, _>("z_index")).unwrap_or(i32::MAX),
        greeting: hours.settings.greeting.clone(),
        default_language: row.get("default_language"),
        texts: serde_json::from_str::<BTreeMap<String, BTreeMap<String, String>>>(row.get("texts"))
            .unwrap_or_default(),
        identity_required: row.get::<i64, _>("identity_required") != 0,
    };
    Site {
        id: row.get("id"),
        key: row.get("key"),
        settings,
        secret: row.get("secret"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        hours: Arc::new(hours),
    }
}

/// A new site's id: `s_` and 32 hex digits.
fn site_id() -> String {
    format!("s_{}", hex::<16>())
}

/// A new site's public key: `mws_` and 24 hex digits.
fn site_key() -> String {
    format!("{}{}", messenger_wire::SITE_KEY_PREFIX, hex::<12>())
}

/// A new identity secret: `mwss_` and 64 hex digits (256 bits).
fn site_secret() -> String {
    format!("mwss_{}", hex::<32>())
}

fn hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl Store {
    /// Every site, as they stand now.
    pub fn sites(&self) -> Arc<Sites> {
        self.sites.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every site, oldest first.
    pub fn site_list(&self) -> Vec<Arc<Site>> {
        let sites = self.sites();
        let mut list: Vec<_> = sites.by_id.values().cloned().collect();
        list.sort_by(|a, b| {
            (a.id != super::DEFAULT_SITE, a.created_at, &a.id).cmp(&(
                b.id != super::DEFAULT_SITE,
                b.created_at,
                &b.id,
            ))
        });
        list
    }

    pub fn site(&self, id: &str) -> Option<Arc<Site>> {
        self.sites().by_id(id).cloned()
    }

    pub fn site_by_key(&self, key: &str) -> Option<Arc<Site>> {
        self.sites().by_key(key).cloned()
    }

    /// The HMAC secret identities of the site are signed with, if any.
    pub async fn site_secret(&self, site_id: &str) -> Result<Option<String>, sqlx::Error> {
        Ok(self.site(site_id).and_then(|site| site.secret.clone()))
    }

    /// The site a customer belongs to.
    pub async fn customer_site(&self, customer_id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT site_id FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_optional(&self.read)
            .await
    }

    /// Reads a site back after a write and puts it in force, here and (on
    /// PostgreSQL) on every other instance.
    pub(super) async fn refresh_site(&self, id: &str) -> Result<Option<Arc<Site>>, sqlx::Error> {
        let site = self.load_site(&self.write, id).await?;
        if self.feed.remote().is_some() {
            self.feed
                .publish(crate::feed::FeedEvent::SiteChanged(id.to_owned()));
        }
        Ok(site)
    }

    /// Every site read afresh (another instance may have changed any while
    /// this one could not hear of it).
    pub(super) async fn reload_sites(&self) -> Result<(), sqlx::Error> {
        // After this instance's own writers (which hold the lock from their
        // write to their refresh): what is read is never older than what
        // they put in force.
        let _writer = self.site_writes.lock().await;
        let sites = load_all(&self.read).await?;
        *self.sites.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(sites);
        Ok(())
    }

    /// A site changed on another instance: read afresh, after this
    /// instance's own writers (see [`Store::reload_sites`]).
    pub(super) async fn site_changed(&self, id: &str) -> Result<(), sqlx::Error> {
        let _writer = self.site_writes.lock().await;
        self.load_site(&self.read, id).await?;
        Ok(())
    }

    /// Reads one site through `pool` and puts it in force here (the
    /// caller holds `site_writes`).
    pub(super) async fn load_site(
        &self,
        pool: &AnyPool,
        id: &str,
    ) -> Result<Option<Arc<Site>>, sqlx::Error> {
        let Some(site) = load_one(pool, id).await? else {
            return Ok(None);
        };
        let mut cache = self.sites.write().unwrap_or_else(|e| e.into_inner());
        let mut sites = Sites {
            by_id: cache.by_id.clone(),
            id_by_key: cache.id_by_key.clone(),
        };
        sites.put(site);
        *cache = Arc::new(sites);
        Ok(cache.by_id(id).cloned())
    }

    /// Creates a site (settings already validated) with its hours row and
    /// an identity secret; returns it and the secret.
    pub async fn create_site(
        &self,
        settings: &messenger_wire::SiteSettings,
        now: i64,
    ) -> Result<(Arc<Site>, String), sqlx::Error> {
        let _writer = self.site_writes.lock().await;
        let id = site_id();
        let secret = site_secret();
        let mut tx = self.write.begin().await?;
        let insert = format!(
            "INSERT INTO sites ({SITE_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)"
        );
        let query = sqlx::query(&insert).bind(&id).bind(site_key());
        bind_settings(query, settings)
            .bind(&secret)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO site_settings (site_id, greeting, updated_at) VALUES ($1, $2, $3)",
        )
        .bind(&id)
        .bind(&settings.greeting)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let site = self
            .refresh_site(&id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        Ok((site, secret))
    }

    /// Replaces a site's settings (already validated); `None` if there is
    /// no such site.
    pub async fn update_site(
        &self,
        id: &str,
        settings: &messenger_wire::SiteSettings,
        now: i64,
    ) -> Result<Option<Arc<Site>>, sqlx::Error> {
        let _writer = self.site_writes.lock().await;
        let mut tx = self.write.begin().await?;
        let query = sqlx::query(
            "UPDATE sites SET name = $2, allowed_origins = $3, color = $4, position = $5,
                 offset_x = $6, offset_y = $7, z_index = $8, default_language = $9, texts = $10,
                 identity_required = $11, updated_at = $12
             WHERE id = $1",
        )
        .bind(id);
        let updated = bind_settings(query, settings)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO site_settings (site_id, greeting, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (site_id) DO UPDATE SET greeting = $2, updated_at = $3",
        )
        .bind(id)
        .bind(&settings.greeting)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.refresh_site(id).await
    }

    /// A new identity secret for the site (the old one stops working);
    /// `None` if there is no such site.
    pub async fn rotate_site_secret(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        let _writer = self.site_writes.lock().await;
        let secret = site_secret();
        let updated = sqlx::query("UPDATE sites SET secret = $1, updated_at = $2 WHERE id = $3")
            .bind(&secret)
            .bind(now)
            .bind(id)
            .execute(&self.write)
            .await?
            .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        self.refresh_site(id).await?;
        Ok(Some(secret))
    }

    /// At start: the site's allowed origins become `origins` if it has
    /// none yet (`--allowed-origins` seeds the default site).
    pub async fn seed_allowed_origins(
        &self,
        id: &str,
        origins: &[String],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        if origins.is_empty() {
            return Ok(());
        }
        let _writer = self.site_writes.lock().await;
        let updated = sqlx::query(
            "UPDATE sites SET allowed_origins = $1, updated_at = $2
             WHERE id = $3 AND allowed_origins = '[]'",
        )
        .bind(to_json(&origins))
        .bind(now)
        .bind(id)
        .execute(&self.write)
        .await?
        .rows_affected();
        if updated > 0 {
            tracing::info!(
                site = id,
                ?origins,
                "allowed origins seeded from --allowed-origins"
            );
            self.refresh_site(id).await?;
        }
        Ok(())
    }
}
