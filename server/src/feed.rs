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

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use messenger_wire::{InboxConversation, Message, Note, ReadEvent, TypingEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

/// Events a slow subscriber may fall behind by before it gets `Lagged` and
/// must catch up from the database.
const BUFFER: usize = 4096;

/// Events a conversation's subscriber may have unread before it is dropped
/// from the feed (and so catches up from the database, as after a lag).
const CONVERSATION_BUFFER: usize = 64;

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
    /// The subscribers of single conversations (customer streams), by
    /// conversation: an event wakes only its own conversation's streams,
    /// not every stream of the server.
    conversations: Arc<Subscribers>,
    /// The buffer of each conversation's subscriber.
    conversation_capacity: usize,
}

/// Each conversation's subscribers: an id (to unsubscribe) and a sender.
type ByConversation = HashMap<String, Vec<(u64, mpsc::Sender<Arc<FeedEvent>>)>>;

#[derive(Default)]
struct Subscribers {
    by_conversation: Mutex<ByConversation>,
    next_id: AtomicU64,
}

impl Subscribers {
    fn lock(&self) -> std::sync::MutexGuard<'_, ByConversation> {
        // A panic elsewhere while holding it leaves the map usable.
        self.by_conversation
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands `event` to its conversation's subscribers; a subscriber that
    /// is full (or gone) is dropped, which ends its receiver: it then
    /// catches up from the database and subscribes again.
    fn publish(&self, event: &FeedEvent) {
        let mut map = self.lock();
        if matches!(event, FeedEvent::Resync) {
            let shared = Arc::new(FeedEvent::Resync);
            map.retain(|_, subscribers| {
                subscribers.retain(|(_, tx)| tx.try_send(shared.clone()).is_ok());
                !subscribers.is_empty()
            });
            return;
        }
        let id = event.conversation_id();
        if id.is_empty() {
            return;
        }
        let Some(subscribers) = map.get_mut(id) else {
            return;
        };
        let shared = Arc::new(event.clone());
        subscribers.retain(|(_, tx)| tx.try_send(shared.clone()).is_ok());
        if subscribers.is_empty() {
            map.remove(id);
        }
    }

    fn remove(&self, conversation_id: &str, id: u64) {
        let mut map = self.lock();
        if let Some(subscribers) = map.get_mut(conversation_id) {
            subscribers.retain(|(n, _)| *n != id);
            if subscribers.is_empty() {
                map.remove(conversation_id);
            }
        }
    }
}

/// The events of one conversation (and [`FeedEvent::Resync`]), in
/// publication order. [`ConversationFeed::recv`] answers `None` when the
/// subscriber fell too far behind (or the feed is gone): what it missed is
/// in the database.
pub struct ConversationFeed {
    receiver: mpsc::Receiver<Arc<FeedEvent>>,
    conversation_id: String,
    id: u64,
    subscribers: Arc<Subscribers>,
}

impl ConversationFeed {
    pub async fn recv(&mut self) -> Option<Arc<FeedEvent>> {
        self.receiver.recv().await
    }
}

impl Drop for ConversationFeed {
    fn drop(&mut self) {
        self.subscribers.remove(&self.conversation_id, self.id);
    }
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
            conversations: Arc::default(),
            conversation_capacity: capacity.clamp(1, CONVERSATION_BUFFER),
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
        self.conversations.publish(&event);
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

    /// Events of one conversation published from now on (and every
    /// [`FeedEvent::Resync`]), in publication order; see [`ConversationFeed`].
    pub fn subscribe_conversation(&self, conversation_id: &str) -> ConversationFeed {
        let (tx, receiver) = mpsc::channel(self.conversation_capacity);
        let id = self.conversations.next_id.fetch_add(1, Ordering::Relaxed);
        self.conversations
            .lock()
            .entry(conversation_id.to_owned())
            .or_default()
            .push((id, tx));
        ConversationFeed {
            receiver,
            conversation_id: conversation_id.to_owned(),
            id,
            subscribers: self.conversations.clone(),
        }
    }
}

impl Default for Feed {
    fn default() -> Self {
        Self::new()
    }
}
