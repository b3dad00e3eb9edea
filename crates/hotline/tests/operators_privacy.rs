//! Privacy end to end: every HIDE_INFO mode, MASK_PATTERNS (Luhn false positives kept,
//! replies and edits still linked, captions and albums), and PROTECT_CONTENT.

mod common;
mod ops;

use common::{spawn_app_with, text_of};
use serde_json::json;
use tg_emulator::control::Place;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hide_name_and_links() {
    let t = spawn_app_with(r#"HIDE_INFO = "name, links""#).await;
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    let thread = t.wait_topic("🟪").await;
    let title = ops::title(&t, thread);
    assert!(!title.contains("Ann"), "pseudonym title: {title}");
    let card = t.wait_in_topic(thread, "🆔").await;
    let card_text = text_of(&card);
    assert!(
        !card_text.contains("Ann") && !card_text.contains("@ann"),
        "{card_text}"
    );
    assert!(
        card.get("entities")
            .and_then(|e| e.as_array())
            .is_none_or(|e| e
                .iter()
                .all(|e| e["type"] != "text_link" && e["type"] != "text_mention")),
        "no profile link: {card}"
    );
    let pseudonym = title.trim_start_matches("🟪").trim().to_string();
    assert!(card_text.contains(&pseudonym));
    let ban = ops::topic_cmd(&t, thread, "/ban", "banned").await;
    assert!(ban.contains(&pseudonym) && !ban.contains("Ann"), "{ban}");
    ops::general(&t, "/new @ann", "Dialog with").await;
    assert!(
        ops::general_answers(&t, "Ann").is_empty(),
        "no name in General"
    );
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hide_card_info_goes_to_admins_privately() {
    let t = spawn_app_with(r#"HIDE_INFO = "card""#).await;
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "hello").await;
    assert!(
        !t.topic(Some(thread))
            .iter()
            .any(|m| text_of(m).contains("🆔")),
        "no card in the group"
    );
    // The admin has not started the bot yet.
    let a = ops::topic_cmd(&t, thread, "/info", "cannot write to you privately").await;
    assert!(a.contains("@support_bot"), "{a}");
    t.ctl
        .send(t.operator, Place::Bot(t.bot), &json!({"text": "/start"}))
        .unwrap();
    ops::topic_cmd(&t, thread, "/info", "Sent to you").await;
    let card = t.wait_in_user_chat(t.operator, "🆔").await;
    assert!(text_of(&card).contains("Ann") && text_of(&card).contains(&ann.to_string()));
    assert!(
        !t.topic(Some(thread))
            .iter()
            .any(|m| text_of(m).contains("🆔")),
        "still no card in the group"
    );
    // A non-admin is refused.
    let bob = ops::member(&t, "Bob");
    let m = ops::in_topic(&t, bob, thread, json!({"text": "/info"}));
    ops::answer_to(&t, Some(thread), m["message_id"].as_i64().unwrap(), "Sorry").await;
    ops::general(&t, "/info", "works in a dialog topic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masking_keeps_originals_links_and_edits() {
    let t = spawn_app_with(r#"MASK_PATTERNS = "all""#).await;
    let ann = t.person("Ann");
    let text = "card 4111 1111 1111 1111, call +1 (555) 123-4567, mail ann.lee@example.com, order 4111 1111 1111 1112";
    let original = t.user_sends(
        ann,
        json!({"text": text, "entities": [{"type": "bold", "offset": 0, "length": 4}]}),
    );
    let thread = t.wait_topic("Ann").await;
    let copy = t.wait_in_topic(thread, "card").await;
    let masked = text_of(&copy);
    assert_eq!(
        masked,
        "card •••• •••• •••• 1111, call +• (•••) •••-••67, mail a••••••@•••••••.com, order 4111 1111 1111 1112"
    );
    assert_eq!(copy["entities"][0]["type"], "bold");
    assert_eq!(
        text_of(&t.user_chat(ann)[0]),
        text,
        "the user's original is untouched"
    );

    // Replies still link both ways.
    t.operator_sends(
        thread,
        json!({"text": "Please don't share cards", "reply_to": copy["message_id"]}),
    );
    let answer = t.wait_in_user_chat(ann, "share cards").await;
    assert_eq!(
        answer["reply_to_message"]["message_id"],
        original["message_id"]
    );

    // An edit is masked too.
    t.ctl
        .edit(
            ann,
            Place::Bot(t.bot),
            original["message_id"].as_i64().unwrap(),
            &json!({"text": "sorry, it was 5555 5555 5555 4444"}),
        )
        .unwrap();
    t.wait_in_topic(thread, "sorry, it was •••• •••• •••• 4444")
        .await;

    // Captions and albums.
    t.user_sends(
        ann,
        json!({"photo": true, "caption": "receipt for ann@example.com"}),
    );
    let photo = t.wait_in_topic(thread, "receipt for").await;
    assert_eq!(text_of(&photo), "receipt for a••@•••••••.com");
    assert!(photo.get("photo").is_some());
    t.user_sends(
        ann,
        json!({"media": [{"type": "photo", "caption": "call me +44 20 7946 0958"}, {"type": "photo"}]}),
    );
    let first = t.wait_in_topic(thread, "call me").await;
    assert_eq!(text_of(&first), "call me +•• •• •••• ••58");
    t.wait_until("the masked album kept as an album", || {
        t.topic(Some(thread))
            .iter()
            .filter(|m| {
                m["media_group_id"].is_string() && m["media_group_id"] == first["media_group_id"]
            })
            .count()
            == 2
    })
    .await;
    // Nothing to mask: copied as usual.
    t.user_says(ann, "just text, 16 digits 1234567812345678");
    let plain = t.wait_in_topic(thread, "just text").await;
    assert_eq!(text_of(&plain), "just text, 16 digits 1234567812345678");
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protect_content_on_group_copies() {
    let t = spawn_app_with("PROTECT_CONTENT = true").await;
    let ann = t.person("Ann");
    t.user_says(ann, "secret stuff");
    let thread = t.wait_topic("Ann").await;
    let copy = t.wait_in_topic(thread, "secret stuff").await;
    assert_eq!(copy["has_protected_content"], true);
    ops::general(&t, "/set PROTECT_CONTENT off", "✅").await;
    t.user_says(ann, "open stuff");
    let copy = t.wait_in_topic(thread, "open stuff").await;
    assert!(copy.get("has_protected_content").is_none());
}
