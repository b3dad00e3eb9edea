//! The side effects of a dialog's decisions are recorded in one place, so every path that
//! reopens, closes or completes something records the same things exactly once:
//! - an operator who simply writes in a closed dialog reopens it like `/hold` does
//!   (`dialog_reopened` webhook, a "reopened" analytics event);
//! - AUTOCLOSE closes only dialogs still waiting when it decides: a user who writes in
//!   between stays open;
//! - what an outbox action records after Telegram answered (an API send's follow-up,
//!   the links of a mirrored message) commits with the intent's completion, so a retry
//!   after a lost completion does not record it twice.
//!
//! Lost completions and concurrent writes are injected with triggers created by the test on
//! Hotline's own database (SQLite or PostgreSQL): production code has no test hooks.

mod api_support;
mod common;

use api_support::{event_types, with_webhooks, Api, Receiver};
use common::TestApp;
use serde_json::json;
use tg_emulator::{Fault, Faults};

async fn setup(params: &str) -> (TestApp, Api, Receiver) {
    with_webhooks("*", params).await
}

/// A second connection to Hotline's database, for what the test injects and inspects.
async fn db(t: &TestApp) -> sqlx::AnyPool {
    t.db_pool().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_writing_in_a_closed_dialog_reopens_it_on_record() {
    let (t, _api, rx) = setup("").await;
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    let thread = t.wait_topic("Ann").await;
    t.operator_says(thread, "/close");
    t.wait_until("closed", || t.topic_info(thread)["is_closed"] == true)
        .await;
    t.operator_says(thread, "one more thing");
    t.wait_in_user_chat(ann, "one more thing").await;
    t.wait_title(thread, "🟨").await;
    let want = [
        "dialog_created",
        "message_received:hello",
        "dialog_closed",
        "dialog_reopened",
        "message_sent:one more thing",
    ];
    t.wait_until("five events", || rx.delivered().len() >= want.len())
        .await;
    assert_eq!(event_types(&rx.delivered()), want);
    let app = t.app();
    let report = hotline::stats::compute(
        &app.store,
        app.connections[0].ctx.connection,
        0,
        i64::MAX,
        time::UtcOffset::UTC,
    )
    .await
    .unwrap();
    assert_eq!(
        (report.new, report.closed, report.reopened),
        (1, 1, 1),
        "analytics count the reopening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoclose_leaves_open_a_dialog_whose_user_wrote_meanwhile() {
    let (t, _api, _rx) = setup("AUTOCLOSE = 1").await;
    let (ann, bob) = (t.person("Ann"), t.person("Bob"));
    let mut threads = Vec::new();
    for (user, name) in [(ann, "Ann"), (bob, "Bob")] {
        t.user_says(user, "hello");
        let thread = t.wait_topic(name).await;
        t.operator_says(thread, "we will check");
        t.wait_title(thread, "🟨").await;
        threads.push(thread);
    }
    let pool = db(&t).await;
    let dialog = |thread: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM dialogs WHERE thread_id = $1")
                .bind(thread)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (first, second) = (dialog(threads[0]).await, dialog(threads[1]).await);
    // Both waited long enough; Ann's is the older candidate. The moment Ann's dialog is
    // closed, Bob writes (his dialog turns 🟪 again), as a concurrent update would.
    sqlx::query("UPDATE dialogs SET status_since = CASE id WHEN $1 THEN 1000 ELSE 2000 END WHERE id IN ($1, $2)")
        .bind(first)
        .bind(second)
        .execute(&pool)
        .await
        .unwrap();
    common::create_trigger(
        &pool,
        "bob_writes",
        "AFTER UPDATE OF status ON dialogs",
        &format!("NEW.id = {first} AND NEW.status = 'closed'"),
        common::TriggerAction::Run(&format!(
            "UPDATE dialogs SET status = 'new', status_since = NEW.status_since + 1 WHERE id = {second}"
        )),
    )
    .await;
    let app = t.app();
    let closed = hotline::relay::autoclose::sweep(
        &app.connections[0].ctx,
        &app.store,
        hotline::store::now_ms(),
    )
    .await
    .unwrap();
    let status = |id: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM dialogs WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(status(first).await, "closed");
    assert_eq!(
        status(second).await,
        "new",
        "Bob wrote: his dialog stays open"
    );
    assert_eq!(closed, 1, "only Ann's dialog was still waiting");
    t.wait_title(threads[0], "⬛").await;
}

/// Waits until the outbox has nothing pending or running.
async fn outbox_idle(pool: &sqlx::AnyPool) {
    api_support::wait_async("the outbox idle", || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'in_flight')",
        )
        .fetch_one(pool)
        .await
        .unwrap()
            == 0
    })
    .await
}

/// Makes the first completion of intents matching `filter` (SQL on `OLD.action`) fail,
/// as a crash between Telegram's answer and the record would: the intent runs again.
/// "First" is told by the error the lost completion leaves, not by the attempt count: with
/// Telegram's limits an attempt may have met a 429 before (it is retried, then completes
/// on its second attempt), and a trigger on `attempts = 1` then never fired.
async fn lose_first_completion(pool: &sqlx::AnyPool, filter: &str) {
    common::create_trigger(
        pool,
        "lose_completion",
        "BEFORE UPDATE OF state ON outbox",
        &format!(
            "NEW.state = 'done' AND COALESCE(OLD.last_error, '') NOT LIKE '%completion lost%' AND {filter}"
        ),
        common::TriggerAction::Fail("injected: completion lost"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_api_send_records_its_follow_ups_once() {
    let (t, api, rx) = api_support::with_webhooks("*", "").await;
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    let thread = t.wait_topic("Ann").await;
    let pool = db(&t).await;
    lose_first_completion(&pool, "OLD.action LIKE '%\"api\":\"send\"%'").await;
    let dialog: i64 = sqlx::query_scalar("SELECT id FROM dialogs WHERE thread_id = $1")
        .bind(thread)
        .fetch_one(&pool)
        .await
        .unwrap();
    // Its first attempt meets a 429, as it may with Telegram's limits right after the
    // welcome: the completion lost is then that of the second attempt.
    let storm = Fault {
        storm_rate: 1.0,
        storm_retry_after: 1,
        ..Fault::default()
    };
    t.emu.set_faults(Faults {
        methods: [("sendMessage".to_string(), storm)].into(),
        ..Faults::default()
    });
    let (status, _) = api
        .post(
            &format!("/api/v1/dialogs/{dialog}/messages"),
            json!({"text": "Your order shipped"}),
        )
        .await;
    assert_eq!(status, 202);
    api_support::wait_async("the send's first attempt refused with a 429", || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM outbox WHERE action LIKE '%\"api\":\"send\"%' \
             AND state = 'pending' AND attempts >= 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
            > 0
    })
    .await;
    t.emu.set_faults(Faults::default());
    // The send ran twice (at least once: the user may get it twice); its follow-ups did not.
    t.wait_until("the send retried", || {
        t.user_chat(ann)
            .iter()
            .filter(|m| common::text_of(m) == "Your order shipped")
            .count()
            == 2
    })
    .await;
    t.wait_in_topic(thread, "Your order shipped").await;
    t.wait_until("message_sent", || {
        rx.delivered().iter().any(|e| e["type"] == "message_sent")
    })
    .await;
    outbox_idle(&pool).await;
    let echoes = t
        .topic(Some(thread))
        .iter()
        .filter(|m| common::text_of(m).contains("Your order shipped"))
        .count();
    assert_eq!(echoes, 1, "the topic shows the API message once");
    let sent = rx
        .delivered()
        .iter()
        .filter(|e| e["type"] == "message_sent")
        .count();
    assert_eq!(sent, 1, "one message_sent event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_mirror_links_its_copy_once() {
    let (t, _api, _rx) = setup("").await;
    let cid = t.person("Cid");
    t.user_says(cid, "is my order on its way?");
    let thread = t.wait_topic("Cid").await;
    let pool = db(&t).await;
    lose_first_completion(&pool, "OLD.action LIKE '%\"do\":\"mirror\"%'").await;
    let url = format!("http://{}/bot{}/sendMessage", t.app().addr, t.token);
    // A 429 is waited out: Hotline's welcome went to the same chat a moment ago.
    let answer = common::bot_call(
        &url,
        &json!({"chat_id": cid, "text": "Yes, it ships today"}),
    )
    .await;
    let sent = answer["result"]["message_id"].as_i64().unwrap();
    let copies = || {
        t.topic(Some(thread))
            .iter()
            .filter(|m| common::text_of(m).contains("Yes, it ships today"))
            .count()
    };
    t.wait_until("the mirror retried", || copies() == 2).await;
    outbox_idle(&pool).await;
    let links: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM message_links WHERE direction = 'intercepted' AND user_message_id = $1",
    )
    .bind(sent)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(links, 1, "one link, committed with the completion");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_from_a_stale_copy_records_only_what_changed() {
    let (t, _api, rx) = setup("").await;
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    let thread = t.wait_topic("Ann").await;
    t.operator_says(thread, "/close");
    t.wait_until("closed", || t.topic_info(thread)["is_closed"] == true)
        .await;
    let app = t.app();
    let ctx = &app.connections[0].ctx;
    let pool = db(&t).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM dialogs WHERE thread_id = $1")
        .bind(thread)
        .fetch_one(&pool)
        .await
        .unwrap();
    // A decision holds the dialog as read while closed; before it acts, another one
    // reopens it (the user wrote). Then the first moves it to 🟨 from its stale copy.
    let mut tx = app.store.begin().await.unwrap();
    let stale = tx.dialog(id).await.unwrap().unwrap();
    assert_eq!(stale.status, hotline::store::DialogStatus::Closed);
    let now = hotline::store::now_ms();
    assert!(ctx
        .set_status(&mut tx, &stale, hotline::store::DialogStatus::New, now)
        .await
        .unwrap());
    assert!(ctx
        .set_status(&mut tx, &stale, hotline::store::DialogStatus::Wait, now)
        .await
        .unwrap());
    tx.commit().await.unwrap();
    t.wait_title(thread, "🟨").await;
    // Every event of the decision was queued in its transaction: count them there.
    let reopened: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE event = 'dialog_reopened'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(reopened, 1, "one dialog_reopened");
    t.wait_until("four events", || rx.delivered().len() >= 4)
        .await;
    assert_eq!(
        event_types(&rx.delivered()),
        [
            "dialog_created",
            "message_received:hello",
            "dialog_closed",
            "dialog_reopened"
        ]
    );
    let report = hotline::stats::compute(
        &app.store,
        ctx.connection,
        0,
        i64::MAX,
        time::UtcOffset::UTC,
    )
    .await
    .unwrap();
    assert_eq!(report.reopened, 1, "reopened once, not once per stale copy");
}
