//! `/api/v1/dialogs`: list by status, get, close and reopen. Status changes are the same
//! dialog operation as `/close` and `/hold`: same store change, same topic title and state
//! intents, same events.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Auth;
use super::contacts::{ContactView, DialogView};
use super::error::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use super::{page_of, ApiError, ApiState, Page, Paged};
use crate::store::{Dialog, DialogStatus};

/// A dialog with its contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct DialogDetail {
    /// The dialog.
    #[serde(flatten)]
    pub dialog: DialogView,
    /// Its contact.
    pub contact: ContactView,
    /// The latest satisfaction rating the user gave (`RATING`), if any.
    pub rating: Option<RatingView>,
}

/// A satisfaction rating of a dialog.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingView {
    /// 1–5.
    pub score: i64,
    /// The operator who closed the dialog (null: closed through the API).
    pub operator_id: Option<i64>,
    /// When the user answered (Unix ms).
    pub rated_at: Option<i64>,
}

/// Status values accepted by the list filter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    /// 🟪
    New,
    /// 🟨
    Wait,
    /// ⬛
    Closed,
}

/// Filters of the dialog list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DialogQuery {
    /// Only dialogs in this status.
    #[param(inline)]
    pub status: Option<StatusFilter>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]*$")]
    pub cursor: Option<String>,
}

/// Lists dialogs, oldest first.
#[utoipa::path(get, path = "/api/v1/dialogs", tag = "dialogs", params(DialogQuery),
    responses((status = 200, body = Paged<DialogView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(s): State<ApiState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<DialogQuery>,
) -> Result<Json<Paged<DialogView>>, ApiError> {
    let (after, limit) = Page {
        limit: q.limit,
        cursor: q.cursor,
    }
    .bounds()?;
    let status = q.status.map(|s| match s {
        StatusFilter::New => DialogStatus::New,
        StatusFilter::Wait => DialogStatus::Wait,
        StatusFilter::Closed => DialogStatus::Closed,
    });
    let rows = s
        .store
        .list_dialogs(auth.connection(), status, after, limit + 1)
        .await?;
    let mut views = Vec::with_capacity(rows.len());
    for d in rows {
        let user = s
            .store
            .contact(d.contact_id)
            .await?
            .map_or(0, |c| c.user_id);
        views.push(DialogView::new(d, user));
    }
    let (items, next_cursor) = page_of(views, limit, |d| d.id, |d| d);
    Ok(Json(Paged { items, next_cursor }))
}

/// Loads a dialog of the key's connection.
pub(crate) async fn find(s: &ApiState, auth: &Auth, id: i64) -> Result<Dialog, ApiError> {
    s.store
        .dialog(id)
        .await?
        .filter(|d| d.connection == auth.connection())
        .ok_or_else(|| ApiError::not_found(format!("no dialog {id}")))
}

async fn detail(s: &ApiState, d: Dialog) -> Result<DialogDetail, ApiError> {
    let c = s
        .store
        .contact(d.contact_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the dialog's contact is gone"))?;
    let rating = s.store.last_rating(d.id).await?.and_then(|r| {
        Some(RatingView {
            score: r.score?,
            operator_id: r.operator_id,
            rated_at: r.rated_at,
        })
    });
    Ok(DialogDetail {
        dialog: DialogView::new(d, c.user_id),
        contact: c.into(),
        rating,
    })
}

/// One dialog, with its contact.
#[utoipa::path(get, path = "/api/v1/dialogs/{id}", tag = "dialogs",
    params(("id" = i64, Path, description = "Dialog id")),
    responses((status = 200, body = DialogDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DialogDetail>, ApiError> {
    let d = find(&s, &auth, id).await?;
    Ok(Json(detail(&s, d).await?))
}

async fn set_status(
    s: &ApiState,
    auth: &Auth,
    id: i64,
    status: DialogStatus,
) -> Result<DialogDetail, ApiError> {
    find(s, auth, id).await?;
    let mut tx = s.store.begin().await?;
    // Read inside the transaction: the decision sees the status it changes.
    let d = tx
        .dialog(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no dialog {id}")))?;
    if status == DialogStatus::Closed {
        crate::closing::close_by_team(&auth.ctx, &mut tx, &d, None).await?;
    } else {
        auth.ctx
            .set_status(&mut tx, &d, status, crate::store::now_ms())
            .await?;
    }
    tx.commit().await?;
    let d = find(s, auth, id).await?;
    detail(s, d).await
}

/// Closes the dialog (as `/close`): ⬛, topic closed, `dialog_closed` sent.
#[utoipa::path(post, path = "/api/v1/dialogs/{id}/close", tag = "dialogs",
    params(("id" = i64, Path, description = "Dialog id")),
    responses((status = 200, body = DialogDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn close(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DialogDetail>, ApiError> {
    Ok(Json(set_status(&s, &auth, id, DialogStatus::Closed).await?))
}

/// Reopens the dialog (as `/hold`): 🟪, topic reopened, `dialog_reopened` sent when it
/// was closed.
#[utoipa::path(post, path = "/api/v1/dialogs/{id}/reopen", tag = "dialogs",
    params(("id" = i64, Path, description = "Dialog id")),
    responses((status = 200, body = DialogDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reopen(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DialogDetail>, ApiError> {
    Ok(Json(set_status(&s, &auth, id, DialogStatus::New).await?))
}

/// Who owns a dialog: a team member by user id or username, or nobody.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    /// The operator's Telegram user id; `null` (with no `username`) unassigns.
    pub operator_id: Option<i64>,
    /// Or the operator's username (with or without `@`), known once they wrote in the group.
    pub username: Option<String>,
}

/// Sets the dialog's owner (as `/assign`) or clears it (`{"operator_id": null}`, as
/// `/unassign`): the title and card show the owner, `dialog_assigned` is sent.
#[utoipa::path(post, path = "/api/v1/dialogs/{id}/assign", tag = "dialogs",
    params(("id" = i64, Path, description = "Dialog id")), request_body = Assign,
    responses((status = 200, body = DialogDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn assign(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Assign>,
) -> Result<Json<DialogDetail>, ApiError> {
    find(&s, &auth, id).await?;
    let mut tx = s.store.begin().await?;
    let assignee = match (body.operator_id, body.username.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("give operator_id or username, not both"));
        }
        (Some(op), None) if op <= 0 => {
            return Err(ApiError::invalid("operator_id must be a positive user id"));
        }
        (Some(op), None) => Some(op),
        (None, Some(u)) => Some(
            tx.operator_by_username(auth.connection(), u)
                .await?
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "no team member @{} is known: they must write in the group first",
                        u.trim_start_matches('@')
                    ))
                })?
                .user_id,
        ),
        (None, None) => None,
    };
    let d = tx
        .dialog(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no dialog {id}")))?;
    auth.ctx.assign(&mut tx, &d, assignee, None).await?;
    tx.commit().await?;
    let d = find(&s, &auth, id).await?;
    Ok(Json(detail(&s, d).await?))
}
