//! The conversation as the panel shows it: the messages the server has
//! acknowledged, in `seq` order, followed by the customer's messages that are
//! still on their way.
//!
//! Messages reach the widget by several paths (the history page, the stream, the
//! answer to a send), sometimes twice and out of order; [`Timeline::merge`] is
//! the one place that reconciles them, by `seq` and by `client_id`. Pure Rust,
//! so it is unit-tested natively.

use messenger_wire::{Author, Message};

/// Where a customer's message stands, as shown next to it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Status {
    /// In the outbox, being sent.
    Sending,
    /// In the outbox while the network or the server is unreachable; sent
    /// automatically once it is back.
    Waiting,
    /// Stored by the server.
    Sent,
    /// The latest of the customer's messages an agent has read.
    Seen,
    /// Refused by the server for good.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Sending => "sending",
            Status::Waiting => "waiting",
            Status::Sent => "sent",
            Status::Seen => "seen",
            Status::Failed => "failed",
        }
    }
}

/// Delivery state of a message the server has not acknowledged.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Delivery {
    /// In the outbox: sent in turn, retried until the server answers.
    Queued,
    /// The server refused it (a 4xx); the reason is the server's message.
    /// Sending the same message again would fail the same way.
    Refused(String),
}

/// A customer message written in this panel and not yet acknowledged.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Pending {
    /// Generated once; every retry reuses it so the server stores it once.
    pub client_id: String,
    pub body: String,
    /// When the customer sent it (Unix ms, local clock).
    pub created_at: i64,
    pub delivery: Delivery,
}

/// One message as the view draws it. Equal entries draw identically, so the
/// whole entry doubles as the key of its row.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Entry {
    /// Stable across the pending → acknowledged transition of a message.
    pub id: String,
    pub author: Author,
    pub body: String,
    pub created_at: i64,
    /// Only for the customer's own messages.
    pub status: Option<Status>,
    /// Why the server refused it, for [`Status::Failed`] messages.
    pub refusal: Option<String>,
    /// Set while the message is not acknowledged, to remove it.
    pub pending_id: Option<String>,
}

#[derive(Clone, Default, Debug)]
pub struct Timeline {
    /// Acknowledged messages, ascending by `seq`, each `seq` once.
    messages: Vec<Message>,
    /// In the order the customer wrote them; drawn after `messages`.
    pending: Vec<Pending>,
    /// Every message with `seq <= synced` is known, so the stream resumes
    /// after it. Kept apart from the highest `seq` held, because the
    /// answer to a send can arrive before an agent's earlier message.
    synced: i64,
    /// The highest `seq` an agent has read.
    agent_read: i64,
    /// The outbox cannot reach the server for now.
    stalled: bool,
}

impl Timeline {
    /// Adds acknowledged messages, replacing what is already held for the
    /// same `seq` and settling the pending message with the same `client_id`.
    pub fn merge(&mut self, incoming: impl IntoIterator<Item = Message>) {
        for message in incoming {
            if message.author == Author::Customer
                && let Some(client_id) = &message.client_id
            {
                self.pending.retain(|p| &p.client_id != client_id);
            }
            match self.messages.binary_search_by_key(&message.seq, |m| m.seq) {
                Ok(i) => self.messages[i] = message,
                Err(i) => self.messages.insert(i, message),
            }
        }
        // `seq`s have no gaps: holding the one right after the sync point
        // means everything up to it is known.
        if let Ok(mut i) = self
            .messages
            .binary_search_by_key(&(self.synced + 1), |m| m.seq)
        {
            while self
                .messages
                .get(i)
                .is_some_and(|m| m.seq == self.synced + 1)
            {
                self.synced += 1;
                i += 1;
            }
        }
    }

    /// Merges messages that are complete up to their last `seq` (the latest
    /// page of history, or an answer to "everything after `synced`").
    pub fn merge_synced(&mut self, incoming: Vec<Message>) {
        if let Some(last) = incoming.last() {
            self.synced = self.synced.max(last.seq);
        }
        self.merge(incoming);
    }

    pub fn synced(&self) -> i64 {
        self.synced
    }

    /// The highest `seq` held, 0 when none.
    pub fn last_seq(&self) -> i64 {
        self.messages.last().map_or(0, |m| m.seq)
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.pending.is_empty()
    }

    /// Messages from anyone but the customer that came after `seen`.
    pub fn unread_after(&self, seen: i64) -> usize {
        self.messages
            .iter()
            .filter(|m| m.seq > seen && m.author != Author::Customer)
            .count()
    }

    /// Adds a message to the outbox, unless it is there already or has
    /// been acknowledged (another tab may have sent it from the same
    /// stored outbox).
    pub fn push_pending(&mut self, pending: Pending) {
        let known = self
            .pending
            .iter()
            .any(|p| p.client_id == pending.client_id)
            || self.messages.iter().any(|m| {
                m.author == Author::Customer
                    && m.client_id.as_deref() == Some(pending.client_id.as_str())
            });
        if !known {
            self.pending.push(pending);
        }
    }

    /// Takes in the stored outbox (`stored`, in the order written), which
    /// every tab shares: entries not held yet are added, a refusal recorded
    /// there stands here too, and a refused entry no longer stored (the
    /// customer removed it in another tab) goes. A queued entry missing
    /// from storage stays: it may just have been sent, or just written.
    pub fn take_stored(&mut self, stored: Vec<Pending>) {
        self.pending.retain(|p| {
            !matches!(p.delivery, Delivery::Refused(_))
                || stored.iter().any(|s| s.client_id == p.client_id)
        });
        for entry in stored {
            if let Delivery::Refused(reason) = &entry.delivery {
                self.refuse(&entry.client_id, reason.clone());
            }
            self.push_pending(entry);
        }
    }

    /// The messages not acknowledged yet, in the order they were written.
    pub fn pending(&self) -> &[Pending] {
        &self.pending
    }

    /// The oldest message waiting to be sent. Sending one at a time, and
    /// not the next before this one is stored, keeps the customer's messages
    /// in the order they were written.
    pub fn next_to_send(&self) -> Option<Pending> {
        self.pending
            .iter()
            .find(|p| p.delivery == Delivery::Queued)
            .cloned()
    }

    /// The server refused the message for good: it leaves the queue and
    /// shows why.
    pub fn refuse(&mut self, client_id: &str, reason: String) {
        if let Some(p) = self.pending.iter_mut().find(|p| p.client_id == client_id) {
            p.delivery = Delivery::Refused(reason);
        }
    }

    /// Removes a message from the outbox (the customer dismissed a refused
    /// one).
    pub fn remove_pending(&mut self, client_id: &str) {
        self.pending.retain(|p| p.client_id != client_id);
    }

    pub fn is_stalled(&self) -> bool {
        self.stalled
    }

    pub fn set_stalled(&mut self, stalled: bool) {
        self.stalled = stalled;
    }

    /// An agent has read the conversation up to `seq`.
    pub fn agent_read(&mut self, seq: i64) {
        self.agent_read = self.agent_read.max(seq);
    }

    /// Drops the history of a conversation the server no longer knows. The
    /// customer's unsent messages stay in the outbox; they start a new
    /// conversation.
    pub fn forget_history(&mut self) {
        self.messages.clear();
        self.synced = 0;
        self.agent_read = 0;
    }

    /// Whether the server holds a message of the customer's among those shown.
    pub fn customer_has_written(&self) -> bool {
        self.messages.iter().any(|m| m.author == Author::Customer)
    }

    /// Everything to draw, in order.
    pub fn entries(&self) -> Vec<Entry> {
        // "Seen" goes under the latest of the customer's messages an agent
        // has read.
        let seen_seq = self
            .messages
            .iter()
            .rev()
            .find(|m| m.author == Author::Customer && m.seq <= self.agent_read)
            .map(|m| m.seq);
        let acknowledged = self.messages.iter().map(|m| {
            let own = m.author == Author::Customer;
            Entry {
                id: match (&m.client_id, own) {
                    (Some(client_id), true) => format!("c:{client_id}"),
                    _ => format!("m:{}", m.id),
                },
                author: m.author,
                body: m.body.clone(),
                created_at: m.created_at,
                status: own.then_some(if Some(m.seq) == seen_seq {
                    Status::Seen
                } else {
                    Status::Sent
                }),
                refusal: None,
                pending_id: None,
            }
        });
        let pending = self.pending.iter().map(|p| Entry {
            id: format!("c:{}", p.client_id),
            author: Author::Customer,
            body: p.body.clone(),
            created_at: p.created_at,
            status: Some(match p.delivery {
                Delivery::Queued if self.stalled => Status::Waiting,
                Delivery::Queued => Status::Sending,
                Delivery::Refused(_) => Status::Failed,
            }),
            refusal: match &p.delivery {
                Delivery::Refused(reason) => Some(reason.clone()),
                _ => None,
            },
            pending_id: Some(p.client_id.clone()),
        });
        acknowledged.chain(pending).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: i64, author: Author, client_id: Option<&str>) -> Message {
        Message {
            id: format!("id{seq}"),
            seq,
            author,
            client_id: client_id.map(str::to_owned),
            body: format!("body {seq}"),
            created_at: seq * 1000,
        }
    }

    fn pending(client_id: &str) -> Pending {
        Pending {
            client_id: client_id.to_owned(),
            body: "hello".to_owned(),
            created_at: 0,
            delivery: Delivery::Queued,
        }
    }

    fn seqs(t: &Timeline) -> Vec<i64> {
        t.messages.iter().map(|m| m.seq).collect()
    }

    #[test]
    fn merging_keeps_seq_order_and_shows_each_message_once() {
        let mut t = Timeline::default();
        t.merge([
            message(3, Author::Agent, None),
            message(1, Author::Bot, None),
        ]);
        t.merge([
            message(2, Author::Agent, None),
            message(3, Author::Agent, None),
        ]);
        assert_eq!(seqs(&t), [1, 2, 3]);
    }

    #[test]
    fn an_acknowledged_message_replaces_its_pending_copy_under_the_same_row_id() {
        let mut t = Timeline::default();
        t.push_pending(pending("a"));
        let before = t.entries()[0].id.clone();
        t.merge([message(1, Author::Customer, Some("a"))]);
        let entries = t.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].id, before);
        assert_eq!(entries[0].status, Some(Status::Sent));
    }

    #[test]
    fn pending_messages_stay_after_acknowledged_ones() {
        let mut t = Timeline::default();
        t.push_pending(pending("a"));
        t.merge([message(7, Author::Agent, None)]);
        let authors: Vec<_> = t.entries().iter().map(|e| e.author).collect();
        assert_eq!(authors, [Author::Agent, Author::Customer]);
    }

    #[test]
    fn an_acknowledgement_ahead_of_the_stream_does_not_move_the_sync_point() {
        let mut t = Timeline::default();
        t.merge_synced(vec![message(1, Author::Bot, None)]);
        t.merge([message(3, Author::Customer, Some("a"))]);
        assert_eq!(t.synced(), 1);
        assert_eq!(t.last_seq(), 3);
        // The missing message closes the gap.
        t.merge([message(2, Author::Agent, None)]);
        assert_eq!(t.synced(), 3);
    }

    #[test]
    fn messages_are_sent_in_order_and_a_refused_one_does_not_block_the_next() {
        let mut t = Timeline::default();
        t.push_pending(pending("a"));
        t.push_pending(pending("b"));
        t.push_pending(pending("c"));
        assert_eq!(t.next_to_send().unwrap().client_id, "a");
        t.refuse("a", "too long".into());
        assert_eq!(t.next_to_send().unwrap().client_id, "b");
        t.merge([message(1, Author::Customer, Some("b"))]);
        assert_eq!(t.next_to_send().unwrap().client_id, "c");
        t.merge([message(2, Author::Customer, Some("c"))]);
        assert!(
            t.next_to_send().is_none(),
            "a refused message is not retried"
        );
        let statuses: Vec<_> = t.entries().iter().map(|e| e.status).collect();
        assert_eq!(
            statuses,
            [Some(Status::Sent), Some(Status::Sent), Some(Status::Failed)]
        );
    }

    #[test]
    fn a_stored_message_already_acknowledged_is_not_queued_again() {
        let mut t = Timeline::default();
        t.merge([message(1, Author::Customer, Some("a"))]);
        t.push_pending(pending("a"));
        t.push_pending(pending("b"));
        t.push_pending(pending("b"));
        let ids: Vec<_> = t.pending().iter().map(|p| p.client_id.as_str()).collect();
        assert_eq!(ids, ["b"]);
    }

    #[test]
    fn the_stored_outbox_adds_new_entries_and_refusals_but_keeps_what_may_be_in_flight() {
        let mut t = Timeline::default();
        t.push_pending(pending("mine"));
        t.push_pending(pending("refused-elsewhere"));
        t.push_pending(pending("removed-elsewhere"));
        t.refuse("removed-elsewhere", "too long".into());
        let mut refused = pending("refused-elsewhere");
        refused.delivery = Delivery::Refused("too long".into());
        // "mine" is not stored (yet, or any more): it stays queued.
        t.take_stored(vec![refused, pending("from-another-tab")]);
        let state: Vec<_> = t
            .pending()
            .iter()
            .map(|p| (p.client_id.as_str(), p.delivery.clone()))
            .collect();
        assert_eq!(
            state,
            [
                ("mine", Delivery::Queued),
                ("refused-elsewhere", Delivery::Refused("too long".into())),
                ("from-another-tab", Delivery::Queued),
            ]
        );
        assert_eq!(t.next_to_send().unwrap().client_id, "mine");
    }

    #[test]
    fn queued_messages_wait_while_the_outbox_is_stalled() {
        let mut t = Timeline::default();
        t.push_pending(pending("a"));
        assert_eq!(t.entries()[0].status, Some(Status::Sending));
        t.set_stalled(true);
        assert_eq!(t.entries()[0].status, Some(Status::Waiting));
    }

    #[test]
    fn seen_marks_the_latest_customer_message_an_agent_has_read() {
        let mut t = Timeline::default();
        t.merge([
            message(1, Author::Customer, Some("a")),
            message(2, Author::Customer, Some("b")),
            message(3, Author::Agent, None),
            message(4, Author::Customer, Some("c")),
        ]);
        let statuses = |t: &Timeline| -> Vec<_> { t.entries().iter().map(|e| e.status).collect() };
        assert!(!statuses(&t).contains(&Some(Status::Seen)));
        t.agent_read(3);
        assert_eq!(
            statuses(&t),
            [
                Some(Status::Sent),
                Some(Status::Seen),
                None,
                Some(Status::Sent)
            ]
        );
        t.agent_read(1);
        assert_eq!(
            statuses(&t)[1],
            Some(Status::Seen),
            "read marks never go back"
        );
    }

    #[test]
    fn unread_counts_only_other_authors_after_seen() {
        let mut t = Timeline::default();
        t.merge([
            message(1, Author::Agent, None),
            message(2, Author::Customer, Some("a")),
            message(3, Author::Bot, None),
            message(4, Author::System, None),
        ]);
        assert_eq!(t.unread_after(0), 3);
        assert_eq!(t.unread_after(2), 2);
        assert_eq!(t.unread_after(4), 0);
    }

    #[test]
    fn forgetting_history_keeps_unsent_messages_queued() {
        let mut t = Timeline::default();
        t.merge_synced(vec![message(1, Author::Agent, None)]);
        t.push_pending(pending("a"));
        t.forget_history();
        let entries = t.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].status, Some(Status::Sending));
        assert_eq!(t.next_to_send().unwrap().client_id, "a");
        assert_eq!(t.synced(), 0);
    }
}
