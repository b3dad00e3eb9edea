//! Tags (`/mark`): list them, tag and untag a contact. Tagging is the same operation as
//! `/mark NAME` and `/mark del NAME` in the contact's topic (with the same answer there),
//! so funnels, tickers, auto-sent quick replies and `contact_tagged` behave exactly as in
//! Telegram.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Auth;
use super::contacts::{detail, find, ContactDetail};
use super::error::{ApiPath, ErrorBody};
use super::{ApiError, ApiState};
use crate::domain::render::html;

/// A tag.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagView {
    /// Name (case-insensitive).
    pub name: String,
    /// Shown after the status square in topic titles.
    pub ticker: Option<String>,
    /// Quick reply sent to the user when the tag is set.
    pub sends: Option<String>,
    /// Contacts carrying it.
    pub contacts: i64,
}

/// Every tag, by name.
#[utoipa::path(get, path = "/api/v1/tags", tag = "tags",
    responses((status = 200, body = Vec<TagView>), (status = 401, body = ErrorBody)))]
pub async fn list(State(s): State<ApiState>, auth: Auth) -> Result<Json<Vec<TagView>>, ApiError> {
    let tags = s.store.tags_with_counts(auth.connection()).await?;
    Ok(Json(
        tags.into_iter()
            .map(|(t, n)| TagView {
                name: t.name,
                ticker: t.ticker,
                sends: t.sends,
                contacts: n,
            })
            .collect(),
    ))
}

async fn apply(
    s: &ApiState,
    auth: &Auth,
    user_id: i64,
    tag: &str,
    set: bool,
) -> Result<ContactDetail, ApiError> {
    let c = find(s, auth, user_id).await?;
    let mut tx = s.store.begin().await?;
    let t = tx
        .tag_by_name(auth.connection(), tag)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("no tag {tag:?}; tags are created with /mark new"))
        })?;
    let d = tx
        .dialog_for_contact(auth.connection(), c.id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "the contact has no dialog yet; tags live on dialogs' contacts",
            )
        })?;
    let text = if set {
        auth.ctx.tag(&mut tx, &d, &t, None).await?.describe(&t.name)
    } else if auth.ctx.untag(&mut tx, &d, &t).await? {
        format!("🏷 <b>{}</b> removed.", html(&t.name))
    } else {
        format!("This contact has no tag <b>{}</b>.", html(&t.name))
    };
    auth.ctx.notice(&mut tx, Some(d.id), None, text).await?;
    tx.commit().await?;
    detail(s, auth, user_id).await
}

/// Puts a tag on the contact (as `/mark NAME` in its topic).
#[utoipa::path(put, path = "/api/v1/contacts/{user_id}/tags/{tag}", tag = "tags",
    params(("user_id" = i64, Path, description = "Telegram user id"), ("tag" = String, Path, description = "Tag name")),
    responses((status = 200, body = ContactDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn tag(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath((user_id, tag)): ApiPath<(i64, String)>,
) -> Result<Json<ContactDetail>, ApiError> {
    Ok(Json(apply(&s, &auth, user_id, &tag, true).await?))
}

/// Removes a tag from the contact (as `/mark del NAME`).
#[utoipa::path(delete, path = "/api/v1/contacts/{user_id}/tags/{tag}", tag = "tags",
    params(("user_id" = i64, Path, description = "Telegram user id"), ("tag" = String, Path, description = "Tag name")),
    responses((status = 200, body = ContactDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn untag(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath((user_id, tag)): ApiPath<(i64, String)>,
) -> Result<Json<ContactDetail>, ApiError> {
    Ok(Json(apply(&s, &auth, user_id, &tag, false).await?))
}
