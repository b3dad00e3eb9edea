//! Token buckets for Telegram's rate limits.

use std::time::Duration;

use tokio::time::Instant;

/// A token bucket: `capacity` tokens, one refilled every `interval`.
///
/// Hotline uses capacity 1 (pure pacing) by default: "20 per minute" becomes one message
/// every 3 s, which can never exceed 20 in any 60 s window, whereas a full bucket of 20
/// plus refills could send up to 40 in the first minute and earn a 429.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    capacity: f64,
    tokens: f64,
    interval: Duration,
    last: Instant,
}

impl TokenBucket {
    /// `count` tokens per `period`, at most `burst` saved up; starts full.
    pub fn new(count: u32, period: Duration, burst: u32, now: Instant) -> Self {
        let interval = period / count.max(1);
        let capacity = f64::from(burst.max(1));
        Self {
            capacity,
            tokens: capacity,
            interval,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        if !self.interval.is_zero() {
            self.tokens = (self.tokens + elapsed.as_secs_f64() / self.interval.as_secs_f64())
                .min(self.capacity);
        } else {
            self.tokens = self.capacity;
        }
        self.last = now.max(self.last);
    }

    /// How long until one token is available (zero if one is available now).
    pub fn wait_time(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            self.interval.mul_f64(1.0 - self.tokens)
        }
    }

    /// Takes a token if one is available.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if self.wait_time(now).is_zero() {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket is full, i.e. forgetting it loses nothing.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_math() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(20, Duration::from_secs(60), 1, t0);
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0));
        assert_eq!(b.wait_time(t0), Duration::from_secs(3));
        let w = b.wait_time(t0 + Duration::from_secs(1));
        assert!(
            w.abs_diff(Duration::from_secs(2)) < Duration::from_millis(1),
            "{w:?}"
        );
        assert!(b.try_take(t0 + Duration::from_secs(3)));
        // Over a long idle period it saves at most `burst` tokens.
        assert!(b.try_take(t0 + Duration::from_secs(600)));
        assert!(!b.try_take(t0 + Duration::from_secs(600)));
    }

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(20, Duration::from_secs(60), 1, t0);
        let mut sent = Vec::new();
        let mut t = t0;
        while t < t0 + Duration::from_secs(300) {
            if b.try_take(t) {
                sent.push(t);
            }
            t += Duration::from_millis(100);
        }
        for (i, s) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|x| **x < *s + Duration::from_secs(60))
                .count();
            assert!(in_window <= 20, "{in_window} messages in one minute");
        }
        assert!(
            sent.len() >= 99,
            "pacing must still use the budget: {}",
            sent.len()
        );
    }

    #[test]
    fn burst_capacity() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(30, Duration::from_secs(1), 30, t0);
        for _ in 0..30 {
            assert!(b.try_take(t0));
        }
        assert!(!b.try_take(t0));
        let w = b.wait_time(t0);
        assert!(
            w > Duration::from_millis(33) && w < Duration::from_millis(34),
            "{w:?}"
        );
        assert!(b.is_full(t0 + Duration::from_secs(2)));
    }
}
