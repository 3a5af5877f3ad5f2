//! Delivery latency: how long after a reply is acknowledged (the 201 reached
//! its poster) it arrives on the conversation's open customer stream.
//!
//! `--streams` conversations each get one customer stream
//! (`GET /conversation/events`); once every stream has delivered its first
//! `event: read` (sent after the catch-up, so the stream is live), agent
//! replies go out open-loop at `--rate` per second, round-robin over the
//! conversations, for `--latency-duration` seconds. Every reply has its own
//! `client_id`, by which its arrival is matched to its acknowledgement.
//!
//! The server publishes right after the commit, so a stream may see a reply
//! before its poster has read the 201: such arrivals count as 0 ms (the
//! difference is clamped at 0) and are counted apart.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use messenger_wire::{Message, SendMessage, StartedConversation};
use reqwest::StatusCode;
use serde::Serialize;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::load::percentile_ms;

/// Conversations created at a time during the setup.
const SETUP_CONCURRENCY: usize = 32;
/// Longest wait for every stream to become live.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest SSE buffer a stream keeps before giving up (a broken stream).
const MAX_PENDING_BYTES: usize = 1 << 20;
/// Streams connecting (not yet live) at a time.
const MAX_CONNECTING: usize = 200;
/// A post sent later than this after it was due counts as late.
const LATE_SEND: Duration = Duration::from_millis(5);

pub struct LatencyPlan {
    /// `http://ADDR/api/v1`.
    pub api: String,
    /// The agent API key the server was started with.
    pub agent_key: String,
    /// `/proc/<pid>/status` of the server, for its resident memory.
    pub server_status: PathBuf,
    pub streams: u32,
    /// Replies per second, over all conversations.
    pub rate: u32,
    pub duration: Duration,
    /// How long after the last acknowledgement arrivals are still awaited.
    pub grace: Duration,
    /// Source addresses for the streams (empty: the system's choice).
    pub sources: Vec<IpAddr>,
}

#[derive(Serialize, Debug)]
pub struct LatencyResult {
    /// Replies per second asked for.
    pub rate: u32,
    /// Streams that were live when the replies started.
    pub streams_open: u32,
    /// Streams still open after the grace period.
    pub streams_open_at_end: u32,
    pub posted: u64,
    /// Posts answered 201.
    pub acknowledged: u64,
    /// Posts answered otherwise, or not at all.
    pub failed: u64,
    /// Acknowledged replies that arrived on their stream (the latency sample).
    pub delivered: u64,
    /// Acknowledged replies that did not arrive within the grace period: must be 0.
    pub lost: u64,
    /// Deliveries seen before the poster had the 201; counted as 0 ms.
    pub arrived_before_ack: u64,
    /// How arrivals before the acknowledgement are counted.
    pub early_arrivals: &'static str,
    /// Replies actually sent per second.
    pub posted_per_second: f64,
    /// How late the bench sent its posts against their schedule.
    pub send_lag_p50_ms: f64,
    pub send_lag_p99_ms: f64,
    pub send_lag_max_ms: f64,
    /// Posts sent more than 5 ms after they were due.
    pub late_sends: u64,
    /// The bench offered the rate asked for: at least 98 % of it, and p99 send lag at most 5 ms.
    pub loader_kept_up: bool,
    pub latency_p50_ms: f64,
    pub latency_p90_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_p999_ms: f64,
    pub latency_max_ms: f64,
    /// From the time a post was due (by the schedule) to its arrival on the
    /// stream: includes the post's own round trip and any lag of the bench.
    pub latency_from_schedule_p50_ms: f64,
    pub latency_from_schedule_p99_ms: f64,
    pub latency_from_schedule_p999_ms: f64,
    /// Server resident memory after creating the conversations, before any stream.
    pub server_rss_before_streams_kib: Option<u64>,
    /// Server resident memory with every stream open and idle.
    pub server_rss_with_streams_kib: Option<u64>,
    /// The difference per stream.
    pub server_rss_per_stream_kib: Option<f64>,
}

/// A stream's report to the bench.
pub enum StreamNews {
    /// The first `event: read`: the stream is live.
    Live,
    /// A message with this `client_id` arrived at this instant.
    Arrived(String, Instant),
    /// The stream ended or failed.
    Closed,
}

/// Open customer streams: their tasks, the channel they report on, and how
/// many became live before the deadline.
pub struct OpenStreams {
    pub tasks: JoinSet<()>,
    pub inbox: mpsc::UnboundedReceiver<StreamNews>,
    pub live: u32,
    pub closed: u32,
    /// Messages that arrived while the streams were opening.
    pub arrivals: HashMap<String, Instant>,
}

/// One client per source address (`sources` empty: the system's choice), so
/// that many streams do not run out of ephemeral ports on one address.
pub fn stream_clients(sources: &[IpAddr]) -> Result<Vec<reqwest::Client>, reqwest::Error> {
    let build = |source: Option<IpAddr>| {
        // No overall timeout here: it would cut the streams.
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(0)
            .local_address(source)
            .build()
    };
    if sources.is_empty() {
        return Ok(vec![build(None)?]);
    }
    sources.iter().map(|&ip| build(Some(ip))).collect()
}

/// Opens one customer stream per token, spread over `clients` in turn, and
/// waits until each is live (its first `event: read`) or closed, at most
/// `timeout`.
pub async fn open_streams(
    clients: &[reqwest::Client],
    api: &str,
    tokens: impl IntoIterator<Item = &String>,
    timeout: Duration,
) -> OpenStreams {
    let (news, inbox) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    // At most this many streams connecting at a time: a burst of thousands
    // of connects overflows the listen backlog (SYN cookies, retries after
    // a second or more).
    let connecting = Arc::new(Semaphore::new(MAX_CONNECTING));
    for (n, token) in tokens.into_iter().enumerate() {
        tasks.spawn(follow(
            clients[n % clients.len()].clone(),
            format!("{api}/conversation/events"),
            token.clone(),
            news.clone(),
            connecting.clone(),
        ));
    }
    drop(news);
    let mut open = OpenStreams {
        tasks,
        inbox,
        live: 0,
        closed: 0,
        arrivals: HashMap::new(),
    };
    let total = open.tasks.len() as u32;
    let deadline = tokio::time::Instant::now() + timeout;
    while open.live + open.closed < total {
        match tokio::time::timeout_at(deadline, open.inbox.recv()).await {
            Ok(Some(StreamNews::Live)) => open.live += 1,
            Ok(Some(StreamNews::Closed)) | Ok(None) => open.closed += 1,
            Ok(Some(StreamNews::Arrived(id, at))) => {
                open.arrivals.insert(id, at);
            }
            Err(_) => break,
        }
    }
    open
}

pub async fn run(plan: &LatencyPlan) -> Result<LatencyResult, Box<dyn std::error::Error>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let conversations = start_conversations(&client, &plan.api, plan.streams).await?;

    let rss_before = rss_kib(&plan.server_status);
    let stream_clients = stream_clients(&plan.sources)?;
    let OpenStreams {
        tasks: mut streams,
        mut inbox,
        live,
        mut closed,
        mut arrivals,
    } = open_streams(
        &stream_clients,
        &plan.api,
        conversations.iter().map(|(token, _)| token),
        CONNECT_TIMEOUT,
    )
    .await;
    if live < plan.streams {
        return Err(format!(
            "only {live} of {} streams became live ({closed} closed); raise `ulimit -n`?",
            plan.streams
        )
        .into());
    }
    // Let the streams settle (buffers, the first keep-alive) before measuring memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_with = rss_kib(&plan.server_status);

    // Open loop on a fixed schedule: post `n` is due at start + n / rate and
    // goes out in its own task, so a slow answer never delays the next post.
    // The bench's own lag (send time minus due time) is measured: if it falls
    // behind, the offered rate was not the one asked for, and the report
    // says so (`send_lag_*`, `posted_per_second`); `latency_from_schedule_*`
    // counts from the due time, so a stalled sender cannot hide delays.
    let total = u64::from(plan.rate) * plan.duration.as_secs().max(1);
    let interval = Duration::from_secs_f64(1.0 / f64::from(plan.rate));
    let mut posts = JoinSet::new();
    let mut send_lags = Vec::with_capacity(total as usize);
    let started = Instant::now();
    for n in 0..total {
        let due = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        send_lags.push(Instant::now().saturating_duration_since(due));
        let (_, conversation_id) = &conversations[(n % conversations.len() as u64) as usize];
        posts.spawn(post_reply(
            client.clone(),
            format!(
                "{}/agent/conversations/{conversation_id}/messages",
                plan.api
            ),
            plan.agent_key.clone(),
            format!("lat-{n}"),
            due,
        ));
        // Keep the inbox drained while posting.
        while let Ok(item) = inbox.try_recv() {
            note(item, &mut arrivals, &mut closed);
        }
    }
    let posting_seconds = started.elapsed().as_secs_f64();
    let mut acks: HashMap<String, (Instant, Instant)> = HashMap::new();
    let mut failed = 0u64;
    while let Some(done) = posts.join_next().await {
        match done? {
            Some((id, due, at)) => {
                acks.insert(id, (due, at));
            }
            None => failed += 1,
        }
        while let Ok(item) = inbox.try_recv() {
            note(item, &mut arrivals, &mut closed);
        }
    }

    // Wait for the stragglers, at most `grace` after the last acknowledgement.
    let grace_deadline = tokio::time::Instant::now() + plan.grace;
    while acks.keys().any(|id| !arrivals.contains_key(id)) {
        match tokio::time::timeout_at(grace_deadline, inbox.recv()).await {
            Ok(Some(item)) => note(item, &mut arrivals, &mut closed),
            Ok(None) | Err(_) => break,
        }
    }
    while let Ok(item) = inbox.try_recv() {
        note(item, &mut arrivals, &mut closed);
    }
    streams.abort_all();

    let mut latencies = Vec::with_capacity(acks.len());
    let mut from_schedule = Vec::with_capacity(acks.len());
    let mut early = 0u64;
    let mut lost = 0u64;
    for (id, (due, acked)) in &acks {
        match arrivals.get(id) {
            Some(arrived) => {
                if arrived < acked {
                    early += 1;
                }
                latencies.push(arrived.saturating_duration_since(*acked));
                from_schedule.push(arrived.saturating_duration_since(*due));
            }
            None => lost += 1,
        }
    }
    latencies.sort_unstable();
    from_schedule.sort_unstable();
    send_lags.sort_unstable();
    let late_sends = send_lags.iter().filter(|lag| **lag > LATE_SEND).count() as u64;

    let rss_per_stream = match (rss_before, rss_with) {
        (Some(before), Some(with)) => Some((with as f64 - before as f64) / f64::from(plan.streams)),
        _ => None,
    };
    let posted_per_second = total as f64 / posting_seconds;
    Ok(LatencyResult {
        rate: plan.rate,
        streams_open: live,
        streams_open_at_end: live.saturating_sub(closed),
        posted: total,
        acknowledged: acks.len() as u64,
        failed,
        delivered: latencies.len() as u64,
        lost,
        arrived_before_ack: early,
        early_arrivals: "clamped to 0 ms",
        posted_per_second,
        send_lag_p50_ms: percentile_ms(&send_lags, 0.50),
        send_lag_p99_ms: percentile_ms(&send_lags, 0.99),
        send_lag_max_ms: percentile_ms(&send_lags, 1.0),
        late_sends,
        loader_kept_up: posted_per_second >= 0.98 * f64::from(plan.rate)
            && percentile_ms(&send_lags, 0.99) <= LATE_SEND.as_secs_f64() * 1000.0,
        latency_p50_ms: percentile_ms(&latencies, 0.50),
        latency_p90_ms: percentile_ms(&latencies, 0.90),
        latency_p99_ms: percentile_ms(&latencies, 0.99),
        latency_p999_ms: percentile_ms(&latencies, 0.999),
        latency_max_ms: percentile_ms(&latencies, 1.0),
        latency_from_schedule_p50_ms: percentile_ms(&from_schedule, 0.50),
        latency_from_schedule_p99_ms: percentile_ms(&from_schedule, 0.99),
        latency_from_schedule_p999_ms: percentile_ms(&from_schedule, 0.999),
        server_rss_before_streams_kib: rss_before,
        server_rss_with_streams_kib: rss_with,
        server_rss_per_stream_kib: rss_per_stream,
    })
}

fn note(item: StreamNews, arrivals: &mut HashMap<String, Instant>, closed: &mut u32) {
    match item {
        StreamNews::Arrived(id, at) => {
            // The first arrival counts; a repeat (after a catch-up) does not.
            arrivals.entry(id).or_insert(at);
        }
        StreamNews::Closed => *closed += 1,
        StreamNews::Live => {}
    }
}

/// Creates `count` conversations: (customer token, conversation id) each.
pub async fn start_conversations(
    client: &reqwest::Client,
    api: &str,
    count: u32,
) -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    let mut conversations = Vec::with_capacity(count as usize);
    let mut pending = JoinSet::new();
    for _ in 0..count {
        if pending.len() >= SETUP_CONCURRENCY
            && let Some(done) = pending.join_next().await
        {
            conversations.push(done??);
        }
        let (client, url) = (client.clone(), format!("{api}/conversations"));
        pending.spawn(async move {
            let started = client
                .post(url)
                .json(&serde_json::json!({}))
                .send()
                .await?
                .error_for_status()?
                .json::<StartedConversation>()
                .await?;
            Ok::<_, reqwest::Error>((started.token, started.conversation.id))
        });
    }
    while let Some(done) = pending.join_next().await {
        conversations.push(done??);
    }
    Ok(conversations)
}

/// One agent reply; its `client_id` and the instant its 201 arrived.
async fn post_reply(
    client: reqwest::Client,
    url: String,
    key: String,
    client_id: String,
    due: Instant,
) -> Option<(String, Instant, Instant)> {
    let response = client
        .post(url)
        .bearer_auth(key)
        .json(&SendMessage {
            client_id: client_id.clone(),
            body: "Thanks for writing! An agent is looking into your order now.".into(),
        })
        .send()
        .await
        .ok()?;
    let acked = Instant::now();
    let created = response.status() == StatusCode::CREATED;
    // Read the whole answer, so the connection is reused.
    (response.bytes().await.is_ok() && created).then_some((client_id, due, acked))
}

/// Follows one customer stream until it ends (or the task is aborted),
/// reporting when it is live and every message's arrival.
async fn follow(
    client: reqwest::Client,
    url: String,
    token: String,
    news: mpsc::UnboundedSender<StreamNews>,
    connecting: Arc<Semaphore>,
) {
    let mut permit = connecting.acquire_owned().await.ok();
    let Ok(mut response) = client.get(url).bearer_auth(token).send().await else {
        let _ = news.send(StreamNews::Closed);
        return;
    };
    if response.status() != StatusCode::OK {
        let _ = news.send(StreamNews::Closed);
        return;
    }
    let mut parser = SseParser::default();
    let mut live = false;
    while let Ok(Some(chunk)) = response.chunk().await {
        let arrived = Instant::now();
        parser.push(&chunk);
        if parser.pending() > MAX_PENDING_BYTES {
            break;
        }
        while let Some((event, data)) = parser.next_event() {
            let sent = match event.as_str() {
                "read" if !live => {
                    live = true;
                    permit.take();
                    news.send(StreamNews::Live)
                }
                "message" => match serde_json::from_str::<Message>(&data) {
                    Ok(Message {
                        client_id: Some(id),
                        ..
                    }) => news.send(StreamNews::Arrived(id, arrived)),
                    _ => Ok(()),
                },
                _ => Ok(()),
            };
            if sent.is_err() {
                return;
            }
        }
    }
    let _ = news.send(StreamNews::Closed);
}

/// A minimal Server-Sent Events reader: events end at a blank line; only
/// `event:` and `data:` fields are kept; comments and events without a
/// `data:` line are skipped.
#[derive(Default)]
struct SseParser {
    buffer: Vec<u8>,
}

impl SseParser {
    fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend(bytes.iter().filter(|&&b| b != b'\r'));
    }

    fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// The next complete event: (type, data), type `message` by default.
    fn next_event(&mut self) -> Option<(String, String)> {
        loop {
            let end = self.buffer.windows(2).position(|w| w == b"\n\n")?;
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let block = String::from_utf8_lossy(&block);
            let mut event = String::from("message");
            let mut data: Option<String> = None;
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    event = value.trim_start().to_string();
                } else if let Some(value) = line.strip_prefix("data:") {
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match &mut data {
                        Some(data) => {
                            data.push('\n');
                            data.push_str(value);
                        }
                        None => data = Some(value.to_string()),
                    }
                }
            }
            if let Some(data) = data {
                return Some((event, data));
            }
        }
    }
}

/// Resident memory (`VmRSS`) of a process, in KiB, from its `/proc/<pid>/status`.
pub fn rss_kib(status: &std::path::Path) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    parse_vm_rss(&text)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_on_blank_lines_across_chunks() {
        let mut parser = SseParser::default();
        parser.push(b": keep-alive\n\nevent: message\nid: 3\nda");
        assert_eq!(parser.next_event(), None);
        parser.push(b"ta: {\"a\":1}\n\nevent: read\r\ndata: {}\r\n\r\n");
        assert_eq!(
            parser.next_event(),
            Some(("message".into(), "{\"a\":1}".into()))
        );
        assert_eq!(parser.next_event(), Some(("read".into(), "{}".into())));
        assert_eq!(parser.next_event(), None);
        assert_eq!(parser.pending(), 0);
    }

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status = "Name:\tmessenger-server\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }
}
