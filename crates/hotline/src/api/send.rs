//! The API's outbox action ([`ApiJob`]), executed by the connection's outbox like every
//! other intent:
//! - `Send`: a message to the user as the team (text, or media by URL or upload); its
//!   completion queues `Echo` and records `message_sent`, in the transaction that marks it
//!   done (so a retried send never echoes twice);
//! - `Echo`: the sent message posted into the topic, marked as sent through the API, and
//!   linked so the user's replies to it land as replies in the topic;
//! - `Answer`: a custom command's answer (text and URL buttons) where the command was typed.

use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::domain::events::Event;
use crate::domain::links::Links;
use crate::domain::render::html;
use crate::domain::topics::{Notice, TopicError, Topics};
use crate::outbox::{Action, Execute, Registry};
use crate::store::{Direction, Intent, StoreError, Tx};
use crate::telegram::InputFile;

/// The mark that starts the topic copy of a message sent through the API.
pub const MARK: &str = "🔌 API\n";

/// An inline URL button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Button {
    /// Label.
    pub text: String,
    /// http(s) or tg: URL.
    pub url: String,
}

/// Kinds of media the API sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// sendPhoto.
    Photo,
    /// sendVideo.
    Video,
    /// sendDocument.
    Document,
    /// sendAudio.
    Audio,
    /// sendAnimation.
    Animation,
    /// sendVoice.
    Voice,
}

impl MediaKind {
    /// Bot API method and its file field.
    pub fn method(self) -> (&'static str, &'static str) {
        match self {
            Self::Photo => ("sendPhoto", "photo"),
            Self::Video => ("sendVideo", "video"),
            Self::Document => ("sendDocument", "document"),
            Self::Audio => ("sendAudio", "audio"),
            Self::Animation => ("sendAnimation", "animation"),
            Self::Voice => ("sendVoice", "voice"),
        }
    }
}

/// What an API message carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// Text, or the media's caption.
    pub text: Option<String>,
    /// `HTML` or `MarkdownV2`, if the text is formatted.
    pub parse_mode: Option<String>,
    /// Media kind, when it is media.
    pub media: Option<MediaKind>,
    /// Media by URL (Telegram fetches it).
    pub url: Option<String>,
    /// Media uploaded to Hotline (`api_uploads` id).
    pub upload: Option<i64>,
}

/// An API action, carried by an [`ApiJob`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "api", rename_all = "snake_case")]
pub enum ApiAction {
    /// Send to the user.
    Send {
        /// The history row to complete.
        history: i64,
        /// What to send.
        content: Outgoing,
    },
    /// Post a sent message into the topic.
    Echo {
        /// The history row to complete.
        history: i64,
        /// The message in the user's chat.
        user_message: i64,
        /// Its text (text messages) — copies cannot change a text.
        text: Option<String>,
        /// Its entities (text messages) or caption entities (media).
        entities: Value,
        /// Its caption (media).
        caption: Option<String>,
        /// Content kind.
        kind: String,
    },
    /// A custom command's answer.
    Answer {
        /// Text (plain).
        text: String,
        /// URL buttons, in rows.
        buttons: Vec<Vec<Button>>,
        /// The command message.
        reply_to: Option<i64>,
    },
    /// `/apikey new NAME`: create a key and hand it to the admin who asked.
    NewKey {
        /// The admin's user id.
        admin: i64,
        /// The key's label.
        name: String,
        /// The command message in General.
        reply_to: Option<i64>,
    },
}

impl ApiAction {
    /// Whether it goes to the user's chat (its queue and rate limit).
    pub fn to_user(&self) -> bool {
        matches!(self, ApiAction::Send { .. })
    }
}

/// The API's outbox action: an [`ApiAction`] about a dialog (None: General).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiJob {
    /// Dialog id; None for General.
    pub dialog: Option<i64>,
    /// What to do.
    pub action: ApiAction,
}

impl Action for ApiJob {
    const KIND: &'static str = "api";
}

/// Executes [`ApiJob`]s for one connection.
pub struct ApiExecutor(pub Topics);

impl Deref for ApiExecutor {
    type Target = Topics;

    fn deref(&self) -> &Topics {
        &self.0
    }
}

/// Registers the API's action with its executor.
pub fn register(registry: &mut Registry, topics: &Topics) {
    registry.register::<ApiJob, _>(Arc::new(ApiExecutor(topics.clone())));
}

/// What an executed [`ApiJob`] records with its completion.
pub enum ApiDone {
    /// Nothing to record.
    Nothing,
    /// The user got the message: the upload goes, the echo into the topic is queued and
    /// `message_sent` recorded.
    Sent {
        /// Dialog id.
        dialog: i64,
        /// The echo to queue.
        echo: ApiAction,
        /// The sent Message, as Telegram returned it.
        message: Value,
        /// The uploaded file to delete.
        upload: Option<i64>,
        /// The contact, when it was marked blocked and evidently is not any more.
        unblocked: Option<i64>,
    },
    /// Telegram refused: the upload goes and the topic is told why.
    Refused {
        /// Dialog id.
        dialog: i64,
        /// The notice (HTML).
        notice: String,
        /// The uploaded file to delete.
        upload: Option<i64>,
    },
    /// The sent message is shown in the topic: linked, and its history row learns both ids.
    Echoed {
        /// The link user message ↔ topic copy.
        links: Links,
        /// The history row.
        history: i64,
        /// The copy in the topic.
        copy: i64,
        /// The message in the user's chat.
        user_message: i64,
    },
}

impl Execute<ApiJob> for ApiExecutor {
    type Done = ApiDone;
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, job: ApiJob) -> Result<ApiDone, TopicError> {
        execute(self, job.dialog, &job.action).await
    }

    async fn complete(
        &self,
        tx: &mut Tx,
        _intent: &Intent,
        done: ApiDone,
    ) -> Result<(), StoreError> {
        let conn = self.ctx.connection;
        match done {
            ApiDone::Nothing => Ok(()),
            ApiDone::Sent {
                dialog,
                echo,
                message,
                upload,
                unblocked,
            } => {
                if let Some(u) = upload {
                    tx.delete_api_upload(conn, u).await?;
                }
                if let Some(contact) = unblocked {
                    tx.set_contact_blocked(contact, false).await?;
                }
                let job = ApiJob {
                    dialog: Some(dialog),
                    action: echo,
                };
                self.ctx.to_group(tx, Some(dialog), &job).await?;
                let event = Event::ApiMessageSent {
                    dialog,
                    message: &message,
                };
                self.ctx.record(tx, event).await
            }
            ApiDone::Refused {
                dialog,
                notice,
                upload,
            } => {
                if let Some(u) = upload {
                    tx.delete_api_upload(conn, u).await?;
                }
                let notice = Notice {
                    dialog: Some(dialog),
                    text: notice,
                    reply_to: None,
                };
                self.ctx.to_group(tx, Some(dialog), &notice).await?;
                Ok(())
            }
            ApiDone::Echoed {
                links,
                history,
                copy,
                user_message,
            } => {
                links.record(tx, conn).await?;
                tx.set_history_group_message(history, copy, user_message)
                    .await
            }
        }
    }
}

/// Runs one action.
async fn execute(
    ex: &Topics,
    dialog: Option<i64>,
    action: &ApiAction,
) -> Result<ApiDone, TopicError> {
    match (action, dialog) {
        (ApiAction::Send { history, content }, Some(d)) => send(ex, d, *history, content).await,
        (
            ApiAction::Echo {
                history,
                user_message,
                text,
                entities,
                caption,
                kind,
            },
            Some(d),
        ) => {
            echo(
                ex,
                d,
                *history,
                *user_message,
                text.as_deref(),
                entities,
                caption.as_deref(),
                kind,
            )
            .await
        }
        (
            ApiAction::Answer {
                text,
                buttons,
                reply_to,
            },
            d,
        ) => answer(ex, d, text, buttons, *reply_to)
            .await
            .map(|_| ApiDone::Nothing),
        (
            ApiAction::NewKey {
                admin,
                name,
                reply_to,
            },
            _,
        ) => new_key(ex, *admin, name, *reply_to)
            .await
            .map(|_| ApiDone::Nothing),
        _ => Ok(ApiDone::Nothing),
    }
}

async fn send(ex: &Topics, dialog: i64, history: i64, c: &Outgoing) -> Result<ApiDone, TopicError> {
    let conn = ex.ctx.connection;
    let Some(d) = ex.store.dialog(dialog).await? else {
        return Ok(ApiDone::Nothing);
    };
    let Some(contact) = ex.store.contact(d.contact_id).await? else {
        return Ok(ApiDone::Nothing);
    };
    let mut params = json!({"chat_id": contact.user_id});
    if let Some(p) = &c.parse_mode {
        params["parse_mode"] = json!(p);
    }
    let result = match (c.media, &c.url, c.upload) {
        (None, _, _) => {
            params["text"] = json!(c.text.clone().unwrap_or_default());
            ex.tg.call("sendMessage", params).await
        }
        (Some(kind), Some(url), _) => {
            let (method, field) = kind.method();
            params[field] = json!(url);
            if let Some(t) = &c.text {
                params["caption"] = json!(t);
            }
            ex.tg.call(method, params).await
        }
        (Some(kind), None, Some(upload)) => {
            let (method, field) = kind.method();
            let Some(file) = ex.store.api_upload(conn, upload).await? else {
                tracing::warn!(dialog, upload, "api: the uploaded file is gone");
                return Ok(ApiDone::Nothing);
            };
            if let Some(t) = &c.text {
                params["caption"] = json!(t);
            }
            let input = InputFile {
                field: field.into(),
                file_name: file.file_name,
                mime: file.mime,
                bytes: file.data.into(),
            };
            ex.tg.call_multipart(method, params, vec![input]).await
        }
        (Some(_), None, None) => return Ok(ApiDone::Nothing),
    };
    let sent = match result {
        Ok(m) => m,
        Err(e) if e.is_retryable() => return Err(e.into()),
        Err(e) => {
            let text = if e.is_blocked() {
                ex.store.set_contact_blocked(contact.id, true).await?;
                "⛔ A message sent through the API was not delivered: the user blocked the bot."
                    .to_string()
            } else {
                format!(
                    "⚠️ A message sent through the API was not delivered: {}",
                    html(&e.to_string())
                )
            };
            return Ok(ApiDone::Refused {
                dialog,
                notice: text,
                upload: c.upload,
            });
        }
    };
    let user_message = sent["message_id"].as_i64().unwrap_or(0);
    let kind = crate::domain::content::kind(&sent);
    let echo = ApiAction::Echo {
        history,
        user_message,
        text: sent["text"].as_str().map(str::to_string),
        entities: sent
            .get("entities")
            .or_else(|| sent.get("caption_entities"))
            .cloned()
            .unwrap_or(json!([])),
        caption: sent["caption"].as_str().map(str::to_string),
        kind,
    };
    Ok(ApiDone::Sent {
        dialog,
        echo,
        message: sent,
        upload: c.upload,
        unblocked: contact.blocked.then_some(contact.id),
    })
}

/// Prefixes [`MARK`] and shifts the entities by its UTF-16 length.
fn marked(text: &str, entities: &Value) -> (String, Value) {
    let shift = MARK.encode_utf16().count() as i64;
    let mut out = vec![json!({"type": "italic", "offset": 0, "length": shift - 1})];
    for e in entities.as_array().into_iter().flatten() {
        let mut e = e.clone();
        e["offset"] = json!(e["offset"].as_i64().unwrap_or(0) + shift);
        out.push(e);
    }
    (format!("{MARK}{text}"), Value::Array(out))
}

#[allow(clippy::too_many_arguments)]
async fn echo(
    ex: &Topics,
    dialog: i64,
    history: i64,
    user_message: i64,
    text: Option<&str>,
    entities: &Value,
    caption: Option<&str>,
    kind: &str,
) -> Result<ApiDone, TopicError> {
    let Some(d) = ex.store.dialog(dialog).await? else {
        return Ok(ApiDone::Nothing);
    };
    let Some(contact) = ex.store.contact(d.contact_id).await? else {
        return Ok(ApiDone::Nothing);
    };
    let user = contact.user_id;
    let group = ex.ctx.group_of(&d);
    let result = ex
        .in_topic(dialog, |thread| async move {
            let mut extra = json!({"message_thread_id": thread});
            if let Some(t) = text {
                let (t, e) = marked(t, entities);
                extra["entities"] = e;
                ex.tg
                    .send_message(group, &t, extra)
                    .await
                    .map(|m| m.message_id)
            } else {
                let (c, e) = marked(caption.unwrap_or(""), entities);
                extra["caption"] = json!(c);
                extra["caption_entities"] = e;
                ex.tg
                    .copy_message(group, user, user_message, extra)
                    .await
                    .map(|m| m.message_id)
            }
        })
        .await;
    match result {
        Ok((_, copy)) => {
            let mut links = Links::new();
            links.add(
                dialog,
                user,
                group,
                Direction::Outgoing,
                kind,
                [(user_message, copy)],
            );
            Ok(ApiDone::Echoed {
                links,
                history,
                copy,
                user_message,
            })
        }
        Err(e) if e.is_retryable() => Err(e),
        Err(e) => {
            tracing::warn!(dialog, error = %e, "api: the sent message could not be shown in the topic");
            Ok(ApiDone::Nothing)
        }
    }
}

async fn answer(
    ex: &Topics,
    dialog: Option<i64>,
    text: &str,
    buttons: &[Vec<Button>],
    reply_to: Option<i64>,
) -> Result<(), TopicError> {
    let group = match dialog {
        Some(d) => ex.group_of(d).await?,
        None => ex.ctx.group_id,
    };
    let mut extra = json!({"link_preview_options": {"is_disabled": true}});
    if !buttons.is_empty() {
        extra["reply_markup"] = json!({"inline_keyboard": buttons});
    }
    if let Some(r) = reply_to {
        extra["reply_parameters"] = json!({"message_id": r, "allow_sending_without_reply": true});
    }
    let r = match dialog {
        Some(d) => ex
            .in_topic(d, |thread| {
                let mut extra = extra.clone();
                extra["message_thread_id"] = json!(thread);
                async move { ex.tg.send_message(group, text, extra).await }
            })
            .await
            .map(|_| ()),
        None => ex
            .tg
            .send_message(group, text, extra)
            .await
            .map(|_| ())
            .map_err(TopicError::from),
    };
    match r {
        Err(e) if e.is_retryable() => Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "api: a custom command's answer could not be posted");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Creates a key and sends it to the admin privately, or in General with a warning.
async fn new_key(
    ex: &Topics,
    admin: i64,
    name: &str,
    reply_to: Option<i64>,
) -> Result<(), TopicError> {
    let key = super::auth::generate();
    let private = format!(
        "🔑 API key \"{}\" for {}:\n<code>{}</code>\nUse it as <code>Authorization: Bearer …</code>. \
         It is shown only once; /apikey revoke in General revokes it.",
        html(name),
        html(&ex.ctx.name),
        key
    );
    let group = ex.ctx.group_id;
    let mut general = json!({"parse_mode": "HTML"});
    if let Some(r) = reply_to {
        general["reply_parameters"] = json!({"message_id": r, "allow_sending_without_reply": true});
    }
    let note = match ex
        .tg
        .send_message(admin, &private, json!({"parse_mode": "HTML"}))
        .await
    {
        Ok(_) => "🔑 The new API key was sent to you in a private chat with the bot.".to_string(),
        Err(e) if e.is_retryable() => return Err(e.into()),
        Err(_) => format!(
            "⚠️ I cannot write to you privately (start a chat with the bot to get keys there). \
             Here is the key; everyone in this group can read it, so delete this message \
             after copying it, or revoke the key if that matters:\n<code>{key}</code>"
        ),
    };
    let by = format!("telegram:{admin}");
    super::auth::store_key(&ex.store, ex.ctx.connection, name, &by, &key).await?;
    match ex.tg.send_message(group, &note, general).await {
        Err(e) if e.is_retryable() => {
            tracing::warn!(error = %e, "api: the /apikey answer could not be posted");
            Ok(())
        }
        _ => Ok(()),
    }
}
