//! The server's idea of "now". Production reads the system clock; tests
//! use a manual clock they move forward, so that business hours, email
//! delays and link expiry are tested without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix milliseconds, from the system or from a test's hand.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that shows `start_ms` until moved with [`Clock::advance`]
    /// or [`Clock::set`]. Clones share the same time.
    pub fn manual(start_ms: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(start_ms))),
        }
    }

    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(now) => now.load(Ordering::SeqCst),
            None => system_now_ms(),
        }
    }

    /// Moves a manual clock forward (does nothing to the system clock).
    pub fn advance(&self, ms: i64) {
        if let Some(now) = &self.manual {
            now.fetch_add(ms, Ordering::SeqCst);
        }
    }

    /// Sets a manual clock (does nothing to the system clock).
    pub fn set(&self, ms: i64) {
        if let Some(now) = &self.manual {
            now.store(ms, Ordering::SeqCst);
        }
    }
}

/// Milliseconds since the Unix epoch, the timestamp unit of the wire.
pub fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = Clock::manual(1_000);
        let clone = clock.clone();
        assert_eq!(clock.now_ms(), 1_000);
        clone.advance(500);
        assert_eq!(clock.now_ms(), 1_500);
        clock.set(10);
        assert_eq!(clone.now_ms(), 10);
        assert!(Clock::system().now_ms() > 1_700_000_000_000);
    }
}
