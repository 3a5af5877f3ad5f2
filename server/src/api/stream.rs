//! Live event streams over Server-Sent Events: `message` events (with the
//! message's `seq` as SSE id), `read` receipts and `typing` notices.
//!
//! A conversation's stream first catches up from the database (every message
//! after the `seq` the client already holds), then follows the store's feed
//! of committed messages. It subscribes to the feed *before* reading the
//! database, so nothing committed in between can fall through; it drops what
//! it already sent and, on a gap (a lagging subscriber), catches up from the
//! database again. So a client that resumes from `seq` N receives N+1, N+2, …
//! exactly once and in order. Each event's SSE `id` is the message's `seq`:
//! a reconnecting client sends it back as `Last-Event-ID`.
//!
//! Comments every 15 seconds keep proxies from cutting idle streams. On
//! shutdown every stream ends, so the client reconnects (to this server once
//! restarted, or to another instance).

use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_core::Stream;
use messenger_wire::{Author, Message, MessageEvent, ReadEvent, TypingEvent};
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::error::ApiError;
use crate::feed::FeedEvent;
use crate::store::Window;

/// Messages read from the database per catch-up query.
const CATCH_UP_PAGE: u32 = 200;

pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Where a stream resumes: the `Last-Event-ID` header that browsers send on
/// reconnect, else the `after` query parameter, else from the beginning.
pub fn resume_point(headers: &HeaderMap, after: Option<i64>) -> Result<i64, ApiError> {
    let from_header = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|seq| *seq >= 0)
                .ok_or_else(|| ApiError::invalid_query("Last-Event-ID must be a seq"))
        })
        .transpose()?;
    match from_header.or(after) {
        Some(seq) if seq < 0 => Err(ApiError::invalid_query("after must be 0 or more")),
        Some(seq) => Ok(seq),
        None => Ok(0),
    }
}

/// The stream of one conversation's messages after `after`.
pub fn conversation(
    state: &AppState,
    conversation_id: String,
    after: i64,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let store = state.store.clone();
    let mut feed = state.feed.subscribe();
    let mut shutdown = state.shutdown_signal();
    let events = async_stream::stream! {
        let mut last = after;
        let mut first_catch_up = true;
        'catch_up: loop {
            loop {
                let page = store
                    .messages(&conversation_id, Window::After(last), CATCH_UP_PAGE)
                    .await;
                let Ok((messages, _)) = page else {
                    // The client reconnects and resumes; nothing is lost.
                    tracing::warn!(conversation = %conversation_id, "stream catch-up failed");
                    break 'catch_up;
                };
                let complete = messages.len() < CATCH_UP_PAGE as usize;
                for message in messages {
                    last = message.seq;
                    yield Ok(message_event(&message));
                }
                if complete {
                    break;
                }
            }
            if std::mem::take(&mut first_catch_up) {
                // Where both sides' reading stands, for a client (re)joining.
                if let Ok(Some(now)) = store.conversation(&conversation_id).await {
                    for (reader, seq) in [
                        (Author::Customer, now.customer_read_seq),
                        (Author::Agent, now.agent_read_seq),
                    ] {
                        let event = ReadEvent { conversation_id: conversation_id.clone(), reader, seq };
                        yield Ok(read_event(&event));
                    }
                }
            }
            loop {
                let received = tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break 'catch_up,
                    received = feed.recv() => received,
                };
                let event = match received {
                    Ok(event) if event.conversation_id() == conversation_id => event,
                    Ok(_) => continue,
                    // The feed overflowed: read what was missed.
                    Err(RecvError::Lagged(_)) => continue 'catch_up,
                    Err(RecvError::Closed) => break 'catch_up,
                };
                match event {
                    FeedEvent::Message { message, .. } if message.seq <= last => {}
                    FeedEvent::Message { message, .. } if message.seq == last + 1 => {
                        last = message.seq;
                        yield Ok(message_event(&message));
                    }
                    // A gap: read what was missed.
                    FeedEvent::Message { .. } => continue 'catch_up,
                    FeedEvent::Read(read) => yield Ok(read_event(&read)),
                    FeedEvent::Typing(typing) => yield Ok(typing_event(&typing)),
                }
            }
        }
    };
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// The stream of every conversation's new messages, read receipts and typing
/// notices, for agents. It carries what happens while it is open; after a
/// reconnect an agent client re-reads the conversations it shows (`after`
/// their last `seq`).
pub fn all_conversations(
    state: &AppState,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let mut feed = state.feed.subscribe();
    let mut shutdown = state.shutdown_signal();
    let events = async_stream::stream! {
        loop {
            let received = tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                received = feed.recv() => received,
            };
            match received {
                Ok(FeedEvent::Message { conversation_id, message }) => {
                    let event = MessageEvent { conversation_id, message };
                    yield Ok(Event::default().event("message").json_data(&event).unwrap_or_default());
                }
                Ok(FeedEvent::Read(read)) => yield Ok(read_event(&read)),
                Ok(FeedEvent::Typing(typing)) => yield Ok(typing_event(&typing)),
                // Too slow to follow: end, so the client reconnects and re-reads.
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => break,
            }
        }
    };
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

fn message_event(message: &Message) -> Event {
    Event::default()
        .event("message")
        .id(message.seq.to_string())
        .json_data(message)
        .unwrap_or_default()
}

fn read_event(read: &ReadEvent) -> Event {
    Event::default()
        .event("read")
        .json_data(read)
        .unwrap_or_default()
}

fn typing_event(typing: &TypingEvent) -> Event {
    Event::default()
        .event("typing")
        .json_data(typing)
        .unwrap_or_default()
}
