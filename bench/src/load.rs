//! The load: concurrent customers, each sending one message after another to
//! the conversations in turn, and what came of it.
//!
//! A message counts when the server answered 201, which it does only after
//! the commit is durable; throughput and latency count the sends that
//! completed inside the measured window.

use std::time::{Duration, Instant};

use messenger_wire::{SendMessage, StartedConversation};
use reqwest::StatusCode;
use serde::Serialize;

/// Upper bound on the sends of one sender, whatever the duration.
const MAX_SENDS_PER_SENDER: u64 = 10_000_000;

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

pub async fn run(plan: &LoadPlan) -> Result<LoadResult, Box<dyn std::error::Error>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut tokens = Vec::with_capacity(plan.conversations as usize);
    for _ in 0..plan.conversations {
        let response = client
            .post(format!("{}/conversations", plan.api))
            .json(&serde_json::json!({}))
            .send()
            .await?
            .error_for_status()?;
        tokens.push(response.json::<StartedConversation>().await?.token);
    }

    let start = Instant::now();
    let window = (start + plan.warmup, start + plan.warmup + plan.duration);
    let senders: Vec<_> = (0..plan.senders)
        .map(|sender| {
            tokio::spawn(send_until(
                client.clone(),
                format!("{}/conversation/messages", plan.api),
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
async fn send_until(
    client: reqwest::Client,
    url: String,
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
        let sent = client
            .post(&url)
            .bearer_auth(&tokens[conversation as usize])
            .json(&SendMessage {
                client_id: format!("bench-{sender}-{n}"),
                body: body.into(),
            })
            .send()
            .await;
        // Read the whole answer, so the connection is reused.
        let acknowledged = match sent {
            Ok(response) => {
                let created = response.status() == StatusCode::CREATED;
                response.bytes().await.is_ok() && created
            }
            Err(_) => false,
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
