//! Telegram having a bad day: with 5xx answers, dropped connections, latency and 429
//! storms injected, 1,000 messages from 50 users and their answers all arrive exactly
//! once and in order per chat.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{spawn_app, text_of, wait_until_for};
use serde_json::Value;
use tg_emulator::{Fault, Faults};

const USERS: usize = 50;
const PER_USER: usize = 20;

/// The texts matching `prefix` in order of appearance.
fn sequence(msgs: &[Value], prefix: &str) -> Vec<String> {
    msgs.iter()
        .map(text_of)
        .filter(|t| t.starts_with(prefix))
        .collect()
}

fn expected(prefix: &str) -> Vec<String> {
    (0..PER_USER).map(|j| format!("{prefix}{j:02}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arrive_exactly_once_in_order_under_faults() {
    let t = spawn_app().await;
    let users: Vec<i64> = (0..USERS)
        .map(|i| t.person(&format!("Load{i:02}")))
        .collect();
    let flaky = Fault {
        latency_ms: 2,
        error_rate: 0.08,
        drop_rate: 0.05,
        ..Default::default()
    };
    let stormy = Fault {
        storm_rate: 0.004,
        storm_retry_after: 1,
        ..flaky.clone()
    };
    t.emu.set_faults(Faults {
        all: flaky,
        methods: HashMap::from([("copyMessage".to_string(), stormy)]),
    });

    for j in 0..PER_USER {
        for (i, u) in users.iter().enumerate() {
            t.user_says(*u, &format!("u{i:02}-m{j:02}"));
        }
    }
    let topics = || -> HashMap<usize, i64> {
        t.topics()
            .iter()
            .filter_map(|tp| {
                let name = tp["name"].as_str()?;
                let i: usize = name.split("Load").nth(1)?.get(..2)?.parse().ok()?;
                Some((i, tp["message_thread_id"].as_i64()?))
            })
            .collect()
    };
    let limit = Duration::from_secs(240);
    wait_until_for("every user message in its topic", limit, || {
        let topics = topics();
        topics.len() == USERS
            && (0..USERS).all(|i| {
                sequence(&t.topic(Some(topics[&i])), &format!("u{i:02}-m")).len() >= PER_USER
            })
    })
    .await;
    let topics = topics();
    for i in 0..USERS {
        let seq = sequence(&t.topic(Some(topics[&i])), &format!("u{i:02}-m"));
        assert_eq!(
            seq,
            expected(&format!("u{i:02}-m")),
            "topic of user {i}: exactly once, in order"
        );
    }

    for j in 0..PER_USER {
        for i in 0..USERS {
            t.operator_says(topics[&i], &format!("a{i:02}-{j:02}"));
        }
    }
    wait_until_for("every answer in its user's chat", limit, || {
        (0..USERS).all(|i| sequence(&t.user_chat(users[i]), &format!("a{i:02}-")).len() >= PER_USER)
    })
    .await;
    for (i, user) in users.iter().enumerate() {
        let seq = sequence(&t.user_chat(*user), &format!("a{i:02}-"));
        assert_eq!(
            seq,
            expected(&format!("a{i:02}-")),
            "chat of user {i}: exactly once, in order"
        );
    }
    assert_eq!(
        t.topics().len(),
        USERS,
        "one topic per user despite the faults"
    );
    t.emu.set_faults(Faults::default());
    t.assert_conformant();
}
