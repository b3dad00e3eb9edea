//! Telegram's order in a user's chat, rebuilt from the two ways things reach Hotline.
//!
//! A user's messages arrive through the intake (getUpdates or a webhook); the parallel
//! bot's sends arrive through the gateway (Telegram's answer to the call). Either can be
//! late relative to the other, so the update processor places a bot's send by its
//! `message_id` among the user's messages of the same chat (in a private chat both share
//! one increasing sequence: the order in which Telegram executed them). Two facts make
//! that exact:
//!
//! - **A user's message waits for the bot's sends in flight before it.** A send Telegram
//!   executed before the user's message was sent upstream before that message was
//!   stored. The gateway registers every buffered send while it is in flight
//!   ([`Order::sending`]); the processor holds a user's message while a send to the same
//!   chat that started before the message was stored is still unanswered or unjournaled
//!   ([`Snapshot::sending_before`]).
//! - **A bot's send waits until the intake has caught up with it.** A user's message
//!   Telegram executed before the send was queued upstream before the send was answered.
//!   Every getUpdates that started at `t` and whose batch is stored proves that every
//!   update queued before `t` is stored ([`Order::synced`]). The processor asks for such a
//!   poll ([`Order::want_sync`]); the poll loop then cuts its long poll short and polls
//!   with `timeout = 0`. With a webhook intake there is no such proof: a send is placed
//!   [`GRACE_MS`] after it was answered at the latest (or as soon as a later message of
//!   the user arrived); with polling, [`POLL_GRACE_MS`] (only when polls keep failing).
//!   Both count from the start of the process at the earliest: while Hotline was down,
//!   its intake did not run.
//!
//! Not covered: a send whose request is streamed (a multipart upload over 1 MB) is not
//! registered while in flight (its chat is unknown until Telegram answers).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, Notify};

use crate::store::{now_ms, UnixMs};

/// How long after its answer a bot's send is placed at the latest when the intake cannot
/// prove it caught up (webhook intake, failing polls).
pub const GRACE_MS: i64 = 1500;
/// The same with a polling intake, whose polls prove it caught up.
pub const POLL_GRACE_MS: i64 = 15_000;

/// The shared ordering state of one connection (cheap to clone).
#[derive(Clone, Debug)]
pub struct Order(Arc<Inner>);

/// The last key given and the sends in flight: key → (chat, started at).
type InFlight = (u64, BTreeMap<u64, (i64, UnixMs)>);

#[derive(Debug)]
struct Inner {
    /// Sends in flight.
    sending: Mutex<InFlight>,
    /// Every update queued upstream before this time is stored.
    synced: watch::Sender<UnixMs>,
    /// The processor needs `synced` at least this.
    wanted: watch::Sender<UnixMs>,
    /// Wakes the processor: a send settled.
    settled: Notify,
    /// When this process started ordering (graces count from here at the earliest).
    born: UnixMs,
    /// The intake polls (and so can prove it caught up).
    polling: std::sync::atomic::AtomicBool,
    /// Bumped after every processor pass that committed (see [`Order::processed`]).
    passes: watch::Sender<u64>,
}

impl Default for Order {
    fn default() -> Self {
        Self(Arc::new(Inner {
            sending: Mutex::new((0, BTreeMap::new())),
            synced: watch::channel(0).0,
            wanted: watch::channel(0).0,
            settled: Notify::new(),
            born: now_ms(),
            polling: std::sync::atomic::AtomicBool::new(false),
            passes: watch::channel(0).0,
        }))
    }
}

/// What [`Order::snapshot`] saw.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// [`Order::synced`] then.
    pub synced: UnixMs,
    /// The sends in flight then: (chat, started at).
    sending: Vec<(i64, UnixMs)>,
}

impl Snapshot {
    /// Whether a send to `chat` that started at or before `at` was in flight.
    pub fn sending_before(&self, chat: i64, at: UnixMs) -> bool {
        self.sending
            .iter()
            .any(|&(c, started)| c == chat && started <= at)
    }
}

/// A send in flight; dropping it (answered and journaled, or failed) settles it.
#[must_use]
pub struct Sending {
    order: Order,
    key: u64,
}

impl Drop for Sending {
    fn drop(&mut self) {
        if let Ok(mut s) = self.order.0.sending.lock() {
            s.1.remove(&self.key);
        }
        self.order.0.settled.notify_one();
    }
}

impl Order {
    /// Registers a send to `chat` about to go upstream.
    pub fn sending(&self, chat: i64) -> Sending {
        let mut s = self.0.sending.lock().unwrap_or_else(|e| e.into_inner());
        s.0 += 1;
        let key = s.0;
        s.1.insert(key, (chat, now_ms()));
        Sending {
            order: self.clone(),
            key,
        }
    }

    /// The state a processor pass decides on, taken **before** it reads the journal and
    /// the updates: a send settled before the snapshot is in the journal it reads, and
    /// every update queued before `synced` is among the updates it reads.
    pub fn snapshot(&self) -> Snapshot {
        let synced = self.synced();
        let s = self.0.sending.lock().unwrap_or_else(|e| e.into_inner());
        Snapshot {
            synced,
            sending: s.1.values().copied().collect(),
        }
    }

    /// Marks the intake as polling (see [`POLL_GRACE_MS`]).
    pub fn set_polling(&self) {
        self.0
            .polling
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// When a send answered at `called_at` is placed even without the intake's proof.
    pub fn grace_end(&self, called_at: UnixMs) -> UnixMs {
        let grace = if self.0.polling.load(std::sync::atomic::Ordering::Relaxed) {
            POLL_GRACE_MS
        } else {
            GRACE_MS
        };
        called_at.max(self.0.born) + grace
    }

    /// Whether a send answered at `called_at` can be placed: the intake proved it stored
    /// every update queued before (as of `snap`), or the grace is over.
    pub fn caught_up(&self, snap: &Snapshot, called_at: UnixMs, now: UnixMs) -> bool {
        snap.synced > called_at || now >= self.grace_end(called_at)
    }

    /// Every update queued upstream before this time is stored.
    pub fn synced(&self) -> UnixMs {
        *self.0.synced.borrow()
    }

    /// Called by the poll loop after a getUpdates that started at `started` returned and
    /// its batch (if any) is stored.
    pub fn set_synced(&self, started: UnixMs) {
        self.0.synced.send_if_modified(|s| {
            let newer = started > *s;
            *s = (*s).max(started);
            newer
        });
    }

    /// Asks the intake to prove it stored every update queued up to `at` included: a
    /// poll that started after `at` ([`Order::caught_up`] wants `synced > at`; a poll
    /// that started in the same millisecond as the answer proves nothing about it).
    pub fn want_sync(&self, at: UnixMs) {
        let at = at.saturating_add(1);
        self.0.wanted.send_if_modified(|w| {
            let newer = at > *w;
            *w = (*w).max(at);
            newer
        });
    }

    /// Whether a wanted sync is not yet done.
    pub fn sync_pending(&self) -> bool {
        *self.0.wanted.borrow() > self.synced()
    }

    /// Sees every later [`Order::want_sync`] (for the poll loop).
    pub fn wanted(&self) -> watch::Receiver<UnixMs> {
        self.0.wanted.subscribe()
    }

    /// Called by the update processor after a pass that handled something committed.
    pub fn processed(&self) {
        self.0.passes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Sees every later [`Order::processed`]: what waits for the processor (a handover
    /// for a user not known yet) waits on this instead of polling the store.
    pub fn passes(&self) -> watch::Receiver<u64> {
        self.0.passes.subscribe()
    }

    /// Resolves after a send settled (a permit is kept when nobody waits).
    pub async fn send_settled(&self) {
        self.0.settled.notified().await
    }

    /// Sees every later advance of [`Order::synced`] (for the processor).
    pub fn synced_changes(&self) -> watch::Receiver<UnixMs> {
        self.0.synced.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_in_flight_are_seen_until_dropped() {
        let o = Order::default();
        let a = o.sending(5);
        let at = now_ms();
        assert!(o.snapshot().sending_before(5, at));
        assert!(!o.snapshot().sending_before(6, at));
        assert!(
            !o.snapshot().sending_before(5, at - 60_000),
            "started after the message"
        );
        drop(a);
        assert!(!o.snapshot().sending_before(5, at));
    }

    #[test]
    fn syncs_are_wanted_until_done() {
        let o = Order::default();
        assert!(!o.sync_pending());
        o.want_sync(100);
        assert!(o.sync_pending());
        o.set_synced(99);
        assert!(o.sync_pending());
        o.set_synced(100);
        assert!(
            o.sync_pending(),
            "a poll that started when the send was answered may have missed what came just before"
        );
        assert!(!o.caught_up(&o.snapshot(), 100, 100));
        o.set_synced(101);
        assert!(!o.sync_pending() && o.synced() == 101);
        assert!(o.caught_up(&o.snapshot(), 100, 100));
        o.set_synced(50);
        assert_eq!(o.synced(), 101, "never goes back");
    }
}
