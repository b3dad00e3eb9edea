//! `/stats` computed by the database: counts per kind and local hour, per operator, and one
//! row per dialog episode — aggregates whose size grows with the period's hours and
//! dialogs, never with its messages (a month of a million messages is a few thousand
//! hour rows and one row per episode, streamed).

use futures::TryStreamExt;
use sqlx::FromRow;

use super::{ConnectionId, Store, StoreError, UnixMs};

/// Events of one kind in one local hour (hours since the epoch in the connection's time
/// zone).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct HourCount {
    /// created, reopened, closed, in, out, intercepted.
    pub kind: String,
    /// `floor((at + offset) / 1 h)`.
    pub hour: i64,
    /// How many.
    pub n: i64,
}

/// One operator's messages in the period.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OperatorCount {
    /// Telegram user id (0 when unknown).
    pub operator_id: i64,
    /// Messages to users.
    pub messages: i64,
    /// Distinct dialogs.
    pub dialogs: i64,
}

/// One episode of a dialog inside the period (from a created/reopened event to the next);
/// `ep` 0 is the dialog's part before its first start in the period. Positions (`*_pos`)
/// number the dialog's events in the period in order (time, then id).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EpisodeRow {
    /// The dialog.
    pub dialog_id: i64,
    /// Episode number within the period (0 = before the first start).
    pub ep: i64,
    /// When it started (created/reopened).
    pub started: Option<UnixMs>,
    /// The first operator message.
    pub first_out: Option<UnixMs>,
    /// Its position.
    pub first_out_pos: Option<i64>,
    /// Its author (0 when unknown).
    pub first_operator: Option<i64>,
    /// The first close.
    pub closed: Option<UnixMs>,
    /// Its position.
    pub closed_pos: Option<i64>,
    /// Position of the last user message.
    pub last_in_pos: Option<i64>,
    /// Position of the last operator message or close.
    pub last_other_pos: Option<i64>,
}

/// Hours are bucketed after adding this many hours' worth of milliseconds, so that SQL's
/// truncating division floors for any time after 1856 too.
const BIAS_HOURS: i64 = 1_000_000;

const HOURS_SQL: &str =
    "SELECT kind, (at + $4 + $5 * 3600000) / 3600000 - $5 AS hour, COUNT(*) AS n \
     FROM dialog_events WHERE connection_id = $1 AND at >= $2 AND at < $3 \
     GROUP BY kind, hour";

const OPERATORS_SQL: &str =
    "SELECT COALESCE(operator_id, 0) AS operator_id, COUNT(*) AS messages, \
     COUNT(DISTINCT dialog_id) AS dialogs FROM dialog_events \
     WHERE connection_id = $1 AND at >= $2 AND at < $3 AND kind = 'out' \
     GROUP BY COALESCE(operator_id, 0)";

const EPISODES_SQL: &str = "WITH ev AS ( \
       SELECT dialog_id, kind, operator_id, at, \
         ROW_NUMBER() OVER w AS pos, \
         SUM(CASE WHEN kind IN ('created', 'reopened') THEN 1 ELSE 0 END) OVER w AS ep \
       FROM dialog_events \
       WHERE connection_id = $1 AND at >= $2 AND at < $3 AND kind <> 'intercepted' \
       WINDOW w AS (PARTITION BY dialog_id ORDER BY at, id ROWS UNBOUNDED PRECEDING) \
     ), ev2 AS ( \
       SELECT dialog_id, kind, operator_id, at, pos, ep, \
         ROW_NUMBER() OVER (PARTITION BY dialog_id, ep, kind ORDER BY pos) AS nth \
       FROM ev \
     ) \
     SELECT dialog_id, ep, \
       MIN(CASE WHEN kind IN ('created', 'reopened') THEN at END) AS started, \
       MIN(CASE WHEN kind = 'out' THEN at END) AS first_out, \
       MIN(CASE WHEN kind = 'out' THEN pos END) AS first_out_pos, \
       MAX(CASE WHEN kind = 'out' AND nth = 1 THEN COALESCE(operator_id, 0) END) AS first_operator, \
       MIN(CASE WHEN kind = 'closed' THEN at END) AS closed, \
       MIN(CASE WHEN kind = 'closed' THEN pos END) AS closed_pos, \
       MAX(CASE WHEN kind = 'in' THEN pos END) AS last_in_pos, \
       MAX(CASE WHEN kind IN ('out', 'closed') THEN pos END) AS last_other_pos \
     FROM ev2 GROUP BY dialog_id, ep ORDER BY dialog_id, ep";

impl Store {
    /// Events per kind and local hour in `[from, to)`; `offset_ms` is the time zone's.
    pub async fn stats_hours(
        &self,
        connection: ConnectionId,
        from: UnixMs,
        to: UnixMs,
        offset_ms: i64,
    ) -> Result<Vec<HourCount>, StoreError> {
        let mut c = self.conn().await?;
        Ok(sqlx::query_as(HOURS_SQL)
            .bind(connection.0)
            .bind(from)
            .bind(to)
            .bind(offset_ms)
            .bind(BIAS_HOURS)
            .fetch_all(&mut *c)
            .await?)
    }

    /// Operator messages and dialogs in `[from, to)`.
    pub async fn stats_operators(
        &self,
        connection: ConnectionId,
        from: UnixMs,
        to: UnixMs,
    ) -> Result<Vec<OperatorCount>, StoreError> {
        let mut c = self.conn().await?;
        Ok(sqlx::query_as(OPERATORS_SQL)
            .bind(connection.0)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *c)
            .await?)
    }

    /// Streams the episodes of `[from, to)` to `each`, by dialog then episode.
    pub async fn stats_episodes(
        &self,
        connection: ConnectionId,
        from: UnixMs,
        to: UnixMs,
        mut each: impl FnMut(EpisodeRow),
    ) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        let mut rows = sqlx::query_as::<_, EpisodeRow>(EPISODES_SQL)
            .bind(connection.0)
            .bind(from)
            .bind(to)
            .fetch(&mut *c);
        while let Some(r) = rows.try_next().await? {
            each(r);
        }
        Ok(())
    }
}
