//! The baseline: plain SQLite inserts into a table shaped like the server's
//! `messages`, with the server's settings (WAL, `synchronous = FULL`), in the
//! same folder as the server's database. One row per commit is what a server
//! that commits each message on its own can reach at best; rows per second in
//! batches is what sharing a commit between messages can approach.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};

/// Upper bound on the commits of one baseline, whatever the duration.
const MAX_COMMITS: u64 = 10_000_000;

#[derive(Serialize, Debug)]
pub struct BaselineResult {
    pub single_row_commits_per_second: f64,
    pub batch: u32,
    pub batched_rows_per_second: f64,
}

pub async fn run(
    path: &Path,
    duration: Duration,
    batch: u32,
) -> Result<BaselineResult, sqlx::Error> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut db = SqliteConnection::connect_with(&options).await?;
    sqlx::query(
        "CREATE TABLE messages (
             id              TEXT    PRIMARY KEY NOT NULL,
             conversation_id TEXT    NOT NULL,
             seq             INTEGER NOT NULL,
             author          TEXT    NOT NULL,
             client_id       TEXT,
             body            TEXT    NOT NULL,
             created_at      INTEGER NOT NULL,
             UNIQUE (conversation_id, seq),
             UNIQUE (conversation_id, author, client_id)
         ) STRICT",
    )
    .execute(&mut db)
    .await?;

    let mut next_row = 0;
    let single = commits_per_second(&mut db, duration, 1, &mut next_row).await?;
    let batches = commits_per_second(&mut db, duration, batch, &mut next_row).await?;
    db.close().await?;

    Ok(BaselineResult {
        single_row_commits_per_second: single,
        batch,
        batched_rows_per_second: batches * f64::from(batch),
    })
}

/// Commits `rows` rows at a time for `duration`; returns commits per second.
async fn commits_per_second(
    db: &mut SqliteConnection,
    duration: Duration,
    rows: u32,
    next_row: &mut u64,
) -> Result<f64, sqlx::Error> {
    let start = Instant::now();
    let mut commits = 0u64;
    while start.elapsed() < duration && commits < MAX_COMMITS {
        insert_rows(db, *next_row, rows).await?;
        *next_row += u64::from(rows);
        commits += 1;
    }
    Ok(commits as f64 / start.elapsed().as_secs_f64())
}

/// Inserts rows `first..first + count` in one transaction.
async fn insert_rows(db: &mut SqliteConnection, first: u64, count: u32) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for n in first..first + u64::from(count) {
        let n = n as i64;
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, seq, author, client_id, body, created_at)
             VALUES (?, ?, ?, 'customer', ?, ?, ?)",
        )
        .bind(format!("m_{n:016x}"))
        .bind(format!("c_{:04}", n % 200))
        .bind(n)
        .bind(format!("baseline-{n}"))
        .bind("Hello, I have a question about my order. Could someone get back to me? Thanks!")
        .bind(n)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
