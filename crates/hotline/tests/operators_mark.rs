//! Tags and funnels end to end: every admin form in General, every topic form, tickers in
//! titles, a funnel (`after`) and an auto-sent quick reply (`sends`), and the errors.

mod common;
mod ops;

use common::{spawn_app, text_of};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_tickers_funnel_and_sends() {
    let t = spawn_app().await;
    let ann = t.person("Ann");
    t.user_says(ann, "I'd like to buy");
    let thread = t.wait_topic("Ann").await;

    ops::general(&t, "/mark", "No tags yet").await;
    ops::general(&t, "/mark new lead", "created").await;
    ops::general(&t, "/mark new Paid", "created").await;
    ops::general(&t, "/mark new LEAD", "already exists").await;
    ops::general(&t, "/mark new 9x", "not a valid name").await;
    ops::general(&t, "/mark new del", "reserved").await;
    ops::general(&t, "/mark lead ticker 🔵", "shows 🔵").await;
    ops::general(&t, "/mark paid ticker 💰", "shows 💰").await;
    ops::general(&t, "/mark paid ticker waytoolongticker", "at most").await;
    ops::general(&t, "/mark paid after lead", "removes lead").await;
    ops::general(&t, "/mark paid after paid", "after itself").await;
    ops::general(&t, "/mark paid after ghost", "No tag").await;
    ops::general(&t, "/mark paid sends thanks", "No quick reply").await;
    let text = ops::in_general(
        &t,
        t.operator,
        json!({"text": "Thank you for your payment!"}),
    );
    let s = ops::in_general(
        &t,
        t.operator,
        json!({"text": "/say thanks", "reply_to": text["message_id"]}),
    );
    ops::answer_to(&t, None, s["message_id"].as_i64().unwrap(), "saved").await;
    ops::general(&t, "/mark paid sends thanks", "sends the quick reply").await;
    ops::general(&t, "/mark paid color red", "Unknown setting").await;
    ops::general(&t, "/mark paid ticker", "Tags").await;
    ops::general(&t, "/mark ghost", "No tag").await;

    // In the topic: set lead → 🔵 in the title.
    ops::topic_cmd(&t, thread, "/mark", "No tags").await;
    ops::topic_cmd(&t, thread, "/mark LEAD", "set").await;
    t.wait_until("🔵 in the title", || {
        ops::title(&t, thread).starts_with("🟪🔵 Ann")
    })
    .await;
    ops::topic_cmd(&t, thread, "/mark lead", "already has").await;
    let tags = ops::topic_cmd(&t, thread, "/mark", "Tags:").await;
    assert!(tags.contains("lead"), "{tags}");
    ops::topic_cmd(&t, thread, "/mark new x", "created by admins").await;
    ops::topic_cmd(&t, thread, "/mark ghost", "No tag").await;
    ops::topic_cmd(&t, thread, "/mark a b", "Usage here").await;

    // paid: the funnel removes lead, the title follows, the quick reply goes out.
    let a = ops::topic_cmd(&t, thread, "/mark paid", "Paid").await;
    assert!(a.contains("Removed: lead") && a.contains("thanks"), "{a}");
    t.wait_until("💰 instead of 🔵", || {
        let n = ops::title(&t, thread);
        n.contains('💰') && !n.contains('🔵')
    })
    .await;
    t.wait_in_user_chat(ann, "Thank you for your payment").await;

    // Listings with counts and links.
    let list = ops::general(&t, "/mark", "Tags").await;
    assert!(
        list.contains("Paid 💰 (after lead) → sends thanks — 1"),
        "{list}"
    );
    assert!(list.contains("lead 🔵 — 0"), "{list}");
    let dialogs = ops::general(&t, "/mark paid", "Paid").await;
    assert!(dialogs.contains("Ann"), "{dialogs}");
    let html = ops::general_answers(&t, "Ann").pop().unwrap();
    assert!(
        html["entities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "text_link"
                && e["url"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{thread}/{thread}"))),
        "{html}"
    );

    // A ticker change retitles the topics carrying the tag.
    ops::general(&t, "/mark paid ticker ✅", "shows ✅").await;
    t.wait_until("✅ in the title", || ops::title(&t, thread).contains('✅'))
        .await;
    ops::general(&t, "/mark paid name customer", "is now").await;
    ops::general(&t, "/mark paid", "No tag").await;
    ops::general(&t, "/mark customer after CLEAR", "removes no other tag").await;
    ops::general(&t, "/mark customer sends CLEAR", "sends nothing").await;
    ops::general(&t, "/mark lead name customer", "already exists").await;

    // Removing the tag in the topic removes the ticker.
    ops::topic_cmd(&t, thread, "/mark del customer", "removed").await;
    t.wait_until("no ticker", || !ops::title(&t, thread).contains('✅'))
        .await;
    ops::topic_cmd(&t, thread, "/mark del customer", "has no tag").await;
    ops::topic_cmd(&t, thread, "/mark customer", "set").await;
    ops::general(&t, "/mark del customer", "deleted (1 contacts").await;
    t.wait_until("ticker gone with the tag", || {
        !ops::title(&t, thread).contains('✅')
    })
    .await;
    assert!(
        !t.user_chat(ann)
            .iter()
            .any(|m| text_of(m).contains("/mark")),
        "commands are never sent to the user"
    );
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admins_are_refused_politely() {
    let t = spawn_app().await;
    let bob = ops::member(&t, "Bob");
    for cmd in ["/mark new vip", "/mark", "/set AUTOCLOSE 1", "/get"] {
        let a = ops::general_as(&t, bob, cmd, "Sorry").await;
        assert!(a.contains("administrators"), "{cmd}: {a}");
    }
    let help = ops::general_as(&t, bob, "/help", "Hotline").await;
    assert!(!help.contains("Admin"), "{help}");
    let help = ops::general(&t, "/help", "Hotline").await;
    assert!(help.contains("/set NAME VALUE"), "{help}");
    // Operators (not admins) can still tag in topics.
    ops::general(&t, "/mark new vip", "created").await;
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    let thread = t.wait_topic("Ann").await;
    let m = ops::in_topic(&t, bob, thread, json!({"text": "/mark vip"}));
    ops::answer_to(&t, Some(thread), m["message_id"].as_i64().unwrap(), "set").await;
    t.assert_conformant();
}
