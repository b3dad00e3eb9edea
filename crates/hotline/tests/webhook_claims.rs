//! Outgoing webhook deliveries are claimed rows: a delivery whose worker died mid-POST
//! (its claim still in the row) goes out again when Hotline restarts, in its queue's
//! order, and is recorded once.

mod api_support;
mod common;

use api_support::{event_types, wait_async, with_webhooks};

/// A second connection to Hotline's database, for what the test injects and inspects.
async fn db(t: &common::TestApp) -> sqlx::AnyPool {
    t.db_pool().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_cut_off_by_a_crash_goes_out_again_after_restart() {
    let (mut t, _api, rx) = with_webhooks("*", "").await;
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    t.wait_topic("Ann").await;
    t.wait_until("two events", || rx.delivered().len() >= 2)
        .await;
    t.stop().await;
    // As a process killed while the POST was out leaves it: still pending, claimed (for
    // an hour) by a worker that no longer exists.
    let pool = db(&t).await;
    let hour_later = hotline::store::now_ms() + 3_600_000;
    let cut = sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', claim_token = 'dead', \
         claimed_until = $1 WHERE event = 'message_received'",
    )
    .bind(hour_later)
    .execute(&pool)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(cut, 1);
    t.restart().await;
    t.user_says(ann, "again");
    let want = [
        "dialog_created",
        "message_received:hello",
        "message_received:hello",
        "message_received:again",
    ];
    t.wait_until("the cut-off delivery and the next one", || {
        rx.delivered().len() >= want.len()
    })
    .await;
    assert_eq!(
        event_types(&rx.delivered()),
        want,
        "redelivered at once, ahead of its queue's next event"
    );
    wait_async("every delivery recorded, none claimed", || async {
        let (open, claimed): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE state <> 'done'), COUNT(claim_token) \
             FROM webhook_deliveries",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        open == 0 && claimed == 0
    })
    .await;
    let attempts: i64 = sqlx::query_scalar(
        "SELECT attempts FROM webhook_deliveries WHERE body LIKE '%\"hello\"%' \
         AND event = 'message_received'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(attempts, 2, "the cut-off attempt counts");
    assert!(rx.all().iter().all(|r| r.signed), "every attempt signed");
}
