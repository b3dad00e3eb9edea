//! The spam gate (`NEW_TOPICS_PER_HOUR`): admissions counted per hour, the waiting contacts'
//! dialogs and their kept messages (`gate_admissions`, `gate_waiting`, `gate_messages`).

use sqlx::Row;

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

store_methods! {
    /// How many dialogs of the connection got through the gate since `since`.
    pub async fn gate_admitted_since(&self, connection: ConnectionId, since: UnixMs) -> i64 => admitted_since;
    /// Records that a dialog got through the gate (it may get a topic).
    pub async fn gate_record_admission(&self, connection: ConnectionId, dialog: i64, now: UnixMs) -> () => record_admission;
    /// Puts a dialog in the queue (no-op when it already waits).
    pub async fn gate_hold(&self, connection: ConnectionId, dialog: i64, now: UnixMs) -> () => hold;
    /// Whether a dialog waits at the gate.
    pub async fn gate_is_waiting(&self, dialog: i64) -> bool => is_waiting;
    /// Keeps a waiting dialog's message (its JSON) for its topic.
    pub async fn gate_keep(&self, dialog: i64, message: i64, json: &str) -> () => keep;
    /// How many dialogs of the connection wait.
    pub async fn gate_waiting_count(&self, connection: ConnectionId) -> i64 => waiting_count;
    /// Up to `limit` waiting dialogs, oldest first.
    pub async fn gate_waiting_oldest(&self, connection: ConnectionId, limit: i64) -> Vec<i64> => waiting_oldest;
    /// Takes a dialog out of the queue; returns its kept messages (JSON) in order (`None` when it
    /// did not wait).
    pub async fn gate_release(&self, connection: ConnectionId, dialog: i64) -> Option<Vec<String>> => release;
}

async fn admitted_since(
    c: &mut Conn,
    connection: ConnectionId,
    since: UnixMs,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM gate_admissions WHERE connection_id = $1 AND at >= $2",
    )
    .bind(connection.0)
    .bind(since)
    .fetch_one(&mut *c)
    .await?;
    Ok(row.try_get("n")?)
}

async fn record_admission(
    c: &mut Conn,
    connection: ConnectionId,
    dialog: i64,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO gate_admissions (connection_id, dialog_id, at) VALUES ($1, $2, $3) \
         ON CONFLICT (connection_id, dialog_id) DO UPDATE SET at = excluded.at",
    )
    .bind(connection.0)
    .bind(dialog)
    .bind(now)
    .execute(&mut *c)
    .await?;
    // Older admissions never count again.
    sqlx::query("DELETE FROM gate_admissions WHERE connection_id = $1 AND at < $2")
        .bind(connection.0)
        .bind(now - 3_600_000)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn hold(
    c: &mut Conn,
    connection: ConnectionId,
    dialog: i64,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO gate_waiting (dialog_id, connection_id, since) VALUES ($1, $2, $3) \
         ON CONFLICT (dialog_id) DO NOTHING",
    )
    .bind(dialog)
    .bind(connection.0)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn is_waiting(c: &mut Conn, dialog: i64) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 AS one FROM gate_waiting WHERE dialog_id = $1")
        .bind(dialog)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.is_some())
}

async fn keep(c: &mut Conn, dialog: i64, message: i64, json: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO gate_messages (dialog_id, message_id, message) VALUES ($1, $2, $3) \
         ON CONFLICT (dialog_id, message_id) DO NOTHING",
    )
    .bind(dialog)
    .bind(message)
    .bind(json)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn waiting_count(c: &mut Conn, connection: ConnectionId) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM gate_waiting WHERE connection_id = $1")
        .bind(connection.0)
        .fetch_one(&mut *c)
        .await?;
    Ok(row.try_get("n")?)
}

async fn waiting_oldest(
    c: &mut Conn,
    connection: ConnectionId,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query(
        "SELECT dialog_id FROM gate_waiting WHERE connection_id = $1 \
         ORDER BY since, dialog_id LIMIT $2",
    )
    .bind(connection.0)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("dialog_id")?)).collect()
}

async fn release(
    c: &mut Conn,
    connection: ConnectionId,
    dialog: i64,
) -> Result<Option<Vec<String>>, StoreError> {
    let rows =
        sqlx::query("SELECT message FROM gate_messages WHERE dialog_id = $1 ORDER BY message_id")
            .bind(dialog)
            .fetch_all(&mut *c)
            .await?;
    let ids = rows
        .iter()
        .map(|r| Ok(r.try_get("message")?))
        .collect::<Result<Vec<String>, StoreError>>()?;
    let gone = sqlx::query("DELETE FROM gate_waiting WHERE dialog_id = $1 AND connection_id = $2")
        .bind(dialog)
        .bind(connection.0)
        .execute(&mut *c)
        .await?;
    if gone.rows_affected() == 0 {
        return Ok(None);
    }
    sqlx::query("DELETE FROM gate_messages WHERE dialog_id = $1")
        .bind(dialog)
        .execute(&mut *c)
        .await?;
    Ok(Some(ids))
}
