//! `messenger-bench`: how many durable messages per second the server
//! acknowledges, next to what SQLite itself manages on the same disk.
//!
//! ```sh
//! bash scripts/bench.sh                      # builds the release server and the bench, then runs it
//! messenger-bench throughput --senders 16 --duration 5 --json bench.json
//! ```
//!
//! `throughput` starts the given server binary over a fresh SQLite file in a
//! temporary folder on 127.0.0.1:0, opens `--conversations` conversations and
//! lets `--senders` concurrent customers send for `--duration` seconds. In the
//! same folder it then times plain SQLite inserts with the server's settings
//! (WAL, `synchronous = FULL`): one row per commit, and batches of rows per
//! commit. The gap between the two is what sharing commits can win.
//!
//! Layout: `server.rs` runs the binary, `load.rs` sends, `sqlite.rs` is the
//! baseline; this file reads the flags and prints the results.

mod load;
mod server;
mod sqlite;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
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
    Throughput(ThroughputArgs),
}

#[derive(Parser, Debug, Clone, Serialize)]
struct ThroughputArgs {
    /// The server binary to measure (it is not built here).
    #[arg(long, default_value = "target/release/messenger-server")]
    server_bin: PathBuf,

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

    /// Folder for the temporary database files (default: the system's temporary folder).
    /// Use it to measure another disk.
    #[arg(long)]
    dir: Option<PathBuf>,

    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Serialize)]
struct Results {
    settings: ThroughputArgs,
    server: load::LoadResult,
    sqlite: sqlite::BaselineResult,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Cli {
        command: Command::Throughput(args),
    } = Cli::parse();

    let dir = match &args.dir {
        Some(parent) => tempfile::tempdir_in(parent)?,
        None => tempfile::tempdir()?,
    };
    eprintln!("temporary files in {}", dir.path().display());

    let server = server::ServerProcess::start(&args.server_bin, dir.path())?;
    eprintln!(
        "server {} listening on {}; {} senders over {} conversations for {} s (+{} s warm-up)",
        args.server_bin.display(),
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
    .await?;
    drop(server);

    eprintln!(
        "SQLite baseline: {} s one row per commit, {} s {} rows per commit",
        args.sqlite_duration, args.sqlite_duration, args.batch
    );
    let sqlite = sqlite::run(
        &dir.path().join("baseline.db"),
        Duration::from_secs(args.sqlite_duration),
        args.batch,
    )
    .await?;

    let results = Results {
        settings: args.clone(),
        server: load,
        sqlite,
    };
    print!("{}", markdown(&results));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)? + "\n")?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn markdown(r: &Results) -> String {
    let s = &r.server;
    let q = &r.sqlite;
    let rows = [
        (
            format!(
                "server: acknowledged messages/s ({} senders, {} conversations)",
                r.settings.senders, r.settings.conversations
            ),
            format!("{:.0}", s.messages_per_second),
        ),
        ("server: send latency p50".into(), ms(s.latency_p50_ms)),
        ("server: send latency p99".into(), ms(s.latency_p99_ms)),
        ("server: send latency max".into(), ms(s.latency_max_ms)),
        (
            "server: messages acknowledged / failed".into(),
            format!("{} / {}", s.acknowledged, s.failed),
        ),
        (
            "SQLite: single-row commits/s".into(),
            format!("{:.0}", q.single_row_commits_per_second),
        ),
        (
            format!("SQLite: rows/s in batches of {}", q.batch),
            format!("{:.0}", q.batched_rows_per_second),
        ),
    ];
    let mut out = String::from("| measure | value |\n|---|---:|\n");
    for (name, value) in rows {
        out.push_str(&format!("| {name} | {value} |\n"));
    }
    out
}

fn ms(value: f64) -> String {
    format!("{value:.2} ms")
}
