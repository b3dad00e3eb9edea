//! Webhook intake: Telegram POSTs updates to `/telegram/<connection>`; Hotline checks the
//! secret-token header, commits the update and only then answers 200; a repeated update
//! is processed once.
//!
//! The webhook URL meets Telegram's rule (HTTPS on port 8443); the emulator plays the
//! TLS-terminating proxy in front of Hotline by routing that host to a local address.

mod common;

use hotline::store::testdb::TestDatabase;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use common::{config_toml_url, test_tuning, text_of, wait_until};
use hotline::app;
use hotline::config::Config;
use serde_json::{json, Value};
use tg_emulator::control::Place;
use tg_emulator::Emulator;

const SECRET: &str = "s3cret-Token_1";

/// What the emulator pushed (bodies), and where to forward them.
#[derive(Clone)]
struct Tap {
    hotline: String,
    pushed: Arc<Mutex<Vec<Bytes>>>,
}

async fn forward(State(tap): State<Tap>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    tap.pushed.lock().unwrap().push(body.clone());
    let mut req = reqwest::Client::new().post(&tap.hotline).body(body);
    for name in ["content-type", "x-telegram-bot-api-secret-token"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.as_bytes());
        }
    }
    let status = req.send().await.map(|r| r.status().as_u16()).unwrap_or(502);
    axum::http::StatusCode::from_u16(status).unwrap()
}

/// Stands between the emulator and Hotline: forwards every push and keeps a copy, so the
/// test can repeat one exactly as Telegram does when an answer is lost.
async fn tap(hotline: String) -> (Tap, SocketAddr) {
    let tap = Tap {
        hotline,
        pushed: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/telegram/support", axum::routing::post(forward))
        .with_state(tap.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (tap, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_posted_to_the_webhook_are_checked_stored_and_relayed_once() {
    let emu = Emulator::start_local().await.unwrap();
    let ctl = emu.control();
    let token = "7000001:test-token-support";
    let bot = ctl.add_bot(token, "support_bot", "Support").unwrap();
    let op = ctl.add_user("Olga", None, Some("olga"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    let group = ctl.add_group("Support team", true, Some(op));
    ctl.add_admin_bot(group, bot).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(Some(dir.path())).await;
    let toml = config_toml_url(db.url(), &emu.url(), token, group, "").replace(
        "[connection.params]",
        &format!("mode = \"webhook\"\nwebhook_url = \"https://hotline.test:8443\"\nwebhook_secret = \"{SECRET}\"\n[connection.params]"),
    );
    let config = Config::parse(&toml, dir.path(), |_| None).expect("valid config");
    let running = app::start(&config, test_tuning(&config))
        .await
        .expect("hotline starts");
    assert_eq!(
        ctl.count_calls(bot, "setWebhook"),
        1,
        "Hotline registered its webhook at start"
    );
    let url = format!("http://{}/telegram/support", running.addr);
    let (tap, tap_addr) = tap(url.clone()).await;
    ctl.route_webhook("hotline.test:8443", tap_addr);

    // Telegram pushes a user's message: it reaches a topic.
    let ann = ctl.add_user("Ann", None, Some("ann"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    ctl.send(ann, Place::Bot(bot), &json!({"text": "via the webhook"}))
        .unwrap();
    let copies = || {
        ctl.topics(group)
            .iter()
            .filter_map(|t| t["message_thread_id"].as_i64())
            .flat_map(|t| ctl.topic_transcript(group, Some(t)))
            .filter(|m| text_of(m) == "via the webhook")
            .count()
    };
    wait_until("the message relayed into a topic", || copies() == 1).await;
    let pushed: Value = tap
        .pushed
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_slice::<Value>(b).unwrap())
        .find(|u| u["message"]["text"] == "via the webhook")
        .expect("the emulator pushed the message");

    let http = reqwest::Client::new();
    let post = |secret: Option<&'static str>, body: Value| {
        let mut req = http.post(&url).json(&body);
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        req.send()
    };
    assert_eq!(
        post(None, pushed.clone()).await.unwrap().status(),
        401,
        "no secret"
    );
    assert_eq!(
        post(Some("wrong"), pushed.clone()).await.unwrap().status(),
        401,
        "wrong secret"
    );
    assert_eq!(
        post(Some(SECRET), json!({"no": "update id"}))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        post(Some(SECRET), pushed.clone()).await.unwrap().status(),
        200,
        "Telegram may repeat an update"
    );
    let unknown = http
        .post(format!("http://{}/telegram/nope", running.addr))
        .json(&pushed)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // The repeated update changed nothing: still exactly one copy once the queue is idle.
    ctl.send(ann, Place::Bot(bot), &json!({"text": "second"}))
        .unwrap();
    wait_until("the second message relayed", || {
        ctl.topics(group)
            .iter()
            .filter_map(|t| t["message_thread_id"].as_i64())
            .any(|t| {
                ctl.topic_transcript(group, Some(t))
                    .iter()
                    .any(|m| text_of(m) == "second")
            })
    })
    .await;
    assert_eq!(copies(), 1, "a repeated update is processed once");
    assert!(
        emu.violations().is_empty(),
        "conformance: {:?}",
        emu.violations()
    );
    running.stop().await;
}
