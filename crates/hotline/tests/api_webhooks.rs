//! Outgoing webhooks end to end: a receiver written here checks every signature; events
//! arrive in order per dialog with the documented envelope; a receiver outage is retried
//! (reported once in General) without holding up the relay; custom commands round-trip.

mod api_support;
mod common;

use std::sync::atomic::Ordering;

use api_support::{event_types, with_webhooks, Api, Receiver};
use common::{text_of, TestApp};
use serde_json::{json, Value};

async fn setup(events: &str) -> (TestApp, Api, Receiver) {
    with_webhooks(events, "").await
}

fn kinds(events: &[Value]) -> Vec<String> {
    event_types(events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_signed_in_order_and_retried_after_an_outage() {
    let (t, api, rx) = setup("*").await;
    let ann = t.person("Ann");
    t.user_says(ann, "one");
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "one").await;
    t.operator_says(thread, "answer");
    t.wait_in_user_chat(ann, "answer").await;
    // message_sent is recorded once Telegram confirmed the delivery.
    t.wait_until("message_sent", || rx.delivered().len() == 3)
        .await;
    t.operator_says(thread, "/close");
    t.wait_until("closed", || t.topic_info(thread)["is_closed"] == true)
        .await;
    t.user_says(ann, "back again");
    let want = [
        "dialog_created",
        "message_received:one",
        "message_sent:answer",
        "dialog_closed",
        "dialog_reopened",
        "message_received:back again",
    ];
    t.wait_until("six events", || rx.delivered().len() >= want.len())
        .await;
    let got = rx.delivered();
    assert_eq!(kinds(&got), want);
    let all = rx.all();
    assert!(all.iter().all(|r| r.signed), "every request is signed");
    for r in &all {
        assert_eq!(r.path, "/hook");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(
            r.headers["x-hotline-event"],
            r.json["type"].as_str().unwrap()
        );
        assert_eq!(
            r.headers["x-hotline-event-id"],
            r.json["id"].as_str().unwrap()
        );
    }
    let e = &got[1];
    assert!(e["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(e["connection"]["name"], "support");
    assert_eq!(e["contact"]["user_id"], ann);
    assert_eq!(e["contact"]["first_name"], "Ann");
    assert!(e["dialog"]["id"].is_i64());
    assert_eq!(e["data"]["message"]["kind"], "text");
    assert!(e["created_at"].is_i64());
    assert_eq!(got[2]["data"]["message"]["via"], "operator");
    assert_eq!(got[2]["data"]["message"]["author_id"], t.operator);

    // Outage: the receiver fails; the relay goes on; one notice in General.
    rx.status.store(503, Ordering::SeqCst);
    t.user_says(ann, "two");
    t.wait_in_topic(thread, "two").await;
    t.user_says(ann, "three");
    t.wait_in_topic(thread, "three").await;
    let failures = || rx.all().iter().filter(|r| r.status >= 500).count();
    t.wait_until("two failed attempts", || failures() >= 3)
        .await;
    let failing = || {
        t.topic(None)
            .iter()
            .filter(|m| text_of(m).contains("is failing"))
            .count()
    };
    t.wait_until("an outage notice in General", || failing() == 1)
        .await;
    // Nothing after the failing head was delivered meanwhile (order per dialog).
    assert!(rx
        .all()
        .iter()
        .filter(|r| r.status >= 500)
        .all(|r| r.json["data"]["message"]["text"] == "two"));
    rx.status.store(200, Ordering::SeqCst);
    t.wait_until("the backlog delivered", || {
        kinds(&rx.delivered()).last().map(String::as_str) == Some("message_received:three")
    })
    .await;
    let tail: Vec<String> = kinds(&rx.delivered())[want.len()..].to_vec();
    assert_eq!(tail, ["message_received:two", "message_received:three"]);
    t.wait_in_topic_general("receiving events again", &t).await;
    assert_eq!(failing(), 1, "one notice per outage, not per attempt");
    assert!(rx.all().iter().all(|r| r.signed));
    // The receiver may have the last event before its row is marked delivered: wait for
    // the queue to settle (with a deadline) rather than read it at one instant.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, w) = api.get("/api/v1/webhooks").await;
        let counts = (w["pending"].as_i64(), w["failed"].as_i64());
        if counts == (Some(0), Some(0)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "webhook queue never settled: {counts:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // API actions raise the same events.
    let dialog = got[0]["dialog"]["id"].as_i64().unwrap();
    let (s1, _) = api
        .post(&format!("/api/v1/dialogs/{dialog}/close"), json!({}))
        .await;
    let (s2, _) = api
        .post(
            &format!("/api/v1/dialogs/{dialog}/messages"),
            json!({"text": "via api"}),
        )
        .await;
    assert_eq!((s1, s2), (200, 202));
    t.wait_until("API events", || {
        let k = kinds(&rx.delivered());
        k.contains(&"dialog_closed".to_string())
            && k.iter().filter(|e| *e == "dialog_closed").count() == 2
            && k.contains(&"message_sent:via api".to_string())
    })
    .await;
    let sent = rx
        .delivered()
        .into_iter()
        .find(|e| e["data"]["message"]["text"] == "via api")
        .unwrap();
    assert_eq!(sent["data"]["message"]["via"], "api");
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_command_round_trip() {
    let (t, _api, rx) = setup("/ticket").await;
    *rx.answer.lock().unwrap() = json!({
        "text": "Ticket #42 created",
        "buttons": [[{"text": "Open", "url": "https://tickets.example/42"}]]
    })
    .to_string();
    let ann = t.person("Ann");
    t.user_says(ann, "My printer is broken");
    let thread = t.wait_topic("Ann").await;
    t.operator_says(thread, "/ticket printer on fire");
    let answer = t.wait_in_topic(thread, "Ticket #42 created").await;
    assert_eq!(
        answer["reply_markup"]["inline_keyboard"][0][0]["url"],
        "https://tickets.example/42"
    );
    let calls = rx.all();
    assert_eq!(
        calls.len(),
        1,
        "only the command (no other events subscribed)"
    );
    let c = &calls[0];
    assert!(c.signed);
    assert_eq!(c.headers["x-hotline-event"], "command");
    assert_eq!(c.json["type"], "command");
    assert_eq!(c.json["data"]["command"], "ticket");
    assert_eq!(c.json["data"]["args"], "printer on fire");
    assert_eq!(c.json["data"]["place"], "topic");
    assert_eq!(c.json["data"]["from"]["id"], t.operator);
    assert_eq!(c.json["contact"]["user_id"], ann);
    assert!(!t
        .topic(Some(thread))
        .iter()
        .any(|m| text_of(m).contains("Unknown command")));
    assert!(!t
        .user_chat(ann)
        .iter()
        .any(|m| text_of(m).contains("ticket")));

    // In General too; unknown commands without a webhook still get the notice.
    *rx.answer.lock().unwrap() = json!({"text": "General ticket"}).to_string();
    t.operator_says_in_general("/ticket general");
    t.wait_in_topic_general("General ticket", &t).await;
    t.operator_says(thread, "/nothing");
    t.wait_in_topic(thread, "Unknown command /nothing").await;
    // An answer that is not understood is reported, not posted.
    *rx.answer.lock().unwrap() = "not json".into();
    t.operator_says(thread, "/ticket again");
    t.wait_in_topic(thread, "was not understood").await;
    t.assert_conformant();
}

trait GeneralWait {
    async fn wait_in_topic_general(&self, needle: &str, t: &TestApp) -> Value;
}

impl GeneralWait for TestApp {
    async fn wait_in_topic_general(&self, needle: &str, t: &TestApp) -> Value {
        let find = || {
            t.topic(None)
                .into_iter()
                .find(|m| text_of(m).contains(needle))
        };
        t.wait_until(&format!("\"{needle}\" in General"), || find().is_some())
            .await;
        find().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoclose_raises_dialog_closed() {
    let (t, _api, rx) = setup("dialog_closed").await;
    let bea = t.person("Bea");
    t.user_says(bea, "hello");
    let thread = t.wait_topic("Bea").await;
    t.operator_says(thread, "we will check");
    t.wait_title(thread, "🟨").await;
    let relay = &t.app().connections[0].ctx;
    let later = hotline::store::now_ms() + 49 * 3_600_000;
    let closed = hotline::relay::autoclose::sweep(relay, &t.app().store, later)
        .await
        .unwrap();
    assert_eq!(
        closed, 1,
        "the waiting dialog is due after AUTOCLOSE (48 h)"
    );
    t.wait_until("dialog_closed delivered", || !rx.delivered().is_empty())
        .await;
    let events = rx.delivered();
    assert_eq!(
        kinds(&events),
        ["dialog_closed"],
        "only the subscribed event"
    );
    assert_eq!(events[0]["contact"]["user_id"].as_i64(), Some(bea));
    assert_eq!(events[0]["dialog"]["status"], "closed");
    assert!(rx.all().iter().all(|r| r.signed));
    t.wait_title(thread, "⬛").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_bots_message_raises_message_intercepted() {
    let (t, _api, rx) = setup("message_intercepted").await;
    let cid = t.person("Cid");
    t.user_says(cid, "is my order on its way?");
    let thread = t.wait_topic("Cid").await;
    // The company's own bot answers through Hotline's Bot API gateway.
    let url = format!("http://{}/bot{}/sendMessage", t.app().addr, t.token);
    // A 429 is waited out: Hotline's welcome went to the same chat a moment ago.
    let answer = common::bot_call(
        &url,
        &json!({"chat_id": cid, "text": "Yes, it ships today"}),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    t.wait_in_topic(thread, "Yes, it ships today").await;
    t.wait_until("message_intercepted delivered", || {
        !rx.delivered().is_empty()
    })
    .await;
    let events = rx.delivered();
    assert_eq!(kinds(&events), ["message_intercepted"]);
    assert_eq!(
        events[0]["data"]["messages"][0]["text"],
        "Yes, it ships today"
    );
    assert_eq!(events[0]["contact"]["user_id"].as_i64(), Some(cid));
    assert!(rx.all().iter().all(|r| r.signed));
}

/// Issue 12, item 5: after a rotation, deliveries carry two `v1=` signatures (new and old
/// secret) for the grace period, so a receiver still on the old secret keeps verifying;
/// once the grace is over, only the new secret signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_secrets_sign_during_the_grace_and_only_the_new_one_after() {
    use hotline::api::delivery::verify;
    let (t, api, rx) = setup("dialog_created").await;
    let old = rx.secret.lock().unwrap().clone();
    let (code, w) = api.post("/api/v1/webhooks/secret", json!({})).await;
    assert_eq!(code, 200);
    let new = w["secret"].as_str().unwrap().to_string();
    assert_ne!(old, new);
    *rx.secret.lock().unwrap() = new.clone();

    let ann = t.person("Ann");
    t.user_says(ann, "hi");
    t.wait_until("first delivery", || rx.all().len() == 1).await;
    let r = rx.all().remove(0);
    let sig = r.headers["x-hotline-signature"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(sig.matches("v1=").count(), 2, "{sig}");
    assert!(verify(&new, &sig, &r.body), "the new secret verifies");
    assert!(verify(&old, &sig, &r.body), "the old secret verifies");

    // The grace period ends (its end moved into the past, as time would).
    let app = t.app();
    let conn = app.connections[0].ctx.connection;
    app.store
        .kv_set(
            conn,
            "webhook_secret_previous_until",
            &(hotline::store::now_ms() - 1).to_string(),
        )
        .await
        .unwrap();
    let bob = t.person("Bob");
    t.user_says(bob, "hello");
    t.wait_until("second delivery", || rx.all().len() == 2)
        .await;
    let r = rx.all().remove(1);
    let sig = r.headers["x-hotline-signature"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(sig.matches("v1=").count(), 1, "{sig}");
    assert!(verify(&new, &sig, &r.body));
    assert!(
        !verify(&old, &sig, &r.body),
        "the old secret no longer signs"
    );
}
