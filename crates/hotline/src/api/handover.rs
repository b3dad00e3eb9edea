//! The handover for the bot's backend: pause the parallel bot for a user and hand the
//! user over to the team (`POST`), give the user back to the bot (`DELETE`), or read the
//! state (`GET`). The same operations as `/bot off` / `/bot on` in the topic, with the
//! same topic notice, ⏸ in the title and `bot_paused` / `bot_resumed` events.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Auth;
use super::contacts::find;
use super::error::{ApiPath, ErrorBody};
use super::{ApiError, ApiState};
use crate::store::{now_ms, PauseReason};

/// Whether the parallel bot is paused for a contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandoverView {
    /// Telegram user id of the contact.
    pub user_id: i64,
    /// The contact's dialog (none until one is opened).
    pub dialog_id: Option<i64>,
    /// True while the bot is paused: the user's updates reach the topic, not the bot.
    pub paused: bool,
    /// Who paused it: `operator`, `auto`, `api` or `bot` (while paused).
    pub reason: Option<String>,
    /// The operator who paused it (while paused by one).
    pub paused_by: Option<i64>,
    /// When it was paused (Unix milliseconds, while paused).
    pub paused_at: Option<i64>,
    /// Whether this request changed the state (false: it already was so).
    pub changed: bool,
}

async fn view(
    s: &ApiState,
    auth: &Auth,
    user_id: i64,
    changed: bool,
) -> Result<HandoverView, ApiError> {
    let c = find(s, auth, user_id).await?;
    let dialog = s.store.dialog_for_contact(auth.connection(), c.id).await?;
    let pause = match &dialog {
        Some(d) => s.store.open_pause(d.id).await?,
        None => None,
    };
    Ok(HandoverView {
        user_id,
        dialog_id: dialog.map(|d| d.id),
        paused: pause.is_some(),
        reason: pause.as_ref().map(|p| p.reason.as_str().to_string()),
        paused_by: pause.as_ref().and_then(|p| p.paused_by),
        paused_at: pause.as_ref().map(|p| p.paused_at),
        changed,
    })
}

/// Whether the parallel bot is paused for the contact.
#[utoipa::path(get, path = "/api/v1/contacts/{user_id}/handover", tag = "contacts",
    params(("user_id" = i64, Path, description = "Telegram user id")),
    responses((status = 200, body = HandoverView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(user_id): ApiPath<i64>,
) -> Result<Json<HandoverView>, ApiError> {
    Ok(Json(view(&s, &auth, user_id, false).await?))
}

/// Hands the contact over to the team: their dialog opens (🟪, created with its topic when
/// needed, past PRIVATE_KEYWORDS) and the parallel bot is paused for them.
#[utoipa::path(post, path = "/api/v1/contacts/{user_id}/handover", tag = "contacts",
    params(("user_id" = i64, Path, description = "Telegram user id")),
    responses((status = 200, body = HandoverView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn pause(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(user_id): ApiPath<i64>,
) -> Result<Json<HandoverView>, ApiError> {
    find(&s, &auth, user_id).await?;
    let mut tx = s.store.begin().await?;
    let done = auth
        .ctx
        .request_handover(&mut tx, user_id, PauseReason::Api, now_ms())
        .await?;
    tx.commit().await?;
    let changed = done.is_some_and(|(_, paused)| paused);
    Ok(Json(view(&s, &auth, user_id, changed).await?))
}

/// Gives the contact back to the parallel bot. Updates withheld while it was paused are
/// not delivered to it afterwards.
#[utoipa::path(delete, path = "/api/v1/contacts/{user_id}/handover", tag = "contacts",
    params(("user_id" = i64, Path, description = "Telegram user id")),
    responses((status = 200, body = HandoverView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn resume(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(user_id): ApiPath<i64>,
) -> Result<Json<HandoverView>, ApiError> {
    find(&s, &auth, user_id).await?;
    let mut tx = s.store.begin().await?;
    let done = auth
        .ctx
        .request_resume(&mut tx, user_id, PauseReason::Api, now_ms())
        .await?;
    tx.commit().await?;
    Ok(Json(view(&s, &auth, user_id, done.unwrap_or(false)).await?))
}
