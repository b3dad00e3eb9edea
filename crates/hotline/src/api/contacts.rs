//! `/api/v1/contacts`: list (filters, cursor pages), get, ban and unban. Banning is the
//! same operation as `/ban`, so the topic gets the same notice.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Auth;
use super::error::{ApiPath, ApiQuery, ErrorBody};
use super::{page_of, ApiError, ApiState, Page, Paged};
pub use crate::domain::views::{ContactView, DialogView};
use crate::store::{Contact, ContactFilter};

/// A contact with its dialog.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactDetail {
    /// The contact.
    #[serde(flatten)]
    pub contact: ContactView,
    /// Its dialog, if one was opened.
    pub dialog: Option<DialogView>,
    /// Its tags' names.
    pub tags: Vec<String>,
}

/// Filters of the contact list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Only banned (true) or not banned (false) contacts.
    pub banned: Option<bool>,
    /// Only contacts who blocked the bot (true) or not (false).
    pub blocked: Option<bool>,
    /// Only this language code (e.g. `en`).
    #[param(max_length = 35)]
    pub language: Option<String>,
    /// Name or username contains this text (case-insensitive).
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// A segment expression (as `/send`, `/export`): `vip & !churned`, `lang:de`,
    /// `seen<7d`, `open`... Combined with the other filters.
    #[param(max_length = 500)]
    pub segment: Option<String>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]*$")]
    pub cursor: Option<String>,
}

/// Lists contacts, oldest first.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ContactQuery),
    responses((status = 200, body = Paged<ContactView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(s): State<ApiState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ContactQuery>,
) -> Result<Json<Paged<ContactView>>, ApiError> {
    let (after, limit) = Page {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .bounds()?;
    let text = |v: &Option<String>, max: usize, what: &str| -> Result<Option<String>, ApiError> {
        match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(t) if t.chars().count() > max => Err(ApiError::invalid(format!(
                "{what} must be at most {max} characters"
            ))),
            Some(t) => Ok(Some(t.to_string())),
        }
    };
    let filter = ContactFilter {
        banned: q.banned,
        blocked: q.blocked,
        language: text(&q.language, 35, "language")?,
        query: text(&q.q, 100, "q")?,
    };
    let rows = match text(&q.segment, 500, "segment")? {
        None => {
            s.store
                .list_contacts(auth.connection(), &filter, after, limit + 1)
                .await?
        }
        Some(src) => {
            let compiled = segment(&s, &auth, &src).await?;
            // The other filters apply on top of the page (a segment page may then be short;
            // `next_cursor` still moves on).
            let rows = s
                .store
                .list_contacts_in_segment(auth.connection(), &compiled, after, limit + 1)
                .await?;
            let last = rows
                .get((limit as usize).min(rows.len()).wrapping_sub(1))
                .map(|c| c.id);
            let more = rows.len() as i64 > limit;
            let keep = |c: &Contact| {
                filter.banned.is_none_or(|b| c.banned == b)
                    && filter.blocked.is_none_or(|b| c.blocked == b)
                    && filter
                        .language
                        .as_ref()
                        .is_none_or(|l| c.language_code.as_deref() == Some(l.as_str()))
                    && filter.query.as_ref().is_none_or(|q| {
                        let hay = format!(
                            "{} {} {}",
                            c.first_name,
                            c.last_name.as_deref().unwrap_or(""),
                            c.username.as_deref().unwrap_or("")
                        )
                        .to_lowercase();
                        hay.contains(&q.to_lowercase())
                    })
            };
            let items: Vec<ContactView> = rows
                .into_iter()
                .take(limit as usize)
                .filter(keep)
                .map(ContactView::from)
                .collect();
            let next_cursor = if more {
                last.map(|l| l.to_string())
            } else {
                None
            };
            return Ok(Json(Paged { items, next_cursor }));
        }
    };
    let (items, next_cursor) = page_of(rows, limit, |c| c.id, ContactView::from);
    Ok(Json(Paged { items, next_cursor }))
}

/// Compiles a segment expression for this connection; a bad one is a 400 that points at it.
pub(crate) async fn segment(
    s: &ApiState,
    auth: &Auth,
    src: &str,
) -> Result<crate::segments::Compiled, ApiError> {
    let tz = auth.ctx.time_zone.0;
    crate::segments::resolve(
        &s.store,
        auth.connection(),
        src,
        crate::store::now_ms(),
        tz,
        4,
    )
    .await?
    .map_err(|e| ApiError::invalid(format!("segment {src:?} {e}")))
}

pub(crate) async fn find(s: &ApiState, auth: &Auth, user_id: i64) -> Result<Contact, ApiError> {
    s.store
        .contact_by_user(auth.connection(), user_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no contact {user_id}")))
}

/// A contact with its dialog and tags.
pub(crate) async fn detail(
    s: &ApiState,
    auth: &Auth,
    user_id: i64,
) -> Result<ContactDetail, ApiError> {
    let c = find(s, auth, user_id).await?;
    let dialog = s.store.dialog_for_contact(auth.connection(), c.id).await?;
    let tags = s.store.contact_tags(c.id).await?;
    Ok(ContactDetail {
        tags: tags.into_iter().map(|t| t.name).collect(),
        dialog: dialog.map(|d| DialogView::new(d, c.user_id)),
        contact: c.into(),
    })
}

/// One contact, with its dialog.
#[utoipa::path(get, path = "/api/v1/contacts/{user_id}", tag = "contacts",
    params(("user_id" = i64, Path, description = "Telegram user id")),
    responses((status = 200, body = ContactDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(user_id): ApiPath<i64>,
) -> Result<Json<ContactDetail>, ApiError> {
    Ok(Json(detail(&s, &auth, user_id).await?))
}

async fn set_ban(
    s: &ApiState,
    auth: &Auth,
    user_id: i64,
    ban: bool,
) -> Result<ContactDetail, ApiError> {
    let c = find(s, auth, user_id).await?;
    let mut tx = s.store.begin().await?;
    let dialog = tx.dialog_for_contact(auth.connection(), c.id).await?;
    auth.ctx
        .set_banned(&mut tx, &c, dialog.map(|d| d.id), ban, None)
        .await?;
    tx.commit().await?;
    detail(s, auth, user_id).await
}

/// Bans the contact: their messages are ignored (as `/ban`).
#[utoipa::path(post, path = "/api/v1/contacts/{user_id}/ban", tag = "contacts",
    params(("user_id" = i64, Path, description = "Telegram user id")),
    responses((status = 200, body = ContactDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn ban(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(user_id): ApiPath<i64>,
) -> Result<Json<ContactDetail>, ApiError> {
    Ok(Json(set_ban(&s, &auth, user_id, true).await?))
}

/// Lifts the ban (as `/unban`).
#[utoipa::path(delete, path = "/api/v1/contacts/{user_id}/ban", tag = "contacts",
    params(("user_id" = i64, Path, description = "Telegram user id")),
    responses((status = 200, body = ContactDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unban(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(user_id): ApiPath<i64>,
) -> Result<Json<ContactDetail>, ApiError> {
    Ok(Json(set_ban(&s, &auth, user_id, false).await?))
}
