//! Parameters that filter and shape the relay: WHITE_LIST, IGNORE_CHATS,
//! RESTRICTED_KEYWORDS, PRIVATE_KEYWORDS, REPLY_ONLY, LEAVE_CLOSED, SILENT_MODE,
//! AUTO_INFO; and two connections sharing one group.

mod common;

use common::{spawn_app_with, spawn_two_bots, text_of, wait_until};
use serde_json::json;
use tg_emulator::control::Place;

/// Proves a negative: sends a marker from a user who IS relayed and waits for it, so
/// everything sent before it has been processed.
async fn settle(t: &common::TestApp, thread: i64, user: i64, marker: &str) {
    t.user_says(user, marker);
    t.wait_in_topic(thread, marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn white_list_and_ignore_chats() {
    let t = spawn_app_with("").await;
    let allowed = t.person("Allowed");
    let ignored = t.person("Ignored");
    let stranger = t.person("Stranger");
    let relay = &t.app().connections[0].ctx;
    relay
        .params
        .write()
        .unwrap()
        .set("WHITE_LIST", &format!("{allowed}, {ignored}"))
        .unwrap();
    relay
        .params
        .write()
        .unwrap()
        .set("IGNORE_CHATS", &format!("777000, {ignored}"))
        .unwrap();
    t.user_says(stranger, "not on the list");
    t.user_says(ignored, "ignored one");
    t.user_says(allowed, "let me in");
    t.wait_topic("Allowed").await;
    assert_eq!(
        t.topics().len(),
        1,
        "only the white-listed, not ignored user got a topic"
    );
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_and_private_keywords() {
    let t = spawn_app_with(
        r#"RESTRICTED_KEYWORDS = '"casino"'
PRIVATE_KEYWORDS = '"operator", ["human", "please"], ["help", "~bot"]'"#,
    )
    .await;
    let u = t.person("Lena");
    t.user_says(u, "what are your hours?");
    t.user_says(u, "I need help from a bot");
    t.user_says(u, "human?");
    assert!(t.topics().is_empty());
    t.user_says(u, "a Human, please");
    let thread = t.wait_topic("Lena").await;
    t.wait_in_topic(thread, "a Human, please").await;
    t.user_says(u, "win at the CASINO now");
    settle(&t, thread, u, "now it flows without keywords").await;
    assert!(
        !t.topic(Some(thread))
            .iter()
            .any(|m| text_of(m).contains("CASINO")),
        "restricted messages are not relayed"
    );
    assert!(
        !t.topic(Some(thread))
            .iter()
            .any(|m| text_of(m).contains("hours")),
        "nothing before the trigger"
    );
    // Closing ends the activation: the keyword is needed again.
    t.operator_says(thread, "/close");
    wait_until("closed", || t.topic_info(thread)["is_closed"] == true).await;
    t.user_says(u, "one more thing");
    t.user_says(u, "OPERATOR please");
    t.wait_in_topic(thread, "OPERATOR please").await;
    assert!(!t
        .topic(Some(thread))
        .iter()
        .any(|m| text_of(m).contains("one more thing")));
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_only_sends_only_replies() {
    let t = spawn_app_with("REPLY_ONLY = true").await;
    let u = t.person("Mia");
    t.user_says(u, "question");
    let thread = t.wait_topic("Mia").await;
    let copy = t.wait_in_topic(thread, "question").await;
    t.operator_says(thread, "just a note for colleagues");
    t.operator_sends(
        thread,
        json!({"text": "the answer", "reply_to": copy["message_id"]}),
    );
    t.wait_in_user_chat(u, "the answer").await;
    assert!(!t
        .user_chat(u)
        .iter()
        .any(|m| text_of(m).contains("note for colleagues")));
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_closed_and_no_auto_info() {
    let t =
        spawn_app_with("LEAVE_CLOSED = true\nAUTO_INFO = false\nWELCOME = \"Hi {name}!\"").await;
    let u = t.person("Nora");
    t.user_says(u, "hello there");
    let find = || {
        t.topics()
            .into_iter()
            .find(|x| x["name"].as_str().unwrap().contains("Nora"))
    };
    wait_until("a topic", || find().is_some()).await;
    let thread = find().unwrap()["message_thread_id"].as_i64().unwrap();
    t.wait_in_topic(thread, "hello there").await;
    wait_until("stays closed ⬛", || {
        let i = t.topic_info(thread);
        i["is_closed"] == true && i["name"].as_str().unwrap().starts_with("⬛")
    })
    .await;
    assert!(
        !t.user_chat(u)
            .iter()
            .any(|m| text_of(m).contains("Hi Nora")),
        "no welcome with LEAVE_CLOSED"
    );
    assert!(
        !t.topic(Some(thread))
            .iter()
            .any(|m| text_of(m).contains(&u.to_string())),
        "no card with AUTO_INFO off"
    );
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_text_and_silent_mode() {
    let t = spawn_app_with("WELCOME = \"Hi {name}, we are on it\"\nSILENT_MODE = true").await;
    let u = t.person("Omar");
    t.user_says(u, "hey");
    t.wait_in_user_chat(u, "Hi Omar, we are on it").await;
    let thread = t.wait_topic("Omar").await;
    // A message the user deleted before Hotline copied it cannot be delivered: the team
    // is told; with SILENT_MODE the user is not.
    t.emu.set_faults(tg_emulator::Faults {
        methods: [(
            "copyMessage".to_string(),
            tg_emulator::Fault {
                latency_ms: 300,
                ..Default::default()
            },
        )]
        .into(),
        ..Default::default()
    });
    let m = t.user_says(u, "oops, deleting this");
    t.ctl
        .delete_message(u, Place::Bot(t.bot), m["message_id"].as_i64().unwrap())
        .unwrap();
    t.wait_in_topic(thread, "could not be copied").await;
    t.emu.set_faults(Default::default());
    settle(&t, thread, u, "after the failure").await;
    assert!(
        !t.user_chat(u)
            .iter()
            .any(|m| text_of(m).contains("could not be delivered")),
        "silent mode hides errors"
    );
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_connections_share_one_group() {
    let two = spawn_two_bots().await;
    let t = &two.t;
    let u = t.person("Pia");
    t.user_says(u, "to support");
    t.ctl
        .send(u, Place::Bot(two.bot2), &json!({"text": "to the shop"}))
        .unwrap();
    let support = t.wait_topic("@support_bot").await;
    let shop = t.wait_topic("@shop_bot").await;
    assert_ne!(support, shop, "one topic per bot");
    t.wait_in_topic(support, "to support").await;
    t.wait_in_topic(shop, "to the shop").await;
    t.wait_in_topic(shop, "@shop_bot").await; // the card says which bot
    t.operator_says(shop, "shop answer");
    t.operator_says(support, "support answer");
    wait_until("answers from the right bots", || {
        t.ctl
            .private_transcript(two.bot2, u)
            .iter()
            .any(|m| text_of(m) == "shop answer")
            && t.ctl
                .private_transcript(t.bot, u)
                .iter()
                .any(|m| text_of(m) == "support answer")
    })
    .await;
    assert!(!t
        .ctl
        .private_transcript(t.bot, u)
        .iter()
        .any(|m| text_of(m) == "shop answer"));
    assert!(!t
        .ctl
        .private_transcript(two.bot2, u)
        .iter()
        .any(|m| text_of(m) == "support answer"));
    t.assert_conformant();
}
