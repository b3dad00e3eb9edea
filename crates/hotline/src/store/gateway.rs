//! The parallel bot's gateway state (offset, sticky `allowed_updates`, its own webhook),
//! the update-log retention that respects it, and the journal of the bot's calls waiting
//! for their mirror decision.

use sqlx::Row;

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// What the gateway remembers for one connection's parallel bot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewayState {
    /// Highest update id the bot confirmed (0 = none yet).
    pub confirmed: i64,
    /// Update types the bot asked for; `None` = Telegram's default set.
    pub allowed_updates: Option<Vec<String>>,
    /// The bot's webhook URL; `None` = getUpdates mode.
    pub webhook_url: Option<String>,
    /// The bot's `secret_token` for its webhook.
    pub webhook_secret: Option<String>,
    /// `max_connections` as given to setWebhook (reported back by getWebhookInfo).
    pub max_connections: i64,
}

/// A call of the parallel bot waiting for its mirror decision.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayCall {
    /// Journal position (calls are decided in this order).
    pub id: i64,
    /// The newest update the bot could have seen when it made the call: the decision is
    /// taken right after the relay processed it.
    pub after_update: i64,
    /// When the call was answered.
    pub called_at: UnixMs,
    /// Lower-cased method name.
    pub method: String,
    /// The request parameters mirroring reads (a JSON object).
    pub request: String,
    /// The `result` of Telegram's answer (JSON).
    pub answer: String,
}

store_methods! {
    /// Appends calls to the journal, in order (the `id`s given are ignored).
    pub async fn journal_calls(&self, connection: ConnectionId, calls: &[GatewayCall]) -> () => journal_calls;
    /// The oldest journaled calls, in journal order.
    pub async fn journaled_calls(&self, connection: ConnectionId, limit: i64) -> Vec<GatewayCall> => journaled_calls;
    /// Removes decided calls: every call up to and including `upto`.
    pub async fn forget_calls(&self, connection: ConnectionId, upto: i64) -> () => forget_calls;
    /// Removes one decided call.
    pub async fn forget_call(&self, connection: ConnectionId, id: i64) -> () => forget_call;
    /// Removes decided calls by id (one statement per hundred: a pass decides many).
    pub async fn forget_these_calls(&self, connection: ConnectionId, ids: &[i64]) -> () => forget_these_calls;
    /// The stored gateway state, if the bot ever used the gateway.
    pub async fn gateway_state(&self, connection: ConnectionId) -> Option<GatewayState> => gateway_state;
    /// Saves the whole gateway state.
    pub async fn save_gateway_state(&self, connection: ConnectionId, state: &GatewayState, now: UnixMs) -> () => save_gateway_state;
    /// Deletes processed updates the parallel bot no longer needs: those it confirmed and
    /// older than `confirmed_before`, and any older than `hard_before` (Telegram keeps
    /// updates 24 h). Without gateway state only `hard_before` applies. Returns the count.
    pub async fn purge_updates_for_gateway(&self, connection: ConnectionId, confirmed_before: UnixMs, hard_before: UnixMs) -> u64 => purge_updates_for_gateway;
}

async fn gateway_state(
    c: &mut Conn,
    connection: ConnectionId,
) -> Result<Option<GatewayState>, StoreError> {
    let row = sqlx::query(
        "SELECT confirmed, allowed_updates, webhook_url, webhook_secret, max_connections FROM gateway_state \
         WHERE connection_id = $1",
    )
    .bind(connection.0)
    .fetch_optional(&mut *c)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let allowed: Option<String> = r.try_get("allowed_updates")?;
    let allowed_updates = allowed
        .map(|a| serde_json::from_str(&a))
        .transpose()
        .map_err(|e| StoreError::Corrupt {
            table: "gateway_state",
            message: e.to_string(),
        })?;
    Ok(Some(GatewayState {
        confirmed: r.try_get("confirmed")?,
        allowed_updates,
        webhook_url: r.try_get("webhook_url")?,
        webhook_secret: r.try_get("webhook_secret")?,
        max_connections: r.try_get("max_connections")?,
    }))
}

async fn save_gateway_state(
    c: &mut Conn,
    connection: ConnectionId,
    s: &GatewayState,
    now: UnixMs,
) -> Result<(), StoreError> {
    let allowed = s
        .allowed_updates
        .as_ref()
        .map(|a| serde_json::to_string(a).unwrap_or_else(|_| "[]".into()));
    sqlx::query(
        "INSERT INTO gateway_state (connection_id, confirmed, allowed_updates, webhook_url, webhook_secret, \
         max_connections, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (connection_id) DO UPDATE SET confirmed = excluded.confirmed, \
         allowed_updates = excluded.allowed_updates, webhook_url = excluded.webhook_url, \
         webhook_secret = excluded.webhook_secret, max_connections = excluded.max_connections, \
         updated_at = excluded.updated_at",
    )
    .bind(connection.0)
    .bind(s.confirmed)
    .bind(allowed)
    .bind(&s.webhook_url)
    .bind(&s.webhook_secret)
    .bind(s.max_connections)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn purge_updates_for_gateway(
    c: &mut Conn,
    connection: ConnectionId,
    confirmed_before: UnixMs,
    hard_before: UnixMs,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM updates WHERE connection_id = $1 AND processed = TRUE AND (received_at < $3 OR \
         (received_at < $2 AND update_id <= COALESCE((SELECT confirmed FROM gateway_state WHERE connection_id = $1), \
         -9223372036854775807)))",
    )
    .bind(connection.0)
    .bind(confirmed_before)
    .bind(hard_before)
    .execute(&mut *c)
    .await?
    .rows_affected())
}

async fn journal_calls(
    c: &mut Conn,
    connection: ConnectionId,
    calls: &[GatewayCall],
) -> Result<(), StoreError> {
    // One multi-row statement per chunk: a batch of the journal's writer is one round trip
    // to the database (SQLite's connection thread) instead of one per call. Both engines
    // number the rows of one VALUES list in its order, which is the journal's order.
    for chunk in calls.chunks(CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 2 + 5 * i;
                format!(
                    "($1, ${}, ${}, ${}, ${}, ${})",
                    b,
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO gateway_calls (connection_id, after_update, called_at, method, request, answer) \
             VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(connection.0);
        for call in chunk {
            q = q
                .bind(call.after_update)
                .bind(call.called_at)
                .bind(&call.method)
                .bind(&call.request)
                .bind(&call.answer);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// Calls per multi-row statement (the bind parameters stay far below every engine's limit).
const CHUNK: usize = 100;

async fn journaled_calls(
    c: &mut Conn,
    connection: ConnectionId,
    limit: i64,
) -> Result<Vec<GatewayCall>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, after_update, called_at, method, request, answer FROM gateway_calls \
         WHERE connection_id = $1 ORDER BY id LIMIT $2",
    )
    .bind(connection.0)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(GatewayCall {
                id: r.try_get("id")?,
                after_update: r.try_get("after_update")?,
                called_at: r.try_get("called_at")?,
                method: r.try_get("method")?,
                request: r.try_get("request")?,
                answer: r.try_get("answer")?,
            })
        })
        .collect()
}

async fn forget_calls(c: &mut Conn, connection: ConnectionId, upto: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM gateway_calls WHERE connection_id = $1 AND id <= $2")
        .bind(connection.0)
        .bind(upto)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn forget_call(c: &mut Conn, connection: ConnectionId, id: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM gateway_calls WHERE connection_id = $1 AND id = $2")
        .bind(connection.0)
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn forget_these_calls(
    c: &mut Conn,
    connection: ConnectionId,
    ids: &[i64],
) -> Result<(), StoreError> {
    for chunk in ids.chunks(CHUNK) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "DELETE FROM gateway_calls WHERE connection_id = $1 AND id IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(connection.0);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::testutil::temp_store;

    #[tokio::test]
    async fn state_round_trips_and_purge_keeps_unconfirmed() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        assert_eq!(s.gateway_state(conn).await.unwrap(), None);
        let st = GatewayState {
            confirmed: 11,
            allowed_updates: Some(vec!["message".into()]),
            webhook_url: Some("http://x/hook".into()),
            webhook_secret: Some("s".into()),
            max_connections: 40,
        };
        s.save_gateway_state(conn, &st, 1).await.unwrap();
        assert_eq!(s.gateway_state(conn).await.unwrap(), Some(st));
        let batch: Vec<_> = (10..14).map(|id| json!({"update_id": id})).collect();
        s.insert_updates(conn, &batch, 100).await.unwrap();
        for id in 10..14 {
            s.mark_update_processed(conn, id, 100).await.unwrap();
        }
        // Confirmed (10, 11) and old enough go; 12 and 13 stay until the hard limit.
        assert_eq!(s.purge_updates_for_gateway(conn, 200, 50).await.unwrap(), 2);
        assert_eq!(s.updates_after(conn, 0, 10).await.unwrap().len(), 2);
        assert_eq!(
            s.purge_updates_for_gateway(conn, 200, 200).await.unwrap(),
            2
        );
    }

    #[tokio::test]
    async fn the_call_journal_is_a_queue_per_connection() {
        let (s, _d) = temp_store().await;
        let (a, b) = (
            s.ensure_connection("a").await.unwrap(),
            s.ensure_connection("b").await.unwrap(),
        );
        let call = |n: i64| GatewayCall {
            id: 0,
            after_update: n,
            called_at: 100 + n,
            method: "sendmessage".into(),
            request: "{}".into(),
            answer: format!("{{\"message_id\":{n}}}"),
        };
        s.journal_calls(a, &[call(1), call(2)]).await.unwrap();
        s.journal_calls(b, &[call(7)]).await.unwrap();
        s.journal_calls(a, &[call(3)]).await.unwrap();
        let got = s.journaled_calls(a, 10).await.unwrap();
        assert_eq!(
            got.iter().map(|c| c.after_update).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(got[1].answer, "{\"message_id\":2}");
        s.forget_calls(a, got[1].id).await.unwrap();
        let left = s.journaled_calls(a, 10).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].after_update, 3);
        assert_eq!(s.journaled_calls(b, 10).await.unwrap().len(), 1);
    }
}
