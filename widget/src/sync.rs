//! How new messages reach the panel: by polling for everything after the
//! last message known, every 5 s while the panel is open and every 30 s while
//! it is closed (often enough for the unread badge). Also retries a history
//! load that failed.
//!
//! Temporary: push (server-sent events) replaces this module; nothing else in
//! the widget knows how new messages arrive.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::clock::now_ms;
use crate::messenger::{History, Messenger};
use crate::timeline::Timeline;

const OPEN_INTERVAL_MS: i64 = 5_000;
const CLOSED_INTERVAL_MS: i64 = 30_000;
/// Pages fetched back to back when far behind, before waiting for the next tick.
const MAX_PAGES_PER_POLL: usize = 5;

pub fn start(messenger: Messenger) {
    let last_poll = StoredValue::new(0i64);
    let busy = StoredValue::new(false);
    let poll_now = move || {
        if busy.get_value() || messenger.token().is_none() {
            return;
        }
        busy.set_value(true);
        last_poll.set_value(now_ms());
        spawn_local(async move {
            poll(messenger).await;
            busy.set_value(false);
        });
    };
    set_interval(
        move || {
            let interval = if messenger.open.get_untracked() {
                OPEN_INTERVAL_MS
            } else {
                CLOSED_INTERVAL_MS
            };
            // Timers drift; a tick slightly early still counts.
            if now_ms() - last_poll.get_value() >= interval - 1_000 {
                poll_now();
            }
        },
        Duration::from_millis(OPEN_INTERVAL_MS as u64),
    );
    // Opening the panel shows what arrived meanwhile without waiting a tick.
    Effect::new(move |was_open: Option<bool>| {
        let open = messenger.open.get();
        if open && was_open == Some(false) {
            poll_now();
        }
        open
    });
}

async fn poll(messenger: Messenger) {
    let Some(token) = messenger.token() else {
        return;
    };
    match messenger.history.get_untracked() {
        History::Loading => return,
        History::Failed => return messenger.load_latest().await,
        History::Loaded => {}
    }
    for _ in 0..MAX_PAGES_PER_POLL {
        let after = messenger.timeline.with_untracked(Timeline::synced);
        let result = api::messages_after(&token, after).await;
        if !messenger.is_current(&token) {
            return;
        }
        match result {
            Ok(page) => {
                if page.messages.is_empty() {
                    return;
                }
                messenger.timeline.update(|t| t.merge_synced(page.messages));
                let synced = messenger.timeline.with_untracked(Timeline::synced);
                if synced >= page.conversation.last_seq {
                    return;
                }
            }
            Err(error) if error.is_unauthorized() => {
                return messenger.forget_conversation(&token);
            }
            Err(_) => return,
        }
    }
}
