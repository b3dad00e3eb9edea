//! Dead letters: items given up on after repeated failures — updates (`dead_at` set),
//! outbox intents and webhook deliveries in state `failed` — listed, re-queued or dropped
//! by `hotline dead-letters` (see `isolation`).

use sqlx::Row;

use super::{store_methods, Conn, StoreError, UnixMs};

/// What kind of item a dead letter is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeadKind {
    /// A stored Telegram update whose processing kept failing.
    Update,
    /// An outbox intent that failed (permanently, or by panicking too often).
    Intent,
    /// An outgoing webhook delivery that was given up.
    Webhook,
}

impl DeadKind {
    /// The name used on the command line and in listings.
    pub fn name(self) -> &'static str {
        match self {
            DeadKind::Update => "update",
            DeadKind::Intent => "intent",
            DeadKind::Webhook => "webhook",
        }
    }

    /// Every kind, in listing order.
    pub const ALL: [DeadKind; 3] = [DeadKind::Update, DeadKind::Intent, DeadKind::Webhook];

    /// The table, and the condition that makes one of its rows a dead letter.
    fn table(self) -> (&'static str, &'static str, &'static str) {
        match self {
            // (table, condition, time column)
            DeadKind::Update => ("updates", "t.dead_at IS NOT NULL", "t.dead_at"),
            DeadKind::Intent => ("outbox", "t.state = 'failed'", "t.updated_at"),
            DeadKind::Webhook => ("webhook_deliveries", "t.state = 'failed'", "t.updated_at"),
        }
    }
}

/// One dead letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its kind.
    pub kind: DeadKind,
    /// The row id in its table (what `retry` and `drop` take).
    pub id: i64,
    /// The connection's name.
    pub connection: String,
    /// Failed attempts.
    pub attempts: i64,
    /// The last error (shortened).
    pub last_error: Option<String>,
    /// When it was given up.
    pub at: UnixMs,
    /// Telegram's update id (updates only).
    pub update_id: Option<i64>,
}

store_methods! {
    /// Every dead letter of `kind`, oldest first (at most `limit`).
    pub async fn dead_letters(&self, kind: DeadKind, limit: i64) -> Vec<DeadLetter> => dead_letters;
    /// Re-queues a dead letter for immediately, with its attempts reset. False when `id`
    /// is not a dead letter of `kind`.
    pub async fn retry_dead_letter(&self, kind: DeadKind, id: i64, now: UnixMs) -> bool => retry_dead_letter;
    /// Removes a dead letter (an update is marked processed so it is never replayed).
    /// False when `id` is not a dead letter of `kind`.
    pub async fn drop_dead_letter(&self, kind: DeadKind, id: i64, now: UnixMs) -> bool => drop_dead_letter;
}

async fn dead_letters(
    c: &mut Conn,
    kind: DeadKind,
    limit: i64,
) -> Result<Vec<DeadLetter>, StoreError> {
    let (table, cond, at) = kind.table();
    let update_id = if kind == DeadKind::Update {
        "t.update_id"
    } else {
        "NULL"
    };
    let rows = sqlx::query(&format!(
        "SELECT t.id, c.name, t.attempts, t.last_error, {at} AS at, {update_id} AS update_id \
         FROM {table} t JOIN connections c ON c.id = t.connection_id \
         WHERE {cond} ORDER BY {at}, t.id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DeadLetter {
                kind,
                id: r.try_get(0)?,
                connection: r.try_get(1)?,
                attempts: r.try_get(2)?,
                last_error: r.try_get(3)?,
                at: r.try_get(4)?,
                update_id: r.try_get(5)?,
            })
        })
        .collect()
}

async fn retry_dead_letter(
    c: &mut Conn,
    kind: DeadKind,
    id: i64,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let (table, cond, _) = kind.table();
    let set = match kind {
        DeadKind::Update => "attempts = 0, retry_at = NULL, dead_at = NULL",
        DeadKind::Intent => {
            "state = 'pending', attempts = 0, next_attempt_at = $2, updated_at = $2"
        }
        DeadKind::Webhook => {
            "state = 'pending', attempts = 0, next_attempt_at = $2, updated_at = $2, \
             claim_token = NULL, claimed_until = NULL"
        }
    };
    let cond = cond.replace("t.", "");
    let done = sqlx::query(&format!(
        "UPDATE {table} SET {set} WHERE id = $1 AND {cond}"
    ))
    .bind(id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn drop_dead_letter(
    c: &mut Conn,
    kind: DeadKind,
    id: i64,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let (table, cond, _) = kind.table();
    let cond = cond.replace("t.", "");
    let sql = match kind {
        // The row stays (intake stays idempotent and the polling offset is kept), done.
        DeadKind::Update => format!(
            "UPDATE updates SET processed = TRUE, processed_at = $2, dead_at = NULL, retry_at = NULL \
             WHERE id = $1 AND {cond}"
        ),
        _ => format!("DELETE FROM {table} WHERE id = $1 AND {cond} AND $2 = $2"),
    };
    let done = sqlx::query(&sql)
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::testutil::temp_store;

    #[tokio::test]
    async fn an_update_is_listed_retried_and_dropped() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("support").await.unwrap();
        s.insert_updates(conn, &[json!({"update_id": 7})], 1)
            .await
            .unwrap();
        assert!(s
            .dead_letters(DeadKind::Update, 10)
            .await
            .unwrap()
            .is_empty());
        let u = &s.unprocessed_updates(conn, 10).await.unwrap()[0];
        s.update_failed(conn, u.update_id, "boom", 5, None, 4)
            .await
            .unwrap();
        assert!(s.unprocessed_updates(conn, 10).await.unwrap().is_empty());
        let dead = s.dead_letters(DeadKind::Update, 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        let d = &dead[0];
        assert_eq!(
            (
                d.connection.as_str(),
                d.attempts,
                d.last_error.as_deref(),
                d.at,
                d.update_id
            ),
            ("support", 5, Some("boom"), 4, Some(7))
        );
        assert!(!s
            .retry_dead_letter(DeadKind::Intent, d.id, 5)
            .await
            .unwrap());
        assert!(s
            .retry_dead_letter(DeadKind::Update, d.id, 5)
            .await
            .unwrap());
        let again = s.unprocessed_updates(conn, 10).await.unwrap();
        assert_eq!(
            (again.len(), again[0].attempts, again[0].retry_at),
            (1, 0, None)
        );
        s.update_failed(conn, 7, "boom", 5, None, 6).await.unwrap();
        assert!(s.drop_dead_letter(DeadKind::Update, d.id, 7).await.unwrap());
        assert!(!s.drop_dead_letter(DeadKind::Update, d.id, 7).await.unwrap());
        assert!(s
            .dead_letters(DeadKind::Update, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(s.unprocessed_updates(conn, 10).await.unwrap().is_empty());
    }
}
