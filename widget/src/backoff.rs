//! How long to wait before reconnecting the stream: exponential backoff with
//! full jitter (a uniformly random wait between 0 and a ceiling that doubles
//! after each failure), so that after a server restart the panels open
//! everywhere do not all come back at the same moment. A stream that stayed
//! connected for a while resets it: the next drop is treated as the first.
//! Pure Rust, so it is unit-tested natively.

/// The ceiling of the first wait.
pub const BASE_MS: f64 = 500.0;
/// The ceiling never grows beyond this.
pub const CAP_MS: f64 = 30_000.0;
/// A stream connected at least this long counted as healthy.
pub const HEALTHY_MS: i64 = 10_000;

#[derive(Default, Debug)]
pub struct Backoff {
    /// Attempts in a row that did not give a healthy stream.
    failures: u32,
}

impl Backoff {
    /// The wait (ms) before the next attempt, after one that was connected
    /// for `connected_ms` (0 when it never connected). `random` is uniform
    /// in `[0, 1)`.
    pub fn next_delay(&mut self, connected_ms: i64, random: f64) -> u32 {
        if connected_ms >= HEALTHY_MS {
            self.failures = 0;
        }
        let ceiling = ceiling_ms(self.failures);
        self.failures = self.failures.saturating_add(1);
        (ceiling * random.clamp(0.0, 1.0)) as u32
    }
}

/// The longest wait after `failures` failures in a row.
pub fn ceiling_ms(failures: u32) -> f64 {
    // 2^16 * BASE_MS is far above the cap; stop there to stay finite.
    (BASE_MS * f64::from(1u32 << failures.min(16))).min(CAP_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_the_base_up_to_the_cap() {
        let ceilings: Vec<f64> = (0..9).map(ceiling_ms).collect();
        assert_eq!(
            ceilings,
            [
                500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0, 16_000.0, 30_000.0, 30_000.0, 30_000.0
            ]
        );
        assert_eq!(ceiling_ms(u32::MAX), CAP_MS);
    }

    #[test]
    fn the_wait_is_a_random_share_of_the_ceiling() {
        let mut backoff = Backoff::default();
        assert_eq!(backoff.next_delay(0, 0.0), 0);
        assert_eq!(backoff.next_delay(0, 0.5), 500);
        assert_eq!(backoff.next_delay(0, 0.999_999), 1_999);
        // Out-of-range randomness cannot exceed the ceiling.
        assert_eq!(backoff.next_delay(0, 7.0), 4_000);
    }

    #[test]
    fn failures_keep_growing_the_wait_until_the_cap_and_never_give_up() {
        let mut backoff = Backoff::default();
        let waits: Vec<u32> = (0..1_000).map(|_| backoff.next_delay(0, 1.0)).collect();
        assert_eq!(waits[..4], [500, 1_000, 2_000, 4_000]);
        assert!(waits[6..].iter().all(|&w| w == 30_000));
    }

    #[test]
    fn a_healthy_stream_resets_the_backoff_and_a_short_lived_one_does_not() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next_delay(0, 1.0);
        }
        assert_eq!(backoff.next_delay(HEALTHY_MS - 1, 1.0), 16_000);
        assert_eq!(backoff.next_delay(HEALTHY_MS, 1.0), 500);
        assert_eq!(backoff.next_delay(0, 1.0), 1_000);
    }
}
