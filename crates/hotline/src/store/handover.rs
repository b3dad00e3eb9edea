//! The handover's pauses (`bot_pauses`): per dialog, whether the parallel bot is paused,
//! by whom and why, and the spans the gateway withholds the user's updates in.

use std::fmt;
use std::str::FromStr;

use sqlx::Row;

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// Who paused or resumed the bot for a dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PauseReason {
    /// An operator's `/bot off` or `/bot on`.
    Operator,
    /// `AUTO_HANDOVER`: an operator answered, or the dialog was closed.
    Auto,
    /// The REST API.
    Api,
    /// The parallel bot itself (`hotlineHandover` / `hotlineResume` through the gateway).
    Bot,
}

impl PauseReason {
    /// The database and API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Auto => "auto",
            Self::Api => "api",
            Self::Bot => "bot",
        }
    }
}

impl fmt::Display for PauseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PauseReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "operator" => Ok(Self::Operator),
            "auto" => Ok(Self::Auto),
            "api" => Ok(Self::Api),
            "bot" => Ok(Self::Bot),
            other => Err(format!("unknown pause reason \"{other}\"")),
        }
    }
}

/// One pause of the bot in a dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pause {
    /// Store id.
    pub id: i64,
    /// The dialog.
    pub dialog_id: i64,
    /// The user's private chat.
    pub user_chat_id: i64,
    /// Who paused.
    pub reason: PauseReason,
    /// The operator who paused (operator, auto).
    pub paused_by: Option<i64>,
    /// Start of the span.
    pub paused_at: UnixMs,
    /// End of the span; `None` while paused.
    pub resumed_at: Option<UnixMs>,
}

fn from_row(r: &super::DbRow) -> Result<Pause, StoreError> {
    let reason: String = r.try_get("reason")?;
    Ok(Pause {
        id: r.try_get("id")?,
        dialog_id: r.try_get("dialog_id")?,
        user_chat_id: r.try_get("user_chat_id")?,
        reason: reason.parse().map_err(|message| StoreError::Corrupt {
            table: "bot_pauses",
            message,
        })?,
        paused_by: r.try_get("paused_by")?,
        paused_at: r.try_get("paused_at")?,
        resumed_at: r.try_get("resumed_at")?,
    })
}

const COLUMNS: &str = "id, dialog_id, user_chat_id, reason, paused_by, paused_at, resumed_at";

store_methods! {
    /// The dialog's open pause, if the bot is paused there.
    pub async fn open_pause(&self, dialog: i64) -> Option<Pause> => open_pause;
    /// Opens a pause (the caller checked there is none open); returns its id.
    pub async fn insert_pause(&self, connection: ConnectionId, dialog: i64, user_chat: i64, reason: PauseReason, by: Option<i64>, now: UnixMs) -> i64 => insert_pause;
    /// Ends the dialog's open pause; returns whether there was one.
    pub async fn end_pause(&self, dialog: i64, reason: PauseReason, by: Option<i64>, now: UnixMs) -> bool => end_pause;
    /// Pauses still open or ended after `since` (what the gateway must still withhold).
    pub async fn recent_pauses(&self, connection: ConnectionId, since: UnixMs) -> Vec<Pause> => recent_pauses;
}

async fn open_pause(c: &mut Conn, dialog: i64) -> Result<Option<Pause>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM bot_pauses WHERE dialog_id = $1 AND resumed_at IS NULL"
    ))
    .bind(dialog)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

async fn insert_pause(
    c: &mut Conn,
    connection: ConnectionId,
    dialog: i64,
    user_chat: i64,
    reason: PauseReason,
    by: Option<i64>,
    now: UnixMs,
) -> Result<i64, StoreError> {
    let id = sqlx::query_scalar(
        "INSERT INTO bot_pauses (connection_id, dialog_id, user_chat_id, reason, paused_by, paused_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(connection.0)
    .bind(dialog)
    .bind(user_chat)
    .bind(reason.as_str())
    .bind(by)
    .bind(now)
    .fetch_one(&mut *c)
    .await?;
    // The owner's gateway withholds by these spans: another instance (its REST API) may
    // have made this one.
    super::notify_instances(c, super::Topic::Pauses, connection).await?;
    Ok(id)
}

async fn end_pause(
    c: &mut Conn,
    dialog: i64,
    reason: PauseReason,
    by: Option<i64>,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let ended: Vec<i64> = sqlx::query_scalar(
        "UPDATE bot_pauses SET resumed_at = $1, resumed_reason = $2, resumed_by = $3 \
         WHERE dialog_id = $4 AND resumed_at IS NULL RETURNING connection_id",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(by)
    .bind(dialog)
    .fetch_all(&mut *c)
    .await?;
    if let Some(connection) = ended.first() {
        super::notify_instances(c, super::Topic::Pauses, ConnectionId(*connection)).await?;
    }
    Ok(!ended.is_empty())
}

async fn recent_pauses(
    c: &mut Conn,
    connection: ConnectionId,
    since: UnixMs,
) -> Result<Vec<Pause>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM bot_pauses \
         WHERE connection_id = $1 AND (resumed_at IS NULL OR resumed_at >= $2) ORDER BY id"
    ))
    .bind(connection.0)
    .bind(since)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}
