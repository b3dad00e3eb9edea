//! Update delivery: getUpdates (offsets, limit, long polling, sticky allowed_updates,
//! 409s) and webhooks (secret header, retries, getWebhookInfo, replies executed).

mod common;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use common::{mid, wait_until, wait_until_async, Env, BOT};
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

/// A webhook receiver: records every push; answers `status` and, once, `reply`.
#[derive(Clone, Default)]
struct Hook {
    pushes: Arc<Mutex<Vec<Push>>>,
    status: Arc<AtomicU16>,
    reply: Arc<Mutex<Option<Value>>>,
}

impl Hook {
    async fn start() -> (Self, String) {
        let hook = Hook::default();
        hook.status.store(200, Ordering::SeqCst);
        let app = Router::new()
            .route(
                "/hook",
                post(
                    |State(h): State<Hook>, headers: HeaderMap, Json(v): Json<Value>| async move {
                        let secret = headers
                            .get("x-telegram-bot-api-secret-token")
                            .map(|v| v.to_str().unwrap().to_string());
                        h.pushes.lock().unwrap().push((secret, v));
                        let status = StatusCode::from_u16(h.status.load(Ordering::SeqCst)).unwrap();
                        let reply = if status.is_success() {
                            h.reply.lock().unwrap().take()
                        } else {
                            None
                        };
                        (status, Json(reply.unwrap_or(json!({}))))
                    },
                ),
            )
            .with_state(hook.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (hook, url)
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
}

#[tokio::test]
async fn webhook_pushes_with_secret_and_excludes_get_updates() {
    let env = Env::new().await;
    let (hook, url) = Hook::start().await;
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

    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err(
            "setWebhook",
            json!({"url": url, "secret_token": "no spaces"})
        )
        .await,
        bad("secret token contains unallowed characters")
    );
    assert_eq!(
        env.err("setWebhook", json!({"url": "ftp://x"})).await,
        bad("bad webhook: An HTTPS URL must be provided for webhook")
    );
    assert_eq!(
        env.err("setWebhook", json!({"url": url, "max_connections": 0}))
            .await,
        bad("bad webhook: max_connections must be between 1 and 100")
    );

    assert_eq!(env.ok("deleteWebhook", json!({})).await, json!(true));
    assert_eq!(env.ok("getWebhookInfo", json!({})).await["url"], json!(""));
    env.person_to_bot(env.alice, json!({"text": "polled"}));
    assert_eq!(env.updates_of("message").await[0]["text"], json!("polled"));
    env.done();
}

#[tokio::test]
async fn set_webhook_terminates_a_long_poll() {
    let env = Arc::new(Env::new().await);
    let (_hook, url) = Hook::start().await;
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
    let (hook, url) = Hook::start().await;
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

    // An unreachable webhook.
    env.ok("setWebhook", json!({"url": "http://127.0.0.1:9/hook"}))
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

#[tokio::test]
async fn a_webhook_reply_with_a_method_is_executed() {
    let env = Env::new().await;
    let (hook, url) = Hook::start().await;
    *hook.reply.lock().unwrap() =
        Some(json!({"method": "sendMessage", "chat_id": env.alice, "text": "auto-reply"}));
    env.ok("setWebhook", json!({"url": url})).await;
    env.person_to_bot(env.alice, json!({"text": "hi"}));
    let replied = || {
        env.ctl
            .private_transcript(BOT, env.alice)
            .iter()
            .any(|m| m["text"] == json!("auto-reply"))
    };
    assert!(wait_until(SECS, replied).await);
    assert_eq!(env.ctl.count_calls(BOT, "sendMessage"), 1);
    // get* and setWebhook replies are not executed.
    *hook.reply.lock().unwrap() = Some(json!({"method": "deleteWebhook"}));
    env.person_to_bot(env.alice, json!({"text": "again"}));
    assert!(wait_until(SECS, || hook.reply.lock().unwrap().is_none()).await);
    *hook.reply.lock().unwrap() =
        Some(json!({"method": "sendMessage", "chat_id": env.alice, "text": "still hooked"}));
    env.person_to_bot(env.alice, json!({"text": "third"}));
    let replied = || {
        env.ctl
            .private_transcript(BOT, env.alice)
            .iter()
            .any(|m| m["text"] == json!("still hooked"))
    };
    assert!(wait_until(SECS, replied).await);
    assert_eq!(env.ctl.count_calls(BOT, "deleteWebhook"), 0);
    assert!(env.ok("getWebhookInfo", json!({})).await["url"]
        .as_str()
        .unwrap()
        .starts_with("http://"));
    env.done();
}
