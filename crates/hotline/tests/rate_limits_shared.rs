//! Rate limits are the bot's, whoever sends (issue 14).
//!
//! - The parallel bot's own sends through the gateway count against the same Telegram
//!   limits as Hotline's: the outbox counts them and slows down instead of meeting 429s
//!   (the bot's calls themselves are never delayed by Hotline).
//! - A 429's pause outlives the worker that met it: after a restart (or on a new owner)
//!   nothing is sent to the paused chat before the pause ends.
//!
//! Limits are Telegram's on the harness's clock ([`common::TIME_SCALE`]): 20 sends per 6 s
//! into a group, 1 per 100 ms into a private chat.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tg_emulator::{Fault, Faults};

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Calls the emulator counts against the rate limits (its `SENDING` list).
fn is_send(method: &str) -> bool {
    method.starts_with("send") && method != "sendChatAction"
        || method.starts_with("copyMessage")
        || method.starts_with("forwardMessage")
        || method == "createForumTopic"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_own_sends_slow_the_outbox_down() {
    let t = spawn_app().await;
    let gateway = format!("http://{}/bot{}", t.app().addr, t.token);
    let http = reqwest::Client::new();
    // The 429s the bot met (it waits them out and calls again, as a well-behaved bot does):
    // Hotline's outbox must have met none, so these are all the emulator answered.
    let bot_refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let send = |chat: i64, text: String| {
        let (http, url) = (http.clone(), format!("{gateway}/sendMessage"));
        let refused = bot_refused.clone();
        async move {
            loop {
                let answer: serde_json::Value = http
                    .post(&url)
                    .json(&json!({"chat_id": chat, "text": text}))
                    .send()
                    .await
                    .expect("the gateway answers")
                    .json()
                    .await
                    .expect("a JSON answer");
                if let Some(secs) = answer["parameters"]["retry_after"].as_u64() {
                    refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(secs).div_f64(TIME_SCALE)).await;
                    continue;
                }
                assert_eq!(answer["ok"], true, "the bot's own send: {answer}");
                return;
            }
        }
    };

    // The bot announces something in the group: 16 of the group's 20 sends this minute
    // (6 s on the harness's clock).
    for i in 0..16 {
        send(t.group, format!("announcement {i}")).await;
    }
    // Three people write first right after: a topic, a card and a copy each, 9 sends into
    // the group. Only 4 fit now; the outbox must wait for the bot's sends to leave
    // Telegram's window rather than meet a 429.
    for i in 1..=3 {
        let name = format!("Early{i}");
        t.user_says(t.person(&name), &format!("first from {name}"));
    }
    for i in 1..=3 {
        let name = format!("Early{i}");
        let thread = t.wait_topic(&name).await;
        t.wait_in_topic(thread, &format!("first from {name}")).await;
    }

    // The bot writes to a user, and at once an operator answers the same user: the answer
    // waits for the user's 1-per-second window instead of meeting a 429.
    let user = t.person("Late");
    t.user_says(user, "hello");
    let thread = t.wait_topic("Late").await;
    for i in 0..3 {
        send(user, format!("from the bot {i}")).await;
        t.operator_says(thread, &format!("from an operator {i}"));
        t.wait_in_user_chat(user, &format!("from an operator {i}"))
            .await;
    }

    let refused: Vec<_> = t
        .ctl
        .calls()
        .into_iter()
        .filter(|c| c.error_code == 429)
        .map(|c| format!("{} to {:?}", c.method, c.chat_id))
        .collect();
    let by_bot = bot_refused.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        refused.len(),
        by_bot,
        "the emulator answered 429 {} times, {by_bot} of them to the bot: {refused:?}",
        refused.len()
    );
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pause_survives_a_restart() {
    let mut t = spawn_app().await;
    // A first dialog, so the group has a topic.
    let first = t.person("First");
    t.user_says(first, "hello");
    t.wait_topic("First").await;

    // Telegram refuses topics in the group for 100 s of its clock (10 s here).
    const RETRY_AFTER: u64 = 100;
    let pause = Duration::from_secs(RETRY_AFTER).div_f64(TIME_SCALE);
    let storm = Fault {
        storm_rate: 1.0,
        storm_retry_after: RETRY_AFTER,
        ..Default::default()
    };
    t.emu.set_faults(Faults {
        all: Fault::default(),
        methods: [("createForumTopic".to_string(), storm)].into(),
    });
    // The pause starts when Hotline reads the 429, after this instant.
    let before = wall_ms();
    t.user_says(t.person("Second"), "hello");
    let pool = t.db_pool().await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE LOWER(last_error) LIKE '%too many requests%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if n > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Hotline never met the 429"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pool.close().await;

    // Telegram takes topics again, but the pause is Telegram's word: a restarted Hotline
    // must wait it out. A new dialog (its own queue in the group) asks for a topic at once.
    t.emu.set_faults(Faults::default());
    let restarting = wall_ms();
    t.restart().await;
    t.user_says(t.person("Third"), "hello");
    wait_until_for(
        "the topics of the dialogs that waited",
        pause + Duration::from_secs(60),
        || {
            let names: Vec<String> = t
                .topics()
                .iter()
                .map(|x| x["name"].as_str().unwrap_or("").to_string())
                .collect();
            ["Second", "Third"]
                .iter()
                .all(|n| names.iter().any(|x| x.contains(n)))
        },
    )
    .await;

    // Lower bound only (a loaded machine may be later, never earlier): no send reached the
    // group from the restart on before the pause ended.
    let ends = before + pause.as_millis() as i64;
    let early: Vec<String> = t
        .ctl
        .calls()
        .into_iter()
        .filter(|c| c.chat_id == Some(t.group) && is_send(&c.method))
        .filter(|c| c.at_ms >= restarting && c.at_ms < ends)
        .map(|c| format!("{} {} ms before the pause ended", c.method, ends - c.at_ms))
        .collect();
    assert!(
        early.is_empty(),
        "sent into the paused group after the restart: {early:?}"
    );
    t.assert_conformant();
}
