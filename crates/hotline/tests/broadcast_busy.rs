//! A broadcast at Telegram's real limits (30/s per bot, 1/s per chat, 20/min per group, in
//! the emulator and in Hotline) leaves room for dialogs: a user who writes meanwhile gets a
//! topic and an answer promptly, and nothing is answered 429.

mod broadcast_common;
mod common;

use std::time::{Duration, Instant};

use broadcast_common::*;
use common::*;
use hotline::config::Limits;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialogs_go_first_during_a_broadcast() {
    let mut t = spawn_app_with(GATED).await;
    let n: Vec<String> = (0..300).map(|i| format!("Reader{i:03}")).collect();
    let ids = contacts(&t, &n.iter().map(String::as_str).collect::<Vec<_>>()).await;
    t.config.limits = Limits {
        bot_per_second: 30,
        private_per_second: 1,
        group_per_minute: 20,
    };
    t.restart().await;
    t.emu.set_limits(tg_emulator::Limits::telegram());
    let (s, _) = (store(&t), connection(&t).await);
    let news = post_general(&t, json!({"text": "Newsletter"}));
    command(&t, "/send all", Some(news));
    press(&t, 1, "confirm").await;
    let got = |t: &TestApp| {
        ids.iter()
            .filter(|u| received(t, **u, "Newsletter") > 0)
            .count()
    };
    wait_until("the broadcast under way", || got(&t) >= 30).await;

    let zed = t.person("Zed");
    let asked = Instant::now();
    t.user_says(zed, "operator, my order is late");
    let thread = t.wait_topic("Zed").await;
    t.wait_in_topic(thread, "my order is late").await;
    let to_topic = asked.elapsed();
    let answered = Instant::now();
    t.operator_says(thread, "On its way, sorry!");
    t.wait_in_user_chat(zed, "On its way").await;
    let to_user = answered.elapsed();
    let left = s.recipient_counts(1).await.unwrap().left();
    assert!(left > 0, "the broadcast was still running");
    assert!(
        to_topic < Duration::from_secs(3) && to_user < Duration::from_secs(2),
        "dialog waited: {to_topic:?} to the topic, {to_user:?} to the user"
    );
    let rows = wait_csv(&t, "broadcast-1.csv", Duration::from_secs(60)).await;
    assert!(rows[1..].iter().all(|r| r[3] == "sent"));
    let too_many = t.ctl.calls().iter().filter(|c| c.error_code == 429).count();
    // Hotline plans within the limits (with slack for the trip to Telegram); a debug build
    // on a loaded machine can still see a rare 429, which pauses the bot for a second.
    // The release benchmark (bench/README.md) sees none.
    assert!(too_many <= 2, "{too_many} 429s from the emulator");
}
