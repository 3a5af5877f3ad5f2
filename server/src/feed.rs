//! The feed of live events: messages once committed, read receipts, typing,
//! and for agents only, conversation changes and internal notes.
//!
//! Producers publish after the fact they announce is durable (messages, read
//! marks) or, for typing, at once; every open stream subscribes and picks
//! the events of the conversations its credential may see. In one process
//! this is a broadcast channel; several instances will share it through
//! PostgreSQL's LISTEN/NOTIFY behind the same two methods.

use messenger_wire::{InboxConversation, Message, Note, ReadEvent, TypingEvent};
use tokio::sync::broadcast;

/// Events a slow subscriber may fall behind by before it gets `Lagged` and
/// must catch up from the database.
const BUFFER: usize = 4096;

#[derive(Debug, Clone)]
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
        }
    }
}

#[derive(Clone)]
pub struct Feed {
    sender: broadcast::Sender<FeedEvent>,
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
        }
    }

    pub fn publish(&self, event: FeedEvent) {
        // No subscriber is fine: nobody is watching.
        let _ = self.sender.send(event);
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
