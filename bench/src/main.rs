//! `messenger-bench`: how many durable messages per second the server
//! acknowledges, next to what SQLite itself manages on the same disk, and how
//! fast an acknowledged message reaches the open streams.
//!
//! ```sh
//! bash scripts/bench.sh                      # builds the release server and the bench, then runs `all`
//! messenger-bench throughput --senders 16 --duration 5 --json bench.json
//! messenger-bench latency --streams 500 --rate 200 --latency-duration 10
//! messenger-bench all --json bench.json      # both, one table, one JSON file
//! ```
//!
//! `throughput` starts the given server binary over a fresh SQLite file in a
//! temporary folder on 127.0.0.1:0, opens `--conversations` conversations and
//! lets `--senders` concurrent customers send for `--duration` seconds; it
//! does so twice, on a fresh server and database each time: with group commit
//! on (`--write-batch`, up to 256 sends per commit by default) and off (the
//! server's `--write-batch 1`: one commit, one disk flush, per message). In
//! the same folder it then times plain SQLite inserts with the server's
//! settings (WAL, `synchronous = FULL`): one row per commit, and batches of
//! rows per commit. The gap between the two is what sharing commits can win;
//! the two server runs show how much of it group commit wins.
//!
//! `latency` starts a fresh server, opens `--streams` conversations with one
//! customer stream each and, once all are live, posts agent replies at
//! `--rate` per second; it reports the time from each reply's 201 to its
//! arrival on the stream, and the server's memory per idle stream.
//!
//! Layout: `server.rs` runs the binary, `load.rs` sends, `sqlite.rs` is the
//! baseline, `latency.rs` the delivery measure; this file reads the flags and
//! prints the results.

mod latency;
mod load;
mod server;
mod sqlite;
mod suite;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

#[derive(Parser)]
#[command(name = "messenger-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Acknowledged messages per second and send latency, against a raw SQLite baseline.
    Throughput {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        throughput: ThroughputArgs,
    },
    /// Delivery latency: from a reply's acknowledgement to its arrival on an open stream.
    Latency {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        latency: LatencyArgs,
    },
    /// Every server measure in sequence (throughput with the SQLite baseline,
    /// delivery latency, idle streams, history pages, start-up and idle
    /// memory), each on a fresh server; JSON with budgets and a markdown section.
    Suite(suite::SuiteArgs),
    /// `throughput`, then `latency` on a fresh server; one table, one JSON file.
    All {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        throughput: ThroughputArgs,
        #[command(flatten)]
        latency: LatencyArgs,
    },
}

#[derive(Args, Debug, Clone, Serialize)]
struct CommonArgs {
    /// The server binary to measure (it is not built here).
    #[arg(long, default_value = "target/release/messenger-server")]
    server_bin: PathBuf,

    /// Folder for the temporary database files (default: the system's temporary folder).
    /// Use it to measure another disk.
    #[arg(long)]
    dir: Option<PathBuf>,

    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug, Clone, Serialize)]
struct ThroughputArgs {
    /// Conversations the senders spread their messages over.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    conversations: u32,

    /// Concurrent senders, each with one request in flight at a time.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4_096))]
    senders: u32,

    /// Seconds of measured load (after the warm-up).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    duration: u64,

    /// Seconds of load before measuring (connections, caches).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=600))]
    warmup: u64,

    /// Seconds for each of the two SQLite baselines.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=600))]
    sqlite_duration: u64,

    /// Rows per transaction in the batched SQLite baseline.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch: u32,

    /// Most sends per commit in the group-commit run (the server's
    /// `--write-batch`); the other run uses 1, group commit off.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=4_096))]
    write_batch: u32,
}

#[derive(Args, Debug, Clone, Serialize)]
struct LatencyArgs {
    /// Conversations, each with one open customer stream.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    streams: u32,

    /// Agent replies per second over all conversations (open loop, round-robin).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    rate: u32,

    /// Seconds of replies.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    latency_duration: u64,

    /// Seconds after the last acknowledgement to wait for deliveries; later ones are lost.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    grace: u64,
}

#[derive(Serialize)]
struct Settings {
    #[serde(flatten)]
    common: CommonArgs,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    throughput: Option<ThroughputArgs>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    latency: Option<LatencyArgs>,
}

#[derive(Serialize)]
struct Results {
    settings: Settings,
    /// The server with group commit on (`--write-batch` of the settings).
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<load::LoadResult>,
    /// The same load on the server with group commit off (`--write-batch 1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    server_without_group_commit: Option<load::LoadResult>,
    /// Messages per second with group commit on, divided by off.
    #[serde(skip_serializing_if = "Option::is_none")]
    group_commit_speedup: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sqlite: Option<sqlite::BaselineResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery: Option<latency::LatencyResult>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (common, throughput, latency) = match Cli::parse().command {
        Command::Suite(args) => return suite::run(args).await,
        Command::Throughput { common, throughput } => (common, Some(throughput), None),
        Command::Latency { common, latency } => (common, None, Some(latency)),
        Command::All {
            common,
            throughput,
            latency,
        } => (common, Some(throughput), Some(latency)),
    };

    let dir = match &common.dir {
        Some(parent) => tempfile::tempdir_in(parent)?,
        None => tempfile::tempdir()?,
    };
    eprintln!("temporary files in {}", dir.path().display());

    let mut results = Results {
        settings: Settings {
            common: common.clone(),
            throughput: throughput.clone(),
            latency: latency.clone(),
        },
        server: None,
        server_without_group_commit: None,
        group_commit_speedup: None,
        sqlite: None,
        delivery: None,
    };
    if let Some(args) = &throughput {
        let (on, off, sqlite) = run_throughput(&common, args, dir.path()).await?;
        results.group_commit_speedup = (off.messages_per_second > 0.0)
            .then(|| on.messages_per_second / off.messages_per_second);
        results.server = Some(on);
        results.server_without_group_commit = Some(off);
        results.sqlite = Some(sqlite);
    }
    if let Some(args) = &latency {
        results.delivery = Some(run_latency(&common, args, dir.path()).await?);
    }

    print!("{}", markdown(&results));
    if let Some(path) = &common.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)? + "\n")?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The load with group commit on, the same load with it off, then the
/// SQLite baselines.
async fn run_throughput(
    common: &CommonArgs,
    args: &ThroughputArgs,
    dir: &std::path::Path,
) -> Result<(load::LoadResult, load::LoadResult, sqlite::BaselineResult), Box<dyn std::error::Error>>
{
    let on = run_load(common, args, &dir.join("throughput"), args.write_batch).await?;
    let off = run_load(common, args, &dir.join("throughput-batch-1"), 1).await?;

    eprintln!(
        "SQLite baseline: {} s one row per commit, {} s {} rows per commit",
        args.sqlite_duration, args.sqlite_duration, args.batch
    );
    let sqlite = sqlite::run(
        &dir.join("baseline.db"),
        Duration::from_secs(args.sqlite_duration),
        args.batch,
    )
    .await?;
    Ok((on, off, sqlite))
}

/// `--senders` senders for `--duration` seconds against a fresh server and
/// database in `server_dir`, started with `--write-batch write_batch`.
async fn run_load(
    common: &CommonArgs,
    args: &ThroughputArgs,
    server_dir: &std::path::Path,
    write_batch: u32,
) -> Result<load::LoadResult, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(server_dir)?;
    let server = server::ServerProcess::start_with(
        &common.server_bin,
        server_dir,
        &["--write-batch".into(), write_batch.to_string()],
    )?;
    eprintln!(
        "server {} (--write-batch {write_batch}) listening on {}; {} senders over {} conversations for {} s (+{} s warm-up)",
        common.server_bin.display(),
        server.addr,
        args.senders,
        args.conversations,
        args.duration,
        args.warmup
    );
    let load = load::run(&load::LoadPlan {
        api: format!("http://{}/api/v1", server.addr),
        conversations: args.conversations,
        senders: args.senders,
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration),
    })
    .await;
    drop(server);
    load
}

async fn run_latency(
    common: &CommonArgs,
    args: &LatencyArgs,
    dir: &std::path::Path,
) -> Result<latency::LatencyResult, Box<dyn std::error::Error>> {
    // A fresh server and database, so the throughput run's rows do not weigh in.
    let server_dir = dir.join("latency");
    std::fs::create_dir_all(&server_dir)?;
    let server = server::ServerProcess::start(&common.server_bin, &server_dir)?;
    eprintln!(
        "server {} listening on {}; {} open streams, {} replies/s for {} s",
        common.server_bin.display(),
        server.addr,
        args.streams,
        args.rate,
        args.latency_duration
    );
    let result = latency::run(&latency::LatencyPlan {
        api: format!("http://{}/api/v1", server.addr),
        agent_key: server::AGENT_KEY.into(),
        server_status: server.status_path(),
        streams: args.streams,
        rate: args.rate,
        duration: Duration::from_secs(args.latency_duration),
        grace: Duration::from_secs(args.grace),
        sources: Vec::new(),
    })
    .await;
    drop(server);
    result
}

fn markdown(r: &Results) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    if let (Some(s), Some(o), Some(q), Some(t)) = (
        &r.server,
        &r.server_without_group_commit,
        &r.sqlite,
        &r.settings.throughput,
    ) {
        let both = |f: fn(&load::LoadResult) -> f64| format!("{} / {}", ms(f(s)), ms(f(o)));
        rows.extend([
            (
                format!(
                    "server, group commit on (up to {} per commit): acknowledged messages/s ({} senders, {} conversations)",
                    t.write_batch, t.senders, t.conversations
                ),
                format!("{:.0}", s.messages_per_second),
            ),
            (
                "server, group commit off (1 per commit): acknowledged messages/s, same load".into(),
                format!("{:.0}", o.messages_per_second),
            ),
            (
                "server: group commit on / off".into(),
                r.group_commit_speedup
                    .map_or("n/a".into(), |x| format!("{x:.1}×")),
            ),
            (
                "server: send latency p50 (on / off)".into(),
                both(|l| l.latency_p50_ms),
            ),
            (
                "server: send latency p99 (on / off)".into(),
                both(|l| l.latency_p99_ms),
            ),
            (
                "server: send latency max (on / off)".into(),
                both(|l| l.latency_max_ms),
            ),
            (
                "server: messages acknowledged / failed (on; off)".into(),
                format!(
                    "{} / {}; {} / {}",
                    s.acknowledged, s.failed, o.acknowledged, o.failed
                ),
            ),
            (
                "SQLite: single-row commits/s".into(),
                format!("{:.0}", q.single_row_commits_per_second),
            ),
            (
                format!("SQLite: rows/s in batches of {}", q.batch),
                format!("{:.0}", q.batched_rows_per_second),
            ),
        ]);
    }
    if let (Some(d), Some(l)) = (&r.delivery, &r.settings.latency) {
        let kib =
            |v: Option<u64>| v.map_or("n/a".into(), |v| format!("{:.1} MiB", v as f64 / 1024.0));
        rows.extend([
            (
                format!(
                    "delivery: open streams (live at start / at end), {} replies/s for {} s",
                    l.rate, l.latency_duration
                ),
                format!("{} / {}", d.streams_open, d.streams_open_at_end),
            ),
            (
                "delivery: replies posted / acknowledged / failed".into(),
                format!("{} / {} / {}", d.posted, d.acknowledged, d.failed),
            ),
            (
                format!(
                    "delivery: delivered / lost (not arrived {} s after the end)",
                    l.grace
                ),
                format!("{} / {}", d.delivered, d.lost),
            ),
            (
                "delivery: ack → stream latency p50".into(),
                ms(d.latency_p50_ms),
            ),
            (
                "delivery: ack → stream latency p90".into(),
                ms(d.latency_p90_ms),
            ),
            (
                "delivery: ack → stream latency p99".into(),
                ms(d.latency_p99_ms),
            ),
            (
                "delivery: ack → stream latency p99.9".into(),
                ms(d.latency_p999_ms),
            ),
            (
                "delivery: ack → stream latency max".into(),
                ms(d.latency_max_ms),
            ),
            (
                "delivery: arrived before the ack (counted as 0 ms)".into(),
                d.arrived_before_ack.to_string(),
            ),
            (
                "server RSS: before streams / with all streams open".into(),
                format!(
                    "{} / {}",
                    kib(d.server_rss_before_streams_kib),
                    kib(d.server_rss_with_streams_kib)
                ),
            ),
            (
                "server RSS per idle stream".into(),
                d.server_rss_per_stream_kib
                    .map_or("n/a".into(), |v| format!("{v:.1} KiB")),
            ),
        ]);
    }
    let mut out = String::from("| measure | value |\n|---|---:|\n");
    for (name, value) in rows {
        out.push_str(&format!("| {name} | {value} |\n"));
    }
    out
}

fn ms(value: f64) -> String {
    format!("{value:.2} ms")
}
