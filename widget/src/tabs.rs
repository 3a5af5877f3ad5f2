//! Several tabs of the same site show the same conversation (the host page's
//! storage holds one token for the whole site), and the server should not
//! carry one stream per tab. So the tabs elect a leader: only the leading
//! tab's panel holds a stream, and it shares every event it receives, as
//! received, with the panels of the other tabs, which merge them like their
//! own. When the leading tab closes another takes over and resumes its own
//! stream from the last `seq` it holds, so nothing falls between two leaders.
//!
//! The election and the relay happen in the loader, on the host page: a Web
//! Lock and a `BroadcastChannel` of the host's origin. The panel's frame is a
//! third-party document, and browsers that block third-party storage deny it
//! Web Locks too (Chromium answers `SecurityError`); the host page is
//! first-party everywhere. The loader tells the panel `mw:lead` once its tab
//! leads (at once where the host has no Web Locks: every tab then leads its
//! own stream, as if alone), relays `mw:share` to the other tabs and hands
//! what they share over as `mw:shared`.
//!
//! The leading tab also sends the outbox, which all tabs share through the
//! host page's storage: so one tab only starts a conversation, and messages
//! written in several tabs keep their order. The others receive them
//! through the leader's stream like any other message.
//!
//! A leader that goes quiet (its tab frozen in the background: the browser
//! keeps its lock) is replaced: a visible tab that has heard nothing from it,
//! keep-alives included, for longer than a stream may stay silent leads
//! too. Two leaders do no harm: streams resume by `seq`, merging ignores
//! what is already held and sending is idempotent.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bridge::Bridge;
use crate::clock;
use messenger_wire::sse;

/// What the leader tells the other tabs: the events one read of its stream
/// brought, in order and as the server sent them, or a change of its
/// connection state.
#[derive(Serialize, Deserialize, Clone, Default, PartialEq, Eq, Debug)]
pub struct Shared {
    /// The conversation they belong to: a tab that has not caught up with a
    /// change of conversation yet ignores them.
    pub conversation: String,
    #[serde(default)]
    pub events: Vec<sse::Event>,
    /// Whether the leader's stream is reconnecting, when that changed.
    #[serde(default)]
    pub reconnecting: Option<bool>,
}

#[derive(Clone, Copy)]
pub struct Tabs {
    bridge: Bridge,
    /// This tab keeps the stream open (and shares what it receives).
    leader: RwSignal<bool>,
    /// The conversation shown, once the server has named it.
    conversation: StoredValue<Option<String>>,
    /// When the leading tab was last heard from (Unix ms): anything it
    /// shared, keep-alives included; at first, when this tab started.
    heard: StoredValue<i64>,
}

impl Tabs {
    pub fn new(bridge: Bridge) -> Self {
        Tabs {
            bridge,
            leader: RwSignal::new(false),
            conversation: StoredValue::new(None),
            heard: StoredValue::new(clock::now_ms()),
        }
    }

    /// Whether this tab keeps the stream open; tracked.
    pub fn is_leader(self) -> bool {
        self.leader.get()
    }

    pub fn is_leader_untracked(self) -> bool {
        self.leader.get_untracked()
    }

    /// The loader says whether this tab leads (it never takes it back: a
    /// tab leads until it closes).
    pub fn set_leader(self, leader: bool) {
        if self.leader.get_untracked() != leader {
            self.leader.set(leader);
        }
    }

    /// When the leading tab was last heard from (Unix ms).
    pub fn heard(self) -> i64 {
        self.heard.get_value()
    }

    /// The conversation shown is `id` (or none).
    pub fn show(self, id: Option<&str>) {
        self.conversation.set_value(id.map(str::to_owned));
    }

    /// Whether the conversation shown is `id`.
    pub fn is_showing(self, id: &str) -> bool {
        self.conversation.with_value(|c| c.as_deref() == Some(id))
    }

    /// Tells the other tabs (a no-op for a follower).
    pub fn share(self, events: Vec<sse::Event>, reconnecting: Option<bool>) {
        if !self.leader.get_untracked() {
            return;
        }
        let Some(conversation) = self.conversation.get_value() else {
            return;
        };
        let shared = Shared {
            conversation,
            events,
            reconnecting,
        };
        if let Ok(text) = serde_json::to_string(&shared) {
            self.bridge.share(&text);
        }
    }

    /// What another tab shared, if it is about the conversation shown. It
    /// comes from the host page, so it is checked like any input.
    pub fn accept(self, text: &str) -> Option<Shared> {
        let shared: Shared = serde_json::from_str(text).ok()?;
        self.heard.set_value(clock::now_ms());
        let current = self
            .conversation
            .with_value(|c| c.as_deref() == Some(shared.conversation.as_str()));
        (current && !self.leader.get_untracked()).then_some(shared)
    }
}
