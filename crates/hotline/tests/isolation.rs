//! Isolation (issue 12): one poison item affects only itself. A test-only fault hook
//! (`hotline::fault`, cargo feature `fault-injection`, compiled only into test builds)
//! makes the processing of a chosen update panic. The other users of the connection and
//! another connection are served meanwhile, the user's later messages keep their order,
//! and after `MAX_ATTEMPTS` the update is a dead letter with a notice in General. After
//! a restart it is not replayed.
//!
//! Before the isolation work a panic here ended the update processor (the whole process
//! exited with "a task stopped unexpectedly"), and every restart replayed the update.

mod api_support;
mod common;

use api_support::with_webhooks;
use common::{spawn_app, spawn_two_bots, text_of, wait_until};
use futures::FutureExt;
use hotline::fault::{inject, Site};
use hotline::isolation::MAX_ATTEMPTS;
use hotline::store::DeadKind;
use serde_json::json;
use tg_emulator::control::Place;

const NOTICE: &str = "could not be processed after";

/// The General messages of `t` containing `needle`.
fn in_general(t: &common::TestApp, needle: &str) -> Vec<String> {
    t.topic(None)
        .iter()
        .map(text_of)
        .filter(|m| m.contains(needle))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_update_becomes_a_dead_letter_and_nothing_else_stops() {
    inject(Site::Update, "POISON-update-1");
    let two = spawn_two_bots().await;
    let mut t = two.t;
    let ann = t.person("Ann");
    let bob = t.person("Bob");
    let cat = t.person("Cat");
    t.user_says(ann, "hello POISON-update-1");
    t.user_says(ann, "Ann after the poison");
    t.user_says(bob, "Bob is served");
    t.ctl
        .send(
            cat,
            Place::Bot(two.bot2),
            &json!({"text": "Cat via the shop"}),
        )
        .unwrap();

    // Other users and the other connection are served while the poison is retried.
    let bob_topic = t.wait_topic("Bob").await;
    t.wait_in_topic(bob_topic, "Bob is served").await;
    let cat_topic = t.wait_topic("Cat").await;
    t.wait_in_topic(cat_topic, "Cat via the shop").await;

    // The poison ends as a dead letter, announced once in General.
    let notices = |t: &common::TestApp| {
        t.topic(None)
            .iter()
            .filter(|m| text_of(m).contains(NOTICE))
            .count()
    };
    wait_until("the dead-letter notice in General", || notices(&t) == 1).await;
    let general = t.topic(None);
    let notice = general
        .iter()
        .find(|m| text_of(m).contains(NOTICE))
        .unwrap();
    assert!(
        text_of(notice).contains(&format!("after {MAX_ATTEMPTS} attempts")),
        "{notice}"
    );
    assert!(text_of(notice).contains("injected fault"), "{notice}");

    // The user's later message waited behind the poison and then went through; the poison
    // itself never reached the team.
    let ann_topic = t.wait_topic("Ann").await;
    t.wait_in_topic(ann_topic, "Ann after the poison").await;
    assert!(!t
        .topic(Some(ann_topic))
        .iter()
        .any(|m| text_of(m).contains("POISON")));

    // Nothing stopped: no task of the running Hotline ended.
    assert!(
        t.app.as_mut().unwrap().wait().now_or_never().is_none(),
        "a task ended"
    );
    let store = t.app().store.clone();
    let dead = store.dead_letters(DeadKind::Update, 10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].attempts, MAX_ATTEMPTS);
    assert_eq!(dead[0].connection, "support");
    assert!(dead[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("injected fault"));

    // A restart does not replay the dead letter; everyone is still served.
    t.restart().await;
    t.user_says(bob, "Bob after the restart");
    t.user_says(ann, "Ann after the restart");
    t.wait_in_topic(bob_topic, "Bob after the restart").await;
    t.wait_in_topic(ann_topic, "Ann after the restart").await;
    assert_eq!(notices(&t), 1, "the dead letter was replayed");
    let store = t.app().store.clone();
    assert_eq!(
        store
            .dead_letters(DeadKind::Update, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(t.app.as_mut().unwrap().wait().now_or_never().is_none());
    t.assert_conformant();
}

/// An outbox intent whose execution panics is retried alone and then set aside; the other
/// intents (answers to users, other notices) go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_intent_becomes_a_dead_letter() {
    inject(Site::Intent, "poisonintent");
    let t = spawn_app().await;
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    let topic = t.wait_topic("Ann").await;
    // The answer to an unknown command is a notice intent carrying the command's name.
    t.operator_says_in_general("/poisonintent");
    t.operator_says(topic, "an answer that works");
    t.wait_in_user_chat(ann, "an answer that works").await;
    wait_until("the intent's dead-letter notice", || {
        !in_general(&t, "Dead letter: an outgoing notice").is_empty()
    })
    .await;
    let notice = &in_general(&t, "Dead letter: an outgoing notice")[0];
    assert!(
        notice.contains(&format!("failed {MAX_ATTEMPTS} times")),
        "{notice}"
    );
    assert!(in_general(&t, "Unknown command /poisonintent").is_empty());
    let dead = t
        .app()
        .store
        .dead_letters(DeadKind::Intent, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].attempts, MAX_ATTEMPTS);
    assert!(dead[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("injected fault"));
    // Everything still runs.
    t.operator_says(topic, "a second answer");
    t.wait_in_user_chat(ann, "a second answer").await;
    t.assert_conformant();
}

/// A webhook delivery that panics is retried alone and then set aside; other dialogs'
/// deliveries go on, and its own queue moves on after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_webhook_delivery_becomes_a_dead_letter() {
    inject(Site::Delivery, "POISON-hook");
    let (t, _api, rx) = with_webhooks("*", "").await;
    let ann = t.person("Ann");
    let bob = t.person("Bob");
    t.user_says(ann, "hello POISON-hook");
    t.user_says(bob, "Bob's event");
    let delivered = |needle: &str| {
        rx.delivered()
            .iter()
            .any(|b| b.to_string().contains(needle))
    };
    wait_until("Bob's event delivered", || delivered("Bob's event")).await;
    wait_until("the delivery's dead-letter notice", || {
        !in_general(&t, "Dead letter: webhook event").is_empty()
    })
    .await;
    let notice = &in_general(&t, "Dead letter: webhook event")[0];
    assert!(
        notice.contains(&format!("failed {MAX_ATTEMPTS} times")),
        "{notice}"
    );
    t.user_says(ann, "Ann's next event");
    wait_until("Ann's queue moved on", || delivered("Ann's next event")).await;
    assert!(!delivered("POISON-hook"));
    let dead = t
        .app()
        .store
        .dead_letters(DeadKind::Webhook, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].attempts, MAX_ATTEMPTS);
}
