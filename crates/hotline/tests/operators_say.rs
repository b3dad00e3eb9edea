//! Quick replies end to end: save (text in General, media and albums in topics), send,
//! forward, list, delete, and every error answer; a quick reply outlives its original.

mod api_support;
mod common;
mod ops;

use common::{spawn_app, text_of};
use serde_json::json;
use tg_emulator::control::Place;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_send_forward_list_delete() {
    let t = spawn_app().await;
    let ann = t.person("Ann");
    t.user_says(ann, "Hi, when are you open?");
    let thread = t.wait_topic("Ann").await;

    // Save a formatted text from General.
    let original = ops::in_general(
        &t,
        t.operator,
        json!({"text": "We are open 9-17, Mon-Fri.", "entities": [{"type": "bold", "offset": 11, "length": 4}]}),
    );
    let oid = original["message_id"].as_i64().unwrap();
    let save = ops::in_general(
        &t,
        t.operator,
        json!({"text": "/say hours", "reply_to": oid}),
    );
    let a = ops::answer_to(&t, None, save["message_id"].as_i64().unwrap(), "saved").await;
    assert!(a.contains("hours"), "{a}");
    // Saving again replaces it.
    let again = ops::in_general(
        &t,
        t.operator,
        json!({"text": "/say HOURS", "reply_to": oid}),
    );
    ops::answer_to(&t, None, again["message_id"].as_i64().unwrap(), "replaced").await;

    // The list links to the original.
    let list = ops::general(&t, "/say", "Quick replies").await;
    assert!(
        list.contains("HOURS") && list.contains("We are open"),
        "{list}"
    );
    let html_list = ops::general_answers(&t, "Quick replies").pop().unwrap();
    assert!(
        html_list["entities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "text_link"
                && e["url"].as_str().unwrap().contains(&format!("/{oid}"))),
        "listing links to the original: {html_list}"
    );

    // Sent into the dialog: the user gets it with its formatting, the topic shows it, 🟨.
    t.operator_says(thread, "/say hours");
    let got = t.wait_in_user_chat(ann, "We are open").await;
    assert_eq!(got["entities"][0]["type"], "bold");
    assert!(got.get("forward_origin").is_none());
    t.wait_until("the quick reply shown in the topic", || {
        t.topic(Some(thread))
            .iter()
            .any(|m| m["from"]["id"] == t.bot && text_of(m).contains("We are open"))
    })
    .await;
    t.wait_until("🟨 after the quick reply", || {
        ops::title(&t, thread).starts_with("🟨")
    })
    .await;

    // The user's reply to it shows as a reply to its topic copy (linked).
    let shown = t
        .topic(Some(thread))
        .into_iter()
        .find(|m| m["from"]["id"] == t.bot && text_of(m).contains("We are open"))
        .unwrap();
    t.user_sends(
        ann,
        json!({"text": "Thanks!", "reply_to": got["message_id"]}),
    );
    let reply = t.wait_in_topic(thread, "Thanks!").await;
    assert_eq!(reply["reply_to_message"]["message_id"], shown["message_id"]);

    // fwd forwards the original.
    t.operator_says(thread, "/say hours fwd");
    t.wait_until("a forwarded quick reply", || {
        t.user_chat(ann)
            .iter()
            .any(|m| text_of(m).contains("We are open") && m.get("forward_origin").is_some())
    })
    .await;

    // The original is deleted: a copy still goes out; forwarding explains why it cannot.
    t.ctl
        .delete_message(t.operator, Place::Group(t.group, None), oid)
        .unwrap();
    t.operator_says(thread, "/say hours");
    t.wait_until("the quick reply after its original was deleted", || {
        t.user_chat(ann)
            .iter()
            .filter(|m| text_of(m).contains("We are open") && m.get("forward_origin").is_none())
            .count()
            == 2
    })
    .await;
    t.operator_says(thread, "/say hours fwd");
    t.wait_in_topic(thread, "not delivered").await;

    // Errors and usage.
    let a = ops::topic_cmd(&t, thread, "/say nope", "No quick reply").await;
    assert!(a.contains("nope"));
    ops::general(&t, "/say hours", "sent in a dialog topic").await;
    ops::topic_cmd(&t, thread, "/say a b c", "/say del NAME — delete").await;
    ops::topic_cmd(&t, thread, "/say del", "Usage: /say del NAME").await;
    let bad = ops::in_general(
        &t,
        t.operator,
        json!({"text": "/say 9lives", "reply_to": oid + 1}),
    );
    ops::answer_to(
        &t,
        None,
        bad["message_id"].as_i64().unwrap(),
        "not a valid name",
    )
    .await;
    let photo = ops::in_general(&t, t.operator, json!({"photo": true, "caption": "menu"}));
    let p = ops::in_general(
        &t,
        t.operator,
        json!({"text": "/say menu", "reply_to": photo["message_id"]}),
    );
    ops::answer_to(&t, None, p["message_id"].as_i64().unwrap(), "only texts").await;

    // Delete.
    ops::topic_cmd(&t, thread, "/say del hours", "deleted").await;
    ops::topic_cmd(&t, thread, "/say del hours", "No quick reply").await;
    ops::general(&t, "/say", "No quick replies yet").await;
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_and_album_quick_replies() {
    let t = spawn_app().await;
    let ann = t.person("Ann");
    let bob = t.person("Bob");
    t.user_sends(
        ann,
        json!({"media": [{"type": "photo", "caption": "front"}, {"type": "photo"}, {"type": "photo"}]}),
    );
    let thread = t.wait_topic("Ann").await;
    let front = t.wait_in_topic(thread, "front").await;
    t.wait_until("the album copied", || {
        t.topic(Some(thread))
            .iter()
            .filter(|m| m["media_group_id"] == front["media_group_id"])
            .count()
            == 3
    })
    .await;

    // Reply to one item of the user's album copy: the whole album is saved.
    let save = t.operator_sends(
        thread,
        json!({"text": "/say sample", "reply_to": front["message_id"]}),
    );
    let a = ops::answer_to(
        &t,
        Some(thread),
        save["message_id"].as_i64().unwrap(),
        "saved",
    )
    .await;
    assert!(a.contains("album of 3"), "{a}");

    // An operator's document in a topic can be saved too.
    let doc = t.operator_sends(thread, json!({"document": true, "caption": "price list"}));
    let s = t.operator_sends(
        thread,
        json!({"text": "/say prices", "reply_to": doc["message_id"]}),
    );
    ops::answer_to(
        &t,
        Some(thread),
        s["message_id"].as_i64().unwrap(),
        "saved (document)",
    )
    .await;

    // Sent to another user as an album.
    t.user_says(bob, "Can I see it?");
    let bt = t.wait_topic("Bob").await;
    t.operator_says(bt, "/say sample");
    t.wait_until("Bob gets an album of 3", || {
        let chat = t.user_chat(bob);
        let photos: Vec<_> = chat.iter().filter(|m| m.get("photo").is_some()).collect();
        photos.len() == 3
            && photos.iter().all(|m| m["media_group_id"].is_string())
            && photos[0]["media_group_id"] == photos[2]["media_group_id"]
            && text_of(photos[0]) == "front"
    })
    .await;
    t.wait_until("the album shown in Bob's topic", || {
        t.topic(Some(bt))
            .iter()
            .filter(|m| m["from"]["id"] == t.bot && m.get("photo").is_some())
            .count()
            == 3
    })
    .await;
    t.operator_says(bt, "/say prices");
    t.wait_until("Bob gets the document", || {
        t.user_chat(bob)
            .iter()
            .any(|m| m.get("document").is_some() && text_of(m) == "price list")
    })
    .await;
    let list = ops::general(&t, "/say", "Quick replies").await;
    assert!(
        list.contains("album of 3") && list.contains("document"),
        "{list}"
    );
    t.assert_conformant();
}

/// A quick reply is the team's answer like any other (issue 17): it is in the dialog's
/// history with its author and counts as an operator's message in the statistics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_reply_is_in_the_history_and_the_statistics() {
    let t = spawn_app().await;
    let api = api_support::Api::new(&t).await;
    let ann = t.person("Ann");
    t.user_says(ann, "Are you open on Sunday?");
    let thread = t.wait_topic("Ann").await;
    let original = ops::in_general(&t, t.operator, json!({"text": "Closed on Sundays."}));
    let save = ops::in_general(
        &t,
        t.operator,
        json!({"text": "/say sunday", "reply_to": original["message_id"]}),
    );
    ops::answer_to(&t, None, save["message_id"].as_i64().unwrap(), "saved").await;
    t.operator_says(thread, "/say sunday");
    t.wait_in_user_chat(ann, "Closed on Sundays").await;

    let (_, c) = api.get(&format!("/api/v1/contacts/{ann}")).await;
    let dialog = c["dialog"]["id"].as_i64().unwrap();
    let (s, h) = api.get(&format!("/api/v1/dialogs/{dialog}/messages")).await;
    assert_eq!(s, 200);
    let sent: Vec<&serde_json::Value> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outgoing")
        .collect();
    assert_eq!(sent.len(), 1, "{h}");
    assert_eq!(sent[0]["text"], "Closed on Sundays.");
    assert_eq!(sent[0]["author_id"], t.operator);

    let (s, st) = api.get("/api/v1/stats?period=today").await;
    assert_eq!(s, 200);
    assert_eq!(st["outgoing"], 1, "{st}");
    let ops_: Vec<&serde_json::Value> = st["operators"].as_array().unwrap().iter().collect();
    assert!(
        ops_.iter()
            .any(|o| o["user_id"] == t.operator && o["messages"] == 1),
        "{st}"
    );
}
