//! The one retry backoff policy: exponential from a base, capped, optionally jittered.
//! The outbox, webhook deliveries, isolated updates, long polling and the gateway's
//! journal all wait with it, so "how long until the next try" means the same everywhere
//! and is tuned in one place per caller (its base and cap).

use std::time::Duration;

use rand::Rng;

/// Exponential backoff: attempt `n` (counted from 1) waits `base · 2^(n-1)`, at most `cap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// Longest delay.
    pub cap: Duration,
}

impl Backoff {
    /// A policy starting at `base`, doubling up to `cap`.
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap }
    }

    /// The delay after `attempts` failures (`0` and `1` both give `base`).
    pub fn delay(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << exp).min(self.cap)
    }

    /// [`Backoff::delay`] scaled by a random factor in [50 %, 100 %], so many items that
    /// failed together (an outage) do not all retry in the same instant.
    pub fn jittered(&self, attempts: u32) -> Duration {
        self.delay(attempts)
            .mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_from_the_base_up_to_the_cap() {
        let b = Backoff::new(200 * MS, Duration::from_secs(30));
        assert_eq!(b.delay(0), 200 * MS);
        assert_eq!(b.delay(1), 200 * MS);
        assert_eq!(b.delay(2), 400 * MS);
        assert_eq!(b.delay(5), 3200 * MS);
        assert_eq!(b.delay(8), 25_600 * MS);
        assert_eq!(b.delay(9), Duration::from_secs(30));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30), "no overflow");
    }

    #[test]
    fn a_huge_base_saturates_at_the_cap() {
        let b = Backoff::new(Duration::MAX, Duration::from_secs(60));
        assert_eq!(b.delay(40), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_between_half_and_the_full_delay() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for attempts in 1..12 {
            let full = b.delay(attempts);
            for _ in 0..50 {
                let d = b.jittered(attempts);
                assert!(
                    d >= full / 2 && d <= full,
                    "{d:?} outside [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }
}
