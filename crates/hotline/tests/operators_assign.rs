//! Ownership end to end (issue 17): `/take`, `/assign @username`, `/assign` as a reply,
//! `/unassign` and the API's assign; the owner in the topic title and on the card; the
//! `dialog_assigned` webhook; `/stats` naming operators and counting open dialogs per owner;
//! REMIND_AFTER reminders in General (once per waiting period, with `dialog_waiting`);
//! HIDE_INFO changed by `/set` renaming every open topic at once; segments by owner
//! (`assignee:`) in the API and `/send`; the owner on the card sent privately under
//! HIDE_INFO card.

mod api_support;
mod common;
mod ops;

use api_support::{event_types, with_webhooks, Api};
use common::{spawn_app_with, text_of, TestApp};
use serde_json::json;
use tg_emulator::control::Place;

async fn wait_title_has(t: &TestApp, thread: i64, needle: &str, yes: bool) {
    let what = format!(
        "title {} \"{needle}\"",
        if yes { "with" } else { "without" }
    );
    t.wait_until(&what, || ops::title(t, thread).contains(needle) == yes)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn take_assign_unassign_title_card_api_and_webhook() {
    let (t, api, rx) = with_webhooks("dialog_assigned", "").await;
    let ann = t.person("Ann");
    t.user_says(ann, "Where is my parcel?");
    let thread = t.wait_topic("Ann").await;

    // /take: the operator (Olga Operator) owns it; the title shows "→ Olga".
    let a = ops::topic_cmd(&t, thread, "/take", "took this dialog").await;
    assert!(a.contains("Olga"), "{a}");
    wait_title_has(&t, thread, "→ Olga", true).await;
    assert!(
        ops::title(&t, thread).starts_with("🟪"),
        "the status stays first"
    );
    ops::topic_cmd(&t, thread, "/take", "already yours").await;
    // The card shows the owner.
    t.operator_says(thread, "/info");
    t.wait_in_topic(thread, "Owner: Olga Operator").await;

    // /assign @bob: Bob is known once he wrote in the group.
    let bob = ops::member(&t, "Bob");
    ops::topic_cmd(&t, thread, "/assign @bob", "I do not know @bob").await;
    let said = ops::in_topic(&t, bob, thread, json!({"text": "/ I can take the parcels"}));
    ops::topic_cmd(&t, thread, "/assign @Bob", "now Bob's").await;
    wait_title_has(&t, thread, "→ Bob", true).await;

    // /unassign, then /assign as a reply to Bob's message.
    ops::topic_cmd(&t, thread, "/unassign", "no owner now").await;
    wait_title_has(&t, thread, "→", false).await;
    let reply = t
        .ctl
        .send(
            t.operator,
            Place::Group(t.group, Some(thread)),
            &json!({"text": "/assign", "reply_to": said["message_id"]}),
        )
        .unwrap()
        .remove(0);
    ops::answer_to(
        &t,
        Some(thread),
        reply["message_id"].as_i64().unwrap(),
        "Bob",
    )
    .await;
    wait_title_has(&t, thread, "→ Bob", true).await;
    let none = ops::topic_cmd(&t, thread, "/assign", "Usage").await;
    assert!(none.contains("Owner: Bob"), "{none}");

    // The API: by username and back to nobody; the dialog shows its owner.
    let dialog = t
        .app()
        .store
        .dialog_by_thread(
            t.app().connections[0].ctx.connection,
            t.group,
            t.group,
            thread,
        )
        .await
        .unwrap()
        .unwrap();
    let path = format!("/api/v1/dialogs/{}/assign", dialog.id);
    let (code, d) = api.post(&path, json!({"username": "@olga"})).await;
    assert_eq!(code, 200, "{d}");
    assert_eq!(d["assignee_id"].as_i64(), Some(t.operator));
    wait_title_has(&t, thread, "→ Olga", true).await;
    let (code, e) = api.post(&path, json!({"username": "nobody_known"})).await;
    assert_eq!(code, 400, "{e}");
    let (code, d) = api.post(&path, json!({"operator_id": null})).await;
    assert_eq!(code, 200, "{d}");
    assert!(d["assignee_id"].is_null());
    wait_title_has(&t, thread, "→", false).await;

    // One signed dialog_assigned per change (take, bob, unassign, reply, api, api null).
    t.wait_until("six dialog_assigned", || rx.delivered().len() >= 6)
        .await;
    let events = rx.delivered();
    assert!(event_types(&events).iter().all(|k| k == "dialog_assigned"));
    assert_eq!(events[0]["data"]["assignee"].as_i64(), Some(t.operator));
    assert_eq!(events[0]["data"]["assignee_name"], "Olga Operator");
    assert_eq!(events[1]["data"]["assignee"].as_i64(), Some(bob));
    assert!(events[2]["data"]["assignee"].is_null());
    assert!(events[5]["data"]["by"].is_null(), "through the API");
    assert!(rx.all().iter().all(|r| r.signed));
    // Nothing of it reached the user.
    assert!(!t
        .user_chat(ann)
        .iter()
        .any(|m| text_of(m).contains("assign")));
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_per_owner_reminders_and_hide_info_renames_open_topics() {
    let (t, _api, rx) = with_webhooks("dialog_waiting", "REMIND_AFTER = 30").await;
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    let a = t.wait_topic("Ann").await;
    let cid = t.person("Cid");
    t.user_says(cid, "hi there");
    let c = t.wait_topic("Cid").await;
    ops::topic_cmd(&t, a, "/take", "took this dialog").await;
    t.operator_says(c, "We are on it");
    t.wait_in_user_chat(cid, "We are on it").await;

    // /stats names the operator and lists open dialogs per owner.
    let stats = ops::general(&t, "/stats", "Team stats").await;
    assert!(stats.contains("Olga Operator: 1 messages"), "{stats}");
    assert!(stats.contains("Owners"), "{stats}");
    assert!(stats.contains("Olga Operator: 1 open · 1 🟪"), "{stats}");
    assert!(stats.contains("nobody: 1 open · 0 🟪"), "{stats}");

    // REMIND_AFTER 30: Ann's dialog (🟪 for "31 minutes") gets one reminder naming Olga;
    // Cid's (🟨, the team answered) none.
    let relay = &t.app().connections[0].ctx;
    let store = &t.app().store;
    let later = hotline::store::now_ms() + 31 * 60_000;
    assert_eq!(
        hotline::relay::remind::sweep(relay, store, later)
            .await
            .unwrap(),
        1
    );
    t.wait_until("the reminder in General", || {
        !ops::general_answers(&t, "has waited for an answer").is_empty()
    })
    .await;
    let reminder = text_of(&ops::general_answers(&t, "has waited for an answer")[0]);
    assert!(
        reminder.contains("Ann") && reminder.contains("Olga Operator"),
        "{reminder}"
    );
    assert_eq!(
        hotline::relay::remind::sweep(relay, store, later + 60_000)
            .await
            .unwrap(),
        0,
        "once per waiting period"
    );
    t.wait_until("dialog_waiting delivered", || !rx.delivered().is_empty())
        .await;
    let events = rx.delivered();
    assert_eq!(event_types(&events), ["dialog_waiting"]);
    assert_eq!(events[0]["data"]["assignee"].as_i64(), Some(t.operator));
    assert!(events[0]["data"]["waiting_ms"].as_i64().unwrap() >= 30 * 60_000);
    // A new waiting period (answered, then the user writes again) reminds again.
    t.operator_says(a, "Checking");
    t.wait_title(a, "🟨").await;
    t.user_says(ann, "any news?");
    t.wait_title(a, "🟪").await;
    let later = hotline::store::now_ms() + 31 * 60_000;
    assert_eq!(
        hotline::relay::remind::sweep(relay, store, later)
            .await
            .unwrap(),
        1
    );

    // HIDE_INFO name: both open topics are renamed at once, and back.
    let set = ops::general(&t, "/set HIDE_INFO name", "✅").await;
    assert!(set.contains("Renaming 2 open topic(s)"), "{set}");
    wait_title_has(&t, a, "Ann", false).await;
    wait_title_has(&t, c, "Cid", false).await;
    assert!(ops::title(&t, a).contains("→ Olga"), "the owner stays");
    ops::general(&t, "/set HIDE_INFO off", "✅").await;
    wait_title_has(&t, a, "Ann", true).await;
    wait_title_has(&t, c, "Cid", true).await;
    t.assert_conformant();
}

/// The user ids of the contacts the API finds for `segment`, sorted.
async fn segment_users(api: &Api, segment: &str) -> Vec<i64> {
    let q = segment
        .replace(':', "%3A")
        .replace('@', "%40")
        .replace(' ', "%20")
        .replace('&', "%26");
    let (code, page) = api.get(&format!("/api/v1/contacts?segment={q}")).await;
    assert_eq!(code, 200, "{segment}: {page}");
    let mut ids: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user_id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_by_owner_and_the_private_card_names_the_owner() {
    let t = spawn_app_with(r#"HIDE_INFO = "card""#).await;
    let api = Api::new(&t).await;
    let ann = t.person("Ann");
    t.user_says(ann, "Where is my parcel?");
    let a = t.wait_topic("Ann").await;
    let cid = t.person("Cid");
    t.user_says(cid, "A refund, please");
    let c = t.wait_topic("Cid").await;
    let dan = t.person("Dan");
    t.user_says(dan, "Hello?");
    t.wait_topic("Dan").await;

    // Olga takes Ann's dialog, Bob (known once he wrote) gets Cid's; Dan's is nobody's.
    ops::topic_cmd(&t, a, "/take", "took this dialog").await;
    let bob = ops::member(&t, "Bob");
    ops::in_topic(&t, bob, c, json!({"text": "/ mine"}));
    ops::topic_cmd(&t, c, "/assign @bob", "now Bob's").await;

    assert_eq!(segment_users(&api, "assignee:@Olga").await, [ann]);
    assert_eq!(segment_users(&api, &format!("assignee:{bob}")).await, [cid]);
    assert_eq!(segment_users(&api, "assignee:none").await, [dan]);
    let mut owned = vec![ann, cid];
    owned.sort_unstable();
    assert_eq!(segment_users(&api, "!assignee:none & open").await, owned);
    let (code, e) = api
        .get("/api/v1/contacts?segment=assignee%3A%40nobody_known")
        .await;
    assert_eq!(code, 400, "{e}");
    assert!(
        e.to_string().contains("no team member @nobody_known"),
        "{e}"
    );

    // `/send` chooses the same audience: Bob's dialogs, one recipient.
    let news = ops::in_general(&t, t.operator, json!({"text": "Your refund is on its way"}));
    let sent = ops::in_general(
        &t,
        t.operator,
        json!({"text": "/send assignee:@bob", "reply_to": news["message_id"]}),
    );
    let prompt = ops::answer_to(
        &t,
        None,
        sent["message_id"].as_i64().unwrap(),
        "Broadcast #1",
    )
    .await;
    assert!(prompt.contains("To 1 recipient\n"), "{prompt}");
    let sent = ops::in_general(
        &t,
        t.operator,
        json!({"text": "/send assignee:@nobody_known", "reply_to": news["message_id"]}),
    );
    ops::answer_to(
        &t,
        None,
        sent["message_id"].as_i64().unwrap(),
        "no team member",
    )
    .await;

    // HIDE_INFO card: no card in the group; the admin's private card names the owner.
    t.ctl
        .send(t.operator, Place::Bot(t.bot), &json!({"text": "/start"}))
        .unwrap();
    ops::topic_cmd(&t, a, "/info", "Sent to you").await;
    let card = text_of(&t.wait_in_user_chat(t.operator, "🆔").await);
    assert!(
        card.contains("Ann") && card.contains("Owner: Olga Operator"),
        "{card}"
    );
    ops::topic_cmd(&t, c, "/info", "Sent to you").await;
    t.wait_until("Cid's card names Bob", || {
        t.user_chat(t.operator)
            .iter()
            .any(|m| text_of(m).contains("Cid") && text_of(m).contains("Owner: Bob"))
    })
    .await;
    t.assert_conformant();
}
