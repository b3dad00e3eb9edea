//! Sliding windows for Telegram's rate limits.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// At most `limit` sends in any `period`: the literal reading of Telegram's "20 messages
/// per minute to one group" and "30 per second per bot". Unlike pure pacing it lets a
/// first contact (topic, user card, first copy) go out at once, and unlike a token bucket
/// with a burst on top of its refill it can never exceed the limit in any window.
#[derive(Clone, Debug)]
pub struct RateWindow {
    limit: usize,
    period: Duration,
    sent: VecDeque<Instant>,
}

impl RateWindow {
    /// `limit` sends per `period` (a zero limit is treated as one).
    pub fn new(limit: u32, period: Duration) -> Self {
        Self {
            limit: limit.max(1) as usize,
            period,
            sent: VecDeque::new(),
        }
    }

    fn prune(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.period)
        {
            self.sent.pop_front();
        }
    }

    /// How long until one more send fits (zero if it fits now).
    pub fn wait_time(&mut self, now: Instant) -> Duration {
        self.prune(now);
        if self.sent.len() < self.limit {
            return Duration::ZERO;
        }
        (self.sent[self.sent.len() - self.limit] + self.period).saturating_duration_since(now)
    }

    /// Records a send if it fits now.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if self.wait_time(now).is_zero() {
            self.sent.push_back(now);
            true
        } else {
            false
        }
    }

    /// Books one more send at the earliest instant it fits (now, or later when the window
    /// is full) and returns how long from `now` that is. Booked instants stay in order, so
    /// a booking never lets a later one in early.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let at = (now + self.wait_time(now)).max(self.sent.back().copied().unwrap_or(now));
        self.sent.push_back(at);
        at.saturating_duration_since(now)
    }

    /// Moves the latest send to `now` if that is later (the call left after it was planned).
    pub fn restamp_last(&mut self, now: Instant) {
        if let Some(last) = self.sent.back_mut() {
            if *last < now {
                *last = now;
            }
        }
    }

    /// Records a send made at `at`, possibly in the past (windows seeded from the database
    /// after a restart), keeping the sends in time order.
    pub fn seed(&mut self, at: Instant) {
        let i = self.sent.partition_point(|t| *t <= at);
        self.sent.insert(i, at);
    }

    /// Whether the window is empty, i.e. forgetting it loses nothing.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.prune(now);
        self.sent.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_up_to_the_limit_then_wait() {
        let t0 = Instant::now();
        let mut w = RateWindow::new(20, Duration::from_secs(60));
        for _ in 0..20 {
            assert!(w.try_take(t0));
        }
        assert!(!w.try_take(t0));
        assert_eq!(
            w.wait_time(t0 + Duration::from_secs(1)),
            Duration::from_secs(59)
        );
        assert!(w.try_take(t0 + Duration::from_secs(60)));
        assert!(w.is_full(t0 + Duration::from_secs(200)));
    }

    #[test]
    fn reservations_book_the_next_free_instants() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut w = RateWindow::new(3, s(60));
        assert!(w.try_take(t0));
        assert_eq!(w.reserve(t0 + s(1)), s(0));
        assert_eq!(w.reserve(t0 + s(1)), s(0));
        // Full: the next two are booked when the first two leave the window.
        assert_eq!(w.reserve(t0 + s(2)), s(58));
        assert_eq!(w.reserve(t0 + s(2)), s(59));
        // A plain send counts the bookings: it fits once the sends of second 1 left.
        assert_eq!(w.wait_time(t0 + s(2)), s(59));
        assert!(!w.try_take(t0 + s(60)));
        assert!(w.try_take(t0 + s(61)));
    }

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let t0 = Instant::now();
        let mut w = RateWindow::new(20, Duration::from_secs(60));
        let mut sent = Vec::new();
        let mut t = t0;
        while t < t0 + Duration::from_secs(300) {
            if w.try_take(t) {
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
        assert_eq!(sent.len(), 100, "the whole budget is used");
    }
}
