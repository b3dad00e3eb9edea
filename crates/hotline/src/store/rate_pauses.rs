//! 429 pauses that outlive the worker that met them (see migration 0026): the outbox stores
//! each pause as it starts, and a worker that starts (a restart, a new owner after a
//! failover) loads the ones still running, so no instance sends into a chat Telegram still
//! refuses.

use super::{store_methods, store_writes, Conn, ConnectionId, StoreError, UnixMs};

/// The scope of a pause of the whole bot (Telegram chat ids are never 0).
pub const WHOLE_BOT: i64 = 0;

store_writes! {
    /// Stores that each `(chat, until)` of `pauses` ([`WHOLE_BOT`] for every chat) of
    /// `connection` is paused until `until` (never shortening a stored pause), and forgets
    /// the pauses over at `now`.
    pub async fn rate_pause_save(&self, connection: ConnectionId, pauses: &[(i64, UnixMs)], now: UnixMs) -> () => rate_pause_save;
}

store_methods! {
    /// The pauses of `connection` still running at `now`: (chat or [`WHOLE_BOT`], until).
    pub async fn rate_pauses(&self, connection: ConnectionId, now: UnixMs) -> Vec<(i64, UnixMs)> => rate_pauses;
}

async fn rate_pause_save(
    c: &mut Conn,
    connection: ConnectionId,
    pauses: &[(i64, UnixMs)],
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM rate_pauses WHERE connection_id = $1 AND until_ms <= $2")
        .bind(connection.0)
        .bind(now)
        .execute(&mut *c)
        .await?;
    if pauses.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..pauses.len())
        .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO rate_pauses (connection_id, chat_id, until_ms) VALUES {} \
         ON CONFLICT (connection_id, chat_id) DO UPDATE SET until_ms = excluded.until_ms \
         WHERE rate_pauses.until_ms < excluded.until_ms",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(connection.0);
    for (chat, until) in pauses {
        q = q.bind(*chat).bind(*until);
    }
    q.execute(&mut *c).await?;
    Ok(())
}

async fn rate_pauses(
    c: &mut Conn,
    connection: ConnectionId,
    now: UnixMs,
) -> Result<Vec<(i64, UnixMs)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT chat_id, until_ms FROM rate_pauses WHERE connection_id = $1 AND until_ms > $2 \
         ORDER BY chat_id",
    )
    .bind(connection.0)
    .bind(now)
    .fetch_all(&mut *c)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;

    #[tokio::test]
    async fn pauses_are_kept_until_over_and_never_shortened() {
        let (s, _db) = temp_store().await;
        let conn = s.ensure_connection("support").await.unwrap();
        s.rate_pause_save(conn, &[(-100, 5_000)], 1_000)
            .await
            .unwrap();
        s.rate_pause_save(conn, &[(WHOLE_BOT, 2_000), (-100, 3_000)], 1_100)
            .await
            .unwrap();
        assert_eq!(
            s.rate_pauses(conn, 1_200).await.unwrap(),
            vec![(-100, 5_000), (WHOLE_BOT, 2_000)]
        );
        assert_eq!(
            s.rate_pauses(conn, 2_000).await.unwrap(),
            vec![(-100, 5_000)]
        );
        // A later pause pushes it on; storing one forgets those that are over.
        s.rate_pause_save(conn, &[(7, 9_000)], 5_000).await.unwrap();
        assert_eq!(
            s.rate_pauses(conn, 0).await.unwrap(),
            vec![(7, 9_000)],
            "the expired rows were deleted"
        );
    }
}
