//! Sends made with the bot's token outside the outbox: the parallel bot's own calls, which
//! the gateway passes to Telegram. Telegram counts them against the same limits as
//! Hotline's (30 messages per second per bot, 1 per second per private chat, 20 per minute
//! per group), so the outbox must count them too, or it meets the 429s the bot's traffic
//! leaves room for.
//!
//! The gateway records each answered send here; the connection's [`Worker`](super::Worker)
//! folds what was recorded into its [`Scheduler`](super::Scheduler)'s windows before each
//! scheduling round. The bot's own calls are never delayed or refused: the bot owns its
//! pacing, Hotline only forwards, and what the bot spends slows the outbox down instead.
//!
//! In memory only, and cheap: a record is a push under a short lock, no I/O. It works
//! because the gateway's calls reach the connection's owner, where its worker runs (calls
//! arriving at another instance are forwarded to the owner).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

/// Sends kept until the worker takes them. The worker takes them at least every few
/// seconds while it runs; the bound only matters where no worker runs (an instance that
/// does not own the connection) and keeps memory flat there.
const MAX_KEPT: usize = 4096;

/// 429s kept until the worker takes them (the same reasoning as [`MAX_KEPT`]).
const MAX_LIMITED: usize = 64;

/// One send recorded by the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExternalSend {
    /// The chat written to; `None` when the gateway could not tell (a streamed upload, a
    /// `@channel` name): it then counts in the bot's window only.
    pub chat: Option<i64>,
    /// When Telegram answered: never earlier than it counted the send, so the windows
    /// clear no sooner than Telegram's.
    pub at: Instant,
}

/// A 429 Telegram answered to one of the bot's own calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExternalLimit {
    /// The chat the refused call wrote to, when known.
    pub chat: Option<i64>,
    /// The answer's `retry_after`, in Telegram's seconds.
    pub retry_after: u64,
    /// When Telegram answered.
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Kept {
    sends: VecDeque<ExternalSend>,
    limited: Vec<ExternalLimit>,
}

/// What the gateway records and the worker takes, for one connection. Cheap to clone (the
/// clones share the record).
#[derive(Clone, Debug, Default)]
pub struct ExternalSends(Arc<Mutex<Kept>>);

impl ExternalSends {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a send Telegram accepted just now (into `chat`, when known).
    pub fn sent(&self, chat: Option<i64>) {
        let send = ExternalSend {
            chat,
            at: Instant::now(),
        };
        let mut kept = self.kept();
        if kept.sends.len() >= MAX_KEPT {
            kept.sends.pop_front();
        }
        kept.sends.push_back(send);
    }

    /// Records a 429 Telegram answered just now to a call into `chat` (when known): the
    /// outbox pauses that chat as if its own call had met it.
    pub fn rate_limited(&self, chat: Option<i64>, retry_after: u64) {
        let limit = ExternalLimit {
            chat,
            retry_after,
            at: Instant::now(),
        };
        let mut kept = self.kept();
        if kept.limited.len() >= MAX_LIMITED {
            kept.limited.remove(0);
        }
        kept.limited.push(limit);
    }

    /// Takes everything recorded since the last take.
    pub fn take(&self) -> (Vec<ExternalSend>, Vec<ExternalLimit>) {
        let mut kept = self.kept();
        if kept.sends.is_empty() && kept.limited.is_empty() {
            return (Vec::new(), Vec::new());
        }
        (
            std::mem::take(&mut kept.sends).into(),
            std::mem::take(&mut kept.limited),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_taken_once_and_bounded() {
        let e = ExternalSends::new();
        let shared = e.clone();
        shared.sent(Some(5));
        shared.sent(None);
        shared.rate_limited(Some(-100), 7);
        let (sends, limited) = e.take();
        assert_eq!(
            sends.iter().map(|s| s.chat).collect::<Vec<_>>(),
            vec![Some(5), None]
        );
        assert_eq!(limited.len(), 1);
        assert_eq!((limited[0].chat, limited[0].retry_after), (Some(-100), 7));
        assert_eq!(e.take(), (Vec::new(), Vec::new()));
        // Where no worker takes them, only the newest are kept.
        for i in 0..(MAX_KEPT as i64 + 10) {
            e.sent(Some(i));
        }
        let (sends, _) = e.take();
        assert_eq!(sends.len(), MAX_KEPT);
        assert_eq!(sends[0].chat, Some(10));
    }
}
