//! All SQL lives here: conversations and messages, and (in [`accounts`])
//! agent accounts and their inbox sessions, over SQLite (one file, the
//! default) or PostgreSQL (shared by several instances), through sqlx's
//! `Any` driver with one set of SQL (see [`db`]).
//!
//! SQLite runs in WAL mode with `synchronous = FULL`, so a commit is on disk
//! before its transaction returns; handlers acknowledge a message only after
//! [`Store::append_message`] returned. Each instance writes through a pool of
//! exactly one connection: SQLite admits one writer at a time anyway, and
//! serialising them here means concurrent sends never fail with
//! `SQLITE_BUSY`. Reads use a pool of their own and never wait for writes.
//!
//! Messages are appended by one task per instance with *group commit*: the
//! sends waiting while a commit is on its way to disk are stored together in
//! the next transaction, so many concurrent senders share one disk flush
//! instead of queueing for one each. Every message committed is then
//! announced on the [`Feed`], in commit order, for the live streams (on
//! PostgreSQL by `NOTIFY` inside the transaction: see [`notify`]).
//!
//! The appender also keeps each conversation's inbox state in step with its
//! messages, in the same transaction: `waiting_since` (the oldest customer
//! message no agent or bot has answered; NULL once one has), and a customer
//! message to a closed conversation opens it again. A customer message while
//! the site is closed (see [`crate::hours`]) is followed, in the same
//! transaction, by an automatic away reply (author `bot`, the next `seq`), at
//! most once per away period and conversation (`away_reply_for`); it leaves
//! `waiting_since` alone, since the customer still waits for a person.
//! Notes, statuses and assignments (see [`inbox`]) announce their events
//! with their commit too (`commit_announcing`), so events leave in commit
//! order.
//!
//! Besides its per-conversation `seq`, every message has a global *position*
//! (1, 2, 3 … across all conversations) that grows in commit order. It comes
//! from a counter row (`message_positions`) that each appending transaction
//! locks first and writes back last: the appenders of all instances take
//! turns, a reader's snapshot holds every position up to its highest, the
//! agent stream can resume from a position without missing anything, and
//! deleting messages (retention) never makes a position be given twice.

use std::str::FromStr;

use messenger_wire::{
    Author, Conversation, ConversationStatus, ConversationSummary, InboxConversation, Message,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Connection, Row, Transaction};
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use crate::config::Database;
use crate::feed::{Feed, FeedEvent};
use crate::ids;

mod accounts;
mod api_keys;
mod customers;
pub mod db;
pub mod identity;
mod inbox;
pub mod mail;
pub mod notify;
mod presence;
mod settings;
pub mod sites;
pub use accounts::{AgentRecord, SessionRecord};
pub use api_keys::{API_KEY_TOUCH_MS, ActiveApiKey};
pub use customers::ResumeRefusal;
pub use db::Backend;
pub use inbox::{
    AssignOutcome, AssigneeFilter, InboxCursor, InboxFilter, NoteOutcome, StartContext, Waiting,
};
pub use settings::{DEFAULT_SITE, SiteSettings};

/// Most sends stored in one transaction, unless configured otherwise
/// (`--write-batch`).
pub const DEFAULT_WRITE_BATCH: usize = 256;

/// Sends that may wait for the appender, at least; more with larger batches.
const MIN_QUEUE: usize = 1024;

#[derive(Clone)]
pub struct Store {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    appends: mpsc::Sender<AppendJob>,
    feed: Feed,
    /// Every site with its settings, in force (see [`sites`]).
    sites: sites::SiteCache,
    /// One writer of sites at a time (database, then the copy in memory).
    site_writes: std::sync::Arc<tokio::sync::Mutex<()>>,
    delays: std::sync::Arc<std::sync::RwLock<MailDelays>>,
}

/// One send waiting for the appender task.
struct AppendJob {
    /// Empty when `token` says which conversation.
    conversation_id: String,
    /// A customer's send by the hash of its conversation token and the
    /// request's site: the token is checked in the appending transaction
    /// itself (a revoked token is refused at once), and the send is
    /// [`Appended::NoConversation`] when it opens nothing on that site.
    token: Option<([u8; 32], String)>,
    author: Author,
    /// The signed-in agent who wrote it (inbox replies).
    agent_id: Option<String>,
    client_id: String,
    body: String,
    now: i64,
    /// When an agent reply is emailed if the customer has not seen it.
    followup_due_at: i64,
    /// When agents away from the inbox are emailed of a customer message.
    notify_due_at: i64,
    reply: oneshot::Sender<Result<Appended, sqlx::Error>>,
}

/// How long replies and customer messages wait before they are emailed.
#[derive(Debug, Clone, Copy)]
pub struct MailDelays {
    pub followup_ms: i64,
    pub agent_notify_ms: i64,
}

impl Default for MailDelays {
    fn default() -> Self {
        use crate::config::{DEFAULT_AGENT_NOTIFY_DELAY_SECS, DEFAULT_FOLLOWUP_DELAY_SECS};
        MailDelays {
            followup_ms: i64::from(DEFAULT_FOLLOWUP_DELAY_SECS) * 1000,
            agent_notify_ms: i64::from(DEFAULT_AGENT_NOTIFY_DELAY_SECS) * 1000,
        }
    }
}

/// What became of a send.
#[derive(Debug)]
pub enum Appended {
    /// Stored now, under a new `seq` and at this global position.
    Created(Message, i64),
    /// The same client id and body were stored before: the original.
    Replayed(Message),
    /// The client id was used before for a different body.
    Conflict,
    /// No such conversation.
    NoConversation,
}

/// Connections open and idle in the read and write pools.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub read_size: u32,
    pub read_idle: usize,
    pub write_size: u32,
    pub write_idle: usize,
}

/// Which slice of a conversation's history to read.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    /// The newest `limit` messages.
    Latest,
    /// The newest `limit` messages with `seq` below this.
    Before(i64),
    /// The oldest `limit` messages with `seq` above this.
    After(i64),
}

/// A message with its conversation and its global position.
#[derive(Debug, Clone)]
pub struct PositionedMessage {
    pub position: i64,
    pub conversation_id: String,
    pub message: Message,
}

/// Keyset position in the agent's conversation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    pub last_activity_at: i64,
    pub id: String,
}

impl Store {
    /// Opens (creating if needed) the database file and applies migrations.
    /// What becomes durable is announced on `feed`.
    pub async fn open(database: &Database, feed: Feed) -> Result<Self, sqlx::Error> {
        Self::open_with_batch(database, feed, DEFAULT_WRITE_BATCH).await
    }

    /// [`Store::open`], storing at most `write_batch` concurrent sends per
    /// commit (at least 1; 1 turns group commit off).
    pub async fn open_with_batch(
        database: &Database,
        feed: Feed,
        write_batch: usize,
    ) -> Result<Self, sqlx::Error> {
        Self::open_with(database, feed, write_batch, db::DEFAULT_MAX_CONNECTIONS).await
    }

    /// [`Store::open_with_batch`] with at most `max_connections` readers.
    pub async fn open_with(
        database: &Database,
        feed: Feed,
        write_batch: usize,
        max_connections: u32,
    ) -> Result<Self, sqlx::Error> {
        let write_batch = write_batch.max(1);
        let (write, read, backend) = db::connect(database, max_connections).await?;
        let sites: sites::SiteCache = std::sync::Arc::new(std::sync::RwLock::new(
            std::sync::Arc::new(sites::load_all(&write).await?),
        ));
        let (appends, jobs) = mpsc::channel(MIN_QUEUE.max(write_batch * 4));
        tokio::spawn(run_appender(
            write.clone(),
            jobs,
            feed.clone(),
            write_batch,
            sites.clone(),
        ));
        let store = Store {
            read,
            write,
            backend,
            appends,
            feed,
            sites,
            site_writes: std::sync::Arc::default(),
            delays: std::sync::Arc::default(),
        };
        if let Database::Postgres(url) = database {
            notify::start(&store, url).await?;
        }
        Ok(store)
    }

    /// Commits `tx` and announces `events`: on PostgreSQL they are notified
    /// inside it, so they reach every instance at the commit and in commit
    /// order with the messages (a close and the customer message that
    /// reopens it arrive in the order they happened); on SQLite they are
    /// published here after the commit, by the writer that still holds the
    /// one write connection.
    async fn commit_announcing(
        &self,
        mut tx: Transaction<'_, Any>,
        events: Vec<FeedEvent>,
    ) -> Result<(), sqlx::Error> {
        match self.feed.remote() {
            Some(remote) => {
                notify::notify_in(&mut tx, &remote.channel, &events).await?;
                tx.commit().await
            }
            None => {
                tx.commit().await?;
                for event in events {
                    self.feed.publish_here(event);
                }
                Ok(())
            }
        }
    }

    /// Sets how long replies and customer messages wait before email.
    pub fn set_mail_delays(&self, delays: MailDelays) {
        *self.delays.write().unwrap_or_else(|e| e.into_inner()) = delays;
    }

    /// Whether the database answers and every migration this build knows
    /// is applied (the readiness probe): `Err` says what is wrong.
    pub async fn check_ready(&self) -> Result<(), String> {
        let latest = self
            .backend
            .migrator()
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.read)
                .await
                .map_err(|e| format!("database unreachable: {e}"))?;
        match applied {
            Some(version) if version >= latest => Ok(()),
            applied => Err(format!(
                "migrations not applied: at {} of {latest}",
                applied.unwrap_or(0)
            )),
        }
    }

    /// Sends waiting for the appender (a queue depth for the metrics).
    pub fn append_queue_len(&self) -> usize {
        self.appends.max_capacity() - self.appends.capacity()
    }

    /// The connection pools' sizes, for the metrics.
    pub fn pool_stats(&self) -> PoolStats {
        PoolStats {
            read_size: self.read.size(),
            read_idle: self.read.num_idle(),
            write_size: self.write.size(),
            write_idle: self.write.num_idle(),
        }
    }

    /// Closes both pools, waiting for connections in use to come back.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    pub async fn create_conversation(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Conversation, sqlx::Error> {
        self.start_conversation(token_hash, now, &StartContext::default())
            .await
    }

    /// A new, empty conversation of a new customer, with where and how the
    /// customer started it.
    pub async fn start_conversation(
        &self,
        token_hash: &[u8],
        now: i64,
        context: &StartContext,
    ) -> Result<Conversation, sqlx::Error> {
        let (conversation, _) = self
            .start_conversation_for(token_hash, now, context, None)
            .await?;
        Ok(conversation)
    }

    /// A new, empty conversation of `customer` (a new customer if `None`),
    /// opened by the new token `token_hash`. Returns it and its customer's id.
    pub async fn start_conversation_for(
        &self,
        token_hash: &[u8],
        now: i64,
        context: &StartContext,
        customer: Option<&str>,
    ) -> Result<(Conversation, String), sqlx::Error> {
        let conversation = Conversation {
            id: ids::conversation_id(),
            created_at: now,
            last_activity_at: now,
            last_seq: 0,
            customer_read_seq: 0,
            agent_read_seq: 0,
            status: ConversationStatus::Open,
        };
        let mut tx = self.write.begin().await?;
        let customer_id = match customer {
            Some(id) => id.to_owned(),
            None => {
                let id = ids::customer_id();
                sqlx::query("INSERT INTO customers (id, site_id, created_at) VALUES ($1, $2, $3)")
                    .bind(&id)
                    .bind(context.site_id.as_deref().unwrap_or(DEFAULT_SITE))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                id
            }
        };
        sqlx::query(
            "INSERT INTO conversations
                 (id, token_hash, created_at, last_activity_at, last_seq, page_url, user_agent,
                  language, customer_id, customer_email, customer_name)
             VALUES ($1, $2, $3, $3, 0, $4, $5, $6, $7,
                     (SELECT email FROM customers WHERE id = $7),
                     (SELECT name FROM customers WHERE id = $7))",
        )
        .bind(&conversation.id)
        .bind(token_hash)
        .bind(now)
        .bind(&context.page_url)
        .bind(&context.user_agent)
        .bind(&context.language)
        .bind(&customer_id)
        .execute(&mut *tx)
        .await?;
        customers::insert_device_token(&mut tx, token_hash, &customer_id, &conversation.id, now)
            .await?;
        tx.commit().await?;
        Ok((conversation, customer_id))
    }

    /// The customer a token belongs to, and the conversation it opens, when
    /// that customer is one of `site_id`'s (a token opens nothing elsewhere).
    pub async fn customer_by_token_on(
        &self,
        token_hash: &[u8],
        site_id: &str,
    ) -> Result<Option<(String, Conversation)>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT t.customer_id, {} FROM customer_tokens t
             JOIN conversations c ON c.id = t.conversation_id
             JOIN customers u ON u.id = t.customer_id
             WHERE t.token_hash = $1 AND u.site_id = $2",
            CONVERSATION_COLUMNS_OF_C
        ))
        .bind(token_hash)
        .bind(site_id)
        .map(|row: AnyRow| (row.get("customer_id"), conversation_from_row(&row)))
        .fetch_optional(&self.read)
        .await
    }

    pub async fn conversation(&self, id: &str) -> Result<Option<Conversation>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1"
        ))
        .bind(id)
        .map(conversation_from_row)
        .fetch_optional(&self.read)
        .await
    }

    /// Up to `limit` messages of the window, in ascending `seq` order, and
    /// whether older messages exist before the first one returned.
    pub async fn messages(
        &self,
        conversation_id: &str,
        window: Window,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), sqlx::Error> {
        // Newest-first windows fetch one row more than asked: it tells
        // whether older messages exist.
        let (sql, bound, rows_wanted, newest_first) = match window {
            Window::Latest => (OLDER_THAN, i64::MAX, i64::from(limit) + 1, true),
            Window::Before(seq) => (OLDER_THAN, seq, i64::from(limit) + 1, true),
            Window::After(seq) => (NEWER_THAN, seq, i64::from(limit), false),
        };
        let mut rows = sqlx::query(sql)
            .bind(conversation_id)
            .bind(bound)
            .bind(rows_wanted)
            .map(message_from_row)
            .fetch_all(&self.read)
            .await?;
        if !newest_first {
            return Ok((rows, false));
        }
        let has_older = rows.len() as i64 == rows_wanted;
        rows.truncate(limit as usize);
        rows.reverse();
        Ok((rows, has_older))
    }

    /// The highest message position stored (0 when there is no message):
    /// a stream that starts from it carries only what is committed later.
    pub async fn last_position(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT last FROM message_positions WHERE id = 1")
            .fetch_one(&self.read)
            .await
    }

    /// Up to `limit` messages of any conversation with a position above
    /// `after`, in position (that is, commit) order.
    pub async fn messages_after_position(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<PositionedMessage>, sqlx::Error> {
        sqlx::query(AFTER_POSITION)
            .bind(after)
            .bind(i64::from(limit))
            .map(|row: AnyRow| PositionedMessage {
                position: row.get("position"),
                conversation_id: row.get("conversation_id"),
                message: message_from_row(row),
            })
            .fetch_all(&self.read)
            .await
    }

    /// Stores a message unless its client id was seen before in this
    /// conversation for this author; see [`Appended`]. Returns only after the
    /// commit is durable. If the caller goes away meanwhile, the send still
    /// completes: a retry with the same client id then finds it.
    pub async fn append_message(
        &self,
        conversation_id: &str,
        author: Author,
        client_id: &str,
        body: &str,
        now: i64,
    ) -> Result<Appended, sqlx::Error> {
        self.append(conversation_id, None, author, None, client_id, body, now)
            .await
    }

    /// [`Store::append_message`] of a customer's message to the
    /// conversation of a token (by its hash) of a customer of `site_id`,
    /// checked in the same transaction; [`Appended::NoConversation`] when
    /// the token opens none there. One statement finds the conversation,
    /// checks the token and looks for the client id.
    pub async fn append_customer_message(
        &self,
        token_hash: [u8; 32],
        site_id: &str,
        client_id: &str,
        body: &str,
        now: i64,
    ) -> Result<Appended, sqlx::Error> {
        let token = Some((token_hash, site_id.to_owned()));
        self.append("", token, Author::Customer, None, client_id, body, now)
            .await
    }

    /// [`Store::append_message`] of an agent's reply from the inbox,
    /// recording which agent wrote it.
    pub async fn append_agent_reply(
        &self,
        conversation_id: &str,
        agent_id: &str,
        client_id: &str,
        body: &str,
        now: i64,
    ) -> Result<Appended, sqlx::Error> {
        let agent_id = Some(agent_id.to_owned());
        self.append(
            conversation_id,
            None,
            Author::Agent,
            agent_id,
            client_id,
            body,
            now,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn append(
        &self,
        conversation_id: &str,
        token: Option<([u8; 32], String)>,
        author: Author,
        agent_id: Option<String>,
        client_id: &str,
        body: &str,
        now: i64,
    ) -> Result<Appended, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        let delays = *self.delays.read().unwrap_or_else(|e| e.into_inner());
        let job = AppendJob {
            followup_due_at: now + delays.followup_ms,
            notify_due_at: now + delays.agent_notify_ms,
            conversation_id: conversation_id.to_owned(),
            token,
            author,
            agent_id,
            client_id: client_id.to_owned(),
            body: body.to_owned(),
            now,
            reply,
        };
        self.appends
            .send(job)
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }

    /// Records that `reader` has seen the conversation up to `seq` (capped
    /// at its last message; a mark never moves back) and announces it when
    /// it moved. Returns the conversation as it now stands.
    pub async fn mark_read(
        &self,
        conversation_id: &str,
        reader: Author,
        seq: i64,
    ) -> Result<Option<Conversation>, sqlx::Error> {
        let column = match reader {
            Author::Agent => "agent_read_seq",
            _ => "customer_read_seq",
        };
        // Only a mark that moves forward updates the row (and so returns it).
        let moved = sqlx::query(&format!(
            "UPDATE conversations SET {column} = CASE WHEN $1 < last_seq THEN $1 ELSE last_seq END
             WHERE id = $2 AND {column} < $1 AND {column} < last_seq
             RETURNING {CONVERSATION_COLUMNS}"
        ))
        .bind(seq)
        .bind(conversation_id)
        .map(conversation_from_row)
        .fetch_optional(&self.write)
        .await?;
        let Some(conversation) = moved else {
            return self.conversation(conversation_id).await;
        };
        let seq = match reader {
            Author::Agent => conversation.agent_read_seq,
            _ => conversation.customer_read_seq,
        };
        self.feed
            .publish(FeedEvent::Read(messenger_wire::ReadEvent {
                conversation_id: conversation_id.to_owned(),
                reader,
                seq,
            }));
        Ok(Some(conversation))
    }

    /// Conversations with at least one message, most recently active first,
    /// each with its latest message.
    pub async fn list_conversations(
        &self,
        after: Option<&ListCursor>,
        limit: u32,
    ) -> Result<(Vec<ConversationSummary>, Option<ListCursor>), sqlx::Error> {
        let (at, id) = match after {
            Some(c) => (c.last_activity_at, c.id.as_str()),
            None => (i64::MAX, ""),
        };
        let mut rows = sqlx::query(
            "SELECT c.id, c.created_at, c.last_activity_at, c.last_seq,
                    c.customer_read_seq, c.agent_read_seq, c.status,
                    m.id AS m_id, m.seq AS m_seq, m.author AS m_author,
                    m.client_id AS m_client_id, m.body AS m_body, m.created_at AS m_created_at
             FROM conversations c
             LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq
             WHERE c.last_seq > 0
               AND (c.last_activity_at < $1 OR (c.last_activity_at = $1 AND ($2 = '' OR c.id < $2)))
             ORDER BY c.last_activity_at DESC, c.id DESC
             LIMIT $3",
        )
        .bind(at)
        .bind(id)
        .bind(i64::from(limit) + 1)
        .map(|row: AnyRow| ConversationSummary {
            conversation: conversation_from_row(&row),
            last_message: joined_message(&row),
        })
        .fetch_all(&self.read)
        .await?;
        let next = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|s| ListCursor {
                last_activity_at: s.conversation.last_activity_at,
                id: s.conversation.id.clone(),
            })
        } else {
            None
        };
        Ok((rows, next))
    }
}

/// The one task that appends messages: it takes every send waiting (up to
/// `max_batch`), stores them in one transaction, answers each after the
/// commit, and publishes what was created, in position order (each message
/// followed by the change of its conversation, if it created or reopened
/// one), before it gives the connection back.
async fn run_appender(
    pool: AnyPool,
    mut jobs: mpsc::Receiver<AppendJob>,
    feed: Feed,
    max_batch: usize,
    sites: sites::SiteCache,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while jobs.recv_many(&mut batch, max_batch).await > 0 {
        let mut connection = match pool.acquire().await {
            Ok(connection) => Some(connection),
            Err(err) => {
                tracing::error!(error = %err, "the appender has no connection");
                None
            }
        };
        let current = sites.read().unwrap_or_else(|e| e.into_inner()).clone();
        let result = match connection.as_deref_mut() {
            Some(connection) => append_batch(connection, &batch, &current, &feed).await,
            None => Err(sqlx::Error::PoolTimedOut),
        };
        match result {
            Ok(outcomes) => {
                // On PostgreSQL the events went out with the commit.
                if feed.remote().is_none() {
                    for event in batch_events(&outcomes) {
                        feed.publish_here(event);
                    }
                }
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = job.reply.send(outcome.map(|(appended, _, _, _)| appended));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, sends = batch.len(), "group commit failed");
                for job in batch.drain(..) {
                    let _ = job
                        .reply
                        .send(Err(sqlx::Error::Protocol(format!("commit failed: {err}"))));
                }
            }
        }
    }
}

/// What a committed batch announces, in position order: each message
/// followed by the change of its conversation (if it created or reopened
/// one), then the away reply it caused, if any.
fn batch_events(outcomes: &[AppendOutcome]) -> Vec<FeedEvent> {
    let mut events = Vec::new();
    for outcome in outcomes {
        let Ok((appended, changed, away, conversation_id)) = outcome else {
            continue;
        };
        if let Appended::Created(message, position) = appended {
            events.push(FeedEvent::Message {
                conversation_id: conversation_id.clone(),
                position: *position,
                message: message.clone(),
            });
        }
        if let Some(conversation) = changed {
            events.push(FeedEvent::Conversation(Box::new(conversation.clone())));
        }
        if let Some((message, position)) = away {
            events.push(FeedEvent::Message {
                conversation_id: conversation_id.clone(),
                position: *position,
                message: message.clone(),
            });
        }
    }
    events
}

/// Appends a batch in one transaction. On PostgreSQL the batch's events
/// are notified in the same transaction.
///
/// A batch is first tried as a whole: no savepoints, and the messages
/// inserted together (see [`BatchState`]). If any send fails there, the
/// transaction is rolled back and the batch runs again with each send in a
/// savepoint, so one that fails is undone alone and the others still
/// commit. Nothing is answered or announced before the commit, so the first
/// try leaves no trace.
async fn append_batch(
    connection: &mut AnyConnection,
    batch: &[AppendJob],
    sites: &sites::Sites,
    feed: &Feed,
) -> Result<Vec<AppendOutcome>, sqlx::Error> {
    if let Some(outcomes) = try_append_batch(connection, batch, sites, feed, false).await? {
        return Ok(outcomes);
    }
    try_append_batch(connection, batch, sites, feed, true)
        .await?
        .ok_or_else(|| sqlx::Error::Protocol("a batch with savepoints gave up".into()))
}

/// One try of [`append_batch`]: with `isolated`, each send in a savepoint
/// and every outcome kept; without, `None` (and nothing written) as soon as
/// one send fails.
async fn try_append_batch(
    connection: &mut AnyConnection,
    batch: &[AppendJob],
    sites: &sites::Sites,
    feed: &Feed,
    isolated: bool,
) -> Result<Option<Vec<AppendOutcome>>, sqlx::Error> {
    let mut tx = connection.begin().await?;
    // First of all, the counter of positions: on PostgreSQL its row lock,
    // held until the commit, makes the appenders of all instances take
    // turns, so positions become visible in the order they were given (and
    // per-conversation `seq` and client ids are decided one after the other).
    // The batch numbers its messages from the value read here and writes
    // the last one back before its commit: two statements per batch.
    let first: i64 =
        sqlx::query_scalar("UPDATE message_positions SET last = last WHERE id = 1 RETURNING last")
            .fetch_one(&mut *tx)
            .await?;
    let mut last_position = first;
    let mut state = BatchState {
        pending: (!isolated).then(Vec::new),
        ..BatchState::default()
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        if !isolated {
            let outcome = append_one(&mut tx, job, sites, &mut last_position, &mut state).await;
            if outcome.is_err() {
                tx.rollback().await?;
                return Ok(None);
            }
            outcomes.push(outcome);
            continue;
        }
        sqlx::query("SAVEPOINT send").execute(&mut *tx).await?;
        let before = last_position;
        let outcome = append_one(&mut tx, job, sites, &mut last_position, &mut state).await;
        if outcome.is_err() {
            sqlx::query("ROLLBACK TO send").execute(&mut *tx).await?;
            // Its positions are given again: no hole.
            last_position = before;
        }
        sqlx::query("RELEASE send").execute(&mut *tx).await?;
        outcomes.push(outcome);
    }
    if state.flush(&mut tx).await.is_err() {
        // A message the batch wrote twice (the same client id in two sends
        // of one batch), or the database refused: the sends one by one.
        tx.rollback().await?;
        return Ok(None);
    }
    if last_position != first {
        sqlx::query("UPDATE message_positions SET last = $1 WHERE id = 1")
            .bind(last_position)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(remote) = feed.remote() {
        notify::notify_in(&mut tx, &remote.channel, &batch_events(&outcomes)).await?;
    }
    tx.commit().await?;
    Ok(Some(outcomes))
}

/// What the sends of one transaction share.
#[derive(Default)]
struct BatchState {
    /// Messages to insert with one statement, before anything reads
    /// messages and before the commit; `None`: each inserted at once (the
    /// sends in savepoints).
    pending: Option<Vec<PendingMessage>>,
    /// A customer message to an unassigned conversation scheduled every
    /// agent's notification: scheduling again changes nothing.
    all_agents_notified: bool,
    /// Agents whose notification this transaction scheduled.
    agents_notified: std::collections::HashSet<String>,
}

/// A message waiting in [`BatchState::pending`].
struct PendingMessage {
    conversation_id: String,
    message: Message,
    agent_id: Option<String>,
    position: i64,
}

/// Rows per multi-row INSERT: a few fixed sizes (64, 16, 4, 1), so only a
/// few statements are ever prepared, and far below any limit of bound
/// parameters (9 a row).
const INSERT_CHUNKS: [usize; 4] = [64, 16, 4, 1];

impl BatchState {
    /// Inserts the pending messages, if any.
    async fn flush(&mut self, tx: &mut Transaction<'_, Any>) -> Result<(), sqlx::Error> {
        let Some(pending) = self.pending.as_mut() else {
            return Ok(());
        };
        let mut rows = &pending[..];
        while !rows.is_empty() {
            let size = INSERT_CHUNKS
                .into_iter()
                .find(|&size| size <= rows.len())
                .unwrap_or(1);
            let (chunk, rest) = rows.split_at(size);
            let mut query = sqlx::query(insert_messages_sql(size));
            for row in chunk {
                query = query
                    .bind(&row.message.id)
                    .bind(&row.conversation_id)
                    .bind(row.message.seq)
                    .bind(row.message.author.as_str())
                    .bind(&row.message.client_id)
                    .bind(&row.message.body)
                    .bind(row.message.created_at)
                    .bind(row.position)
                    .bind(&row.agent_id);
            }
            query.execute(&mut **tx).await?;
            rows = rest;
        }
        pending.clear();
        Ok(())
    }
}

/// `INSERT INTO messages … VALUES (…), (…)` of `rows` rows (one of
/// [`INSERT_CHUNKS`]), built once per size.
fn insert_messages_sql(rows: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<(usize, String)>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        INSERT_CHUNKS
            .into_iter()
            .map(|size| {
                let values: Vec<String> = (0..size)
                    .map(|row| {
                        let params: Vec<String> =
                            (1..=9).map(|col| format!("${}", row * 9 + col)).collect();
                        format!("({})", params.join(", "))
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO messages (id, conversation_id, seq, author, client_id, body, created_at, position, agent_id) VALUES {}",
                    values.join(", ")
                );
                (size, sql)
            })
            .collect()
    });
    all.iter()
        .find(|(size, _)| *size == rows)
        .map(|(_, sql)| sql.as_str())
        .expect("a size of INSERT_CHUNKS")
}

/// What became of one send, the conversation as it now stands if the send
/// created it (its first message) or opened it again, and the automatic
/// away reply stored after it (with its position), if any.
type AppendOutcome = Result<Sent, sqlx::Error>;

/// A send's outcome as [`AppendOutcome`] holds it.
type Sent = (
    Appended,
    Option<InboxConversation>,
    Option<(Message, i64)>,
    // The conversation (found by its token, for a customer's send by token).
    String,
);

/// The conversation a send goes to, and the message its author already sent
/// with its client id, if any, read with one statement.
const SEND_TARGET: &str = "SELECT c.id AS conversation_id, c.status, c.last_seq, coalesce(u.site_id, 'default') AS site_id, c.assignee_id,
        m.id AS m_id, m.seq AS m_seq, m.author AS m_author, m.client_id AS m_client_id,
        m.body AS m_body, m.created_at AS m_created_at
     FROM conversations c
     LEFT JOIN customers u ON u.id = c.customer_id
     LEFT JOIN messages m ON m.conversation_id = c.id AND m.author = $2 AND m.client_id = $3
     WHERE c.id = $1";

/// [`SEND_TARGET`] for a customer's send by token ($1 its hash, $4 the
/// request's site): the token's customer must be of that site.
const SEND_TARGET_BY_TOKEN: &str = "SELECT c.id AS conversation_id, c.status, c.last_seq,
        coalesce(cu.site_id, 'default') AS site_id, c.assignee_id,
        m.id AS m_id, m.seq AS m_seq, m.author AS m_author, m.client_id AS m_client_id,
        m.body AS m_body, m.created_at AS m_created_at
     FROM customer_tokens t
     JOIN customers tu ON tu.id = t.customer_id
     JOIN conversations c ON c.id = t.conversation_id
     LEFT JOIN customers cu ON cu.id = c.customer_id
     LEFT JOIN messages m ON m.conversation_id = c.id AND m.author = $2 AND m.client_id = $3
     WHERE t.token_hash = $1 AND tu.site_id = $4";

struct SendTarget {
    conversation_id: String,
    status: String,
    last_seq: i64,
    site_id: String,
    assignee_id: Option<String>,
    existing: Option<Message>,
}

async fn append_one(
    tx: &mut Transaction<'_, Any>,
    job: &AppendJob,
    sites: &sites::Sites,
    last_position: &mut i64,
    state: &mut BatchState,
) -> AppendOutcome {
    let query = match &job.token {
        None => sqlx::query(SEND_TARGET)
            .bind(&job.conversation_id)
            .bind(job.author.as_str())
            .bind(&job.client_id),
        Some((hash, site_id)) => sqlx::query(SEND_TARGET_BY_TOKEN)
            .bind(&hash[..])
            .bind(job.author.as_str())
            .bind(&job.client_id)
            .bind(site_id),
    };
    let found = query
        .map(|row: AnyRow| SendTarget {
            conversation_id: row.get("conversation_id"),
            status: row.get("status"),
            last_seq: row.get("last_seq"),
            site_id: row.get("site_id"),
            assignee_id: row.get("assignee_id"),
            existing: joined_message(&row),
        })
        .fetch_optional(&mut **tx)
        .await?;
    // No conversation, no message in it either.
    let Some(SendTarget {
        conversation_id,
        status,
        last_seq,
        site_id,
        assignee_id,
        existing,
    }) = found
    else {
        return Ok((Appended::NoConversation, None, None, String::new()));
    };
    if let Some(existing) = existing {
        return Ok((
            if existing.body == job.body {
                Appended::Replayed(existing)
            } else {
                Appended::Conflict
            },
            None,
            None,
            conversation_id,
        ));
    }
    let reopens = job.author == Author::Customer && status == "closed";
    // The next `seq`, from the row just read: this transaction holds the
    // counter of positions (see `append_batch`), so no other append runs
    // meanwhile; the update checks it all the same (no RETURNING: SQLite
    // buffers what RETURNING returns in a temporary table). Every
    // expression of SET sees the row as it was before. A customer message
    // starts the wait unless one is running; after a close it starts a new
    // one (closing dealt with what came before). An agent's or a bot's
    // message ends it; a system message changes nothing.
    let seq = last_seq + 1;
    let updated = sqlx::query(
        "UPDATE conversations
         SET last_seq = $4, last_activity_at = CASE WHEN $1 > last_activity_at THEN $1 ELSE last_activity_at END,
             waiting_since = CASE $2
                 WHEN 'customer' THEN
                     CASE WHEN status = 'closed' THEN $1 ELSE coalesce(waiting_since, $1) END
                 WHEN 'agent' THEN NULL
                 WHEN 'bot' THEN NULL
                 ELSE waiting_since END,
             status = CASE WHEN $2 = 'customer' THEN 'open' ELSE status END,
             closed_at = CASE WHEN $2 = 'customer' THEN NULL ELSE closed_at END
         WHERE id = $3 AND last_seq = $5",
    )
    .bind(job.now)
    .bind(job.author.as_str())
    .bind(&conversation_id)
    .bind(seq)
    .bind(last_seq)
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(sqlx::Error::Protocol(format!(
            "the conversation {} moved on while a message was appended",
            conversation_id
        )));
    }
    let message = Message {
        id: ids::message_id(),
        seq,
        author: job.author,
        client_id: Some(job.client_id.clone()),
        body: job.body.clone(),
        created_at: job.now,
    };
    // The next global position, from the counter row this transaction holds
    // (see `append_batch`): positions grow in commit order, on every
    // instance, and a failed send (rolled back to its savepoint) leaves no
    // hole.
    let position = insert_message(
        tx,
        &conversation_id,
        &message,
        job.agent_id.as_deref(),
        last_position,
        state,
    )
    .await?;
    let changed = if seq == 1 || reopens {
        // It reads the conversation's last message.
        state.flush(tx).await?;
        inbox::load_conversation(&mut **tx, &conversation_id).await?
    } else {
        None
    };
    let away = if job.author == Author::Customer {
        let settings = sites.hours_of(&site_id);
        away_reply(
            tx,
            &conversation_id,
            &settings,
            job.now,
            last_position,
            state,
        )
        .await?
    } else {
        None
    };
    schedule_emails(tx, job, &conversation_id, assignee_id.as_deref(), state).await?;
    Ok((
        Appended::Created(message, position),
        changed,
        away,
        conversation_id,
    ))
}

/// Schedules the emails a new message may lead to (see [`mail`]): an
/// agent's reply, to the customer with an email address who has not seen it
/// by then; a customer's message, to the assigned agent (every agent while
/// unassigned) who is not in the inbox by then. A due time already set
/// stays (and the row is not written again): what comes in the meantime
/// goes in the same email.
///
/// Within one transaction a customer message schedules nothing new once the
/// same agents were scheduled (its conversation's assignee, or every agent
/// for an unassigned one): the statement is then left out.
async fn schedule_emails(
    tx: &mut Transaction<'_, Any>,
    job: &AppendJob,
    conversation_id: &str,
    assignee_id: Option<&str>,
    state: &mut BatchState,
) -> Result<(), sqlx::Error> {
    match job.author {
        Author::Agent => {
            sqlx::query(
                "UPDATE conversations SET followup_due_at = $1
                 WHERE id = $2 AND followup_due_at IS NULL AND customer_id IN
                     (SELECT id FROM customers WHERE email IS NOT NULL AND unsubscribed_at IS NULL)",
            )
            .bind(job.followup_due_at)
            .bind(conversation_id)
            .execute(&mut **tx)
            .await?;
        }
        Author::Customer => {
            let scheduled = state.all_agents_notified
                || assignee_id.is_some_and(|agent| state.agents_notified.contains(agent));
            if scheduled {
                return Ok(());
            }
            sqlx::query(
                "UPDATE agents SET notify_due_at = $1
                 WHERE notify_due_at IS NULL AND disabled_at IS NULL AND email_notifications = 1
                   AND coalesce((SELECT assignee_id FROM conversations WHERE id = $2), id) = id",
            )
            .bind(job.notify_due_at)
            .bind(conversation_id)
            .execute(&mut **tx)
            .await?;
            match assignee_id {
                None => state.all_agents_notified = true,
                Some(agent) => {
                    state.agents_notified.insert(agent.to_owned());
                }
            }
        }
        Author::Bot | Author::System => {}
    }
    Ok(())
}

/// After a customer's message while the site is closed: the automatic away
/// reply (author `bot`), unless the conversation already got one for this
/// away period, identified by when it ends (the next opening). It takes the
/// next `seq` but leaves `waiting_since` alone: the customer still waits
/// for a person.
async fn away_reply(
    tx: &mut Transaction<'_, Any>,
    conversation_id: &str,
    settings: &SiteSettings,
    now: i64,
    last_position: &mut i64,
    state: &mut BatchState,
) -> Result<Option<(Message, i64)>, sqlx::Error> {
    let hours = &settings.hours;
    if hours.is_open(now) {
        return Ok(None);
    }
    let next_open = hours.next_open(now);
    let period = next_open.unwrap_or(i64::MAX);
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE conversations
         SET last_seq = last_seq + 1, last_activity_at = CASE WHEN $1 > last_activity_at THEN $1 ELSE last_activity_at END,
             away_reply_for = $2
         WHERE id = $3 AND (away_reply_for IS NULL OR away_reply_for <> $2)
         RETURNING last_seq",
    )
    .bind(now)
    .bind(period)
    .bind(conversation_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(seq) = seq else {
        return Ok(None);
    };
    let message = Message {
        id: ids::message_id(),
        seq,
        author: Author::Bot,
        client_id: None,
        body: crate::hours::away_text(settings.settings.away_message.as_deref(), hours, next_open),
        created_at: now,
    };
    let position =
        insert_message(tx, conversation_id, &message, None, last_position, state).await?;
    Ok(Some((message, position)))
}

/// Inserts a message at the next global position after `last_position`
/// (the batch's counter, which moves on), and returns it; or leaves it to
/// the batch's one INSERT ([`BatchState::pending`]).
async fn insert_message(
    tx: &mut Transaction<'_, Any>,
    conversation_id: &str,
    message: &Message,
    agent_id: Option<&str>,
    last_position: &mut i64,
    state: &mut BatchState,
) -> Result<i64, sqlx::Error> {
    *last_position += 1;
    let position = *last_position;
    if let Some(pending) = state.pending.as_mut() {
        pending.push(PendingMessage {
            conversation_id: conversation_id.to_owned(),
            message: message.clone(),
            agent_id: agent_id.map(str::to_owned),
            position,
        });
        return Ok(position);
    }
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, seq, author, client_id, body, created_at, position, agent_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&message.id)
    .bind(conversation_id)
    .bind(message.seq)
    .bind(message.author.as_str())
    .bind(&message.client_id)
    .bind(&message.body)
    .bind(message.created_at)
    .bind(position)
    .bind(agent_id)
    .execute(&mut **tx)
    .await?;
    Ok(position)
}

const CONVERSATION_COLUMNS: &str =
    "id, created_at, last_activity_at, last_seq, customer_read_seq, agent_read_seq, status";

/// [`CONVERSATION_COLUMNS`] of a query where conversations are `c`.
const CONVERSATION_COLUMNS_OF_C: &str = "c.id, c.created_at, c.last_activity_at, c.last_seq, \
     c.customer_read_seq, c.agent_read_seq, c.status";

/// The one list of a message's columns, so every query reads the same shape
/// (a macro, because `concat!` takes only literals).
macro_rules! select_messages {
    () => {
        "SELECT id, conversation_id, position, seq, author, client_id, body, created_at FROM messages"
    };
}

const OLDER_THAN: &str = concat!(
    select_messages!(),
    " WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
);

const NEWER_THAN: &str = concat!(
    select_messages!(),
    " WHERE conversation_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3"
);

const AFTER_POSITION: &str = concat!(
    select_messages!(),
    " WHERE position > $1 ORDER BY position ASC LIMIT $2"
);

fn conversation_from_row<R: std::borrow::Borrow<AnyRow>>(row: R) -> Conversation {
    let row = row.borrow();
    Conversation {
        id: row.get("id"),
        created_at: row.get("created_at"),
        last_activity_at: row.get("last_activity_at"),
        last_seq: row.get("last_seq"),
        customer_read_seq: row.get("customer_read_seq"),
        agent_read_seq: row.get("agent_read_seq"),
        status: ConversationStatus::parse(row.get("status")).unwrap_or_default(),
    }
}

/// The message joined into a row under `m_`-prefixed columns (a
/// conversation's last message, an earlier send with the same client id),
/// if there is one.
fn joined_message(row: &AnyRow) -> Option<Message> {
    row.get::<Option<String>, _>("m_id").map(|id| Message {
        id,
        seq: row.get("m_seq"),
        author: parse_author(row.get("m_author")),
        client_id: row.get("m_client_id"),
        body: row.get("m_body"),
        created_at: row.get("m_created_at"),
    })
}

fn message_from_row(row: AnyRow) -> Message {
    Message {
        id: row.get("id"),
        seq: row.get("seq"),
        author: parse_author(row.get("author")),
        client_id: row.get("client_id"),
        body: row.get("body"),
        created_at: row.get("created_at"),
    }
}

/// The schema's CHECK constraint admits only the four known authors.
fn parse_author(s: &str) -> Author {
    Author::parse(s).unwrap_or(Author::System)
}

impl FromStr for ListCursor {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (at, id) = s.split_once('.').ok_or(())?;
        let last_activity_at = at.parse().map_err(|_| ())?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(());
        }
        Ok(ListCursor {
            last_activity_at,
            id: id.to_owned(),
        })
    }
}

impl std::fmt::Display for ListCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.last_activity_at, self.id)
    }
}
