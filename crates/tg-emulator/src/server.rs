//! The HTTP front: `/bot<token>/<method>` with Telegram's request and answer shapes,
//! file downloads at `/file/bot<token>/<path>`, and the control API under `/control`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::limits::Outcome;
use crate::methods;
use crate::params::{Params, Upload};
use crate::world::{CallRecord, ChatKey};
use crate::{control, delivery, spec, Shared};

/// Largest accepted request body (Telegram accepts 50 MB uploads).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// The emulator's routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .nest("/control", control::routes())
        .merge(crate::web::routes())
        .fallback(entry)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// What a call came to: an answer, or a connection to drop.
pub enum Answer {
    /// `{"ok":true,"result":...}` (with a `description` for some methods) or an error.
    Json(Result<Value, ApiError>, Option<&'static str>),
    /// The connection is cut (a simulated network fault).
    Dropped,
}

fn json_response(result: Result<Value, ApiError>) -> Response {
    described_response(result, None)
}

fn described_response(result: Result<Value, ApiError>, description: Option<&str>) -> Response {
    let (status, body) = match result {
        Ok(v) => {
            let mut body = json!({"ok": true, "result": v});
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            (StatusCode::OK, body)
        }
        Err(e) => (
            StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST),
            e.to_json(),
        ),
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn dropped() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("dropped"))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

async fn entry(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    // Telegram decodes the path before matching the token: python-telegram-bot escapes
    // the token's colon in file URLs (`/file/bot123%3Aabc/...`).
    let path = percent_encoding::percent_decode_str(req.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    if let Some(rest) = path.strip_prefix("/file/bot") {
        return download(&shared, rest);
    }
    let Some(rest) = path.strip_prefix("/bot") else {
        return json_response(Err(ApiError::not_found()));
    };
    let (token, method) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(bot) = shared.world().tokens.get(token).copied() else {
        return json_response(Err(ApiError::unauthorized()));
    };
    let method = method.to_string();
    let params = match read_params(req).await {
        Ok(p) => p,
        Err(e) => return json_response(Err(e)),
    };
    let method = if method.is_empty() {
        params.str("method").unwrap_or_default()
    } else {
        method
    };
    let Some(method) = methods::canonical(&method) else {
        return json_response(Err(ApiError::not_found()));
    };
    match dispatch(&shared, bot, method, params).await {
        Answer::Json(r, description) => described_response(r, description),
        Answer::Dropped => dropped(),
    }
}

fn download(shared: &Shared, rest: &str) -> Response {
    let world = shared.world();
    let Some((token, file_path)) = rest.split_once('/') else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    if !world.tokens.contains_key(token) {
        return json_response(Err(ApiError::unauthorized()));
    }
    match world.files.values().find(|f| f.file_path == file_path) {
        Some(f) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            f.data.clone(),
        )
            .into_response(),
        None => json_response(Err(ApiError::not_found())),
    }
}

/// Reads the query string and the body (JSON, urlencoded or multipart) into Params.
/// Also reads webhook replies, which may come in any of these forms.
pub async fn read_params(req: Request) -> Result<Params, ApiError> {
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut params = if content_type.starts_with("multipart/form-data") {
        let mut multipart = axum::extract::Multipart::from_request(req, &())
            .await
            .map_err(|_| ApiError::bad_request("can't parse multipart request"))?;
        let mut params = Params::default();
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|_| ApiError::bad_request("can't parse multipart request"))?
        {
            let name = field.name().unwrap_or("").to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(str::to_string);
            let data = field
                .bytes()
                .await
                .map_err(|_| ApiError::bad_request("can't parse multipart request"))?;
            match (&filename, std::str::from_utf8(&data)) {
                (None, Ok(text)) => params.add_text(name, text.to_string()),
                _ => params.add_upload(
                    name,
                    Upload {
                        filename,
                        content_type,
                        data,
                    },
                ),
            }
        }
        params
    } else {
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::new(413, "Request Entity Too Large"))?;
        if body.is_empty() {
            Params::default()
        } else if content_type.starts_with("application/json") {
            let value: Value = serde_json::from_slice(&body)
                .map_err(|_| ApiError::bad_request("can't parse JSON object"))?;
            Params::from_json(value)
        } else {
            let mut params = Params::default();
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|_| ApiError::bad_request("can't parse request"))?;
            for (k, v) in pairs {
                params.add_text(k, v);
            }
            params
        }
    };
    for (k, v) in query {
        if !params.has(&k) {
            params.add_text(k, v);
        }
    }
    Ok(params)
}

/// Methods whose calls count against the sending limits.
const SENDING: &[&str] = &[
    "sendMessage",
    "sendPhoto",
    "sendVideo",
    "sendAnimation",
    "sendAudio",
    "sendVoice",
    "sendVideoNote",
    "sendDocument",
    "sendSticker",
    "sendLocation",
    "sendVenue",
    "sendContact",
    "sendPoll",
    "sendDice",
    "sendMediaGroup",
    "copyMessage",
    "copyMessages",
    "forwardMessage",
    "forwardMessages",
    "createForumTopic",
];

fn rate_limit(shared: &Shared, bot: i64, method: &str, params: &Params) -> Result<(), ApiError> {
    if !SENDING.contains(&method) {
        return Ok(());
    }
    let limits = shared.config.lock().unwrap().limits.clone();
    let scale = limits.scale();
    let window = |secs: u64| Duration::from_secs(secs).div_f64(scale);
    let chat: i64 = params
        .str("chat_id")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut checks = Vec::new();
    if let Some(n) = limits.bot_per_second {
        checks.push((format!("bot:{bot}"), n, window(1)));
    }
    if chat > 0 {
        if let Some(n) = limits.private_per_second {
            checks.push((format!("private:{bot}:{chat}"), n, window(1)));
        }
    } else if chat < 0 {
        if let Some(n) = limits.group_per_minute {
            checks.push((format!("group:{bot}:{chat}"), n, window(60)));
        }
    }
    if params.bool("allow_paid_broadcast") {
        checks.retain(|(k, _, _)| !k.starts_with("bot:"));
    }
    shared
        .windows
        .lock()
        .unwrap()
        .admit(&checks)
        .map_err(|wait| {
            // In the world's seconds (see Limits::time_scale), rounded up as Telegram does.
            let world_secs = (wait.as_secs_f64() * scale).ceil().max(1.0);
            ApiError::too_many_requests(world_secs as u64)
        })
}

/// Runs one Bot API call with faults, limits, conformance checks and bookkeeping.
/// Also used to execute webhook replies.
pub async fn dispatch(
    shared: &Arc<Shared>,
    bot: i64,
    method: &'static str,
    mut params: Params,
) -> Answer {
    let fault = shared.faults.lock().unwrap().for_method(method).clone();
    if fault.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.latency_ms)).await;
    }
    let outcome = fault.roll();
    let failed = |e| Answer::Json(Err(e), None);
    match outcome {
        Outcome::Error => return failed(ApiError::new(500, "Internal Server Error")),
        Outcome::Drop => return Answer::Dropped,
        Outcome::Hang(d) => {
            tokio::time::sleep(d).await;
            return Answer::Dropped;
        }
        Outcome::Storm(secs) => return failed(ApiError::too_many_requests(secs)),
        Outcome::Run | Outcome::DropAfter => {}
    }
    if let Err(e) = rate_limit(shared, bot, method, &params) {
        record(shared, bot, method, &params, &Err(e.clone()));
        return failed(e);
    }
    // Telegram drops the fields of input objects it does not know (telegraf sends
    // `hide: false` on buttons): they are never stored nor echoed back.
    params.drop_unknown_fields(method);
    let (result, description) = if method == "getUpdates" {
        let result = delivery::get_updates(shared, bot, &params).await;
        record(shared, bot, method, &params, &result);
        (result, None)
    } else {
        let mut world = shared.world();
        let (result, description) = match methods::described(&mut world, bot, method, &params) {
            Ok((v, d)) => (Ok(v), d),
            Err(e) => (Err(e), None),
        };
        // On record under the same lock as its effects: whoever sees what a call did (a
        // message in a chat) also sees the call in `calls`, never a moment later.
        push_call(&mut world, bot, method, &params, &result);
        drop(world);
        if method == "setWebhook" && result.is_ok() {
            delivery::ensure_webhook_task(shared, bot);
        }
        check(shared, bot, method, &params, &result);
        (result, description)
    };
    if outcome == Outcome::DropAfter {
        return Answer::Dropped;
    }
    Answer::Json(result, description)
}

/// Records a call and checks it against the spec.
fn record(
    shared: &Shared,
    bot: i64,
    method: &str,
    params: &Params,
    result: &Result<Value, ApiError>,
) {
    push_call(&mut shared.world(), bot, method, params, result);
    check(shared, bot, method, params, result);
}

fn push_call(
    world: &mut crate::world::World,
    bot: i64,
    method: &str,
    params: &Params,
    result: &Result<Value, ApiError>,
) {
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    world.calls.push(CallRecord {
        bot,
        method: method.to_string(),
        error_code: result.as_ref().err().map_or(0, |e| e.code),
        chat_id: params.str("chat_id").and_then(|c| c.parse().ok()),
        at_ms,
    });
}

/// Conformance: the call's parameters and answer against the spec (when checking is on),
/// and the call event for subscribers.
fn check(
    shared: &Shared,
    bot: i64,
    method: &str,
    params: &Params,
    result: &Result<Value, ApiError>,
) {
    let check = shared.config.lock().unwrap().check_conformance;
    let mut found = Vec::new();
    if check {
        let names = params.names();
        let refs: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| *n != "method")
            .collect();
        // Parameters a caller sends that the spec does not know are the caller's bug;
        // required ones it forgot are answered with an error already.
        for v in spec::check_params(method, &refs) {
            if v.message.contains("unknown") {
                found.push(format!("request {method}: {v}"));
            }
        }
        if let Ok(value) = result {
            for v in spec::check_result(method, value) {
                found.push(format!("answer {method}: {v}"));
            }
        }
    }
    if !found.is_empty() {
        let mut world = shared.world();
        for f in found {
            world.violation(f);
        }
    }
    if let Some(value) = result
        .as_ref()
        .ok()
        .filter(|_| method != "getUpdates" && !method.starts_with("get"))
    {
        let _ = shared.events.send(json!({
            "type": "call", "bot": bot, "method": method, "chat": chat_hint(params),
            "message_ids": result_ids(value),
        }));
    }
}

/// Message ids a sending method produced (for event consumers such as benchmarks).
fn result_ids(value: &Value) -> Vec<i64> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(|m| m["message_id"].as_i64())
            .collect(),
        v => v["message_id"].as_i64().into_iter().collect(),
    }
}

fn chat_hint(params: &Params) -> Value {
    params
        .str("chat_id")
        .map(Value::String)
        .unwrap_or(Value::Null)
}

/// The chat key a Bot API call concerns, for event consumers.
pub fn key_of(bot: i64, chat_id: i64) -> ChatKey {
    if chat_id > 0 {
        ChatKey::Private { bot, user: chat_id }
    } else {
        ChatKey::Group(chat_id)
    }
}
