//! The messenger's server: a library with a thin `main.rs`, so tests run the
//! real thing on port 0.
//!
//! Layout:
//! - [`config`]: flags and environment variables.
//! - [`api`]: the JSON API under `/api/v1`, one module per audience
//!   ([`api::customer`] for the widget, [`api::agent`] for integrations
//!   with an agent API key, [`api::inbox`] for signed-in agents), and
//!   [`api::sites`] (the site of a customer request, its origin rule, the
//!   widget's public configuration, the admins' site routes).
//! - [`i18n`]: the widget's texts in every supported language.
//! - [`accounts`]: agent accounts, passwords, login limits, revoked sessions.
//! - [`store`]: every SQL statement, over one SQLite file.
//! - [`assets`]: the widget's loader and frame, with their caching and CSP.
//! - [`demo`]: an optional demo host page on a second address.
//! - [`error`]: the one error type, rendered as a JSON body.
//! - [`ids`]: tokens, ids and hashing.
//! - [`ops`]: the readiness probe and the Prometheus metrics.
//! - [`backup`]: the online SQLite backup (`messenger-server backup`).
//! - [`copy`]: copying a SQLite database into PostgreSQL (`messenger-server copy-to-postgres`).
//! - [`retention`]: deleting conversations closed long ago (`--retention-days`).

pub mod accounts;
pub mod api;
pub mod assets;
pub mod backup;
pub mod clock;
pub mod config;
pub mod copy;
pub mod demo;
pub mod error;
pub mod feed;
pub mod hours;
pub mod i18n;
pub mod identity;
pub mod ids;
pub mod mail;
pub mod ops;
pub mod presence;
pub mod retention;
pub mod store;
pub mod unsubscribe;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use config::Config;
use feed::{Feed, FeedEvent};
use messenger_wire::Author;
use store::Store;

/// Largest request body accepted: a maximal message is 5,000 characters of
/// up to 4 bytes each, escaped; 64 KiB leaves room and stops abuse.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// SHA-256 of the configured agent API key (the bootstrap), if any; the
    /// keys created in the inbox are in the database.
    pub agent_key_hash: Option<Arc<[u8; 32]>>,
    pub assets: Arc<assets::Assets>,
    /// Turns true when the server begins to shut down; open streams end.
    shutdown: Arc<watch::Sender<bool>>,
    /// The longest a shutdown may take (`--shutdown-timeout-secs`).
    shutdown_timeout: Duration,
    /// Live events for the streams.
    pub feed: Feed,
    /// When each (conversation, author) last announced typing, to drop
    /// notices that come too close together.
    typing: Arc<Mutex<HashMap<(String, Author), i64>>>,
    /// Revoked inbox sessions, announced to their open streams.
    pub revocations: accounts::Revocations,
    /// Failed inbox logins, per email and per client address.
    pub login_limits: Arc<accounts::LoginLimits>,
    /// The origin of `--public-url` (`https://host[:port]`), if given.
    pub public_origin: Option<Arc<str>>,
    /// Whether browsers reach us over https (`--public-url` says so): the
    /// session cookie is then `Secure`.
    pub https: bool,
    /// Now, by the system clock or a test's.
    pub clock: clock::Clock,
    /// Email settings, and the wake-up bell of the mail worker.
    pub mail: Arc<mail::Mailer>,
    /// Who is here now: open customer streams per customer, open inbox
    /// streams per agent (emails go only to those who are away).
    pub presence: presence::Presence,
    /// Deletes conversations closed long ago; `None` unless
    /// `--retention-days` is set.
    pub retention: Option<Arc<retention::Retention>>,
}

impl AppState {
    /// Opens the database (creating and migrating it) and prepares the state.
    pub async fn new(config: &Config) -> Result<Self, sqlx::Error> {
        Self::with_feed(config, Feed::new()).await
    }

    /// [`AppState::new`] with the given feed of live events.
    pub async fn with_feed(config: &Config, feed: Feed) -> Result<Self, sqlx::Error> {
        let store = Store::open_with(
            &config.database,
            feed.clone(),
            config.write_batch as usize,
            config.database_max_connections,
        )
        .await?;
        // `--allowed-origins` seeds the default site's list while it is
        // empty; afterwards admins set each site's list in the inbox.
        let seed: Vec<String> = config
            .allowed_origins
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect();
        store
            .seed_allowed_origins(store::DEFAULT_SITE, &seed, config.clock.now_ms())
            .await?;
        let public_origin = config.public_url.as_deref().and_then(origin_of);
        // Computed now rather than at the first login with an unknown email,
        // which would otherwise take twice as long as any other.
        tokio::task::spawn_blocking(accounts::dummy_hash);
        let mailer = mail::Mailer::new(config);
        store.set_mail_delays(store::MailDelays {
            followup_ms: mailer.followup_delay_ms,
            agent_notify_ms: mailer.agent_notify_delay_ms,
        });
        let retention = match config.retention_days {
            // On SQLite through the store's one writer (a second writer
            // would make the store's transactions fail with SQLITE_BUSY);
            // on PostgreSQL over a connection of its own.
            Some(days) if store.backend() == store::Backend::Sqlite => Some(Arc::new(
                retention::Retention::with_pool(store.writer().clone(), days, config.clock.clone()),
            )),
            Some(days) => Some(Arc::new(
                retention::Retention::open(&config.database, days, config.clock.clone()).await?,
            )),
            None => None,
        };
        let presence = presence::Presence::default();
        if store.backend() == store::Backend::Postgres {
            presence.share(store.clone(), config.clock.clone());
        }
        Ok(AppState {
            retention,
            https: public_origin
                .as_deref()
                .is_some_and(|o| o.starts_with("https://")),
            public_origin: public_origin.map(Arc::from),
            revocations: accounts::Revocations::with_feed(feed.clone()),
            login_limits: Arc::default(),
            store,
            agent_key_hash: config
                .agent_api_key
                .as_ref()
                .map(|k| Arc::new(ids::hash_secret(k.expose()))),
            assets: Arc::new(assets::Assets {
                dir: config.assets.clone(),
            }),
            shutdown: Arc::new(watch::Sender::new(false)),
            shutdown_timeout: Duration::from_secs(config.ops.shutdown_timeout_secs),
            feed,
            typing: Arc::default(),
            clock: config.clock.clone(),
            mail: Arc::new(mailer),
            presence,
        })
    }

    /// Now, in Unix ms, by the server's clock (a test's, in tests).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Announces that `author` is typing in the conversation, unless they
    /// already did less than [`messenger_wire::TYPING_INTERVAL_MS`] ago.
    pub fn typing(&self, conversation_id: &str, author: Author) {
        let now = self.now_ms();
        {
            let mut last = self.typing.lock().unwrap_or_else(|e| e.into_inner());
            let key = (conversation_id.to_owned(), author);
            if last
                .get(&key)
                .is_some_and(|at| now - at < messenger_wire::TYPING_INTERVAL_MS)
            {
                return;
            }
            // Forget stale entries now and then so the map stays small.
            if last.len() > 10_000 {
                last.retain(|_, at| now - *at < messenger_wire::TYPING_INTERVAL_MS);
            }
            last.insert(key, now);
        }
        self.feed
            .publish(FeedEvent::Typing(messenger_wire::TypingEvent {
                conversation_id: conversation_id.to_owned(),
                author,
            }));
    }

    /// Becomes true when the server begins to shut down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    // API answers hold private conversations: no cache may keep them (but
    // for the public answers: the widget's status and configuration). The
    // widget calls the API from its own frame, on our origin, so there is
    // no CORS but on the one route host pages read (the configuration).
    let api = api::router().layer(axum::middleware::map_response(no_store_unless_public));
    Router::new()
        .nest(messenger_wire::API_PREFIX, api)
        .merge(assets::router())
        .merge(unsubscribe::router())
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/readyz", axum::routing::get(ops::readyz))
        // Route layers: they run after routing, so they see the route matched.
        .layer(axum::middleware::from_fn(ops::track_requests))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The span of a request: its method and route (the pattern matched, not
/// the path, which holds ids), never the query string or headers, which can
/// hold tokens.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    tracing::info_span!("request", method = %request.method(), route)
}

/// `Cache-Control: no-store` on every API answer but those that declare
/// themselves `public`.
async fn no_store_unless_public(
    mut response: axum::response::Response,
) -> axum::response::Response {
    let public = response
        .headers()
        .get(header::CACHE_CONTROL)
        .is_some_and(|v| v.as_bytes().starts_with(b"public"));
    if !public {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then stops
/// accepting, ends the open streams (their clients reconnect), lets requests
/// in flight finish (so every message acknowledged is committed) and closes
/// the database. Returns at the latest `--shutdown-timeout-secs` after
/// `shutdown` completed, even if a client still holds a connection.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = state.store.clone();
    let stop_streams = state.shutdown.clone();
    let timeout = state.shutdown_timeout;
    if let Ok(addr) = listener.local_addr() {
        state.mail.set_default_base_url(format!("http://{addr}"));
    }
    mail::spawn_worker(state.clone());
    let (began, began_at) = tokio::sync::oneshot::channel();
    if let Some(retention) = state.retention.clone() {
        retention::spawn(retention, state.shutdown.subscribe());
    }
    let shutdown = async move {
        shutdown.await;
        let _ = began.send(tokio::time::Instant::now() + timeout);
        stop_streams.send_replace(true);
    };
    // The peer address keys the login limits.
    let app = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .into_future();
    let mut server = std::pin::pin!(server);
    let mut deadline = None;
    let result = tokio::select! {
        result = &mut server => result,
        Ok(at) = began_at => {
            deadline = Some(at);
            tokio::select! {
                result = &mut server => result,
                () = tokio::time::sleep_until(at) => {
                    tracing::warn!(
                        timeout_secs = timeout.as_secs(),
                        "shutdown timeout: closing the connections still open"
                    );
                    Ok(())
                }
            }
        }
    };
    match deadline {
        None => store.close().await,
        Some(at) => {
            if tokio::time::timeout_at(at, store.close()).await.is_err() {
                // Every acknowledged message is committed already; SQLite
                // recovers the rest from its journal at the next start.
                tracing::warn!("shutdown timeout: the database was not closed cleanly");
            }
        }
    }
    result
}

/// The origin (`scheme://host[:port]`, lowercased) of a URL such as
/// `--public-url`, or `None` if it is not http(s).
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

/// Milliseconds since the Unix epoch by the system clock, the timestamp
/// unit of the wire. Request handlers use [`AppState::now_ms`] instead,
/// which tests can move.
pub fn now_ms() -> i64 {
    clock::system_now_ms()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_public_origin_is_the_scheme_and_host_of_the_public_url() {
        assert_eq!(
            super::origin_of("https://Chat.Example.com:8443/base/").as_deref(),
            Some("https://chat.example.com:8443")
        );
        assert_eq!(
            super::origin_of("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(super::origin_of("chat.example.com"), None);
        assert_eq!(super::origin_of("ftp://chat.example.com"), None);
    }
}
