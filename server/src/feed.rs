//! The feed of live events: messages once committed, read receipts, typing,
//! and for agents only, conversation changes and internal notes.
//!
//! Producers publish after the fact they announce is durable (messages, read
//! marks) or, for typing, at once; every open stream subscribes and picks
//! the events of the conversations its credential may see. In one process
//! (SQLite) this is a broadcast channel. On PostgreSQL every event goes
//! through the database instead (see [`crate::store::notify`]): published
//! with `NOTIFY` (messages inside the transaction that stores them, so they
//! arrive in commit order), and received by each instance's one `LISTEN`
//! connection, which hands them to that instance's broadcast channel: a
//! stream on any instance sees what was written through any other, in the
//! same order everywhere.

use std::sync::{Arc, OnceLock};

use messenger_wire::{InboxConversation, Message, Note, ReadEvent, TypingEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

/// Events a slow subscriber may fall behind by before it gets `Lagged` and
/// must catch up from the database.
const BUFFER: usize = 4096;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FeedEvent {
    /// A message was committed. Messages are published in commit order, so
    /// their positions come one after the other (1, 2, 3 …) in the feed.
    Message {
        conversation_id: String,
        /// The message's global position (see [`crate::store`]).
        position: i64,
        message: Message,
    },
    Read(ReadEvent),
    Typing(TypingEvent),
    /// For agents only: a conversation was created (at its first message),
    /// closed or opened, or (un)assigned. Published after the commit.
    Conversation(Box<InboxConversation>),
    /// For agents only, never for the customer: an internal note.
    Note(Note),
    /// Events may have been missed (the connection that receives them from
    /// the other instances was lost): every stream reads what it holds
    /// afresh from the database, as after a lag.
    Resync,
    /// An inbox session or an agent API key (by id) was revoked: streams
    /// opened with it end (sent only through the database, to the other
    /// instances; see [`crate::accounts::Revocations`]).
    Revoked(String),
    /// A site's settings changed (by id): every instance reads it afresh.
    SiteChanged(String),
}

impl FeedEvent {
    pub fn conversation_id(&self) -> &str {
        match self {
            FeedEvent::Message {
                conversation_id, ..
            } => conversation_id,
            FeedEvent::Read(e) => &e.conversation_id,
            FeedEvent::Typing(e) => &e.conversation_id,
            FeedEvent::Conversation(c) => &c.id,
            FeedEvent::Note(n) => &n.conversation_id,
            FeedEvent::Resync | FeedEvent::Revoked(_) | FeedEvent::SiteChanged(_) => "",
        }
    }
}

#[derive(Clone)]
pub struct Feed {
    sender: broadcast::Sender<FeedEvent>,
    /// Set on PostgreSQL: where events go instead of `sender`.
    remote: Arc<OnceLock<Remote>>,
}

/// The way out to the other instances (see [`crate::store::notify`]).
#[derive(Clone)]
pub struct Remote {
    /// The `NOTIFY` channel of this database (and schema).
    pub channel: String,
    /// Payloads for the task that sends them, in order.
    pub outbox: mpsc::UnboundedSender<String>,
}

impl Feed {
    pub fn new() -> Self {
        Self::with_capacity(BUFFER)
    }

    /// A feed whose subscribers lag after `capacity` unread events (tests
    /// use a small one to exercise the catch-up after a lag).
    pub fn with_capacity(capacity: usize) -> Self {
        Feed {
            sender: broadcast::channel(capacity.max(1)).0,
            remote: Arc::default(),
        }
    }

    /// Announces `event` to every stream, of this instance and (on
    /// PostgreSQL) of all others.
    pub fn publish(&self, event: FeedEvent) {
        match self.remote.get() {
            Some(remote) => {
                for payload in crate::store::notify::payloads(std::slice::from_ref(&event)) {
                    let _ = remote.outbox.send(payload);
                }
            }
            None => self.publish_here(event),
        }
    }

    /// Announces `event` to this instance's streams only (what the
    /// database delivered, or everything with SQLite).
    pub fn publish_here(&self, event: FeedEvent) {
        // No subscriber is fine: nobody is watching.
        let _ = self.sender.send(event);
    }

    /// Sends events through the database from now on.
    pub fn go_remote(&self, remote: Remote) {
        let _ = self.remote.set(remote);
    }

    /// The database's channel, when events go through it.
    pub fn remote(&self) -> Option<&Remote> {
        self.remote.get()
    }

    /// Events published from now on, in publication order (so messages in
    /// position order, and in `seq` order within each conversation).
    pub fn subscribe(&self) -> broadcast::Receiver<FeedEvent> {
        self.sender.subscribe()
    }
}

impl Default for Feed {
    fn default() -> Self {
        Self::new()
    }
}
