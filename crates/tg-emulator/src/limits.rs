//! Rate limits and injected faults, both off by default: the knobs tests turn to see
//! how a client copes with Telegram having a bad day.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Telegram-like sending limits. `None` = unlimited.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Messages per second per bot (Telegram: about 30).
    pub bot_per_second: Option<u32>,
    /// Messages per second per private chat (Telegram: about 1).
    pub private_per_second: Option<u32>,
    /// Messages per minute per group (Telegram: about 20).
    pub group_per_minute: Option<u32>,
    /// Runs the world's clock this many times faster (default 1): every window shrinks
    /// by the factor and the counts stay, so tests meet real dynamics quickly (10: 20
    /// messages per 6 s per group, 1 per 0.1 s per private chat). `retry_after` stays in
    /// the world's seconds — what Telegram would answer at that point — so a client in
    /// the same scaled world waits `retry_after / factor` real seconds.
    pub time_scale: Option<f64>,
}

impl Limits {
    /// Telegram's limits (Bot FAQ): 30 messages/s per bot, 1/s per private chat, 20/min
    /// per group.
    pub fn telegram() -> Self {
        Self {
            bot_per_second: Some(30),
            private_per_second: Some(1),
            group_per_minute: Some(20),
            time_scale: None,
        }
    }

    /// The same limits with the world's clock running `factor` times faster.
    pub fn scaled(self, factor: f64) -> Self {
        Self {
            time_scale: Some(factor),
            ..self
        }
    }

    /// The time-scale factor in effect (1 unless a positive finite factor was given).
    pub fn scale(&self) -> f64 {
        self.time_scale
            .filter(|f| f.is_finite() && *f > 0.0)
            .unwrap_or(1.0)
    }

    /// Refuses a time scale that is not a positive finite number.
    pub fn validate(&self) -> Result<(), String> {
        match self.time_scale {
            Some(f) if !(f.is_finite() && f > 0.0) => {
                Err(format!("time_scale must be a positive number, got {f}"))
            }
            _ => Ok(()),
        }
    }
}

/// Faults injected into calls of one method (or all).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Fault {
    /// Added latency before answering, in milliseconds.
    pub latency_ms: u64,
    /// Share of calls answered 500 without being executed (0..=1).
    pub error_rate: f64,
    /// Share of calls whose connection is dropped before executing.
    pub drop_rate: f64,
    /// Share of calls executed, whose answer is then lost (the dangerous one).
    pub drop_after_rate: f64,
    /// Share of calls that hang for `hang_ms` and then drop, like a timeout.
    pub timeout_rate: f64,
    /// How long a timing-out call hangs.
    pub hang_ms: u64,
    /// Share of calls answered 429 with `retry_after` = `storm_retry_after`.
    pub storm_rate: f64,
    /// retry_after of storm 429s, in seconds.
    pub storm_retry_after: u64,
}

/// Fault settings: one default plus per-method overrides (by canonical name).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Applies to every method without its own entry.
    pub all: Fault,
    /// Per-method settings.
    pub methods: HashMap<String, Fault>,
}

impl Faults {
    /// The fault settings for a method.
    pub fn for_method(&self, method: &str) -> &Fault {
        self.methods.get(method).unwrap_or(&self.all)
    }
}

/// What the fault dice decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Run normally.
    Run,
    /// Answer 500.
    Error,
    /// Drop before running.
    Drop,
    /// Run, then drop the answer.
    DropAfter,
    /// Hang, then drop.
    Hang(Duration),
    /// Answer 429.
    Storm(u64),
}

impl Fault {
    /// Rolls the dice for one call.
    pub fn roll(&self) -> Outcome {
        let r: f64 = rand::random();
        let mut acc = 0.0;
        for (rate, outcome) in [
            (self.error_rate, Outcome::Error),
            (self.drop_rate, Outcome::Drop),
            (self.drop_after_rate, Outcome::DropAfter),
            (
                self.timeout_rate,
                Outcome::Hang(Duration::from_millis(self.hang_ms.max(1))),
            ),
            (
                self.storm_rate,
                Outcome::Storm(self.storm_retry_after.max(1)),
            ),
        ] {
            acc += rate;
            if r < acc {
                return outcome;
            }
        }
        Outcome::Run
    }
}

/// Sliding windows of recent sends, by key.
#[derive(Debug, Default)]
pub struct Windows {
    sent: HashMap<String, VecDeque<Instant>>,
}

impl Windows {
    /// Checks every (key, limit, window) at once; records a send only when all pass.
    /// Returns how long to wait when one is exceeded.
    pub fn admit(&mut self, checks: &[(String, u32, Duration)]) -> Result<(), Duration> {
        let now = Instant::now();
        let mut wait = Duration::ZERO;
        for (key, limit, window) in checks {
            let q = self.sent.entry(key.clone()).or_default();
            while q.front().is_some_and(|t| now.duration_since(*t) >= *window) {
                q.pop_front();
            }
            if q.len() >= *limit as usize {
                let free_at = q[q.len() - *limit as usize] + *window;
                wait = wait.max(free_at.saturating_duration_since(now));
            }
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        for (key, _, _) in checks {
            self.sent.get_mut(key).unwrap().push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_refuses_over_limit_with_retry_after() {
        let mut w = Windows::default();
        let checks = vec![("g".to_string(), 2, Duration::from_secs(60))];
        assert!(w.admit(&checks).is_ok());
        assert!(w.admit(&checks).is_ok());
        let retry = w.admit(&checks).unwrap_err();
        assert!(retry > Duration::from_secs(59) && retry <= Duration::from_secs(60));
    }

    #[test]
    fn time_scale() {
        assert_eq!(Limits::default().scale(), 1.0);
        assert_eq!(Limits::telegram().scaled(10.0).scale(), 10.0);
        assert_eq!(Limits::telegram().scaled(-1.0).scale(), 1.0);
        assert!(Limits::telegram().scaled(0.0).validate().is_err());
        assert!(Limits::telegram().scaled(f64::NAN).validate().is_err());
        assert!(Limits::telegram().scaled(0.5).validate().is_ok());
    }

    #[test]
    fn default_fault_always_runs() {
        assert_eq!(Fault::default().roll(), Outcome::Run);
        let always = Fault {
            error_rate: 1.0,
            ..Default::default()
        };
        assert_eq!(always.roll(), Outcome::Error);
    }
}
