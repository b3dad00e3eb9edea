//! What `/metrics` reads from the database at scrape time (queue depths, dialogs by status,
//! broadcast progress). These queries never run on the relay path: the HTTP handler calls
//! them at most once per cache period (`metrics`).

use sqlx::Row;

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// One connection's gauges as read from the database.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gauges {
    /// Pending outbox intents per lane number: (lane, count, oldest `created_at`).
    pub outbox_pending: Vec<(i64, i64, UnixMs)>,
    /// Intents being executed now (or interrupted by a crash, to be retried).
    pub outbox_in_flight: i64,
    /// Intents given up on (the dead letters).
    pub outbox_failed: i64,
    /// Updates set aside as dead letters.
    pub updates_dead: i64,
    /// Stored updates not processed yet, and the oldest one's `received_at`.
    pub updates_pending: (i64, Option<UnixMs>),
    /// Dialogs per status (`new`, `wait`, `closed`).
    pub dialogs: Vec<(String, i64)>,
    /// Webhook deliveries waiting (including backing off), and the oldest one's `created_at`.
    pub webhook_pending: (i64, Option<UnixMs>),
    /// Recipients of live (scheduled, running, paused) broadcasts: (broadcast id, recipient
    /// state, count).
    pub broadcast_recipients: Vec<(i64, String, i64)>,
}

store_methods! {
    /// Reads every scrape-time gauge of `connection`.
    pub async fn gauges(&self, connection: ConnectionId) -> Gauges => gauges;
}

async fn gauges(c: &mut Conn, connection: ConnectionId) -> Result<Gauges, StoreError> {
    let mut g = Gauges::default();
    let rows = sqlx::query(
        "SELECT lane, COUNT(*), MIN(created_at) FROM outbox \
         WHERE connection_id = $1 AND state = 'pending' GROUP BY lane ORDER BY lane",
    )
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?;
    for r in rows {
        g.outbox_pending
            .push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
    }
    let rows = sqlx::query(
        "SELECT state, COUNT(*) FROM outbox \
         WHERE connection_id = $1 AND state IN ('in_flight', 'failed') GROUP BY state",
    )
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?;
    for r in rows {
        let state: String = r.try_get(0)?;
        let n: i64 = r.try_get(1)?;
        match state.as_str() {
            "in_flight" => g.outbox_in_flight = n,
            _ => g.outbox_failed = n,
        }
    }
    let r = sqlx::query(
        "SELECT COUNT(*), MIN(received_at) FROM updates \
         WHERE connection_id = $1 AND processed = FALSE AND dead_at IS NULL",
    )
    .bind(connection.0)
    .fetch_one(&mut *c)
    .await?;
    g.updates_pending = (r.try_get(0)?, r.try_get(1)?);
    g.updates_dead = sqlx::query_scalar(
        "SELECT COUNT(*) FROM updates WHERE connection_id = $1 AND dead_at IS NOT NULL",
    )
    .bind(connection.0)
    .fetch_one(&mut *c)
    .await?;
    let rows = sqlx::query(
        "SELECT status, COUNT(*) FROM dialogs WHERE connection_id = $1 GROUP BY status ORDER BY status",
    )
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?;
    for r in rows {
        g.dialogs.push((r.try_get(0)?, r.try_get(1)?));
    }
    let r = sqlx::query(
        "SELECT COUNT(*), MIN(created_at) FROM webhook_deliveries \
         WHERE connection_id = $1 AND state = 'pending'",
    )
    .bind(connection.0)
    .fetch_one(&mut *c)
    .await?;
    g.webhook_pending = (r.try_get(0)?, r.try_get(1)?);
    let rows = sqlx::query(
        "SELECT r.broadcast_id, r.state, COUNT(*) FROM broadcast_recipients r \
         JOIN broadcasts b ON b.id = r.broadcast_id \
         WHERE b.connection_id = $1 AND b.state IN ('scheduled', 'running', 'paused') \
         GROUP BY r.broadcast_id, r.state ORDER BY r.broadcast_id, r.state",
    )
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?;
    for r in rows {
        g.broadcast_recipients
            .push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
    }
    Ok(g)
}
