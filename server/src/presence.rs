//! Who is here right now, by their open event streams: a customer with the
//! site open in some tab (its leading tab holds a stream), an agent with
//! the inbox open. Emails about replies and new messages go only to those
//! who are away. (Per process: with several instances behind a load
//! balancer this moves to the database.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Presence {
    open: Arc<Mutex<HashMap<Party, usize>>>,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Party {
    Customer(String),
    Agent(String),
}

impl Presence {
    /// Counts `party` present until the guard is dropped (the stream ends).
    pub fn enter(&self, party: Party) -> Here {
        *self.lock().entry(party.clone()).or_default() += 1;
        Here {
            presence: self.clone(),
            party,
        }
    }

    pub fn is_here(&self, party: &Party) -> bool {
        self.lock().get(party).is_some_and(|n| *n > 0)
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
        let mut open = self.presence.lock();
        if let Some(n) = open.get_mut(&self.party) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.party);
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
