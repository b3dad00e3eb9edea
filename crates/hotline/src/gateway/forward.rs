//! Pass-through of every method the gateway does not answer itself: the request goes to
//! Telegram unchanged and Telegram's answer comes back unchanged (status and body bytes).
//!
//! Calls go through the gateway's own hyper client (`upstream`). Large bodies are
//! streamed both ways: a 50 MB `sendDocument` upload flows from the bot to Telegram
//! without ever being held whole in memory,
//! and downloads under `/file/bot<token>/…` stream back the same way. Only the requests
//! of methods that are mirrored and are small (JSON or urlencoded up to
//! [`BUFFER_MAX`], multipart up to [`SMALL_BODY`]) are buffered, to read their `chat_id`
//! and `message_id`s; a large multipart upload is mirrored from Telegram's answer, which
//! carries the chat, the content and its file ids.
//!
//! Every answered send (a method that puts messages into a chat) is counted for the
//! connection's outbox, which shares the bot's rate limits (see
//! [`crate::outbox::ExternalSends`]): its chat is read from the request when the request is
//! buffered anyway (a cheap scan for `chat_id`, or the parameters parsed for mirroring), a
//! streamed upload counts in the bot's window only. The call itself is never delayed.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use http_body::Body as _;
use hyper::body::Incoming;
use serde_json::{Map, Value};

use super::order::Sending;
use super::{content_type, mirror, not_found, parse_params, tg_error, upstream, Bot, SMALL_BODY};

/// Largest JSON or urlencoded request of a mirrored method read into memory.
pub const BUFFER_MAX: usize = 10 * 1024 * 1024;

/// Requests and answers up to this size (by `Content-Length`) are passed on whole rather
/// than streamed: the request then leaves in one write with its head, and the answer
/// reaches the bot in one write. Streaming a small body costs a separate write and a
/// wake-up per side, which halved the gateway's throughput (bench/README.md).
pub const INLINE_MAX: usize = 64 * 1024;

/// Response headers copied from Telegram's answer.
const PASS_HEADERS: &[HeaderName] = &[
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_DISPOSITION,
    header::LAST_MODIFIED,
    header::ETAG,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
];

/// Methods are plain identifiers; anything else cannot be a Bot API method.
fn valid_method(m: &str) -> bool {
    (1..=64).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn content_length(h: &HeaderMap) -> Option<usize> {
    h.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn upstream_failed(bot: &Bot, e: &dyn std::error::Error) -> Response {
    // The error and its causes never hold the URI (it holds the token): hyper's client
    // errors name the kind of failure and the socket's error only.
    let mut error = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        error.push_str(": ");
        error.push_str(&c.to_string());
        cause = c.source();
    }
    tracing::warn!(connection = %bot.ctx.name, %error, "gateway: Telegram is not reachable");
    tg_error(502, "Bad Gateway")
}

/// The upstream URI of `method` with the bot's query string (holds the token: never log).
fn method_uri(bot: &Bot, method: &str, query: Option<&str>) -> Option<Uri> {
    let base = bot.method_base();
    let mut s = String::with_capacity(base.len() + method.len() + query.map_or(0, |q| q.len() + 1));
    s.push_str(base);
    s.push_str(method);
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        s.push('?');
        s.push_str(q);
    }
    Uri::try_from(s).ok()
}

/// Sends a call upstream; `Err` is the 502 answer.
async fn send(
    bot: &Bot,
    method: Method,
    uri: Option<Uri>,
    ctype: Option<HeaderValue>,
    len: Option<usize>,
    body: Body,
) -> Result<axum::http::Response<Incoming>, Response> {
    // A query string Telegram could not read either: the bot gets Telegram's 404.
    let Some(uri) = uri else {
        return Err(not_found());
    };
    let mut req = axum::http::Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    if let Some(ct) = ctype {
        req.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    if let Some(l) = len {
        req.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(l));
    }
    bot.upstream
        .request(req)
        .await
        .map_err(|e| upstream_failed(bot, &e))
}

/// Copies status and the pass-through headers of Telegram's answer.
fn answer_head(resp: &axum::http::Response<Incoming>) -> axum::http::response::Builder {
    head_of(resp.status(), resp.headers())
}

/// An answer's head with Telegram's status and pass-through headers.
fn head_of(status: StatusCode, headers: &HeaderMap) -> axum::http::response::Builder {
    let mut b = Response::builder().status(status);
    for h in PASS_HEADERS {
        if let Some(v) = headers.get(h) {
            b = b.header(h, v);
        }
    }
    b
}

/// Sends a call whose body is in memory through the bot's [`upstream::Inline`]
/// connections, reading an answer up to `max` bytes whole; `Err` is the bot's answer
/// (502, or 404 for a query Telegram could not read either).
async fn send_inline(
    bot: &Bot,
    method: Method,
    uri: Option<Uri>,
    ctype: Option<HeaderValue>,
    body: Bytes,
    max: usize,
) -> Result<upstream::Answer, Response> {
    let Some(uri) = uri else {
        return Err(not_found());
    };
    let mut req = axum::http::Request::new(Body::from(body));
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    if let Some(ct) = ctype {
        req.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    bot.inline
        .call(req, max)
        .await
        .map_err(|e| upstream_failed(bot, &e))
}

/// Reads an answer's body whole.
async fn read_answer(bot: &Bot, body: Incoming) -> Result<Bytes, Response> {
    axum::body::to_bytes(Body::new(body), BUFFER_MAX)
        .await
        .map_err(|e| upstream_failed(bot, &e))
}

/// A forwarded call that sends messages (Telegram counts it against the bot's limits),
/// into `chat` when the request told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CountedSend {
    chat: Option<i64>,
}

/// Whether `lower` (a lower-cased method) sends messages that Telegram's rate limits count:
/// the methods that put new messages into a chat.
fn sends(lower: &str) -> bool {
    mirror::positional(lower)
}

/// Counts an answered send for the outbox: a success as a send into its chat, a 429 as a
/// pause of that chat for its `retry_after` (read from `answer` when it was read).
fn count(bot: &Bot, send: Option<CountedSend>, status: StatusCode, answer: Option<&[u8]>) {
    let Some(send) = send else {
        return;
    };
    if status.is_success() {
        bot.external.sent(send.chat);
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = answer
            .and_then(|a| serde_json::from_slice::<Value>(a).ok())
            .and_then(|v| v["parameters"]["retry_after"].as_u64());
        if let Some(secs) = retry_after {
            bot.external.rate_limited(send.chat, secs);
        }
    }
}

/// The `chat_id` of a request, read without parsing it whole: from the query string, a
/// JSON body's top-level field, a urlencoded pair or a multipart field. `None` when absent
/// or not numeric (a `@channel` name).
fn chat_id_of(ctype: &str, query: Option<&str>, body: &[u8]) -> Option<i64> {
    let in_pairs = |pairs: &[u8]| {
        pairs
            .split(|b| *b == b'&')
            .find_map(|pair| pair.strip_prefix(b"chat_id="))
            .and_then(|v| {
                let v = percent_encoding::percent_decode(v).decode_utf8().ok()?;
                v.trim().parse().ok()
            })
    };
    if let Some(chat) = query.and_then(|q| in_pairs(q.as_bytes())) {
        return Some(chat);
    }
    if body.is_empty() {
        return None;
    }
    let ct = ctype.trim_start().as_bytes();
    let is = |prefix: &str| {
        ct.len() >= prefix.len() && ct[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    if is("application/json") {
        /// Only the top-level `chat_id`: every other field is skipped unparsed.
        #[derive(serde::Deserialize)]
        struct ChatOnly {
            chat_id: Option<Value>,
        }
        return match serde_json::from_slice::<ChatOnly>(body).ok()?.chat_id? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
    }
    if is("application/x-www-form-urlencoded") {
        return in_pairs(body);
    }
    if is("multipart/form-data") {
        const NAME: &[u8] = b"name=\"chat_id\"";
        let at = body.windows(NAME.len()).position(|w| w == NAME)? + NAME.len();
        let rest = &body[at..];
        let start = rest.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let value = &rest[start..];
        let end = value
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(value.len());
        return std::str::from_utf8(&value[..end]).ok()?.trim().parse().ok();
    }
    None
}

/// Passes Telegram's answer back unchanged: whole when it is small, else streamed. A send
/// is counted for the outbox (see [`count`]).
async fn stream_back(
    bot: &Bot,
    resp: axum::http::Response<Incoming>,
    send: Option<CountedSend>,
) -> Response {
    let head = answer_head(&resp);
    let status = resp.status();
    let body = resp.into_body();
    let small = body
        .size_hint()
        .exact()
        .is_some_and(|l| l <= INLINE_MAX as u64);
    let body = if small {
        match read_answer(bot, body).await {
            Ok(b) => {
                count(bot, send, status, Some(&b));
                Body::from(b)
            }
            Err(r) => return r,
        }
    } else {
        count(bot, send, status, None);
        Body::new(body)
    };
    head.body(body)
        .unwrap_or_else(|_| tg_error(502, "Bad Gateway"))
}

/// Forwards a method call; `req` still holds the bot's unread body.
pub async fn call(bot: &Arc<Bot>, method: &str, req: Request) -> Response {
    if !valid_method(method) {
        return not_found();
    }
    let lower = method.to_ascii_lowercase();
    let (parts, body) = req.into_parts();
    let ctype = content_type(&parts.headers);
    let len = content_length(&parts.headers);
    let mirrored = mirror::mirrored(bot, &lower);
    let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
    // Without a length, an HTTP/1 request has no body (HTTP/2 may stream one).
    let small = match len {
        Some(l) => l <= INLINE_MAX,
        None => !chunked && parts.version < axum::http::Version::HTTP_2,
    };
    if !mirrored && small {
        // Small (or no body, as a GET): read whole, sent in one write.
        return match axum::body::to_bytes(body, INLINE_MAX).await {
            Ok(bytes) => {
                call_buffered(bot, method, &parts.method, &ctype, parts.uri.query(), bytes).await
            }
            Err(_) => super::too_large(),
        };
    }
    if mirrored {
        let multipart = ctype.to_ascii_lowercase().starts_with("multipart/");
        let small = if multipart {
            len.is_some_and(|l| l <= SMALL_BODY)
        } else {
            len.is_none_or(|l| l <= BUFFER_MAX)
        };
        if small {
            let limit = if multipart { SMALL_BODY } else { BUFFER_MAX };
            return match axum::body::to_bytes(body, limit).await {
                Ok(bytes) => {
                    call_buffered(bot, method, &parts.method, &ctype, parts.uri.query(), bytes)
                        .await
                }
                Err(_) => super::too_large(),
            };
        }
    }
    // Streamed: the body goes upstream as it arrives.
    // A GET without a body stays without one (no chunked empty body upstream).
    let body = if len.is_some_and(|l| l > 0) || chunked {
        body
    } else {
        Body::empty()
    };
    let uri = method_uri(bot, method, parts.uri.query());
    let ctype = parts.headers.get(header::CONTENT_TYPE).cloned();
    // The body is not read here: only the query string can tell the chat.
    let counted = sends(&lower).then(|| CountedSend {
        chat: chat_id_of("", parts.uri.query(), &[]),
    });
    if !mirrored {
        return match send(bot, parts.method, uri, ctype, len, body).await {
            Ok(resp) => stream_back(bot, resp, counted).await,
            Err(r) => r,
        };
    }
    let b = bot.clone();
    detached(bot, async move {
        match send(&b, parts.method, uri, ctype, len, body).await {
            Ok(resp) => buffered_answer(&b, &lower, None, (counted, None), resp).await,
            Err(r) => r,
        }
    })
    .await
}

/// Runs a mirrored call (Telegram's side and the journal write) so that, once handed to
/// Telegram, it is journaled even when the bot's connection closes meanwhile (which drops
/// the request's future), and a graceful stop waits for it (`Gateway::drain`): every call
/// Telegram executed is mirrored.
///
/// The call runs in the request's own task (a task per call cost a spawn and a wake-up
/// on another worker for every mirrored call: bench/README.md); only when the request is
/// dropped before the call finished does the rest of it move to a task of its own
/// ([`Detached`]'s `Drop`). Counted by the gateway's tracker all along.
async fn detached<F>(bot: &Bot, call: F) -> Response
where
    F: std::future::Future<Output = Response> + Send + 'static,
{
    let mut guard = Detached {
        call: Some(Box::pin(call)),
        tracker: bot.in_flight.clone(),
        _token: bot.in_flight.token(),
    };
    let Some(call) = guard.call.as_mut() else {
        return tg_error(502, "Bad Gateway");
    };
    let answer = call.await;
    guard.call = None;
    answer
}

/// A mirrored call in progress in a request's task (see [`detached`]).
struct Detached<F: std::future::Future<Output = Response> + Send + 'static> {
    /// The call, until it finished.
    call: Option<std::pin::Pin<Box<F>>>,
    tracker: tokio_util::task::TaskTracker,
    /// Counts the call as in flight while the request runs it.
    _token: tokio_util::task::task_tracker::TaskTrackerToken,
}

impl<F: std::future::Future<Output = Response> + Send + 'static> Drop for Detached<F> {
    fn drop(&mut self) {
        let Some(call) = self.call.take() else { return };
        // The request was dropped mid-call: the call goes on by itself.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(self.tracker.track_future(call));
            }
            Err(_) => tracing::warn!(
                "gateway: a call to Telegram was cut by the runtime's end and may not be mirrored"
            ),
        }
    }
}

/// Forwards a call whose body was already read (and can be parsed for mirroring).
pub async fn call_buffered(
    bot: &Arc<Bot>,
    method: &str,
    http_method: &Method,
    ctype: &str,
    query: Option<&str>,
    body: Bytes,
) -> Response {
    if !valid_method(method) {
        return not_found();
    }
    let lower = method.to_ascii_lowercase();
    let mirrored = mirror::mirrored(bot, &lower);
    let params = if mirrored {
        // Boxed: multipart parsing makes a large future, and every call would carry it.
        Box::pin(parse_params(ctype, query, &body)).await
    } else {
        None
    };
    // A send is registered while in flight: a user's message stored meanwhile waits for
    // it (see `order`).
    let counted = sends(&lower).then(|| CountedSend {
        chat: match &params {
            Some(p) => super::param_i64(p, "chat_id").ok().flatten(),
            None => chat_id_of(ctype, query, &body),
        },
    });
    let sending = params
        .as_ref()
        .filter(|_| mirror::positional(&lower))
        .and_then(|p| super::param_i64(p, "chat_id").ok().flatten())
        .filter(|chat| *chat > 0)
        .map(|chat| bot.signal.order().sending(chat));
    let ctype = (!ctype.is_empty())
        .then(|| HeaderValue::from_str(ctype).ok())
        .flatten();
    // A GET without a body stays without one (hyper sends no length for an empty body).
    let uri = method_uri(bot, method, query);
    if !mirrored {
        return match send_inline(bot, http_method.clone(), uri, ctype, body, INLINE_MAX).await {
            Ok(upstream::Answer::Whole(head, bytes)) => {
                count(bot, counted, head.status, Some(&bytes));
                head_of(head.status, &head.headers)
                    .body(Body::from(bytes))
                    .unwrap_or_else(|_| tg_error(502, "Bad Gateway"))
            }
            Ok(upstream::Answer::Streamed(resp)) => stream_back(bot, resp, counted).await,
            Err(r) => r,
        };
    }
    let (b, http_method) = (bot.clone(), http_method.clone());
    detached(bot, async move {
        match send_inline(&b, http_method, uri, ctype, body, BUFFER_MAX).await {
            Ok(upstream::Answer::Whole(head, bytes)) => {
                journaled_answer(
                    &b,
                    &lower,
                    params.as_ref(),
                    (counted, sending),
                    head.status,
                    &head.headers,
                    bytes,
                )
                .await
            }
            Ok(upstream::Answer::Streamed(resp)) => {
                buffered_answer(&b, &lower, params, (counted, sending), resp).await
            }
            Err(r) => r,
        }
    })
    .await
}

/// Reads a (small) answer and returns it unchanged; a successful call that may be mirrored
/// is journaled first (batched with other calls: see `journal`).
async fn buffered_answer(
    bot: &Arc<Bot>,
    lower: &str,
    params: Option<Map<String, Value>>,
    send: (Option<CountedSend>, Option<Sending>),
    resp: axum::http::Response<Incoming>,
) -> Response {
    let (head, body) = resp.into_parts();
    let bytes = match read_answer(bot, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    journaled_answer(
        bot,
        lower,
        params.as_ref(),
        send,
        head.status,
        &head.headers,
        bytes,
    )
    .await
}

/// Returns Telegram's answer (read whole) unchanged; a successful call that may be
/// mirrored is journaled first (batched with other calls: see `journal`). A send is
/// counted for the outbox (see [`count`]); a send in flight is settled when its call is
/// journaled (or, not journaled, when the answer is returned).
async fn journaled_answer(
    bot: &Arc<Bot>,
    lower: &str,
    params: Option<&Map<String, Value>>,
    (counted, sending): (Option<CountedSend>, Option<Sending>),
    status: StatusCode,
    headers: &HeaderMap,
    bytes: Bytes,
) -> Response {
    count(bot, counted, status, Some(&bytes));
    if status.is_success() {
        if let Some(call) = mirror::journal_entry(bot, lower, params, &bytes) {
            bot.journal.record(call, sending).await;
        }
    }
    head_of(status, headers)
        .body(Body::from(bytes))
        .unwrap_or_else(|_| tg_error(502, "Bad Gateway"))
}

/// Whether a file path is one Telegram could have issued: relative, no `.`/`..`
/// segments, no escapes. Anything else never leaves Hotline.
fn valid_file_path(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 512
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
        && p.split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// `/file/bot<token>/<file_path>`: streams the download from Telegram.
pub async fn file(bot: &Arc<Bot>, file_path: &str, req: Request) -> Response {
    if !valid_file_path(file_path) {
        return not_found();
    }
    let uri = Uri::try_from(format!(
        "{}/file/bot{}/{}",
        bot.api_url,
        bot.token.expose(),
        file_path
    ))
    .ok();
    let Some(uri) = uri else {
        return not_found();
    };
    let mut up = axum::http::Request::new(Body::empty());
    *up.uri_mut() = uri;
    if let Some(r) = req.headers().get(header::RANGE) {
        up.headers_mut().insert(header::RANGE, r.clone());
    }
    match bot.upstream.request(up).await {
        Ok(resp) => stream_back(bot, resp, None).await,
        Err(e) => upstream_failed(bot, &e),
    }
}

/// Methods Telegram refuses to run from a webhook reply (besides every `get*`).
const NOT_IN_REPLY: &[&str] = &["setwebhook", "deletewebhook", "close", "logout"];

/// Executes the webhook's answer when it is a method call, as Telegram does: JSON,
/// `application/x-www-form-urlencoded` or `multipart/form-data` (aiogram) with a `method`
/// parameter. It goes through the same path as the bot's own calls (forwarded unchanged,
/// mirrored). An answer without a method is nothing to do; one that cannot be executed
/// is logged with the reason.
pub async fn webhook_reply(bot: &Arc<Bot>, ctype: &str, body: Bytes) {
    if body.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let lower_ct = ctype.to_ascii_lowercase();
    let declared = [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ]
    .iter()
    .any(|k| lower_ct.starts_with(k));
    // A JSON object sent without its content type is still read as one.
    let ctype = if !declared && body.trim_ascii_start().starts_with(b"{") {
        "application/json"
    } else {
        ctype
    };
    let why = |reason: String| {
        tracing::warn!(connection = %bot.ctx.name, "gateway: the webhook's reply was not executed: {reason}");
    };
    let Some(params) = parse_params(ctype, None, &body).await else {
        if declared {
            why(format!(
                "its body is not valid {}",
                ctype.split(';').next().unwrap_or(ctype)
            ));
        }
        return;
    };
    let Some(method) = params.get("method").and_then(Value::as_str) else {
        tracing::debug!(connection = %bot.ctx.name, "gateway: the webhook's reply carries no method");
        return;
    };
    let lower = method.to_ascii_lowercase();
    if !valid_method(method) {
        return why("its method is not a Bot API method name".to_string());
    }
    if NOT_IN_REPLY.contains(&lower.as_str()) || lower.starts_with("get") {
        return why(format!("{method} cannot be called from a webhook reply"));
    }
    if let "hotlinehandover" | "hotlineresume" = lower.as_str() {
        // The handover's custom methods are Hotline's own: answered here, never forwarded.
        let answer = super::handover::method(bot, &params, lower == "hotlinehandover").await;
        if !answer.status().is_success() {
            why(format!("{method} failed ({})", answer.status()));
        }
        return;
    }
    let method = method.to_string();
    let answer = call_buffered(bot, &method, &Method::POST, ctype, None, body).await;
    if answer.status().is_success() {
        return;
    }
    let status = answer.status().as_u16();
    let text = axum::body::to_bytes(answer.into_body(), SMALL_BODY)
        .await
        .unwrap_or_default();
    let description = serde_json::from_slice::<Value>(&text)
        .ok()
        .and_then(|v| v["description"].as_str().map(str::to_string))
        .unwrap_or_default();
    why(format!("{method} answered {status} {description}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_cannot_escape() {
        assert!(valid_file_path("documents/file_1.pdf"));
        for bad in [
            "",
            "../x",
            "a/../../b",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "a%2e%2e/b",
            "a\\b",
            "a?b",
        ] {
            assert!(!valid_file_path(bad), "{bad}");
        }
        assert!(valid_method("sendMessage") && !valid_method("send/Message") && !valid_method(""));
    }

    #[test]
    fn the_chat_of_a_send_is_read_without_parsing_the_request() {
        let json = "application/json; charset=utf-8";
        // The top-level field only: a reply to another chat names that chat deeper down.
        let body = br#"{"reply_parameters":{"chat_id":-1009,"message_id":3},"text":"\"chat_id\": 1","chat_id":-100123}"#;
        assert_eq!(chat_id_of(json, None, body), Some(-100123));
        assert_eq!(chat_id_of(json, None, br#"{"chat_id":"42"}"#), Some(42));
        assert_eq!(chat_id_of(json, None, br#"{"chat_id":"@news"}"#), None);
        assert_eq!(chat_id_of(json, None, br#"{"text":"x"}"#), None);
        let form = "application/x-www-form-urlencoded";
        assert_eq!(
            chat_id_of(form, None, b"text=a%26chat_id%3D1&chat_id=%2D77"),
            Some(-77)
        );
        assert_eq!(chat_id_of("", Some("text=hi&chat_id=5"), b""), Some(5));
        let multipart = "multipart/form-data; boundary=XX";
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n-100500\r\n--XX--\r\n";
        assert_eq!(chat_id_of(multipart, None, body), Some(-100500));
        assert_eq!(chat_id_of("text/plain", None, b"chat_id=1"), None);
        assert!(sends("sendmessage") && sends("copymessages") && !sends("getme"));
        assert!(!sends("sendchataction"));
    }
}
