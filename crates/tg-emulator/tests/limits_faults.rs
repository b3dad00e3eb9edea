//! Rate limits (429 with retry_after) and injected faults (latency, 500s, dropped
//! connections, drop-after-execute, timeouts, 429 storms).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{check_error_shape, Env, BOT};
use serde_json::json;
use tg_emulator::{Fault, Faults, Limits};

fn texts(env: &Env) -> Vec<String> {
    env.ctl
        .private_transcript(BOT, env.alice)
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn limits_answer_429_with_retry_after() {
    let env = Env::new().await;
    env.emu.set_limits(Limits {
        private_per_second: Some(1),
        group_per_minute: Some(2),
        ..Limits::default()
    });
    env.say(env.alice, "one").await;
    let (status, body) = env
        .call("sendMessage", json!({"chat_id": env.alice, "text": "two"}))
        .await;
    check_error_shape(status, &body, "private limit");
    assert_eq!(status, 429);
    assert_eq!(
        body["description"],
        json!("Too Many Requests: retry after 1")
    );
    assert_eq!(body["parameters"]["retry_after"], json!(1));
    assert!(
        !texts(&env).contains(&"two".to_string()),
        "refused calls are not executed"
    );
    // Non-sending methods are not limited.
    env.ok("getMe", json!({})).await;
    env.ok("getChat", json!({"chat_id": env.alice})).await;

    env.say(env.group, "g1").await;
    env.say(env.group, "g2").await;
    let (status, body) = env
        .call("sendMessage", json!({"chat_id": env.group, "text": "g3"}))
        .await;
    assert_eq!(status, 429);
    let retry = body["parameters"]["retry_after"].as_u64().unwrap();
    assert!((59..=60).contains(&retry), "{retry}");
    assert_eq!(
        body["description"],
        json!(format!("Too Many Requests: retry after {retry}"))
    );

    // The overall per-bot limit, which allow_paid_broadcast lifts.
    env.emu.set_limits(Limits {
        bot_per_second: Some(1),
        ..Limits::default()
    });
    let t = env
        .ok(
            "createForumTopic",
            json!({"chat_id": env.group, "name": "t"}),
        )
        .await;
    let thread = t["message_thread_id"].clone();
    assert_eq!(
        env.call(
            "sendMessage",
            json!({"chat_id": env.group, "message_thread_id": thread, "text": "x"})
        )
        .await
        .0,
        429
    );
    env.ok("sendMessage", json!({"chat_id": env.group, "message_thread_id": thread, "text": "paid", "allow_paid_broadcast": true})).await;
    env.emu.set_limits(Limits::default());
    env.say(env.alice, "free again").await;
    env.done();
}

#[tokio::test]
async fn faults_500_storm_and_latency() {
    let env = Env::new().await;
    let only = |method: &str, f: Fault| Faults {
        all: Fault::default(),
        methods: HashMap::from([(method.to_string(), f)]),
    };

    env.emu.set_faults(only(
        "sendMessage",
        Fault {
            error_rate: 1.0,
            ..Fault::default()
        },
    ));
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": env.alice, "text": "lost"}))
            .await,
        (500, "Internal Server Error".into())
    );
    assert!(!texts(&env).contains(&"lost".to_string()));
    // Other methods are untouched by a per-method fault.
    env.ok("getMe", json!({})).await;

    env.emu.set_faults(Faults {
        all: Fault {
            storm_rate: 1.0,
            storm_retry_after: 7,
            ..Fault::default()
        },
        methods: HashMap::new(),
    });
    let (status, body) = env.call("getMe", json!({})).await;
    assert_eq!(status, 429);
    assert_eq!(
        body["description"],
        json!("Too Many Requests: retry after 7")
    );
    assert_eq!(body["parameters"]["retry_after"], json!(7));

    env.emu.set_faults(only(
        "getMe",
        Fault {
            latency_ms: 150,
            ..Fault::default()
        },
    ));
    let started = Instant::now();
    env.ok("getMe", json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    env.emu.set_faults(Faults::default());
    env.say(env.alice, "fine").await;
    env.done();
}

#[tokio::test]
async fn dropped_connections_before_and_after_execution_and_timeouts() {
    let env = Env::new().await;
    let set = |f: Fault| {
        env.emu.set_faults(Faults {
            all: f,
            methods: HashMap::new(),
        })
    };
    let send = |text: &str| {
        env.http
            .post(env.api("sendMessage"))
            .json(&json!({"chat_id": env.alice, "text": text}))
            .send()
    };
    async fn body_fails(r: Result<reqwest::Response, reqwest::Error>) -> bool {
        match r {
            Err(_) => true,
            Ok(resp) => resp.bytes().await.is_err(),
        }
    }

    set(Fault {
        drop_rate: 1.0,
        ..Fault::default()
    });
    assert!(body_fails(send("dropped before").await).await);
    assert!(!texts(&env).contains(&"dropped before".to_string()));

    set(Fault {
        drop_after_rate: 1.0,
        ..Fault::default()
    });
    assert!(body_fails(send("dropped after").await).await);
    assert!(
        texts(&env).contains(&"dropped after".to_string()),
        "executed, answer lost"
    );

    set(Fault {
        timeout_rate: 1.0,
        hang_ms: 100,
        ..Fault::default()
    });
    let started = Instant::now();
    assert!(body_fails(send("hung").await).await);
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert!(!texts(&env).contains(&"hung".to_string()));
    set(Fault::default());
    env.done();
}

#[tokio::test]
async fn faults_and_limits_over_the_control_api() {
    let env = Env::new().await;
    let url = |p: &str| format!("{}/control/{p}", env.emu.url());
    let r = env
        .http
        .put(url("faults"))
        .json(&json!({"methods": {"getMe": {"error_rate": 1.0}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(env.err("getMe", json!({})).await.0, 500);
    env.http
        .put(url("faults"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    env.ok("getMe", json!({})).await;
    let r = env
        .http
        .put(url("limits"))
        .json(&json!({"private_per_second": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    env.say(env.alice, "a").await;
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": env.alice, "text": "b"}))
            .await,
        (429, "Too Many Requests: retry after 1".into())
    );
    env.done();
}

/// A time scale shrinks every window by the same factor and keeps the counts; retry_after
/// is in the scaled world's seconds (what Telegram would say at that point).
#[tokio::test]
async fn a_time_scale_runs_the_limits_faster() {
    let env = Env::new().await;
    let group = Limits {
        group_per_minute: Some(2),
        ..Limits::default()
    };
    // 2 per minute, 12 times faster: 2 per 5 s (wide enough for a loaded machine to make
    // the three calls inside one window).
    env.emu.set_limits(group.scaled(12.0));
    let started = Instant::now();
    env.say(env.group, "g1").await;
    env.say(env.group, "g2").await;
    let (status, body) = env
        .call("sendMessage", json!({"chat_id": env.group, "text": "g3"}))
        .await;
    assert_eq!(status, 429, "{body}");
    let retry = body["parameters"]["retry_after"].as_u64().unwrap();
    assert!((1..=60).contains(&retry), "world seconds: {retry}");
    // The window frees after 5 real seconds, not a minute.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (status, _) = env
            .call("sendMessage", json!({"chat_id": env.group, "text": "g3"}))
            .await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the scaled window never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "a whole scaled window"
    );

    // Telegram's own limits, over the control API, refusing a nonsense scale.
    let status = env
        .control(
            "PUT",
            "limits",
            json!({"group_per_minute": 20, "time_scale": 0}),
        )
        .await;
    assert_eq!(status, 400);
    let telegram = json!({"bot_per_second": 30, "private_per_second": 1, "group_per_minute": 20, "time_scale": 10});
    assert_eq!(env.control("PUT", "limits", telegram).await, 200);
    env.say(env.alice, "one").await;
    let (status, body) = env
        .call("sendMessage", json!({"chat_id": env.alice, "text": "two"}))
        .await;
    // 1 per 0.1 s; if the machine took that long, the second one passes.
    if status == 429 {
        assert_eq!(body["parameters"]["retry_after"], json!(1));
    }
    env.done();
}
