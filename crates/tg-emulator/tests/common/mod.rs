//! Shared harness of the emulator's integration tests: an emulator on an ephemeral
//! port with a bot (administrator of a forum group), a person who has written to the
//! bot, an operator member of the forum, and helpers for calls and waiting.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tg_emulator::control::Place;
use tg_emulator::{Control, Emulator};

/// The bot's token.
pub const TOKEN: &str = "123456:secret";
/// The bot's id.
pub const BOT: i64 = 123456;

/// A running emulator and the people of a small helpdesk.
/// Its updates up to Alice's /start are already read and confirmed.
pub struct Env {
    /// The emulator.
    pub emu: Emulator,
    /// Its in-process control.
    pub ctl: Control,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    /// The forum supergroup ("Support team"), with the bot as an administrator.
    pub group: i64,
    /// Alice: has written /start to the bot (the bot's chat with her is `alice`).
    pub alice: i64,
    /// Olga: an ordinary member of the forum (the operator).
    pub olga: i64,
    /// Owen: the forum's creator.
    pub owner: i64,
    /// Bob: exists but never wrote to the bot.
    pub bob: i64,
    offset: std::sync::Mutex<i64>,
}

/// Polls `cond` until it holds or `deadline` passes; returns whether it held.
pub async fn wait_until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls an async condition until it holds or `deadline` passes.
pub async fn wait_until_async<F, Fut>(deadline: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

impl Env {
    /// Starts an emulator and populates it; Alice's /start is already confirmed.
    pub async fn new() -> Self {
        let emu = Emulator::start_local().await.expect("emulator starts");
        let ctl = emu.control();
        ctl.add_bot(TOKEN, "support_bot", "Support").unwrap();
        let alice = id(&ctl.add_user("Alice", Some("Smith"), Some("alice"), Some("en")));
        let olga = id(&ctl.add_user("Olga", None, Some("olga"), Some("en")));
        let owner = id(&ctl.add_user("Owen", None, None, None));
        let bob = id(&ctl.add_user("Bob", None, None, None));
        let group = ctl.add_group("Support team", true, Some(owner));
        ctl.set_member(group, olga, "member", json!({})).unwrap();
        ctl.add_admin_bot(group, BOT).unwrap();
        ctl.send(alice, Place::Bot(BOT), &json!({"text": "/start"}))
            .unwrap();
        let env = Self {
            emu,
            ctl,
            http: reqwest::Client::new(),
            group,
            alice,
            olga,
            owner,
            bob,
            offset: 0.into(),
        };
        // The bot was made an administrator (my_chat_member), then Alice wrote /start.
        let first = env.updates().await;
        assert_eq!(first.len(), 2, "{first:?}");
        assert_eq!(
            first[0]["my_chat_member"]["new_chat_member"]["status"],
            json!("administrator")
        );
        assert_eq!(first[1]["message"]["text"], json!("/start"));
        env
    }

    /// Base URL of the Bot API for the bot.
    pub fn api(&self, method: &str) -> String {
        format!("{}/bot{TOKEN}/{method}", self.emu.url())
    }

    /// POSTs a JSON body; returns (HTTP status, answer body).
    pub async fn call(&self, method: &str, params: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.api(method))
            .json(&params)
            .send()
            .await
            .expect("request");
        answer(resp).await
    }

    /// Calls a method that must succeed; returns its `result`.
    pub async fn ok(&self, method: &str, params: Value) -> Value {
        let (status, body) = self.call(method, params.clone()).await;
        assert_eq!(status, 200, "{method} {params} -> {body}");
        assert_eq!(body["ok"], json!(true), "{method} {params} -> {body}");
        body["result"].clone()
    }

    /// Calls a method that must fail; returns (error_code, description) after checking
    /// the error shape and that the HTTP status equals `error_code`.
    pub async fn err(&self, method: &str, params: Value) -> (u16, String) {
        let (status, body) = self.call(method, params.clone()).await;
        check_error_shape(status, &body, method);
        (status, body["description"].as_str().unwrap().to_string())
    }

    /// Calls the control API over HTTP (`method` "POST" or "PUT", `path` after
    /// `/control/`); returns the HTTP status.
    pub async fn control(&self, method: &str, path: &str, body: Value) -> u16 {
        let url = format!("{}/control/{path}", self.emu.url());
        let req = match method {
            "PUT" => self.http.put(url),
            _ => self.http.post(url),
        };
        req.json(&body)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }

    /// Whether the bot's chat with Alice shows a message with this text.
    pub fn alice_sees(&self, text: &str) -> bool {
        self.ctl
            .private_transcript(BOT, self.alice)
            .iter()
            .any(|m| m["text"] == json!(text))
    }

    /// getUpdates without waiting; confirms what it returns.
    pub async fn updates(&self) -> Vec<Value> {
        let offset = *self.offset.lock().unwrap();
        let list = self.ok("getUpdates", json!({"offset": offset})).await;
        let list = list.as_array().unwrap().clone();
        if let Some(last) = list.last() {
            let next = last["update_id"].as_i64().unwrap() + 1;
            *self.offset.lock().unwrap() = next;
            // Confirm right away, so raw getUpdates calls start after them.
            self.ok("getUpdates", json!({"offset": next, "limit": 1}))
                .await;
        }
        list
    }

    /// Updates of one kind (e.g. "message") payloads, confirming everything read.
    pub async fn updates_of(&self, kind: &str) -> Vec<Value> {
        self.updates()
            .await
            .into_iter()
            .filter_map(|u| u.get(kind).cloned())
            .collect()
    }

    /// Olga creates a topic; returns its thread id (the creation update is consumed).
    pub async fn topic(&self, name: &str) -> i64 {
        let t = self
            .ok(
                "createForumTopic",
                json!({"chat_id": self.group, "name": name}),
            )
            .await;
        self.updates().await;
        t["message_thread_id"].as_i64().unwrap()
    }

    /// The bot sends a text to a chat; returns the Message.
    pub async fn say(&self, chat: i64, text: &str) -> Value {
        self.ok("sendMessage", json!({"chat_id": chat, "text": text}))
            .await
    }

    /// A person sends content to the bot's private chat; returns the message.
    pub fn person_to_bot(&self, user: i64, content: Value) -> Value {
        self.ctl
            .send(user, Place::Bot(BOT), &content)
            .unwrap()
            .remove(0)
    }

    /// A person sends content into the forum (a topic or General).
    pub fn person_to_group(&self, user: i64, thread: Option<i64>, content: Value) -> Vec<Value> {
        self.ctl
            .send(user, Place::Group(self.group, thread), &content)
            .unwrap()
    }

    /// Uploads a photo (multipart) to Alice; returns the Message.
    pub async fn upload_photo(&self) -> Value {
        let form = reqwest::multipart::Form::new()
            .text("chat_id", self.alice.to_string())
            .part(
                "photo",
                reqwest::multipart::Part::bytes(b"\xff\xd8jpeg".to_vec())
                    .file_name("p.jpg")
                    .mime_str("image/jpeg")
                    .unwrap(),
            );
        let (status, body) = answer(
            self.http
                .post(self.api("sendPhoto"))
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body["result"].clone()
    }

    /// Asserts the conformance checker saw nothing wrong. Call at the end of each test.
    pub fn done(self) {
        let v = self.emu.violations();
        assert!(v.is_empty(), "conformance violations: {v:#?}");
    }
}

/// Reads an answer: (status, JSON body).
pub async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// Checks `{"ok":false,"error_code":N,"description":"..."}` with N = the HTTP status.
pub fn check_error_shape(status: u16, body: &Value, what: &str) {
    assert_eq!(body["ok"], json!(false), "{what} should fail: {body}");
    assert_eq!(
        body["error_code"].as_u64(),
        Some(status as u64),
        "{what}: {body}"
    );
    assert!(body["description"].is_string(), "{what}: {body}");
}

/// The `id` of a User.
pub fn id(user: &Value) -> i64 {
    user["id"].as_i64().unwrap()
}

/// `message_id` of a Message.
pub fn mid(msg: &Value) -> i64 {
    msg["message_id"].as_i64().unwrap()
}
