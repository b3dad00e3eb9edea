//! Outbox rows. The scheduling policy lives in `outbox`; this file only answers
//! its questions with indexed queries:
//! - due heads: pending rows that are due and have no older active row in their queue
//!   `(target_chat, fairness_key)` — per-queue order is enforced here;
//! - the next due time (to sleep until it);
//! - state transitions.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;

use super::{store_methods, store_writes, Conn, ConnectionId, Store, StoreError, Tx, UnixMs};

/// Store id of an intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IntentId(pub i64);

/// Priority lane: the one with the lower [`Lane::priority`] runs first when a budget (the
/// bot's, or a group's) is short. The stored numbers are not the priorities: `NewDialog`
/// came later and took the next free number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(i64)]
pub enum Lane {
    /// Operator replies and other calls a user is waiting for.
    Reply = 0,
    /// Copies and notices into the backend group.
    Group = 1,
    /// Broadcasts and other bulk work.
    Broadcast = 2,
    /// The group work of a dialog that has no topic yet (topic, card, recap, first copy):
    /// a person who just wrote is not seen by anyone until it runs, so it goes before the
    /// follow-ups of dialogs the team already sees.
    NewDialog = 3,
}

impl Lane {
    /// Every lane, in priority order.
    pub const ALL: [Lane; 4] = [Lane::Reply, Lane::NewDialog, Lane::Group, Lane::Broadcast];

    /// Decodes the stored number.
    pub fn from_i64(v: i64) -> Option<Self> {
        match v {
            0 => Some(Self::Reply),
            1 => Some(Self::Group),
            2 => Some(Self::Broadcast),
            3 => Some(Self::NewDialog),
            _ => None,
        }
    }

    /// Rank in the scheduler: lower runs first.
    pub fn priority(self) -> u8 {
        match self {
            Self::Reply => 0,
            Self::NewDialog => 1,
            Self::Group => 2,
            Self::Broadcast => 3,
        }
    }
}

/// An intent to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewIntent {
    /// The chat the call goes to: decides the rate limit and the order.
    pub target_chat: i64,
    /// Priority lane.
    pub lane: Lane,
    /// Sub-queue inside the target chat: the dialog id for group copies, 0 otherwise.
    pub fairness_key: i64,
    /// The executor's action, as JSON.
    pub action: Value,
    /// Do not run before this time (scheduled broadcasts); `None` = now.
    pub not_before: Option<UnixMs>,
}

impl NewIntent {
    /// An intent carrying `action` serialised as JSON.
    pub fn new<A: Serialize>(
        target_chat: i64,
        lane: Lane,
        action: &A,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self::raw(target_chat, lane, serde_json::to_value(action)?))
    }

    /// An intent with an action already in JSON form.
    pub fn raw(target_chat: i64, lane: Lane, action: Value) -> Self {
        Self {
            target_chat,
            lane,
            fairness_key: 0,
            action,
            not_before: None,
        }
    }

    /// Puts the intent in its own sub-queue of the target chat (use the dialog id).
    pub fn with_fairness_key(mut self, key: i64) -> Self {
        self.fairness_key = key;
        self
    }

    /// Delays the first attempt until `at`.
    pub fn not_before(mut self, at: UnixMs) -> Self {
        self.not_before = Some(at);
        self
    }

    /// Declares that running the intent may send up to `n` messages into its target chat
    /// (a first copy that creates the topic and posts the card: 3), so the scheduler takes
    /// that many from the chat's budget up front instead of meeting a 429 halfway.
    pub fn with_sends(mut self, n: u32) -> Self {
        if let Value::Object(m) = &mut self.action {
            m.insert(SENDS_FIELD.into(), Value::from(n));
        }
        self
    }
}

/// The field of a stored action that holds its declared sends ([`NewIntent::with_sends`]).
pub const SENDS_FIELD: &str = "sends";

/// A stored intent, as handed to the executor.
#[derive(Clone, Debug, PartialEq)]
pub struct Intent {
    /// Store id.
    pub id: IntentId,
    /// Owning connection.
    pub connection: ConnectionId,
    /// Priority lane.
    pub lane: Lane,
    /// Target chat.
    pub target_chat: i64,
    /// Sub-queue key.
    pub fairness_key: i64,
    /// The action JSON.
    pub action: Value,
    /// Attempts so far, including the current one while executing.
    pub attempts: u32,
    /// When it is due.
    pub next_attempt_at: UnixMs,
    /// Why the previous attempt failed.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: UnixMs,
}

impl Intent {
    /// The messages running it may send into its target chat (at least 1; see
    /// [`NewIntent::with_sends`]).
    pub fn sends(&self) -> u32 {
        self.action
            .get(SENDS_FIELD)
            .and_then(Value::as_u64)
            .map_or(1, |n| n.clamp(1, 100) as u32)
    }
}

/// Queue sizes, for health, metrics and `/stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Waiting to run (including backing off).
    pub pending: i64,
    /// Running now (or interrupted by a crash, to be retried).
    pub in_flight: i64,
    /// Given up on.
    pub failed: i64,
}

const COLUMNS: &str =
    "id, connection_id, lane, target_chat, fairness_key, action, attempts, next_attempt_at, last_error, created_at";

fn from_row(r: &super::DbRow) -> Result<Intent, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        table: "outbox",
        message,
    };
    let lane: i64 = r.try_get("lane")?;
    // Queue heads are fetched without their action (the claim returns it fresh).
    let action: Option<String> = r.try_get("action").ok();
    let attempts: i64 = r.try_get("attempts")?;
    Ok(Intent {
        id: IntentId(r.try_get("id")?),
        connection: ConnectionId(r.try_get("connection_id")?),
        lane: Lane::from_i64(lane).ok_or_else(|| corrupt(format!("lane {lane}")))?,
        target_chat: r.try_get("target_chat")?,
        fairness_key: r.try_get("fairness_key")?,
        action: match action {
            Some(a) => serde_json::from_str::<Value>(&a).map_err(|e| corrupt(e.to_string()))?,
            None => Value::Null,
        },
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Tx {
    /// Adds an intent to the outbox as part of this transaction; the connection's worker
    /// is woken when the transaction commits.
    pub async fn enqueue(
        &mut self,
        connection: ConnectionId,
        intent: &NewIntent,
        now: UnixMs,
    ) -> Result<IntentId, StoreError> {
        let id = enqueue(&mut self.tx, connection, intent, now).await?;
        self.wake.insert(connection);
        Ok(id)
    }
}

impl Store {
    /// Adds a single intent outside any larger decision (commits and wakes the worker).
    pub async fn enqueue(
        &self,
        connection: ConnectionId,
        intent: &NewIntent,
        now: UnixMs,
    ) -> Result<IntentId, StoreError> {
        let mut tx = self.begin().await?;
        let id = tx.enqueue(connection, intent, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Due heads of their queues (up to `limit` per lane), lane first then earliest due
    /// first, skipping `exclude_targets`
    /// (chats the scheduler knows are rate-limited right now) so throttled chats do not
    /// crowd out runnable work in the batch.
    pub async fn outbox_due_heads(
        &self,
        connection: ConnectionId,
        now: UnixMs,
        exclude_targets: &[i64],
        limit: i64,
    ) -> Result<Vec<Intent>, StoreError> {
        // One subquery per lane, each walking the (connection, state, lane, next_attempt_at)
        // index in due order and stopping at the limit: the cost does not grow with the
        // number of pending intents, and a long backlog in one lane cannot hide another.
        // A row is its queue's head when it is the queue's lowest pending or in-flight id:
        // a scalar subquery, which PostgreSQL always runs per row on `outbox_queue`. The
        // same test as NOT EXISTS of an earlier row, which PostgreSQL turned into an anti
        // join with the queue's columns as a join filter whenever its statistics were
        // stale (a new database, a burst in the first minute before autovacuum analysed
        // the table): every pending row against every other, 1.9-3 s a query with 2,500
        // rows pending (33 ms this way), the outbox at 2 calls a second (failover.rs).
        // One statement for the three: one round trip to the connection's thread.
        let sql = due_heads_sql(exclude_targets.len());
        let mut q = sqlx::query(&sql).bind(connection.0).bind(now).bind(limit);
        for t in exclude_targets {
            q = q.bind(*t);
        }
        let mut c = self.conn().await?;
        q.fetch_all(&mut *c).await?.iter().map(from_row).collect()
    }
}

/// Columns of a queue head: everything but the action, which the claim returns.
const HEAD_COLUMNS: &str =
    "id, connection_id, lane, target_chat, fairness_key, attempts, next_attempt_at, last_error, created_at";

/// The due-heads query: the due heads of each lane (at most `$3` per lane, each lane in due
/// order), with `excluded` targets bound from `$4` on.
fn due_heads_sql(excluded: usize) -> String {
    let mut not_in = String::new();
    if excluded > 0 {
        let marks: Vec<String> = (0..excluded).map(|i| format!("${}", i + 4)).collect();
        not_in = format!(" AND o.target_chat NOT IN ({})", marks.join(", "));
    }
    let lanes: Vec<String> = Lane::ALL
        .iter()
        .map(|lane| {
            format!(
                "SELECT * FROM (SELECT {HEAD_COLUMNS} FROM outbox o WHERE o.connection_id = $1 \
                 AND o.state = 'pending' AND o.lane = {lane} AND o.next_attempt_at <= $2 \
                 AND o.id = (SELECT min(p.id) FROM outbox p WHERE p.connection_id = o.connection_id \
                 AND p.target_chat = o.target_chat AND p.fairness_key = o.fairness_key \
                 AND p.state IN ('pending', 'in_flight')){not_in} \
                 ORDER BY o.next_attempt_at, o.id LIMIT $3) AS lane{lane}",
                lane = *lane as i64
            )
        })
        .collect();
    // No outer ORDER BY (it would sort in a temporary B-tree): the scheduler ranks the
    // candidates itself.
    lanes.join(" UNION ALL ")
}

impl Store {
    /// Claims a pending intent under this instance's lease of its connection (the row
    /// keeps the lease's epoch); `None` if it is no longer pending or the lease is not this
    /// instance's (taken over: a zombie claims nothing). Counts an attempt.
    /// Returns the action as it is at the claim: deciding code may still extend a pending
    /// intent (a burst joining one copyMessages), so the worker must run this version.
    pub async fn outbox_mark_in_flight(
        &self,
        id: IntentId,
        now: UnixMs,
    ) -> Result<Option<Value>, StoreError> {
        let _turn = self.writing().await;
        let mut c = self.conn().await?;
        let action: Option<String> = sqlx::query_scalar(&format!(
            "UPDATE outbox SET state = 'in_flight', attempts = attempts + 1, updated_at = $2, \
             claim_epoch = {epoch} WHERE id = $1 AND state = 'pending' AND {held} RETURNING action",
            epoch = super::leases::held_epoch("outbox.connection_id", "$3"),
            held = super::leases::held_by("outbox.connection_id", "$3"),
        ))
        .bind(id.0)
        .bind(now)
        .bind(self.instance_id())
        .fetch_optional(&mut *c)
        .await?;
        action.map(|a| parse_action(&a)).transpose()
    }
}

/// How long an intent may stay in flight before recovery takes it for stuck (its outcome
/// could not be recorded, or its claimer hangs) and runs it again, whatever its epoch.
pub const IN_FLIGHT_TIMEOUT_MS: i64 = 15 * 60 * 1000;

store_writes! {
    /// Sends an intent back to pending, to run at `next_attempt_at`, remembering why.
    pub async fn outbox_reschedule(&self, id: IntentId, next_attempt_at: UnixMs, error: &str, now: UnixMs) -> () => outbox_reschedule;
    /// Marks an intent failed for good.
    pub async fn outbox_mark_failed(&self, id: IntentId, error: &str, now: UnixMs) -> () => outbox_mark_failed;
}

store_methods! {
    /// Loads one intent.
    pub async fn outbox_intent(&self, id: IntentId) -> Option<Intent> => outbox_intent;
    /// Puts intents back to pending (at-least-once: they run again) that were claimed under
    /// another epoch than the current lease's (their owner stopped or lost the lease) or
    /// have been in flight longer than [`IN_FLIGHT_TIMEOUT_MS`]. Returns how many.
    pub async fn outbox_recover(&self, connection: ConnectionId, now: UnixMs) -> u64 => outbox_recover;
    /// The earliest `next_attempt_at` strictly after `now` among pending intents.
    pub async fn outbox_next_due(&self, connection: ConnectionId, now: UnixMs) -> Option<UnixMs> => outbox_next_due;
    /// The newest active intent of a queue, if it is still pending: (id, action).
    pub async fn outbox_pending_tail(&self, connection: ConnectionId, target_chat: i64, fairness_key: i64) -> Option<(IntentId, Value)> => outbox_pending_tail;
    /// Moves the pending group-lane intents of a queue to `NewDialog` (a dialog that has no
    /// topic yet); returns how many.
    pub async fn outbox_promote_new_dialog(&self, connection: ConnectionId, target_chat: i64, fairness_key: i64) -> u64 => outbox_promote_new_dialog;
    /// Replaces the action of a still-pending intent; false if it was claimed meanwhile.
    pub async fn outbox_extend_pending(&self, id: IntentId, action: &Value) -> bool => outbox_extend_pending;
    /// Marks an intent delivered.
    pub async fn outbox_mark_done(&self, id: IntentId, now: UnixMs) -> () => outbox_mark_done;
    /// Marks several intents delivered in one statement (completions recorded together).
    pub async fn outbox_mark_done_many(&self, ids: &[IntentId], now: UnixMs) -> () => outbox_mark_done_many;
    /// Deletes delivered intents last updated before `before`; returns the count.
    pub async fn outbox_purge_done(&self, connection: ConnectionId, before: UnixMs) -> u64 => outbox_purge_done;
    /// Intents finished (done or failed) since `groups_since` for group targets and since
    /// `others_since` for the rest, oldest first: (target chat, `updated_at`, declared sends).
    /// Seeds a new worker's rate windows with what Telegram still counts.
    pub async fn outbox_recent_sends(&self, connection: ConnectionId, groups_since: UnixMs, others_since: UnixMs) -> Vec<(i64, UnixMs, u32)> => outbox_recent_sends;
    /// Counts by state.
    pub async fn outbox_stats(&self, connection: ConnectionId) -> OutboxStats => outbox_stats;
}

async fn enqueue(
    c: &mut Conn,
    connection: ConnectionId,
    i: &NewIntent,
    now: UnixMs,
) -> Result<IntentId, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (connection_id, lane, target_chat, fairness_key, action, state, attempts, \
         next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7, $7) RETURNING id",
    )
    .bind(connection.0)
    .bind(i.lane as i64)
    .bind(i.target_chat)
    .bind(i.fairness_key)
    .bind(i.action.to_string())
    .bind(i.not_before.unwrap_or(now))
    .bind(now)
    .fetch_one(&mut *c)
    .await?;
    Ok(IntentId(id))
}

store_methods! {
    /// Group work (new dialogs and follow-ups) waiting or running for `chat`: how far behind
    /// its budget a group is, to choose where a new dialog goes.
    pub async fn outbox_group_backlog(&self, connection: ConnectionId, chat: i64) -> i64 => outbox_group_backlog;
}

async fn outbox_group_backlog(
    c: &mut Conn,
    connection: ConnectionId,
    chat: i64,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE connection_id = $1 AND target_chat = $2 \
         AND state IN ('pending', 'in_flight') AND lane IN ($3, $4)",
    )
    .bind(connection.0)
    .bind(chat)
    .bind(Lane::Group as i64)
    .bind(Lane::NewDialog as i64)
    .fetch_one(&mut *c)
    .await?)
}

async fn outbox_promote_new_dialog(
    c: &mut Conn,
    connection: ConnectionId,
    target_chat: i64,
    fairness_key: i64,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE outbox SET lane = $4 WHERE connection_id = $1 AND target_chat = $2 \
         AND fairness_key = $3 AND state = 'pending' AND lane = $5",
    )
    .bind(connection.0)
    .bind(target_chat)
    .bind(fairness_key)
    .bind(Lane::NewDialog as i64)
    .bind(Lane::Group as i64)
    .execute(&mut *c)
    .await?
    .rows_affected())
}

async fn outbox_intent(c: &mut Conn, id: IntentId) -> Result<Option<Intent>, StoreError> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM outbox WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

async fn outbox_recover(
    c: &mut Conn,
    connection: ConnectionId,
    now: UnixMs,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(&format!(
        "UPDATE outbox SET state = 'pending', updated_at = $2 WHERE connection_id = $1 \
         AND state = 'in_flight' AND (claim_epoch IS NULL OR claim_epoch <> {current} \
         OR updated_at < $3)",
        current = super::leases::current_epoch("$1"),
    ))
    .bind(connection.0)
    .bind(now)
    .bind(now.saturating_sub(IN_FLIGHT_TIMEOUT_MS))
    .execute(&mut *c)
    .await?
    .rows_affected())
}

async fn outbox_next_due(
    c: &mut Conn,
    connection: ConnectionId,
    now: UnixMs,
) -> Result<Option<UnixMs>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE connection_id = $1 AND state = 'pending' AND next_attempt_at > $2",
    )
    .bind(connection.0)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

fn parse_action(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table: "outbox",
        message: e.to_string(),
    })
}

async fn outbox_pending_tail(
    c: &mut Conn,
    connection: ConnectionId,
    target_chat: i64,
    fairness_key: i64,
) -> Result<Option<(IntentId, Value)>, StoreError> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT id, state, action FROM outbox WHERE connection_id = $1 AND target_chat = $2 \
         AND fairness_key = $3 AND state IN ('pending', 'in_flight') ORDER BY id DESC LIMIT 1",
    )
    .bind(connection.0)
    .bind(target_chat)
    .bind(fairness_key)
    .fetch_optional(&mut *c)
    .await?;
    match row {
        Some((id, state, action)) if state == "pending" => {
            Ok(Some((IntentId(id), parse_action(&action)?)))
        }
        _ => Ok(None),
    }
}

async fn outbox_extend_pending(
    c: &mut Conn,
    id: IntentId,
    action: &Value,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE outbox SET action = $2 WHERE id = $1 AND state = 'pending'")
        .bind(id.0)
        .bind(action.to_string())
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() == 1)
}

async fn outbox_mark_done(c: &mut Conn, id: IntentId, now: UnixMs) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET state = 'done', last_error = NULL, updated_at = $2 WHERE id = $1",
    )
    .bind(id.0)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn outbox_mark_done_many(
    c: &mut Conn,
    ids: &[IntentId],
    now: UnixMs,
) -> Result<(), StoreError> {
    for chunk in ids.chunks(100) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "UPDATE outbox SET state = 'done', last_error = NULL, updated_at = $1 WHERE id IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(now);
        for id in chunk {
            q = q.bind(id.0);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

async fn outbox_reschedule(
    c: &mut Conn,
    id: IntentId,
    next: UnixMs,
    error: &str,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET state = 'pending', next_attempt_at = $2, last_error = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(id.0)
    .bind(next)
    .bind(error)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn outbox_mark_failed(
    c: &mut Conn,
    id: IntentId,
    error: &str,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET state = 'failed', last_error = $2, updated_at = $3 WHERE id = $1",
    )
    .bind(id.0)
    .bind(error)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn outbox_purge_done(
    c: &mut Conn,
    connection: ConnectionId,
    before: UnixMs,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM outbox WHERE connection_id = $1 AND state = 'done' AND updated_at < $2",
    )
    .bind(connection.0)
    .bind(before)
    .execute(&mut *c)
    .await?
    .rows_affected())
}

/// The recent-sends query: walks the `outbox_finished` index from `$2` on (see migration
/// 0023), so it costs the last minute's intents, not the whole history.
const RECENT_SENDS_SQL: &str = "SELECT target_chat, updated_at, action FROM outbox \
     WHERE connection_id = $1 AND state IN ('done', 'failed') AND updated_at >= $2 \
     AND (target_chat < 0 OR updated_at >= $3) ORDER BY updated_at";

async fn outbox_recent_sends(
    c: &mut Conn,
    connection: ConnectionId,
    groups_since: UnixMs,
    others_since: UnixMs,
) -> Result<Vec<(i64, UnixMs, u32)>, StoreError> {
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(RECENT_SENDS_SQL)
        .bind(connection.0)
        .bind(groups_since.min(others_since))
        .bind(others_since)
        .fetch_all(&mut *c)
        .await?;
    let sends = |action: &str| {
        // Only the declared count matters; an unreadable action counts as one send.
        serde_json::from_str::<Value>(action)
            .ok()
            .and_then(|a| a.get(SENDS_FIELD).and_then(Value::as_u64))
            .map_or(1, |n| n.clamp(1, 100) as u32)
    };
    Ok(rows
        .into_iter()
        .map(|(chat, at, action)| (chat, at, sends(&action)))
        .collect())
}

async fn outbox_stats(c: &mut Conn, connection: ConnectionId) -> Result<OutboxStats, StoreError> {
    let rows = sqlx::query(
        "SELECT state, COUNT(*) FROM outbox WHERE connection_id = $1 AND state <> 'done' GROUP BY state",
    )
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?;
    let mut s = OutboxStats::default();
    for r in rows {
        let state: String = r.try_get(0)?;
        let n: i64 = r.try_get(1)?;
        match state.as_str() {
            "pending" => s.pending = n,
            "in_flight" => s.in_flight = n,
            "failed" => s.failed = n,
            _ => {}
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::testutil::temp_store;

    #[tokio::test]
    async fn heads_respect_queue_order_lanes_and_exclusions() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        s.lease_seize(conn, "", 0, 6_000).await.unwrap();
        let mk =
            |chat, lane, fk| NewIntent::raw(chat, lane, json!({"n": chat})).with_fairness_key(fk);
        let a1 = s
            .enqueue(conn, &mk(1, Lane::Broadcast, 0), 10)
            .await
            .unwrap();
        let a2 = s.enqueue(conn, &mk(1, Lane::Reply, 0), 10).await.unwrap();
        let g1 = s.enqueue(conn, &mk(-5, Lane::Group, 7), 10).await.unwrap();
        let g2 = s.enqueue(conn, &mk(-5, Lane::Group, 8), 10).await.unwrap();
        let _g3 = s.enqueue(conn, &mk(-5, Lane::Group, 7), 10).await.unwrap();
        let later = s
            .enqueue(
                conn,
                &NewIntent::raw(2, Lane::Reply, json!({})).not_before(500),
                10,
            )
            .await
            .unwrap();

        let ids = |v: Vec<Intent>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
        // a2 waits behind a1 (same chat) even though its lane is higher priority.
        assert_eq!(
            ids(s.outbox_due_heads(conn, 100, &[], 10).await.unwrap()),
            vec![g1, g2, a1]
        );
        assert_eq!(
            ids(s.outbox_due_heads(conn, 100, &[-5], 10).await.unwrap()),
            vec![a1]
        );
        assert_eq!(s.outbox_next_due(conn, 100).await.unwrap(), Some(500));

        assert!(s.outbox_mark_in_flight(a1, 101).await.unwrap().is_some());
        assert!(s.outbox_mark_in_flight(a1, 101).await.unwrap().is_none());
        // In flight still blocks its queue.
        assert_eq!(
            ids(s.outbox_due_heads(conn, 100, &[-5], 10).await.unwrap()),
            Vec::<IntentId>::new()
        );
        s.outbox_mark_failed(a1, "boom", 102).await.unwrap();
        assert_eq!(
            ids(s.outbox_due_heads(conn, 600, &[-5], 10).await.unwrap()),
            vec![a2, later]
        );

        assert!(s.outbox_mark_in_flight(g1, 103).await.unwrap().is_some());
        // A restart: a new epoch, and what the old one left in flight runs again.
        assert_eq!(s.outbox_recover(conn, 104).await.unwrap(), 0);
        s.lease_seize(conn, "", 104, 6_000).await.unwrap();
        assert_eq!(s.outbox_recover(conn, 104).await.unwrap(), 1);
        let g = s.outbox_intent(g1).await.unwrap().unwrap();
        assert_eq!((g.attempts, g.fairness_key, g.lane), (1, 7, Lane::Group));
        s.outbox_reschedule(g1, 900, "later", 105).await.unwrap();
        assert_eq!(
            s.outbox_intent(g1)
                .await
                .unwrap()
                .unwrap()
                .last_error
                .as_deref(),
            Some("later")
        );
        s.outbox_mark_done(g2, 106).await.unwrap();
        let st = s.outbox_stats(conn).await.unwrap();
        assert_eq!(
            st,
            OutboxStats {
                pending: 4,
                in_flight: 0,
                failed: 1
            }
        );
        assert_eq!(s.outbox_purge_done(conn, 1000).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn claims_need_the_lease_and_recovery_resets_only_dead_epochs_and_stuck_rows() {
        let (a, db) = temp_store().await;
        let b = Store::open(db.url()).await.unwrap();
        let conn = a.ensure_connection("c").await.unwrap();
        let q = |chat| NewIntent::raw(chat, Lane::Reply, json!({"n": chat}));
        let i1 = a.enqueue(conn, &q(1), 10).await.unwrap();
        let i2 = a.enqueue(conn, &q(2), 10).await.unwrap();
        let i3 = a.enqueue(conn, &q(3), 10).await.unwrap();
        // Nobody holds the lease: nobody claims.
        assert!(a.outbox_mark_in_flight(i1, 20).await.unwrap().is_none());
        assert_eq!(a.lease_take(conn, "a", 20, 6_000).await.unwrap(), Some(1));
        assert!(b.outbox_mark_in_flight(i1, 21).await.unwrap().is_none());
        assert!(a.outbox_mark_in_flight(i1, 21).await.unwrap().is_some());
        assert!(a.outbox_mark_in_flight(i2, 21).await.unwrap().is_some());
        // The owner's own rows in flight stay in flight.
        assert_eq!(a.outbox_recover(conn, 30).await.unwrap(), 0);
        // b takes over after the lapse: a (a zombie now) claims nothing more, and b's
        // recovery resets a's rows in flight.
        assert_eq!(
            b.lease_take(conn, "b", 7_000, 6_000).await.unwrap(),
            Some(2)
        );
        assert!(a.outbox_mark_in_flight(i3, 7_001).await.unwrap().is_none());
        assert!(b.outbox_mark_in_flight(i3, 7_001).await.unwrap().is_some());
        assert_eq!(b.outbox_recover(conn, 7_002).await.unwrap(), 2);
        let st = b.outbox_stats(conn).await.unwrap();
        assert_eq!((st.pending, st.in_flight), (2, 1));
        // b's own claim is reset only once it is stuck past the timeout.
        assert_eq!(
            b.outbox_recover(conn, 7_001 + IN_FLIGHT_TIMEOUT_MS)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            b.outbox_recover(conn, 7_002 + IN_FLIGHT_TIMEOUT_MS)
                .await
                .unwrap(),
            1
        );
        assert_eq!(b.outbox_intent(i3).await.unwrap().unwrap().attempts, 1);
    }

    #[tokio::test]
    async fn due_heads_query_is_indexed() {
        let (s, _d) = temp_store().await;
        if s.backend() != crate::store::Backend::Sqlite {
            return; // the plan check reads SQLite's EXPLAIN QUERY PLAN
        }
        let mut c = s.conn().await.unwrap();
        let plan: Vec<String> = sqlx::query_scalar::<_, String>(&format!(
            "SELECT detail FROM (EXPLAIN QUERY PLAN {})",
            due_heads_sql(2)
        ))
        .fetch_all(&mut *c)
        .await
        .unwrap_or_default();
        // Fallback for SQLite builds where EXPLAIN cannot be a subquery.
        let plan = if plan.is_empty() {
            sqlx::query(&format!("EXPLAIN QUERY PLAN {}", due_heads_sql(2)))
                .fetch_all(&mut *c)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(3))
                .collect()
        } else {
            plan
        };
        let text = plan.join("\n");
        assert!(text.contains("outbox_lane_due"), "{text}");
        assert!(text.contains("outbox_queue"), "{text}");
        // `SCAN laneN` reads a lane's subquery as it is produced (a co-routine), not a table.
        let table_scan = text
            .lines()
            .any(|l| l.contains("SCAN") && !l.contains("SCAN lane"));
        assert!(!text.contains("TEMP B-TREE") && !table_scan, "{text}");
    }

    #[tokio::test]
    async fn recent_sends_read_finished_intents_through_their_index() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        let other = s.ensure_connection("d").await.unwrap();
        s.lease_seize(conn, "", 0, 6_000).await.unwrap();
        s.lease_seize(other, "", 0, 6_000).await.unwrap();
        let add = |conn, chat, sends: u32| {
            let s = s.clone();
            async move {
                let i = NewIntent::raw(chat, Lane::Group, json!({"n": 1})).with_sends(sends);
                s.enqueue(conn, &i, 1).await.unwrap()
            }
        };
        let old_group = add(conn, -5, 3).await;
        let group = add(conn, -5, 3).await;
        let failed = add(conn, -6, 1).await;
        let old_private = add(conn, 7, 1).await;
        let private = add(conn, 7, 1).await;
        let pending = add(conn, -5, 1).await;
        let elsewhere = add(other, -5, 1).await;
        s.outbox_mark_done(old_group, 100).await.unwrap();
        s.outbox_mark_done_many(&[group, old_private], 200)
            .await
            .unwrap();
        s.outbox_mark_failed(failed, "400", 250).await.unwrap();
        s.outbox_mark_done(private, 960).await.unwrap();
        s.outbox_mark_done(elsewhere, 300).await.unwrap();
        assert!(s
            .outbox_mark_in_flight(pending, 400)
            .await
            .unwrap()
            .is_some());
        // Groups from 150 on, private chats from 900 on.
        assert_eq!(
            s.outbox_recent_sends(conn, 150, 900).await.unwrap(),
            vec![(-5, 200, 3), (-6, 250, 1), (7, 960, 1)]
        );

        if s.backend() != crate::store::Backend::Sqlite {
            return; // the plan check reads SQLite's EXPLAIN QUERY PLAN
        }
        let mut c = s.conn().await.unwrap();
        let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {RECENT_SENDS_SQL}"))
            .fetch_all(&mut *c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(3))
            .collect();
        let text = plan.join("\n");
        assert!(text.contains("outbox_finished"), "{text}");
        assert!(!text.contains("TEMP B-TREE"), "{text}");
    }

    #[tokio::test]
    async fn enqueue_in_tx_wakes_only_after_commit() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        let notify = s.outbox_notify(conn);
        let mut tx = s.begin().await.unwrap();
        tx.enqueue(conn, &NewIntent::raw(1, Lane::Reply, json!({})), 1)
            .await
            .unwrap();
        drop(tx); // rolled back: nothing stored, nobody woken
        assert_eq!(s.outbox_stats(conn).await.unwrap().pending, 0);
        let woke =
            tokio::time::timeout(std::time::Duration::from_millis(20), notify.notified()).await;
        assert!(woke.is_err());
        let mut tx = s.begin().await.unwrap();
        tx.enqueue(conn, &NewIntent::raw(1, Lane::Reply, json!({})), 1)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), notify.notified())
            .await
            .unwrap();
    }
}
