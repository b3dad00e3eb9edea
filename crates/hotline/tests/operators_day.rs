//! What operators could not tell, end to end: an answer that did not reach the user (who
//! blocked the bot) leaves the topic 🟪, and an internal comment is marked ✍ in the group
//! (answers that reached the user get 👌) and never reaches the user.

mod common;
mod ops;

use common::{spawn_app, text_of};
use serde_json::Value;

/// The emoji reactions the bot set on a message (the emulator lists them in `reactions`).
fn reactions(m: &Value) -> Vec<String> {
    m["reactions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["emoji"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelivered_answer_keeps_the_topic_waiting_on_the_team() {
    let t = spawn_app().await;
    let bob = t.person("Bob");
    t.user_says(bob, "Hello?");
    let thread = t.wait_topic("Bob").await;
    t.wait_title(thread, "🟪").await;

    t.ctl.block(bob, t.bot, true).unwrap();
    t.wait_in_topic(thread, "blocked the bot").await;
    t.operator_says(thread, "Are you still there?");
    t.wait_in_topic(thread, "Not delivered").await;
    // The answer turned it 🟨 for a moment; it is 🟪 again once the failure is known.
    t.wait_title(thread, "🟪").await;
    assert!(
        !t.user_chat(bob)
            .iter()
            .any(|m| text_of(m).contains("still there")),
        "nothing reached Bob"
    );

    // Unblocked: an answer that arrives turns it 🟨 as usual.
    t.ctl.block(bob, t.bot, false).unwrap();
    t.user_says(bob, "Back again");
    t.wait_in_topic(thread, "Back again").await;
    t.operator_says(thread, "Welcome back, Bob");
    t.wait_in_user_chat(bob, "Welcome back, Bob").await;
    t.wait_title(thread, "🟨").await;
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_comment_is_marked_and_never_sent() {
    let t = spawn_app().await;
    let cid = t.person("Cid");
    t.user_says(cid, "My order #12 is late");
    let thread = t.wait_topic("Cid").await;

    let comment = t.operator_says(thread, "/ check the warehouse first");
    let answer = t.operator_says(thread, "Looking into it!");
    t.wait_in_user_chat(cid, "Looking into it!").await;
    let id = comment["message_id"].clone();
    let find = |id: &Value| {
        t.topic(Some(thread))
            .into_iter()
            .find(|m| &m["message_id"] == id)
            .unwrap()
    };
    t.wait_until("the comment marked ✍", || {
        reactions(&find(&id)).contains(&"✍".to_string())
    })
    .await;
    t.wait_until("the answer marked 👌", || {
        reactions(&find(&answer["message_id"])).contains(&"👌".to_string())
    })
    .await;
    assert!(
        !reactions(&find(&answer["message_id"])).contains(&"✍".to_string()),
        "an answer is not marked as a comment"
    );
    assert!(
        !t.user_chat(cid)
            .iter()
            .any(|m| text_of(m).contains("warehouse")),
        "the comment stays in the group"
    );
    t.assert_conformant();
}
