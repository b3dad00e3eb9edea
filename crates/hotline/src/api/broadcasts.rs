//! `/api/v1/broadcasts`: create (copies of General messages to `all`, a segment or a list
//! of users, now or at a time), list, progress, pause/resume/cancel and the CSV report.
//! Everything goes through `broadcast`'s own functions, the ones `/send` uses: the control
//! message in General shows API broadcasts too.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Auth;
use super::error::{ApiJson, ApiPath, ErrorBody};
use super::{ApiError, ApiState};
use crate::broadcast::{self, Action, Audience, BroadcastError, Progress, Request};

/// Who receives a broadcast: exactly one of `all`, `segment`, `users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBroadcast {
    /// Message ids in General (the group's General topic) to copy, in order: a text, media,
    /// an album or several messages. 1–100.
    #[schema(min_items = 1, max_items = 100)]
    pub message_ids: Vec<i64>,
    /// Every contact (blocked and banned ones are skipped).
    #[serde(default)]
    pub all: bool,
    /// A segment expression, e.g. `vip & !churned`.
    #[schema(max_length = 500)]
    pub segment: Option<String>,
    /// These Telegram user ids (1–100000).
    pub users: Option<Vec<i64>>,
    /// Not before this time (Unix ms); omitted = when confirmed.
    pub start_at: Option<i64>,
    /// Confirm at once (otherwise an admin confirms with the button in General, or
    /// `POST /broadcasts/{id}/confirm`).
    #[serde(default)]
    pub confirm: bool,
    /// Send with `allow_paid_broadcast` (beyond the free 30 messages/s).
    #[serde(default)]
    pub paid: bool,
}

/// A broadcast and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastView {
    /// Id (#N in General).
    pub id: i64,
    /// `draft`, `scheduled`, `running`, `paused`, `done`, `cancelled`.
    pub state: String,
    /// Recipients as chosen (`all`, the segment, `list of N`).
    pub audience: String,
    /// General message ids copied.
    pub message_ids: Vec<i64>,
    /// Not before (Unix ms; 0 = at confirmation).
    pub start_at: i64,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub started_at: Option<i64>,
    /// Unix ms, when the report was made.
    pub finished_at: Option<i64>,
    /// Recipients.
    pub total: i64,
    /// Not yet sent (pending + queued).
    pub left: i64,
    /// Delivered.
    pub sent: i64,
    /// Refused by Telegram.
    pub failed: i64,
    /// Blocked the bot.
    pub blocked: i64,
    /// Left out (blocked or banned before sending).
    pub skipped: i64,
    /// Not sent because cancelled.
    pub cancelled: i64,
    /// Deliveries per second over the last 10 s.
    pub rate: f64,
}

impl From<Progress> for BroadcastView {
    fn from(p: Progress) -> Self {
        let b = p.broadcast;
        Self {
            id: b.id,
            message_ids: b.sources(),
            state: b.state,
            audience: b.audience,
            start_at: b.start_at,
            created_at: b.created_at,
            started_at: b.started_at,
            finished_at: b.finished_at,
            total: b.total,
            left: p.counts.left(),
            sent: p.counts.sent,
            failed: p.counts.failed,
            blocked: p.counts.blocked,
            skipped: p.counts.skipped,
            cancelled: p.counts.cancelled,
            rate: p.rate,
        }
    }
}

fn refused(e: BroadcastError) -> ApiError {
    match e {
        BroadcastError::Store(s) => s.into(),
        BroadcastError::NotFound(id) => ApiError::not_found(format!("no broadcast {id}")),
        BroadcastError::State { .. } => {
            ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        e => ApiError::invalid(e.to_string()),
    }
}

async fn view(s: &ApiState, auth: &Auth, id: i64) -> Result<BroadcastView, ApiError> {
    Ok(broadcast::progress(&s.store, &auth.ctx, id)
        .await
        .map_err(refused)?
        .into())
}

/// Recent broadcasts (up to 50), newest first.
#[utoipa::path(get, path = "/api/v1/broadcasts", tag = "broadcasts",
    responses((status = 200, body = Vec<BroadcastView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(s): State<ApiState>,
    auth: Auth,
) -> Result<Json<Vec<BroadcastView>>, ApiError> {
    let mut out = Vec::new();
    for b in s.store.recent_broadcasts(auth.connection(), 50).await? {
        out.push(view(&s, &auth, b.id).await?);
    }
    Ok(Json(out))
}

/// Prepares a broadcast (a draft with its recipients chosen now); confirms it when asked.
#[utoipa::path(post, path = "/api/v1/broadcasts", tag = "broadcasts", request_body = NewBroadcast,
    responses((status = 201, body = BroadcastView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn create(
    State(s): State<ApiState>,
    auth: Auth,
    ApiJson(body): ApiJson<NewBroadcast>,
) -> Result<(StatusCode, Json<BroadcastView>), ApiError> {
    if body.message_ids.is_empty()
        || body.message_ids.len() > 100
        || body.message_ids.iter().any(|m| *m <= 0)
    {
        return Err(ApiError::invalid(
            "message_ids: 1–100 positive General message ids",
        ));
    }
    let unknown = s
        .store
        .unknown_general(auth.connection(), &body.message_ids)
        .await?;
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(i64::to_string).collect();
        return Err(ApiError::invalid(format!(
            "message_ids: {} not General messages of the group (deleted, in a topic, a command, or never sent)",
            if list.len() == 1 {
                format!("{} is", list[0])
            } else {
                format!("{} are", list.join(", "))
            }
        )));
    }
    let audience = match (body.all, body.segment, body.users) {
        (true, None, None) => Audience::All,
        (false, Some(seg), None) if !seg.trim().is_empty() && seg.chars().count() <= 500 => {
            super::contacts::segment(&s, &auth, &seg).await?;
            Audience::Segment(seg.trim().to_string())
        }
        (false, None, Some(users))
            if !users.is_empty() && users.len() <= 100_000 && users.iter().all(|u| *u > 0) =>
        {
            Audience::List(users)
        }
        _ => {
            return Err(ApiError::invalid(
                "choose recipients with exactly one of all: true, segment (1–500 characters) or users (1–100000 positive ids)",
            ))
        }
    };
    let now = crate::store::now_ms();
    if let Some(at) = body.start_at {
        if !(0..=now + crate::broadcast::MAX_DELAY_MS).contains(&at) {
            return Err(ApiError::invalid(
                "start_at must be a Unix ms time within a year",
            ));
        }
    }
    let req = Request {
        audience,
        sources: body.message_ids,
        start_at: body.start_at,
        created_by: 0,
        paid: body.paid,
    };
    // One transaction, confirmation included.
    let mut tx = s.store.begin().await?;
    let id = broadcast::create_in(&auth.ctx, &mut tx, &req, None)
        .await
        .map_err(refused)?;
    if body.confirm {
        broadcast::act_in(&auth.ctx, &mut tx, id, Action::Confirm)
            .await
            .map_err(refused)?;
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view(&s, &auth, id).await?)))
}

/// A broadcast's progress.
#[utoipa::path(get, path = "/api/v1/broadcasts/{id}", tag = "broadcasts",
    params(("id" = i64, Path, description = "Broadcast id")),
    responses((status = 200, body = BroadcastView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<BroadcastView>, ApiError> {
    Ok(Json(view(&s, &auth, id).await?))
}

/// Confirms, pauses, resumes or cancels a broadcast (as its buttons in General).
#[utoipa::path(post, path = "/api/v1/broadcasts/{id}/{action}", tag = "broadcasts",
    params(("id" = i64, Path, description = "Broadcast id"), ("action" = String, Path, description = "confirm, pause, resume or cancel", pattern = "^(confirm|pause|resume|cancel)$")),
    responses((status = 200, body = BroadcastView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn act(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath((id, action)): ApiPath<(i64, String)>,
) -> Result<Json<BroadcastView>, ApiError> {
    let action = match action.as_str() {
        "confirm" => Action::Confirm,
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        "cancel" => Action::Cancel,
        _ => {
            return Err(ApiError::invalid(
                "action must be confirm, pause, resume or cancel",
            ))
        }
    };
    let mut tx = s.store.begin().await?;
    broadcast::act_in(&auth.ctx, &mut tx, id, action)
        .await
        .map_err(refused)?;
    tx.commit().await?;
    Ok(Json(view(&s, &auth, id).await?))
}

/// The report: one CSV row per recipient (user_id, names, username, state, error, sent_at).
#[utoipa::path(get, path = "/api/v1/broadcasts/{id}/report", tag = "broadcasts",
    params(("id" = i64, Path, description = "Broadcast id")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn report(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<impl IntoResponse, ApiError> {
    view(&s, &auth, id).await?;
    let rows = s.store.report_rows(id).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err =
        |e: csv::Error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string());
    w.write_record([
        "user_id",
        "first_name",
        "last_name",
        "username",
        "state",
        "error",
        "sent_at",
    ])
    .map_err(csv_err)?;
    for r in rows {
        w.write_record([
            r.user_id.to_string(),
            r.first_name.unwrap_or_default(),
            r.last_name.unwrap_or_default(),
            r.username.unwrap_or_default(),
            r.state,
            r.error.unwrap_or_default(),
            r.sent_at.map(|t| t.to_string()).unwrap_or_default(),
        ])
        .map_err(csv_err)?;
    }
    let body = w.into_inner().map_err(|e| csv_err(e.into_error().into()))?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body))
}
