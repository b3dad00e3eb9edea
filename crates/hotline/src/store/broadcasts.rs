//! Issue 6's rows: broadcasts and their recipients, recent General messages (what `/send`
//! copies), dialog events (what `/stats` counts), and the streamed contact export.

use std::collections::HashMap;

use futures::TryStreamExt;
use sqlx::{FromRow, Row};

use super::{store_methods, Conn, ConnectionId, Store, StoreError, UnixMs};
use super::{Bind, Compiled};

/// A broadcast row.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct Broadcast {
    /// Store id (shown to admins as #N).
    pub id: i64,
    /// Owning connection.
    pub connection_id: i64,
    /// draft, scheduled, running, paused, done, cancelled.
    pub state: String,
    /// How recipients were chosen, as typed.
    pub audience: String,
    /// JSON array of the General message ids copied to each recipient.
    pub source_ids: String,
    /// The admin who prepared it.
    pub created_by: i64,
    /// Sent with allow_paid_broadcast.
    #[sqlx(try_from = "super::Flag")]
    pub paid: bool,
    /// Not before this time.
    pub start_at: UnixMs,
    /// The confirmation/progress message in General.
    pub control_message: Option<i64>,
    /// Number of recipients.
    pub total: i64,
    /// When prepared.
    pub created_at: UnixMs,
    /// When it started sending.
    pub started_at: Option<UnixMs>,
    /// When the report was queued (done or cancelled and drained).
    pub finished_at: Option<UnixMs>,
}

impl Broadcast {
    /// The message ids to copy.
    pub fn sources(&self) -> Vec<i64> {
        serde_json::from_str(&self.source_ids).unwrap_or_default()
    }
}

/// A broadcast to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBroadcast {
    /// How recipients are chosen, as typed.
    pub audience: String,
    /// General message ids to copy.
    pub source_ids: Vec<i64>,
    /// The admin.
    pub created_by: i64,
    /// allow_paid_broadcast.
    pub paid: bool,
    /// Not before.
    pub start_at: UnixMs,
}

/// Recipients per state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecipientCounts {
    /// Not yet queued.
    pub pending: i64,
    /// Queued in the outbox.
    pub queued: i64,
    /// Delivered.
    pub sent: i64,
    /// Telegram refused (not blocked).
    pub failed: i64,
    /// Blocked the bot (found while sending).
    pub blocked: i64,
    /// Left out before sending (blocked or banned already).
    pub skipped: i64,
    /// Not sent because the broadcast was cancelled.
    pub cancelled: i64,
}

impl RecipientCounts {
    /// Still to do.
    pub fn left(&self) -> i64 {
        self.pending + self.queued
    }
}

/// One recipient, as a Deliver intent sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientDelivery {
    /// The recipient's state.
    pub state: String,
    /// Telegram user id.
    pub user_id: i64,
    /// The contact, when known.
    pub contact_id: Option<i64>,
    /// The broadcast's state.
    pub broadcast_state: String,
    /// What to copy.
    pub source_ids: Vec<i64>,
    /// allow_paid_broadcast.
    pub paid: bool,
}

/// A row of a broadcast's CSV report.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct ReportRow {
    /// Telegram user id.
    pub user_id: i64,
    /// First name (empty when the id is not a known contact).
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Recipient state.
    pub state: String,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// When it was delivered.
    pub sent_at: Option<UnixMs>,
}

/// A dialog event for `/stats`.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct DialogEvent {
    /// The dialog.
    pub dialog_id: i64,
    /// created, reopened, closed, in, out, intercepted.
    pub kind: String,
    /// The operator, on `out`.
    pub operator_id: Option<i64>,
    /// When.
    pub at: UnixMs,
}

/// A row of the contact export.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct ExportRow {
    /// Telegram user id.
    pub user_id: i64,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Language code.
    pub language_code: Option<String>,
    /// First seen.
    pub first_seen_at: UnixMs,
    /// Last message.
    pub last_message_at: Option<UnixMs>,
    /// Tag names, comma-separated.
    pub tags: Option<String>,
    /// Dialog status (new, wait, closed) or none.
    pub dialog_status: Option<String>,
    /// Messages from the user relayed.
    pub messages_in: i64,
    /// Messages to the user (operators, intercepted).
    pub messages_out: i64,
    /// Blocked the bot.
    #[sqlx(try_from = "super::Flag")]
    pub blocked: bool,
    /// Banned.
    #[sqlx(try_from = "super::Flag")]
    pub banned: bool,
    /// The dialog's latest satisfaction rating (1–5), if the user gave one.
    pub rating: Option<i64>,
}

const BROADCAST: &str =
    "id, connection_id, state, audience, source_ids, created_by, CAST(paid AS INTEGER) AS paid, start_at, \
     control_message, total, created_at, started_at, finished_at";

store_methods! {
    /// Lower-cased tag names → ids (segments resolve tags with it).
    pub async fn tag_keys(&self, connection: ConnectionId) -> HashMap<String, i64> => tag_keys;
    /// Creates a draft broadcast; returns its id.
    pub async fn create_broadcast(&self, connection: ConnectionId, b: &NewBroadcast, now: UnixMs) -> i64 => create_broadcast;
    /// Adds the contacts matching a compiled segment (placeholders from `$3`) as recipients,
    /// in contact order; blocked and banned contacts are added as `skipped`. Returns the total.
    pub async fn add_segment_recipients(&self, connection: ConnectionId, broadcast: i64, segment: &Compiled) -> i64 => add_segment_recipients;
    /// Adds recipients by user id (unknown ids too: Telegram decides); duplicates are ignored.
    /// Returns the total.
    pub async fn add_list_recipients(&self, connection: ConnectionId, broadcast: i64, users: &[i64]) -> i64 => add_list_recipients;
    /// A broadcast by id, within a connection.
    pub async fn broadcast(&self, connection: ConnectionId, id: i64) -> Option<Broadcast> => broadcast;
    /// The most recent broadcasts.
    pub async fn recent_broadcasts(&self, connection: ConnectionId, limit: i64) -> Vec<Broadcast> => recent_broadcasts;
    /// Broadcasts the driver must look at: scheduled, running, or ended without a report yet.
    pub async fn live_broadcasts(&self, connection: ConnectionId) -> Vec<Broadcast> => live_broadcasts;
    /// Recipients per state.
    pub async fn recipient_counts(&self, broadcast: i64) -> RecipientCounts => recipient_counts;
    /// Moves a broadcast from one of `from` to `to`; false when it was in none of them.
    pub async fn set_broadcast_state(&self, broadcast: i64, from: &[&str], to: &str, now: UnixMs) -> bool => set_broadcast_state;
    /// Remembers the confirmation/progress message.
    pub async fn set_broadcast_control(&self, broadcast: i64, message_id: i64) -> () => set_broadcast_control;
    /// Marks a broadcast's report as queued.
    pub async fn finish_broadcast(&self, broadcast: i64, now: UnixMs) -> bool => finish_broadcast;
    /// Scheduled broadcasts whose time has come start running; returns how many.
    pub async fn start_due_broadcasts(&self, connection: ConnectionId, now: UnixMs) -> u64 => start_due_broadcasts;
    /// Moves the next `limit` pending recipients (in order) to `queued`; returns `(seq, user)`.
    pub async fn queue_recipients(&self, broadcast: i64, limit: i64) -> Vec<(i64, i64)> => queue_recipients;
    /// What a Deliver intent needs.
    pub async fn delivery(&self, broadcast: i64, seq: i64) -> Option<RecipientDelivery> => delivery;
    /// Moves a recipient from `from` to `to`; false when it was not in `from`.
    pub async fn set_recipient(&self, broadcast: i64, seq: i64, from: &str, to: &str, error: Option<&str>, sent_at: Option<UnixMs>) -> bool => set_recipient;
    /// Cancels every pending recipient; returns how many.
    pub async fn cancel_pending_recipients(&self, broadcast: i64) -> u64 => cancel_pending_recipients;
    /// Recipients delivered since `since` (for the rate).
    pub async fn sent_since(&self, broadcast: i64, since: UnixMs) -> i64 => sent_since;
    /// The report's rows, in recipient order.
    pub async fn report_rows(&self, broadcast: i64) -> Vec<ReportRow> => report_rows;
    /// Remembers a non-command General message (pruning those older than two days).
    pub async fn remember_general(&self, connection: ConnectionId, message_id: i64, author: i64, media_group_id: Option<&str>, now: UnixMs) -> () => remember_general;
    /// The author's remembered General messages from `from` to `to` (inclusive), in order;
    /// with an album's siblings.
    pub async fn general_chain(&self, connection: ConnectionId, from: i64, to: i64, author: i64) -> Vec<i64> => general_chain;
    /// Of `ids`, those that cannot be General messages: between the oldest and the newest
    /// remembered General messages (Hotline saw every message in that range) yet not
    /// remembered. Ids outside the range (older than the memory, or newer than what the
    /// intake has processed yet) cannot be judged here; the draft's preview copy checks
    /// them with Telegram.
    pub async fn unknown_general(&self, connection: ConnectionId, ids: &[i64]) -> Vec<i64> => unknown_general;
}

store_methods! {
    @appended
    /// Records a dialog event for `/stats`.
    pub async fn record_event(&self, connection: ConnectionId, dialog: i64, kind: &str, operator: Option<i64>, at: UnixMs) -> () => record_event;
    /// Dialog events in `[from, to)`, by dialog then time.
    pub async fn events_between(&self, connection: ConnectionId, from: UnixMs, to: UnixMs) -> Vec<DialogEvent> => events_between;
}

async fn tag_keys(
    c: &mut Conn,
    connection: ConnectionId,
) -> Result<HashMap<String, i64>, StoreError> {
    let rows = sqlx::query("SELECT key, id FROM tags WHERE connection_id = $1")
        .bind(connection.0)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("key")?, r.try_get("id")?)))
        .collect()
}

async fn create_broadcast(
    c: &mut Conn,
    connection: ConnectionId,
    b: &NewBroadcast,
    now: UnixMs,
) -> Result<i64, StoreError> {
    let ids = serde_json::to_string(&b.source_ids).unwrap_or_else(|_| "[]".into());
    let id = sqlx::query_scalar(
        "INSERT INTO broadcasts (connection_id, state, audience, source_ids, created_by, paid, \
         start_at, created_at, updated_at) VALUES ($1, 'draft', $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(connection.0)
    .bind(&b.audience)
    .bind(ids)
    .bind(b.created_by)
    .bind(b.paid)
    .bind(b.start_at)
    .bind(now)
    .fetch_one(c)
    .await?;
    Ok(id)
}

async fn set_total(c: &mut Conn, broadcast: i64) -> Result<i64, StoreError> {
    let total: i64 = sqlx::query_scalar(
        "UPDATE broadcasts SET total = (SELECT COUNT(*) FROM broadcast_recipients WHERE broadcast_id = $1) \
         WHERE id = $1 RETURNING total",
    )
    .bind(broadcast)
    .fetch_one(c)
    .await?;
    Ok(total)
}

/// Binds a compiled segment's values onto a query.
pub(crate) fn bind_segment<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    seg: &'q Compiled,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in &seg.binds {
        q = match b {
            Bind::Int(v) => q.bind(*v),
            Bind::Text(t) => q.bind(t.as_str()),
        };
    }
    q
}

async fn add_segment_recipients(
    c: &mut Conn,
    connection: ConnectionId,
    broadcast: i64,
    segment: &Compiled,
) -> Result<i64, StoreError> {
    let sql = format!(
        "INSERT INTO broadcast_recipients (broadcast_id, seq, user_id, contact_id, state, error) \
         SELECT $1, ROW_NUMBER() OVER (ORDER BY c.id), c.user_id, c.id, \
           CASE WHEN c.blocked OR c.banned THEN 'skipped' ELSE 'pending' END, \
           CASE WHEN c.blocked THEN 'blocked the bot' WHEN c.banned THEN 'banned' END \
         FROM contacts c WHERE c.connection_id = $2 AND ({}) ORDER BY c.id",
        segment.sql
    );
    let q = sqlx::query(&sql).bind(broadcast).bind(connection.0);
    bind_segment(q, segment).execute(&mut *c).await?;
    set_total(c, broadcast).await
}

async fn add_list_recipients(
    c: &mut Conn,
    connection: ConnectionId,
    broadcast: i64,
    users: &[i64],
) -> Result<i64, StoreError> {
    let mut seq: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) FROM broadcast_recipients WHERE broadcast_id = $1",
    )
    .bind(broadcast)
    .fetch_one(&mut *c)
    .await?;
    for u in users {
        seq += 1;
        sqlx::query(
            "INSERT INTO broadcast_recipients (broadcast_id, seq, user_id, contact_id, state, error) \
             SELECT $1, $2, $3, c.id, \
               CASE WHEN c.blocked OR c.banned THEN 'skipped' ELSE 'pending' END, \
               CASE WHEN c.blocked THEN 'blocked the bot' WHEN c.banned THEN 'banned' END \
             FROM (SELECT 1) AS one LEFT JOIN contacts c ON c.connection_id = $4 AND c.user_id = $3 \
             ON CONFLICT DO NOTHING",
        )
        .bind(broadcast)
        .bind(seq)
        .bind(*u)
        .bind(connection.0)
        .execute(&mut *c)
        .await?;
    }
    set_total(c, broadcast).await
}

async fn broadcast(
    c: &mut Conn,
    connection: ConnectionId,
    id: i64,
) -> Result<Option<Broadcast>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {BROADCAST} FROM broadcasts WHERE id = $1 AND connection_id = $2"
    ))
    .bind(id)
    .bind(connection.0)
    .fetch_optional(c)
    .await?)
}

async fn recent_broadcasts(
    c: &mut Conn,
    connection: ConnectionId,
    limit: i64,
) -> Result<Vec<Broadcast>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {BROADCAST} FROM broadcasts WHERE connection_id = $1 AND state <> 'draft' \
         ORDER BY id DESC LIMIT $2"
    ))
    .bind(connection.0)
    .bind(limit)
    .fetch_all(c)
    .await?)
}

async fn live_broadcasts(
    c: &mut Conn,
    connection: ConnectionId,
) -> Result<Vec<Broadcast>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {BROADCAST} FROM broadcasts WHERE connection_id = $1 AND \
         (state IN ('scheduled', 'running', 'paused') OR (state IN ('done', 'cancelled') AND finished_at IS NULL)) \
         ORDER BY id"
    ))
    .bind(connection.0)
    .fetch_all(c)
    .await?)
}

async fn recipient_counts(c: &mut Conn, broadcast: i64) -> Result<RecipientCounts, StoreError> {
    let rows = sqlx::query(
        "SELECT state, COUNT(*) AS n FROM broadcast_recipients WHERE broadcast_id = $1 GROUP BY state",
    )
    .bind(broadcast)
    .fetch_all(c)
    .await?;
    let mut out = RecipientCounts::default();
    for r in rows {
        let n: i64 = r.try_get("n")?;
        match r.try_get::<String, _>("state")?.as_str() {
            "pending" => out.pending = n,
            "queued" => out.queued = n,
            "sent" => out.sent = n,
            "failed" => out.failed = n,
            "blocked" => out.blocked = n,
            "skipped" => out.skipped = n,
            _ => out.cancelled = n,
        }
    }
    Ok(out)
}

async fn set_broadcast_state(
    c: &mut Conn,
    broadcast: i64,
    from: &[&str],
    to: &str,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let list = (0..from.len())
        .map(|i| format!("${}", i + 4))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE broadcasts SET state = $1, updated_at = $2, \
         started_at = CASE WHEN $1 = 'running' THEN COALESCE(started_at, $2) ELSE started_at END \
         WHERE id = $3 AND state IN ({list})"
    );
    let mut q = sqlx::query(&sql).bind(to).bind(now).bind(broadcast);
    for f in from {
        q = q.bind(*f);
    }
    Ok(q.execute(c).await?.rows_affected() > 0)
}

async fn set_broadcast_control(
    c: &mut Conn,
    broadcast: i64,
    message_id: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE broadcasts SET control_message = $2 WHERE id = $1")
        .bind(broadcast)
        .bind(message_id)
        .execute(c)
        .await?;
    Ok(())
}

async fn finish_broadcast(c: &mut Conn, broadcast: i64, now: UnixMs) -> Result<bool, StoreError> {
    Ok(sqlx::query(
        "UPDATE broadcasts SET finished_at = $2, updated_at = $2 WHERE id = $1 AND finished_at IS NULL",
    )
    .bind(broadcast)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected()
        > 0)
}

async fn start_due_broadcasts(
    c: &mut Conn,
    connection: ConnectionId,
    now: UnixMs,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE broadcasts SET state = 'running', started_at = COALESCE(started_at, $2), updated_at = $2 \
         WHERE connection_id = $1 AND state = 'scheduled' AND start_at <= $2",
    )
    .bind(connection.0)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected())
}

async fn queue_recipients(
    c: &mut Conn,
    broadcast: i64,
    limit: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let rows = sqlx::query(
        "UPDATE broadcast_recipients SET state = 'queued' WHERE broadcast_id = $1 AND seq IN \
         (SELECT seq FROM broadcast_recipients WHERE broadcast_id = $1 AND state = 'pending' ORDER BY seq LIMIT $2) \
         RETURNING seq, user_id",
    )
    .bind(broadcast)
    .bind(limit)
    .fetch_all(c)
    .await?;
    let mut out: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| Ok((r.try_get("seq")?, r.try_get("user_id")?)))
        .collect::<Result<_, StoreError>>()?;
    out.sort_unstable();
    Ok(out)
}

async fn delivery(
    c: &mut Conn,
    broadcast: i64,
    seq: i64,
) -> Result<Option<RecipientDelivery>, StoreError> {
    let row = sqlx::query(
        "SELECT r.state, r.user_id, r.contact_id, b.state AS bstate, b.source_ids, CAST(b.paid AS INTEGER) AS paid \
         FROM broadcast_recipients r JOIN broadcasts b ON b.id = r.broadcast_id \
         WHERE r.broadcast_id = $1 AND r.seq = $2",
    )
    .bind(broadcast)
    .bind(seq)
    .fetch_optional(c)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let ids: String = r.try_get("source_ids")?;
    Ok(Some(RecipientDelivery {
        state: r.try_get("state")?,
        user_id: r.try_get("user_id")?,
        contact_id: r.try_get("contact_id")?,
        broadcast_state: r.try_get("bstate")?,
        source_ids: serde_json::from_str(&ids).map_err(|e| StoreError::Corrupt {
            table: "broadcasts",
            message: e.to_string(),
        })?,
        paid: super::flag(&r, "paid")?,
    }))
}

async fn set_recipient(
    c: &mut Conn,
    broadcast: i64,
    seq: i64,
    from: &str,
    to: &str,
    error: Option<&str>,
    sent_at: Option<UnixMs>,
) -> Result<bool, StoreError> {
    Ok(sqlx::query(
        "UPDATE broadcast_recipients SET state = $4, error = $5, sent_at = $6 \
         WHERE broadcast_id = $1 AND seq = $2 AND state = $3",
    )
    .bind(broadcast)
    .bind(seq)
    .bind(from)
    .bind(to)
    .bind(error)
    .bind(sent_at)
    .execute(c)
    .await?
    .rows_affected()
        > 0)
}

async fn cancel_pending_recipients(c: &mut Conn, broadcast: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE broadcast_recipients SET state = 'cancelled', error = 'broadcast cancelled' \
         WHERE broadcast_id = $1 AND state = 'pending'",
    )
    .bind(broadcast)
    .execute(c)
    .await?
    .rows_affected())
}

async fn sent_since(c: &mut Conn, broadcast: i64, since: UnixMs) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM broadcast_recipients WHERE broadcast_id = $1 AND state = 'sent' AND sent_at >= $2",
    )
    .bind(broadcast)
    .bind(since)
    .fetch_one(c)
    .await?)
}

async fn report_rows(c: &mut Conn, broadcast: i64) -> Result<Vec<ReportRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT r.user_id, ct.first_name, ct.last_name, ct.username, r.state, r.error, r.sent_at \
         FROM broadcast_recipients r LEFT JOIN contacts ct ON ct.id = r.contact_id \
         WHERE r.broadcast_id = $1 ORDER BY r.seq",
    )
    .bind(broadcast)
    .fetch_all(c)
    .await?)
}

async fn remember_general(
    c: &mut Conn,
    connection: ConnectionId,
    message_id: i64,
    author: i64,
    media_group_id: Option<&str>,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO general_messages (connection_id, message_id, author_id, media_group_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(connection.0)
    .bind(message_id)
    .bind(author)
    .bind(media_group_id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    sqlx::query("DELETE FROM general_messages WHERE created_at < $1")
        .bind(now - 2 * 86_400_000)
        .execute(c)
        .await?;
    Ok(())
}

async fn general_chain(
    c: &mut Conn,
    connection: ConnectionId,
    from: i64,
    to: i64,
    author: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT message_id FROM general_messages WHERE connection_id = $1 AND ( \
           (message_id BETWEEN $2 AND $3 AND author_id = $4) \
           OR media_group_id IN (SELECT media_group_id FROM general_messages \
               WHERE connection_id = $1 AND message_id = $2 AND media_group_id IS NOT NULL)) \
         ORDER BY message_id",
    )
    .bind(connection.0)
    .bind(from)
    .bind(to)
    .bind(author)
    .fetch_all(c)
    .await?)
}

async fn unknown_general(
    c: &mut Conn,
    connection: ConnectionId,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let (oldest, newest): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT MIN(message_id), MAX(message_id) FROM general_messages WHERE connection_id = $1",
    )
    .bind(connection.0)
    .fetch_one(&mut *c)
    .await?;
    let (Some(oldest), Some(newest)) = (oldest, newest) else {
        return Ok(Vec::new());
    };
    let mut unknown = Vec::new();
    for &id in ids.iter().filter(|id| (oldest + 1..newest).contains(*id)) {
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT message_id FROM general_messages WHERE connection_id = $1 AND message_id = $2",
        )
        .bind(connection.0)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
        if known.is_none() {
            unknown.push(id);
        }
    }
    Ok(unknown)
}

/// An analytics event a [`super::Tx`] holds back until it commits (see [`super::Deferred`]).
#[derive(Clone, Debug)]
pub(super) struct DeferredEvent {
    pub connection: ConnectionId,
    pub dialog: i64,
    pub kind: &'static str,
    pub operator: Option<i64>,
    pub at: UnixMs,
}

/// Writes held-back analytics events, in order, with multi-row INSERTs.
pub(super) async fn record_events(c: &mut Conn, rows: &[DeferredEvent]) -> Result<(), StoreError> {
    let mut rest = rows;
    for size in super::multi_row_chunks(rows.len()) {
        let (chunk, more) = rest.split_at(size);
        rest = more;
        let sql = format!(
            "INSERT INTO dialog_events (connection_id, dialog_id, kind, operator_id, at) VALUES {}",
            super::values_list(size, 5)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(r.connection.0)
                .bind(r.dialog)
                .bind(r.kind)
                .bind(r.operator)
                .bind(r.at);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

async fn record_event(
    c: &mut Conn,
    connection: ConnectionId,
    dialog: i64,
    kind: &str,
    operator: Option<i64>,
    at: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO dialog_events (connection_id, dialog_id, kind, operator_id, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(connection.0)
    .bind(dialog)
    .bind(kind)
    .bind(operator)
    .bind(at)
    .execute(c)
    .await?;
    Ok(())
}

async fn events_between(
    c: &mut Conn,
    connection: ConnectionId,
    from: UnixMs,
    to: UnixMs,
) -> Result<Vec<DialogEvent>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT dialog_id, kind, operator_id, at FROM dialog_events \
         WHERE connection_id = $1 AND at >= $2 AND at < $3 ORDER BY dialog_id, at, id",
    )
    .bind(connection.0)
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await?)
}

impl Store {
    /// Streams the contacts matching `segment` (placeholders from `$2`; `None` = all) to
    /// `row`, one at a time, in contact order: memory does not grow with the contact count.
    pub async fn export_contacts<E>(
        &self,
        connection: ConnectionId,
        segment: Option<&Compiled>,
        mut row: impl FnMut(ExportRow) -> Result<(), E>,
    ) -> Result<Result<u64, E>, StoreError> {
        let all = Compiled {
            sql: "1 = 1".into(),
            binds: Vec::new(),
        };
        let seg = segment.unwrap_or(&all);
        let sql = format!(
            "SELECT c.user_id, c.first_name, c.last_name, c.username, c.language_code, \
               c.first_seen_at, c.last_message_at, \
               (SELECT string_agg(t.name, ',') FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id \
                  WHERE ct.contact_id = c.id) AS tags, \
               d.status AS dialog_status, \
               (SELECT COUNT(*) FROM message_links l WHERE l.dialog_id = d.id AND l.direction = 'incoming') AS messages_in, \
               (SELECT COUNT(*) FROM message_links l WHERE l.dialog_id = d.id AND l.direction <> 'incoming') AS messages_out, \
               CAST(c.blocked AS INTEGER) AS blocked, CAST(c.banned AS INTEGER) AS banned, \
               (SELECT r.score FROM dialog_ratings r WHERE r.dialog_id = d.id AND r.score IS NOT NULL \
                  ORDER BY r.id DESC LIMIT 1) AS rating \
             FROM contacts c LEFT JOIN dialogs d ON d.contact_id = c.id AND d.connection_id = c.connection_id \
             WHERE c.connection_id = $1 AND ({}) ORDER BY c.id",
            seg.sql
        );
        let mut conn = self.conn().await?;
        let q = bind_segment(sqlx::query(&sql).bind(connection.0), seg);
        let mut rows = q.fetch(&mut *conn);
        let mut n = 0;
        while let Some(r) = rows.try_next().await? {
            if let Err(e) = row(ExportRow::from_row(&r)?) {
                return Ok(Err(e));
            }
            n += 1;
        }
        Ok(Ok(n))
    }

    /// Counts the contacts matching `segment` (placeholders from `$2`).
    pub async fn count_segment(
        &self,
        connection: ConnectionId,
        segment: &Compiled,
    ) -> Result<i64, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) FROM contacts c WHERE c.connection_id = $1 AND ({})",
            segment.sql
        );
        let mut conn = self.conn().await?;
        let q = bind_segment(sqlx::query(&sql).bind(connection.0), segment);
        Ok(q.fetch_one(&mut *conn).await?.try_get(0)?)
    }
}
