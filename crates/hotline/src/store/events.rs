//! What the API and webhooks remember: the text history of dialogs (`dialog_messages`)
//! and the durable queue of outgoing webhook deliveries (`webhook_deliveries`).

use sqlx::{FromRow, Row};

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// One message of a dialog's history.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct HistoryMessage {
    /// Store id (the history's cursor).
    pub id: i64,
    /// The dialog.
    pub dialog_id: i64,
    /// `incoming` (user), `outgoing` (operator), `intercepted` (parallel bot), `api`.
    pub direction: String,
    /// Content kind (`text`, `photo`, ...).
    pub kind: String,
    /// Text or caption, if any.
    pub text: Option<String>,
    /// Message id in the user's chat, when known.
    pub user_message_id: Option<i64>,
    /// Message id in the group, when known.
    pub group_message_id: Option<i64>,
    /// Telegram user id of the author (user or operator), when known.
    pub author_id: Option<i64>,
    /// When it was recorded.
    pub created_at: UnixMs,
}

/// A history row to record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewHistoryMessage {
    /// The dialog.
    pub dialog_id: i64,
    /// See [`HistoryMessage::direction`].
    pub direction: &'static str,
    /// Content kind.
    pub kind: String,
    /// Text or caption.
    pub text: Option<String>,
    /// Message id in the user's chat.
    pub user_message_id: Option<i64>,
    /// Message id in the group.
    pub group_message_id: Option<i64>,
    /// Author's Telegram id.
    pub author_id: Option<i64>,
}

/// A webhook delivery to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    /// Receiver URL.
    pub url: String,
    /// Event type, or `/command` for custom commands.
    pub event: String,
    /// The event's id (shared by the deliveries of one event to several URLs).
    pub event_id: String,
    /// Deliveries with the same (URL, key) go out strictly in order: the dialog id.
    pub ordering_key: i64,
    /// The JSON body, signed when sent.
    pub body: String,
    /// For custom commands: where to post the receiver's answer (JSON).
    pub reply: Option<String>,
}

/// A queued delivery, as the webhook worker sees it.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct Delivery {
    /// When the event was queued (deliveries older than the retry window are given up).
    pub created_at: UnixMs,
    /// Store id.
    pub id: i64,
    /// Receiver URL.
    pub url: String,
    /// Event type.
    pub event: String,
    /// Event id.
    pub event_id: String,
    /// Order key.
    pub ordering_key: i64,
    /// JSON body.
    pub body: String,
    /// Where an answer goes (custom commands).
    pub reply: Option<String>,
    /// Attempts so far.
    pub attempts: i64,
}

/// Queue counts for the API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Waiting or being retried.
    pub pending: i64,
    /// Given up on.
    pub failed: i64,
    /// Delivered.
    pub done: i64,
}

store_methods! {
    /// Records a message of a dialog's history.
    pub async fn insert_history(&self, connection: ConnectionId, m: &NewHistoryMessage, now: UnixMs) -> i64 => insert_history;
    /// The history row of a group message (operator messages, when delivered).
    pub async fn history_by_group_message(&self, connection: ConnectionId, group_message_id: i64) -> Option<HistoryMessage> => history_by_group_message;
    /// A page of a dialog's history after `after` (a row id), oldest first.
    pub async fn dialog_history(&self, dialog: i64, after: i64, limit: i64) -> Vec<HistoryMessage> => dialog_history;
    /// Fills in the group-side id of an API message once it was posted in the topic.
    pub async fn set_history_group_message(&self, id: i64, group_message_id: i64, user_message_id: i64) -> () => set_history_group_message;
    /// Enqueues a webhook delivery, due now.
    pub async fn enqueue_delivery(&self, connection: ConnectionId, d: &NewDelivery, now: UnixMs) -> i64 => enqueue_delivery;
    /// Due deliveries that are the oldest pending of their (URL, key) queue.
    pub async fn due_deliveries(&self, connection: ConnectionId, now: UnixMs, limit: i64) -> Vec<Delivery> => due_deliveries;
    /// When the next pending delivery is due.
    pub async fn next_delivery_due(&self, connection: ConnectionId) -> Option<UnixMs> => next_delivery_due;
    /// Marks a delivery done.
    pub async fn delivery_done(&self, id: i64, now: UnixMs) -> () => delivery_done;
    /// Schedules another attempt after a failure.
    pub async fn delivery_retry(&self, id: i64, next_attempt_at: UnixMs, error: &str, now: UnixMs) -> () => delivery_retry;
    /// Gives up on a delivery (its queue moves on).
    pub async fn delivery_failed(&self, id: i64, error: &str, now: UnixMs) -> () => delivery_failed;
    /// Counts by state.
    pub async fn delivery_stats(&self, connection: ConnectionId) -> DeliveryStats => delivery_stats;
}

async fn insert_history(
    c: &mut Conn,
    connection: ConnectionId,
    m: &NewHistoryMessage,
    now: UnixMs,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO dialog_messages (connection_id, dialog_id, direction, kind, text, user_message_id, \
         group_message_id, author_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(connection.0)
    .bind(m.dialog_id)
    .bind(m.direction)
    .bind(&m.kind)
    .bind(&m.text)
    .bind(m.user_message_id)
    .bind(m.group_message_id)
    .bind(m.author_id)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

const HISTORY: &str = "id, dialog_id, direction, kind, text, user_message_id, group_message_id, \
                       author_id, created_at";

async fn history_by_group_message(
    c: &mut Conn,
    connection: ConnectionId,
    group_message_id: i64,
) -> Result<Option<HistoryMessage>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {HISTORY} FROM dialog_messages WHERE connection_id = $1 AND group_message_id = $2 \
         ORDER BY id DESC LIMIT 1"
    ))
    .bind(connection.0)
    .bind(group_message_id)
    .fetch_optional(&mut *c)
    .await?)
}

async fn dialog_history(
    c: &mut Conn,
    dialog: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<HistoryMessage>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {HISTORY} FROM dialog_messages WHERE dialog_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(dialog)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?)
}

async fn set_history_group_message(
    c: &mut Conn,
    id: i64,
    group_message_id: i64,
    user_message_id: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE dialog_messages SET group_message_id = $2, user_message_id = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(group_message_id)
    .bind(user_message_id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn enqueue_delivery(
    c: &mut Conn,
    connection: ConnectionId,
    d: &NewDelivery,
    now: UnixMs,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (connection_id, url, event, event_id, ordering_key, body, reply, \
         state, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $8) RETURNING id",
    )
    .bind(connection.0)
    .bind(&d.url)
    .bind(&d.event)
    .bind(&d.event_id)
    .bind(d.ordering_key)
    .bind(&d.body)
    .bind(&d.reply)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

async fn due_deliveries(
    c: &mut Conn,
    connection: ConnectionId,
    now: UnixMs,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT d.id, d.url, d.event, d.event_id, d.ordering_key, d.body, d.reply, d.attempts, d.created_at \
         FROM webhook_deliveries d WHERE d.connection_id = $1 AND d.state = 'pending' \
         AND d.next_attempt_at <= $2 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o \
         WHERE o.connection_id = d.connection_id AND o.url = d.url AND o.ordering_key = d.ordering_key \
         AND o.state = 'pending' AND o.id < d.id) ORDER BY d.next_attempt_at, d.id LIMIT $3",
    )
    .bind(connection.0)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?)
}

async fn next_delivery_due(
    c: &mut Conn,
    connection: ConnectionId,
) -> Result<Option<UnixMs>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE connection_id = $1 AND state = 'pending'",
    )
    .bind(connection.0)
    .fetch_one(&mut *c)
    .await?)
}

async fn delivery_done(c: &mut Conn, id: i64, now: UnixMs) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'done', attempts = attempts + 1, updated_at = $2, \
         last_error = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn delivery_retry(
    c: &mut Conn,
    id: i64,
    next_attempt_at: UnixMs,
    error: &str,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3, \
         updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(next_attempt_at)
    .bind(error)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn delivery_failed(
    c: &mut Conn,
    id: i64,
    error: &str,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'failed', attempts = attempts + 1, last_error = $2, \
         updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn delivery_stats(
    c: &mut Conn,
    connection: ConnectionId,
) -> Result<DeliveryStats, StoreError> {
    let rows = sqlx::query(
        "SELECT state, COUNT(*) FROM webhook_deliveries WHERE connection_id = $1 GROUP BY state",
    )
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?;
    let mut s = DeliveryStats::default();
    for r in rows {
        let n: i64 = r.try_get(1)?;
        match r.try_get::<String, _>(0)?.as_str() {
            "pending" => s.pending = n,
            "failed" => s.failed = n,
            _ => s.done = n,
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;

    fn delivery(url: &str, key: i64, body: &str) -> NewDelivery {
        NewDelivery {
            url: url.into(),
            event: "message_received".into(),
            event_id: body.into(),
            ordering_key: key,
            body: body.into(),
            reply: None,
        }
    }

    #[tokio::test]
    async fn deliveries_keep_order_per_url_and_key() {
        let (s, _d) = temp_store().await;
        let c = s.ensure_connection("c").await.unwrap();
        let a1 = s
            .enqueue_delivery(c, &delivery("u", 1, "a1"), 10)
            .await
            .unwrap();
        let _a2 = s
            .enqueue_delivery(c, &delivery("u", 1, "a2"), 10)
            .await
            .unwrap();
        let b1 = s
            .enqueue_delivery(c, &delivery("u", 2, "b1"), 10)
            .await
            .unwrap();
        let v1 = s
            .enqueue_delivery(c, &delivery("v", 1, "v1"), 10)
            .await
            .unwrap();
        let heads: Vec<i64> = s
            .due_deliveries(c, 10, 10)
            .await
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(heads, vec![a1, b1, v1]);
        // A head waiting for its retry holds its queue back.
        s.delivery_retry(a1, 100, "down", 11).await.unwrap();
        let heads: Vec<i64> = s
            .due_deliveries(c, 20, 10)
            .await
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(heads, vec![b1, v1]);
        assert_eq!(s.next_delivery_due(c).await.unwrap(), Some(10));
        s.delivery_done(a1, 100).await.unwrap();
        let heads = s.due_deliveries(c, 100, 10).await.unwrap();
        assert_eq!(heads[0].body, "a2");
        let st = s.delivery_stats(c).await.unwrap();
        assert_eq!((st.pending, st.done), (3, 1));
    }
}
