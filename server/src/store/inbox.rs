//! The SQL of the inbox: the filtered, ordered conversation list with its
//! search, one conversation as agents see it, the customer panel, internal
//! notes, closing, reopening and assigning.
//!
//! Notes live in a table of their own: they take no `seq` (the customer's
//! stream relies on gapless seqs), and no customer query reads that table.
//!
//! Writes here go through the one-connection write pool and publish their
//! event before they give the connection back, so the feed carries changes
//! in commit order (the appender does the same).

use std::str::FromStr;

use messenger_wire::{
    AgentRef, ConversationStatus, CustomerIdentity, CustomerProfile, InboxConversation, Note,
    PastConversation,
};
use sqlx::any::AnyExecutor;
use sqlx::any::AnyRow;
use sqlx::{Connection, Row};

use super::db::{Backend, SqlBuilder};

use super::{Store, joined_message};
use crate::feed::FeedEvent;
use crate::ids;

/// Where and how a customer started a conversation (already validated).
#[derive(Debug, Clone, Default)]
pub struct StartContext {
    pub page_url: Option<String>,
    pub user_agent: Option<String>,
    pub language: Option<String>,
    /// The site a new customer belongs to (`None`: the default site).
    pub site_id: Option<String>,
}

/// Whose turn it is, among open conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// The customer wrote last (`waiting_since` is set).
    Us,
    /// We (an agent or a bot) wrote last.
    Customer,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AssigneeFilter {
    #[default]
    All,
    Unassigned,
    Agent(String),
}

/// Which conversations the inbox list shows.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub status: Option<ConversationStatus>,
    /// Implies open conversations only.
    pub waiting: Option<Waiting>,
    pub assignee: AssigneeFilter,
    /// Words of a message (full-text, each word as a prefix), or part of
    /// the customer's name or email.
    pub query: Option<String>,
}

/// Keyset position in the inbox list. The list is ordered by (group, key,
/// id): group 0 holds the open conversations waiting on us, keyed by
/// `waiting_since` (longest wait first); group 1 all the others, keyed by
/// minus `last_activity_at` (latest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxCursor {
    pub group: i64,
    pub key: i64,
    pub id: String,
}

/// What became of a note.
#[derive(Debug)]
pub enum NoteOutcome {
    Created(Note),
    /// The same agent sent this client id and body before: the original.
    Replayed(Note),
    /// The same agent used this client id for another body.
    Conflict,
    NoConversation,
}

#[derive(Debug)]
pub enum AssignOutcome {
    Done(Box<InboxConversation>),
    NoConversation,
    /// No such agent, or a disabled one.
    NoAgent,
}

const INBOX_COLUMNS: &str = "c.id, c.status, c.assignee_id, a.name AS assignee_name,
    c.customer_name, c.customer_email, c.created_at, c.last_activity_at, c.last_seq,
    c.customer_read_seq, c.agent_read_seq, c.waiting_since, c.closed_at,
    coalesce(s.id, 'default') AS site_id, coalesce(s.name, '') AS site_name,
    (SELECT count(*) FROM messages u
     WHERE u.conversation_id = c.id AND u.author = 'customer' AND u.seq > c.agent_read_seq) AS unread,
    m.id AS m_id, m.seq AS m_seq, m.author AS m_author, m.client_id AS m_client_id,
    m.body AS m_body, m.created_at AS m_created_at";

const INBOX_FROM: &str = " FROM conversations c
    LEFT JOIN agents a ON a.id = c.assignee_id
    LEFT JOIN customers cu ON cu.id = c.customer_id
    LEFT JOIN sites s ON s.id = cu.site_id
    LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq";

/// Waiting on us: open, and the customer wrote last.
const WAITING_ON_US: &str = "c.status = 'open' AND c.waiting_since IS NOT NULL";

const NOTE_SELECT: &str = "SELECT n.id, n.conversation_id, n.agent_id, a.name AS agent_name,
    n.client_id, n.body, n.created_at FROM notes n JOIN agents a ON a.id = n.agent_id";

/// One note, with its author's name.
pub(super) async fn load_note<'e, E: AnyExecutor<'e>>(
    executor: E,
    id: &str,
) -> Result<Option<Note>, sqlx::Error> {
    sqlx::query(&format!("{NOTE_SELECT} WHERE n.id = $1"))
        .bind(id)
        .map(|row: AnyRow| note_from_row(&row))
        .fetch_optional(executor)
        .await
}

/// One conversation as the inbox shows it, read through `executor` (a
/// writer's transaction, to publish exactly what it committed).
pub(super) async fn load_conversation<'e, E: AnyExecutor<'e>>(
    executor: E,
    id: &str,
) -> Result<Option<InboxConversation>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {INBOX_COLUMNS}{INBOX_FROM} WHERE c.id = $1"
    ))
    .bind(id)
    .map(|row: AnyRow| inbox_conversation_from_row(&row))
    .fetch_optional(executor)
    .await
}

impl Store {
    /// A page of the inbox list (conversations with at least one message),
    /// in the order of [`InboxCursor`], after `after`.
    pub async fn list_inbox(
        &self,
        filter: &InboxFilter,
        after: Option<&InboxCursor>,
        limit: u32,
    ) -> Result<(Vec<InboxConversation>, Option<InboxCursor>), sqlx::Error> {
        let mut sql = SqlBuilder::new("SELECT * FROM (SELECT ");
        sql.push(INBOX_COLUMNS);
        sql.push(format!(
            ", CASE WHEN {WAITING_ON_US} THEN 0 ELSE 1 END AS sort_group,
               CASE WHEN {WAITING_ON_US} THEN c.waiting_since ELSE -c.last_activity_at END AS sort_key"
        ));
        sql.push(INBOX_FROM);
        sql.push(" WHERE c.last_seq > 0");
        if let Some(status) = filter.status {
            sql.push(" AND c.status = ").push_bind(status.as_str());
        }
        match filter.waiting {
            Some(Waiting::Us) => {
                sql.push(format!(" AND {WAITING_ON_US}"));
            }
            Some(Waiting::Customer) => {
                sql.push(" AND c.status = 'open' AND c.waiting_since IS NULL");
            }
            None => {}
        }
        match &filter.assignee {
            AssigneeFilter::All => {}
            AssigneeFilter::Unassigned => {
                sql.push(" AND c.assignee_id IS NULL");
            }
            AssigneeFilter::Agent(id) => {
                sql.push(" AND c.assignee_id = ").push_bind(id.clone());
            }
        }
        if let Some(query) = filter
            .query
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
        {
            let like = format!("%{}%", escape_like(query));
            let ilike = self.backend.ilike();
            sql.push(format_args!(" AND (c.customer_name {ilike} "))
                .push_bind(like.clone())
                .push(format_args!(" ESCAPE '\\' OR c.customer_email {ilike} "))
                .push_bind(like)
                .push(" ESCAPE '\\'");
            match self.backend {
                Backend::Sqlite => {
                    if let Some(fts) = fts_query(query) {
                        sql.push(
                            " OR c.id IN (SELECT f.conversation_id FROM message_search
                               JOIN messages f ON f.position = message_search.rowid
                               WHERE message_search MATCH ",
                        )
                        .push_bind(fts)
                        .push(")");
                    }
                }
                Backend::Postgres => {
                    if let Some(tsquery) = tsquery(query) {
                        sql.push(
                            " OR c.id IN (SELECT f.conversation_id FROM messages f
                               WHERE to_tsvector('simple', messenger_words(f.body))
                                     @@ to_tsquery('simple', messenger_fold(",
                        )
                        .push_bind(tsquery)
                        .push(")))");
                    }
                }
            }
            sql.push(")");
        }
        let (group, key, id) = match after {
            Some(c) => (c.group, c.key, c.id.clone()),
            None => (-1, 0, String::new()),
        };
        sql.push(") AS listed WHERE (sort_group, sort_key, id) > (")
            .push_bind(group)
            .push(", ")
            .push_bind(key)
            .push(", ")
            .push_bind(id)
            .push(") ORDER BY sort_group, sort_key, id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let (sql, args) = sql.build();
        let mut rows = sqlx::query_with(&sql, args)
            .map(|row: AnyRow| {
                let cursor = InboxCursor {
                    group: row.get("sort_group"),
                    key: row.get("sort_key"),
                    id: row.get("id"),
                };
                (inbox_conversation_from_row(&row), cursor)
            })
            .fetch_all(&self.read)
            .await?;
        let next = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|(_, cursor)| cursor.clone())
        } else {
            None
        };
        Ok((rows.into_iter().map(|(c, _)| c).collect(), next))
    }

    /// One conversation as the inbox shows it.
    pub async fn inbox_conversation(
        &self,
        id: &str,
    ) -> Result<Option<InboxConversation>, sqlx::Error> {
        load_conversation(&self.read, id).await
    }

    /// The customer panel of a conversation: `first_seen` is the start of
    /// the customer's first conversation, and `past_conversations` their
    /// others (newest first, at most 20).
    pub async fn customer_profile(&self, id: &str) -> Result<Option<CustomerProfile>, sqlx::Error> {
        let profile = sqlx::query(
            "SELECT c.created_at, c.customer_name, c.customer_email, c.page_url, c.user_agent,
                    c.language, c.customer_id,
                    (SELECT min(o.created_at) FROM conversations o
                     WHERE o.customer_id = c.customer_id) AS first_seen
             FROM conversations c WHERE c.id = $1",
        )
        .bind(id)
        .map(|row: AnyRow| {
            let customer_id: Option<String> = row.get("customer_id");
            (
                customer_id,
                CustomerProfile {
                    name: row.get("customer_name"),
                    email: row.get("customer_email"),
                    first_seen: row
                        .get::<Option<i64>, _>("first_seen")
                        .unwrap_or_else(|| row.get("created_at")),
                    page_url: row.get("page_url"),
                    user_agent: row.get("user_agent"),
                    language: row.get("language"),
                    past_conversations: Vec::new(),
                },
            )
        })
        .fetch_optional(&self.read)
        .await?;
        let Some((customer_id, mut profile)) = profile else {
            return Ok(None);
        };
        if let Some(customer_id) = customer_id {
            profile.past_conversations = sqlx::query(
                "SELECT id, status, created_at, last_activity_at FROM conversations
                 WHERE customer_id = $1 AND id <> $2
                 ORDER BY last_activity_at DESC LIMIT 20",
            )
            .bind(&customer_id)
            .bind(id)
            .map(|row: AnyRow| PastConversation {
                id: row.get("id"),
                status: ConversationStatus::parse(row.get("status")).unwrap_or_default(),
                created_at: row.get("created_at"),
                last_activity_at: row.get("last_activity_at"),
            })
            .fetch_all(&self.read)
            .await?;
        }
        Ok(Some(profile))
    }

    /// When the message `seq` of the conversation was stored.
    pub async fn message_time(
        &self,
        conversation_id: &str,
        seq: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT created_at FROM messages WHERE conversation_id = $1 AND seq = $2",
        )
        .bind(conversation_id)
        .bind(seq)
        .fetch_optional(&self.read)
        .await
    }

    /// The conversation's notes created at `from` or later and before
    /// `until`, oldest first.
    pub async fn notes_between(
        &self,
        conversation_id: &str,
        from: i64,
        until: i64,
    ) -> Result<Vec<Note>, sqlx::Error> {
        sqlx::query(&format!(
            "{NOTE_SELECT} WHERE n.conversation_id = $1 AND n.created_at >= $2 AND n.created_at < $3
             ORDER BY n.created_at, n.id"
        ))
        .bind(conversation_id)
        .bind(from)
        .bind(until)
        .map(|row: AnyRow| note_from_row(&row))
        .fetch_all(&self.read)
        .await
    }

    /// Stores an internal note unless this agent sent this client id in
    /// this conversation before, and announces it to the agents' streams.
    pub async fn add_note(
        &self,
        conversation_id: &str,
        agent_id: &str,
        client_id: &str,
        body: &str,
        now: i64,
    ) -> Result<NoteOutcome, sqlx::Error> {
        let mut connection = self.write.acquire().await?;
        let mut tx = connection.begin().await?;
        let exists: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM conversations WHERE id = $1) THEN 1 ELSE 0 END",
        )
        .bind(conversation_id)
        .fetch_one(&mut *tx)
        .await?;
        if exists == 0 {
            return Ok(NoteOutcome::NoConversation);
        }
        let existing = sqlx::query(&format!(
            "{NOTE_SELECT} WHERE n.conversation_id = $1 AND n.agent_id = $2 AND n.client_id = $3"
        ))
        .bind(conversation_id)
        .bind(agent_id)
        .bind(client_id)
        .map(|row: AnyRow| note_from_row(&row))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(note) = existing {
            return Ok(if note.body == body {
                NoteOutcome::Replayed(note)
            } else {
                NoteOutcome::Conflict
            });
        }
        let id = ids::note_id();
        sqlx::query(
            "INSERT INTO notes (id, conversation_id, agent_id, client_id, body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(conversation_id)
        .bind(agent_id)
        .bind(client_id)
        .bind(body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let note = sqlx::query(&format!("{NOTE_SELECT} WHERE n.id = $1"))
            .bind(&id)
            .map(|row: AnyRow| note_from_row(&row))
            .fetch_one(&mut *tx)
            .await?;
        self.commit_announcing(tx, vec![FeedEvent::Note(note.clone())])
            .await?;
        drop(connection);
        Ok(NoteOutcome::Created(note))
    }

    /// Closes or opens a conversation, announcing it when that changed
    /// anything. `None`: no such conversation.
    pub async fn set_status(
        &self,
        id: &str,
        status: ConversationStatus,
        now: i64,
    ) -> Result<Option<InboxConversation>, sqlx::Error> {
        let mut connection = self.write.acquire().await?;
        let mut tx = connection.begin().await?;
        let changed = sqlx::query(
            "UPDATE conversations
             SET status = $1, closed_at = CASE WHEN $1 = 'closed' THEN $2 ELSE NULL END
             WHERE id = $3 AND status != $1",
        )
        .bind(status.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        let Some(conversation) = load_conversation(&mut *tx, id).await? else {
            return Ok(None);
        };
        let events = changed
            .then(|| FeedEvent::Conversation(Box::new(conversation.clone())))
            .into_iter()
            .collect();
        self.commit_announcing(tx, events).await?;
        drop(connection);
        Ok(Some(conversation))
    }

    /// Assigns a conversation to an enabled agent, or to nobody, announcing
    /// it when that changed anything.
    pub async fn assign(
        &self,
        id: &str,
        agent_id: Option<&str>,
    ) -> Result<AssignOutcome, sqlx::Error> {
        let mut connection = self.write.acquire().await?;
        let mut tx = connection.begin().await?;
        if let Some(agent_id) = agent_id {
            let enabled: Option<i64> = sqlx::query_scalar(
                "SELECT CASE WHEN disabled_at IS NULL THEN 1 ELSE 0 END FROM agents WHERE id = $1",
            )
            .bind(agent_id)
            .fetch_optional(&mut *tx)
            .await?;
            if enabled != Some(1) {
                return Ok(AssignOutcome::NoAgent);
            }
        }
        let changed = sqlx::query(
            "UPDATE conversations SET assignee_id = $1 WHERE id = $2 AND assignee_id IS DISTINCT FROM $1",
        )
        .bind(agent_id)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        let Some(conversation) = load_conversation(&mut *tx, id).await? else {
            return Ok(AssignOutcome::NoConversation);
        };
        let events = changed
            .then(|| FeedEvent::Conversation(Box::new(conversation.clone())))
            .into_iter()
            .collect();
        self.commit_announcing(tx, events).await?;
        drop(connection);
        Ok(AssignOutcome::Done(Box::new(conversation)))
    }
}

fn inbox_conversation_from_row(row: &AnyRow) -> InboxConversation {
    let assignee = row
        .get::<Option<String>, _>("assignee_id")
        .map(|id| AgentRef {
            id,
            name: row
                .get::<Option<String>, _>("assignee_name")
                .unwrap_or_default(),
        });
    InboxConversation {
        id: row.get("id"),
        status: ConversationStatus::parse(row.get("status")).unwrap_or(ConversationStatus::Open),
        assignee,
        customer: CustomerIdentity {
            name: row.get("customer_name"),
            email: row.get("customer_email"),
        },
        site: messenger_wire::SiteRef {
            id: row.get("site_id"),
            name: row.get("site_name"),
        },
        created_at: row.get("created_at"),
        last_activity_at: row.get("last_activity_at"),
        last_seq: row.get("last_seq"),
        customer_read_seq: row.get("customer_read_seq"),
        agent_read_seq: row.get("agent_read_seq"),
        waiting_since: row.get("waiting_since"),
        closed_at: row.get("closed_at"),
        unread: row.get("unread"),
        last_message: joined_message(row),
    }
}

fn note_from_row(row: &AnyRow) -> Note {
    Note {
        id: row.get("id"),
        conversation_id: row.get("conversation_id"),
        agent: AgentRef {
            id: row.get("agent_id"),
            name: row.get("agent_name"),
        },
        client_id: row.get("client_id"),
        body: row.get("body"),
        created_at: row.get("created_at"),
    }
}

/// `text` for `LIKE ... ESCAPE '\'`: its wildcards match themselves.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The FTS5 query for what an agent typed: its words (letters and digits;
/// the rest separates them, as the index's tokenizer does), each quoted and
/// matched as a prefix, all required. `None` when there is no word. Quoting
/// keeps FTS5's own syntax (AND, NEAR, column filters) out of user input.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// [`fts_query`] for PostgreSQL: the same words, each a prefix
/// (`'word':*`), all required. The words are letters and digits only, so
/// nothing of tsquery's own syntax comes from user input.
fn tsquery(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("'{}':*", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" & "))
}

impl FromStr for InboxCursor {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let mut parts = s.splitn(3, '.');
        let group: i64 = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        let key: i64 = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        let id = parts.next().ok_or(())?;
        if !(0..=1).contains(&group)
            || id.is_empty()
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(());
        }
        Ok(InboxCursor {
            group,
            key,
            id: id.to_owned(),
        })
    }
}

impl std::fmt::Display for InboxCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.group, self.key, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_become_quoted_prefixes() {
        assert_eq!(
            fts_query("refund NEAR(\"x\") ann@ex").as_deref(),
            Some("\"refund\"* \"NEAR\"* \"x\"* \"ann\"* \"ex\"*")
        );
        assert_eq!(fts_query(" -*- "), None);
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }

    #[test]
    fn cursors_round_trip_and_refuse_odd_input() {
        let cursor = InboxCursor {
            group: 1,
            key: -1_700_000_000_000,
            id: "c_0a".into(),
        };
        assert_eq!(cursor.to_string().parse::<InboxCursor>(), Ok(cursor));
        for bad in ["", "0.1", "2.1.c_a", "0.x.c_a", "0.1.c-a", "0.1."] {
            assert!(bad.parse::<InboxCursor>().is_err(), "{bad}");
        }
    }
}
