//! What operators watch: the readiness probe (`GET /readyz`) and the
//! Prometheus metrics, served at `/metrics` on the private listener of
//! `--metrics-addr` only (never on the public address).
//!
//! Metrics go through the `metrics` facade: without `--metrics-addr` no
//! recorder is installed and every update below costs next to nothing.
//! Requests are counted by route, the *pattern* axum matched
//! (`/api/v1/agent/conversations/{id}`), never the raw path, which holds ids.
//! Gauges that mirror state elsewhere (queues, pools) are sampled when
//! `/metrics` is scraped.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use messenger_wire::Author;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use tokio::net::TcpListener;

use crate::AppState;
use crate::store::Store;

pub const HTTP_REQUESTS: &str = "messenger_http_requests_total";
pub const HTTP_DURATION: &str = "messenger_http_request_duration_seconds";
pub const OPEN_STREAMS: &str = "messenger_open_streams";
pub const MESSAGES: &str = "messenger_messages_total";
pub const APPEND_QUEUE: &str = "messenger_append_queue_depth";
pub const MAIL_QUEUE: &str = "messenger_mail_queue_depth";
pub const DB_POOL: &str = "messenger_db_pool_connections";

/// Upper bounds (seconds) of the request-duration histogram's buckets.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// `GET /readyz`: 200 `{"status":"ready"}` while the database answers, has
/// every migration applied and the server is not shutting down; else 503
/// `{"status":"not_ready","reason":"…"}`, so a load balancer stops sending.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let reason = if *state.shutdown_signal().borrow() {
        Some("shutting down".to_owned())
    } else {
        let ready = state.store.check_ready().await;
        if let Err(reason) = &ready {
            tracing::warn!(%reason, "not ready");
        }
        ready.err()
    };
    match reason {
        None => (StatusCode::OK, axum::Json(json!({ "status": "ready" }))).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "not_ready", "reason": reason })),
        )
            .into_response(),
    }
}

/// Counts and times every request by method, route and status. Added with
/// `Router::layer`, so it runs after routing and sees the [`MatchedPath`].
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Only the methods the API knows: a label made of whatever a client
    // sends would grow the metrics without bound.
    let method = match *request.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
    .to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route).record(elapsed);
    response
}

/// A message was stored (not a replay of an earlier send).
pub fn message_stored(author: Author) {
    metrics::counter!(MESSAGES, "author" => author.as_str()).increment(1);
}

/// Which kind of live stream is open.
#[derive(Debug, Clone, Copy)]
pub enum StreamKind {
    /// A customer's stream of their conversation.
    Customer,
    /// The stream of every conversation (inbox and agent API).
    Agent,
}

impl StreamKind {
    fn label(self) -> &'static str {
        match self {
            StreamKind::Customer => "customer",
            StreamKind::Agent => "agent",
        }
    }
}

/// Counts one open stream in `messenger_open_streams` while it lives: the
/// stream holds it, so however the stream ends (client gone, shutdown,
/// revocation), dropping it takes the count back down.
#[derive(Debug)]
pub struct OpenStream(StreamKind);

impl OpenStream {
    pub fn new(kind: StreamKind) -> Self {
        metrics::gauge!(OPEN_STREAMS, "kind" => kind.label()).increment(1.0);
        OpenStream(kind)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        metrics::gauge!(OPEN_STREAMS, "kind" => self.0.label()).decrement(1.0);
    }
}

/// Installs the Prometheus recorder (once per process: `main` calls this
/// when `--metrics-addr` is set) and returns the handle that renders it.
pub fn install_recorder() -> Result<PrometheusHandle, Box<dyn std::error::Error>> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), &DURATION_BUCKETS)?
        .install_recorder()?;
    describe();
    // Both kinds show (at 0) before the first stream opens.
    for kind in [StreamKind::Customer, StreamKind::Agent] {
        metrics::gauge!(OPEN_STREAMS, "kind" => kind.label()).increment(0.0);
    }
    // Histograms keep their samples until upkeep folds them in; without
    // scrapes they would grow without bound.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request (for streams: to start the response)"
    );
    describe_gauge!(OPEN_STREAMS, "Live event streams open, by kind");
    describe_counter!(MESSAGES, "Messages stored, by author");
    describe_gauge!(APPEND_QUEUE, "Sends waiting for the message appender");
    describe_gauge!(MAIL_QUEUE, "Emails neither sent nor given up yet");
    describe_gauge!(DB_POOL, "Database connections, by pool and state");
}

/// The private router of `--metrics-addr`: `/metrics` only.
pub fn metrics_router(handle: PrometheusHandle, store: Store) -> Router {
    Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            let store = store.clone();
            async move {
                sample(&store).await;
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    )
}

/// Serves `/metrics` on `listener` until the process ends.
pub async fn serve_metrics(listener: TcpListener, handle: PrometheusHandle, store: Store) {
    let addr = listener.local_addr().ok();
    if let Err(err) = axum::serve(listener, metrics_router(handle, store)).await {
        tracing::error!(error = %err, addr = ?addr.map(|a: SocketAddr| a.to_string()), "metrics listener stopped");
    }
}

/// Reads the gauges that mirror state held elsewhere.
async fn sample(store: &Store) {
    metrics::gauge!(APPEND_QUEUE).set(store.append_queue_len() as f64);
    match store.pending_mail().await {
        Ok(pending) => metrics::gauge!(MAIL_QUEUE).set(pending as f64),
        Err(err) => tracing::warn!(error = %err, "could not count the mail queue"),
    }
    let pools = store.pool_stats();
    for (pool, size, idle) in [
        ("read", pools.read_size, pools.read_idle),
        ("write", pools.write_size, pools.write_idle),
    ] {
        let idle = idle as f64;
        let busy = (f64::from(size) - idle).max(0.0);
        metrics::gauge!(DB_POOL, "pool" => pool, "state" => "idle").set(idle);
        metrics::gauge!(DB_POOL, "pool" => pool, "state" => "busy").set(busy);
    }
}
