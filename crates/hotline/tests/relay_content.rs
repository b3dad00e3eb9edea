//! Every content kind reaches the topic and back; albums stay albums both ways; edits
//! are mirrored both ways.

mod common;

use common::{spawn_app, text_of, wait_until};
use serde_json::{json, Value};

fn has(m: &Value, field: &str) -> bool {
    m.get(field).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_content_kind_is_copied_into_the_topic() {
    let t = spawn_app().await;
    let u = t.person("Cara");
    t.user_says(u, "hi");
    let thread = t.wait_topic("Cara").await;
    let kinds: Vec<(&str, Value)> = vec![
        ("photo", json!({"photo": true, "caption": "a photo"})),
        ("video", json!({"video": true})),
        ("animation", json!({"animation": true})),
        ("audio", json!({"audio": true})),
        ("voice", json!({"voice": true})),
        ("video_note", json!({"video_note": true})),
        (
            "document",
            json!({"document": {"file_name": "invoice.pdf", "mime_type": "application/pdf"}}),
        ),
        ("sticker", json!({"sticker": true})),
        ("location", json!({"latitude": 52.5, "longitude": 13.4})),
        (
            "venue",
            json!({"latitude": 52.5, "longitude": 13.4, "title": "Cafe", "address": "Main st 1"}),
        ),
        (
            "contact",
            json!({"contact": {"phone_number": "+100", "first_name": "Dan"}}),
        ),
        (
            "poll",
            json!({"poll": {"question": "Which?", "options": ["a", "b"]}}),
        ),
        ("dice", json!({"dice": "🎲"})),
        (
            "text",
            json!({"text": "bold move", "entities": [{"type": "bold", "offset": 0, "length": 4}]}),
        ),
    ];
    for (_, content) in &kinds {
        t.user_sends(u, content.clone());
    }
    for (kind, content) in &kinds {
        let field = if *kind == "venue" { "venue" } else { kind };
        wait_until(&format!("{kind} in the topic"), || {
            t.topic(Some(thread))
                .iter()
                .any(|m| has(m, field) && m["from"]["id"] == t.bot)
        })
        .await;
        if *kind == "text" {
            let m = t.wait_in_topic(thread, "bold move").await;
            assert_eq!(m["entities"], content["entities"], "formatting kept");
        }
    }
    // Same file ids: the copy carries the original media.
    let user_doc = t
        .user_chat(u)
        .into_iter()
        .find(|m| has(m, "document"))
        .unwrap();
    let topic_doc = t
        .topic(Some(thread))
        .into_iter()
        .find(|m| has(m, "document"))
        .unwrap();
    assert_eq!(
        user_doc["document"]["file_id"],
        topic_doc["document"]["file_id"]
    );
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_content_reaches_the_user() {
    let t = spawn_app().await;
    let u = t.person("Dora");
    t.user_says(u, "hi");
    let thread = t.wait_topic("Dora").await;
    t.operator_sends(
        thread,
        json!({"photo": true, "caption": "here is the label"}),
    );
    t.operator_sends(thread, json!({"document": {"file_name": "guide.pdf"}}));
    t.operator_sends(thread, json!({"text": "see above"}));
    t.wait_in_user_chat(u, "here is the label").await;
    t.wait_in_user_chat(u, "see above").await;
    assert!(t.user_chat(u).iter().any(|m| has(m, "document")));
    // Order per chat is kept.
    let order: Vec<String> = t
        .user_chat(u)
        .iter()
        .filter(|m| m["from"]["id"] == t.bot)
        .map(text_of)
        .collect();
    let label = order.iter().position(|s| s == "here is the label").unwrap();
    let above = order.iter().position(|s| s == "see above").unwrap();
    assert!(
        label < above,
        "operator messages arrive in order: {order:?}"
    );
    // Delivered mark on the operator's message.
    t.wait_until("delivered mark", || {
        t.topic(Some(thread)).iter().any(|m| {
            text_of(m) == "see above" && m["reactions"].as_array().is_some_and(|r| !r.is_empty())
        })
    })
    .await;
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn albums_stay_albums_both_ways() {
    let t = spawn_app().await;
    let u = t.person("Eve");
    t.user_says(u, "hi");
    let thread = t.wait_topic("Eve").await;
    t.user_sends(u, json!({"media": [{"type": "photo", "caption": "three shots"}, {"type": "photo"}, {"type": "video"}]}));
    let album_in_topic = || {
        let msgs = t.topic(Some(thread));
        let mut groups: std::collections::HashMap<String, usize> = Default::default();
        for m in msgs.iter().filter(|m| m["from"]["id"] == t.bot) {
            if let Some(g) = m["media_group_id"].as_str() {
                *groups.entry(g.to_string()).or_default() += 1;
            }
        }
        groups.values().any(|n| *n == 3)
    };
    wait_until("a 3-item album in the topic", album_in_topic).await;

    t.operator_sends(
        thread,
        json!({"media": [{"type": "photo", "caption": "two back"}, {"type": "photo"}]}),
    );
    wait_until("a 2-item album for the user", || {
        let msgs = t.user_chat(u);
        let bot_album: Vec<&Value> = msgs
            .iter()
            .filter(|m| m["from"]["id"] == t.bot && m["media_group_id"].is_string())
            .collect();
        bot_album.len() == 2 && bot_album[0]["media_group_id"] == bot_album[1]["media_group_id"]
    })
    .await;
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_are_mirrored_both_ways() {
    let t = spawn_app().await;
    let u = t.person("Finn");
    let original = t.user_says(u, "I need 3 boxes");
    let thread = t.wait_topic("Finn").await;
    t.wait_in_topic(thread, "3 boxes").await;
    t.ctl
        .edit(
            u,
            tg_emulator::control::Place::Bot(t.bot),
            original["message_id"].as_i64().unwrap(),
            &json!({"text": "I need 4 boxes"}),
        )
        .unwrap();
    let edited = t.wait_in_topic(thread, "4 boxes").await;
    assert!(
        edited["edit_date"].is_i64(),
        "the copy was edited, not re-posted"
    );

    let photo = t.user_sends(u, json!({"photo": true, "caption": "old caption"}));
    t.wait_in_topic(thread, "old caption").await;
    t.ctl
        .edit(
            u,
            tg_emulator::control::Place::Bot(t.bot),
            photo["message_id"].as_i64().unwrap(),
            &json!({"caption": "new caption"}),
        )
        .unwrap();
    t.wait_in_topic(thread, "new caption").await;

    let op = t.operator_says(thread, "Price is 10");
    t.wait_in_user_chat(u, "Price is 10").await;
    t.ctl
        .edit(
            t.operator,
            tg_emulator::control::Place::Group(t.group, Some(thread)),
            op["message_id"].as_i64().unwrap(),
            &json!({"text": "Price is 12"}),
        )
        .unwrap();
    let m = t.wait_in_user_chat(u, "Price is 12").await;
    assert!(m["edit_date"].is_i64());
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_goes_out_in_one_copy_messages_call_in_order() {
    // Under the real limits this failed about 1 run in 30 with no copyMessages counted at
    // all, though the burst was in the topic in one call: the emulator put a call on
    // record after releasing the world its effects were in, so a test that saw the
    // messages could read the call count a moment too early. It records both at once now.
    let mut t = common::spawn_app().await;
    let u = t.person("Gwen");
    t.user_says(u, "hello");
    let thread = t.wait_topic("Gwen").await;
    t.wait_in_topic(thread, "hello").await;
    // Written while Hotline is down: the burst arrives in one batch of updates.
    t.stop().await;
    for i in 0..30 {
        t.user_says(u, &format!("burst {i:02}"));
    }
    let before = t.ctl.count_calls(t.bot, "copyMessages");
    t.restart().await;
    wait_until("the whole burst", || {
        t.topic(Some(thread))
            .iter()
            .filter(|m| text_of(m).starts_with("burst"))
            .count()
            == 30
    })
    .await;
    let seq: Vec<String> = t
        .topic(Some(thread))
        .iter()
        .map(text_of)
        .filter(|s| s.starts_with("burst"))
        .collect();
    let expected: Vec<String> = (0..30).map(|i| format!("burst {i:02}")).collect();
    assert_eq!(seq, expected, "in order, exactly once");
    assert_eq!(
        t.ctl.count_calls(t.bot, "copyMessages") - before,
        1,
        "one call for the burst"
    );
    // Replies and edits still work on messages copied in a batch.
    let last = t
        .user_chat(u)
        .into_iter()
        .rev()
        .find(|m| text_of(m) == "burst 29")
        .unwrap();
    t.ctl
        .edit(
            u,
            tg_emulator::control::Place::Bot(t.bot),
            last["message_id"].as_i64().unwrap(),
            &json!({"text": "burst 29 (edited)"}),
        )
        .unwrap();
    t.wait_in_topic(thread, "burst 29 (edited)").await;
    t.assert_conformant();
}
