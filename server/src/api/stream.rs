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
//! The agent stream carries every conversation. It resumes the same way,
//! from a message's global *position* (its SSE `id`), which grows in commit
//! order across all conversations: it catches up with every message after
//! that position, then follows the feed. Without a resume point it starts
//! from the newest position, so it carries only what comes after it opened
//! (an inbox loads its lists itself); it first sends that position as a bare
//! SSE `id`, so a client that reconnects resumes from it. Read receipts and typing notices are
//! live only on both streams: read marks are part of the conversations that
//! the list and the detail return.
//!
//! The agent stream also carries, live only, `conversation` events (an
//! [`InboxConversation`] created at its first message, closed, opened or
//! assigned) and `note` events (internal notes); the customer's stream
//! never does.
//!
//! Comments every 15 seconds keep proxies from cutting idle streams. On
//! shutdown every stream ends with an SSE `retry` hint, so the client
//! reconnects soon (to this server once restarted, or to another instance).

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_core::Stream;
use messenger_wire::{
    Author, Conversation, ConversationStatus, InboxConversation, Message, MessageEvent, Note,
    ReadEvent, TypingEvent,
};
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::error::ApiError;
use crate::feed::FeedEvent;
use crate::ops::{OpenStream, StreamKind};
use crate::presence::Here;
use crate::store::Window;

/// Messages read from the database per catch-up query.
const CATCH_UP_PAGE: u32 = 200;

pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How soon clients should reconnect to a stream ended by shutdown (to
/// another instance, or this one restarted).
pub const RECONNECT_AFTER: Duration = Duration::from_millis(1000);

/// Where a stream resumes: the `Last-Event-ID` header that browsers send on
/// reconnect, else the `after` query parameter, else from the beginning.
pub fn resume_point(headers: &HeaderMap, after: Option<i64>) -> Result<i64, ApiError> {
    Ok(given_resume_point(headers, after, "a seq")?.unwrap_or(0))
}

/// Where the agent stream resumes: a message position from `Last-Event-ID`,
/// else from `after`; `None` when neither is given (live from now).
pub fn agent_resume_point(
    headers: &HeaderMap,
    after: Option<i64>,
) -> Result<Option<i64>, ApiError> {
    given_resume_point(headers, after, "a message position")
}

/// The `Last-Event-ID` header if present, else `after`: a number, 0 or more.
fn given_resume_point(
    headers: &HeaderMap,
    after: Option<i64>,
    what: &str,
) -> Result<Option<i64>, ApiError> {
    let from_header = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::invalid_query(format!("Last-Event-ID must be {what}")))
        })
        .transpose()?;
    match from_header.or(after) {
        Some(n) if n < 0 => Err(ApiError::invalid_query("after must be 0 or more")),
        other => Ok(other),
    }
}

/// The stream of one conversation's messages after `after`.
/// The customer counts as here (see [`crate::presence`]) while it is open.
pub fn conversation(
    state: &AppState,
    conversation_id: String,
    after: i64,
    here: Here,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let store = state.store.clone();
    let feeds = state.feed.clone();
    // Only this conversation's events wake this stream.
    let mut feed = feeds.subscribe_conversation(&conversation_id);
    let mut shutdown = state.shutdown_signal();
    let open = OpenStream::new(StreamKind::Customer);
    let events = async_stream::stream! {
        let _here = here;
        let _open = open;
        let mut last = after;
        let mut first_catch_up = true;
        let mut status = ConversationStatus::Open;
        'catch_up: loop {
            loop {
                // Boxed, as the reads below: the stream's own state stays
                // small while it idles (it lives as long as the stream).
                let page = Box::pin(store.messages(&conversation_id, Window::After(last), CATCH_UP_PAGE))
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
                if let Ok(Some(now)) = Box::pin(store.conversation(&conversation_id)).await {
                    status = now.status;
                    for (reader, seq) in [
                        (Author::Customer, now.customer_read_seq),
                        (Author::Agent, now.agent_read_seq),
                    ] {
                        let event = ReadEvent { conversation_id: conversation_id.clone(), reader, seq };
                        yield Ok(read_event(&event));
                    }
                    // And its status now: a close that came between the
                    // client's last read and this stream's start is not
                    // lost (its feed event, seen below, matches `status`).
                    yield Ok(customer_conversation_event(&now));
                }
            }
            loop {
                let received = tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => None,
                    received = feed.recv() => Some(received),
                };
                let Some(received) = received else {
                    yield Ok(reconnect_hint());
                    break 'catch_up;
                };
                let event = match received {
                    // Events may have been missed: read what was.
                    Some(event) if matches!(*event, FeedEvent::Resync) => continue 'catch_up,
                    Some(event) if event.conversation_id() == conversation_id => event,
                    Some(_) => continue,
                    // This stream fell behind and was dropped from the
                    // feed: subscribe again, then read what was missed.
                    None => {
                        feed = feeds.subscribe_conversation(&conversation_id);
                        continue 'catch_up;
                    }
                };
                match &*event {
                    FeedEvent::Message { message, .. } if message.seq <= last => {}
                    FeedEvent::Message { message, .. } if message.seq == last + 1 => {
                        last = message.seq;
                        yield Ok(message_event(message));
                    }
                    // A gap: read what was missed.
                    FeedEvent::Message { .. } => continue 'catch_up,
                    FeedEvent::Read(read) => yield Ok(read_event(read)),
                    FeedEvent::Typing(typing) => yield Ok(typing_event(typing)),
                    // Closed or reopened: the customer gets their own view
                    // of it, without the inbox's fields. (Other changes,
                    // an assignment say, are not theirs to know.)
                    FeedEvent::Conversation(inbox) if inbox.status != status => {
                        status = inbox.status;
                        let conversation = Conversation {
                            id: inbox.id.clone(),
                            created_at: inbox.created_at,
                            last_activity_at: inbox.last_activity_at,
                            last_seq: inbox.last_seq,
                            customer_read_seq: inbox.customer_read_seq,
                            agent_read_seq: inbox.agent_read_seq,
                            status: inbox.status,
                        };
                        yield Ok(customer_conversation_event(&conversation));
                    }
                    // Agents only: internal notes never reach the customer.
                    FeedEvent::Conversation(_)
                    | FeedEvent::Note(_)
                    | FeedEvent::Resync
                    | FeedEvent::Revoked(_)
                    | FeedEvent::SiteChanged(_) => {}
                }
            }
        }
    };
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// The stream of every conversation's messages after position `after` (or,
/// when `None`, after the newest one now), then live, with read receipts and
/// typing notices, for agents. It subscribes to the feed before it reads the
/// starting position or the backlog, so nothing committed in between is
/// missed; it is async so the starting point is fixed before the response
/// (and so before anything the client does after seeing it). It ends when
/// `until` completes (the inbox's session was revoked), as on shutdown.
pub async fn all_conversations<F>(
    state: &AppState,
    after: Option<i64>,
    until: F,
    here: Option<Here>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>> + use<F>>, ApiError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let store = state.store.clone();
    let mut feed = state.feed.subscribe();
    let mut shutdown = state.shutdown_signal();
    let after = match after {
        Some(position) => position,
        None => store.last_position().await?,
    };
    let open = OpenStream::new(StreamKind::Agent);
    let events = async_stream::stream! {
        // A bare id, which sets the client's last event id without an event:
        // a client that reconnects before any message came resumes from
        // where this stream started, so a stream opened live loses nothing
        // either.
        let _here = here;
        let _open = open;
        yield Ok(Event::default().id(after.to_string()));
        let mut until = std::pin::pin!(until);
        let mut last = after;
        'catch_up: loop {
            loop {
                let Ok(page) = store.messages_after_position(last, CATCH_UP_PAGE).await else {
                    // The client reconnects and resumes; nothing is lost.
                    tracing::warn!("agent stream catch-up failed");
                    break 'catch_up;
                };
                let complete = page.len() < CATCH_UP_PAGE as usize;
                for positioned in page {
                    last = positioned.position;
                    yield Ok(agent_message_event(
                        positioned.position,
                        positioned.conversation_id,
                        positioned.message,
                    ));
                }
                if complete {
                    break;
                }
            }
            loop {
                let received = tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => None,
                    () = &mut until => break 'catch_up,
                    received = feed.recv() => Some(received),
                };
                let Some(received) = received else {
                    yield Ok(reconnect_hint());
                    break 'catch_up;
                };
                match received {
                    Ok(FeedEvent::Message { position, .. }) if position <= last => {}
                    Ok(FeedEvent::Message { conversation_id, position, message })
                        if position == last + 1 =>
                    {
                        last = position;
                        yield Ok(agent_message_event(position, conversation_id, message));
                    }
                    // A gap: read what was missed.
                    Ok(FeedEvent::Message { .. }) => continue 'catch_up,
                    Ok(FeedEvent::Read(read)) => yield Ok(read_event(&read)),
                    Ok(FeedEvent::Typing(typing)) => yield Ok(typing_event(&typing)),
                    Ok(FeedEvent::Conversation(conversation)) => {
                        yield Ok(conversation_event(&conversation));
                    }
                    Ok(FeedEvent::Note(note)) => yield Ok(note_event(&note)),
                    Ok(FeedEvent::Resync) => continue 'catch_up,
                    Ok(FeedEvent::Revoked(_) | FeedEvent::SiteChanged(_)) => {}
                    // The feed overflowed: read the messages missed (read
                    // receipts and typing notices missed are gone).
                    Err(RecvError::Lagged(_)) => continue 'catch_up,
                    Err(RecvError::Closed) => break 'catch_up,
                }
            }
        }
    };
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The last event of a stream ended by shutdown: an SSE `retry` field, so a
/// browser's `EventSource` reconnects after [`RECONNECT_AFTER`] rather than
/// its own default (the widget reconnects at once with its own backoff).
fn reconnect_hint() -> Event {
    Event::default()
        .retry(RECONNECT_AFTER)
        .comment("shutting down")
}

/// A message on the agent stream: `MessageEvent` JSON, its position as id.
fn agent_message_event(position: i64, conversation_id: String, message: Message) -> Event {
    Event::default()
        .event("message")
        .id(position.to_string())
        .json_data(MessageEvent {
            conversation_id,
            message,
        })
        .unwrap_or_default()
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

/// For the customer: their conversation was closed or opened again.
fn customer_conversation_event(conversation: &Conversation) -> Event {
    Event::default()
        .event("conversation")
        .json_data(conversation)
        .unwrap_or_default()
}

/// For agents only: a conversation was created, closed, opened or assigned.
fn conversation_event(conversation: &InboxConversation) -> Event {
    Event::default()
        .event("conversation")
        .json_data(conversation)
        .unwrap_or_default()
}

/// For agents only: an internal note.
fn note_event(note: &Note) -> Event {
    Event::default()
        .event("note")
        .json_data(note)
        .unwrap_or_default()
}

fn typing_event(typing: &TypingEvent) -> Event {
    Event::default()
        .event("typing")
        .json_data(typing)
        .unwrap_or_default()
}
