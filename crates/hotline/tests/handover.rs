//! End to end: the handover. The company's bot works through the gateway; the team pauses
//! it for one user (`/bot off`), the user's messages then reach the topic but not the bot,
//! the operator answers, and `/bot on` gives the user back to the bot. Withheld updates
//! are dropped, never released later.

mod api_support;
mod common;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use api_support::with_webhooks;
use common::{spawn_app_unlimited, text_of, TestApp, DEADLINE, GATEWAY_BOT_NO_RETRY};
use serde_json::{json, Value};

/// The company's existing bot: a plain HTTP client of the Bot API, pointed at Hotline.
struct Backend {
    http: reqwest::Client,
    base: String,
    offset: i64,
    /// Every update it was given, in order.
    seen: Vec<Value>,
}

impl Backend {
    fn new(t: &TestApp) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://{}/bot{}", t.app().addr, t.token),
            offset: 0,
            seen: Vec::new(),
        }
    }

    /// Points the backend at a restarted Hotline (new address), keeping its offset.
    fn reconnect(&mut self, t: &TestApp) {
        self.base = format!("http://{}/bot{}", t.app().addr, t.token);
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/{method}", self.base))
            .json(&params)
            .send()
            .await
            .expect("gateway answers");
        r.json().await.expect("JSON answer")
    }

    async fn ok(&self, method: &str, params: Value) -> Value {
        let body = self.call(method, params).await;
        assert_eq!(body["ok"], true, "{method}: {body}");
        body["result"].clone()
    }

    /// One getUpdates round (confirming what it saw before).
    async fn poll(&mut self, timeout: i64) -> Vec<Value> {
        let got = self
            .ok(
                "getUpdates",
                json!({"offset": self.offset, "timeout": timeout}),
            )
            .await;
        let got = got.as_array().unwrap().clone();
        for u in &got {
            self.offset = u["update_id"].as_i64().unwrap() + 1;
            self.seen.push(u.clone());
        }
        got
    }

    /// Long-polls until an update matches, returning it.
    async fn next(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            for u in self.poll(2).await {
                if pred(&u) {
                    return u;
                }
            }
        }
        panic!("the backend never got {what}");
    }

    /// Whether any update it was given carried `text`.
    fn saw(&self, text: &str) -> bool {
        self.seen.iter().any(|u| u["message"]["text"] == text)
    }
}

fn is_text(u: &Value, text: &str) -> bool {
    u["message"]["text"] == text
}

fn title(t: &TestApp, thread: i64) -> String {
    t.topic_info(thread)["name"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bot_off_withholds_the_users_updates_and_bot_on_gives_them_back() {
    let mut t = spawn_app_unlimited(GATEWAY_BOT_NO_RETRY, "").await;
    let mut bot = Backend::new(&t);
    let ann = t.person("Ann");
    t.user_says(ann, "hi");
    bot.next("Ann's hi", |u| is_text(u, "hi")).await;
    let thread = t.wait_topic("Ann").await;
    bot.ok(
        "sendMessage",
        json!({"chat_id": ann, "text": "Hello, I am the shop bot"}),
    )
    .await;
    t.wait_in_topic(thread, "🤖 Hello, I am the shop bot").await;

    // An operator takes the dialog over.
    t.operator_says(thread, "/bot");
    t.wait_in_topic(thread, "The bot answers this user").await;
    t.operator_says(thread, "/bot off");
    t.wait_in_topic(thread, "The bot is paused for this user")
        .await;
    t.wait_until("⏸ in the title", || title(&t, thread).contains('⏸'))
        .await;
    t.operator_says(thread, "/bot off");
    t.wait_in_topic(thread, "already paused").await;

    // The user's next message reaches the topic, not the bot.
    t.user_says(ann, "I need a human");
    t.wait_in_topic(thread, "I need a human").await;
    assert!(
        bot.poll(0).await.is_empty(),
        "withheld from getUpdates: {:?}",
        bot.seen.last()
    );
    let info = bot.ok("getWebhookInfo", json!({})).await;
    assert_eq!(info["pending_update_count"], 0, "{info}");

    // Still paused after a restart.
    t.restart().await;
    bot.reconnect(&t);
    t.user_says(ann, "are you there?");
    t.wait_in_topic(thread, "are you there?").await;
    assert!(bot.poll(0).await.is_empty(), "withheld after a restart");
    assert!(title(&t, thread).contains('⏸'));
    // Other users still reach the bot.
    let bob = t.person("Bob");
    t.user_says(bob, "Bob here");
    bot.next("Bob's message", |u| is_text(u, "Bob here")).await;

    // The operator answers; the user gets it.
    t.operator_says(thread, "Olga here, let me check your order");
    t.wait_in_user_chat(ann, "Olga here").await;

    // Back to the bot: later messages reach it, the withheld ones never do.
    t.operator_says(thread, "/bot on");
    t.wait_in_topic(thread, "The bot answers this user again")
        .await;
    t.wait_until("⏸ gone from the title", || {
        !title(&t, thread).contains('⏸')
    })
    .await;
    t.user_says(ann, "thanks, bot");
    bot.next("the message after /bot on", |u| is_text(u, "thanks, bot"))
        .await;
    t.wait_in_topic(thread, "thanks, bot").await;
    assert!(
        !bot.saw("I need a human") && !bot.saw("are you there?"),
        "withheld updates are dropped, not released: {:?}",
        bot.seen
    );
    // The bot's commands and the operators' never reached the user.
    assert!(
        !t.user_chat(ann).iter().any(|m| text_of(m).contains("/bot")),
        "/bot is never sent to the user"
    );
    t.assert_conformant();
}

/// The pause race: a user's message stored a few ms after an operator's `/bot off`
/// (often in the same getUpdates batch, always before the command is processed) never
/// reaches the bot, though the bot long-polls all along; one right after `/bot on` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_right_after_bot_off_is_withheld_and_one_right_after_bot_on_is_not() {
    let t = spawn_app_unlimited(GATEWAY_BOT_NO_RETRY, "").await;
    let mut bot = Backend::new(&t);
    let ann = t.person("Ann");
    t.user_says(ann, "hi");
    bot.next("Ann's hi", |u| is_text(u, "hi")).await;
    let thread = t.wait_topic("Ann").await;
    // The bot polls without a pause, as a busy bot does.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let poller = tokio::spawn(async move {
        while !stop2.load(std::sync::atomic::Ordering::Acquire) {
            bot.poll(1).await;
        }
        bot
    });
    for round in 0..4 {
        t.operator_says(thread, "/bot off");
        t.user_says(ann, &format!("right after off {round}"));
        t.wait_in_topic(thread, &format!("right after off {round}"))
            .await;
        t.wait_until("⏸ in the title", || title(&t, thread).contains('⏸'))
            .await;
        t.operator_says(thread, "/bot on");
        t.user_says(ann, &format!("right after on {round}"));
        t.wait_in_topic(thread, &format!("right after on {round}"))
            .await;
        t.wait_until("⏸ gone from the title", || {
            !title(&t, thread).contains('⏸')
        })
        .await;
    }
    t.user_says(ann, "the end");
    t.wait_in_topic(thread, "the end").await;
    stop.store(true, std::sync::atomic::Ordering::Release);
    let mut bot = poller.await.expect("poller");
    if !bot.saw("the end") {
        bot.next("the last message", |u| is_text(u, "the end"))
            .await;
    }
    let texts: Vec<&str> = bot
        .seen
        .iter()
        .filter_map(|u| u["message"]["text"].as_str())
        .collect();
    for round in 0..4 {
        let off = format!("right after off {round}");
        let on = format!("right after on {round}");
        assert!(
            !texts.contains(&off.as_str()),
            "{off} was sent after /bot off: {texts:?}"
        );
        assert!(
            texts.contains(&on.as_str()),
            "{on} was sent after /bot on: {texts:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auto_handover_rest_and_the_bots_own_method_with_signed_events() {
    let (t, api, rx) = with_webhooks("bot_paused,bot_resumed", "AUTO_HANDOVER = true").await;
    let mut bot = Backend::new(&t);
    let ann = t.person("Ann");
    t.user_says(ann, "hi");
    bot.next("Ann's hi", |u| is_text(u, "hi")).await;
    let thread = t.wait_topic("Ann").await;

    // AUTO_HANDOVER: an operator's answer pauses the bot for Ann...
    t.operator_says(thread, "Hello Ann, Olga here");
    t.wait_in_user_chat(ann, "Olga here").await;
    t.wait_in_topic(thread, "(by AUTO_HANDOVER)").await;
    t.wait_until("⏸ in the title", || title(&t, thread).contains('⏸'))
        .await;
    t.user_says(ann, "still there?");
    t.wait_in_topic(thread, "still there?").await;
    assert!(
        bot.poll(0).await.is_empty(),
        "withheld while the team has Ann"
    );
    // ... and /close gives her back to the bot.
    t.operator_says(thread, "/close");
    t.wait_in_topic(thread, "The bot answers this user again (by AUTO_HANDOVER)")
        .await;
    t.wait_until("closed", || t.topic_info(thread)["is_closed"] == true)
        .await;
    t.user_says(ann, "bot again");
    bot.next("the message after /close", |u| is_text(u, "bot again"))
        .await;
    assert!(!bot.saw("still there?"));

    // The REST API.
    let path = format!("/api/v1/contacts/{ann}/handover");
    let (status, h) = api.get(&path).await;
    assert_eq!((status, &h["paused"]), (200, &json!(false)), "{h}");
    let (status, h) = api.post(&path, json!({})).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(
        (&h["paused"], &h["reason"], &h["changed"]),
        (&json!(true), &json!("api"), &json!(true))
    );
    let (_, again) = api.post(&path, json!({})).await;
    assert_eq!(
        (&again["paused"], &again["changed"]),
        (&json!(true), &json!(false))
    );
    t.wait_until("reopened with ⏸", || {
        title(&t, thread).starts_with("🟪⏸") && t.topic_info(thread)["is_closed"] == false
    })
    .await;
    t.user_says(ann, "rest pause");
    t.wait_in_topic(thread, "rest pause").await;
    assert!(
        bot.poll(0).await.is_empty(),
        "withheld after the API's handover"
    );
    let (status, h) = api.delete(&path).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!((&h["paused"], &h["changed"]), (&json!(false), &json!(true)));
    let (status, e) = api
        .post("/api/v1/contacts/999999/handover", json!({}))
        .await;
    assert_eq!(status, 404, "{e}");

    // The bot's own method through the gateway, answered like a Bot API method.
    let r = bot.call("hotlineHandover", json!({"chat_id": ann})).await;
    assert_eq!(r, json!({"ok": true, "result": true}));
    let (_, h) = api.get(&path).await;
    assert_eq!((&h["paused"], &h["reason"]), (&json!(true), &json!("bot")));
    t.user_says(ann, "bot pause");
    t.wait_in_topic(thread, "bot pause").await;
    assert!(
        bot.poll(0).await.is_empty(),
        "withheld after hotlineHandover"
    );
    let r = bot
        .call("hotlineResume", json!({"chat_id": ann.to_string()}))
        .await;
    assert_eq!(r, json!({"ok": true, "result": true}));
    let r = bot
        .call("hotlineHandover", json!({"chat_id": 999999}))
        .await;
    assert_eq!(
        (&r["ok"], &r["error_code"], &r["description"]),
        (
            &json!(false),
            &json!(400),
            &json!("Bad Request: chat not found")
        )
    );
    let r = bot.call("hotlineResume", json!({})).await;
    assert_eq!(r["description"], "Bad Request: chat_id is empty");
    t.user_says(ann, "after resume");
    bot.next("the message after hotlineResume", |u| {
        is_text(u, "after resume")
    })
    .await;
    assert!(!bot.saw("rest pause") && !bot.saw("bot pause"));

    // Signed events, in order, saying who asked.
    t.wait_until("six handover events", || rx.delivered().len() >= 6)
        .await;
    let got: Vec<(String, String)> = rx
        .delivered()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["data"]["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("bot_paused", "auto"),
        ("bot_resumed", "auto"),
        ("bot_paused", "api"),
        ("bot_resumed", "api"),
        ("bot_paused", "bot"),
        ("bot_resumed", "bot"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
    let first = &rx.delivered()[0];
    assert_eq!(first["data"]["by"], t.operator, "{first}");
    assert_eq!(first["contact"]["user_id"], ann);
    assert!(rx.all().iter().all(|r| r.signed), "every event is signed");
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recap_opens_the_topic_and_the_builtin_welcome_stays_quiet_for_a_gateway_bot() {
    let t = common::spawn_app_unlimited(
        GATEWAY_BOT_NO_RETRY,
        "PRIVATE_KEYWORDS = '\"human\"'\nRECAP = 3",
    )
    .await;
    let mut bot = Backend::new(&t);
    // The bot takes its updates through the gateway from the start.
    assert!(bot.poll(0).await.is_empty());
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    bot.next("hello", |u| is_text(u, "hello")).await;
    bot.ok(
        "sendMessage",
        json!({"chat_id": ann, "text": "Hi, I am the shop bot"}),
    )
    .await;
    t.user_says(ann, "what is the price? mail me at ann@example.com");
    bot.next("the question", |u| {
        u["message"]["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("what is the price")
    })
    .await;
    bot.ok(
        "sendMessage",
        json!({"chat_id": ann, "text": "It costs 5 EUR"}),
    )
    .await;
    t.user_says(ann, "I want a human");
    let thread = t.wait_topic("Ann").await;
    let trigger = t.wait_in_topic(thread, "I want a human").await;
    let recap = t.wait_in_topic(thread, "Before this dialog").await;
    let r = text_of(&recap);
    assert!(
        r.contains("🤖 Hi, I am the shop bot")
            && r.contains("👤 what is the price?")
            && r.contains("🤖 It costs 5 EUR"),
        "the last 3 messages both ways: {r}"
    );
    assert!(!r.contains("hello"), "only the last RECAP = 3: {r}");
    assert!(
        recap["message_id"].as_i64() < trigger["message_id"].as_i64(),
        "the topic starts with the recap"
    );

    // The operator answers; by then a built-in WELCOME would have reached Ann first.
    t.operator_says(thread, "Hello Ann, Olga here");
    t.wait_in_user_chat(ann, "Olga here").await;
    assert!(
        !t.user_chat(ann)
            .iter()
            .any(|m| text_of(m).contains("Thanks for your message")),
        "the built-in WELCOME is not sent to a gateway bot's users"
    );
    t.assert_conformant();
}

/// A webhook receiver standing for the bot's backend: records pushed updates and answers
/// "human please" with a `hotlineHandover` webhook reply.
async fn webhook_backend() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(update): axum::Json<Value>| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push(update.clone());
                if update["message"]["text"] == "human please" {
                    axum::Json(json!({"method": "hotlineHandover", "chat_id": update["message"]["chat"]["id"]}))
                } else {
                    axum::Json(json!({}))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_bot_hands_over_in_its_reply_and_gets_no_pushes_while_paused() {
    let t = common::spawn_unlimited_with_connection(
        GATEWAY_BOT_NO_RETRY,
        "gateway_plain_http_webhooks = true",
        "",
    )
    .await;
    let bot = Backend::new(&t);
    let (url, got) = webhook_backend().await;
    bot.ok("setWebhook", json!({"url": url})).await;
    let pushed = |text: &str| {
        got.lock()
            .unwrap()
            .iter()
            .any(|u| u["message"]["text"] == text)
    };
    let ann = t.person("Ann");
    t.user_says(ann, "human please");
    let thread = t.wait_topic("Ann").await;
    t.wait_until("pushed", || pushed("human please")).await;
    t.wait_in_topic(thread, "The bot is paused for this user (by the bot)")
        .await;
    t.user_says(ann, "hello?");
    t.wait_in_topic(thread, "hello?").await;
    let info = bot.ok("getWebhookInfo", json!({})).await;
    assert_eq!(info["pending_update_count"], 0, "{info}");
    t.operator_says(thread, "/bot on");
    t.wait_in_topic(thread, "The bot answers this user again")
        .await;
    t.user_says(ann, "bye");
    t.wait_until("pushed after /bot on", || pushed("bye")).await;
    assert!(!pushed("hello?"), "withheld from the webhook, and dropped");
    t.assert_conformant();
}
