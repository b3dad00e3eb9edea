//! End to end: the parallel connection. A bot "backend" written here talks to Hotline's
//! Bot API gateway (`http://{addr}/bot<token>/…`) exactly as it would talk to Telegram,
//! in getUpdates and webhook modes; everything it sends to users shows in their topics
//! marked as intercepted, operators step in, and hostile requests never hurt.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{
    spawn_app_unlimited, spawn_unlimited_with_connection, text_of, TestApp, DEADLINE,
    GATEWAY_BOT_NO_RETRY,
};
use serde_json::{json, Value};
use tg_emulator::control::Place;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Everything Hotline logs in this test process, to check that no token leaks.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("hotline=trace,tg_emulator=off")
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init();
        buf
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn start(params: &str) -> TestApp {
    logs();
    spawn_app_unlimited(GATEWAY_BOT_NO_RETRY, params).await
}

/// A Hotline whose gateway accepts the test receivers' plain `http://127.0.0.1:port` webhooks.
async fn start_plain_http(params: &str) -> TestApp {
    logs();
    spawn_unlimited_with_connection(
        GATEWAY_BOT_NO_RETRY,
        "gateway_plain_http_webhooks = true",
        params,
    )
    .await
}

/// The company's existing bot: a plain HTTP client of the Bot API, pointed at Hotline.
struct Backend {
    http: reqwest::Client,
    base: String,
    offset: i64,
}

impl Backend {
    fn new(t: &TestApp) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://{}/bot{}", t.app().addr, t.token),
            offset: 0,
        }
    }

    async fn call(&self, method: &str, params: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/{method}", self.base))
            .json(&params)
            .send()
            .await
            .expect("gateway answers");
        let status = r.status().as_u16();
        (status, r.json().await.expect("JSON answer"))
    }

    async fn ok(&self, method: &str, params: Value) -> Value {
        let (status, body) = self.call(method, params).await;
        assert_eq!(
            (status, body["ok"].as_bool()),
            (200, Some(true)),
            "{method}: {body}"
        );
        body["result"].clone()
    }

    async fn multipart(&self, method: &str, form: reqwest::multipart::Form) -> Value {
        let r = self
            .http
            .post(format!("{}/{method}", self.base))
            .multipart(form)
            .send()
            .await
            .expect("gateway answers");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["ok"], true, "{method}: {body}");
        body["result"].clone()
    }

    /// Long-polls (confirming what it saw) until an update matches, returning it.
    async fn next(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            let got = self
                .ok("getUpdates", json!({"offset": self.offset, "timeout": 2}))
                .await;
            for u in got.as_array().unwrap() {
                self.offset = u["update_id"].as_i64().unwrap() + 1;
                if pred(u) {
                    return u.clone();
                }
            }
        }
        panic!("the backend never got {what}");
    }
}

fn is_text(u: &Value, text: &str) -> bool {
    u["message"]["text"] == text
}

fn in_group(u: &Value, group: i64) -> bool {
    u.as_object()
        .unwrap()
        .values()
        .any(|v| v["chat"]["id"] == group || v["message"]["chat"]["id"] == group)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn polling_bot_works_through_the_gateway_and_is_mirrored() {
    let t = start("").await;
    let mut bot = Backend::new(&t);
    let ann = t.person("Ann");
    t.user_says(ann, "hi");
    let u = bot.next("Ann's hi", |u| is_text(u, "hi")).await;
    assert_eq!(u["message"]["from"]["id"], ann);
    let thread = t.wait_topic("Ann").await;

    // Text with buttons: callback buttons listed, url buttons kept.
    let keyboard = json!({"inline_keyboard": [[{"text": "Buy", "callback_data": "buy"}, {"text": "Help", "callback_data": "help"}],
                                               [{"text": "Site", "url": "https://example.com"}]]});
    let sent = bot
        .ok(
            "sendMessage",
            json!({"chat_id": ann, "text": "Hello from the bot", "reply_markup": keyboard}),
        )
        .await;
    assert_eq!(
        sent["chat"]["id"], ann,
        "Telegram's answer comes back unchanged"
    );
    let copy = t.wait_in_topic(thread, "🤖 Hello from the bot").await;
    assert!(
        text_of(&copy).contains("[Buy] [Help]"),
        "callback buttons listed: {copy}"
    );
    assert_eq!(
        copy["reply_markup"]["inline_keyboard"][0][0]["url"],
        "https://example.com"
    );
    t.wait_in_user_chat(ann, "Hello from the bot").await;

    // A photo uploaded as multipart, and an album.
    let photo = reqwest::multipart::Part::bytes(b"jpeg bytes".to_vec())
        .file_name("p.jpg")
        .mime_str("image/jpeg")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("chat_id", ann.to_string())
        .text("caption", "Our catalogue")
        .part("photo", photo);
    bot.multipart("sendPhoto", form).await;
    let pic = t.wait_in_topic(thread, "🤖 Our catalogue").await;
    assert!(pic["photo"].is_array());
    let part = |n: &str| {
        reqwest::multipart::Part::bytes(n.as_bytes().to_vec())
            .file_name(format!("{n}.jpg"))
            .mime_str("image/jpeg")
            .unwrap()
    };
    let media = json!([{"type": "photo", "media": "attach://a", "caption": "Two views"}, {"type": "photo", "media": "attach://b"}]);
    let form = reqwest::multipart::Form::new()
        .text("chat_id", ann.to_string())
        .text("media", media.to_string())
        .part("a", part("a"))
        .part("b", part("b"));
    let album = bot.multipart("sendMediaGroup", form).await;
    assert_eq!(album.as_array().unwrap().len(), 2);
    let first = t.wait_in_topic(thread, "🤖 Two views").await;
    let group_id = first["media_group_id"]
        .as_str()
        .expect("mirrored as an album")
        .to_string();
    t.wait_until("both album parts", || {
        t.topic(Some(thread))
            .iter()
            .filter(|m| m["media_group_id"] == group_id.as_str())
            .count()
            == 2
    })
    .await;

    // The user presses a button: the backend gets the callback and answers it.
    let press = t
        .ctl
        .press(
            ann,
            Place::Bot(t.bot),
            sent["message_id"].as_i64().unwrap(),
            "buy",
        )
        .unwrap();
    let cb = bot
        .next("the callback query", |u| {
            u["callback_query"]["data"] == "buy"
        })
        .await;
    assert_eq!(cb["callback_query"]["from"]["id"], ann);
    bot.ok(
        "answerCallbackQuery",
        json!({"callback_query_id": cb["callback_query"]["id"], "text": "Added to cart"}),
    )
    .await;
    assert_eq!(
        t.ctl.callback_answer(&press).unwrap()["text"],
        "Added to cart"
    );
    // ... and edits its message: the topic copy is edited too.
    bot.ok(
        "editMessageText",
        json!({"chat_id": ann, "message_id": sent["message_id"], "text": "Bought!"}),
    )
    .await;
    t.wait_until("the copy edited", || {
        t.topic(Some(thread))
            .iter()
            .any(|m| m["message_id"] == copy["message_id"] && text_of(m).starts_with("🤖 Bought!"))
    })
    .await;

    // An operator steps in; the user gets the answer, the backend never sees it.
    t.operator_says(thread, "Hi Ann, Olga from support here");
    t.wait_in_user_chat(ann, "Olga from support").await;
    t.user_says(ann, "thanks Olga");
    t.wait_in_topic(thread, "thanks Olga").await;
    let mut seen = Vec::new();
    let u = bot.next("thanks Olga", |u| is_text(u, "thanks Olga")).await;
    seen.push(u);
    // The bot keeps working alongside the team.
    bot.ok(
        "sendMessage",
        json!({"chat_id": ann, "text": "Bot still here"}),
    )
    .await;
    t.wait_in_topic(thread, "🤖 Bot still here").await;
    let rest = bot
        .ok("getUpdates", json!({"offset": bot.offset, "timeout": 0}))
        .await;
    seen.extend(rest.as_array().unwrap().iter().cloned());
    assert!(
        !seen.iter().any(|u| in_group(u, t.group)),
        "no group update reaches the backend: {seen:?}"
    );
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_updates_has_telegrams_semantics_and_survives_a_restart() {
    let mut t = start("").await;
    let mut bot = Backend::new(&t);
    let ann = t.person("Ann");
    for text in ["one", "two", "three"] {
        t.user_says(ann, text);
    }
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "three").await;
    let texts = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| u["message"]["text"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };

    let two = bot.ok("getUpdates", json!({"limit": 2})).await;
    assert_eq!(texts(&two), ["one", "two"]);
    let id1 = two[0]["update_id"].as_i64().unwrap();
    // Not confirmed yet: asked again, the same come back.
    assert_eq!(
        texts(&bot.ok("getUpdates", json!({"limit": 2})).await),
        ["one", "two"]
    );
    assert_eq!(
        texts(&bot.ok("getUpdates", json!({"offset": id1 + 1})).await),
        ["two", "three"]
    );
    // A negative offset keeps only the last ones; form encoding and odd method case work.
    let r = bot
        .http
        .post(format!("{}/GETUPDATES", bot.base))
        .form(&[("offset", "-1")])
        .send()
        .await
        .unwrap();
    let last: Value = r.json().await.unwrap();
    assert_eq!(texts(&last["result"]), ["three"]);
    let id3 = last["result"][0]["update_id"].as_i64().unwrap();
    assert!(bot
        .ok("getUpdates", json!({"offset": id3 + 1}))
        .await
        .as_array()
        .unwrap()
        .is_empty());

    // A long poll wakes as soon as an update arrives.
    let poll = {
        let (http, base) = (bot.http.clone(), bot.base.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let r: Value = http
                .post(format!("{base}/getUpdates"))
                .json(&json!({"offset": id3 + 1, "timeout": 30}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (started.elapsed(), r)
        })
    };
    tokio::task::yield_now().await;
    t.user_says(ann, "four");
    let (took, r) = poll.await.unwrap();
    assert_eq!(texts(&r["result"]), ["four"]);
    assert!(
        took < Duration::from_secs(10),
        "woken at once, not at the timeout ({took:?})"
    );
    let id4 = r["result"][0]["update_id"].as_i64().unwrap();

    // Two pollers: the older one is terminated with Telegram's 409.
    let older = {
        let (http, base) = (bot.http.clone(), bot.base.clone());
        tokio::spawn(async move {
            let r = http
                .post(format!("{base}/getUpdates"))
                .json(&json!({"offset": id4 + 1, "timeout": 30}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    let deadline = Instant::now() + DEADLINE;
    while !older.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the older poll was never terminated"
        );
        bot.ok("getUpdates", json!({"offset": id4 + 1, "timeout": 0}))
            .await;
        tokio::task::yield_now().await;
    }
    let (status, body) = older.await.unwrap();
    assert_eq!(status, 409);
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 409, "description": "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"})
    );

    // allowed_updates is sticky: later calls without it keep filtering.
    assert!(bot
        .ok(
            "getUpdates",
            json!({"offset": id4 + 1, "allowed_updates": ["callback_query"]})
        )
        .await
        .as_array()
        .unwrap()
        .is_empty());
    t.user_says(ann, "five");
    t.wait_in_topic(thread, "five").await;
    assert!(
        bot.ok("getUpdates", json!({"offset": id4 + 1}))
            .await
            .as_array()
            .unwrap()
            .is_empty(),
        "messages filtered out"
    );
    let five = bot
        .ok(
            "getUpdates",
            json!({"offset": id4 + 1, "allowed_updates": ["message"]}),
        )
        .await;
    assert_eq!(texts(&five), ["five"]);
    let id5 = five[0]["update_id"].as_i64().unwrap();
    bot.ok("getUpdates", json!({"offset": id5 + 1})).await;

    // A poll waiting during a stop is answered at once instead of holding the stop up.
    let waiting = {
        let (http, base) = (bot.http.clone(), bot.base.clone());
        tokio::spawn(async move {
            let r = http
                .post(format!("{base}/getUpdates"))
                .json(&json!({"offset": id5 + 1, "timeout": 120}))
                .send()
                .await
                .ok()?;
            Some((r.status().as_u16(), r.json::<Value>().await.ok()?))
        })
    };
    tokio::task::yield_now().await;
    let stopping = Instant::now();
    // A restart neither re-delivers confirmed updates nor forgets allowed_updates.
    t.restart().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(30),
        "the stop waited for a long poll"
    );
    // A poll that was waiting ends empty; one that reached the instance after it handed
    // its connection back (the spawned poll races the stop) gets the hop's 429 at once:
    // not executed, retry after 2 s.
    if let Some((status, body)) = waiting.await.unwrap() {
        match status {
            429 => assert_eq!(body["parameters"]["retry_after"], json!(2), "{body}"),
            _ => assert_eq!((status, body["result"].clone()), (200, json!([]))),
        }
    }
    bot = Backend::new(&t);
    assert!(
        bot.ok("getUpdates", json!({}))
            .await
            .as_array()
            .unwrap()
            .is_empty(),
        "confirmed updates stay confirmed"
    );
    t.user_says(ann, "six");
    let six = bot.next("six", |u| is_text(u, "six")).await;
    assert!(six["update_id"].as_i64().unwrap() > id5);
}

/// What the receiver got: the secret header and the update, in arrival order.
type Pushes = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A tiny webhook receiver: records what arrives and answers with a webhook reply.
struct Receiver {
    url: String,
    got: Pushes,
    failing: Arc<AtomicBool>,
}

impl Receiver {
    /// How many pushed updates carry a message with this text.
    fn pushed(&self, text: &str) -> usize {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, u)| is_text(u, text))
            .count()
    }
}

async fn receiver() -> Receiver {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    let got: Pushes = Arc::default();
    let failing = Arc::new(AtomicBool::new(false));
    let (g, f) = (got.clone(), failing.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, axum::Json(update): axum::Json<Value>| {
            let (g, f) = (g.clone(), f.clone());
            async move {
                if f.load(Ordering::SeqCst) {
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
                let secret = headers.get("x-telegram-bot-api-secret-token").map(|v| v.to_str().unwrap().to_string());
                g.lock().unwrap().push((secret, update.clone()));
                match update["message"]["text"].as_str() {
                    // grammY/telegraf style: answer the webhook with a method call.
                    Some(text) => axum::Json(json!({"method": "sendMessage", "chat_id": update["message"]["chat"]["id"], "text": format!("echo: {text}")})).into_response(),
                    None => StatusCode::OK.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, got, failing }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_mode_pushes_in_order_with_the_secret_and_runs_replies() {
    let mut t = start_plain_http("").await;
    let bot = Backend::new(&t);
    let hook = receiver().await;
    let (status, body) = bot
        .call(
            "setWebhook",
            json!({"url": hook.url, "secret_token": "bad secret!"}),
        )
        .await;
    assert_eq!(
        (status, body["description"].as_str()),
        (
            400,
            Some("Bad Request: secret token contains unallowed characters")
        )
    );
    let (_, set) = bot
        .call(
            "setWebhook",
            json!({"url": hook.url, "secret_token": "s3cret_token"}),
        )
        .await;
    assert_eq!(
        set,
        json!({"ok": true, "result": true, "description": "Webhook was set"})
    );
    let (status, body) = bot.call("getUpdates", json!({})).await;
    assert_eq!(status, 409);
    assert_eq!(body["description"], "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");

    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    t.wait_until("the update pushed", || hook.pushed("hello") > 0)
        .await;
    assert!(
        hook.got
            .lock()
            .unwrap()
            .iter()
            .all(|(s, _)| s.as_deref() == Some("s3cret_token")),
        "secret header on every push"
    );
    // The webhook's answer was executed (and mirrored like any call).
    t.wait_in_user_chat(ann, "echo: hello").await;
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "🤖 echo: hello").await;

    // The receiver fails: the error is reported, the update stays pending, then arrives.
    hook.failing.store(true, Ordering::SeqCst);
    t.user_says(ann, "second");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let info = bot.ok("getWebhookInfo", json!({})).await;
        if info["last_error_message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Wrong response from the webhook: 500"))
        {
            assert_eq!(info["url"], hook.url.as_str());
            assert_eq!(info["pending_update_count"], 1);
            assert!(info["last_error_date"].as_i64().unwrap() > 0);
            break;
        }
        assert!(Instant::now() < deadline, "no error reported: {info}");
        tokio::task::yield_now().await;
    }
    t.user_says(ann, "third");
    hook.failing.store(false, Ordering::SeqCst);
    t.wait_until("both delivered", || {
        hook.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, u)| u.get("message").is_some())
            .count()
            == 3
    })
    .await;
    let order: Vec<String> = hook
        .got
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, u)| u["message"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(order, ["hello", "second", "third"], "in order");
    t.wait_in_user_chat(ann, "echo: third").await;

    // The webhook survives a restart.
    t.restart().await;
    let bot = Backend::new(&t);
    let info = bot.ok("getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], hook.url.as_str());
    t.user_says(ann, "after restart");
    t.wait_until("pushed after restart", || hook.pushed("after restart") > 0)
        .await;
    assert_eq!(hook.pushed("hello"), 1, "nothing re-delivered");

    let (_, del) = bot
        .call("deleteWebhook", json!({"drop_pending_updates": true}))
        .await;
    assert_eq!(
        del,
        json!({"ok": true, "result": true, "description": "Webhook was deleted"})
    );
    assert_eq!(bot.ok("getWebhookInfo", json!({})).await["url"], "");
    assert!(
        bot.ok("getUpdates", json!({}))
            .await
            .as_array()
            .unwrap()
            .is_empty(),
        "dropped pending updates"
    );
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_keywords_gate_the_mirroring() {
    let t = start(r#"PRIVATE_KEYWORDS = '"operator"'"#).await;
    let mut bot = Backend::new(&t);
    let ann = t.person("Ann");
    t.user_says(ann, "what are your hours?");
    bot.next("the question", |u| is_text(u, "what are your hours?"))
        .await;
    bot.ok(
        "sendMessage",
        json!({"chat_id": ann, "text": "We are open 9-18"}),
    )
    .await;
    t.wait_in_user_chat(ann, "open 9-18").await;
    assert!(t.topics().is_empty(), "the bot talks alone: no topic");

    t.user_says(ann, "operator please");
    bot.next("the trigger", |u| is_text(u, "operator please"))
        .await;
    bot.ok(
        "sendMessage",
        json!({"chat_id": ann, "text": "Connecting you to a human"}),
    )
    .await;
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "🤖 Connecting you to a human")
        .await;
    t.wait_in_topic(thread, "operator please").await;
    assert!(
        !t.topic(Some(thread))
            .iter()
            .any(|m| text_of(m).contains("open 9-18")),
        "nothing mirrored before the dialog opened: {:#?}",
        t.topic(Some(thread))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn intercept_external_off_stops_mirroring() {
    let t = start("INTERCEPT_EXTERNAL = false").await;
    let mut bot = Backend::new(&t);
    let ann = t.person("Ann");
    t.user_says(ann, "hi");
    bot.next("hi", |u| is_text(u, "hi")).await;
    let thread = t.wait_topic("Ann").await;
    bot.ok(
        "sendMessage",
        json!({"chat_id": ann, "text": "not recorded"}),
    )
    .await;
    t.user_says(ann, "later");
    t.wait_in_topic(thread, "later").await;
    assert!(!t
        .topic(Some(thread))
        .iter()
        .any(|m| text_of(m).contains("not recorded")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_50_mb_upload_streams_through_and_files_download() {
    let t = start("").await;
    let mut bot = Backend::new(&t);
    let ann = t.person("Ann");
    t.user_says(ann, "send me the manual");
    bot.next("the request", |u| is_text(u, "send me the manual"))
        .await;
    let thread = t.wait_topic("Ann").await;

    // 50 MB generated chunk by chunk: the gateway streams it to Telegram as it arrives
    // (forward.rs: reqwest::Body::wrap_stream), never holding it whole.
    const SIZE: usize = 50 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let chunks = futures::stream::iter(
        (0..SIZE / CHUNK).map(|i| Ok::<_, std::io::Error>(vec![(i % 251) as u8; CHUNK])),
    );
    let file = reqwest::multipart::Part::stream_with_length(
        reqwest::Body::wrap_stream(chunks),
        SIZE as u64,
    )
    .file_name("manual.pdf")
    .mime_str("application/pdf")
    .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("chat_id", ann.to_string())
        .text("caption", "The manual")
        .part("document", file);
    let doc = bot.multipart("sendDocument", form).await;
    assert_eq!(doc["document"]["file_size"], SIZE, "every byte arrived");
    t.wait_in_topic(thread, "🤖 The manual").await;

    // A small file downloads through /file/bot<token>/<path>, byte for byte.
    let small = reqwest::multipart::Part::bytes(b"hello file".to_vec())
        .file_name("a.txt")
        .mime_str("text/plain")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("chat_id", ann.to_string())
        .part("document", small);
    let doc = bot.multipart("sendDocument", form).await;
    let f = bot
        .ok("getFile", json!({"file_id": doc["document"]["file_id"]}))
        .await;
    let url = format!(
        "http://{}/file/bot{}/{}",
        t.app().addr,
        t.token,
        f["file_path"].as_str().unwrap()
    );
    let bytes = bot
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"hello file");
}

/// Sends raw bytes (closing the writing side when `cut`) and returns the raw answer.
async fn raw(addr: std::net::SocketAddr, request: &[u8], cut: bool) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(request).await;
    if cut {
        // Half-close: the request is cut short, the server must let go.
        let _ = s.shutdown().await;
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_tokens_get_401_and_hostile_input_never_hurts_or_leaks() {
    let t = start("").await;
    let bot = Backend::new(&t);
    let addr = t.app().addr;
    let http = reqwest::Client::new();
    let unauthorized = json!({"ok": false, "error_code": 401, "description": "Unauthorized"});
    for url in [
        format!("http://{addr}/bot123:nope/getMe"),
        format!("http://{addr}/file/bot123:nope/documents/a.txt"),
        format!("http://{addr}/bot/getMe"),
    ] {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        assert_eq!(r.json::<Value>().await.unwrap(), unauthorized);
    }
    // Method names are case-insensitive; the method may come as a parameter.
    assert_eq!(bot.ok("GetMe", json!({})).await["id"], t.bot);
    let r: Value = http
        .post(format!("{}/", bot.base))
        .json(&json!({"method": "getMe"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["result"]["id"], t.bot);
    let r = http
        .get(format!("{}/getMe?x=1", bot.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let mut answers = Vec::new();
    let mut check = |status: u16, body: String, expect: u16| {
        assert_eq!(status, expect, "{body}");
        answers.push(body);
    };
    // Unknown methods, odd paths, malformed bodies.
    for (path, ctype, body, expect) in [
        ("noSuchMethod", "application/json", "{}".to_string(), 404),
        ("send/Message", "application/json", "{}".to_string(), 404),
        ("sendMe$$age", "application/json", "{}".to_string(), 404),
        (
            "getUpdates",
            "application/json",
            "{not json".to_string(),
            400,
        ),
        ("getUpdates", "application/json", "[1,2]".to_string(), 400),
        (
            "getUpdates",
            "multipart/form-data; boundary=xyz",
            "--xyz\r\ngarbage".to_string(),
            400,
        ),
        (
            "getUpdates",
            "application/json",
            format!("{{\"offset\": \"{}\"}}", "9".repeat(40)),
            400,
        ),
        (
            "getUpdates",
            "application/json",
            "x".repeat(2 * 1024 * 1024),
            413,
        ),
        (
            "setWebhook",
            "application/json",
            r#"{"url": "ftp://x"}"#.to_string(),
            400,
        ),
        (
            "sendMessage",
            "application/json",
            "{not json".to_string(),
            400,
        ),
        (
            "sendMessage",
            "application/x-www-form-urlencoded",
            "chat_id=%ZZ&&=".to_string(),
            400,
        ),
    ] {
        let r = http
            .post(format!("{}/{path}", bot.base))
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        check(status, r.text().await.unwrap(), expect);
    }
    // Path traversal and escapes in file paths never leave Hotline.
    for path in [
        "../../etc/passwd",
        "documents/../../x",
        "%2e%2e/%2e%2e/etc/passwd",
        "a\\..\\b",
        "documents//x",
    ] {
        let req = format!(
            "GET /file/bot{}/{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            t.token
        );
        let answer = raw(addr, req.as_bytes(), false).await;
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
        answers.push(answer);
    }
    // Huge headers and garbage requests are refused by the HTTP layer.
    let huge = format!(
        "GET /bot{}/getMe HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        t.token,
        "a".repeat(1024 * 1024)
    );
    answers.push(raw(addr, huge.as_bytes(), false).await);
    answers.push(raw(addr, b"\x00\x01garbage\r\n\r\n", false).await);
    answers.push(raw(addr, format!("POST /bot{}/sendMessage HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"chat", t.token).as_bytes(), true).await);

    // Still serving, and the token appears in no answer and no log line.
    assert_eq!(bot.ok("getMe", json!({})).await["id"], t.bot);
    assert_eq!(
        http.get(format!("http://{addr}/health"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let secret = t.token.split(':').nth(1).unwrap();
    for a in &answers {
        assert!(!a.contains(secret), "token leaked in an answer: {a}");
    }
    let logged = String::from_utf8_lossy(&logs().lock().unwrap()).to_string();
    assert!(!logged.is_empty(), "logs are captured");
    assert!(!logged.contains(secret), "token leaked in the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn percent_encoded_paths_are_decoded_like_telegram() {
    let t = start("").await;
    let bot = Backend::new(&t);
    let ann = t.person("Ann");
    t.user_says(ann, "hi");
    let addr = t.app().addr;
    // python-telegram-bot escapes the token's colon in the URLs it builds.
    let escaped = t.token.replace(':', "%3A");
    let http = reqwest::Client::new();
    let me: Value = http
        .post(format!("http://{addr}/bot{escaped}/getMe"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["result"]["id"], t.bot, "{me}");
    // A percent-encoded method name is decoded too.
    let me: Value = http
        .get(format!("http://{addr}/bot{escaped}/get%4De"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["result"]["id"], t.bot, "{me}");

    // A python-telegram-bot style download: getFile, then GET base_file_url + token + path
    // with the colon escaped.
    let photo = reqwest::multipart::Part::bytes(b"jpeg bytes".to_vec())
        .file_name("p.jpg")
        .mime_str("image/jpeg")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("chat_id", ann.to_string())
        .part("photo", photo);
    let sent = bot.multipart("sendPhoto", form).await;
    let biggest = sent["photo"].as_array().unwrap().last().unwrap().clone();
    let f = bot
        .ok("getFile", json!({"file_id": biggest["file_id"]}))
        .await;
    let file_path = f["file_path"].as_str().unwrap();
    let r = http
        .get(format!("http://{addr}/file/bot{escaped}/{file_path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], b"jpeg bytes");

    // Decoding never lets an unknown token or an escaped traversal through.
    let r = http
        .get(format!("http://{addr}/bot123%3Anope/getMe"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let req = format!(
        "GET /file/bot{escaped}/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let answer = raw(addr, req.as_bytes(), false).await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_webhook_validates_like_telegram() {
    let t = start("").await;
    let bot = Backend::new(&t);
    let refused = |body: &Value| body["description"].as_str().unwrap_or("").to_string();
    // Telegram's rule by default: HTTPS on 80, 88, 443 or 8443.
    for (url, why) in [
        (
            "http://backend.internal/hook",
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        ),
        (
            "ftp://backend.internal/hook",
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        ),
        (
            "https://backend.internal:8080/hook",
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ),
    ] {
        let (status, body) = bot.call("setWebhook", json!({"url": url})).await;
        assert_eq!((status, refused(&body)), (400, why.to_string()), "{url}");
    }
    // Secrets: 1-256 of A-Z a-z 0-9 _ -.
    let (status, body) = bot
        .call(
            "setWebhook",
            json!({"url": "https://backend.internal/hook", "secret_token": "x".repeat(257)}),
        )
        .await;
    assert_eq!(
        (status, refused(&body)),
        (400, "Bad Request: secret token is too long".to_string())
    );
    let (status, body) = bot
        .call(
            "setWebhook",
            json!({"url": "https://backend.internal/hook", "secret_token": "ünïcode"}),
        )
        .await;
    assert_eq!(
        (status, refused(&body)),
        (
            400,
            "Bad Request: secret token contains unallowed characters".to_string()
        )
    );
    assert_eq!(
        bot.ok("getWebhookInfo", json!({})).await["url"],
        "",
        "nothing set"
    );

    // max_connections is clamped to 1..100, 40 when absent.
    for (given, kept) in [
        (json!(null), 40),
        (json!(0), 1),
        (json!(1000), 100),
        (json!("7"), 7),
    ] {
        let mut params =
            json!({"url": "https://backend.internal:8443/hook", "secret_token": "x".repeat(256)});
        if !given.is_null() {
            params["max_connections"] = given.clone();
        }
        let (status, body) = bot.call("setWebhook", params).await;
        assert_eq!(
            (status, body["ok"].clone()),
            (200, json!(true)),
            "{given}: {body}"
        );
        let info = bot.ok("getWebhookInfo", json!({})).await;
        assert_eq!(info["max_connections"], kept, "{given}: {info}");
    }
    let (_, del) = bot.call("deleteWebhook", json!({})).await;
    assert_eq!(
        del,
        json!({"ok": true, "result": true, "description": "Webhook was deleted"})
    );
    let (_, del) = bot.call("deleteWebhook", json!({})).await;
    assert_eq!(
        del,
        json!({"ok": true, "result": true, "description": "Webhook is already deleted"})
    );
    let (_, set) = bot
        .call(
            "setWebhook",
            json!({"url": "https://backend.internal/hook"}),
        )
        .await;
    assert_eq!(
        set,
        json!({"ok": true, "result": true, "description": "Webhook was set"})
    );
    // An empty url deletes, like Telegram.
    let (_, del) = bot.call("setWebhook", json!({"url": ""})).await;
    assert_eq!(
        del,
        json!({"ok": true, "result": true, "description": "Webhook was deleted"})
    );
}

/// A webhook receiver that answers each update with a method call in the encoding the
/// user's text names: `json …`, `form …` (urlencoded), `multipart …` (aiogram's way, a
/// photo upload included), `getme …` (a method Telegram refuses in a reply) or
/// `nowhere …` (a call Telegram answers with an error).
async fn replying_receiver() -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|axum::Json(update): axum::Json<Value>| async move {
            use axum::response::IntoResponse;
            let chat = update["message"]["chat"]["id"].as_i64().unwrap_or(0);
            let text = update["message"]["text"].as_str().unwrap_or("").to_string();
            let (kind, rest) = text.split_once(' ').unwrap_or((text.as_str(), ""));
            let reply = format!("echo: {rest}");
            match kind {
                "json" => axum::Json(json!({"method": "sendMessage", "chat_id": chat, "text": reply})).into_response(),
                "form" => (
                    [("content-type", "application/x-www-form-urlencoded")],
                    serde_urlencoded::to_string([("method", "sendMessage"), ("chat_id", &chat.to_string()), ("text", &reply)]).unwrap(),
                )
                    .into_response(),
                "multipart" => {
                    let b = "hotline-test-boundary";
                    let mut body = String::new();
                    for (name, value) in [("method", "sendPhoto"), ("chat_id", &chat.to_string()), ("caption", &reply)] {
                        body.push_str(&format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
                    }
                    body.push_str(&format!("--{b}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\njpeg bytes\r\n--{b}--\r\n"));
                    ([("content-type", format!("multipart/form-data; boundary={b}"))], body).into_response()
                }
                "getme" => axum::Json(json!({"method": "getMe"})).into_response(),
                "nowhere" => axum::Json(json!({"method": "sendMessage", "chat_id": 42, "text": reply})).into_response(),
                _ => "OK".into_response(),
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_replies_run_in_json_form_and_multipart_and_failures_are_logged() {
    let t = start_plain_http("").await;
    let bot = Backend::new(&t);
    let url = replying_receiver().await;
    bot.ok("setWebhook", json!({"url": url})).await;
    let ann = t.person("Ann");
    t.user_says(ann, "json one");
    t.wait_in_user_chat(ann, "echo: one").await;
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "🤖 echo: one").await;
    // Form data (aiogram answers this way) and multipart with an upload: executed and
    // mirrored like any call.
    t.user_says(ann, "form two");
    t.wait_in_user_chat(ann, "echo: two").await;
    t.wait_in_topic(thread, "🤖 echo: two").await;
    t.user_says(ann, "multipart three");
    let photo = t.wait_in_user_chat(ann, "echo: three").await;
    assert!(photo["photo"].is_array(), "{photo}");
    let copy = t.wait_in_topic(thread, "🤖 echo: three").await;
    assert!(copy["photo"].is_array(), "{copy}");
    // Replies that cannot be executed are logged with the reason.
    t.user_says(ann, "getme four");
    t.user_says(ann, "nowhere five");
    t.user_says(ann, "plain six");
    let seen = |needle: &str| String::from_utf8_lossy(&logs().lock().unwrap()).contains(needle);
    t.wait_until("the refused method logged", || {
        seen("the webhook's reply was not executed: getMe cannot be called from a webhook reply")
    })
    .await;
    t.wait_until("Telegram's refusal logged", || {
        seen("the webhook's reply was not executed: sendMessage answered 400 Bad Request: chat not found")
    })
    .await;
    t.wait_in_topic(thread, "plain six").await;
    t.assert_conformant();
}

/// A webhook receiver that holds every push until the test lets it go, recording how
/// many are in flight at once (overall and per chat) and the order per chat.
struct GatedReceiver {
    url: String,
    gate: Arc<tokio::sync::Semaphore>,
    state: Arc<Mutex<Gated>>,
}

#[derive(Default)]
struct Gated {
    active: usize,
    max_active: usize,
    active_per_chat: std::collections::HashMap<i64, usize>,
    max_per_chat: usize,
    texts: std::collections::HashMap<i64, Vec<String>>,
}

async fn gated_receiver() -> GatedReceiver {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let state: Arc<Mutex<Gated>> = Arc::default();
    let (g, st) = (gate.clone(), state.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(update): axum::Json<Value>| {
            let (g, st) = (g.clone(), st.clone());
            async move {
                let chat = update["message"]["chat"]["id"].as_i64().unwrap_or(0);
                {
                    let mut s = st.lock().unwrap();
                    s.active += 1;
                    s.max_active = s.max_active.max(s.active);
                    let n = s.active_per_chat.entry(chat).or_default();
                    *n += 1;
                    let n = *n;
                    s.max_per_chat = s.max_per_chat.max(n);
                    let text = update["message"]["text"].as_str().unwrap_or("").to_string();
                    s.texts.entry(chat).or_default().push(text);
                }
                g.acquire().await.unwrap().forget();
                let mut s = st.lock().unwrap();
                s.active -= 1;
                *s.active_per_chat.get_mut(&chat).unwrap() -= 1;
                "OK"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    GatedReceiver { url, gate, state }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_pushes_run_in_parallel_up_to_max_connections_in_order_per_chat() {
    let t = start_plain_http("").await;
    let bot = Backend::new(&t);
    let hook = gated_receiver().await;
    bot.ok("setWebhook", json!({"url": hook.url, "max_connections": 3}))
        .await;
    let users: Vec<i64> = (0..5).map(|i| t.person(&format!("U{i}"))).collect();
    for round in 0..3 {
        for u in &users {
            t.user_says(*u, &format!("m{round}"));
        }
    }
    // Three chats are pushed at once, and no more while they are held; nothing counts as
    // delivered yet.
    t.wait_until("three pushes in flight", || {
        hook.state.lock().unwrap().active == 3
    })
    .await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let info = bot.ok("getWebhookInfo", json!({})).await;
        if info["pending_update_count"] == 15 {
            break;
        }
        assert!(Instant::now() < deadline, "not all pending: {info}");
        tokio::task::yield_now().await;
    }
    assert_eq!(hook.state.lock().unwrap().active, 3);
    hook.gate.add_permits(1000);
    t.wait_until("everything pushed", || {
        hook.state
            .lock()
            .unwrap()
            .texts
            .values()
            .map(Vec::len)
            .sum::<usize>()
            == 15
    })
    .await;
    {
        let s = hook.state.lock().unwrap();
        assert_eq!(
            s.max_active, 3,
            "max_connections is the ceiling, and it is used"
        );
        assert_eq!(s.max_per_chat, 1, "one push at a time per chat");
        for u in &users {
            assert_eq!(s.texts[u], ["m0", "m1", "m2"], "in order per chat");
        }
    }
    let deadline = Instant::now() + DEADLINE;
    loop {
        let info = bot.ok("getWebhookInfo", json!({})).await;
        if info["pending_update_count"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "still pending: {info}");
        tokio::task::yield_now().await;
    }
}

/// Holds back Hotline's writes that fire trigger `name` (`on`, e.g. `BEFORE INSERT ON
/// dialogs`): they fail while the table `test_hold` has a row (it has one on return; delete
/// it to let them through).
async fn hold(db: &sqlx::AnyPool, name: &str, on: &str) {
    sqlx::query("CREATE TABLE test_hold (x INTEGER)")
        .execute(db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO test_hold VALUES (1)")
        .execute(db)
        .await
        .unwrap();
    common::create_trigger(
        db,
        name,
        on,
        "EXISTS (SELECT 1 FROM test_hold)",
        common::TriggerAction::Fail("held by the test"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reply_to_a_first_message_is_always_mirrored_after_it() {
    // The bot answers Ann's very first message before the relay has opened her dialog
    // (held back with a trigger that fails the processor's transaction while it tries),
    // and Ann writes again right after the answer. The mirror decision must count her
    // first message (it came before the call) and not her second (it came after).
    let t = start("").await;
    let mut bot = Backend::new(&t);
    let ann = t.person("Ann");
    let db = t.db_pool().await;
    hold(&db, "test_hold_dialogs", "BEFORE INSERT ON dialogs").await;
    t.user_says(ann, "hi");
    bot.next("Ann's hi", |u| is_text(u, "hi")).await;
    bot.ok(
        "sendMessage",
        json!({"chat_id": ann, "text": "Welcome, Ann!"}),
    )
    .await;
    t.user_says(ann, "hi again");
    bot.next("Ann's hi again", |u| is_text(u, "hi again")).await;
    assert!(t.topics().is_empty(), "the dialog was held back");
    sqlx::query("DELETE FROM test_hold")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;

    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "hi again").await;
    let copy = t.wait_in_topic(thread, "🤖 Welcome, Ann!").await;
    let topic = t.topic(Some(thread));
    let at = |id: &Value| topic.iter().position(|m| &m["message_id"] == id).unwrap();
    let hi = topic
        .iter()
        .find(|m| text_of(m) == "hi")
        .expect("Ann's first message in the topic");
    assert!(
        at(&copy["message_id"]) > at(&hi["message_id"]),
        "the answer shows after the message it answers: {topic:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn journaled_calls_survive_a_restart_and_are_mirrored_once() {
    let mut t = start("").await;
    let mut bot = Backend::new(&t);
    let ann = t.person("Ann");
    t.user_says(ann, "hi");
    bot.next("Ann's hi", |u| is_text(u, "hi")).await;
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "hi").await;
    // Hold the processor (a trigger fails its transactions), so the bot's calls stay in
    // the journal; then restart Hotline with them there.
    let db = t.db_pool().await;
    hold(
        &db,
        "test_hold_updates",
        "BEFORE UPDATE OF processed ON updates",
    )
    .await;
    t.user_says(ann, "tell me more");
    bot.next("Ann's question", |u| is_text(u, "tell me more"))
        .await;
    for n in 1..=3 {
        bot.ok(
            "sendMessage",
            json!({"chat_id": ann, "text": format!("part {n}")}),
        )
        .await;
    }
    let journaled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM gateway_calls")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(journaled, 3, "recorded before the bot got its answers");
    t.restart().await;
    sqlx::query("DELETE FROM test_hold")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    t.user_says(ann, "thanks");
    t.wait_in_topic(thread, "thanks").await;
    for n in 1..=3 {
        t.wait_in_topic(thread, &format!("🤖 part {n}")).await;
    }
    let topic = t.topic(Some(thread));
    let texts: Vec<String> = topic.iter().map(text_of).collect();
    let pos = |s: &str| {
        let found: Vec<usize> = texts
            .iter()
            .enumerate()
            .filter(|(_, t)| t.as_str() == s)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(found.len(), 1, "{s:?} exactly once: {texts:#?}");
        found[0]
    };
    assert!(
        pos("tell me more") < pos("🤖 part 1")
            && pos("🤖 part 1") < pos("🤖 part 2")
            && pos("🤖 part 2") < pos("🤖 part 3"),
        "in call order after the question: {texts:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_in_flight_at_a_graceful_stop_are_mirrored_after_the_restart() {
    // Telegram is slow to answer sendMessage; while two of the bot's sends are in flight
    // Hotline stops gracefully. One client gives up waiting first (its connection closes).
    // Both sends reach Ann, so both must show in her topic after the restart.
    let mut t = start("").await;
    let mut bot = Backend::new(&t);
    let ann = t.person("Ann");
    t.user_says(ann, "hi");
    bot.next("Ann's hi", |u| is_text(u, "hi")).await;
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "hi").await;
    let mut faults = tg_emulator::limits::Faults::default();
    faults.methods.insert(
        "sendMessage".into(),
        tg_emulator::limits::Fault {
            latency_ms: 1500,
            ..Default::default()
        },
    );
    t.emu.set_faults(faults);
    let url = format!("{}/sendMessage", bot.base);
    let impatient = tokio::spawn(
        reqwest::Client::new()
            .post(url.clone())
            .timeout(Duration::from_millis(300))
            .json(&json!({"chat_id": ann, "text": "first part"}))
            .send(),
    );
    let patient = tokio::spawn(
        reqwest::Client::new()
            .post(url)
            .json(&json!({"chat_id": ann, "text": "second part"}))
            .send(),
    );
    assert!(
        impatient.await.unwrap().is_err(),
        "the impatient client gave up before Telegram answered"
    );
    t.stop().await;
    let answered = patient.await.unwrap();
    t.emu.set_faults(tg_emulator::limits::Faults::default());
    t.wait_in_user_chat(ann, "first part").await;
    t.wait_in_user_chat(ann, "second part").await;
    if let Ok(r) = answered {
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["ok"], true, "{body}");
    }
    t.restart().await;
    t.user_says(ann, "thanks");
    t.wait_in_topic(thread, "thanks").await;
    t.wait_in_topic(thread, "🤖 first part").await;
    t.wait_in_topic(thread, "🤖 second part").await;
}
