//! The load: concurrent customers, each sending one message after another to
//! the conversations in turn, and what came of it.
//!
//! A message counts when the server answered 201, which it does only after
//! the commit is durable; throughput and latency count the sends that
//! completed inside the measured window.
//!
//! Each customer holds one HTTP/1.1 connection of its own (keep-alive, as a
//! browser tab would) and has one request on it at a time: it sends, waits
//! for the whole answer, then sends the next. The client is hyper's, used
//! directly: the load generator shares the machine's cores with the server,
//! so every cycle it spends on itself is one the server does not get.

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use messenger_wire::{SendMessage, StartedConversation};
use serde::Serialize;

/// Upper bound on the sends of one sender, whatever the duration.
const MAX_SENDS_PER_SENDER: u64 = 10_000_000;

/// Longest wait for one answer; a send that takes longer counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct LoadPlan {
    /// `http://ADDR/api/v1`.
    pub api: String,
    pub conversations: u32,
    pub senders: u32,
    pub warmup: Duration,
    pub duration: Duration,
}

#[derive(Serialize, Debug)]
pub struct LoadResult {
    /// Sends answered 201 inside the measured window.
    pub acknowledged: u64,
    /// Sends that failed (any other answer, or no answer) inside the window.
    pub failed: u64,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
}

/// What one sender saw inside the window.
#[derive(Default)]
struct Tally {
    failed: u64,
    latencies: Vec<Duration>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// One keep-alive HTTP/1.1 connection to the server, one request at a time.
struct Connection {
    /// `host:port`, for the `Host` header.
    authority: String,
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    async fn open(authority: &str) -> Result<Connection, Error> {
        let stream = tokio::net::TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Connection {
            authority: authority.to_owned(),
            sender,
        })
    }

    /// POSTs a JSON body and reads the whole answer (so the connection can
    /// carry the next request).
    async fn post(
        &mut self,
        path: &str,
        bearer: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), Error> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, &self.authority)
            .header(CONTENT_TYPE, "application/json");
        if let Some(token) = bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Full::new(Bytes::from(body)))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// The error of a sender task as the error of [`run`].
fn lift(err: Error) -> Box<dyn std::error::Error> {
    err
}

/// `http://host:port/prefix` as (`host:port`, `/prefix`).
fn split_url(url: &str) -> Result<(String, String), Error> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {url}"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    Ok((authority.to_owned(), path.to_owned()))
}

pub async fn run(plan: &LoadPlan) -> Result<LoadResult, Box<dyn std::error::Error>> {
    let (authority, prefix) = split_url(&plan.api).map_err(lift)?;
    let mut setup = Connection::open(&authority).await.map_err(lift)?;
    let mut tokens = Vec::with_capacity(plan.conversations as usize);
    for _ in 0..plan.conversations {
        let (status, body) = setup
            .post(&format!("{prefix}/conversations"), None, b"{}".to_vec())
            .await
            .map_err(lift)?;
        if status != StatusCode::CREATED {
            return Err(format!("starting a conversation: {status}").into());
        }
        tokens.push(serde_json::from_slice::<StartedConversation>(&body)?.token);
    }
    drop(setup);

    // Every customer connects before the clock starts.
    let mut connections = Vec::with_capacity(plan.senders as usize);
    for _ in 0..plan.senders {
        connections.push(Connection::open(&authority).await.map_err(lift)?);
    }
    let start = Instant::now();
    let window = (start + plan.warmup, start + plan.warmup + plan.duration);
    let path = format!("{prefix}/conversation/messages");
    let senders: Vec<_> = connections
        .into_iter()
        .zip(0..)
        .map(|(connection, sender)| {
            tokio::spawn(send_until(
                connection,
                path.clone(),
                (sender, plan.senders),
                tokens.clone(),
                window,
            ))
        })
        .collect();
    let mut failed = 0;
    let mut latencies = Vec::new();
    for sender in senders {
        let tally = sender.await?;
        failed += tally.failed;
        latencies.extend(tally.latencies);
    }

    latencies.sort_unstable();
    let seconds = plan.duration.as_secs_f64();
    let acknowledged = latencies.len() as u64;
    Ok(LoadResult {
        acknowledged,
        failed,
        seconds,
        messages_per_second: acknowledged as f64 / seconds,
        latency_p50_ms: percentile_ms(&latencies, 0.50),
        latency_p99_ms: percentile_ms(&latencies, 0.99),
        latency_max_ms: percentile_ms(&latencies, 1.0),
    })
}

/// One customer: sends until the window closes. Sender `i` of `n` starts at
/// conversation `i` and steps by `n`, so the senders spread over all of them.
/// A connection that fails is opened again for the next send.
async fn send_until(
    mut connection: Connection,
    path: String,
    (sender, senders): (u32, u32),
    tokens: Vec<String>,
    (measure_from, end): (Instant, Instant),
) -> Tally {
    let mut tally = Tally::default();
    let body = "Hello, I have a question about my order. Could someone get back to me? Thanks!";
    for n in 0..MAX_SENDS_PER_SENDER {
        let started = Instant::now();
        if started >= end {
            break;
        }
        let conversation = (u64::from(sender) + n * u64::from(senders)) % tokens.len() as u64;
        let json = serde_json::to_vec(&SendMessage {
            client_id: format!("bench-{sender}-{n}"),
            body: body.into(),
        })
        .expect("a message serialises");
        let sent = tokio::time::timeout(
            REQUEST_TIMEOUT,
            connection.post(&path, Some(&tokens[conversation as usize]), json),
        )
        .await;
        let acknowledged = match sent {
            Ok(Ok((status, _))) => status == StatusCode::CREATED,
            Ok(Err(_)) | Err(_) => {
                if let Ok(fresh) = Connection::open(&connection.authority).await {
                    connection = fresh;
                }
                false
            }
        };
        let finished = Instant::now();
        if finished < measure_from || finished > end {
            continue;
        }
        if acknowledged {
            tally.latencies.push(finished - started);
        } else {
            tally.failed += 1;
        }
    }
    tally
}

/// The `q` quantile (nearest rank) of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&sorted, 0.50), 50.0);
        assert_eq!(percentile_ms(&sorted, 0.99), 99.0);
        assert_eq!(percentile_ms(&sorted, 1.0), 100.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }
}
