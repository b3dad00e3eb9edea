//! `/ready` through its transitions: 503 before the database is open and while the
//! connection's start-up checks run (Telegram slow to answer), 200 once started, 503 again
//! as soon as a stop begins; `/health` answers 200 throughout.

use std::time::Duration;

use hotline::app;
use hotline::config::Config;
use serde_json::Value;
use tg_emulator::{Emulator, Fault, Faults};

mod common;

use hotline::store::testdb::TestDatabase;

async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.expect("the port answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_follows_start_up_and_stop() {
    let emu = Emulator::start_local().await.unwrap();
    let ctl = emu.control();
    let token = "7000001:test-token-support";
    let bot = ctl.add_bot(token, "support_bot", "Support").unwrap();
    let owner = ctl.add_user("Olga", None, Some("olga"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    let group = ctl.add_group("Support team", true, Some(owner));
    ctl.add_admin_bot(group, bot).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(Some(dir.path())).await;
    let toml = common::config_toml_url(db.url(), &emu.url(), token, group, "");
    let config = Config::parse(&toml, dir.path(), |_| None).unwrap();

    // Bound, nothing started: live, not ready, and it says why.
    let starting = app::bind(&config).await.unwrap();
    let base = format!("http://{}", starting.addr());
    assert_eq!(get(&format!("{base}/health")).await.0, 200);
    let (status, body) = get(&format!("{base}/ready")).await;
    assert_eq!(status, 503, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], false);
    assert_eq!(v["database"], "unavailable");
    assert_eq!(v["connections"]["support"], "checking");
    // Other routes wait for the start.
    assert_eq!(get(&format!("{base}/metrics")).await.0, 503);

    // Telegram answers getChat slowly: the checks take a while.
    emu.set_faults(Faults {
        methods: [(
            "getChat".to_string(),
            Fault {
                latency_ms: 1500,
                ..Fault::default()
            },
        )]
        .into(),
        ..Faults::default()
    });
    let readiness = starting.readiness().clone();
    let tuning = common::test_tuning(&config);
    let cfg = config.clone();
    let start = tokio::spawn(async move { starting.start(&cfg, tuning).await });
    // The database opens first; the connection is still being checked.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !start.is_finished() && !readiness.report().await.database {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the database never opened"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, body) = get(&format!("{base}/ready")).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    if !start.is_finished() {
        assert_eq!(status, 503, "{body}");
        assert_eq!(v["database"], "ok");
    }
    assert_eq!(get(&format!("{base}/health")).await.0, 200);

    let running = start.await.unwrap().expect("started");
    emu.set_faults(Faults::default());
    let (status, body) = get(&format!("{base}/ready")).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["connections"]["support"], "ok");
    assert_eq!(get(&format!("{base}/metrics")).await.0, 200);

    // A stop begins: not ready at once, still live.
    running.begin_stop();
    let (status, body) = get(&format!("{base}/ready")).await;
    assert_eq!(status, 503, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["stopping"], true);
    assert_eq!(get(&format!("{base}/health")).await.0, 200);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_check_closes_the_port() {
    let emu = Emulator::start_local().await.unwrap();
    let ctl = emu.control();
    let token = "7000001:test-token-support";
    let bot = ctl.add_bot(token, "support_bot", "Support").unwrap();
    // The group is not a forum: the start-up check fails.
    let group = ctl.add_group("Plain group", false, None);
    ctl.add_admin_bot(group, bot).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(Some(dir.path())).await;
    let toml = common::config_toml_url(db.url(), &emu.url(), token, group, "");
    let config = Config::parse(&toml, dir.path(), |_| None).unwrap();
    let starting = app::bind(&config).await.unwrap();
    let addr = starting.addr();
    let err = match starting.start(&config, common::test_tuning(&config)).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a plain group must fail the checks"),
    };
    assert!(err.contains("not a forum"), "{err}");
    common::wait_until_for("the port closed", Duration::from_secs(15), || {
        std::net::TcpStream::connect(addr).is_err()
    })
    .await;
}
