//! One owner per connection across instances on one database: [`hold`] takes the
//! connection's lease (see `store::leases`), runs the owner's work while the lease is held,
//! renews it, and stops the work at once when the lease is lost; a standby retries until
//! the holder lets it lapse or releases it.
//!
//! Timings: renewed every [`RENEW_EVERY`], lapses after [`LAPSE`] without renewal, a
//! standby tries every [`RETRY_EVERY`]: an owner that dies (SIGKILL, a lost host) is
//! replaced within `LAPSE + RETRY_EVERY`; one that stops cleanly releases its leases, and
//! a standby takes over within `RETRY_EVERY`.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::shutdown::{Shutdown, ShutdownTrigger};
use crate::store::{now_ms, ConnectionId, Store, UnixMs};

/// How often the owner renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);
/// How long a lease holds without renewal.
pub const LAPSE: Duration = Duration::from_secs(6);
/// How often a standby tries to take a lease.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);

/// How a process comes to own its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Alone on its database (SQLite: one process per file): take the lease at once, even
    /// from a holder that crashed a moment ago.
    Seize,
    /// One of several instances: wait for the lease to be free or lapsed.
    Contend,
}

/// The timings of [`hold`] ([`Timing::default`]: the constants above; tests shorten them).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// See [`RENEW_EVERY`].
    pub renew_every: Duration,
    /// See [`LAPSE`].
    pub lapse: Duration,
    /// See [`RETRY_EVERY`].
    pub retry_every: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            renew_every: RENEW_EVERY,
            lapse: LAPSE,
            retry_every: RETRY_EVERY,
        }
    }
}

/// Until when (Unix ms) this instance's lease of a connection surely holds: the expiry it
/// last wrote, taking or renewing it (0 while not held). What serves as the owner without
/// a database statement per call (the gateway) asks it, so an owner frozen past the lapse
/// and then resumed stops acting as the owner at once, before its next renewal finds the
/// lease taken over. Clones share the time.
#[derive(Clone, Debug)]
pub struct Clock(Arc<AtomicI64>);

impl Default for Clock {
    fn default() -> Self {
        Self(Arc::new(AtomicI64::new(0)))
    }
}

impl Clock {
    /// A clock that never lapses: where no other instance can take the lease over (one
    /// process alone on SQLite), a renewal delayed by a busy writer must not stop anything.
    pub fn unfenced() -> Self {
        Self(Arc::new(AtomicI64::new(i64::MAX)))
    }

    /// Whether the lease surely holds at `now`.
    pub fn holds(&self, now: UnixMs) -> bool {
        now < self.0.load(Ordering::Acquire)
    }

    fn set(&self, until: UnixMs) {
        self.0.store(until, Ordering::Release);
    }
}

/// The lease as the owner's work holds it (one take of the lease): its epoch, and the way
/// the work says it found the lease gone. Renewals notice a lost lease only every
/// [`RENEW_EVERY`]; a decision that commits must not wait for that (an owner frozen past
/// the lapse and then resumed would decide in parallel with its successor until its next
/// renewal), so it checks the lease in its own transaction and calls [`Held::lost`].
#[derive(Clone, Debug)]
pub struct Held {
    connection: ConnectionId,
    epoch: i64,
    lost: Arc<tokio::sync::Notify>,
}

impl Held {
    /// The connection whose lease this is.
    pub fn connection(&self) -> ConnectionId {
        self.connection
    }

    /// The epoch of this take of the lease.
    pub fn epoch(&self) -> i64 {
        self.epoch
    }

    /// The work found the lease taken over: [`hold`] stops the owner's work at once and
    /// stands by, as when a renewal finds it.
    pub fn lost(&self) {
        self.lost.notify_one();
    }
}

/// Owns `connection` whenever this instance holds its lease: each time it takes the lease,
/// runs `own(held, stop)` (the owner's work, which must end soon after `stop` fires) and
/// renews the lease meanwhile. When a renewal finds the lease taken over, or renewals fail
/// for longer than the lease holds, or the work reports it lost ([`Held::lost`]), `stop` fires at once and the work is awaited before the
/// lease is contended again. On `shutdown` the work is stopped and awaited, then the lease
/// is released so a standby takes over without waiting for the lapse. `address` is the base
/// URL other instances reach this one at (stored in the lease, for `gateway::hop`). `clock`
/// follows the expiry this instance wrote (see [`Clock`]). `standby` runs once if the first
/// attempt finds the lease held by another instance.
#[allow(clippy::too_many_arguments)]
pub async fn hold<F, Fut>(
    store: Store,
    connection: ConnectionId,
    address: String,
    claim: Claim,
    timing: Timing,
    clock: Clock,
    mut shutdown: Shutdown,
    standby: impl FnOnce(),
    mut own: F,
) where
    F: FnMut(Held, Shutdown) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut standby = Some(standby);
    let lapse_ms = timing.lapse.as_millis() as i64;
    let mut first = true;
    loop {
        // Standby: until the lease is ours.
        let epoch = loop {
            let asked = now_ms();
            let taken = if claim == Claim::Seize && first {
                store
                    .lease_seize(connection, &address, now_ms(), lapse_ms)
                    .await
                    .map(Some)
            } else {
                take_live_or_dead(&store, connection, &address, lapse_ms).await
            };
            match taken {
                Ok(Some(epoch)) => {
                    clock.set(asked.saturating_add(lapse_ms));
                    break epoch;
                }
                Ok(None) => {
                    if let Some(f) = standby.take() {
                        tracing::info!(
                            connection_id = connection.0,
                            "lease: another instance owns the connection; standing by"
                        );
                        f();
                    }
                }
                Err(e) => {
                    tracing::warn!(connection_id = connection.0, error = %e, "lease: taking failed")
                }
            }
            tokio::select! {
                _ = shutdown.recv() => return,
                _ = tokio::time::sleep(timing.retry_every) => {}
            }
        };
        first = false;
        tracing::info!(
            connection_id = connection.0,
            epoch,
            "lease: this instance owns the connection"
        );
        crate::metrics::lease_owned(connection, true);
        let (stop, stopped) = ShutdownTrigger::new();
        let lost = Arc::new(tokio::sync::Notify::new());
        let held = Held {
            connection,
            epoch,
            lost: lost.clone(),
        };
        let work = own(held, stopped);
        tokio::pin!(work);
        let mut renewed = Instant::now();
        let mut ended = false;
        let leaving = loop {
            tokio::select! {
                _ = shutdown.recv() => break true,
                _ = lost.notified() => {
                    tracing::warn!(connection_id = connection.0, epoch, "lease: the owner's work found the lease taken over; stopping this owner");
                    break false;
                }
                _ = &mut work, if !ended => {
                    // The work ended by itself (it should not): keep the lease, keep
                    // renewing; the connection is stopped anyway.
                    ended = true;
                }
                _ = tokio::time::sleep(timing.renew_every) => {
                    let asked = now_ms();
                    match store.lease_renew(connection, epoch, asked, lapse_ms).await {
                        Ok(true) => {
                            renewed = Instant::now();
                            clock.set(asked.saturating_add(lapse_ms));
                        }
                        Ok(false) => {
                            tracing::warn!(connection_id = connection.0, epoch, "lease: taken over by another instance; stopping this owner");
                            break false;
                        }
                        Err(e) => {
                            tracing::warn!(connection_id = connection.0, error = %e, "lease: renewal failed");
                            // Past the lapse another instance may own it: stop to be safe.
                            if renewed.elapsed() + timing.renew_every >= timing.lapse {
                                break false;
                            }
                        }
                    }
                }
            }
        };
        clock.set(0);
        stop.trigger();
        if !ended {
            work.await;
        }
        crate::metrics::lease_owned(connection, false);
        if leaving {
            match store.lease_release(connection, epoch).await {
                Ok(_) => tracing::info!(connection_id = connection.0, epoch, "lease: released"),
                Err(e) => {
                    tracing::warn!(connection_id = connection.0, error = %e, "lease: release failed; it lapses")
                }
            }
            return;
        }
    }
}

/// Takes the lease if it is free or lapsed, or at once if its holder is a process of this
/// host that is gone (a restart after a crash need not wait for the lapse).
async fn take_live_or_dead(
    store: &Store,
    connection: ConnectionId,
    address: &str,
    lapse_ms: i64,
) -> Result<Option<i64>, crate::store::StoreError> {
    let taken = store
        .lease_take(connection, address, now_ms(), lapse_ms)
        .await?;
    if taken.is_some() {
        return Ok(taken);
    }
    match store.lease_owner(connection).await? {
        Some(l) if crate::store::is_dead_here(&l.owner) => {
            store
                .lease_take_from(connection, address, now_ms(), lapse_ms, &l.owner)
                .await
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::store::testutil::temp_store;

    fn fast() -> Timing {
        Timing {
            renew_every: Duration::from_millis(50),
            lapse: Duration::from_millis(400),
            retry_every: Duration::from_millis(20),
        }
    }

    /// Runs `hold` with work that records the epoch it owns (0 when stopped).
    fn spawn(
        store: &Store,
        c: ConnectionId,
        claim: Claim,
    ) -> (ShutdownTrigger, Arc<AtomicI64>, tokio::task::JoinHandle<()>) {
        let (trigger, shutdown) = ShutdownTrigger::new();
        let owning = Arc::new(AtomicI64::new(0));
        let o = owning.clone();
        let h = tokio::spawn(hold(
            store.clone(),
            c,
            "addr".into(),
            claim,
            fast(),
            Clock::default(),
            shutdown,
            || {},
            move |held, mut stop| {
                let o = o.clone();
                async move {
                    o.store(held.epoch(), Ordering::SeqCst);
                    stop.recv().await;
                    o.store(0, Ordering::SeqCst);
                }
            },
        ));
        (trigger, owning, h)
    }

    async fn until(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn one_owner_a_clean_stop_hands_over_and_a_lost_lease_stops_the_work() {
        let (a, db) = temp_store().await;
        let b = Store::open(db.url()).await.unwrap();
        let c = a.ensure_connection("c").await.unwrap();
        let (stop_a, own_a, ha) = spawn(&a, c, Claim::Contend);
        until("a owns", || own_a.load(Ordering::SeqCst) == 1).await;
        let (stop_b, own_b, hb) = spawn(&b, c, Claim::Contend);
        // b stays a standby while a renews (several lapses long).
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(own_b.load(Ordering::SeqCst), 0);
        assert_eq!(own_a.load(Ordering::SeqCst), 1);
        // A clean stop: a's work ends, the lease is released, b takes it over.
        stop_a.trigger();
        ha.await.unwrap();
        assert_eq!(own_a.load(Ordering::SeqCst), 0);
        until("b owns", || own_b.load(Ordering::SeqCst) == 2).await;
        // a seizes (a restart alone on the database): b's renewal fails, its work stops.
        let (stop_a, own_a, ha) = spawn(&a, c, Claim::Seize);
        until("a owns again", || own_a.load(Ordering::SeqCst) == 3).await;
        until("b stopped", || own_b.load(Ordering::SeqCst) == 0).await;
        stop_a.trigger();
        ha.await.unwrap();
        // b, a standby again, takes the released lease.
        until("b owns again", || own_b.load(Ordering::SeqCst) == 4).await;
        stop_b.trigger();
        hb.await.unwrap();
    }
}
