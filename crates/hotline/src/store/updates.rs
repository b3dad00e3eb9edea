//! The update log: every update is stored before Telegram is told it was received, and
//! processed from here. `UNIQUE (connection, update_id)` makes intake idempotent.

use serde_json::Value;
use sqlx::Row;

use super::{store_methods, store_writes, Conn, ConnectionId, StoreError, UnixMs};

/// An update as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredUpdate {
    /// Telegram's update id.
    pub update_id: i64,
    /// The raw update, unchanged (nothing Telegram adds is lost).
    pub payload: Value,
    /// When Hotline received it.
    pub received_at: UnixMs,
    /// Whether the relay has processed it.
    pub processed: bool,
    /// Failed attempts to process it (see `isolation`).
    pub attempts: i64,
    /// After a failure: not to be processed again before this time.
    pub retry_at: Option<UnixMs>,
}

fn from_row(r: &super::DbRow) -> Result<StoredUpdate, StoreError> {
    let text: String = r.try_get("payload")?;
    Ok(StoredUpdate {
        update_id: r.try_get("update_id")?,
        payload: serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            table: "updates",
            message: e.to_string(),
        })?,
        received_at: r.try_get("received_at")?,
        processed: super::flag(r, "processed")?,
        attempts: r.try_get("attempts")?,
        retry_at: r.try_get("retry_at")?,
    })
}

store_writes! {
    /// Stores a batch of raw updates (each must have an integer `update_id`); duplicates are
    /// ignored. Returns how many were new. The batch is one statement (one commit outside a
    /// [`Tx`](super::Tx)).
    pub async fn insert_updates(&self, connection: ConnectionId, updates: &[Value], now: UnixMs) -> u64 => insert_updates;
}

store_methods! {
    /// The oldest unprocessed updates that are not dead letters, in update id order.
    pub async fn unprocessed_updates(&self, connection: ConnectionId, limit: i64) -> Vec<StoredUpdate> => unprocessed_updates;
    /// Marks an update processed so a restart does not replay it.
    pub async fn mark_update_processed(&self, connection: ConnectionId, update_id: i64, now: UnixMs) -> () => mark_update_processed;
    /// Marks several updates processed in one statement (a pass marks its batch at once).
    pub async fn mark_updates_processed(&self, connection: ConnectionId, update_ids: &[i64], now: UnixMs) -> () => mark_updates_processed;
    /// Records a failed attempt to process an update: retried not before `retry_at`, or
    /// given up (a dead letter since `now`) when `retry_at` is None.
    pub async fn update_failed(&self, connection: ConnectionId, update_id: i64, error: &str, attempts: i64, retry_at: Option<UnixMs>, now: UnixMs) -> () => update_failed;
    /// The highest stored update id, to resume polling with `offset = id + 1`.
    pub async fn last_update_id(&self, connection: ConnectionId) -> Option<i64> => last_update_id;
    /// Updates with id greater than `after`, for serving the parallel bot's getUpdates.
    pub async fn updates_after(&self, connection: ConnectionId, after: i64, limit: i64) -> Vec<StoredUpdate> => updates_after;
}

async fn insert_updates(
    c: &mut Conn,
    connection: ConnectionId,
    updates: &[Value],
    now: UnixMs,
) -> Result<u64, StoreError> {
    let mut rows = Vec::with_capacity(updates.len());
    for u in updates {
        let Some(id) = u.get("update_id").and_then(Value::as_i64) else {
            return Err(StoreError::Corrupt {
                table: "updates",
                message: "update without integer update_id".into(),
            });
        };
        rows.push((id, u.to_string()));
    }
    // One multi-row statement per chunk: a polled batch is one write (one round trip to
    // the connection's thread, one commit outside a transaction) instead of one per update.
    let mut n = 0;
    for chunk in rows.chunks(CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, ${}, $2)", 2 * i + 3, 2 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO updates (connection_id, update_id, payload, received_at) VALUES {} \
             ON CONFLICT (connection_id, update_id) DO NOTHING",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(connection.0).bind(now);
        for (id, payload) in chunk {
            q = q.bind(*id).bind(payload.as_str());
        }
        n += q.execute(&mut *c).await?.rows_affected();
    }
    if n > 0 {
        // The owner's processor may run in another instance (a webhook hit this one).
        super::notify_instances(c, super::Topic::Updates, connection).await?;
    }
    Ok(n)
}

/// Updates per multi-row statement (getUpdates returns at most 100; the bind parameters
/// stay far below every engine's limit).
const CHUNK: usize = 100;

const COLUMNS: &str =
    "update_id, payload, received_at, CAST(processed AS INTEGER) AS processed, attempts, retry_at";

async fn unprocessed_updates(
    c: &mut Conn,
    connection: ConnectionId,
    limit: i64,
) -> Result<Vec<StoredUpdate>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM updates WHERE connection_id = $1 AND processed = FALSE AND dead_at IS NULL \
         ORDER BY update_id LIMIT $2"
    ))
    .bind(connection.0)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

async fn mark_update_processed(
    c: &mut Conn,
    connection: ConnectionId,
    update_id: i64,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE updates SET processed = TRUE, processed_at = $3 WHERE connection_id = $1 AND update_id = $2")
        .bind(connection.0)
        .bind(update_id)
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn mark_updates_processed(
    c: &mut Conn,
    connection: ConnectionId,
    update_ids: &[i64],
    now: UnixMs,
) -> Result<(), StoreError> {
    for chunk in update_ids.chunks(CHUNK) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "UPDATE updates SET processed = TRUE, processed_at = $2 WHERE connection_id = $1 \
             AND update_id IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(connection.0).bind(now);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

async fn update_failed(
    c: &mut Conn,
    connection: ConnectionId,
    update_id: i64,
    error: &str,
    attempts: i64,
    retry_at: Option<UnixMs>,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE updates SET attempts = $3, last_error = $4, retry_at = $5, \
         dead_at = CASE WHEN $5 IS NULL THEN $6 END \
         WHERE connection_id = $1 AND update_id = $2",
    )
    .bind(connection.0)
    .bind(update_id)
    .bind(attempts)
    .bind(error)
    .bind(retry_at)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn last_update_id(c: &mut Conn, connection: ConnectionId) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT MAX(update_id) FROM updates WHERE connection_id = $1")
            .bind(connection.0)
            .fetch_one(&mut *c)
            .await?,
    )
}

async fn updates_after(
    c: &mut Conn,
    connection: ConnectionId,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredUpdate>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM updates WHERE connection_id = $1 AND update_id > $2 ORDER BY update_id LIMIT $3"
    ))
    .bind(connection.0)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::store::testutil::temp_store;

    #[tokio::test]
    async fn intake_is_idempotent_and_ordered() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        assert_eq!(s.last_update_id(conn).await.unwrap(), None);
        let batch = vec![
            json!({"update_id": 11, "message": {"text": "b"}}),
            json!({"update_id": 10, "x": 1}),
        ];
        let mut tx = s.begin().await.unwrap();
        assert_eq!(tx.insert_updates(conn, &batch, 5).await.unwrap(), 2);
        tx.commit().await.unwrap();
        assert_eq!(s.insert_updates(conn, &batch, 6).await.unwrap(), 0);
        assert_eq!(s.last_update_id(conn).await.unwrap(), Some(11));
        let pending = s.unprocessed_updates(conn, 10).await.unwrap();
        assert_eq!(
            pending.iter().map(|u| u.update_id).collect::<Vec<_>>(),
            vec![10, 11]
        );
        assert_eq!(pending[1].payload["message"]["text"], "b");
        s.mark_update_processed(conn, 10, 7).await.unwrap();
        let pending = s.unprocessed_updates(conn, 10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(s.updates_after(conn, 10, 10).await.unwrap().len(), 1);
        assert!(s
            .insert_updates(conn, &[json!({"no_id": true})], 8)
            .await
            .is_err());
    }
}
