//! Connection leases: which instance owns a connection (polls, runs its outbox and timers)
//! when several run on one database. A lease is one row per connection with its holder, an
//! expiry the holder keeps pushing forward, and an epoch raised by every take-over.
//!
//! The holder is this [`Store`]'s instance ([`Store::instance_id`]): the outbox and webhook
//! claims check it in the same statement (see `outbox.rs`, `events.rs`), so an instance that
//! lost its lease can no longer claim work, and rows in flight carry the epoch they were
//! claimed under.

use sqlx::Row;

use super::{ConnectionId, Store, StoreError, Tx, UnixMs};

/// A connection's lease as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The holding instance ([`Store::instance_id`] of its store).
    pub owner: String,
    /// The base URL other instances reach the holder at (`http.advertise`): where a
    /// non-owner forwards the parallel bot's calls (`gateway::hop`). Empty when unknown.
    pub address: String,
    /// Raised by every take-over.
    pub epoch: i64,
    /// The lease lapses at this time unless renewed.
    pub expires_at: UnixMs,
}

/// A random id for this process's store, with host and pid to tell people which it is.
pub(super) fn new_instance_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut b);
    format!("{}@{}:{}", hex::encode(b), this_host(), std::process::id())
}

/// Takes the lease (raising the epoch) when it is free, lapsed (`expires_at < $5`), or
/// already this instance's; with `force`, whatever its state.
fn take_sql(force: bool, from_dead: bool) -> String {
    let guard = match (force, from_dead) {
        (true, _) => "",
        (false, false) => {
            " WHERE connection_leases.expires_at < $5 OR connection_leases.owner = excluded.owner"
        }
        (false, true) => {
            " WHERE connection_leases.expires_at < $5 OR connection_leases.owner = excluded.owner \
             OR connection_leases.owner = $6"
        }
    };
    format!(
        "INSERT INTO connection_leases (connection_id, owner, address, epoch, expires_at) \
         VALUES ($1, $2, $3, 1, $4) ON CONFLICT (connection_id) DO UPDATE SET \
         owner = excluded.owner, address = excluded.address, \
         epoch = connection_leases.epoch + 1, expires_at = excluded.expires_at{guard} \
         RETURNING epoch"
    )
}

impl Store {
    /// The writer's turn for a lease statement: on SQLite (one process) the in-process turn
    /// every write takes; on PostgreSQL none. There the turn serialises this instance's
    /// transactions, and a renewal queued behind them on a loaded machine (statements of
    /// a second and more) let the lease lapse while its owner was alive: the instances
    /// took it from one another every few seconds, two of them processing at once. A lease
    /// statement is one row in its own transaction; PostgreSQL orders it with the rest.
    async fn lease_turn(&self) -> Option<super::TurnHeld> {
        match self.backend() {
            super::Backend::Sqlite => Some(self.writing().await),
            super::Backend::Postgres => None,
        }
    }

    /// This store's instance id: the owner it writes into the leases it takes.
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    /// Takes `connection`'s lease for `lapse_ms` if nobody holds it or the holder let it
    /// lapse; returns the new epoch, or `None` when another instance holds it.
    pub async fn lease_take(
        &self,
        connection: ConnectionId,
        address: &str,
        now: UnixMs,
        lapse_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.take(connection, address, now, lapse_ms, false, None)
            .await
    }

    /// Like [`Store::lease_take`], and also when the holder is `dead` (an instance known to
    /// be gone: a process of this host that no longer exists) without waiting for the
    /// lapse. Only one of several standbys gets it: the holder changes with the first.
    pub async fn lease_take_from(
        &self,
        connection: ConnectionId,
        address: &str,
        now: UnixMs,
        lapse_ms: i64,
        dead: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.take(connection, address, now, lapse_ms, false, Some(dead))
            .await
    }

    /// Takes `connection`'s lease whoever holds it (a single instance at start: SQLite,
    /// where a holder that crashed a moment ago must not delay the restart); returns the
    /// new epoch.
    pub async fn lease_seize(
        &self,
        connection: ConnectionId,
        address: &str,
        now: UnixMs,
        lapse_ms: i64,
    ) -> Result<i64, StoreError> {
        let epoch = self
            .take(connection, address, now, lapse_ms, true, None)
            .await?;
        epoch.ok_or_else(|| StoreError::Corrupt {
            table: "connection_leases",
            message: "a forced take returned no row".into(),
        })
    }

    async fn take(
        &self,
        connection: ConnectionId,
        address: &str,
        now: UnixMs,
        lapse_ms: i64,
        force: bool,
        dead: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        let _turn = self.lease_turn().await;
        let mut c = self.conn().await?;
        let sql = take_sql(force, dead.is_some());
        let q = sqlx::query_scalar(&sql)
            .bind(connection.0)
            .bind(self.instance_id())
            .bind(address)
            .bind(now.saturating_add(lapse_ms));
        let q = if force { q } else { q.bind(now) };
        let q = match dead {
            Some(d) if !force => q.bind(d),
            _ => q,
        };
        Ok(q.fetch_optional(&mut *c).await?)
    }

    /// Pushes the expiry of the lease this instance holds at `epoch` to `now + lapse_ms`;
    /// false when it no longer holds it (taken over: stop the owner's work at once).
    pub async fn lease_renew(
        &self,
        connection: ConnectionId,
        epoch: i64,
        now: UnixMs,
        lapse_ms: i64,
    ) -> Result<bool, StoreError> {
        let _turn = self.lease_turn().await;
        let mut c = self.conn().await?;
        let done = sqlx::query(
            "UPDATE connection_leases SET expires_at = $4 \
             WHERE connection_id = $1 AND owner = $2 AND epoch = $3",
        )
        .bind(connection.0)
        .bind(self.instance_id())
        .bind(epoch)
        .bind(now.saturating_add(lapse_ms))
        .execute(&mut *c)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Lets go of the lease held at `epoch` (a clean stop) so a standby takes it at once
    /// instead of after the lapse; false when it was not held.
    pub async fn lease_release(
        &self,
        connection: ConnectionId,
        epoch: i64,
    ) -> Result<bool, StoreError> {
        let _turn = self.lease_turn().await;
        let mut c = self.conn().await?;
        let done = sqlx::query(
            "UPDATE connection_leases SET expires_at = 0 \
             WHERE connection_id = $1 AND owner = $2 AND epoch = $3",
        )
        .bind(connection.0)
        .bind(self.instance_id())
        .bind(epoch)
        .execute(&mut *c)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The lease of `connection`, if one was ever taken.
    pub async fn lease_owner(&self, connection: ConnectionId) -> Result<Option<Lease>, StoreError> {
        let mut c = self.conn().await?;
        let row = sqlx::query(
            "SELECT owner, address, epoch, expires_at FROM connection_leases WHERE connection_id = $1",
        )
        .bind(connection.0)
        .fetch_optional(&mut *c)
        .await?;
        row.map(|r| {
            Ok(Lease {
                owner: r.try_get(0)?,
                address: r.try_get(1)?,
                epoch: r.try_get(2)?,
                expires_at: r.try_get(3)?,
            })
        })
        .transpose()
    }
}

impl Tx {
    /// Whether this transaction's instance (`owner`) still holds `connection`'s lease at
    /// `epoch`: a deciding transaction asks right before its commit and rolls back when
    /// not (an owner frozen past the lapse, then resumed, must not decide what its
    /// successor decides too). On PostgreSQL the lease row is share-locked until the
    /// commit, so a take-over waits for this commit rather than racing it; on SQLite the
    /// transaction holds the database's one writer already. Expiry is not checked: a
    /// lapsed lease nobody took yet is still this instance's to renew.
    pub async fn holds_lease(
        &mut self,
        connection: ConnectionId,
        owner: &str,
        epoch: i64,
    ) -> Result<bool, StoreError> {
        let lock = match self.backend {
            super::Backend::Postgres => " FOR SHARE",
            super::Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT epoch FROM connection_leases WHERE connection_id = $1 AND owner = $2 \
             AND epoch = $3{lock}"
        );
        let row: Option<i64> = sqlx::query_scalar(&sql)
            .bind(connection.0)
            .bind(owner)
            .bind(epoch)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.is_some())
    }
}

/// Whether `owner` (an instance id) names a process of this host that no longer exists:
/// its lease is dead even before it lapses (a restart after a crash takes over at once).
pub fn is_dead_here(owner: &str) -> bool {
    let Some((_, place)) = owner.split_once('@') else {
        return false;
    };
    let Some((host, pid)) = place.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    // Without a real host name every host would be "host": another machine's live owner
    // would look dead here and two instances would own the connection.
    known_host().is_some_and(|h| h == host)
        && pid != std::process::id()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn this_host() -> String {
    known_host().unwrap_or_else(|| "host".into())
}

/// This machine's name, when it has one (`/etc/hostname`).
fn known_host() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// The condition "this instance (`$owner`) holds the lease of the row's connection", for
/// claims; `conn_col` names the row's connection column.
pub(super) fn held_by(conn_col: &str, owner: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM connection_leases l WHERE l.connection_id = {conn_col} \
         AND l.owner = {owner})"
    )
}

/// The epoch of the lease of the row's connection held by `$owner` (NULL if not held).
pub(super) fn held_epoch(conn_col: &str, owner: &str) -> String {
    format!(
        "(SELECT l.epoch FROM connection_leases l WHERE l.connection_id = {conn_col} \
         AND l.owner = {owner})"
    )
}

/// The current epoch of the connection's lease (-1 when none), for recovery: rows in flight
/// under any other epoch belong to an owner that is gone.
pub(super) fn current_epoch(conn_col: &str) -> String {
    format!(
        "COALESCE((SELECT l.epoch FROM connection_leases l WHERE l.connection_id = {conn_col}), -1)"
    )
}

#[cfg(test)]
mod tests {
    use crate::store::testutil::temp_store;
    use crate::store::Store;

    #[tokio::test]
    async fn a_transaction_sees_whether_its_instance_still_holds_the_lease() {
        let (a, db) = temp_store().await;
        let b = Store::open(db.url()).await.unwrap();
        let c = a.ensure_connection("c").await.unwrap();
        assert_eq!(a.lease_take(c, "a:1", 1_000, 6_000).await.unwrap(), Some(1));
        let mut tx = a.begin().await.unwrap();
        assert!(tx.holds_lease(c, a.instance_id(), 1).await.unwrap());
        assert!(!tx.holds_lease(c, a.instance_id(), 2).await.unwrap());
        assert!(!tx.holds_lease(c, b.instance_id(), 1).await.unwrap());
        tx.commit().await.unwrap();
        // Lapsed but not taken: still a's.
        let mut tx = a.begin().await.unwrap();
        assert!(tx.holds_lease(c, a.instance_id(), 1).await.unwrap());
        tx.rollback().await.unwrap();
        assert_eq!(b.lease_take(c, "b:1", 8_000, 6_000).await.unwrap(), Some(2));
        let mut tx = a.begin().await.unwrap();
        assert!(!tx.holds_lease(c, a.instance_id(), 1).await.unwrap());
        tx.rollback().await.unwrap();
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_take_over_raises_the_epoch() {
        let (a, db) = temp_store().await;
        let b = Store::open(db.url()).await.unwrap();
        assert_ne!(a.instance_id(), b.instance_id());
        let c = a.ensure_connection("c").await.unwrap();
        assert_eq!(a.lease_owner(c).await.unwrap(), None);

        let e1 = a.lease_take(c, "a:1", 1_000, 6_000).await.unwrap();
        assert_eq!(e1, Some(1));
        // Held and not lapsed: b cannot take it.
        assert_eq!(b.lease_take(c, "b:1", 6_999, 6_000).await.unwrap(), None);
        assert!(a.lease_renew(c, 1, 5_000, 6_000).await.unwrap());
        assert_eq!(b.lease_take(c, "b:1", 10_999, 6_000).await.unwrap(), None);
        // Lapsed: b takes it under a new epoch, a's renewal fails.
        assert_eq!(
            b.lease_take(c, "b:1", 11_001, 6_000).await.unwrap(),
            Some(2)
        );
        assert!(!a.lease_renew(c, 1, 11_002, 6_000).await.unwrap());
        let l = a.lease_owner(c).await.unwrap().unwrap();
        assert_eq!(
            (l.owner.as_str(), l.address.as_str(), l.epoch, l.expires_at),
            (b.instance_id(), "b:1", 2, 17_001)
        );
        // A clean stop releases: a takes it at once.
        assert!(!b.lease_release(c, 1).await.unwrap());
        assert!(b.lease_release(c, 2).await.unwrap());
        assert_eq!(
            a.lease_take(c, "a:1", 12_000, 6_000).await.unwrap(),
            Some(3)
        );
        // A holder known dead is replaced at once, by one standby only.
        assert_eq!(
            b.lease_take_from(c, "b:1", 12_000, 6_000, "gone")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            b.lease_take_from(c, "b:1", 12_000, 6_000, a.instance_id())
                .await
                .unwrap(),
            Some(4)
        );
        assert_eq!(
            a.lease_take_from(c, "a:1", 12_000, 6_000, a.instance_id())
                .await
                .unwrap(),
            None
        );
        assert!(b.lease_release(c, 4).await.unwrap());
        assert_eq!(
            a.lease_take(c, "a:1", 12_000, 6_000).await.unwrap(),
            Some(5)
        );
        assert!(!super::is_dead_here(a.instance_id()), "this very process");
        // A gone process of this host is dead at once — only where the host has a name.
        assert_eq!(
            super::is_dead_here(&format!("x@{}:{}", super::this_host(), u32::MAX - 1)),
            super::known_host().is_some()
        );
        assert!(
            !super::is_dead_here(&format!("x@host:{}", u32::MAX - 1))
                || super::known_host().as_deref() == Some("host")
        );
        // Seizing ignores the holder.
        assert_eq!(b.lease_seize(c, "b:1", 12_001, 6_000).await.unwrap(), 6);
        assert!(!a.lease_renew(c, 5, 12_002, 6_000).await.unwrap());
    }
}
