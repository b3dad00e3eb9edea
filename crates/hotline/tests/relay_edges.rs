//! The hard cases: a deleted topic, a blocked user, bans, /new, auto-close, and
//! operator messages that cannot be delivered.

mod common;

use common::{spawn_app, spawn_app_with, text_of, wait_until};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_topic_is_recreated_and_nothing_is_lost() {
    let t = spawn_app().await;
    let u = t.person("Gus");
    t.user_says(u, "first");
    let old = t.wait_topic("Gus").await;
    t.wait_in_topic(old, "first").await;
    t.ctl.delete_topic(t.group, old).unwrap();
    t.user_says(u, "second");
    t.user_says(u, "third");
    let new = t.wait_topic("Gus").await;
    assert_ne!(new, old);
    t.wait_in_topic(new, "second").await;
    t.wait_in_topic(new, "third").await;
    let note = t.wait_in_topic(new, "previous topic").await;
    assert!(text_of(&note).contains("was deleted"), "{note}");
    t.wait_in_topic(new, &u.to_string()).await; // a new user card
    let recap = t.wait_in_topic(new, "Earlier in this dialog").await;
    assert!(text_of(&recap).contains("first"), "{recap}");
    assert_eq!(t.topics().len(), 1, "exactly one live topic");
    // The operator answers in the new topic and the user gets it.
    t.operator_says(new, "back again");
    t.wait_in_user_chat(u, "back again").await;
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_topic_moves_on_links_the_old_one_and_keeps_it_routed() {
    let t = spawn_app().await;
    let u = t.person("Ivy");
    t.user_says(u, "my order is late");
    let old = t.wait_topic("Ivy").await;
    t.wait_in_topic(old, "my order is late").await;
    // Telegram breaks the topic: it exists, people use it, the bot's sends fail.
    t.ctl.break_topic(t.group, old, true).unwrap();
    t.operator_says(old, "checking now");
    t.wait_in_user_chat(u, "checking now").await;
    t.user_says(u, "any news?");
    let replacement = || {
        t.topics()
            .into_iter()
            .find(|x| {
                x["name"].as_str().unwrap_or("").contains("Ivy") && x["message_thread_id"] != old
            })
            .and_then(|x| x["message_thread_id"].as_i64())
    };
    t.wait_until("a new topic for Ivy", || replacement().is_some())
        .await;
    let new = replacement().unwrap();
    t.wait_until("\"any news?\" relayed into the new topic", || {
        t.topic(Some(new)).iter().any(|m| text_of(m) == "any news?")
    })
    .await;
    let note = t.wait_in_topic(new, "no longer lets the bot post").await;
    assert!(!text_of(&note).contains("deleted"), "{note}");
    let link = format!("/{old}");
    assert!(
        note["entities"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["url"].as_str().is_some_and(|u| u.ends_with(&link))),
        "the note links the old topic: {note}"
    );
    let recap = t.wait_in_topic(new, "Earlier in this dialog").await;
    for said in ["my order is late", "checking now"] {
        assert!(text_of(&recap).contains(said), "{said} in {recap}");
    }
    // The message that found the old topic unreachable comes right after, not in the recap.
    assert!(!text_of(&recap).contains("any news?"), "{recap}");
    // The new topic reads: card, note, recap, then the message that could not go to the old one.
    let texts: Vec<String> = t
        .topic(Some(new))
        .iter()
        .filter(|m| m.get("forum_topic_created").is_none())
        .map(text_of)
        .collect();
    let at = |needle: &str| texts.iter().position(|x| x.contains(needle)).unwrap();
    assert!(
        at(&u.to_string()) < at("no longer lets the bot post"),
        "{texts:?}"
    );
    assert!(
        at("no longer lets the bot post") < at("Earlier in this dialog"),
        "{texts:?}"
    );
    let relayed = texts.iter().position(|x| x == "any news?").unwrap();
    assert!(at("Earlier in this dialog") < relayed, "{texts:?}");
    // The old topic is still there, and what operators write there still reaches the user.
    assert_eq!(t.topic_info(old)["is_deleted"], false);
    assert_eq!(t.topics().len(), 2, "the broken topic and its replacement");
    t.operator_says(old, "found it in the old topic");
    t.wait_in_user_chat(u, "found it in the old topic").await;
    t.operator_says(new, "shipped today");
    t.wait_in_user_chat(u, "shipped today").await;
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_user_is_marked_and_cleared() {
    let t = spawn_app().await;
    let u = t.person("Hana");
    t.user_says(u, "hello");
    let thread = t.wait_topic("Hana").await;
    t.ctl.block(u, t.bot, true).unwrap();
    t.wait_in_topic(thread, "blocked the bot").await;
    let op = t.operator_says(thread, "are you there?");
    let notice = t.wait_in_topic(thread, "Not delivered").await;
    assert_eq!(
        notice["reply_to_message"]["message_id"], op["message_id"],
        "the notice answers the failed message"
    );
    let contact = t
        .app()
        .store
        .contact_by_user(t.app().connections[0].ctx.connection, u)
        .await
        .unwrap()
        .unwrap();
    assert!(contact.blocked);
    t.user_says(u, "I'm back"); // writing again unblocks
    t.wait_in_topic(thread, "I'm back").await;
    let contact = t
        .app()
        .store
        .contact_by_user(t.app().connections[0].ctx.connection, u)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !contact.blocked,
        "the mark is cleared when the user writes again"
    );
    t.assert_conformant();
}

/// A send to the user can meet the block (403) before Telegram's update about it is
/// processed; the team hears of the block all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_found_by_a_failed_send_first_is_still_announced() {
    let t = spawn_app().await;
    let u = t.person("Hugo");
    t.user_says(u, "hello");
    let thread = t.wait_topic("Hugo").await;
    let conn = t.app().connections[0].ctx.connection;
    let store = &t.app().store;
    let contact = store.contact_by_user(conn, u).await.unwrap().unwrap();
    // What a welcome refused with 403 does before the update arrives.
    store.set_contact_blocked(contact.id, true).await.unwrap();
    t.ctl.block(u, t.bot, true).unwrap();
    t.wait_in_topic(thread, "Hugo blocked the bot").await;
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ban_unban_new_and_unknown_commands() {
    let t = spawn_app().await;
    let u = t.person("Ivan");
    t.user_says(u, "spam 1");
    let thread = t.wait_topic("Ivan").await;
    t.operator_says(thread, "/ban");
    t.wait_in_topic(thread, "is banned").await;
    t.user_says(u, "spam 2");
    t.operator_says(thread, "/frobnicate");
    t.wait_in_topic(thread, "Unknown command").await;
    assert!(
        !t.topic(Some(thread)).iter().any(|m| text_of(m) == "spam 2"),
        "banned users are ignored"
    );
    assert!(!t
        .user_chat(u)
        .iter()
        .any(|m| text_of(m).contains("frobnicate")));
    t.operator_says(thread, "/unban");
    t.wait_in_topic(thread, "no longer banned").await;
    t.user_says(u, "legit 3");
    t.wait_in_topic(thread, "legit 3").await;

    // /new in General opens a dialog with a known contact so operators write first.
    let v = t.person("Vera");
    t.user_says(v, "hi");
    let vt = t.wait_topic("Vera").await;
    t.operator_says(vt, "/close");
    wait_until("closed", || t.topic_info(vt)["is_closed"] == true).await;
    t.operator_says_in_general(&format!("/new {v}"));
    t.wait_in_topic(vt, &v.to_string()).await;
    wait_until("reopened by /new", || {
        t.topic_info(vt)["is_closed"] == false
    })
    .await;
    t.operator_says_in_general("/new @nobody_known");
    wait_until("unknown contact answer", || {
        t.topic(None)
            .iter()
            .any(|m| text_of(m).contains("No contact"))
    })
    .await;
    t.operator_says_in_general("/new");
    wait_until("usage", || {
        t.topic(None)
            .iter()
            .any(|m| text_of(m).contains("Usage: /new"))
    })
    .await;
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoclose_closes_waiting_dialogs_and_hold_wait_work() {
    let t = spawn_app_with("AUTOCLOSE = 2").await;
    let u = t.person("Jon");
    t.user_says(u, "q");
    let thread = t.wait_topic("Jon").await;
    t.operator_says(thread, "/wait");
    t.wait_title(thread, "🟨").await;
    t.operator_says(thread, "/hold");
    t.wait_title(thread, "🟪").await;
    t.operator_says(thread, "answer");
    t.wait_title(thread, "🟨").await;
    let relay = &t.app().connections[0].ctx;
    let store = &t.app().store;
    let now = hotline::store::now_ms();
    assert_eq!(
        hotline::relay::autoclose::sweep(relay, store, now)
            .await
            .unwrap(),
        0,
        "not yet"
    );
    let later = now + 2 * 3_600_000 + 1000;
    assert_eq!(
        hotline::relay::autoclose::sweep(relay, store, later)
            .await
            .unwrap(),
        1
    );
    wait_until("auto-closed ⬛", || {
        let i = t.topic_info(thread);
        i["is_closed"] == true && i["name"].as_str().unwrap().starts_with("⬛")
    })
    .await;
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_dialogs_and_links() {
    let mut t = spawn_app().await;
    let u = t.person("Kim");
    let q = t.user_says(u, "before restart");
    let thread = t.wait_topic("Kim").await;
    let copy = t.wait_in_topic(thread, "before restart").await;
    t.restart().await;
    t.user_says(u, "after restart");
    t.wait_in_topic(thread, "after restart").await;
    t.operator_sends(
        thread,
        json!({"text": "replying", "reply_to": copy["message_id"]}),
    );
    let a = t.wait_in_user_chat(u, "replying").await;
    assert_eq!(a["reply_to_message"]["message_id"], q["message_id"]);
    assert_eq!(t.topics().len(), 1);
    t.assert_conformant();
}
