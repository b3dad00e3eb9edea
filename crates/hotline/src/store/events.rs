//! What the API and webhooks remember: the text history of dialogs (`dialog_messages`)
//! and the durable queue of outgoing webhook deliveries (`webhook_deliveries`).

use sqlx::{FromRow, Row};

use super::{store_methods, Conn, ConnectionId, Store, StoreError, Tx, UnixMs};

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
    /// Attempts so far, this one included (a claim counts as an attempt, so a delivery
    /// that kills the process every time still reaches its limit).
    pub attempts: i64,
    /// The claim this worker holds: only its holder records the outcome.
    pub claim_token: String,
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

/// A history row a [`Tx`] holds back until it commits (see [`super::Deferred`]).
#[derive(Clone, Debug)]
pub(super) struct DeferredHistory {
    pub connection: ConnectionId,
    pub m: NewHistoryMessage,
    pub now: UnixMs,
}

/// Writes held-back history rows, in order, with multi-row INSERTs.
pub(super) async fn insert_history_rows(
    c: &mut Conn,
    rows: &[DeferredHistory],
) -> Result<(), StoreError> {
    let mut rest = rows;
    for size in super::multi_row_chunks(rows.len()) {
        let (chunk, more) = rest.split_at(size);
        rest = more;
        let sql = format!(
            "INSERT INTO dialog_messages (connection_id, dialog_id, direction, kind, text, \
             user_message_id, group_message_id, author_id, created_at) VALUES {}",
            super::values_list(size, 9)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(r.connection.0)
                .bind(r.m.dialog_id)
                .bind(r.m.direction)
                .bind(r.m.kind.clone())
                .bind(r.m.text.clone())
                .bind(r.m.user_message_id)
                .bind(r.m.group_message_id)
                .bind(r.m.author_id)
                .bind(r.now);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

store_methods! {
    @appended
    /// Records a message of a dialog's history.
    pub async fn insert_history(&self, connection: ConnectionId, m: &NewHistoryMessage, now: UnixMs) -> i64 => insert_history;
    /// The history row of a group message (operator messages, when delivered).
    pub async fn history_by_group_message(&self, connection: ConnectionId, group_message_id: i64) -> Option<HistoryMessage> => history_by_group_message;
    /// A page of a dialog's history after `after` (a row id), oldest first.
    pub async fn dialog_history(&self, dialog: i64, after: i64, limit: i64) -> Vec<HistoryMessage> => dialog_history;
    /// The last `limit` messages of a dialog's history, oldest first (the recap of a topic
    /// that replaces a lost one).
    pub async fn dialog_history_tail(&self, dialog: i64, limit: i64) -> Vec<HistoryMessage> => dialog_history_tail;
    /// Replaces the text of an edited message in a dialog's history: a user's message by
    /// its id in their chat (`incoming`), a team message by its id in the group
    /// (`outgoing`). Returns how many rows changed (0 for a message the history lacks).
    pub async fn edit_history_text(&self, dialog: i64, outgoing: bool, message_id: i64, text: Option<&str>) -> u64 => edit_history_text;
    /// Fills in the group-side id of an API message once it was posted in the topic.
    pub async fn set_history_group_message(&self, id: i64, group_message_id: i64, user_message_id: i64) -> () => set_history_group_message;
}

store_methods! {
    /// When the worker has something to do next: the earliest due time of an unclaimed
    /// queue head, or the expiry of a claim on one.
    pub async fn next_delivery_wake(&self, connection: ConnectionId, now: UnixMs) -> Option<UnixMs> => next_delivery_wake;
    /// Drops the claims of the connection's deliveries taken under another epoch than the
    /// current lease's (at start or take-over: their holder is gone, so they are claimed
    /// again at once instead of after their expiry).
    pub async fn release_delivery_claims(&self, connection: ConnectionId) -> u64 => release_delivery_claims;
    /// Marks a claimed delivery done; false when `token` no longer holds it.
    pub async fn delivery_done(&self, id: i64, token: &str, now: UnixMs) -> bool => delivery_done;
    /// Schedules another attempt of a claimed delivery after a failure; false when
    /// `token` no longer holds it.
    pub async fn delivery_retry(&self, id: i64, token: &str, next_attempt_at: UnixMs, error: &str, now: UnixMs) -> bool => delivery_retry;
    /// Gives up on a claimed delivery (its queue moves on); false when `token` no longer
    /// holds it.
    pub async fn delivery_failed(&self, id: i64, token: &str, error: &str, now: UnixMs) -> bool => delivery_failed;
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

async fn dialog_history_tail(
    c: &mut Conn,
    dialog: i64,
    limit: i64,
) -> Result<Vec<HistoryMessage>, StoreError> {
    let mut rows: Vec<HistoryMessage> = sqlx::query_as(&format!(
        "SELECT {HISTORY} FROM dialog_messages WHERE dialog_id = $1 ORDER BY id DESC LIMIT $2"
    ))
    .bind(dialog)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.reverse();
    Ok(rows)
}

async fn edit_history_text(
    c: &mut Conn,
    dialog: i64,
    outgoing: bool,
    message_id: i64,
    text: Option<&str>,
) -> Result<u64, StoreError> {
    let sql = if outgoing {
        "UPDATE dialog_messages SET text = $3 \
         WHERE dialog_id = $1 AND direction = 'outgoing' AND group_message_id = $2"
    } else {
        "UPDATE dialog_messages SET text = $3 \
         WHERE dialog_id = $1 AND direction = 'incoming' AND user_message_id = $2"
    };
    Ok(sqlx::query(sql)
        .bind(dialog)
        .bind(message_id)
        .bind(text)
        .execute(&mut *c)
        .await?
        .rows_affected())
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

impl Tx {
    /// Enqueues a webhook delivery, due now, as part of this transaction; the connection's
    /// delivery worker is woken when the transaction commits.
    pub async fn enqueue_delivery(
        &mut self,
        connection: ConnectionId,
        d: &NewDelivery,
        now: UnixMs,
    ) -> Result<i64, StoreError> {
        let id = enqueue_delivery(&mut self.tx, connection, d, now).await?;
        super::notify_instances(&mut self.tx, super::Topic::Deliveries, connection).await?;
        let wake = self.wakers.get(super::Topic::Deliveries, connection);
        self.after_commit(move || wake.notify_one());
        Ok(id)
    }
}

impl Store {
    /// Enqueues a single webhook delivery, due now (commits and wakes the worker).
    pub async fn enqueue_delivery(
        &self,
        connection: ConnectionId,
        d: &NewDelivery,
        now: UnixMs,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let id = tx.enqueue_delivery(connection, d, now).await?;
        tx.commit().await?;
        Ok(id)
    }
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

/// `d` is the head of its (URL, key) queue: no older delivery of the queue is pending
/// (a claimed head is still pending, so its successors wait for its outcome).
const QUEUE_HEAD: &str = "NOT EXISTS (SELECT 1 FROM webhook_deliveries o \
     WHERE o.connection_id = d.connection_id AND o.url = d.url AND o.ordering_key = d.ordering_key \
     AND o.state = 'pending' AND o.id < d.id)";

impl Store {
    /// Claims up to `limit` due queue heads that nobody holds (or whose claim expired) with
    /// `token` until `until`, counting the attempt; the oldest due first. Only under this
    /// instance's lease of the connection (the claim keeps its epoch): nothing otherwise.
    pub async fn claim_deliveries(
        &self,
        connection: ConnectionId,
        now: UnixMs,
        token: &str,
        until: UnixMs,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut c = self.conn().await?;
        // One statement: the choice and the claim are atomic, so two workers never hold the
        // same delivery at once.
        let mut claimed: Vec<Delivery> = sqlx::query_as(&format!(
            "UPDATE webhook_deliveries SET claim_token = $3, claimed_until = $4, \
             attempts = attempts + 1, updated_at = $2, claim_epoch = {epoch} WHERE id IN (\
             SELECT d.id FROM webhook_deliveries d WHERE d.connection_id = $1 AND d.state = 'pending' \
             AND d.next_attempt_at <= $2 AND (d.claimed_until IS NULL OR d.claimed_until <= $2) \
             AND {QUEUE_HEAD} AND {held} ORDER BY d.next_attempt_at, d.id LIMIT $5) \
             RETURNING id, url, event, event_id, ordering_key, body, reply, attempts, created_at, claim_token",
            epoch = super::leases::held_epoch("$1", "$6"),
            held = super::leases::held_by("$1", "$6"),
        ))
        .bind(connection.0)
        .bind(now)
        .bind(token)
        .bind(until)
        .bind(limit)
        .bind(self.instance_id())
        .fetch_all(&mut *c)
        .await?;
        // RETURNING has no order.
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }
}

async fn next_delivery_wake(
    c: &mut Conn,
    connection: ConnectionId,
    now: UnixMs,
) -> Result<Option<UnixMs>, StoreError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT MIN(CASE WHEN d.claimed_until > $2 THEN d.claimed_until ELSE d.next_attempt_at END) \
         FROM webhook_deliveries d WHERE d.connection_id = $1 AND d.state = 'pending' AND {QUEUE_HEAD}"
    ))
    .bind(connection.0)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

async fn release_delivery_claims(
    c: &mut Conn,
    connection: ConnectionId,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(&format!(
        "UPDATE webhook_deliveries SET claim_token = NULL, claimed_until = NULL \
         WHERE connection_id = $1 AND state = 'pending' AND claim_token IS NOT NULL \
         AND (claim_epoch IS NULL OR claim_epoch <> {current})",
        current = super::leases::current_epoch("$1"),
    ))
    .bind(connection.0)
    .execute(&mut *c)
    .await?
    .rows_affected())
}

async fn delivery_done(
    c: &mut Conn,
    id: i64,
    token: &str,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE webhook_deliveries SET state = 'done', claim_token = NULL, claimed_until = NULL, \
         updated_at = $3, last_error = NULL WHERE id = $1 AND claim_token = $2 AND state = 'pending'",
    )
    .bind(id)
    .bind(token)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

async fn delivery_retry(
    c: &mut Conn,
    id: i64,
    token: &str,
    next_attempt_at: UnixMs,
    error: &str,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE webhook_deliveries SET claim_token = NULL, claimed_until = NULL, next_attempt_at = $3, \
         last_error = $4, updated_at = $5 WHERE id = $1 AND claim_token = $2 AND state = 'pending'",
    )
    .bind(id)
    .bind(token)
    .bind(next_attempt_at)
    .bind(error)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

async fn delivery_failed(
    c: &mut Conn,
    id: i64,
    token: &str,
    error: &str,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE webhook_deliveries SET state = 'failed', claim_token = NULL, claimed_until = NULL, \
         last_error = $3, updated_at = $4 WHERE id = $1 AND claim_token = $2 AND state = 'pending'",
    )
    .bind(id)
    .bind(token)
    .bind(error)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
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

    fn ids(ds: &[Delivery]) -> Vec<i64> {
        ds.iter().map(|d| d.id).collect()
    }

    #[tokio::test]
    async fn deliveries_keep_order_per_url_and_key() {
        let (s, _d) = temp_store().await;
        let c = s.ensure_connection("c").await.unwrap();
        s.lease_seize(c, "", 0, 6_000).await.unwrap();
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
        let heads = s.claim_deliveries(c, 10, "w", 1000, 10).await.unwrap();
        assert_eq!(ids(&heads), vec![a1, b1, v1]);
        assert!(heads
            .iter()
            .all(|d| d.attempts == 1 && d.claim_token == "w"));
        // Held heads hold their queues back; nothing else is due.
        assert!(s
            .claim_deliveries(c, 10, "w", 1000, 10)
            .await
            .unwrap()
            .is_empty());
        // A head waiting for its retry holds its queue back too.
        assert!(s.delivery_retry(a1, "w", 100, "down", 11).await.unwrap());
        assert!(s.delivery_done(b1, "w", 12).await.unwrap());
        assert!(s.delivery_done(v1, "w", 12).await.unwrap());
        assert!(s
            .claim_deliveries(c, 20, "w", 1000, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(s.next_delivery_wake(c, 20).await.unwrap(), Some(100));
        let again = s.claim_deliveries(c, 100, "w", 1000, 10).await.unwrap();
        assert_eq!((ids(&again), again[0].attempts), (vec![a1], 2));
        assert!(s.delivery_done(a1, "w", 100).await.unwrap());
        let heads = s.claim_deliveries(c, 100, "w", 1000, 10).await.unwrap();
        assert_eq!(heads[0].body, "a2");
        let st = s.delivery_stats(c).await.unwrap();
        assert_eq!((st.pending, st.done), (1, 3));
    }

    #[tokio::test]
    async fn an_expired_claim_is_taken_again_and_its_old_holder_records_nothing() {
        let (s, _d) = temp_store().await;
        let c = s.ensure_connection("c").await.unwrap();
        s.lease_seize(c, "", 0, 6_000).await.unwrap();
        let id = s
            .enqueue_delivery(c, &delivery("u", 1, "x"), 10)
            .await
            .unwrap();
        assert_eq!(
            ids(&s.claim_deliveries(c, 10, "old", 50, 10).await.unwrap()),
            vec![id]
        );
        // Held until 50: nobody else takes it, and the worker wakes when it expires.
        assert!(s
            .claim_deliveries(c, 40, "new", 90, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(s.next_delivery_wake(c, 40).await.unwrap(), Some(50));
        let taken = s.claim_deliveries(c, 50, "new", 90, 10).await.unwrap();
        assert_eq!((ids(&taken), taken[0].attempts), (vec![id], 2));
        // The stuck holder comes back: its outcome is not recorded.
        assert!(!s.delivery_done(id, "old", 60).await.unwrap());
        assert!(!s.delivery_retry(id, "old", 70, "late", 60).await.unwrap());
        assert!(!s.delivery_failed(id, "old", "late", 60).await.unwrap());
        assert!(s.delivery_failed(id, "new", "gone", 61).await.unwrap());
        assert!(
            !s.delivery_done(id, "new", 62).await.unwrap(),
            "recorded once"
        );
        let st = s.delivery_stats(c).await.unwrap();
        assert_eq!((st.pending, st.failed, st.done), (0, 1, 0));
        assert_eq!(s.next_delivery_wake(c, 62).await.unwrap(), None);
    }

    #[tokio::test]
    async fn claims_released_at_start_are_taken_at_once() {
        let (s, _d) = temp_store().await;
        let c = s.ensure_connection("c").await.unwrap();
        let other = s.ensure_connection("other").await.unwrap();
        s.lease_seize(c, "", 0, 6_000).await.unwrap();
        s.lease_seize(other, "", 0, 6_000).await.unwrap();
        let id = s
            .enqueue_delivery(c, &delivery("u", 1, "x"), 10)
            .await
            .unwrap();
        let theirs = s
            .enqueue_delivery(other, &delivery("u", 1, "y"), 10)
            .await
            .unwrap();
        s.claim_deliveries(c, 10, "dead", i64::MAX, 10)
            .await
            .unwrap();
        s.claim_deliveries(other, 10, "alive", i64::MAX, 10)
            .await
            .unwrap();
        // The lease's own claims stay; after a take-over (a new epoch) they are released.
        assert_eq!(s.release_delivery_claims(c).await.unwrap(), 0);
        s.lease_seize(c, "", 1, 6_000).await.unwrap();
        assert_eq!(s.release_delivery_claims(c).await.unwrap(), 1);
        assert_eq!(
            ids(&s.claim_deliveries(c, 11, "next", 100, 10).await.unwrap()),
            vec![id]
        );
        assert!(
            s.claim_deliveries(other, 11, "next", 100, 10)
                .await
                .unwrap()
                .is_empty(),
            "another connection's claims stay"
        );
        assert!(s.delivery_done(theirs, "alive", 12).await.unwrap());
    }

    #[tokio::test]
    async fn enqueue_in_tx_wakes_the_worker_only_after_commit() {
        use futures::FutureExt;
        let (s, _d) = temp_store().await;
        let c = s.ensure_connection("c").await.unwrap();
        let notify = s.deliveries_notify(c);
        let mut tx = s.begin().await.unwrap();
        tx.enqueue_delivery(c, &delivery("u", 1, "x"), 10)
            .await
            .unwrap();
        drop(tx); // rolled back: nothing stored, nobody woken
        assert_eq!(s.delivery_stats(c).await.unwrap().pending, 0);
        assert!(notify.notified().now_or_never().is_none());
        let mut tx = s.begin().await.unwrap();
        tx.enqueue_delivery(c, &delivery("u", 1, "x"), 10)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(
            notify.notified().now_or_never().is_some(),
            "woken by the commit"
        );
    }
}
