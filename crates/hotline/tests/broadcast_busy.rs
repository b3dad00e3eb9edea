//! A broadcast at Telegram's real limits on Telegram's own clock (30/s per bot, 1/s per chat,
//! 20/min per group, in the emulator and in Hotline) leaves room for dialogs: a user who
//! writes meanwhile gets a topic and an answer while the broadcast is still going, and
//! 429s stay rare (only the trip's jitter can cause one).

mod broadcast_common;
mod common;

use std::time::{Duration, Instant};

use broadcast_common::*;
use common::*;
use hotline::config::Limits;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialogs_go_first_during_a_broadcast() {
    // The 300 contacts are made without limits (they are setup, not the subject).
    let mut t = spawn_app_unlimited("setup of 300 contacts", GATED).await;
    let n: Vec<String> = (0..300).map(|i| format!("Reader{i:03}")).collect();
    let ids = contacts(&t, &n.iter().map(String::as_str).collect::<Vec<_>>()).await;
    t.config.limits = Limits {
        bot_per_second: 30,
        private_per_second: 1,
        group_per_minute: 20,
    };
    // Telegram's clock (scale 1): the broadcast must last long enough (10 s) for a dialog
    // to start and end inside it on a loaded machine.
    t.restart_with_limits(1.0).await;
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
    // What holds however loaded the machine is: the dialog did not wait for the
    // broadcast. Its timings are printed; on an idle machine they are well under a second.
    eprintln!("dialog: {to_topic:?} to the topic, {to_user:?} to the user; {left} broadcast messages left");
    assert!(
        left > 0,
        "the dialog waited for the broadcast: {to_topic:?} to the topic, {to_user:?} to the user"
    );
    let rows = wait_csv(&t, "broadcast-1.csv", Duration::from_secs(60)).await;
    assert!(rows[1..].iter().all(|r| r[3] == "sent"));
    let too_many = t.ctl.calls().iter().filter(|c| c.error_code == 429).count();
    // Hotline plans within the limits (with slack for the trip to Telegram); a debug build
    // on a loaded machine can still see a rare 429 (4 seen at load 14), which pauses the
    // bot for a second; planning that ignored the limits would see hundreds. The release
    // benchmark (bench/README.md) sees none.
    assert!(too_many <= 10, "{too_many} 429s from the emulator");
}
