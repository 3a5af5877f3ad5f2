//! `messenger-bench suite`: every server measure of the benchmark, one after
//! the other, each on a fresh server over a fresh SQLite file, written as one
//! JSON file (with the budgets) and one markdown section.
//!
//! 1. throughput: acknowledged durable messages per second with group commit
//!    on, and in the same run the raw SQLite single-row and batched rates on
//!    the same disk (`load.rs`, `sqlite.rs`);
//! 2. delivery latency at fixed rates with many open streams (`latency.rs`);
//! 3. idle streams: as many idle customer streams as it can open, up to a
//!    target, and the server's resident memory per stream;
//! 4. history: page latency in one conversation of a million messages,
//!    seeded straight into the server's database while it is stopped;
//! 5. start-up: time from spawning the server to `/readyz` answering 200,
//!    and its resident memory once idle.
//!
//! A budget that is missed is reported, not an error: the command fails only
//! when it cannot measure.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use messenger_wire::{ConversationPage, StartedConversation};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};

use crate::latency::{self, rss_kib};
use crate::load::percentile_ms;
use crate::server::{self, ServerProcess};
use crate::{CommonArgs, ThroughputArgs, sqlite};

/// Streams per loopback source address: well under the ephemeral port range.
const STREAMS_PER_SOURCE: u32 = 10_000;
/// Longest wait for the idle streams to become live.
const IDLE_CONNECT_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest wait for `/readyz` to answer 200.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages inserted per statement while seeding the history.
const SEED_CHUNK: u64 = 100_000;
/// Descriptors kept free of streams, in the bench and in the server (its
/// database, listener, runtime), under the open-file limit.
const FD_RESERVE: u64 = 100;

#[derive(Args, Debug, Clone, Serialize)]
pub struct SuiteArgs {
    /// The server binary to measure (it is not built here).
    #[arg(long, default_value = "target/release/messenger-server")]
    server_bin: PathBuf,

    /// Folder for the temporary database files (default: the system's temporary folder).
    #[arg(long)]
    dir: Option<PathBuf>,

    /// Write the results and budgets as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,

    /// Write the markdown section to this file (it is printed either way).
    #[arg(long)]
    md: Option<PathBuf>,

    /// Parts to run, comma-separated: throughput, latency, idle, history, startup.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "throughput,latency,idle,history,startup"
    )]
    parts: Vec<Part>,

    #[command(flatten)]
    throughput: ThroughputArgs,

    /// Delivery rates (replies per second), each measured on a fresh server.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    latency_rates: Vec<u32>,

    /// Open customer streams during the delivery measure.
    #[arg(long, default_value_t = 10_000)]
    latency_streams: u32,

    /// Seconds of replies at each rate.
    #[arg(long, default_value_t = 10)]
    latency_duration: u64,

    /// Idle customer streams to open.
    #[arg(long, default_value_t = 20_000)]
    idle_streams: u32,

    /// Messages in the history conversation.
    #[arg(long, default_value_t = 1_000_000)]
    history_messages: u64,

    /// History pages read (half the latest page, half older pages reached by cursor).
    #[arg(long, default_value_t = 2_000)]
    history_pages: u32,

    /// Start-ups timed (the first on a fresh database, the others on the same one).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..=100))]
    startup_runs: u32,

    /// Seconds the server idles before its memory is read.
    #[arg(long, default_value_t = 3)]
    settle: u64,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Throughput,
    Latency,
    Idle,
    History,
    Startup,
}

#[derive(Serialize)]
struct Budget {
    name: String,
    actual: f64,
    limit: f64,
    unit: &'static str,
    better: &'static str,
    ok: bool,
}

fn budget(name: &str, actual: f64, limit: f64, unit: &'static str, higher: bool) -> Budget {
    Budget {
        name: name.into(),
        actual,
        limit,
        unit,
        better: if higher { "higher" } else { "lower" },
        ok: if higher {
            actual >= limit
        } else {
            actual <= limit
        },
    }
}

type BoxError = Box<dyn std::error::Error>;

pub async fn run(args: SuiteArgs) -> Result<(), BoxError> {
    let files = raise_file_limit();
    eprintln!("file descriptor limit: {files:?}");
    let dir = match &args.dir {
        Some(parent) => tempfile::tempdir_in(parent)?,
        None => tempfile::tempdir()?,
    };
    eprintln!("temporary files in {}", dir.path().display());
    let mut budgets = Vec::new();
    let mut md = String::from("## Server\n\n");
    let mut out = serde_json::Map::new();
    out.insert("machine".into(), machine());
    out.insert("settings".into(), serde_json::to_value(&args)?);
    let part_md_index = md.len();

    if args.parts.contains(&Part::Throughput) {
        let (value, text) = throughput(&args, dir.path(), &mut budgets).await?;
        out.insert("throughput".into(), value);
        md.push_str(&text);
    }
    if args.parts.contains(&Part::Latency) {
        let (value, text) = delivery(&args, dir.path(), &mut budgets).await?;
        out.insert("delivery".into(), value);
        md.push_str(&text);
    }
    if args.parts.contains(&Part::Idle) {
        let (value, text) = idle_streams(&args, dir.path(), &mut budgets).await?;
        out.insert("idle_streams".into(), value);
        md.push_str(&text);
    }
    if args.parts.contains(&Part::History) {
        let (value, text) = history(&args, dir.path(), &mut budgets).await?;
        out.insert("history".into(), value);
        md.push_str(&text);
    }
    if args.parts.contains(&Part::Startup) {
        let (value, text) = startup(&args, dir.path(), &mut budgets).await?;
        out.insert("startup".into(), value);
        md.push_str(&text);
    }
    out.insert("machine_after".into(), machine());

    let mut table = format!(
        "Machine: {} cores, load average {} at the start. Each part runs on a fresh server and database.\n\n",
        out["machine"]["cores"], out["machine"]["load_average"]
    );
    table.push_str("| budget | actual | limit | ok |\n|---|---:|---:|:---:|\n");
    for b in &budgets {
        let cmp = if b.better == "higher" { "≥" } else { "≤" };
        table.push_str(&format!(
            "| {} | {} {} | {cmp} {} {} | {} |\n",
            b.name,
            number(b.actual),
            b.unit,
            number(b.limit),
            b.unit,
            if b.ok { "✅" } else { "❌" }
        ));
    }
    table.push('\n');
    md.insert_str(part_md_index, &table);
    out.insert("budgets".into(), serde_json::to_value(&budgets)?);

    print!("{md}");
    if let Some(path) = &args.md {
        std::fs::write(path, &md)?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.json {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&Value::Object(out))? + "\n",
        )?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn common(args: &SuiteArgs) -> CommonArgs {
    CommonArgs {
        server_bin: args.server_bin.clone(),
        dir: args.dir.clone(),
        json: None,
    }
}

/// Cores and load average, so a reader knows how busy the machine was.
fn machine() -> Value {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "load_average": load.join(" "),
    })
}

/// Raises this process's open-file limit (the server it starts inherits it)
/// with util-linux's `prlimit` (the workspace forbids `unsafe`, so no
/// `setrlimit` here): to 131,072 when allowed (root), else the soft limit to
/// the hard one. Returns the soft limit then in force.
fn raise_file_limit() -> Option<u64> {
    let pid = std::process::id().to_string();
    let raise = |value: &str| {
        std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={value}")])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !raise("131072:131072") {
        let hard = open_file_limit(2)?;
        raise(&format!("{hard}:{hard}"));
    }
    open_file_limit(1)
}

/// Field `n` (1 soft, 2 hard) of "Max open files" in `/proc/self/limits`.
fn open_file_limit(n: usize) -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .nth(n - 1)?
        .parse()
        .ok()
}

/// Loopback source addresses 127.0.0.1, 127.0.0.2, … enough for `streams`.
fn sources(streams: u32) -> Vec<IpAddr> {
    (0..streams.div_ceil(STREAMS_PER_SOURCE).max(1))
        .map(|n| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + n as u8)))
        .collect()
}

fn part_dir(dir: &Path, name: &str) -> Result<PathBuf, BoxError> {
    let path = dir.join(name);
    std::fs::create_dir_all(&path)?;
    Ok(path)
}

async fn throughput(
    args: &SuiteArgs,
    dir: &Path,
    budgets: &mut Vec<Budget>,
) -> Result<(Value, String), BoxError> {
    let t = &args.throughput;
    let load = crate::run_load(
        &common(args),
        t,
        &part_dir(dir, "throughput")?,
        t.write_batch,
    )
    .await?;
    eprintln!(
        "SQLite baseline: {} s one row per commit, {} s {} rows per commit",
        t.sqlite_duration, t.sqlite_duration, t.batch
    );
    let raw = sqlite::run(
        &dir.join("baseline.db"),
        Duration::from_secs(t.sqlite_duration),
        t.batch,
    )
    .await?;
    let ratio = if raw.single_row_commits_per_second > 0.0 {
        load.messages_per_second / raw.single_row_commits_per_second
    } else {
        0.0
    };
    budgets.push(budget(
        "acknowledged durable messages per second",
        load.messages_per_second.round(),
        10_000.0,
        "msg/s",
        true,
    ));
    budgets.push(budget(
        "messages per second / raw SQLite single-row commits per second",
        (ratio * 100.0).round() / 100.0,
        2.0,
        "ratio",
        true,
    ));
    let md = format!(
        "### Throughput\n\n{} concurrent customers over {} conversations for {} s, group commit up to {} per commit; raw SQLite on the same disk (WAL, synchronous = FULL).\n\n\
         | measure | value |\n|---|---:|\n\
         | server: acknowledged durable messages/s | {:.0} |\n\
         | server: acknowledged / failed | {} / {} |\n\
         | server: send latency p50 / p99 / max | {:.2} / {:.2} / {:.2} ms |\n\
         | raw SQLite: single-row commits/s | {:.0} |\n\
         | raw SQLite: rows/s in batches of {} | {:.0} |\n\
         | server / raw single-row | {:.2}× |\n\
         | server / raw batched | {:.2}× |\n\n",
        t.senders,
        t.conversations,
        t.duration,
        t.write_batch,
        load.messages_per_second,
        load.acknowledged,
        load.failed,
        load.latency_p50_ms,
        load.latency_p99_ms,
        load.latency_max_ms,
        raw.single_row_commits_per_second,
        raw.batch,
        raw.batched_rows_per_second,
        ratio,
        if raw.batched_rows_per_second > 0.0 {
            load.messages_per_second / raw.batched_rows_per_second
        } else {
            0.0
        },
    );
    let value = json!({
        "server": load,
        "sqlite": raw,
        "ratio_to_single_row": ratio,
    });
    Ok((value, md))
}

async fn delivery(
    args: &SuiteArgs,
    dir: &Path,
    budgets: &mut Vec<Budget>,
) -> Result<(Value, String), BoxError> {
    let mut results = Vec::new();
    for &rate in &args.latency_rates {
        let server_dir = part_dir(dir, &format!("latency-{rate}"))?;
        let server = ServerProcess::start(&args.server_bin, &server_dir)?;
        eprintln!(
            "delivery: server on {}; {} open streams, {rate} replies/s for {} s",
            server.addr, args.latency_streams, args.latency_duration
        );
        let result = latency::run(&latency::LatencyPlan {
            api: format!("http://{}/api/v1", server.addr),
            agent_key: server::AGENT_KEY.into(),
            server_status: server.status_path(),
            streams: args.latency_streams,
            rate,
            duration: Duration::from_secs(args.latency_duration),
            grace: Duration::from_secs(5),
            sources: sources(args.latency_streams),
        })
        .await?;
        drop(server);
        if rate >= 1_000 && args.latency_streams >= 10_000 {
            budgets.push(budget(
                &format!(
                    "delivery p99 at {rate} msg/s with {} open streams",
                    args.latency_streams
                ),
                round2(result.latency_p99_ms),
                25.0,
                "ms",
                false,
            ));
        }
        results.push(result);
    }
    let mut md = format!(
        "### Delivery latency\n\nFrom a reply's acknowledgement (its 201 read by the poster) to its arrival on the customer's open stream; {} open streams, one per conversation; replies posted open-loop on a fixed schedule for {} s per rate, each rate on a fresh server. \"From schedule\" counts from the time a post was due, so a lagging load generator cannot hide delay; the send lag shows whether it kept up.\n\n\
         | rate (msg/s) | sent/s | p50 | p99 | p99.9 | max | from schedule p99 | send lag p99 / max | loader kept up | delivered / lost / failed |\n|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|\n",
        args.latency_streams, args.latency_duration
    );
    for r in &results {
        md.push_str(&format!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} / {:.2} ms | {} | {} / {} / {} |\n",
            r.rate,
            r.posted_per_second,
            r.latency_p50_ms,
            r.latency_p99_ms,
            r.latency_p999_ms,
            r.latency_max_ms,
            r.latency_from_schedule_p99_ms,
            r.send_lag_p99_ms,
            r.send_lag_max_ms,
            if r.loader_kept_up { "yes" } else { "**no**" },
            r.delivered,
            r.lost,
            r.failed
        ));
    }
    md.push('\n');
    Ok((serde_json::to_value(&results)?, md))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Serialize)]
struct IdleResult {
    target: u32,
    /// The soft open-file limit of the bench and the server.
    file_descriptor_limit: Option<u64>,
    /// Streams tried: the target, or fewer when the open-file limit is lower.
    tried: u32,
    live: u32,
    /// Streams still open after the settle.
    held: u32,
    rss_before_streams_kib: Option<u64>,
    rss_with_streams_kib: Option<u64>,
    rss_per_stream_kib: Option<f64>,
    seconds_to_open: f64,
    source_addresses: usize,
}

async fn idle_streams(
    args: &SuiteArgs,
    dir: &Path,
    budgets: &mut Vec<Budget>,
) -> Result<(Value, String), BoxError> {
    // The server and the bench each hold one descriptor per stream, and
    // both run under this process's limit (the server inherits it): a
    // target above it could only fail, and stall the listen queue.
    let file_limit = open_file_limit(1);
    let count = match file_limit {
        Some(limit) => args
            .idle_streams
            .min(u32::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(u32::MAX)),
        None => args.idle_streams,
    };
    if count < args.idle_streams {
        eprintln!(
            "idle streams: the open-file limit ({file_limit:?}, which this process could not raise) allows {count} of the {} streams asked for",
            args.idle_streams
        );
    }
    let server = ServerProcess::start(&args.server_bin, &part_dir(dir, "idle")?)?;
    let api = format!("http://{}/api/v1", server.addr);
    eprintln!(
        "idle streams: server on {}; creating {count} conversations",
        server.addr
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let conversations = latency::start_conversations(&client, &api, count).await?;
    drop(client);
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let before = rss_kib(&server.status_path());
    let sources = sources(count);
    let clients = latency::stream_clients(&sources)?;
    eprintln!(
        "idle streams: opening {count} streams from {} source addresses",
        sources.len()
    );
    let opening = Instant::now();
    let mut open = latency::open_streams(
        &clients,
        &api,
        conversations.iter().map(|(token, _)| token),
        IDLE_CONNECT_TIMEOUT,
    )
    .await;
    let seconds_to_open = opening.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let with = rss_kib(&server.status_path());
    while let Ok(news) = open.inbox.try_recv() {
        if let latency::StreamNews::Closed = news {
            open.closed += 1;
        }
    }
    let held = open.live.saturating_sub(open.closed);
    open.tasks.abort_all();
    let mut server = server;
    if !server.running() {
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        eprintln!("idle streams: the server exited; its log ends:");
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
    }
    drop(server);
    let per_stream = match (before, with) {
        (Some(b), Some(w)) if held > 0 => Some((w as f64 - b as f64) / f64::from(held)),
        _ => None,
    };
    budgets.push(budget(
        "idle open streams held",
        f64::from(held),
        20_000.0,
        "streams",
        true,
    ));
    budgets.push(budget(
        "server memory per idle stream",
        round2(per_stream.unwrap_or(f64::INFINITY)),
        16.0,
        "KB",
        false,
    ));
    let mib = |v: Option<u64>| v.map_or("n/a".into(), |v| format!("{:.1} MiB", v as f64 / 1024.0));
    let md = format!(
        "### Idle streams\n\nIdle customer streams opened at once (one per conversation, from {} loopback source addresses), target {}; memory is the server's resident set (VmRSS), 1 KB = 1 KiB.{}\n\n\
         | measure | value |\n|---|---:|\n\
         | streams live / held after {} s | {} / {} |\n\
         | seconds to open them | {:.1} |\n\
         | server RSS idle (conversations created) / with the streams | {} / {} |\n\
         | server RSS per stream | {} |\n\n",
        sources.len(),
        args.idle_streams,
        if count < args.idle_streams {
            format!(
                " **Only {count} tried**: the open-file limit is {} (hard limit; raising it needs CAP_SYS_RESOURCE), and the server and the bench each need one descriptor per stream.",
                file_limit.unwrap_or(0)
            )
        } else {
            String::new()
        },
        args.settle,
        open.live,
        held,
        seconds_to_open,
        mib(before),
        mib(with),
        per_stream.map_or("n/a".into(), |v| format!("{v:.2} KiB")),
    );
    let result = IdleResult {
        target: args.idle_streams,
        file_descriptor_limit: file_limit,
        tried: count,
        live: open.live,
        held,
        rss_before_streams_kib: before,
        rss_with_streams_kib: with,
        rss_per_stream_kib: per_stream,
        seconds_to_open,
        source_addresses: sources.len(),
    };
    Ok((serde_json::to_value(result)?, md))
}

/// Writes `count` messages into the conversation, straight into the stopped
/// server's database, in one transaction, as the server would have: seqs
/// after its last, global positions from the counter row, the search index
/// fed by its trigger, the conversation's last seq and activity updated.
async fn seed_history(db: &Path, conversation_id: &str, count: u64) -> Result<(), BoxError> {
    let options = SqliteConnectOptions::new()
        .filename(db)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true);
    let mut db = SqliteConnection::connect_with(&options).await?;
    let mut tx = db.begin().await?;
    let (last_seq,): (i64,) = sqlx::query_as("SELECT last_seq FROM conversations WHERE id = ?")
        .bind(conversation_id)
        .fetch_one(&mut *tx)
        .await?;
    let (last_position,): (i64,) =
        sqlx::query_as("SELECT last FROM message_positions WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let count = count as i64;
    // One message a second, ending now.
    let first_at = now_ms - count * 1000;
    let mut done = 0i64;
    while done < count {
        let chunk = (count - done).min(SEED_CHUNK as i64);
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT ?1 + 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 + ?2)
             INSERT INTO messages (id, conversation_id, seq, author, client_id, body, created_at, position)
             SELECT printf('m_%032x', ?3 + i), ?4, ?5 + i,
                    CASE i % 3 WHEN 0 THEN 'agent' ELSE 'customer' END,
                    'seed-' || i,
                    'Message ' || i || ': hello, a question about order ' || (i * 7919 % 100000) || ', thanks!',
                    ?6 + i * 1000, ?3 + i
             FROM n",
        )
        .bind(done)
        .bind(chunk)
        .bind(last_position)
        .bind(conversation_id)
        .bind(last_seq)
        .bind(first_at)
        .execute(&mut *tx)
        .await?;
        done += chunk;
        eprintln!("history: seeded {done} messages");
    }
    sqlx::query("UPDATE message_positions SET last = ? WHERE id = 1")
        .bind(last_position + count)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE conversations SET last_seq = ?, last_activity_at = ? WHERE id = ?")
        .bind(last_seq + count)
        .bind(first_at + count * 1000)
        .bind(conversation_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut db)
        .await?;
    db.close().await?;
    Ok(())
}

#[derive(Serialize)]
struct PageTimes {
    pages: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn page_times(mut times: Vec<Duration>) -> PageTimes {
    times.sort_unstable();
    PageTimes {
        pages: times.len(),
        p50_ms: percentile_ms(&times, 0.5),
        p99_ms: percentile_ms(&times, 0.99),
        max_ms: percentile_ms(&times, 1.0),
    }
}

/// A tiny deterministic generator for the random points (xorshift).
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn history(
    args: &SuiteArgs,
    dir: &Path,
    budgets: &mut Vec<Budget>,
) -> Result<(Value, String), BoxError> {
    let server_dir = part_dir(dir, "history")?;
    let server = ServerProcess::start(&args.server_bin, &server_dir)?;
    let api = format!("http://{}/api/v1", server.addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let started: StartedConversation = client
        .post(format!("{api}/conversations"))
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    drop(server);
    eprintln!(
        "history: seeding {} messages into the stopped server's database",
        args.history_messages
    );
    let seeding = Instant::now();
    seed_history(
        &server_dir.join("server.db"),
        &started.conversation.id,
        args.history_messages,
    )
    .await?;
    let seed_seconds = seeding.elapsed().as_secs_f64();

    let server = ServerProcess::start(&args.server_bin, &server_dir)?;
    let api = format!("http://{}/api/v1", server.addr);
    let url = format!("{api}/conversation");
    let get = |query: Option<String>| {
        let request = client.get(&url).bearer_auth(&started.token);
        match query {
            Some(cursor) => request.query(&[("before", cursor)]),
            None => request,
        }
    };
    // One page, timed from the request to its whole body read and parsed.
    let timed = |query: Option<String>| {
        let request = get(query);
        async move {
            let start = Instant::now();
            let page: ConversationPage = request.send().await?.error_for_status()?.json().await?;
            Ok::<_, reqwest::Error>((start.elapsed(), page))
        }
    };
    // Warm the connection and the server's statement cache.
    let mut total = 0;
    for _ in 0..20 {
        let (_, page) = timed(None).await?;
        total = page.messages.last().map_or(0, |m| m.seq);
    }
    if total < args.history_messages as i64 {
        return Err(format!("the history holds {total} messages after seeding").into());
    }
    let mut latest = Vec::new();
    let mut older = Vec::new();
    let mut wrong = 0u64;
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let rounds = args.history_pages / 2;
    let mut cursor: Option<String> = None;
    for n in 0..rounds {
        let (took, page) = timed(None).await?;
        latest.push(took);
        if page.messages.last().map(|m| m.seq) != Some(total) || page.messages.len() != 50 {
            wrong += 1;
        }
        // An older page: every 10th from a random point in the history,
        // the others going back from there by the page's cursor.
        let before = match cursor.take() {
            Some(c) if n % 10 != 0 => c,
            _ => (51 + random.below(total as u64 - 50) as i64).to_string(),
        };
        let expected_last = before.parse::<i64>().unwrap_or(0) - 1;
        let (took, page) = timed(Some(before)).await?;
        older.push(took);
        if page.messages.last().map(|m| m.seq) != Some(expected_last) {
            wrong += 1;
        }
        cursor = page.older_cursor;
    }
    let rss = rss_kib(&server.status_path());
    drop(server);
    let all = page_times(latest.iter().chain(&older).copied().collect());
    let latest = page_times(latest);
    let older = page_times(older);
    budgets.push(budget(
        &format!("history page p99 at {} messages", args.history_messages),
        round2(all.p99_ms),
        5.0,
        "ms",
        false,
    ));
    let md = format!(
        "### History pages\n\nOne conversation of {} messages (seeded in {:.1} s straight into the database); pages of 50 through the customer API (`GET /api/v1/conversation`, `before` = the previous page's cursor, every 10th from a random point), one request at a time on a kept-alive connection, timed to the parsed body.\n\n\
         | pages | count | p50 | p99 | max |\n|---|---:|---:|---:|---:|\n\
         | latest | {} | {:.2} ms | {:.2} ms | {:.2} ms |\n\
         | older (by cursor) | {} | {:.2} ms | {:.2} ms | {:.2} ms |\n\
         | all | {} | {:.2} ms | {:.2} ms | {:.2} ms |\n\n\
         Pages with unexpected content: {wrong}. Server RSS after the reads: {}.\n\n",
        args.history_messages,
        seed_seconds,
        latest.pages,
        latest.p50_ms,
        latest.p99_ms,
        latest.max_ms,
        older.pages,
        older.p50_ms,
        older.p99_ms,
        older.max_ms,
        all.pages,
        all.p50_ms,
        all.p99_ms,
        all.max_ms,
        rss.map_or("n/a".into(), |v| format!("{:.1} MiB", v as f64 / 1024.0)),
    );
    if wrong > 0 {
        return Err(format!("{wrong} history pages had unexpected content").into());
    }
    let value = json!({
        "messages": args.history_messages,
        "seed_seconds": seed_seconds,
        "latest": latest,
        "older": older,
        "all": all,
        "server_rss_kib": rss,
    });
    Ok((value, md))
}

async fn startup(
    args: &SuiteArgs,
    dir: &Path,
    budgets: &mut Vec<Budget>,
) -> Result<(Value, String), BoxError> {
    let server_dir = part_dir(dir, "startup")?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut fresh_ms = 0.0;
    let mut again = Vec::new();
    let mut rss = None;
    for run in 0..args.startup_runs {
        let server = ServerProcess::start(&args.server_bin, &server_dir)?;
        let url = format!("http://{}/readyz", server.addr);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(response) = client.get(&url).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                break;
            }
            if Instant::now() > deadline {
                return Err("the server did not become ready".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let took = server.spawned.elapsed();
        if run == 0 {
            fresh_ms = took.as_secs_f64() * 1000.0;
        } else {
            again.push(took);
        }
        if run + 1 == args.startup_runs {
            tokio::time::sleep(Duration::from_secs(args.settle)).await;
            rss = rss_kib(&server.status_path());
        }
        drop(server);
    }
    again.sort_unstable();
    let median_ms = percentile_ms(&again, 0.5);
    let rss_mib = rss.map(|v| v as f64 / 1024.0);
    budgets.push(budget(
        "idle server memory (RSS)",
        round2(rss_mib.unwrap_or(f64::INFINITY)),
        30.0,
        "MB",
        false,
    ));
    let md = format!(
        "### Start-up and idle memory\n\nFrom spawning the process to `/readyz` answering 200; the first run creates the database (migrations), the {} others open it. Idle memory: the server's resident set {} s after its last start, 1 MB = 1 MiB.\n\n\
         | measure | value |\n|---|---:|\n\
         | start-up, fresh database | {:.1} ms |\n\
         | start-up, existing database: median (min / max) of {} | {:.1} ms ({:.1} / {:.1}) |\n\
         | idle server RSS | {} |\n\n",
        again.len(),
        args.settle,
        fresh_ms,
        again.len(),
        median_ms,
        percentile_ms(&again, 0.0),
        percentile_ms(&again, 1.0),
        rss_mib.map_or("n/a".into(), |v| format!("{v:.1} MiB")),
    );
    let value = json!({
        "fresh_database_ms": fresh_ms,
        "existing_database_ms": again.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
        "existing_database_median_ms": median_ms,
        "idle_rss_kib": rss,
    });
    Ok((value, md))
}
