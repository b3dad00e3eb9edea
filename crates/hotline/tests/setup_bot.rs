//! The setup bot end to end (issue 18): from nothing — a Hotline with only `[setup_bot]` —
//! to a working helpdesk through the setup bot alone (token, group, WELCOME, a user's first
//! message answered by an operator), counting the messages the owner exchanges; and the bad
//! inputs: a wrong token, a group without topics, missing rights, a stranger.

mod common;

use common::{bot_call, test_tuning, text_of, wait_until};
use hotline::app::{self, Running};
use hotline::config::Config;
use hotline::store::testdb::TestDatabase;
use serde_json::{json, Value};
use tg_emulator::control::Place;
use tg_emulator::{Control, Emulator};

const SETUP_TOKEN: &str = "7100001:setup-bot-token";
const SHOP_TOKEN: &str = "7200001:shop-bot-token-SECRET";
const KEY: &str = "5f3c9a0e1d2b4c6a8e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";

struct World {
    _emu: Emulator,
    ctl: Control,
    setup: i64,
    shop: i64,
    owner: i64,
    app: Option<Running>,
    _dir: tempfile::TempDir,
    _db: TestDatabase,
}

async fn world() -> World {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("hotline=debug,tg_emulator=info")
        .with_test_writer()
        .try_init();
    let emu = Emulator::start_local().await.expect("emulator starts");
    let ctl = emu.control();
    let setup = ctl
        .add_bot(SETUP_TOKEN, "hotline_setup_bot", "Setup")
        .unwrap();
    let shop = ctl.add_bot(SHOP_TOKEN, "Shop_Help_Bot", "Shop").unwrap();
    let owner = ctl.add_user("Olga", Some("Owner"), Some("olga"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(Some(dir.path())).await;
    let toml = format!(
        r#"
database_url = "{}"
[http]
listen = "127.0.0.1:0"
[limits]
bot_per_second = 1000
private_per_second = 1000
group_per_minute = 100000
[setup_bot]
token = "{SETUP_TOKEN}"
owners = [{owner}]
api_url = "{}"
secret_key = "{KEY}"
"#,
        db.url(),
        emu.url()
    );
    let config = Config::parse(&toml, dir.path(), |_| None).expect("valid config");
    assert!(config.connections.is_empty());
    let app = app::start(&config, test_tuning(&config))
        .await
        .expect("hotline starts with only a setup bot");
    World {
        _emu: emu,
        ctl,
        setup,
        shop,
        owner,
        app: Some(app),
        _dir: dir,
        _db: db,
    }
}

impl World {
    fn chat(&self, user: i64) -> Vec<Value> {
        self.ctl.private_transcript(self.setup, user)
    }

    fn says(&self, user: i64, text: &str) -> Value {
        self.ctl
            .send(user, Place::Bot(self.setup), &json!({ "text": text }))
            .expect("message accepted")
            .remove(0)
    }

    /// Waits for a message of the setup bot to `user` containing `needle`, after `after`
    /// messages of the chat.
    async fn answer(&self, user: i64, after: usize, needle: &str) -> Value {
        let what = format!("the setup bot says {needle:?}");
        wait_until(&what, || {
            self.chat(user)
                .iter()
                .skip(after)
                .any(|m| text_of(m).contains(needle))
        })
        .await;
        self.chat(user)
            .into_iter()
            .skip(after)
            .find(|m| text_of(m).contains(needle))
            .unwrap()
    }

    /// Presses the button with `data` on the latest setup bot message that has it, once
    /// there is one.
    async fn press(&self, data: &str) {
        let needle = format!("\"{data}\"");
        wait_until(&format!("a button {data}"), || {
            self.chat(self.owner)
                .iter()
                .any(|m| m.to_string().contains(&needle))
        })
        .await;
        let msg = self
            .chat(self.owner)
            .into_iter()
            .rev()
            .find(|m| m.to_string().contains(&format!("\"{data}\"")))
            .unwrap_or_else(|| panic!("no button {data}"));
        self.ctl
            .press(
                self.owner,
                Place::Bot(self.setup),
                msg["message_id"].as_i64().unwrap(),
                data,
            )
            .unwrap();
    }

    /// /connect and the token, up to the request to add the bot to a group.
    async fn connect(&self) {
        let n = self.chat(self.owner).len();
        self.says(self.owner, "/connect");
        self.answer(self.owner, n, "Send me the token").await;
        let n = self.chat(self.owner).len();
        self.says(self.owner, SHOP_TOKEN);
        self.answer(self.owner, n, "is connected as \"shop_help_bot\"")
            .await;
        wait_until("the token message is deleted", || {
            !self
                .chat(self.owner)
                .iter()
                .any(|m| m.to_string().contains("SECRET"))
        })
        .await;
    }

    /// The thread of the group's topic that shows `text`, once one does.
    async fn topic_with(&self, group: i64, text: &str) -> i64 {
        let find = || {
            self.ctl.topics(group).iter().find_map(|t| {
                let thread = t["message_thread_id"].as_i64()?;
                self.ctl
                    .topic_transcript(group, Some(thread))
                    .iter()
                    .any(|m| text_of(m).contains(text))
                    .then_some(thread)
            })
        };
        wait_until(&format!("a topic shows {text:?}"), || find().is_some()).await;
        find().unwrap()
    }

    /// `http://<Hotline's address>`.
    fn hotline(&self) -> String {
        format!("http://{}", self.app.as_ref().unwrap().addr)
    }

    /// The gateway's sendMessage as the connection's parallel bot calls it.
    async fn gateway_send(&self, chat: i64, text: &str) -> Value {
        let url = format!("{}/bot{SHOP_TOKEN}/sendMessage", self.hotline());
        bot_call(&url, &json!({"chat_id": chat, "text": text})).await
    }

    /// The status of `GET /api/v1/dialogs` with `key`.
    async fn api_status(&self, key: &str) -> u16 {
        reqwest::Client::new()
            .get(format!("{}/api/v1/dialogs", self.hotline()))
            .bearer_auth(key)
            .send()
            .await
            .expect("the API answers")
            .status()
            .as_u16()
    }

    /// `/connect`, the token, the bot added to `group`: the connection runs.
    async fn connect_to(&self, group: i64) {
        self.connect().await;
        let n = self.chat(self.owner).len();
        self.ctl.add_admin_bot(group, self.shop).unwrap();
        self.answer(self.owner, n, "shop_help_bot is running").await;
    }

    async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_nothing_to_a_working_helpdesk_through_the_setup_bot() {
    let mut w = world().await;
    let group = w.ctl.add_group("Shop team", true, Some(w.owner));

    w.connect().await;
    // The owner adds the bot to the forum group as an administrator (in Telegram's UI).
    w.ctl.add_admin_bot(group, w.shop).unwrap();
    let n = 0;
    w.answer(w.owner, n, "shop_help_bot is running").await;

    // WELCOME through the parameter's button.
    w.press("param:shop_help_bot:WELCOME").await;
    w.answer(w.owner, n, "Send the new value of WELCOME").await;
    let n = w.chat(w.owner).len();
    w.says(w.owner, "Hi {name}, welcome to the Shop!");
    w.answer(w.owner, n, "WELCOME of shop_help_bot is set")
        .await;

    // A user writes; the topic shows it; an operator answers; the user gets it.
    let user = w.ctl.add_user("Bruno", None, Some("bruno"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    w.ctl
        .send(
            user,
            Place::Bot(w.shop),
            &json!({"text": "Where is my order?"}),
        )
        .unwrap();
    wait_until("the welcome reaches the user", || {
        w.ctl
            .private_transcript(w.shop, user)
            .iter()
            .any(|m| text_of(m) == "Hi Bruno, welcome to the Shop!")
    })
    .await;
    wait_until("a topic shows the message", || {
        w.ctl.topics(group).iter().any(|t| {
            let thread = t["message_thread_id"].as_i64().unwrap_or_default();
            w.ctl
                .topic_transcript(group, Some(thread))
                .iter()
                .any(|m| text_of(m) == "Where is my order?")
        })
    })
    .await;
    let thread = w
        .ctl
        .topics(group)
        .iter()
        .map(|t| t["message_thread_id"].as_i64().unwrap())
        .find(|&th| {
            w.ctl
                .topic_transcript(group, Some(th))
                .iter()
                .any(|m| text_of(m) == "Where is my order?")
        })
        .unwrap();
    w.ctl
        .send(
            w.owner,
            Place::Group(group, Some(thread)),
            &json!({"text": "It ships today."}),
        )
        .unwrap();
    wait_until("the user gets the operator's answer", || {
        w.ctl
            .private_transcript(w.shop, user)
            .iter()
            .any(|m| text_of(m) == "It ships today.")
    })
    .await;

    // What the person did: the messages they sent (the token's was deleted) and the
    // buttons they pressed; and everything in the chat.
    let chat = w.chat(w.owner);
    let sent_by_owner = chat
        .iter()
        .filter(|m| m["from"]["id"].as_i64() == Some(w.owner))
        .count();
    let from_bot = chat.len() - sent_by_owner;
    let exchanged = 3 + 1 + from_bot; // /connect, token, the WELCOME text; 1 button
    eprintln!(
        "setup bot: the owner sent 3 messages and pressed 1 button; the bot sent {from_bot}; \
         {exchanged} in all (plus adding the bot to the group in Telegram)"
    );
    assert_eq!(
        sent_by_owner, 2,
        "/connect and the WELCOME text remain: {chat:?}"
    );
    assert!(exchanged <= 12, "{exchanged} messages: {chat:?}");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_answer() {
    let mut w = world().await;

    // A stranger learns nothing.
    let stranger = w.ctl.add_user("Eve", None, Some("eve"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    w.says(stranger, "/connect");
    w.answer(stranger, 0, "Sorry, this bot is private.").await;
    w.says(stranger, "/list");
    wait_until("both refused", || {
        w.chat(stranger)
            .iter()
            .filter(|m| text_of(m) == "Sorry, this bot is private.")
            .count()
            == 2
    })
    .await;
    assert!(w
        .chat(stranger)
        .iter()
        .filter(|m| m["from"]["is_bot"] == true)
        .all(|m| text_of(m) == "Sorry, this bot is private."));

    // A wrong token.
    let n = w.chat(w.owner).len();
    w.says(w.owner, "/connect");
    w.answer(w.owner, n, "Send me the token").await;
    let n = w.chat(w.owner).len();
    w.says(w.owner, "7200001:not-the-right-one");
    w.answer(w.owner, n, "Telegram refused that token").await;
    let n = w.chat(w.owner).len();
    w.says(w.owner, "hello");
    w.answer(w.owner, n, "That is not a bot token").await;

    // A group without topics, then missing rights, then right.
    let plain = w.ctl.add_group("No topics", false, Some(w.owner));
    w.connect().await;
    let n = w.chat(w.owner).len();
    w.ctl.add_admin_bot(plain, w.shop).unwrap();
    w.answer(w.owner, n, "is not a forum").await;

    let forum = w.ctl.add_group("Forum", true, Some(w.owner));
    let n = w.chat(w.owner).len();
    w.ctl.add_member(forum, w.shop).unwrap();
    w.answer(w.owner, n, "must be an administrator").await;

    let n = w.chat(w.owner).len();
    w.ctl.add_admin_bot(forum, w.shop).unwrap();
    w.answer(w.owner, n, "shop_help_bot is running").await;
    w.stop().await;
}

/// A connection started by the setup bot is served at once by the gateway (its bot's
/// sendMessage is mirrored into the user's topic), the REST API (a key of the setup bot
/// works) and `/metrics`; after "remove" the gateway answers as Telegram does for an
/// unknown token and the key is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_started_at_run_time_is_served_everywhere_until_removed() {
    let mut w = world().await;
    let group = w.ctl.add_group("Shop team", true, Some(w.owner));
    w.connect_to(group).await;

    let user = w.ctl.add_user("Bruno", None, Some("bruno"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    w.ctl
        .send(
            user,
            Place::Bot(w.shop),
            &json!({"text": "Where is my order?"}),
        )
        .unwrap();
    let thread = w.topic_with(group, "Where is my order?").await;

    // The parallel bot, through the gateway with the connection's token.
    let sent = w.gateway_send(user, "Your parcel left the warehouse").await;
    assert_eq!(sent["ok"], true, "{sent}");
    let mirrored = w
        .topic_with(group, "🤖 Your parcel left the warehouse")
        .await;
    assert_eq!(mirrored, thread);

    // An API key from the setup bot works at once.
    let n = w.chat(w.owner).len();
    w.press("key:shop_help_bot").await;
    let answer = w.answer(w.owner, n, "The API key of shop_help_bot").await;
    let key = text_of(&answer).lines().last().unwrap().trim().to_string();
    assert!(key.starts_with("hl_"), "{answer}");
    assert_eq!(w.api_status(&key).await, 200);

    // `/metrics` reports its gauges.
    let metrics = reqwest::get(format!("{}/metrics", w.hotline()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hotline_dialogs{connection=\"shop_help_bot\",status=\"new\"}"),
        "{metrics}"
    );

    // Removed: neither the gateway nor the API serves it any more.
    let n = w.chat(w.owner).len();
    w.press("remove:shop_help_bot").await;
    w.press("remove!:shop_help_bot").await;
    w.answer(w.owner, n, "shop_help_bot is removed").await;
    let refused = w.gateway_send(user, "Still there?").await;
    assert_eq!(refused["error_code"], 401, "{refused}");
    assert_eq!(w.api_status(&key).await, 401);
    w.stop().await;
}

/// The card's buttons (issue 18): Status names the instance that runs the connection, its
/// queue and last error; Pause stops the connection (no polling, the gateway and the API
/// refuse it) and a user's message waits at Telegram; Resume runs it again and that message
/// reaches the topic; New API key revokes the previous key; Remove stops it for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_key_status_and_remove_buttons() {
    let mut w = world().await;
    let group = w.ctl.add_group("Shop team", true, Some(w.owner));
    w.connect_to(group).await;
    let user = w.ctl.add_user("Bruno", None, Some("bruno"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    w.ctl
        .send(user, Place::Bot(w.shop), &json!({"text": "First question"}))
        .unwrap();
    w.topic_with(group, "First question").await;

    // Status: running here, the queue, no error.
    let n = w.chat(w.owner).len();
    w.press("status:shop_help_bot").await;
    let status = text_of(&w.answer(w.owner, n, "Owner:").await);
    assert!(status.contains("shop_help_bot: running"), "{status}");
    assert!(status.contains("Owner: this instance, "), "{status}");
    assert!(
        status.contains(&format!("(pid {})", std::process::id())),
        "{status}"
    );
    assert!(
        status.contains("Outbox: ") && status.contains(" in flight, 0 failed"),
        "{status}"
    );
    assert!(status.contains("Updates waiting: "), "{status}");
    assert!(status.contains("Last error: none"), "{status}");

    // A key, then a new one: the first is revoked.
    let key = |m: Value| text_of(&m).lines().last().unwrap().trim().to_string();
    let n = w.chat(w.owner).len();
    w.press("key:shop_help_bot").await;
    let first = key(w.answer(w.owner, n, "The API key of shop_help_bot").await);
    assert_eq!(w.api_status(&first).await, 200);
    let n = w.chat(w.owner).len();
    w.press("key:shop_help_bot").await;
    let second = key(w.answer(w.owner, n, "The API key of shop_help_bot").await);
    assert_ne!(first, second);
    assert_eq!(w.api_status(&first).await, 401);
    assert_eq!(w.api_status(&second).await, 200);

    // Pause: stopped, and served nowhere.
    let n = w.chat(w.owner).len();
    w.press("pause:shop_help_bot").await;
    w.answer(w.owner, n, "shop_help_bot is paused").await;
    wait_until("the paused connection stops polling", || {
        !w.ctl.is_polling(w.shop)
    })
    .await;
    let polls = w.ctl.count_calls(w.shop, "getUpdates");
    assert_eq!(w.api_status(&second).await, 401);
    let refused = w.gateway_send(user, "Anyone?").await;
    assert_eq!(refused["error_code"], 401, "{refused}");
    let n = w.chat(w.owner).len();
    w.press("status:shop_help_bot").await;
    let status = text_of(&w.answer(w.owner, n, "Owner:").await);
    assert!(status.contains("shop_help_bot: paused"), "{status}");
    assert!(status.contains("Owner: none"), "{status}");
    // A message written meanwhile waits at Telegram: nobody takes it.
    w.ctl
        .send(
            user,
            Place::Bot(w.shop),
            &json!({"text": "Written while paused"}),
        )
        .unwrap();
    assert_eq!(w.ctl.count_calls(w.shop, "getUpdates"), polls);
    assert!(!w.ctl.is_polling(w.shop));

    // Resume: it runs again, and the waiting message reaches the topic.
    let n = w.chat(w.owner).len();
    w.press("resume:shop_help_bot").await;
    w.answer(w.owner, n, "shop_help_bot runs again").await;
    w.topic_with(group, "Written while paused").await;
    assert!(w.ctl.count_calls(w.shop, "getUpdates") > polls);
    assert_eq!(w.api_status(&second).await, 200);

    // Remove: stopped for good, gone from /list.
    let n = w.chat(w.owner).len();
    w.press("remove:shop_help_bot").await;
    w.press("remove!:shop_help_bot").await;
    w.answer(w.owner, n, "shop_help_bot is removed").await;
    wait_until("the removed connection stops polling", || {
        !w.ctl.is_polling(w.shop)
    })
    .await;
    assert_eq!(w.api_status(&second).await, 401);
    let n = w.chat(w.owner).len();
    w.says(w.owner, "/list");
    let list = text_of(&w.answer(w.owner, n, "No connections yet").await);
    assert!(!list.contains("shop_help_bot"), "{list}");
    w.stop().await;
}
