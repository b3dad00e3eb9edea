//! End to end: a user writes, the topic shows it, an operator answers, the user gets it.

mod common;

use common::{spawn_app, text_of};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contact_answer_close_and_return() {
    let t = spawn_app().await;
    let ann = t.person("Ann");
    t.user_says(ann, "/start promo42");
    t.user_says(ann, "Hello, my order is late");

    let thread = t.wait_topic("Ann").await;
    assert!(
        t.topic_info(thread)["name"]
            .as_str()
            .unwrap()
            .starts_with("🟪"),
        "new dialog is 🟪"
    );
    let card = t.wait_in_topic(thread, "promo42").await;
    assert!(
        text_of(&card).contains(&ann.to_string()),
        "card shows the id"
    );
    let copy = t.wait_in_topic(thread, "my order is late").await;
    assert_eq!(copy["from"]["id"], t.bot, "copies come from the bot");
    t.wait_in_user_chat(ann, "Thanks for your message").await;

    t.operator_says(thread, "Sorry! It ships today.");
    t.wait_in_user_chat(ann, "It ships today").await;
    t.wait_title(thread, "🟨").await;

    t.operator_says(thread, "/ internal: refund if it does not arrive");
    t.operator_says(thread, "/close");
    t.wait_until("⬛ closed topic", || {
        let info = t.topic_info(thread);
        info["name"].as_str().unwrap().starts_with("⬛") && info["is_closed"] == true
    })
    .await;
    assert!(
        !t.user_chat(ann)
            .iter()
            .any(|m| text_of(m).contains("internal")),
        "comments stay in the group"
    );
    assert!(
        !t.user_chat(ann)
            .iter()
            .any(|m| text_of(m).contains("/close")),
        "commands stay in the group"
    );

    t.user_says(ann, "It arrived, thanks");
    t.wait_until("reopened 🟪", || {
        let info = t.topic_info(thread);
        info["name"].as_str().unwrap().starts_with("🟪") && info["is_closed"] == false
    })
    .await;
    t.wait_in_topic(thread, "It arrived").await;
    // A returning user hears REOPEN_MESSAGE, not the first-contact WELCOME again.
    t.wait_in_user_chat(ann, "Welcome back, Ann!").await;
    assert_eq!(
        t.user_chat(ann)
            .iter()
            .filter(|m| text_of(m).contains("Thanks for your message"))
            .count(),
        1,
        "WELCOME only once"
    );
    assert_eq!(t.topics().len(), 1, "one topic per contact");
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_kept_both_ways() {
    let t = spawn_app().await;
    let bob = t.person("Bob");
    let first = t.user_says(bob, "Question one");
    let thread = t.wait_topic("Bob").await;
    let copy = t.wait_in_topic(thread, "Question one").await;
    t.outbox_settled().await;

    // Operator replies to the copy: the user sees a reply to their original.
    t.operator_sends(
        thread,
        json!({"text": "Answer to one", "reply_to": copy["message_id"]}),
    );
    let answer = t.wait_in_user_chat(bob, "Answer to one").await;
    t.outbox_settled().await;
    assert_eq!(
        answer["reply_to_message"]["message_id"],
        first["message_id"]
    );

    // The user replies to the answer: the topic shows a reply to the operator's message.
    let op_msg = t
        .topic(Some(thread))
        .into_iter()
        .find(|m| text_of(m) == "Answer to one")
        .unwrap();
    t.user_sends(
        bob,
        json!({"text": "Thanks for that", "reply_to": answer["message_id"]}),
    );
    let reply = t.wait_in_topic(thread, "Thanks for that").await;
    assert_eq!(
        reply["reply_to_message"]["message_id"],
        op_msg["message_id"]
    );
    t.assert_conformant();
}
