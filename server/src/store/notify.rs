//! The live feed across instances, on PostgreSQL: `NOTIFY` out, `LISTEN` in.
//!
//! Every event is sent as JSON on one channel per database schema. Messages
//! are notified inside the transaction that stores them, after the counter
//! row that orders the appenders of all instances (see
//! [`super::append_batch`]): PostgreSQL delivers notifications in commit
//! order, so every instance receives messages in position order, as one
//! SQLite process publishes them. Other events (read marks, typing, notes,
//! conversation changes) go out after their commit through one task per
//! instance, in the order they were published.
//!
//! A payload holds at most [`MAX_PAYLOAD`] bytes (PostgreSQL's limit is
//! 8000): events are packed into as few payloads as fit, and an event too
//! large on its own (a long message or note) travels as a reference that the
//! receiving instance reads from the database.
//!
//! Each instance listens on one connection of its own. When that connection
//! is lost, notifications sent meanwhile are lost with it: on reconnecting,
//! the instance publishes [`FeedEvent::Resync`], and every open stream reads
//! what it holds afresh from the database (by `seq` or position), so nothing
//! is missed but typing notices.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use super::Store;
use crate::feed::{FeedEvent, Remote};

/// Bytes of JSON per notification, below PostgreSQL's 8000.
pub const MAX_PAYLOAD: usize = 7000;

/// One entry of a payload: an event, or what to read to rebuild it.
#[derive(Serialize, Deserialize)]
enum Wire {
    /// The event itself.
    E(FeedEvent),
    /// The message at this position.
    M(i64),
    /// The conversation with this id, as the inbox shows it now.
    C(String),
    /// The note with this id.
    N(String),
}

/// `events` as JSON arrays of at most [`MAX_PAYLOAD`] bytes each, in order.
pub fn payloads(events: &[FeedEvent]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::from("[");
    for event in events {
        let mut item = serde_json::to_string(&Wire::E(event.clone())).unwrap_or_default();
        if item.len() + 2 > MAX_PAYLOAD {
            let reference = match event {
                FeedEvent::Message { position, .. } => Wire::M(*position),
                FeedEvent::Conversation(c) => Wire::C(c.id.clone()),
                FeedEvent::Note(n) => Wire::N(n.id.clone()),
                // Small by nature; never this large.
                _ => continue,
            };
            item = serde_json::to_string(&reference).unwrap_or_default();
        }
        if current.len() > 1 && current.len() + item.len() + 2 > MAX_PAYLOAD {
            current.push(']');
            out.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&item);
    }
    if current.len() > 1 {
        current.push(']');
        out.push(current);
    }
    out
}

/// Sends `events` through the database within `tx` (delivered at commit).
pub(super) async fn notify_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    channel: &str,
    events: &[FeedEvent],
) -> Result<(), sqlx::Error> {
    for payload in payloads(events) {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Starts listening and sending for `store` (on PostgreSQL at `url`), and
/// turns its feed remote.
pub(super) async fn start(store: &Store, url: &str) -> Result<(), sqlx::Error> {
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&store.read)
        .await?;
    let channel: String = format!("messenger_{schema}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    let mut listener = PgListener::connect(url).await?;
    listener.listen(&channel).await?;

    let (outbox, mut pending) = mpsc::unbounded_channel::<String>();
    let sender = store.read.clone();
    let out_channel = channel.clone();
    tokio::spawn(async move {
        while let Some(payload) = pending.recv().await {
            // One retry: an event that still cannot go is dropped (streams
            // catch up from the database at their next reconnect).
            for attempt in 0..2 {
                let sent = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(&out_channel)
                    .bind(&payload)
                    .execute(&sender)
                    .await;
                match sent {
                    Ok(_) => break,
                    Err(err) if attempt == 1 => {
                        tracing::warn!(error = %err, "a live event could not be sent to the other instances");
                    }
                    Err(_) => {}
                }
            }
        }
    });

    let receiver = store.clone();
    let listen_channel = channel.clone();
    tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => receive(&receiver, notification.payload()).await,
                Ok(None) => {
                    tracing::warn!(
                        "the live feed's database connection was lost; streams catch up"
                    );
                    resync(&receiver).await;
                }
                Err(err) => {
                    // Reconnecting failed: listen again (sqlx reconnects),
                    // and only once that works do the streams catch up, so
                    // that nothing committed meanwhile escapes them.
                    tracing::warn!(error = %err, "the live feed cannot reach the database; retrying");
                    loop {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        match listener.listen(&listen_channel).await {
                            Ok(()) => break,
                            Err(err) => {
                                tracing::debug!(error = %err, "the live feed still cannot listen");
                            }
                        }
                    }
                    resync(&receiver).await;
                }
            }
        }
    });

    // Sites change rarely and are few: read them all afresh now and then
    // too, whatever a lost notification may have missed.
    let sites = store.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SITES_REFRESH);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(err) = sites.reload_sites().await {
                tracing::warn!(error = %err, "sites could not be read afresh");
            }
        }
    });

    store.feed.go_remote(Remote { channel, outbox });
    Ok(())
}

/// How often each instance reads every site afresh, besides on notice.
const SITES_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// After notifications may have been missed: sites read afresh, and every
/// stream reads what it holds afresh.
async fn resync(store: &Store) {
    if let Err(err) = store.reload_sites().await {
        tracing::warn!(error = %err, "sites could not be read afresh");
    }
    store.feed.publish_here(FeedEvent::Resync);
}

/// Hands what a notification carries to this instance's streams.
async fn receive(store: &Store, payload: &str) {
    let Ok(items) = serde_json::from_str::<Vec<Wire>>(payload) else {
        // (From an instance of another version, say): the streams read
        // afresh rather than miss it.
        tracing::warn!("a live event from the database could not be read");
        store.feed.publish_here(FeedEvent::Resync);
        return;
    };
    for item in items {
        let event = match item {
            Wire::E(FeedEvent::SiteChanged(id)) => {
                if let Err(err) = store.site_changed(&id).await {
                    tracing::warn!(error = %err, site = %id, "a changed site could not be read");
                }
                continue;
            }
            Wire::E(event) => Some(event),
            Wire::M(position) => store
                .messages_after_position(position - 1, 1)
                .await
                .ok()
                .and_then(|found| found.into_iter().next())
                .filter(|m| m.position == position)
                .map(|m| FeedEvent::Message {
                    conversation_id: m.conversation_id,
                    position: m.position,
                    message: m.message,
                }),
            Wire::C(id) => super::inbox::load_conversation(&store.read, &id)
                .await
                .ok()
                .flatten()
                .map(|c| FeedEvent::Conversation(Box::new(c))),
            Wire::N(id) => super::inbox::load_note(&store.read, &id)
                .await
                .ok()
                .flatten()
                .map(FeedEvent::Note),
        };
        // A reference that cannot be read (deleted since, or the database
        // unreachable): the streams read afresh instead.
        store.feed.publish_here(event.unwrap_or(FeedEvent::Resync));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_wire::{Author, Message, TypingEvent};

    fn message(position: i64, body: &str) -> FeedEvent {
        FeedEvent::Message {
            conversation_id: "c_1".into(),
            position,
            message: Message {
                id: format!("m_{position}"),
                seq: position,
                author: Author::Customer,
                client_id: None,
                body: body.into(),
                created_at: 0,
            },
        }
    }

    #[test]
    fn events_pack_into_payloads_under_the_limit_in_order_and_big_ones_become_references() {
        let mut events: Vec<FeedEvent> = (1..=200).map(|p| message(p, "hello there")).collect();
        events.push(message(201, &"é".repeat(5000)));
        events.push(FeedEvent::Typing(TypingEvent {
            conversation_id: "c_1".into(),
            author: Author::Agent,
        }));
        let out = payloads(&events);
        assert!(out.len() > 1, "200 messages need several payloads");
        let mut positions = Vec::new();
        let mut typing = 0;
        for payload in &out {
            assert!(payload.len() <= MAX_PAYLOAD, "{}", payload.len());
            for item in serde_json::from_str::<Vec<Wire>>(payload).unwrap() {
                match item {
                    Wire::E(FeedEvent::Message { position, .. }) => positions.push(position),
                    Wire::M(position) => positions.push(-position),
                    Wire::E(FeedEvent::Typing(_)) => typing += 1,
                    _ => panic!("unexpected entry"),
                }
            }
        }
        let expected: Vec<i64> = (1..=200).chain([-201]).collect();
        assert_eq!(positions, expected);
        assert_eq!(typing, 1);
        assert!(payloads(&[]).is_empty());
    }
}
