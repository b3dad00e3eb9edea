//! The side effects of a dialog's decisions are recorded in one place, so every path that
//! reopens, closes or completes something records the same things exactly once:
//! - an operator who simply writes in a closed dialog reopens it like `/hold` does
//!   (`dialog_reopened` webhook, a "reopened" analytics event);
//! - AUTOCLOSE closes only dialogs still waiting when it decides: a user who writes in
//!   between stays open.
//!
//! Concurrent writes are injected with SQLite triggers created by the test on Hotline's
//! own database file: production code has no test hooks.

mod api_support;
mod common;

use api_support::{Api, Receiver};
use common::{spawn_app_with, TestApp};
use serde_json::Value;

async fn setup(params: &str) -> (TestApp, Api, Receiver) {
    let rx = Receiver::start().await;
    let t = spawn_app_with(&format!("WEBHOOKS = \"{}/hook *\"\n{params}", rx.url)).await;
    let api = Api::new(&t).await;
    let (_, w) = api.get("/api/v1/webhooks").await;
    *rx.secret.lock().unwrap() = w["secret"].as_str().unwrap().to_string();
    (t, api, rx)
}

/// A second connection to Hotline's database, for what the test injects and inspects.
async fn db(t: &TestApp) -> sqlx::SqlitePool {
    let url = format!("sqlite://{}", t.dir.path().join("hotline.db").display());
    sqlx::SqlitePool::connect(&url).await.unwrap()
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let t = e["type"].as_str().unwrap_or("?");
            match e["data"]["message"]["text"].as_str() {
                Some(text) => format!("{t}:{text}"),
                None => t.to_string(),
            }
        })
        .collect()
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
    assert_eq!(types(&rx.delivered()), want);
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
    sqlx::query(&format!(
        "CREATE TRIGGER bob_writes AFTER UPDATE OF status ON dialogs \
         WHEN NEW.id = {first} AND NEW.status = 'closed' \
         BEGIN UPDATE dialogs SET status = 'new', status_since = NEW.status_since + 1 WHERE id = {second}; END"
    ))
    .execute(&pool)
    .await
    .unwrap();
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
