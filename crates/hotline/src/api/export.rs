//! `/api/v1/export` (contacts as CSV, all or a segment — the same file as `/export`,
//! written to a temporary file and streamed, so memory does not grow with the contact
//! count) and `/api/v1/stats` (team analytics of a period, as `/stats` computes them).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Auth;
use super::error::{ApiQuery, ErrorBody};
use super::{ApiError, ApiState};
use crate::export::ExportError;

/// Which contacts to export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// A segment expression; omitted = every contact.
    #[param(max_length = 500)]
    pub segment: Option<String>,
}

/// Contacts as CSV (columns as `/export`: id, names, username, language, first seen, last
/// message, tags, status, message counts, blocked, banned, link).
#[utoipa::path(get, path = "/api/v1/export", tag = "export", params(ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn export(
    State(s): State<ApiState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let segment = q
        .segment
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty());
    if segment.as_ref().is_some_and(|x| x.chars().count() > 500) {
        return Err(ApiError::invalid("segment is longer than 500 characters"));
    }
    let internal = |e: std::io::Error| {
        tracing::error!(error = %e, "api: export file");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the export file could not be written",
        )
    };
    let file = tempfile::tempfile().map_err(internal)?;
    let writer = file.try_clone().map_err(internal)?;
    let tz = auth.ctx.time_zone.0;
    let out = std::io::BufWriter::new(writer);
    match crate::export::write_csv(&s.store, auth.connection(), segment.as_deref(), tz, out).await {
        Ok(_) => {}
        Err(ExportError::Segment(e)) => {
            return Err(ApiError::invalid(format!("segment {e}")));
        }
        Err(ExportError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(internal(std::io::Error::other(e.to_string()))),
    }
    let mut file = tokio::fs::File::from_std(file);
    use tokio::io::AsyncSeekExt;
    file.seek(std::io::SeekFrom::Start(0))
        .await
        .map_err(internal)?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"contacts.csv\"",
            ),
        ],
        Body::from_stream(stream),
    ))
}

/// The period of `/stats`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// `today`, `7d` (default), `30d`, `Nd`, `Nw`, `YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD`.
    #[param(max_length = 40)]
    pub period: Option<String>,
}

/// Median and 90th percentile of a duration, in ms (null without data).
#[derive(Debug, Serialize, ToSchema)]
pub struct SpreadView {
    /// Median.
    pub median_ms: Option<i64>,
    /// 90th percentile.
    pub p90_ms: Option<i64>,
    /// Samples.
    pub count: usize,
}

/// One operator's work.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorView {
    /// Telegram user id.
    pub user_id: i64,
    /// Messages sent to users.
    pub messages: i64,
    /// Dialogs answered.
    pub dialogs: i64,
    /// Ratings of the dialogs they closed.
    pub rating: RatingsView,
}

/// Satisfaction ratings (`RATING`) answered in the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingsView {
    /// How many answers.
    pub count: i64,
    /// Average score 1–5 (null without answers).
    pub average: Option<f64>,
}

/// Team analytics of a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    /// The period, in words.
    pub period: String,
    /// Start (Unix ms, inclusive).
    pub from: i64,
    /// End (Unix ms, exclusive).
    pub to: i64,
    /// Dialogs created.
    pub new: i64,
    /// Dialogs reopened.
    pub reopened: i64,
    /// Dialogs closed.
    pub closed: i64,
    /// Dialogs whose last user message has no answer.
    pub unanswered: i64,
    /// Messages from users.
    pub incoming: i64,
    /// Messages from operators.
    pub outgoing: i64,
    /// Messages from the parallel bot.
    pub intercepted: i64,
    /// First response time.
    pub first_response: SpreadView,
    /// Resolution time.
    pub resolution: SpreadView,
    /// Per operator, most messages first.
    pub operators: Vec<OperatorView>,
    /// Satisfaction ratings answered in the period.
    pub rating: RatingsView,
    /// Incoming messages by weekday, Monday first.
    pub by_weekday: Vec<i64>,
    /// Incoming messages by hour of day (the connection's time zone).
    pub by_hour: Vec<i64>,
}

/// Team analytics (as `/stats`).
#[utoipa::path(get, path = "/api/v1/stats", tag = "export", params(StatsQuery),
    responses((status = 200, body = StatsView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn stats(
    State(s): State<ApiState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Json<StatsView>, ApiError> {
    let tz = auth.ctx.time_zone.0;
    let period = q.period.unwrap_or_default();
    if period.chars().count() > 40 {
        return Err(ApiError::invalid("period is longer than 40 characters"));
    }
    let (from, to, label) = crate::stats::parse_period(&period, crate::store::now_ms(), tz)
        .map_err(|e| ApiError::invalid(e.replace("/stats ", "")))?;
    let r = crate::stats::compute(&s.store, auth.connection(), from, to, tz).await?;
    let ratings = |x: &crate::stats::Ratings| RatingsView {
        count: x.count,
        average: x.average(),
    };
    let spread = |x: &crate::stats::Spread| SpreadView {
        median_ms: x.median,
        p90_ms: x.p90,
        count: x.count,
    };
    Ok(Json(StatsView {
        period: label,
        from,
        to,
        new: r.new,
        reopened: r.reopened,
        closed: r.closed,
        unanswered: r.unanswered,
        incoming: r.incoming,
        outgoing: r.outgoing,
        intercepted: r.intercepted,
        first_response: spread(&r.first_response),
        resolution: spread(&r.resolution),
        operators: r
            .operators
            .iter()
            .map(|o| OperatorView {
                user_id: o.operator_id,
                messages: o.messages,
                dialogs: o.dialogs,
                rating: ratings(&o.ratings),
            })
            .collect(),
        rating: ratings(&r.ratings),
        by_weekday: r.by_weekday.to_vec(),
        by_hour: r.by_hour.to_vec(),
    }))
}
