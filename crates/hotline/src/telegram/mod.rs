//! Bot API client: a raw [`Client::call`] plus typed helpers for what Hotline calls.
//!
//! Updates and messages stay raw `serde_json::Value`; only what Hotline reads is typed
//! (see [`types`]). The token lives only inside the request URL: it never appears in logs,
//! `Debug` output or error messages (reqwest errors are stripped of their URL).

mod error;
pub mod types;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use crate::config::Secret;
pub use error::{outcome_of, TgError};
pub use types::{
    BotCommand, Chat, ChatMember, File, ForumTopic, InputFile, Message, MessageId, User,
};

/// Escapes text for `parse_mode` HTML. Lives with the client because HTML is the Bot API's
/// markup: every layer that writes a message (the outbox's notices too) escapes the same way.
pub fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Every update type: Hotline is the only consumer of the bot's updates (the gateway
/// serves the parallel bot from the same log), so it asks for all of them.
pub const ALL_UPDATES: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
];

/// Timeout for ordinary calls; long polls add their own `timeout` on top.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A Bot API client for one bot. Cheap to clone (shares the HTTP connection pool).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api_url: String,
    token: Secret,
    /// The connection's name in metrics (`connection` label).
    label: std::sync::Arc<str>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.api_url)
            .field("token", &self.token)
            .finish()
    }
}

/// Adds the optional parameters in `extra` (an object, or `null`) to `base`.
fn merge(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

impl Client {
    /// A client for the bot `token` at `api_url` (e.g. `https://api.telegram.org`, or the
    /// emulator's address). Trailing slashes are ignored.
    pub fn new(api_url: &str, token: Secret) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self::with_http(http, api_url, token)
    }

    /// Same as [`Client::new`] with a shared HTTP client.
    pub fn with_http(http: reqwest::Client, api_url: &str, token: Secret) -> Self {
        Self {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            token,
            label: std::sync::Arc::from(""),
        }
    }

    /// The same client, its calls counted in metrics under connection `name`.
    pub fn labelled(mut self, name: &str) -> Self {
        self.label = std::sync::Arc::from(name);
        self
    }

    /// The API base URL (no token).
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The bot id, the part of the token before `:` (not secret).
    pub fn bot_id(&self) -> Option<i64> {
        self.token.expose().split(':').next()?.parse().ok()
    }

    fn method_url(&self, method: &str) -> String {
        format!("{}/bot{}/{}", self.api_url, self.token.expose(), method)
    }

    /// Calls any method with JSON parameters and returns Telegram's `result`.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, TgError> {
        self.call_with_timeout(method, params, CALL_TIMEOUT).await
    }

    async fn call_with_timeout<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<T, TgError> {
        let req = self
            .http
            .post(self.method_url(method))
            .timeout(timeout)
            .json(&params);
        self.execute(method, req).await
    }

    /// Calls a method as `multipart/form-data` with in-memory files. Non-string parameter
    /// values are JSON-encoded, as the Bot API expects for nested objects.
    pub async fn call_multipart(
        &self,
        method: &str,
        params: Value,
        files: Vec<InputFile>,
    ) -> Result<Value, TgError> {
        let mut form = text_form(params);
        for f in files {
            let mut part = reqwest::multipart::Part::stream(f.bytes).file_name(f.file_name);
            if let Some(m) = &f.mime {
                part = part.mime_str(m).map_err(|e| {
                    TgError::Decode(format!("bad MIME type {m:?}: {}", e.without_url()))
                })?;
            }
            form = form.part(f.field, part);
        }
        let req = self
            .http
            .post(self.method_url(method))
            .timeout(CALL_TIMEOUT * 5)
            .multipart(form);
        self.execute(method, req).await
    }

    /// Sends `req` and decodes Telegram's `result` as `T`.
    async fn execute<T: DeserializeOwned>(
        &self,
        method: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<T, TgError> {
        let started = std::time::Instant::now();
        let resp = req.send().await.map_err(|e| {
            let e = e.without_url();
            crate::metrics::telegram_call(&self.label, method, "transient", started.elapsed());
            tracing::debug!(method, error = %e, "bot api request failed");
            TgError::Transient(format!("{method}: {e}"))
        })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| {
            TgError::Transient(format!("{method}: reading response: {}", e.without_url()))
        })?;
        let (outcome, result) = decode(method, status.as_u16(), &body);
        crate::metrics::telegram_call(&self.label, method, &outcome, started.elapsed());
        match &result {
            Ok(_) => tracing::trace!(
                method,
                ms = started.elapsed().as_millis() as u64,
                "bot api ok"
            ),
            Err(e) => {
                tracing::debug!(method, status = status.as_u16(), error = %e, "bot api error")
            }
        }
        result
    }

    async fn typed<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T, TgError> {
        self.call_with_timeout(method, params, CALL_TIMEOUT).await
    }

    /// The bot itself (checks the token).
    pub async fn get_me(&self) -> Result<User, TgError> {
        self.typed("getMe", json!({})).await
    }

    /// Chat details (is the backend group a forum?).
    pub async fn get_chat(&self, chat_id: i64) -> Result<Chat, TgError> {
        self.typed("getChat", json!({ "chat_id": chat_id })).await
    }

    /// A member's status and rights.
    pub async fn get_chat_member(&self, chat_id: i64, user_id: i64) -> Result<ChatMember, TgError> {
        self.typed(
            "getChatMember",
            json!({ "chat_id": chat_id, "user_id": user_id }),
        )
        .await
    }

    /// The chat's administrators (default `EXTENSIONS_ALLOWED`).
    pub async fn get_chat_administrators(&self, chat_id: i64) -> Result<Vec<ChatMember>, TgError> {
        self.typed("getChatAdministrators", json!({ "chat_id": chat_id }))
            .await
    }

    /// Sets the command menu; `extra` may carry `scope` and `language_code`.
    pub async fn set_my_commands(
        &self,
        commands: &[BotCommand],
        extra: Value,
    ) -> Result<bool, TgError> {
        self.typed(
            "setMyCommands",
            merge(json!({ "commands": commands }), extra),
        )
        .await
    }

    /// Sends a text message; `extra` carries `message_thread_id`, `entities`,
    /// `reply_parameters`, `reply_markup`, ...
    pub async fn send_message(
        &self,
        chat_id: i64,
        text: &str,
        extra: Value,
    ) -> Result<Message, TgError> {
        self.typed(
            "sendMessage",
            merge(json!({ "chat_id": chat_id, "text": text }), extra),
        )
        .await
    }

    /// Copies one message (content and entities, without "forwarded from").
    pub async fn copy_message(
        &self,
        chat_id: i64,
        from_chat_id: i64,
        message_id: i64,
        extra: Value,
    ) -> Result<MessageId, TgError> {
        let p =
            json!({ "chat_id": chat_id, "from_chat_id": from_chat_id, "message_id": message_id });
        self.typed("copyMessage", merge(p, extra)).await
    }

    /// Copies several messages of one chat in one call, keeping albums together. Ids must be
    /// increasing; Telegram silently skips what it cannot copy.
    pub async fn copy_messages(
        &self,
        chat_id: i64,
        from_chat_id: i64,
        message_ids: &[i64],
        extra: Value,
    ) -> Result<Vec<MessageId>, TgError> {
        let p =
            json!({ "chat_id": chat_id, "from_chat_id": from_chat_id, "message_ids": message_ids });
        self.typed("copyMessages", merge(p, extra)).await
    }

    /// Forwards one message (for kinds that cannot be copied).
    pub async fn forward_message(
        &self,
        chat_id: i64,
        from_chat_id: i64,
        message_id: i64,
        extra: Value,
    ) -> Result<Message, TgError> {
        let p =
            json!({ "chat_id": chat_id, "from_chat_id": from_chat_id, "message_id": message_id });
        self.typed("forwardMessage", merge(p, extra)).await
    }

    /// Forwards several messages in one call.
    pub async fn forward_messages(
        &self,
        chat_id: i64,
        from_chat_id: i64,
        message_ids: &[i64],
        extra: Value,
    ) -> Result<Vec<MessageId>, TgError> {
        let p =
            json!({ "chat_id": chat_id, "from_chat_id": from_chat_id, "message_ids": message_ids });
        self.typed("forwardMessages", merge(p, extra)).await
    }

    /// Sends an album (2-10 `InputMedia` objects).
    pub async fn send_media_group(
        &self,
        chat_id: i64,
        media: Value,
        extra: Value,
    ) -> Result<Vec<Message>, TgError> {
        self.typed(
            "sendMediaGroup",
            merge(json!({ "chat_id": chat_id, "media": media }), extra),
        )
        .await
    }

    /// Edits a message's text. Returns `None` when Telegram answers `true` (inline messages).
    pub async fn edit_message_text(
        &self,
        chat_id: i64,
        message_id: i64,
        text: &str,
        extra: Value,
    ) -> Result<Option<Message>, TgError> {
        let p = json!({ "chat_id": chat_id, "message_id": message_id, "text": text });
        self.edit("editMessageText", merge(p, extra)).await
    }

    /// Edits a media message's caption (`caption` and `caption_entities` go in `extra`).
    pub async fn edit_message_caption(
        &self,
        chat_id: i64,
        message_id: i64,
        extra: Value,
    ) -> Result<Option<Message>, TgError> {
        self.edit(
            "editMessageCaption",
            merge(
                json!({ "chat_id": chat_id, "message_id": message_id }),
                extra,
            ),
        )
        .await
    }

    /// Replaces a message's media.
    pub async fn edit_message_media(
        &self,
        chat_id: i64,
        message_id: i64,
        media: Value,
        extra: Value,
    ) -> Result<Option<Message>, TgError> {
        let p = json!({ "chat_id": chat_id, "message_id": message_id, "media": media });
        self.edit("editMessageMedia", merge(p, extra)).await
    }

    /// Replaces a message's inline keyboard (`reply_markup` in `extra`; absent removes it).
    pub async fn edit_message_reply_markup(
        &self,
        chat_id: i64,
        message_id: i64,
        extra: Value,
    ) -> Result<Option<Message>, TgError> {
        self.edit(
            "editMessageReplyMarkup",
            merge(
                json!({ "chat_id": chat_id, "message_id": message_id }),
                extra,
            ),
        )
        .await
    }

    async fn edit(&self, method: &str, params: Value) -> Result<Option<Message>, TgError> {
        match self.call(method, params).await? {
            Value::Bool(_) => Ok(None),
            v => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| TgError::Decode(format!("{method}: {e}"))),
        }
    }

    /// Deletes a message.
    pub async fn delete_message(&self, chat_id: i64, message_id: i64) -> Result<bool, TgError> {
        self.typed(
            "deleteMessage",
            json!({ "chat_id": chat_id, "message_id": message_id }),
        )
        .await
    }

    /// Creates a topic; `extra` may carry `icon_color`, `icon_custom_emoji_id`.
    pub async fn create_forum_topic(
        &self,
        chat_id: i64,
        name: &str,
        extra: Value,
    ) -> Result<ForumTopic, TgError> {
        self.typed(
            "createForumTopic",
            merge(json!({ "chat_id": chat_id, "name": name }), extra),
        )
        .await
    }

    /// Renames a topic or changes its icon (`name`, `icon_custom_emoji_id` in `extra`).
    pub async fn edit_forum_topic(
        &self,
        chat_id: i64,
        message_thread_id: i64,
        extra: Value,
    ) -> Result<bool, TgError> {
        let p = json!({ "chat_id": chat_id, "message_thread_id": message_thread_id });
        self.typed("editForumTopic", merge(p, extra)).await
    }

    /// Closes a topic (⬛).
    pub async fn close_forum_topic(
        &self,
        chat_id: i64,
        message_thread_id: i64,
    ) -> Result<bool, TgError> {
        self.typed(
            "closeForumTopic",
            json!({ "chat_id": chat_id, "message_thread_id": message_thread_id }),
        )
        .await
    }

    /// Reopens a closed topic.
    pub async fn reopen_forum_topic(
        &self,
        chat_id: i64,
        message_thread_id: i64,
    ) -> Result<bool, TgError> {
        self.typed(
            "reopenForumTopic",
            json!({ "chat_id": chat_id, "message_thread_id": message_thread_id }),
        )
        .await
    }

    /// Deletes a topic and its messages.
    pub async fn delete_forum_topic(
        &self,
        chat_id: i64,
        message_thread_id: i64,
    ) -> Result<bool, TgError> {
        self.typed(
            "deleteForumTopic",
            json!({ "chat_id": chat_id, "message_thread_id": message_thread_id }),
        )
        .await
    }

    /// Sets reactions (e.g. ✅ as a delivered mark); `reaction` is a `ReactionType` array.
    pub async fn set_message_reaction(
        &self,
        chat_id: i64,
        message_id: i64,
        reaction: Value,
    ) -> Result<bool, TgError> {
        let p = json!({ "chat_id": chat_id, "message_id": message_id, "reaction": reaction });
        self.typed("setMessageReaction", p).await
    }

    /// Long-polls for updates, returned raw. The HTTP timeout is `timeout` plus a margin.
    pub async fn get_updates(
        &self,
        offset: Option<i64>,
        limit: u32,
        timeout: u32,
        allowed_updates: Option<&[&str]>,
    ) -> Result<Vec<Value>, TgError> {
        let mut p = json!({ "limit": limit, "timeout": timeout });
        if let Some(o) = offset {
            p["offset"] = json!(o);
        }
        if let Some(a) = allowed_updates {
            p["allowed_updates"] = json!(a);
        }
        self.call_with_timeout(
            "getUpdates",
            p,
            Duration::from_secs(u64::from(timeout) + 15),
        )
        .await
    }

    /// Registers a webhook; `extra` carries `secret_token`, `allowed_updates`, ...
    pub async fn set_webhook(&self, url: &str, extra: Value) -> Result<bool, TgError> {
        self.typed("setWebhook", merge(json!({ "url": url }), extra))
            .await
    }

    /// Removes the webhook (needed before long polling).
    pub async fn delete_webhook(&self, drop_pending_updates: bool) -> Result<bool, TgError> {
        self.typed(
            "deleteWebhook",
            json!({ "drop_pending_updates": drop_pending_updates }),
        )
        .await
    }

    /// File metadata with its download path.
    pub async fn get_file(&self, file_id: &str) -> Result<File, TgError> {
        self.typed("getFile", json!({ "file_id": file_id })).await
    }

    /// Downloads a file by the `file_path` from [`Client::get_file`].
    pub async fn download_file(&self, file_path: &str) -> Result<bytes::Bytes, TgError> {
        let url = format!(
            "{}/file/bot{}/{}",
            self.api_url,
            self.token.expose(),
            file_path.trim_start_matches('/')
        );
        let resp = self
            .http
            .get(url)
            .timeout(CALL_TIMEOUT * 5)
            .send()
            .await
            .map_err(|e| TgError::Transient(format!("download: {}", e.without_url())))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| TgError::Transient(format!("download: {}", e.without_url())))?;
        if status.is_success() {
            Ok(body)
        } else {
            classify("download", status.as_u16(), &body).and(Err(TgError::permanent(
                status.as_u16().into(),
                "download failed",
            )))
        }
    }

    /// Sends a file as a document, streamed from disk into the multipart upload (exports of
    /// any size: the file is never read into memory).
    pub async fn send_document_file(
        &self,
        chat_id: i64,
        file_name: &str,
        mime: &str,
        path: &std::path::Path,
        extra: Value,
    ) -> Result<Message, TgError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| TgError::Decode(format!("reading {}: {e}", path.display())))?;
        let len = file
            .metadata()
            .await
            .map_err(|e| TgError::Decode(format!("reading {}: {e}", path.display())))?
            .len();
        // 64 KiB at a time from the file to the socket: memory stays flat for any size.
        let chunks = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
        let part =
            reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(chunks), len)
                .file_name(file_name.to_string())
                .mime_str(mime)
                .map_err(|e| {
                    TgError::Decode(format!("bad MIME type {mime:?}: {}", e.without_url()))
                })?;
        let form = text_form(merge(json!({ "chat_id": chat_id }), extra)).part("document", part);
        let req = self
            .http
            .post(self.method_url("sendDocument"))
            .timeout(CALL_TIMEOUT * 5)
            .multipart(form);
        self.execute("sendDocument", req).await
    }

    /// Sends a document built in memory (CSV report, chart) via multipart upload.
    pub async fn send_document_bytes(
        &self,
        chat_id: i64,
        file_name: &str,
        mime: &str,
        bytes: bytes::Bytes,
        extra: Value,
    ) -> Result<Message, TgError> {
        let file = InputFile {
            field: "document".into(),
            file_name: file_name.into(),
            mime: Some(mime.into()),
            bytes,
        };
        let v = self
            .call_multipart(
                "sendDocument",
                merge(json!({ "chat_id": chat_id }), extra),
                vec![file],
            )
            .await?;
        serde_json::from_value(v).map_err(|e| TgError::Decode(format!("sendDocument: {e}")))
    }
}

/// Decodes an answer as `T`, with the outcome for the metrics. A success is read straight
/// into `T` (one parse: building the whole answer as a `Value`, cloning its `result` and
/// converting that cost more than the HTTP call around it, callgrind); anything else goes
/// through [`classify`] and then the conversion, with the errors as before.
fn decode<T: DeserializeOwned>(
    method: &str,
    status: u16,
    body: &[u8],
) -> (String, Result<T, TgError>) {
    /// A success answer: `ok` and the result, every other field skipped.
    #[derive(serde::Deserialize)]
    struct Success<T> {
        ok: bool,
        result: Option<T>,
    }
    if let Ok(Success {
        ok: true,
        result: Some(result),
    }) = serde_json::from_slice::<Success<T>>(body)
    {
        return ("ok".into(), Ok(result));
    }
    let classified = classify(method, status, body);
    let outcome = outcome_of(&classified);
    let result = classified.and_then(|v| {
        serde_json::from_value(v).map_err(|e| TgError::Decode(format!("{method}: {e}")))
    });
    (outcome, result)
}

/// Turns an HTTP status and body into the call's result following the Bot API's error shape
/// `{"ok":false,"error_code":N,"description":"...","parameters":{...}}`.
fn classify(method: &str, status: u16, body: &[u8]) -> Result<Value, TgError> {
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(body).ok();
    let Some(obj) = parsed else {
        return Err(if status >= 500 || status == 429 {
            TgError::Transient(format!("{method}: HTTP {status} without a Bot API body"))
        } else if (200..300).contains(&status) {
            TgError::Decode(format!("{method}: response is not JSON"))
        } else {
            TgError::permanent(
                status.into(),
                format!("HTTP {status} without a Bot API body"),
            )
        });
    };
    if obj.get("ok").and_then(Value::as_bool) == Some(true) {
        return obj
            .get("result")
            .cloned()
            .ok_or_else(|| TgError::Decode(format!("{method}: ok without result")));
    }
    let code = obj
        .get("error_code")
        .and_then(Value::as_i64)
        .unwrap_or(i64::from(status));
    let description = obj
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("no description")
        .to_string();
    let params = obj.get("parameters");
    if code == 429 {
        let secs = params
            .and_then(|p| p.get("retry_after"))
            .and_then(Value::as_u64)
            .unwrap_or(1);
        return Err(TgError::RetryAfter(secs.max(1)));
    }
    if code >= 500 {
        return Err(TgError::Transient(format!(
            "{method}: {code} {description}"
        )));
    }
    Err(TgError::Permanent {
        code,
        description,
        migrate_to_chat_id: params
            .and_then(|p| p.get("migrate_to_chat_id"))
            .and_then(Value::as_i64),
    })
}

#[cfg(test)]
mod tests;

/// The text fields of a multipart call, as Telegram reads them: strings as they are, other
/// values as JSON, nulls left out.
fn text_form(params: Value) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    if let Value::Object(map) = params {
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s,
                Value::Null => continue,
                other => other.to_string(),
            };
            form = form.text(k, text);
        }
    }
    form
}
