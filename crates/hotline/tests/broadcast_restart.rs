//! A broadcast survives a restart in the middle without skipping or repeating anyone, and
//! can be paused, resumed and cancelled (by button and by `/send cancel N`).

mod broadcast_common;
mod common;

use std::time::Duration;

use broadcast_common::*;
use common::*;
use serde_json::json;

/// Starts Hotline with a bot-wide limit of `per_second` (so a broadcast takes a while).
async fn slow_app(per_second: u32) -> TestApp {
    let mut t = spawn_app_with(GATED).await;
    t.config.limits.bot_per_second = per_second;
    t.restart().await;
    t
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("User{i:03}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_in_the_middle_neither_skips_nor_repeats() {
    let mut t = slow_app(20).await;
    let n = names(80);
    let ids = contacts(&t, &n.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let news = post_general(&t, json!({"text": "Weekly digest"}));
    command(&t, "/send all", Some(news));
    press(&t, 1, "confirm").await;
    let got = |t: &TestApp| {
        ids.iter()
            .filter(|u| received(t, **u, "Weekly digest") > 0)
            .count()
    };
    wait_until("a quarter delivered", || got(&t) >= 20).await;
    t.restart().await;
    let at_restart = got(&t);
    assert!(
        at_restart < ids.len(),
        "the restart came too late to matter"
    );
    let rows = wait_csv(&t, "broadcast-1.csv", Duration::from_secs(60)).await;
    assert_eq!(rows.len(), ids.len() + 1);
    for (r, u) in rows[1..].iter().zip(&ids) {
        assert_eq!(r[0], u.to_string(), "recipients in order");
        assert_eq!(r[3], "sent");
    }
    for u in &ids {
        assert_eq!(
            received(&t, *u, "Weekly digest"),
            1,
            "user {u}: exactly once"
        );
    }
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_cancel() {
    let t = slow_app(10).await;
    let n = names(60);
    let ids = contacts(&t, &n.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let (s, c) = (store(&t), connection(&t).await);
    let news = post_general(&t, json!({"text": "Flash sale"}));
    command(&t, "/send all", Some(news));
    press(&t, 1, "confirm").await;
    let got = |t: &TestApp| {
        ids.iter()
            .filter(|u| received(t, **u, "Flash sale") > 0)
            .count()
    };
    wait_until("some delivered", || got(&t) >= 5).await;
    let answer = press(&t, 1, "pause").await;
    assert!(answer.to_string().contains("paused"), "{answer}");
    // Once the queued deliveries have settled (returned to pending), nothing moves.
    loop {
        let counts = s.recipient_counts(1).await.unwrap();
        if counts.queued == 0 {
            assert!(counts.pending > 0);
            assert_eq!(counts.sent as usize, got(&t));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_general(&t, "Broadcast #1", |m| text_of(m).contains("paused")).await;
    press(&t, 1, "resume").await;
    let before = got(&t);
    wait_until("more delivered after resuming", || got(&t) >= before + 5).await;
    command(&t, "/send cancel 1", None);
    wait_general(&t, "Broadcast #1 cancelled.", |_| true).await;
    let rows = wait_csv(&t, "broadcast-1.csv", Duration::from_secs(30)).await;
    let sent = rows[1..].iter().filter(|r| r[3] == "sent").count();
    let cancelled = rows[1..].iter().filter(|r| r[3] == "cancelled").count();
    assert_eq!(sent + cancelled, ids.len());
    assert!(cancelled > 0, "cancelled before the end");
    assert_eq!(sent, got(&t), "the report matches what users received");
    assert_eq!(s.broadcast(c, 1).await.unwrap().unwrap().state, "cancelled");
    wait_general(&t, "Broadcast #1", |m| text_of(m).contains("cancelled")).await;
}
