//! The spam gate (NEW_TOPICS_PER_HOUR, issue 16): over the hour's cap a new contact gets no
//! topic but waits in a queue General hears about; `/admit` gives it the topic with what the
//! contact wrote meanwhile, and the dialog then works as any other.

mod common;

use common::{spawn_app_with, text_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_over_the_cap_wait_until_admitted() {
    let t = spawn_app_with("NEW_TOPICS_PER_HOUR = 2").await;
    let ann = t.person("Ann");
    let bob = t.person("Bob");
    let cid = t.person("Cid");
    t.user_says(ann, "Hello from Ann");
    t.wait_topic("Ann").await;
    t.user_says(bob, "Hello from Bob");
    t.wait_topic("Bob").await;

    t.user_says(cid, "Hello from Cid");
    t.user_says(cid, "Cid again");
    let notice = || {
        t.topic(None)
            .iter()
            .any(|m| text_of(m).contains("1 new contact waits for a topic"))
    };
    t.wait_until("the waiting notice in General", notice).await;
    // The hold and the notice are one decision: no topic for Cid.
    assert_eq!(
        t.topics().len(),
        2,
        "the third contact waits: {:?}",
        t.topics()
    );

    t.operator_says_in_general("/admit 999");
    t.wait_until("an unknown contact does not wait", || {
        t.topic(None)
            .iter()
            .any(|m| text_of(m).contains("999 does not wait"))
    })
    .await;
    assert_eq!(t.topics().len(), 2, "nobody admitted by mistake");

    t.operator_says_in_general("/admit all");
    let thread = t.wait_topic("Cid").await;
    let first = t.wait_in_topic(thread, "Hello from Cid").await;
    let second = t.wait_in_topic(thread, "Cid again").await;
    assert!(
        first["message_id"].as_i64() < second["message_id"].as_i64(),
        "kept messages arrive in order"
    );
    t.wait_until("the admission is confirmed", || {
        t.topic(None)
            .iter()
            .any(|m| text_of(m).contains("Admitted 1 waiting contact"))
    })
    .await;

    t.operator_says(thread, "Welcome in, Cid!");
    t.wait_in_user_chat(cid, "Welcome in, Cid!").await;
    assert_eq!(t.topics().len(), 3);
    t.assert_conformant();
}

/// The sweep (every minute, and when the connection starts) admits the queue as the budget
/// allows: with the gate turned off, everyone waiting gets a topic without `/admit`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_admits_the_queue_when_the_budget_allows() {
    let mut t = spawn_app_with("NEW_TOPICS_PER_HOUR = 1").await;
    let ann = t.person("Ann");
    let bob = t.person("Bob");
    t.user_says(ann, "Hello from Ann");
    t.wait_topic("Ann").await;
    t.user_says(bob, "Hello from Bob");
    t.wait_until("the waiting notice in General", || {
        t.topic(None)
            .iter()
            .any(|m| text_of(m).contains("1 new contact waits for a topic"))
    })
    .await;
    t.operator_says_in_general("/set NEW_TOPICS_PER_HOUR 0");
    t.wait_until("the parameter is set", || {
        t.topic(None).iter().any(|m| {
            text_of(m).contains("NEW_TOPICS_PER_HOUR")
                && m["from"]["is_bot"] == true
                && !text_of(m).contains("waits")
        })
    })
    .await;
    assert_eq!(t.topics().len(), 1, "nothing admits Bob but the sweep");
    t.restart().await;
    let thread = t.wait_topic("Bob").await;
    t.wait_in_topic(thread, "Hello from Bob").await;
    t.operator_says(thread, "Hi Bob");
    t.wait_in_user_chat(bob, "Hi Bob").await;
}
