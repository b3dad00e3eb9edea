//! Quick replies (`/say`): list them and send one into a dialog (as `/say NAME` in its
//! topic: the user gets it, the topic shows it, the dialog turns 🟨).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Auth;
use super::error::{ApiPath, ErrorBody};
use super::{ApiError, ApiState};

/// A quick reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuickReplyView {
    /// Name (case-insensitive).
    pub name: String,
    /// Kinds of its items in order (`text`, `photo`...; several for an album).
    pub kinds: Vec<String>,
    /// The text, for a text quick reply.
    pub text: Option<String>,
}

/// Every quick reply.
#[utoipa::path(get, path = "/api/v1/quick-replies", tag = "quick replies",
    responses((status = 200, body = Vec<QuickReplyView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(s): State<ApiState>,
    auth: Auth,
) -> Result<Json<Vec<QuickReplyView>>, ApiError> {
    let all = s.store.quick_replies(auth.connection()).await?;
    Ok(Json(
        all.into_iter()
            .map(|q| {
                let items = q.items.as_array().cloned().unwrap_or_default();
                let kinds = items
                    .iter()
                    .map(|i| i["type"].as_str().unwrap_or("message").to_string())
                    .collect();
                let text = match items.as_slice() {
                    [one] if one["type"] == "text" => one["text"].as_str().map(str::to_string),
                    _ => None,
                };
                QuickReplyView {
                    name: q.name,
                    kinds,
                    text,
                }
            })
            .collect(),
    ))
}

/// Sends a quick reply to the dialog's user (as `/say NAME` in its topic).
#[utoipa::path(post, path = "/api/v1/dialogs/{id}/quick-replies/{name}", tag = "quick replies",
    params(("id" = i64, Path, description = "Dialog id"), ("name" = String, Path, description = "Quick reply name (one word)", pattern = "^\\S+$")),
    responses((status = 202), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn send(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath((id, name)): ApiPath<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    super::dialogs::find(&s, &auth, id).await?;
    if name.split_whitespace().count() != 1 {
        return Err(ApiError::invalid("a quick reply name is one word"));
    }
    let mut tx = s.store.begin().await?;
    if tx.quick_reply(auth.connection(), &name).await?.is_none() {
        return Err(ApiError::not_found(format!("no quick reply {name:?}")));
    }
    let d = tx
        .dialog(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no dialog {id}")))?;
    auth.ctx
        .send_quick_reply(&mut tx, &d, &name, false, None)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}
