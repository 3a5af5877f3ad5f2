//! Retention (`--retention-days N`, off by default): conversations closed
//! more than N days ago are deleted, with everything that is theirs alone.
//!
//! A background task runs a pass soon after start and then every hour. Of
//! several instances sharing one database only one runs a given pass: a pass
//! starts by claiming the `retention` row of `job_leases` for a little less
//! than the interval (one statement that succeeds only while the lease is
//! free, expired or already ours), and an instance that cannot claim it skips
//! the pass.
//!
//! "Closed more than N days ago" reads `conversations.closed_at`, set when an
//! agent closes a conversation and cleared when it opens again (a customer
//! message reopens it). A pass deletes, per conversation: its messages
//! (SQLite's full-text index follows by trigger), internal notes, device
//! tokens (`customer_tokens`), and the row itself, which holds the read marks
//! and the rest of the inbox state. A customer left with no conversation goes
//! too, with its resume links and unsubscribe codes, unless it is identified
//! (`external_id`: a signed-in user of the site, whom the site may bring back).
//! Outgoing emails are not tied to conversations, but they copy replies into
//! their bodies: emails sent or given up more than N days ago are deleted as
//! well; emails still waiting to go out stay.
//!
//! Deletions go in batches (at most [`BATCH_CONVERSATIONS`] conversations and
//! about [`BATCH_MESSAGES`] messages per transaction), so a large purge never
//! holds the database's writer for long. Each batch first re-checks and locks
//! its conversations (`UPDATE … RETURNING`), so a conversation reopened in the
//! meantime is left alone. SQL here is portable (SQLite and PostgreSQL,
//! `$1` placeholders).

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Database;

/// The database driver of this module (the one place to change it).
type Db = sqlx::Any;
/// A pool of connections to the database.
pub type Pool = sqlx::Pool<Db>;

/// Time between two passes.
pub const PASS_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// How long a pass's lease keeps other instances from running one: a bit
/// less than the interval, so the holder's next pass finds it expired.
pub const LEASE_MS: i64 = 55 * 60 * 1000;
/// The lease's name in `job_leases`.
pub const LEASE_NAME: &str = "retention";
/// Most conversations deleted in one transaction.
pub const BATCH_CONVERSATIONS: usize = 500;
/// About the most messages deleted in one transaction (a batch takes at
/// least one conversation, however long).
pub const BATCH_MESSAGES: i64 = 10_000;
/// Pause between two batches, so that writers waiting for the lock get it.
const BATCH_PAUSE: Duration = Duration::from_millis(20);

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What a pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub conversations: u64,
    pub messages: u64,
    pub customers: u64,
    pub emails: u64,
}

impl std::ops::AddAssign for Purged {
    fn add_assign(&mut self, other: Purged) {
        self.conversations += other.conversations;
        self.messages += other.messages;
        self.customers += other.customers;
        self.emails += other.emails;
    }
}

/// The retention job of one server instance.
pub struct Retention {
    pool: Pool,
    days: u32,
    clock: Clock,
    /// This instance, as `job_leases.holder` knows it.
    holder: String,
    /// Passes completed (run or skipped), for tests to wait on.
    passes: watch::Sender<u64>,
}

impl Retention {
    /// Retention of conversations closed more than `days` days ago, over a
    /// connection of its own to the (migrated) database.
    pub async fn open(database: &Database, days: u32, clock: Clock) -> Result<Self, sqlx::Error> {
        // One connection: batches are small, and on SQLite the server's
        // own writer waits (busy timeout) while one commits.
        let pool = crate::store::db::connect_one(database).await?;
        Ok(Self::with_pool(pool, days, clock))
    }

    /// Retention over the given pool.
    pub fn with_pool(pool: Pool, days: u32, clock: Clock) -> Self {
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).expect("the operating system's random source failed");
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        Retention {
            pool,
            days,
            clock,
            holder: format!("pid{}-{id}", std::process::id()),
            passes: watch::Sender::new(0),
        }
    }

    pub fn days(&self) -> u32 {
        self.days
    }

    /// Conversations closed before this are deleted now.
    pub fn cutoff_ms(&self) -> i64 {
        self.clock.now_ms() - i64::from(self.days) * DAY_MS
    }

    /// One pass: `None` when another instance holds the lease, else what
    /// was deleted.
    pub async fn run_pass(&self) -> Result<Option<Purged>, sqlx::Error> {
        let now = self.clock.now_ms();
        if !claim_lease(&self.pool, LEASE_NAME, &self.holder, now, now + LEASE_MS).await? {
            return Ok(None);
        }
        purge_closed_before(&self.pool, self.cutoff_ms())
            .await
            .map(Some)
    }

    /// The number of passes completed by the background task so far.
    pub fn passes(&self) -> watch::Receiver<u64> {
        self.passes.subscribe()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Runs a pass now and then every [`PASS_INTERVAL`] until `shutdown` turns
/// true.
pub fn spawn(retention: Arc<Retention>, mut shutdown: watch::Receiver<bool>) {
    tracing::info!(days = retention.days, "retention on");
    tokio::spawn(async move {
        while !*shutdown.borrow() {
            match retention.run_pass().await {
                Ok(Some(purged)) if purged != Purged::default() => tracing::info!(
                    conversations = purged.conversations,
                    messages = purged.messages,
                    customers = purged.customers,
                    emails = purged.emails,
                    days = retention.days,
                    "retention: deleted what was closed too long ago"
                ),
                Ok(Some(_)) => tracing::debug!("retention: nothing to delete"),
                Ok(None) => tracing::debug!("retention: another instance holds the pass"),
                Err(err) => {
                    tracing::warn!(error = %err, "retention pass failed; trying again later")
                }
            }
            retention.passes.send_modify(|n| *n += 1);
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(PASS_INTERVAL) => {}
            }
        }
        retention.close().await;
    });
}

/// Claims the lease `name` for `holder` until `until_ms`, if it is free,
/// expired at `now_ms`, or `holder`'s already. Whether it was claimed: of
/// concurrent claimants exactly one gets it (the row is written by one
/// statement, which waits for any other writing it).
pub async fn claim_lease(
    pool: &Pool,
    name: &str,
    holder: &str,
    now_ms: i64,
    until_ms: i64,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "INSERT INTO job_leases (name, holder, until_ms) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms
         WHERE job_leases.until_ms <= $4 OR job_leases.holder = excluded.holder",
    )
    .bind(name)
    .bind(holder)
    .bind(until_ms)
    .bind(now_ms)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

/// Deletes the conversations closed before `cutoff_ms` (and what goes with
/// them, see the module's doc), batch after batch.
pub async fn purge_closed_before(pool: &Pool, cutoff_ms: i64) -> Result<Purged, sqlx::Error> {
    let mut total = Purged::default();
    loop {
        let (purged, more) = purge_batch(pool, cutoff_ms).await?;
        total += purged;
        if !more {
            break;
        }
        tokio::time::sleep(BATCH_PAUSE).await;
    }
    loop {
        let emails = sqlx::query(
            "DELETE FROM mail_queue WHERE id IN (
                 SELECT id FROM mail_queue
                 WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < $1
                 ORDER BY id LIMIT $2)",
        )
        .bind(cutoff_ms)
        .bind(BATCH_CONVERSATIONS as i64)
        .execute(pool)
        .await?
        .rows_affected();
        total.emails += emails;
        if emails < BATCH_CONVERSATIONS as u64 {
            break;
        }
        tokio::time::sleep(BATCH_PAUSE).await;
    }
    Ok(total)
}

/// `$first, $first+1, …`: `n` placeholders.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One transaction's worth; whether more may be left.
async fn purge_batch(pool: &Pool, cutoff_ms: i64) -> Result<(Purged, bool), sqlx::Error> {
    let candidates: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, last_seq FROM conversations
         WHERE status = 'closed' AND closed_at < $1
         ORDER BY closed_at, id LIMIT $2",
    )
    .bind(cutoff_ms)
    .bind(BATCH_CONVERSATIONS as i64)
    .fetch_all(pool)
    .await?;
    let found = candidates.len();
    let mut messages = 0;
    let chosen: Vec<String> = candidates
        .into_iter()
        .enumerate()
        .take_while(|(i, (_, last_seq))| {
            messages += last_seq;
            *i == 0 || messages <= BATCH_MESSAGES
        })
        .map(|(_, (id, _))| id)
        .collect();
    if chosen.is_empty() {
        return Ok((Purged::default(), false));
    }
    // A full batch, or one cut short by its messages, may leave more.
    let more = found == BATCH_CONVERSATIONS || chosen.len() < found;

    let mut tx = pool.begin().await?;
    // Re-checked and locked: one reopened since is left alone, and nothing
    // can reopen these until the transaction ends. (A write as the first
    // statement also takes SQLite's write lock at once.)
    let lock = format!(
        "UPDATE conversations SET closed_at = closed_at
         WHERE status = 'closed' AND closed_at < $1 AND id IN ({})
         RETURNING id, customer_id",
        placeholders(2, chosen.len())
    );
    let locked = chosen
        .iter()
        .fold(sqlx::query(&lock).bind(cutoff_ms), |q, id| q.bind(id))
        .fetch_all(&mut *tx)
        .await?;
    let ids: Vec<String> = locked.iter().map(|row| row.get("id")).collect();
    let mut customers: Vec<String> = locked
        .iter()
        .filter_map(|row| row.get::<Option<String>, _>("customer_id"))
        .collect();
    customers.sort();
    customers.dedup();
    if ids.is_empty() {
        tx.commit().await?;
        return Ok((Purged::default(), more));
    }

    let mut purged = Purged::default();
    let in_ids = placeholders(1, ids.len());
    for (table, column) in [
        ("messages", "conversation_id"),
        ("notes", "conversation_id"),
        ("customer_tokens", "conversation_id"),
        ("conversations", "id"),
    ] {
        let sql = format!("DELETE FROM {table} WHERE {column} IN ({in_ids})");
        let deleted = ids
            .iter()
            .fold(sqlx::query(&sql), |q, id| q.bind(id))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        match table {
            "messages" => purged.messages = deleted,
            "conversations" => purged.conversations = deleted,
            _ => {}
        }
    }

    if !customers.is_empty() {
        let sql = format!(
            "SELECT id FROM customers
             WHERE external_id IS NULL AND id IN ({})
               AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.customer_id = customers.id)",
            placeholders(1, customers.len())
        );
        let orphans: Vec<String> = customers
            .iter()
            .fold(sqlx::query_scalar(&sql), |q, id| q.bind(id))
            .fetch_all(&mut *tx)
            .await?;
        if !orphans.is_empty() {
            let in_orphans = placeholders(1, orphans.len());
            for table in [
                "customer_tokens",
                "resume_links",
                "unsubscribe_codes",
                "customers",
            ] {
                let column = if table == "customers" {
                    "id"
                } else {
                    "customer_id"
                };
                let sql = format!("DELETE FROM {table} WHERE {column} IN ({in_orphans})");
                let deleted = orphans
                    .iter()
                    .fold(sqlx::query(&sql), |q, id| q.bind(id))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if table == "customers" {
                    purged.customers = deleted;
                }
            }
        }
    }
    tx.commit().await?;
    Ok((purged, more))
}
