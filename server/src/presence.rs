//! Who is here right now, by their open event streams: a customer with the
//! site open in some tab (its leading tab holds a stream), an agent with
//! the inbox open. Emails about replies and new messages go only to those
//! who are away.
//!
//! Each instance counts its own streams. On PostgreSQL, where the instance
//! that sends an email is not always the one holding the stream, each also
//! keeps a row per party in the `presence` table (written when the party's
//! first stream opens, refreshed every [`REFRESH`], deleted when its last
//! stream ends); a row not refreshed for [`TTL_MS`] (its instance stopped)
//! no longer counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::clock::Clock;
use crate::store::Store;

/// How often an instance refreshes the rows of the parties it holds.
pub const REFRESH: Duration = Duration::from_secs(20);
/// How long a row counts without a refresh.
pub const TTL_MS: i64 = 60_000;

#[derive(Clone, Default)]
pub struct Presence {
    open: Arc<Mutex<HashMap<Party, usize>>>,
    shared: Arc<OnceLock<Shared>>,
}

/// The database rows of this instance (PostgreSQL only).
struct Shared {
    store: Store,
    clock: Clock,
    instance: String,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Party {
    Customer(String),
    Agent(String),
}

impl Party {
    fn key(&self) -> String {
        match self {
            Party::Customer(id) => format!("customer:{id}"),
            Party::Agent(id) => format!("agent:{id}"),
        }
    }
}

impl Presence {
    /// Keeps this instance's parties in the database too, for the others.
    pub fn share(&self, store: Store, clock: Clock) {
        let shared = Shared {
            store,
            clock,
            instance: crate::ids::instance_id(),
        };
        if self.shared.set(shared).is_err() {
            return;
        }
        let presence = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(REFRESH);
            loop {
                ticks.tick().await;
                let Some(shared) = presence.shared.get() else {
                    return;
                };
                let parties: Vec<Party> = presence.lock().keys().cloned().collect();
                let now = shared.clock.now_ms();
                for party in parties {
                    if let Err(err) = shared
                        .store
                        .presence_here(&party.key(), &shared.instance, now)
                        .await
                    {
                        tracing::warn!(error = %err, "presence not refreshed");
                        break;
                    }
                }
            }
        });
    }

    /// Counts `party` present until the guard is dropped (the stream ends).
    pub fn enter(&self, party: Party) -> Here {
        let first = {
            let mut open = self.lock();
            let count = open.entry(party.clone()).or_default();
            *count += 1;
            *count == 1
        };
        if first && let Some(shared) = self.shared.get() {
            let (store, key, instance) =
                (shared.store.clone(), party.key(), shared.instance.clone());
            let now = shared.clock.now_ms();
            tokio::spawn(async move {
                if let Err(err) = store.presence_here(&key, &instance, now).await {
                    tracing::warn!(error = %err, "presence not recorded");
                }
            });
        }
        Here {
            presence: self.clone(),
            party,
        }
    }

    /// Whether `party` has a stream open on this instance.
    pub fn is_here(&self, party: &Party) -> bool {
        self.lock().get(party).is_some_and(|n| *n > 0)
    }

    /// Whether `party` has a stream open on this or (on PostgreSQL) any
    /// other instance. A database error counts as away.
    pub async fn is_here_anywhere(&self, party: &Party, now: i64) -> bool {
        if self.is_here(party) {
            return true;
        }
        match self.shared.get() {
            Some(shared) => shared
                .store
                .presence_seen(&party.key(), now - TTL_MS)
                .await
                .unwrap_or(false),
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Party, usize>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A party's presence, for as long as this lives.
pub struct Here {
    presence: Presence,
    party: Party,
}

impl Drop for Here {
    fn drop(&mut self) {
        let last = {
            let mut open = self.presence.lock();
            match open.get_mut(&self.party) {
                Some(n) => {
                    *n -= 1;
                    if *n == 0 {
                        open.remove(&self.party);
                        true
                    } else {
                        false
                    }
                }
                None => false,
            }
        };
        if last && let Some(shared) = self.presence.shared.get() {
            let (store, key, instance) = (
                shared.store.clone(),
                self.party.key(),
                shared.instance.clone(),
            );
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = store.presence_gone(&key, &instance).await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_party_is_here_while_any_of_its_streams_is_open() {
        let presence = Presence::default();
        let ana = Party::Customer("u_1".into());
        let first = presence.enter(ana.clone());
        let second = presence.enter(ana.clone());
        drop(first);
        assert!(presence.is_here(&ana));
        drop(second);
        assert!(!presence.is_here(&ana));
        assert!(!presence.is_here(&Party::Agent("a_1".into())));
    }
}
