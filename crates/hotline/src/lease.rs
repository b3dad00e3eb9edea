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
use std::time::Duration;

use tokio::time::Instant;

use crate::shutdown::{Shutdown, ShutdownTrigger};
use crate::store::{now_ms, ConnectionId, Store};

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

/// Owns `connection` whenever this instance holds its lease: each time it takes the lease,
/// runs `own(epoch, stop)` (the owner's work, which must end soon after `stop` fires) and
/// renews the lease meanwhile. When a renewal finds the lease taken over, or renewals fail
/// for longer than the lease holds, `stop` fires at once and the work is awaited before the
/// lease is contended again. On `shutdown` the work is stopped and awaited, then the lease
/// is released so a standby takes over without waiting for the lapse. `address` is the base
/// URL other instances reach this one at (stored in the lease, for `gateway::hop`). `standby` runs once if
/// the first attempt finds the lease held by another instance.
#[allow(clippy::too_many_arguments)]
pub async fn hold<F, Fut>(
    store: Store,
    connection: ConnectionId,
    address: String,
    claim: Claim,
    timing: Timing,
    mut shutdown: Shutdown,
    standby: impl FnOnce(),
    mut own: F,
) where
    F: FnMut(i64, Shutdown) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut standby = Some(standby);
    let lapse_ms = timing.lapse.as_millis() as i64;
    let mut first = true;
    loop {
        // Standby: until the lease is ours.
        let epoch = loop {
            let taken = if claim == Claim::Seize && first {
                store
                    .lease_seize(connection, &address, now_ms(), lapse_ms)
                    .await
                    .map(Some)
            } else {
                take_live_or_dead(&store, connection, &address, lapse_ms).await
            };
            match taken {
                Ok(Some(epoch)) => break epoch,
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
        let work = own(epoch, stopped);
        tokio::pin!(work);
        let mut renewed = Instant::now();
        let mut ended = false;
        let leaving = loop {
            tokio::select! {
                _ = shutdown.recv() => break true,
                _ = &mut work, if !ended => {
                    // The work ended by itself (it should not): keep the lease, keep
                    // renewing; the connection is stopped anyway.
                    ended = true;
                }
                _ = tokio::time::sleep(timing.renew_every) => {
                    match store.lease_renew(connection, epoch, now_ms(), lapse_ms).await {
                        Ok(true) => renewed = Instant::now(),
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
            shutdown,
            || {},
            move |epoch, mut stop| {
                let o = o.clone();
                async move {
                    o.store(epoch, Ordering::SeqCst);
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
