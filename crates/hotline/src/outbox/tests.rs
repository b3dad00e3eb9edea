//! Worker tests against a fake executor and a real (temporary) SQLite store. Nothing
//! sleeps a fixed time: tests wait for a condition with a deadline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::*;
use crate::config::Limits;
use crate::shutdown::ShutdownTrigger;
use crate::store::testutil::temp_store;
use crate::store::{now_ms, Store, StoreError, Tx};
use crate::telegram::TgError;

#[derive(Serialize, Deserialize, Clone, Debug)]
struct TestAction {
    tag: String,
}

impl Action for TestAction {
    const KIND: &'static str = "test";
}

type Script = Box<dyn Fn(&str, u32) -> Result<Value, TgError> + Send + Sync>;

/// Records every execution; answers per a script of (tag, attempt) -> result.
struct Fake {
    calls: Mutex<Vec<(String, u32, Instant)>>,
    successes: Mutex<Vec<String>>,
    script: Script,
    delay: Duration,
}

impl Fake {
    fn new(
        script: impl Fn(&str, u32) -> Result<Value, TgError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            calls: Mutex::default(),
            successes: Mutex::default(),
            script: Box::new(script),
            delay: Duration::ZERO,
        })
    }

    fn order(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.0.clone())
            .collect()
    }
}

impl Execute<TestAction> for Fake {
    type Done = Value;
    type Error = TgError;

    async fn execute(&self, intent: &Intent, action: TestAction) -> Result<Value, TgError> {
        self.calls
            .lock()
            .unwrap()
            .push((action.tag.clone(), intent.attempts, Instant::now()));
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        (self.script)(&action.tag, intent.attempts)
    }

    async fn complete(
        &self,
        tx: &mut Tx,
        intent: &Intent,
        result: Value,
    ) -> Result<(), StoreError> {
        // Prove the result is recorded inside the transaction that marks the intent done.
        tx.kv_set(
            intent.connection,
            &format!("result:{}", intent.id.0),
            &result.to_string(),
        )
        .await?;
        let tag: TestAction = serde_json::from_value(intent.action.clone()).unwrap();
        self.successes.lock().unwrap().push(tag.tag);
        Ok(())
    }
}

fn fast_config() -> OutboxConfig {
    OutboxConfig {
        limits: Limits {
            bot_per_second: 10_000,
            private_per_second: 10_000,
            group_per_minute: 600_000,
        },
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(20),
        max_attempts: None,
        max_in_flight: 4,
        batch: 64,
        store_retry: Duration::from_millis(10),
        time_scale: 1.0,
    }
}

fn intent(chat: i64, lane: Lane, key: i64, tag: &str) -> NewIntent {
    TestAction { tag: tag.into() }
        .to(chat, lane)
        .with_fairness_key(key)
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn wait_store(
    store: &Store,
    conn: crate::store::ConnectionId,
    what: &str,
    cond: impl Fn(crate::store::OutboxStats) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if cond(store.outbox_stats(conn).await.unwrap()) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

struct Running {
    trigger: ShutdownTrigger,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        self.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .unwrap()
            .unwrap();
    }
}

fn start(
    store: &Store,
    conn: crate::store::ConnectionId,
    exec: Arc<Fake>,
    config: OutboxConfig,
) -> Running {
    let (trigger, shutdown) = ShutdownTrigger::new();
    let mut registry = Registry::new();
    registry.register::<TestAction, _>(exec);
    let worker = Worker::new(store.clone(), conn, Arc::new(registry), config);
    Running {
        trigger,
        handle: tokio::spawn(worker.run(shutdown)),
    }
}

#[tokio::test]
async fn order_per_chat_survives_a_transient_failure() {
    let (store, _d) = temp_store().await;
    let conn = store.ensure_connection("c").await.unwrap();
    let fake = Fake::new(|tag, attempt| {
        if tag == "a2" && attempt < 3 {
            Err(TgError::Transient("timeout".into()))
        } else {
            Ok(json!({"ok": tag}))
        }
    });
    let mut tx = store.begin().await.unwrap();
    for i in 1..=5 {
        tx.enqueue(conn, &intent(1, Lane::Reply, 0, &format!("a{i}")), now_ms())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let w = start(&store, conn, fake.clone(), fast_config());
    wait_until("five successes", || {
        fake.successes.lock().unwrap().len() == 5
    })
    .await;
    w.stop().await;
    assert_eq!(fake.order(), vec!["a1", "a2", "a2", "a2", "a3", "a4", "a5"]);
    assert_eq!(
        *fake.successes.lock().unwrap(),
        vec!["a1", "a2", "a3", "a4", "a5"]
    );
    let st = store.outbox_stats(conn).await.unwrap();
    assert_eq!((st.pending, st.in_flight, st.failed), (0, 0, 0));
    // on_success wrote in the same transaction.
    assert!(store
        .kv_get(conn, "result:2")
        .await
        .unwrap()
        .unwrap()
        .contains("a2"));
    let a2 = store.outbox_intent(IntentId(2)).await.unwrap().unwrap();
    assert_eq!(a2.attempts, 3);
}

#[tokio::test]
async fn group_queue_interleaves_dialogs_under_the_group_limit() {
    let (store, _d) = temp_store().await;
    let conn = store.ensure_connection("c").await.unwrap();
    let fake = Fake::new(|_, _| Ok(json!(true)));
    // Dialog 1 floods first, then dialog 2 and 3 write once each.
    let mut tx = store.begin().await.unwrap();
    for i in 1..=4 {
        tx.enqueue(
            conn,
            &intent(-100, Lane::Group, 1, &format!("d1-{i}")),
            now_ms(),
        )
        .await
        .unwrap();
    }
    tx.enqueue(conn, &intent(-100, Lane::Group, 2, "d2-1"), now_ms())
        .await
        .unwrap();
    tx.enqueue(conn, &intent(-100, Lane::Group, 3, "d3-1"), now_ms())
        .await
        .unwrap();
    tx.enqueue(conn, &intent(-100, Lane::Group, 2, "d2-2"), now_ms())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut cfg = fast_config();
    cfg.limits.group_per_minute = 3000; // the limit itself is tested in the scheduler
    cfg.max_in_flight = 1; // one call at a time makes the fair order observable
    let w = start(&store, conn, fake.clone(), cfg);
    wait_until("seven calls", || fake.calls.lock().unwrap().len() == 7).await;
    w.stop().await;
    assert_eq!(
        fake.order(),
        vec!["d1-1", "d2-1", "d3-1", "d1-2", "d2-2", "d1-3", "d1-4"]
    );
}

#[tokio::test]
async fn retry_after_pauses_the_whole_bot() {
    let (store, _d) = temp_store().await;
    let conn = store.ensure_connection("c").await.unwrap();
    let fake = Fake::new(|tag, attempt| {
        if tag == "x" && attempt == 1 {
            Err(TgError::RetryAfter(1))
        } else {
            Ok(json!(true))
        }
    });
    let mut cfg = fast_config();
    cfg.max_in_flight = 1;
    store
        .enqueue(conn, &intent(1, Lane::Reply, 0, "x"), now_ms())
        .await
        .unwrap();
    let w = start(&store, conn, fake.clone(), cfg);
    wait_until("the 429", || fake.calls.lock().unwrap().len() == 1).await;
    // Work for another chat arrives during the pause: it must wait too.
    store
        .enqueue(conn, &intent(2, Lane::Reply, 0, "y"), now_ms())
        .await
        .unwrap();
    wait_until("both delivered", || {
        fake.successes.lock().unwrap().len() == 2
    })
    .await;
    w.stop().await;
    let calls = fake.calls.lock().unwrap().clone();
    let first = calls[0].2;
    for c in &calls[1..] {
        assert!(
            c.2 - first >= Duration::from_millis(990),
            "{} ran {:?} after the 429",
            c.0,
            c.2 - first
        );
    }
    assert_eq!(calls.iter().filter(|c| c.0 == "x").count(), 2);
}

#[tokio::test]
async fn a_group_429_does_not_hold_up_answers_to_users() {
    let (store, _d) = temp_store().await;
    let conn = store.ensure_connection("c").await.unwrap();
    // The group answers "retry after 600" once: in a world ten times faster, 60 s. A user's
    // answer enqueued meanwhile goes after at most the bot's (scaled) second, and the
    // group's retry waits its whole minute.
    let fake = Fake::new(|tag, attempt| {
        if tag == "g" && attempt == 1 {
            Err(TgError::RetryAfter(600))
        } else {
            Ok(json!(true))
        }
    });
    let mut cfg = fast_config();
    cfg.time_scale = 10.0;
    store
        .enqueue(conn, &intent(-100, Lane::NewDialog, 1, "g"), now_ms())
        .await
        .unwrap();
    let w = start(&store, conn, fake.clone(), cfg);
    wait_until("the 429", || fake.calls.lock().unwrap().len() == 1).await;
    store
        .enqueue(conn, &intent(5, Lane::Reply, 0, "answer"), now_ms())
        .await
        .unwrap();
    wait_until("the answer", || {
        fake.successes
            .lock()
            .unwrap()
            .contains(&"answer".to_string())
    })
    .await;
    w.stop().await;
    // The group was not retried within its pause (the answer came first, well inside it).
    assert_eq!(fake.order(), vec!["g", "answer"]);
    let g = store.outbox_intent(IntentId(1)).await.unwrap().unwrap();
    assert!(
        g.next_attempt_at - g.created_at >= 59_000,
        "the retry is due after the scaled retry_after ({} ms)",
        g.next_attempt_at - g.created_at
    );
}

#[tokio::test]
async fn permanent_failure_is_recorded_and_the_queue_moves_on() {
    let (store, _d) = temp_store().await;
    let conn = store.ensure_connection("c").await.unwrap();
    let fake = Fake::new(|tag, _| {
        if tag == "bad" {
            Err(TgError::permanent(
                403,
                "Forbidden: bot was blocked by the user",
            ))
        } else {
            Ok(json!(true))
        }
    });
    store
        .enqueue(conn, &intent(9, Lane::Broadcast, 0, "bad"), now_ms())
        .await
        .unwrap();
    store
        .enqueue(conn, &intent(9, Lane::Broadcast, 0, "next"), now_ms())
        .await
        .unwrap();
    // An action nobody executes, or that cannot be decoded, fails too; it is no crash.
    store
        .enqueue(
            conn,
            &NewIntent::raw(10, Lane::Reply, json!({"nope": 1})),
            now_ms(),
        )
        .await
        .unwrap();
    store
        .enqueue(
            conn,
            &NewIntent::raw(11, Lane::Reply, json!({"do": "test", "tag": 5})),
            now_ms(),
        )
        .await
        .unwrap();
    let w = start(&store, conn, fake.clone(), fast_config());
    wait_until("next delivered", || {
        fake.successes.lock().unwrap().len() == 1
    })
    .await;
    wait_store(&store, conn, "three failures", |s| s.failed == 3).await;
    w.stop().await;
    let error = |id| {
        let store = store.clone();
        async move {
            store
                .outbox_intent(IntentId(id))
                .await
                .unwrap()
                .unwrap()
                .last_error
                .unwrap_or_default()
        }
    };
    assert!(error(1).await.contains("blocked"));
    assert!(error(3).await.contains("no executor"));
    assert!(error(4).await.contains("cannot be decoded"));
    assert_eq!(
        fake.order().iter().filter(|t| *t == "bad").count(),
        1,
        "permanent errors are not retried"
    );
    assert_eq!(store.outbox_stats(conn).await.unwrap().failed, 3);
}

#[tokio::test]
async fn transient_failures_give_up_after_max_attempts() {
    let (store, _d) = temp_store().await;
    let conn = store.ensure_connection("c").await.unwrap();
    let fake = Fake::new(|_, _| Err(TgError::Transient("502".into())));
    let mut cfg = fast_config();
    cfg.max_attempts = Some(3);
    store
        .enqueue(conn, &intent(1, Lane::Reply, 0, "z"), now_ms())
        .await
        .unwrap();
    let w = start(&store, conn, fake.clone(), cfg);
    wait_store(&store, conn, "failure", |s| s.failed == 1).await;
    w.stop().await;
    assert_eq!(
        fake.calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.1)
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}

#[tokio::test]
async fn wakes_on_commit_and_recovers_in_flight_after_crash() {
    let (store, _d) = temp_store().await;
    let conn = store.ensure_connection("c").await.unwrap();
    // Simulate a crash: an intent claimed but never finished.
    let crashed = store
        .enqueue(conn, &intent(5, Lane::Reply, 0, "crashed"), now_ms())
        .await
        .unwrap();
    assert!(store
        .outbox_mark_in_flight(crashed, now_ms())
        .await
        .unwrap()
        .is_some());
    let fake = Fake::new(|_, _| Ok(json!(true)));
    let w = start(&store, conn, fake.clone(), fast_config());
    wait_until("recovered intent", || {
        fake.successes.lock().unwrap().len() == 1
    })
    .await;
    // The worker is now idle (no timer pending); a commit must wake it.
    let mut tx = store.begin().await.unwrap();
    tx.enqueue(conn, &intent(6, Lane::Reply, 0, "fresh"), now_ms())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    wait_until("fresh intent", || fake.successes.lock().unwrap().len() == 2).await;
    w.stop().await;
    assert_eq!(*fake.successes.lock().unwrap(), vec!["crashed", "fresh"]);
    let c = store.outbox_intent(crashed).await.unwrap().unwrap();
    assert_eq!(c.attempts, 2, "the interrupted attempt counts");
}

#[tokio::test]
async fn scheduled_intents_wait_for_their_time() {
    let (store, _d) = temp_store().await;
    let conn = store.ensure_connection("c").await.unwrap();
    let fake = Fake::new(|_, _| Ok(json!(true)));
    let w = start(&store, conn, fake.clone(), fast_config());
    let at = now_ms() + 150;
    store
        .enqueue(
            conn,
            &intent(3, Lane::Broadcast, 0, "later").not_before(at),
            now_ms(),
        )
        .await
        .unwrap();
    wait_until("scheduled delivery", || {
        fake.successes.lock().unwrap().len() == 1
    })
    .await;
    assert!(now_ms() >= at);
    w.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_calls_finish() {
    let (store, _d) = temp_store().await;
    let conn = store.ensure_connection("c").await.unwrap();
    let fake = Arc::new(Fake {
        calls: Mutex::default(),
        successes: Mutex::default(),
        script: Box::new(|_, _| Ok(json!(true))),
        delay: Duration::from_millis(200),
    });
    store
        .enqueue(conn, &intent(1, Lane::Reply, 0, "slow"), now_ms())
        .await
        .unwrap();
    let w = start(&store, conn, fake.clone(), fast_config());
    wait_until("call started", || fake.calls.lock().unwrap().len() == 1).await;
    w.stop().await;
    assert_eq!(*fake.successes.lock().unwrap(), vec!["slow"]);
    wait_store(&store, conn, "nothing left", |s| {
        s.pending == 0 && s.in_flight == 0
    })
    .await;
}

#[tokio::test]
async fn fair_across_private_chats_and_lanes() {
    let (store, _d) = temp_store().await;
    let conn = store.ensure_connection("c").await.unwrap();
    let fake = Fake::new(|_, _| Ok(json!(true)));
    let mut tx = store.begin().await.unwrap();
    for i in 1..=3 {
        tx.enqueue(
            conn,
            &intent(100 + i, Lane::Broadcast, 0, &format!("b{i}")),
            now_ms(),
        )
        .await
        .unwrap();
    }
    tx.enqueue(conn, &intent(-5, Lane::Group, 1, "g"), now_ms())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut cfg = fast_config();
    cfg.max_in_flight = 1;
    let w = start(&store, conn, fake.clone(), cfg);
    wait_until("all", || fake.successes.lock().unwrap().len() == 4).await;
    w.stop().await;
    assert_eq!(fake.order(), vec!["g", "b1", "b2", "b3"]);
}

#[test]
fn backoff_is_capped_with_jitter() {
    let cfg = OutboxConfig::new(Limits::default());
    for attempts in 1..40 {
        let d = cfg.backoff(attempts);
        let full = Duration::from_secs(1)
            .saturating_mul(1 << (attempts - 1).min(30))
            .min(Duration::from_secs(60));
        assert!(d >= full / 2 && d <= full, "attempt {attempts}: {d:?}");
    }
}
