//! Update delivery: getUpdates (offsets, limit, long polling, sticky allowed_updates,
//! 409s) and webhooks (Telegram's URL rules, routes and the plain-HTTP switch, secret
//! header, retries, getWebhookInfo, concurrency per chat, replies executed).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use common::{id, mid, wait_until, wait_until_async, Env, BOT};
use serde_json::{json, Value};
use tg_emulator::control::Place;

const SECS: Duration = Duration::from_secs(5);

#[tokio::test]
async fn offsets_limit_and_negative_offset() {
    let env = Env::new().await;
    for i in 0..5 {
        env.person_to_bot(env.alice, json!({"text": format!("m{i}")}));
    }
    let all = env.ok("getUpdates", json!({})).await;
    let all = all.as_array().unwrap().clone();
    assert_eq!(all.len(), 5);
    let ids: Vec<i64> = all
        .iter()
        .map(|u| u["update_id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
    // Unconfirmed updates come again; limit cuts.
    let two = env.ok("getUpdates", json!({"limit": 2})).await;
    assert_eq!(two.as_array().unwrap().len(), 2);
    assert_eq!(two[0]["update_id"], json!(ids[0]));
    // Confirming by offset drops what is below it.
    let rest = env.ok("getUpdates", json!({"offset": ids[2]})).await;
    assert_eq!(rest.as_array().unwrap().len(), 3);
    assert_eq!(rest[0]["message"]["text"], json!("m2"));
    // A negative offset keeps only the last |offset|.
    let last = env.ok("getUpdates", json!({"offset": -1})).await;
    assert_eq!(last.as_array().unwrap().len(), 1);
    assert_eq!(last[0]["message"]["text"], json!("m4"));
    let none = env.ok("getUpdates", json!({"offset": ids[4] + 1})).await;
    assert_eq!(none, json!([]));
    assert_eq!(
        env.err("getUpdates", json!({"offset": "abc"})).await,
        (400, "Bad Request: invalid offset specified".into())
    );
    assert_eq!(
        env.err("getUpdates", json!({"allowed_updates": "[oops"}))
            .await,
        (
            400,
            "Bad Request: can't parse allowed updates JSON object".into()
        )
    );
    env.done();
}

#[tokio::test]
async fn long_poll_wakes_when_an_update_arrives_and_times_out_empty() {
    let env = Env::new().await;
    let started = Instant::now();
    let empty = env.ok("getUpdates", json!({"timeout": 1})).await;
    assert_eq!(empty, json!([]));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited the timeout"
    );

    let env = Arc::new(env);
    let poller = {
        let env = env.clone();
        tokio::spawn(async move { env.ok("getUpdates", json!({"timeout": 30})).await })
    };
    assert!(wait_until(SECS, || env.ctl.is_polling(BOT)).await);
    let started = Instant::now();
    env.person_to_bot(env.alice, json!({"text": "wake up"}));
    let got = tokio::time::timeout(SECS, poller)
        .await
        .expect("woken")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(got[0]["message"]["text"], json!("wake up"));
    assert!(!env.ctl.is_polling(BOT));
    Arc::try_unwrap(env).ok().unwrap().done();
}

#[tokio::test]
async fn the_older_of_two_pollers_gets_409() {
    let env = Arc::new(Env::new().await);
    let older = {
        let env = env.clone();
        tokio::spawn(async move { env.call("getUpdates", json!({"timeout": 30})).await })
    };
    assert!(wait_until(SECS, || env.ctl.is_polling(BOT)).await);
    let newer = env.ok("getUpdates", json!({"timeout": 0})).await;
    assert_eq!(newer, json!([]));
    let (status, body) = tokio::time::timeout(SECS, older).await.unwrap().unwrap();
    assert_eq!(status, 409);
    assert_eq!(body["ok"], json!(false));
    assert_eq!(body["error_code"], json!(409));
    assert_eq!(
        body["description"],
        json!("Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
    );
    Arc::try_unwrap(env).ok().unwrap().done();
}

#[tokio::test]
async fn allowed_updates_are_sticky() {
    let env = Env::new().await;
    let kb = json!({"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]});
    let m = env
        .ok(
            "sendMessage",
            json!({"chat_id": env.alice, "text": "menu", "reply_markup": kb}),
        )
        .await;
    assert_eq!(
        env.ok("getUpdates", json!({"allowed_updates": ["callback_query"]}))
            .await,
        json!([])
    );
    env.person_to_bot(env.alice, json!({"text": "filtered out"}));
    env.ctl
        .press(env.alice, Place::Bot(BOT), mid(&m), "go")
        .unwrap();
    // No allowed_updates now: the last filter still applies.
    let got = env.updates().await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].get("callback_query").is_some());
    // JSON text form, as form transports send it.
    let as_text = json!(["message"]).to_string();
    env.ok("getUpdates", json!({"allowed_updates": as_text}))
        .await;
    env.ctl
        .press(env.alice, Place::Bot(BOT), mid(&m), "go")
        .unwrap();
    env.person_to_bot(env.alice, json!({"text": "in"}));
    let got = env.updates().await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["message"]["text"], json!("in"));
    // An empty list means the default set again.
    env.ok("getUpdates", json!({"allowed_updates": []})).await;
    env.ctl
        .press(env.alice, Place::Bot(BOT), mid(&m), "go")
        .unwrap();
    env.person_to_bot(env.alice, json!({"text": "both"}));
    assert_eq!(env.updates().await.len(), 2);
    env.done();
}

/// One push as received: the secret token header and the update.
type Push = (Option<String>, Value);

/// A webhook answer: content type and body.
type Reply = (&'static str, Vec<u8>);

/// A webhook receiver: records every push; answers `status` and, once, `reply`. Pushes
/// of chats listed in `held` wait until the chat is removed from it.
#[derive(Clone, Default)]
struct Hook {
    pushes: Arc<Mutex<Vec<Push>>>,
    status: Arc<AtomicU16>,
    reply: Arc<Mutex<Option<Reply>>>,
    held: Arc<Mutex<HashSet<i64>>>,
    inside: Arc<AtomicUsize>,
    most_inside: Arc<AtomicUsize>,
}

async fn receive(
    State(h): State<Hook>,
    headers: HeaderMap,
    Json(v): Json<Value>,
) -> impl IntoResponse {
    let now = h.inside.fetch_add(1, Ordering::SeqCst) + 1;
    h.most_inside.fetch_max(now, Ordering::SeqCst);
    let secret = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.to_str().unwrap().to_string());
    h.pushes.lock().unwrap().push((secret, v.clone()));
    let chat = v["message"]["chat"]["id"].as_i64().unwrap_or(0);
    while h.held.lock().unwrap().contains(&chat) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    h.inside.fetch_sub(1, Ordering::SeqCst);
    let status = StatusCode::from_u16(h.status.load(Ordering::SeqCst)).unwrap();
    let reply = if status.is_success() {
        h.reply.lock().unwrap().take()
    } else {
        None
    };
    let (ctype, body) = reply.unwrap_or(("application/json", b"{}".to_vec()));
    (status, [(header::CONTENT_TYPE, ctype)], body)
}

impl Hook {
    /// Starts a receiver behind an HTTPS URL that meets Telegram's rule, routed by the
    /// emulator (playing a TLS-terminating proxy) to the receiver's plain-HTTP port.
    async fn start(env: &Env) -> (Self, String) {
        let (hook, addr) = Self::listen().await;
        let host = format!("hook{}.test:8443", addr.port());
        env.ctl.route_webhook(&host, addr);
        (hook, format!("https://{host}/hook"))
    }

    /// Starts a receiver; returns it and its plain-HTTP address.
    async fn listen() -> (Self, std::net::SocketAddr) {
        let hook = Hook::default();
        hook.status.store(200, Ordering::SeqCst);
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(hook.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (hook, addr)
    }

    fn count(&self) -> usize {
        self.pushes.lock().unwrap().len()
    }

    fn texts(&self) -> Vec<String> {
        self.pushes
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, u)| u["message"]["text"].as_str().map(str::to_string))
            .collect()
    }

    fn reply_json(&self, v: Value) {
        *self.reply.lock().unwrap() = Some(("application/json", v.to_string().into_bytes()));
    }

    fn replied(&self) -> bool {
        self.reply.lock().unwrap().is_none()
    }
}

#[tokio::test]
async fn webhook_pushes_with_secret_and_excludes_get_updates() {
    let env = Env::new().await;
    let (hook, url) = Hook::start(&env).await;
    let info = env.ok("getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], json!(""));
    assert_eq!(info["pending_update_count"], json!(0));

    assert_eq!(
        env.ok(
            "setWebhook",
            json!({"url": url, "secret_token": "s3cr3t_-X"})
        )
        .await,
        json!(true)
    );
    let info = env.ok("getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], json!(url));
    assert_eq!(info["has_custom_certificate"], json!(false));
    assert_eq!(info["max_connections"], json!(40));
    env.person_to_bot(env.alice, json!({"text": "one"}));
    env.person_to_bot(env.alice, json!({"text": "two"}));
    assert!(wait_until(SECS, || hook.count() >= 2).await);
    assert_eq!(hook.texts(), ["one", "two"]);
    assert!(hook
        .pushes
        .lock()
        .unwrap()
        .iter()
        .all(|(s, u)| s.as_deref() == Some("s3cr3t_-X") && u["update_id"].is_i64()));

    let conflict = (409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first".to_string());
    assert_eq!(env.err("getUpdates", json!({})).await, conflict);

    assert_eq!(env.ok("deleteWebhook", json!({})).await, json!(true));
    assert_eq!(env.ok("getWebhookInfo", json!({})).await["url"], json!(""));
    env.person_to_bot(env.alice, json!({"text": "polled"}));
    assert_eq!(env.updates_of("message").await[0]["text"], json!("polled"));
    env.done();
}

#[tokio::test]
async fn set_webhook_follows_telegrams_rules() {
    let env = Env::new().await;
    let (_hook, url) = Hook::start(&env).await;
    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    let https = bad("bad webhook: An HTTPS URL must be provided for webhook");
    let ports = bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443");
    for (url, expected) in [
        ("ftp://x", &https),
        ("hotline.test/hook", &https),
        ("http://hotline.test/hook", &https),
        ("http://127.0.0.1:8443/hook", &https),
        ("https://", &https),
        ("https://hotline.test:8080/hook", &ports),
        ("https://127.0.0.1:41234/hook", &ports),
    ] {
        assert_eq!(
            env.err("setWebhook", json!({"url": url})).await,
            *expected,
            "{url}"
        );
    }
    for ok in [
        "https://hotline.test/hook",
        "https://hotline.test:443/x",
        "https://hotline.test:80/x",
        "https://hotline.test:88/x",
        "https://hotline.test:8443/x",
    ] {
        env.ok("setWebhook", json!({"url": ok})).await;
    }

    // The secret token: 1-256 of A-Za-z0-9_- (empty means none).
    assert_eq!(
        env.err(
            "setWebhook",
            json!({"url": url, "secret_token": "no spaces"})
        )
        .await,
        bad("secret token contains unallowed characters")
    );
    assert_eq!(
        env.err(
            "setWebhook",
            json!({"url": url, "secret_token": "a".repeat(257)})
        )
        .await,
        bad("secret token is too long")
    );
    env.ok(
        "setWebhook",
        json!({"url": url, "secret_token": "a".repeat(256)}),
    )
    .await;

    // max_connections is clamped to 1..100, not refused.
    for (given, kept) in [
        (json!(0), 1),
        (json!(-5), 1),
        (json!(1000), 100),
        (json!("7"), 7),
    ] {
        env.ok("setWebhook", json!({"url": url, "max_connections": given}))
            .await;
        let info = env.ok("getWebhookInfo", json!({})).await;
        assert_eq!(info["max_connections"], json!(kept), "{given}");
    }

    // The descriptions of the answers.
    let described = |method: &'static str, params: Value| {
        let env = &env;
        async move {
            let (status, body) = env.call(method, params).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["result"], json!(true));
            body["description"].as_str().unwrap_or("").to_string()
        }
    };
    let other = format!("{url}/other");
    assert_eq!(
        described("setWebhook", json!({"url": other})).await,
        "Webhook was set"
    );
    assert_eq!(
        described("setWebhook", json!({"url": other})).await,
        "Webhook is already set"
    );
    assert_eq!(
        described("deleteWebhook", json!({})).await,
        "Webhook was deleted"
    );
    assert_eq!(
        described("deleteWebhook", json!({})).await,
        "Webhook is already deleted"
    );
    env.ok("setWebhook", json!({"url": url})).await;
    assert_eq!(
        described("setWebhook", json!({"url": ""})).await,
        "Webhook was deleted"
    );
    assert_eq!(
        described("setWebhook", json!({})).await,
        "Webhook is already deleted"
    );
    env.done();
}

/// The switch for plain local URLs: off by default, then any port on a loopback host.
#[tokio::test]
async fn plain_http_local_webhooks_only_when_switched_on() {
    let env = Env::new().await;
    let (hook, addr) = Hook::listen().await;
    let url = format!("http://{addr}/hook");
    assert_eq!(
        env.err("setWebhook", json!({"url": url})).await,
        (
            400,
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook".into()
        )
    );
    env.ctl.allow_http_webhooks(true);
    env.ok("setWebhook", json!({"url": url})).await;
    assert_eq!(
        env.err("setWebhook", json!({"url": "http://example.com:8080/hook"}))
            .await,
        (
            400,
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook".into()
        ),
        "only loopback hosts"
    );
    env.person_to_bot(env.alice, json!({"text": "plain"}));
    assert!(wait_until(SECS, || hook.texts() == ["plain"]).await);

    // The same switch and a route over the control API.
    let status = env
        .control("PUT", "webhooks/http", json!({"allow": false}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        env.err("setWebhook", json!({"url": url})).await.0,
        400,
        "switched off again"
    );
    let route = json!({"from": "routed.test:443", "to": addr.to_string()});
    assert_eq!(env.control("POST", "webhooks/routes", route).await, 200);
    env.ok("setWebhook", json!({"url": "https://routed.test/hook?x=1"}))
        .await;
    env.person_to_bot(env.alice, json!({"text": "routed"}));
    assert!(wait_until(SECS, || hook.texts() == ["plain", "routed"]).await);
    let nowhere = json!({"from": "x.test:443", "to": "nowhere"});
    assert_eq!(env.control("POST", "webhooks/routes", nowhere).await, 400);
    env.done();
}

#[tokio::test]
async fn set_webhook_terminates_a_long_poll() {
    let env = Arc::new(Env::new().await);
    let (_hook, url) = Hook::start(&env).await;
    let poll = {
        let env = env.clone();
        tokio::spawn(async move { env.call("getUpdates", json!({"timeout": 30})).await })
    };
    assert!(wait_until(SECS, || env.ctl.is_polling(BOT)).await);
    env.ok("setWebhook", json!({"url": url})).await;
    let (status, body) = tokio::time::timeout(SECS, poll).await.unwrap().unwrap();
    assert_eq!(status, 409);
    assert_eq!(
        body["description"],
        json!("Conflict: terminated by setWebhook request")
    );
    Arc::try_unwrap(env).ok().unwrap().done();
}

#[tokio::test]
async fn failed_pushes_are_retried_and_reported() {
    let env = Env::new().await;
    let (hook, url) = Hook::start(&env).await;
    hook.status.store(500, Ordering::SeqCst);
    env.ok("setWebhook", json!({"url": url})).await;
    env.person_to_bot(env.alice, json!({"text": "retry me"}));
    assert!(wait_until(SECS, || hook.count() >= 2).await, "retried");
    let info = env.ok("getWebhookInfo", json!({})).await;
    assert_eq!(info["pending_update_count"], json!(1));
    assert!(info["last_error_date"].as_i64().unwrap() > 0);
    assert_eq!(
        info["last_error_message"],
        json!("Wrong response from the webhook: 500 Internal Server Error")
    );
    hook.status.store(200, Ordering::SeqCst);
    let ok = || {
        let p = hook.pushes.lock().unwrap();
        p.len() >= 3
            && p.iter()
                .all(|(_, u)| u["message"]["text"] == json!("retry me"))
    };
    assert!(wait_until(SECS, ok).await);
    let e = &env;
    let drained = || async move {
        e.ok("getWebhookInfo", json!({})).await["pending_update_count"] == json!(0)
    };
    assert!(wait_until_async(SECS, drained).await);

    // An unreachable webhook (routed to a closed port).
    env.ctl
        .route_webhook("closed.test:443", "127.0.0.1:9".parse().unwrap());
    env.ok("setWebhook", json!({"url": "https://closed.test/hook"}))
        .await;
    env.person_to_bot(env.alice, json!({"text": "lost"}));
    let refused = || async move {
        e.ok("getWebhookInfo", json!({})).await["last_error_message"] == json!("Connection refused")
    };
    assert!(wait_until_async(SECS, refused).await);
    // drop_pending_updates on delete.
    env.ok("deleteWebhook", json!({"drop_pending_updates": true}))
        .await;
    assert_eq!(
        env.ok("getWebhookInfo", json!({})).await["pending_update_count"],
        json!(0)
    );
    env.done();
}

/// Pushes go out concurrently up to max_connections, one chat at a time and in its order.
#[tokio::test]
async fn pushes_run_in_parallel_across_chats_and_in_order_within_one() {
    let env = Env::new().await;
    let (hook, url) = Hook::start(&env).await;
    let people: Vec<i64> = (0..4)
        .map(|i| id(&env.ctl.add_user(&format!("P{i}"), None, None, None)))
        .collect();
    env.ok("setWebhook", json!({"url": url, "max_connections": 3}))
        .await;
    // The first person's push is held: the others still arrive, at most 3 at once.
    hook.held.lock().unwrap().insert(people[0]);
    for round in 0..3 {
        for p in &people {
            env.person_to_bot(*p, json!({"text": format!("{p}:{round}")}));
        }
    }
    let arrived = |hook: &Hook, p: i64| {
        hook.texts()
            .iter()
            .filter(|t| t.starts_with(&format!("{p}:")))
            .cloned()
            .collect::<Vec<_>>()
    };
    let others_in = || people[1..].iter().all(|p| arrived(&hook, *p).len() == 3);
    assert!(wait_until(SECS, others_in).await, "{:?}", hook.texts());
    assert_eq!(
        arrived(&hook, people[0]),
        [format!("{}:0", people[0])],
        "a chat's next update waits for its previous one"
    );
    hook.held.lock().unwrap().clear();
    assert!(wait_until(SECS, || arrived(&hook, people[0]).len() == 3).await);
    for p in &people {
        let expected: Vec<String> = (0..3).map(|r| format!("{p}:{r}")).collect();
        assert_eq!(arrived(&hook, *p), expected, "in order within a chat");
    }
    let most = hook.most_inside.load(Ordering::SeqCst);
    assert!(
        (2..=3).contains(&most),
        "concurrency {most} within max_connections 3"
    );

    // max_connections 1: strictly one at a time.
    hook.most_inside.store(0, Ordering::SeqCst);
    env.ok("setWebhook", json!({"url": url, "max_connections": 1}))
        .await;
    hook.held.lock().unwrap().insert(people[0]);
    env.person_to_bot(people[0], json!({"text": "held"}));
    env.person_to_bot(people[1], json!({"text": "behind"}));
    assert!(wait_until(SECS, || hook.texts().contains(&"held".to_string())).await);
    let e = &env;
    let pending_two = || async move {
        e.ok("getWebhookInfo", json!({})).await["pending_update_count"] == json!(2)
    };
    assert!(wait_until_async(SECS, pending_two).await);
    assert!(!hook.texts().contains(&"behind".to_string()));
    hook.held.lock().unwrap().clear();
    assert!(wait_until(SECS, || hook.texts().contains(&"behind".to_string())).await);
    assert_eq!(hook.most_inside.load(Ordering::SeqCst), 1);
    env.done();
}

#[tokio::test]
async fn a_webhook_reply_with_a_method_is_executed() {
    let env = Env::new().await;
    let (hook, url) = Hook::start(&env).await;
    hook.reply_json(json!({"method": "sendMessage", "chat_id": env.alice, "text": "auto-reply"}));
    env.ok("setWebhook", json!({"url": url})).await;
    env.person_to_bot(env.alice, json!({"text": "hi"}));
    let replied = |text: &'static str| {
        let env = &env;
        move || env.alice_sees(text)
    };
    assert!(wait_until(SECS, replied("auto-reply")).await);
    assert_eq!(env.ctl.count_calls(BOT, "sendMessage"), 1);
    // get* and setWebhook replies are not executed.
    hook.reply_json(json!({"method": "deleteWebhook"}));
    env.person_to_bot(env.alice, json!({"text": "again"}));
    assert!(wait_until(SECS, || hook.replied()).await);
    hook.reply_json(json!({"method": "sendMessage", "chat_id": env.alice, "text": "still hooked"}));
    env.person_to_bot(env.alice, json!({"text": "third"}));
    assert!(wait_until(SECS, replied("still hooked")).await);
    assert_eq!(env.ctl.count_calls(BOT, "deleteWebhook"), 0);
    assert!(env.ok("getWebhookInfo", json!({})).await["url"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    env.done();
}

/// aiogram answers a webhook with form data: urlencoded and multipart replies run too,
/// and a reply that cannot run is reported with the reason.
#[tokio::test]
async fn webhook_replies_as_form_data_are_executed_and_failures_reported() {
    let env = Env::new().await;
    let (hook, url) = Hook::start(&env).await;
    let mut events = env.ctl.subscribe();
    env.ok("setWebhook", json!({"url": url})).await;
    let replied = |text: &'static str| {
        let env = &env;
        move || env.alice_sees(text)
    };

    let form = format!("method=sendMessage&chat_id={}&text=from+a+form", env.alice);
    *hook.reply.lock().unwrap() = Some(("application/x-www-form-urlencoded", form.into_bytes()));
    env.person_to_bot(env.alice, json!({"text": "one"}));
    assert!(wait_until(SECS, replied("from a form")).await);

    let multipart = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\nsendMessage\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n{}\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nfrom multipart\r\n--XyZ--\r\n",
        env.alice
    );
    *hook.reply.lock().unwrap() =
        Some(("multipart/form-data; boundary=XyZ", multipart.into_bytes()));
    env.person_to_bot(env.alice, json!({"text": "two"}));
    assert!(wait_until(SECS, replied("from multipart")).await);
    assert_eq!(env.ctl.count_calls(BOT, "sendMessage"), 2);

    // Replies that cannot run: each is reported with its reason, nothing is executed.
    let failures = [
        (
            (
                "application/json",
                json!({"method": "sendMessage", "chat_id": env.alice}).to_string(),
            ),
            "sendMessage",
            "400 Bad Request: message text is empty",
        ),
        (
            (
                "application/x-www-form-urlencoded",
                "method=sendTelepathy".to_string(),
            ),
            "sendTelepathy",
            "unknown method",
        ),
        (
            ("application/json", json!({"method": "getMe"}).to_string()),
            "getMe",
            "not allowed in a webhook reply",
        ),
    ];
    for ((ctype, body), method, reason) in failures {
        *hook.reply.lock().unwrap() = Some((ctype, body.into_bytes()));
        env.person_to_bot(env.alice, json!({"text": "x"}));
        let event = tokio::time::timeout(SECS, async {
            loop {
                let e = events.recv().await.unwrap();
                if e["type"] == "webhook_reply_failed" {
                    return e;
                }
            }
        })
        .await
        .expect("the failure is reported");
        assert_eq!(event["method"], json!(method));
        assert_eq!(event["reason"], json!(reason));
        assert_eq!(event["bot"], json!(BOT));
    }
    assert_eq!(env.ctl.count_calls(BOT, "sendMessage"), 2);
    env.done();
}
