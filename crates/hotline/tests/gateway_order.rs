//! Randomized: many users write while the parallel bot (through the gateway) sends,
//! streams edits and deletes in their chats, concurrently, with Hotline restarted in the
//! middle. Afterwards each user's topic must show exactly the user's chat as Telegram
//! ordered it (by `message_id`): the user's messages and the bot's messages interleaved
//! in that order, each bot message once with its final text, and every deleted one with
//! its 🗑 note.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::{spawn_app_unlimited, text_of, GATEWAY_BOT_NO_RETRY};
use serde_json::{json, Value};
use tg_emulator::control::Place;

const USERS: usize = 8;
/// Messages each user writes (after the first one).
const USER_MESSAGES: usize = 10;
/// Concurrent bot tasks per user, each sending this many messages.
const BOT_TASKS: usize = 2;
const BOT_MESSAGES: usize = 6;

/// A small deterministic generator (the seed is printed, so a failure can be replayed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the bot did to one of its messages (the bot's own record).
#[derive(Debug, Clone)]
struct Sent {
    text: String,
    deleted: bool,
}

/// The parallel bot: a Bot API client of the gateway that follows Hotline across the
/// restart (its address changes) by retrying calls that found nobody listening.
#[derive(Clone)]
struct Bot {
    http: reqwest::Client,
    base: Arc<RwLock<String>>,
    log: Arc<Mutex<HashMap<(i64, i64), Sent>>>,
}

impl Bot {
    async fn call(&self, method: &str, params: Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut retried = false;
        loop {
            let url = format!("{}/{method}", self.base.read().unwrap());
            match self.http.post(url).json(&params).send().await {
                Ok(r) => {
                    let body: Value = r.json().await.expect("a JSON answer");
                    // Hotline is between owners (stopping or starting): not executed; wait
                    // `retry_after` and repeat, as frameworks' retry helpers do.
                    if let Some(after) = body["parameters"]["retry_after"].as_u64() {
                        assert_eq!(body["error_code"], 429, "{method} {params}: {body}");
                        assert!(
                            Instant::now() < deadline,
                            "{method}: still 429 at the deadline"
                        );
                        tokio::time::sleep(Duration::from_secs(after)).await;
                        continue;
                    }
                    // A retried edit whose first attempt did reach Telegram.
                    let again = retried
                        && body["description"]
                            .as_str()
                            .is_some_and(|d| d.contains("message is not modified"));
                    assert!(body["ok"] == true || again, "{method} {params}: {body}");
                    return body["result"].clone();
                }
                // Hotline is restarting: the call never reached Telegram.
                Err(e) if Instant::now() < deadline && (e.is_connect() || e.is_request()) => {
                    if !e.is_connect() {
                        eprintln!("{method} retried after: {e:?}");
                    }
                    retried = true;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{method}: {e}"),
            }
        }
    }

    /// Sends one message to `user`, then maybe streams edits and maybe deletes it.
    async fn act(&self, user: i64, label: &str, rng: &mut Rng) {
        let m = self
            .call("sendMessage", json!({"chat_id": user, "text": label}))
            .await;
        let id = m["message_id"].as_i64().unwrap();
        let mut text = label.to_string();
        self.log.lock().unwrap().insert(
            (user, id),
            Sent {
                text: text.clone(),
                deleted: false,
            },
        );
        if rng.below(2) == 0 {
            for v in 1..=1 + rng.below(3) {
                text = format!("{label} v{v}");
                self.call(
                    "editMessageText",
                    json!({"chat_id": user, "message_id": id, "text": text}),
                )
                .await;
                self.log.lock().unwrap().get_mut(&(user, id)).unwrap().text = text.clone();
            }
        }
        if rng.below(4) == 0 {
            self.call("deleteMessage", json!({"chat_id": user, "message_id": id}))
                .await;
            self.log
                .lock()
                .unwrap()
                .get_mut(&(user, id))
                .unwrap()
                .deleted = true;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn topics_show_each_users_chat_in_telegrams_order_through_races_and_a_restart() {
    let seed = std::env::var("HOTLINE_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("stress seed {seed} (HOTLINE_STRESS_SEED={seed} replays it)");
    let mut t = spawn_app_unlimited(GATEWAY_BOT_NO_RETRY, "").await;
    let bot = Bot {
        http: reqwest::Client::new(),
        base: Arc::new(RwLock::new(format!(
            "http://{}/bot{}",
            t.app().addr,
            t.token
        ))),
        log: Arc::default(),
    };
    let users: Vec<(String, i64)> = (0..USERS)
        .map(|i| {
            let name = format!("Pers{i}x");
            let id = t.person(&name);
            (name, id)
        })
        .collect();
    // Each user's first message opens the dialog; everything after it races.
    for (i, (_, u)) in users.iter().enumerate() {
        t.user_says(*u, &format!("u{i}.0"));
    }
    let total = USERS * (USER_MESSAGES + BOT_TASKS * BOT_MESSAGES);
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (_, u)) in users.iter().enumerate() {
        let (u, ctl, bot_id, users_done) = (*u, t.ctl.clone(), t.bot, done.clone());
        let mut rng = Rng(seed.wrapping_mul(31 + i as u64) | 1);
        tasks.spawn(async move {
            for k in 1..=USER_MESSAGES {
                tokio::time::sleep(Duration::from_millis(rng.below(40))).await;
                ctl.send(u, Place::Bot(bot_id), &json!({"text": format!("u{i}.{k}")}))
                    .expect("the user's message is accepted");
                users_done.fetch_add(1, Ordering::Relaxed);
            }
        });
        for task in 0..BOT_TASKS {
            let (bot, done) = (bot.clone(), done.clone());
            let mut rng = Rng(seed.wrapping_mul(1000 + 7 * i as u64 + task as u64) | 1);
            tasks.spawn(async move {
                for k in 0..BOT_MESSAGES {
                    tokio::time::sleep(Duration::from_millis(rng.below(30))).await;
                    bot.act(u, &format!("b{i}.{task}.{k}"), &mut rng).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    }
    // Restart Hotline once about half the traffic went by.
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.load(Ordering::Relaxed) < total / 2 {
        assert!(Instant::now() < deadline, "the traffic stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    t.restart().await;
    *bot.base.write().unwrap() = format!("http://{}/bot{}", t.app().addr, t.token);
    while let Some(r) = tasks.join_next().await {
        r.expect("a traffic task");
    }

    // What each topic must show, from the user's chat (the user's messages) and the bot's
    // record (its messages with their final texts, deleted ones included).
    let log = bot.log.lock().unwrap().clone();
    let expected = |i: usize, u: i64| -> Vec<String> {
        let mut chat: BTreeMap<i64, String> = t
            .user_chat(u)
            .iter()
            .filter(|m| m["from"]["id"] == u)
            .map(|m| (m["message_id"].as_i64().unwrap(), text_of(m)))
            .collect();
        for ((user, id), s) in &log {
            if *user == u {
                chat.insert(*id, format!("🤖 {}", s.text));
            }
        }
        assert_eq!(
            chat.len(),
            1 + USER_MESSAGES + BOT_TASKS * BOT_MESSAGES,
            "user {i}: {chat:?}"
        );
        chat.into_values().collect()
    };
    let shown = |thread: i64, i: usize| -> Vec<String> {
        let (mine, bots) = (format!("u{i}."), format!("🤖 b{i}."));
        t.topic(Some(thread))
            .iter()
            .map(text_of)
            .filter(|s| s.starts_with(&mine) || s.starts_with(&bots))
            .collect()
    };
    let mut threads = Vec::new();
    for (name, _) in &users {
        threads.push(t.wait_topic(name).await);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for (i, (_, u)) in users.iter().enumerate() {
        let want = expected(i, *u);
        while shown(threads[i], i) != want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            shown(threads[i], i),
            want,
            "user {i}'s topic against the chat (seed {seed})"
        );
        // Every message the bot deleted has its note, replying to its copy.
        let topic = t.topic(Some(threads[i]));
        for ((user, _), s) in &log {
            if *user != *u || !s.deleted {
                continue;
            }
            let copy = topic
                .iter()
                .find(|m| text_of(m) == format!("🤖 {}", s.text))
                .unwrap()["message_id"]
                .clone();
            while Instant::now() < deadline
                && !t.topic(Some(threads[i])).iter().any(|m| {
                    text_of(m).starts_with("🗑") && m["reply_to_message"]["message_id"] == copy
                })
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(
                t.topic(Some(threads[i])).iter().any(|m| {
                    text_of(m).starts_with("🗑") && m["reply_to_message"]["message_id"] == copy
                }),
                "the deletion of {:?} noted in user {i}'s topic (seed {seed})",
                s.text
            );
        }
    }
}
