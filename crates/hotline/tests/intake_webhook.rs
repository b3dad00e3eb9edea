//! Webhook intake: Telegram POSTs updates to `/telegram/<connection>`; Hotline checks the
//! secret-token header, commits the update and only then answers 200; a repeated update
//! is processed once.

mod common;

use common::{config_toml, test_tuning, text_of, wait_until};
use hotline::app;
use hotline::config::Config;
use serde_json::{json, Value};
use tg_emulator::control::Place;
use tg_emulator::Emulator;

const SECRET: &str = "s3cret-Token_1";

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
    // Telegram would call the public https URL; here the test plays Telegram's part.
    let toml = config_toml(&dir.path().join("hotline.db"), &emu.url(), token, group, "").replace(
        "[connection.params]",
        &format!("mode = \"webhook\"\nwebhook_url = \"https://hotline.example\"\nwebhook_secret = \"{SECRET}\"\n[connection.params]"),
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

    let ann = ctl.add_user("Ann", None, Some("ann"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    let msg = ctl
        .send(ann, Place::Bot(bot), &json!({"text": "via the webhook"}))
        .unwrap()
        .remove(0);
    let update = json!({"update_id": 900_001, "message": msg});
    let url = format!("http://{}/telegram/support", running.addr);
    let http = reqwest::Client::new();
    let post = |secret: Option<&'static str>, body: Value| {
        let mut req = http.post(&url).json(&body);
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        req.send()
    };
    assert_eq!(
        post(None, update.clone()).await.unwrap().status(),
        401,
        "no secret"
    );
    assert_eq!(
        post(Some("wrong"), update.clone()).await.unwrap().status(),
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
        post(Some(SECRET), update.clone()).await.unwrap().status(),
        200
    );
    assert_eq!(
        post(Some(SECRET), update.clone()).await.unwrap().status(),
        200,
        "Telegram may repeat it"
    );
    let unknown = http
        .post(format!("http://{}/telegram/nope", running.addr))
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let copies = || {
        ctl.topics(group)
            .iter()
            .filter_map(|t| t["message_thread_id"].as_i64())
            .flat_map(|t| ctl.topic_transcript(group, Some(t)))
            .filter(|m| text_of(m) == "via the webhook")
            .count()
    };
    wait_until("the message relayed into a topic", || copies() == 1).await;
    // The repeated update changed nothing: still exactly one copy once the queue is idle.
    ctl.send(ann, Place::Bot(bot), &json!({"text": "second"}))
        .unwrap();
    let second = ctl
        .private_transcript(bot, ann)
        .into_iter()
        .rev()
        .find(|m| text_of(m) == "second")
        .unwrap();
    assert_eq!(
        post(
            Some(SECRET),
            json!({"update_id": 900_002, "message": second})
        )
        .await
        .unwrap()
        .status(),
        200
    );
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
    running.stop().await;
}
