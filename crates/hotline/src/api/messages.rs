//! `/api/v1/dialogs/{id}/messages`: a dialog's history, and sending a message to the user
//! as the team (text, media by URL, or an uploaded file). Sending is decided like an
//! operator's answer — 🟨, the topic reopened if it was closed — and executed by the
//! outbox (`send::ApiJob`), which then posts the message into the topic marked "🔌 API".

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Auth;
use super::error::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use super::send::{ApiAction, ApiJob, MediaKind, Outgoing};
use super::{page_of, ApiError, ApiState, Page, Paged};
use crate::store::{now_ms, ApiUpload, HistoryMessage, NewHistoryMessage};

/// A message of a dialog's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// History id (cursor).
    pub id: i64,
    /// `incoming` (from the user), `outgoing` (an operator), `intercepted` (the parallel
    /// bot), `api` (sent through this API).
    pub direction: String,
    /// Content kind: `text`, `photo`, `document`...
    pub kind: String,
    /// Text or caption.
    pub text: Option<String>,
    /// Message id in the user's chat, when known.
    pub user_message_id: Option<i64>,
    /// Message id in the backend group, when known.
    pub group_message_id: Option<i64>,
    /// Telegram id of the author (user or operator), when known.
    pub author_id: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
}

impl From<HistoryMessage> for MessageView {
    fn from(h: HistoryMessage) -> Self {
        Self {
            id: h.id,
            direction: h.direction,
            kind: h.kind,
            text: h.text,
            user_message_id: h.user_message_id,
            group_message_id: h.group_message_id,
            author_id: h.author_id,
            created_at: h.created_at,
        }
    }
}

/// Media by URL.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaUrl {
    /// What it is.
    #[serde(rename = "type")]
    pub kind: MediaKind,
    /// An http(s) URL Telegram can fetch.
    #[schema(max_length = 2048)]
    pub url: String,
}

/// A message to send: text, or media (with `text` as its caption).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Text (up to 4096 characters), or the caption of `media` (up to 1024).
    #[schema(max_length = 4096)]
    pub text: Option<String>,
    /// `HTML` or `MarkdownV2` when the text is formatted.
    pub parse_mode: Option<String>,
    /// Media by URL.
    pub media: Option<MediaUrl>,
}

/// A queued message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    /// Its history id: it appears in the history at once and gets its message ids when
    /// delivered.
    pub id: i64,
    /// Always `queued`: delivery is durable and asynchronous (the `message_sent` webhook
    /// tells when it reached the user).
    pub status: String,
}

fn check_text(text: Option<&str>, max: usize, what: &str) -> Result<(), ApiError> {
    if let Some(t) = text {
        if t.chars().count() > max {
            return Err(ApiError::invalid(format!(
                "{what} is longer than {max} characters"
            )));
        }
    }
    Ok(())
}

fn check_parse_mode(p: Option<&str>) -> Result<(), ApiError> {
    match p {
        None | Some("HTML") | Some("MarkdownV2") => Ok(()),
        Some(_) => Err(ApiError::invalid("parse_mode must be HTML or MarkdownV2")),
    }
}

/// A page of the dialog's history, oldest first.
#[utoipa::path(get, path = "/api/v1/dialogs/{id}/messages", tag = "messages",
    params(("id" = i64, Path, description = "Dialog id"), Page),
    responses((status = 200, body = Paged<MessageView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Paged<MessageView>>, ApiError> {
    let (after, limit) = page.bounds()?;
    let d = super::dialogs::find(&s, &auth, id).await?;
    let rows = s.store.dialog_history(d.id, after, limit + 1).await?;
    let (items, next_cursor) = page_of(rows, limit, |h| h.id, MessageView::from);
    Ok(Json(Paged { items, next_cursor }))
}

/// Records the decision to send `content` to the dialog's user, like an operator answer.
async fn queue(
    s: &ApiState,
    auth: &Auth,
    dialog: i64,
    content: Outgoing,
) -> Result<Queued, ApiError> {
    super::dialogs::find(s, auth, dialog).await?;
    let ctx = &auth.ctx;
    let mut tx = s.store.begin().await?;
    let d = tx
        .dialog(dialog)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no dialog {dialog}")))?;
    let now = now_ms();
    ctx.answered(&mut tx, &d, now).await?;
    let kind = match content.media {
        None => "text".to_string(),
        Some(k) => k.method().1.to_string(),
    };
    let h = NewHistoryMessage {
        dialog_id: d.id,
        direction: "api",
        kind,
        text: content.text.clone(),
        ..Default::default()
    };
    let history = tx.insert_history(ctx.connection, &h, now).await?;
    let action = ApiAction::Send { history, content };
    let job = ApiJob {
        dialog: Some(d.id),
        action,
    };
    ctx.to_user_of(&mut tx, d.id, &job).await?;
    tx.commit().await?;
    Ok(Queued {
        id: history,
        status: "queued".into(),
    })
}

/// Sends a message to the dialog's user as the team.
#[utoipa::path(post, path = "/api/v1/dialogs/{id}/messages", tag = "messages",
    params(("id" = i64, Path, description = "Dialog id")),
    request_body = SendMessage,
    responses((status = 202, body = Queued), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn send(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SendMessage>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    check_parse_mode(body.parse_mode.as_deref())?;
    let text = body.text.filter(|t| !t.trim().is_empty());
    let content = match body.media {
        None => {
            let Some(t) = &text else {
                return Err(ApiError::invalid("give text, media, or both"));
            };
            check_text(Some(t), 4096, "text")?;
            Outgoing {
                text,
                parse_mode: body.parse_mode,
                media: None,
                url: None,
                upload: None,
            }
        }
        Some(m) => {
            check_text(text.as_deref(), 1024, "a caption")?;
            let ok = m.url.len() <= 2048
                && reqwest::Url::parse(&m.url)
                    .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .unwrap_or(false);
            if !ok {
                return Err(ApiError::invalid(
                    "media.url must be an absolute http(s) URL",
                ));
            }
            Outgoing {
                text,
                parse_mode: body.parse_mode,
                media: Some(m.kind),
                url: Some(m.url),
                upload: None,
            }
        }
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(queue(&s, &auth, id, content).await?),
    ))
}

/// Multipart form of an upload (documented shape; parsed by hand for validation).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file (up to 20 MB).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `photo`, `video`, `document` (default), `audio`, `animation` or `voice`.
    r#type: Option<MediaKind>,
    /// Caption (up to 1024 characters).
    caption: Option<String>,
    /// `HTML` or `MarkdownV2`.
    parse_mode: Option<String>,
}

/// Sends an uploaded file to the dialog's user as the team.
#[utoipa::path(post, path = "/api/v1/dialogs/{id}/messages/upload", tag = "messages",
    params(("id" = i64, Path, description = "Dialog id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 202, body = Queued), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn upload(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let mut form = form.map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("expected a multipart/form-data body: {}", e.body_text()),
        )
    })?;
    super::dialogs::find(&s, &auth, id).await?;
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the upload is larger than {} bytes", super::MAX_UPLOAD_BODY),
            )
        } else {
            ApiError::invalid(format!("bad multipart body: {}", e.body_text()))
        }
    };
    let (mut file, mut kind, mut caption, mut parse_mode) = (None, MediaKind::Document, None, None);
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" => {
                let file_name = field
                    .file_name()
                    .map(|n| {
                        n.chars()
                            .filter(|c| !c.is_control())
                            .take(200)
                            .collect::<String>()
                    })
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "file".into());
                let mime = field.content_type().map(str::to_string);
                let data = field.bytes().await.map_err(bad)?;
                file = Some(ApiUpload {
                    file_name,
                    mime,
                    data: data.to_vec(),
                });
            }
            "type" => {
                let t = field.text().await.map_err(bad)?;
                kind = serde_json::from_value(serde_json::Value::String(t.clone()))
                    .map_err(|_| ApiError::invalid(format!("unknown type {t:?}")))?;
            }
            "caption" | "text" => caption = Some(field.text().await.map_err(bad)?),
            "parse_mode" => parse_mode = Some(field.text().await.map_err(bad)?),
            other => return Err(ApiError::invalid(format!("unknown form field {other:?}"))),
        }
    }
    let Some(file) = file else {
        return Err(ApiError::invalid("the form needs a \"file\" field"));
    };
    if file.data.is_empty() {
        return Err(ApiError::invalid("the file is empty"));
    }
    check_text(caption.as_deref(), 1024, "caption")?;
    check_parse_mode(parse_mode.as_deref())?;
    let upload = s
        .store
        .insert_api_upload(auth.connection(), &file, now_ms())
        .await?;
    let content = Outgoing {
        text: caption.filter(|c| !c.trim().is_empty()),
        parse_mode,
        media: Some(kind),
        url: None,
        upload: Some(upload),
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(queue(&s, &auth, id, content).await?),
    ))
}
