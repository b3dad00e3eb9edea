//! The parallel bot's gateway state (offset, sticky `allowed_updates`, its own webhook)
//! and the update-log retention that respects it.

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

store_methods! {
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
}
