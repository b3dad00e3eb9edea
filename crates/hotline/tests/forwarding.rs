//! Several instances on one PostgreSQL database: two `hotline run` processes, one owning
//! the connection. The parallel bot talks to the other one (as a load balancer may send
//! it there) and gets exactly what the owner would give it: the updates, long polls that
//! wake at once, Telegram's 409 between pollers on different instances, and its sends
//! mirrored into the topics in order with the users' messages. When the owner is killed,
//! the bot's calls wait for the new owner or get a 429 with `retry_after`, never an error
//! that says the call may have run.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{config_toml_url, text_of, wait_until_for};
use hotline::store::testdb::{test_backend, TestDatabase};
use hotline::store::Backend;
use serde_json::{json, Value};
use tg_emulator::control::Place;
use tg_emulator::Control;

/// Any one step may take this long (two processes on a loaded 2-core machine).
const STEP: Duration = Duration::from_secs(60);

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// One `hotline run` process (see `common::instances`) and where the test reaches it; its
/// log is printed if the test fails.
struct Instance {
    name: &'static str,
    process: common::instances::Instance,
    /// Where the test (the bot, the probes) reaches it.
    base: String,
}

impl Instance {
    fn spawn(&mut self) {
        self.process.spawn();
    }

    async fn kill(&mut self) {
        self.process.kill().await;
    }

    /// Waits until `/ready` answers 200 (the connection passed its checks; owner or standby).
    async fn ready(&self) {
        let deadline = Instant::now() + STEP;
        let http = reqwest::Client::new();
        loop {
            let ok = http
                .get(format!("{}/ready", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "{} never got ready", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.process.log_text();
            eprintln!("---- log of instance {} ----\n{log}", self.name);
        }
    }
}

/// The parallel bot: a plain Bot API client of one instance's gateway.
struct Bot {
    http: reqwest::Client,
    base: String,
}

impl Bot {
    fn at(instance: &Instance, token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("{}/bot{token}", instance.base),
        }
    }

    async fn call(&self, method: &str, params: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/{method}", self.base))
            .json(params)
            .send()
            .await
            .expect("the gateway answers");
        let status = r.status().as_u16();
        (status, r.json().await.expect("a JSON answer"))
    }

    async fn ok(&self, method: &str, params: Value) -> Value {
        let (status, body) = self.call(method, &params).await;
        assert_eq!(
            (status, &body["ok"]),
            (200, &json!(true)),
            "{method}: {body}"
        );
        body["result"].clone()
    }

    /// Long-polls from `offset` until an update with `text` comes; returns the offset after it.
    async fn wait_for(&self, mut offset: i64, text: &str) -> i64 {
        let deadline = Instant::now() + STEP;
        loop {
            let got = self
                .ok("getUpdates", json!({"offset": offset, "timeout": 5}))
                .await;
            for u in got.as_array().unwrap() {
                offset = offset.max(u["update_id"].as_i64().unwrap() + 1);
                if u["message"]["text"] == text {
                    return offset;
                }
            }
            assert!(Instant::now() < deadline, "the bot never got {text:?}");
        }
    }
}

/// A client that gives a call 90 s (longer than any bound of the hop): a call the gateway
/// leaves hanging fails the test instead of hanging it.
fn patient() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap()
}

/// The texts of the user's topic (the first one whose name holds `name`).
/// A process's config listening on `listen`, with Hotline's own pacing out of the way: the
/// bot calls like a script.
fn unlimited_config(db: &str, api: &str, token: &str, group: i64, listen: &str) -> String {
    config_toml_url(db, api, token, group, "")
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"{listen}\""),
        )
        .replace("bot_per_second = 30", "bot_per_second = 100000")
        .replace("private_per_second = 1", "private_per_second = 100000")
        .replace("group_per_minute = 20", "group_per_minute = 100000")
}

fn topic_texts(ctl: &Control, group: i64, name: &str) -> Vec<String> {
    let Some(thread) = ctl
        .topics(group)
        .iter()
        .find(|t| t["name"].as_str().unwrap_or("").contains(name))
        .and_then(|t| t["message_thread_id"].as_i64())
    else {
        return Vec::new();
    };
    ctl.topic_transcript(group, Some(thread))
        .iter()
        .map(text_of)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_non_owner_passes_the_bots_calls_to_the_owner() {
    if test_backend() != Backend::Postgres {
        println!("PostgreSQL only: several instances share one database only there");
        return;
    }
    let common::instances::World {
        emu,
        ctl,
        token,
        bot: bot_id,
        group,
        ..
    } = common::instances::world().await;
    let ann = ctl.add_user("Ann", None, None, None)["id"]
        .as_i64()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(Some(dir.path())).await;
    // The bot calls like a script, without waiting out Hotline's own pacing.
    let unlimited = |listen: &str| unlimited_config(db.url(), &emu.url(), token, group, listen);
    let (port_a, port_b) = (free_port(), free_port());
    let instance = |name: &'static str, listen: String, advertise: Option<String>, port: u16| {
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(&config, unlimited(&listen)).unwrap();
        let mut process =
            common::instances::Instance::new(config, dir.path().join(format!("{name}.log")));
        if let Some(a) = advertise {
            process.env.push(("HOTLINE_HTTP_ADVERTISE".into(), a));
        }
        Instance {
            name,
            process,
            base: format!("http://127.0.0.1:{port}"),
        }
    };
    // A advertises its listen address (the default); B listens on every interface and
    // says where the others reach it.
    let mut a = instance("a", format!("127.0.0.1:{port_a}"), None, port_a);
    let mut b = instance(
        "b",
        format!("0.0.0.0:{port_b}"),
        Some(format!("127.0.0.1:{port_b}")),
        port_b,
    );
    a.spawn();
    a.ready().await;
    b.spawn();
    b.ready().await;
    let pool = common::db_pool(db.url()).await;
    let address: String = sqlx::query_scalar("SELECT address FROM connection_leases")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(address, a.base, "A started first and owns the connection");

    // The bot talks to B only: its updates come from A's intake through the hop.
    let via_b = Bot::at(&b, token);
    assert_eq!(via_b.ok("getMe", json!({})).await["id"], bot_id);
    ctl.send(ann, Place::Bot(bot_id), &json!({"text": "hello"}))
        .unwrap();
    let mut offset = via_b.wait_for(0, "hello").await;

    // A long poll through the hop wakes as soon as the owner stores an update.
    let poll = {
        let (http, base) = (via_b.http.clone(), via_b.base.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let r: Value = http
                .post(format!("{base}/getUpdates"))
                .json(&json!({"offset": offset, "timeout": 50}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (started.elapsed(), r)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await; // let the poll reach A (not a wait for a condition)
    ctl.send(ann, Place::Bot(bot_id), &json!({"text": "still there?"}))
        .unwrap();
    let (took, r) = poll.await.unwrap();
    assert_eq!(r["result"][0]["message"]["text"], "still there?", "{r}");
    assert!(
        took < Duration::from_secs(30),
        "woken, not timed out ({took:?})"
    );
    offset = r["result"][0]["update_id"].as_i64().unwrap() + 1;

    // Two pollers on different instances: the older is terminated with Telegram's 409,
    // whichever instance each one talks to.
    let via_a = Bot::at(&a, token);
    for (older, newer) in [(&via_a, &via_b), (&via_b, &via_a)] {
        let waiting = {
            let (http, base) = (older.http.clone(), older.base.clone());
            tokio::spawn(async move {
                let r = http
                    .post(format!("{base}/getUpdates"))
                    .json(&json!({"offset": offset, "timeout": 50}))
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            })
        };
        let deadline = Instant::now() + STEP;
        while !waiting.is_finished() {
            assert!(
                Instant::now() < deadline,
                "the older poll was never terminated"
            );
            newer
                .ok("getUpdates", json!({"offset": offset, "timeout": 0}))
                .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (status, body) = waiting.await.unwrap();
        assert_eq!(status, 409, "{body}");
        assert_eq!(
            body,
            json!({"ok": false, "error_code": 409, "description": "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"})
        );
    }

    // The bot answers each message through B; the topic shows both sides in order.
    let mut expected = Vec::new();
    for i in 0..5 {
        let q = format!("question {i}");
        ctl.send(ann, Place::Bot(bot_id), &json!({"text": q}))
            .unwrap();
        offset = via_b.wait_for(offset, &q).await;
        let a = format!("answer {i}");
        via_b
            .ok("sendMessage", json!({"chat_id": ann, "text": a}))
            .await;
        expected.push(q);
        expected.push(format!("🤖 {a}"));
    }
    let in_order = || {
        let texts = topic_texts(&ctl, group, "Ann");
        let seen: Vec<&String> = texts
            .iter()
            .filter(|t| t.starts_with("question ") || t.starts_with("🤖 answer "))
            .collect();
        seen.len() == expected.len() && seen.iter().zip(&expected).all(|(s, e)| *s == e)
    };
    wait_until_for("the exchange mirrored in order", STEP, in_order).await;
    let metrics = b.metrics().await;
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "hotline_gateway_forwarded_total{connection=\"support\",outcome=\"forwarded\"}"
        )),
        "B passed the calls on: {metrics}"
    );

    // The REST API's handover on B (not the owner): A's gateway withholds Ann's messages
    // from the bot until the API on B gives her back.
    let store = hotline::store::Store::open(db.url()).await.unwrap();
    let connection = store.find_connection("support").await.unwrap().unwrap();
    let key = hotline::api::auth::create_key(&store, connection, "test", "test")
        .await
        .unwrap()
        .key;
    let handover = |method: reqwest::Method| {
        let (http, url, key) = (
            reqwest::Client::new(),
            format!("{}/api/v1/contacts/{ann}/handover", b.base),
            key.clone(),
        );
        async move {
            let r = http
                .request(method, url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    };
    handover(reqwest::Method::POST).await;
    let ben = ctl.add_user("Ben", None, None, None)["id"]
        .as_i64()
        .unwrap();
    ctl.send(
        ann,
        Place::Bot(bot_id),
        &json!({"text": "for the team only"}),
    )
    .unwrap();
    ctl.send(ben, Place::Bot(bot_id), &json!({"text": "ben was here"}))
        .unwrap();
    wait_until_for("Ann's message in her topic", STEP, || {
        topic_texts(&ctl, group, "Ann")
            .iter()
            .any(|t| t == "for the team only")
    })
    .await;
    let mut seen = Vec::new();
    let deadline = Instant::now() + STEP;
    while !seen.iter().any(|t| t == "ben was here") {
        assert!(Instant::now() < deadline, "the bot never got Ben's message");
        let got = via_b
            .ok("getUpdates", json!({"offset": offset, "timeout": 5}))
            .await;
        for u in got.as_array().unwrap() {
            offset = offset.max(u["update_id"].as_i64().unwrap() + 1);
            seen.push(u["message"]["text"].as_str().unwrap_or("").to_string());
        }
    }
    assert!(
        !seen.iter().any(|t| t == "for the team only"),
        "withheld by the owner: {seen:?}"
    );
    handover(reqwest::Method::DELETE).await;
    ctl.send(ann, Place::Bot(bot_id), &json!({"text": "back to the bot"}))
        .unwrap();
    offset = via_b.wait_for(offset, "back to the bot").await;

    // The owner dies: B takes over. Meanwhile the bot's calls wait for it or get a 429
    // with retry_after (nothing ran), never a 5xx.
    a.kill().await;
    let started = Instant::now();
    let mut waited = 0;
    loop {
        let (status, body) = via_b
            .call(
                "sendMessage",
                &json!({"chat_id": ann, "text": "after failover"}),
            )
            .await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429, "{body}");
        let retry = body["parameters"]["retry_after"].as_u64().unwrap();
        assert!(started.elapsed() < STEP, "no new owner: {body}");
        waited += 1;
        tokio::time::sleep(Duration::from_secs(retry)).await;
    }
    println!("new owner after {:?} ({waited} 429s)", started.elapsed());
    wait_until_for("the send after failover mirrored", STEP, || {
        topic_texts(&ctl, group, "Ann")
            .iter()
            .any(|t| t == "🤖 after failover")
    })
    .await;
    // A comes back as the standby: calls through it reach B now.
    a.spawn();
    a.ready().await;
    ctl.send(ann, Place::Bot(bot_id), &json!({"text": "back again"}))
        .unwrap();
    via_a.wait_for(offset, "back again").await;
    via_a
        .ok(
            "sendMessage",
            json!({"chat_id": ann, "text": "through A again"}),
        )
        .await;
    wait_until_for("the send through A mirrored", STEP, || {
        topic_texts(&ctl, group, "Ann")
            .iter()
            .any(|t| t == "🤖 through A again")
    })
    .await;
    let address: String = sqlx::query_scalar("SELECT address FROM connection_leases")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(address, b.base, "B owns the connection now");
    a.kill().await;
    b.kill().await;
}

/// One instance (either backend), whose lease is taken from under it by an instance that
/// does not answer: the bot's calls wait for an owner, then get Telegram's 429 with
/// `retry_after`; a call passed on by another instance is refused with a 421 (never
/// passed twice); an owner without an address gets its calls served where they land; and
/// when the lease is free again this instance takes it back and serves the bot's updates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_live_owner_the_bot_waits_then_gets_a_429() {
    let t = common::spawn_app_unlimited(common::GATEWAY_BOT_NO_RETRY, "").await;
    let bot = Bot {
        http: reqwest::Client::new(),
        base: format!("http://{}/bot{}", t.app().addr, t.token),
    };
    let pool = t.db_pool().await;
    let steal = |address: String| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "UPDATE connection_leases SET owner = 'gone@elsewhere:1', address = $1, \
                 epoch = epoch + 1, expires_at = $2",
            )
            .bind(address)
            .bind(hotline::store::now_ms() + 600_000)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    steal(format!("http://127.0.0.1:{}", free_port())).await;
    // Within a renewal this instance sees the lease is gone and stops serving the bot.
    let deadline = Instant::now() + STEP;
    let (took, body) = loop {
        let started = Instant::now();
        let (status, body) = bot.call("getMe", &json!({})).await;
        if status == 429 {
            break (started.elapsed(), body);
        }
        assert_eq!(status, 200, "{body}");
        assert!(Instant::now() < deadline, "still served here");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 2", "parameters": {"retry_after": 2}})
    );
    assert!(
        took >= Duration::from_secs(4),
        "it waited for an owner ({took:?})"
    );
    // A call another instance passed on is never passed again.
    let r = bot
        .http
        .post(format!("{}/getMe", bot.base))
        .header("x-hotline-forwarded", "another")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 421);
    // An owner that advertises no address: the calls are served here, as before forwarding.
    steal(String::new()).await;
    let (status, body) = bot.call("getMe", &json!({})).await;
    assert_eq!(
        (status, &body["result"]["id"]),
        (200, &json!(t.bot)),
        "{body}"
    );
    // The lease lapses: this instance takes it back and serves the bot's updates again.
    sqlx::query("UPDATE connection_leases SET expires_at = 0")
        .execute(&pool)
        .await
        .unwrap();
    let ann = t.person("Ann");
    t.user_says(ann, "anyone?");
    bot.wait_for(0, "anyone?").await;
    let owner: String = sqlx::query_scalar("SELECT owner FROM connection_leases")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_ne!(owner, "gone@elsewhere:1");
}

/// A frozen owner (SIGSTOP, a stalled VM: its kernel accepts connections, nothing
/// answers), either backend: a call passed to it is answered 502 within its bound (a
/// getUpdates its `timeout` plus 10 s, any other call 30 s after its last byte), and a long
/// poll waiting on it ends with no updates as soon as another instance takes the lapsed
/// lease over; the next calls are served by the new owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_gets_a_deadline_and_a_take_over_ends_the_wait() {
    let t = common::spawn_app_unlimited(common::GATEWAY_BOT_NO_RETRY, "").await;
    let bot = Bot {
        // Without the bounds the calls below would hang: fail instead.
        http: patient(),
        base: format!("http://{}/bot{}", t.app().addr, t.token),
    };
    let pool = t.db_pool().await;
    let steal = |address: String, for_ms: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "UPDATE connection_leases SET owner = 'frozen@elsewhere:1', address = $1, \
                 epoch = epoch + 1, expires_at = $2",
            )
            .bind(address)
            .bind(hotline::store::now_ms() + for_ms)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    // First an owner that refuses: once a call waits and gets the 429, this instance has
    // stopped serving the bot itself.
    steal(format!("http://127.0.0.1:{}", free_port()), 600_000).await;
    let deadline = Instant::now() + STEP;
    loop {
        let (status, body) = bot.call("getMe", &json!({})).await;
        if status == 429 {
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert!(Instant::now() < deadline, "still served here");
    }
    // The frozen owner: takes connections, reads and answers nothing.
    let frozen = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let frozen_at = format!("http://{}", frozen.local_addr().unwrap());
    let (accepted, connections) = tokio::sync::watch::channel(0usize);
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = frozen.accept().await {
            held.push(s);
            accepted.send_replace(held.len());
        }
    });
    steal(frozen_at.clone(), 600_000).await;
    let timed = |method: &'static str, params: Value| {
        let (http, base) = (bot.http.clone(), bot.base.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let r = http
                .post(format!("{base}/{method}"))
                .json(&params)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap(), started.elapsed())
        })
    };
    let poll = timed("getUpdates", json!({"timeout": 1}));
    let send = timed(
        "sendMessage",
        json!({"chat_id": 1, "text": "into the void"}),
    );
    let (status, body, took) = poll.await.unwrap();
    assert_eq!(
        (status, &body),
        (
            502,
            &json!({"ok": false, "error_code": 502, "description": "Bad Gateway"})
        )
    );
    assert!(
        took >= Duration::from_secs(11) && took < Duration::from_secs(30),
        "a poll of 1 s is given 1 + 10 s ({took:?})"
    );
    let (status, body, took) = send.await.unwrap();
    assert_eq!(status, 502, "{body}");
    assert!(
        took >= Duration::from_secs(30) && took < Duration::from_secs(50),
        "a send is given 30 s ({took:?})"
    );

    // The frozen owner's lease lapses: this instance takes it over, and a long poll
    // waiting on the frozen one ends at once with no updates.
    let before = *connections.borrow();
    steal(frozen_at, 8_000).await;
    let poll = timed("getUpdates", json!({"timeout": 50}));
    let mut reached = connections.clone();
    tokio::time::timeout(STEP, reached.wait_for(|n| *n > before))
        .await
        .expect("the poll reached the frozen owner")
        .unwrap();
    let (status, body, took) = poll.await.unwrap();
    assert_eq!((status, &body), (200, &json!({"ok": true, "result": []})));
    assert!(
        took < Duration::from_secs(40),
        "ended by the take-over, not by its timeout ({took:?})"
    );
    let owner: String = sqlx::query_scalar("SELECT owner FROM connection_leases")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_ne!(owner, "frozen@elsewhere:1");
    let ann = t.person("Ann");
    t.user_says(ann, "served by the new owner");
    bot.wait_for(0, "served by the new owner").await;
    holder.abort();
}

/// The owner frozen (SIGSTOP) in the middle of deciding a batch, on PostgreSQL with two
/// processes: the bot's calls through the other instance are answered within their bound
/// and, once the frozen owner's lease lapsed, served by the new owner; resumed (SIGCONT),
/// the old owner commits nothing of its batch (its transaction checks the lease) and
/// becomes a standby: every message is decided and copied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_is_replaced_and_decides_nothing_when_resumed() {
    if test_backend() != Backend::Postgres {
        println!("PostgreSQL only: several instances share one database only there");
        return;
    }
    let common::instances::World {
        emu,
        ctl,
        token,
        bot: bot_id,
        group,
        ..
    } = common::instances::world().await;
    let ann = ctl.add_user("Ann", None, None, None)["id"]
        .as_i64()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(Some(dir.path())).await;
    let config = |listen: &str| unlimited_config(db.url(), &emu.url(), token, group, listen);
    let instance = |name: &'static str, port: u16| {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, config(&format!("127.0.0.1:{port}"))).unwrap();
        Instance {
            name,
            process: common::instances::Instance::new(path, dir.path().join(format!("{name}.log"))),
            base: format!("http://127.0.0.1:{port}"),
        }
    };
    const MARKER: &str = "freeze here";
    let mut a = instance("a", free_port());
    // A holds the processing of this message inside its batch's transaction (10 s), so
    // the test freezes it there.
    a.process
        .env
        .push(("HOTLINE_FAULT_UPDATE_STALL".into(), MARKER.into()));
    let mut b = instance("b", free_port());
    a.spawn();
    a.ready().await;
    b.spawn();
    b.ready().await;
    let pool = common::db_pool(db.url()).await;
    let lease_address = || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT address FROM connection_leases")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(lease_address().await, a.base, "A started first and owns it");
    let via_b = Bot {
        http: patient(),
        ..Bot::at(&b, token)
    };
    ctl.send(ann, Place::Bot(bot_id), &json!({"text": "hello"}))
        .unwrap();
    let mut offset = via_b.wait_for(0, "hello").await;
    wait_until_for("hello copied into the topic", STEP, || {
        topic_texts(&ctl, group, "Ann").iter().any(|t| t == "hello")
    })
    .await;

    // A takes the marker into a batch and stalls there: freeze it.
    ctl.send(ann, Place::Bot(bot_id), &json!({"text": MARKER}))
        .unwrap();
    wait_until_for("A stalls inside its batch", STEP, || {
        a.process
            .log_text()
            .contains("injected stall of an update's processing")
    })
    .await;
    a.process.signal("STOP");
    let frozen = Instant::now();
    // A long poll through B waits on the frozen owner: it ends when B takes over.
    let poll = {
        let (http, base) = (via_b.http.clone(), via_b.base.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let r = http
                .post(format!("{base}/getUpdates"))
                .json(&json!({"offset": offset, "timeout": 50}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap(), started.elapsed())
        })
    };
    // Sends through B: each answered within its bound (502: it reached the frozen owner
    // and may run when it resumes; 429: no owner yet, nothing ran), then served by B.
    let mut attempts = 0;
    loop {
        let started = Instant::now();
        let (status, body) = via_b
            .call(
                "sendMessage",
                &json!({"chat_id": ann, "text": format!("while frozen {attempts}")}),
            )
            .await;
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(45),
            "answered within the bound: {status} after {took:?}"
        );
        attempts += 1;
        match status {
            200 => break,
            502 => {}
            429 => {
                let retry = body["parameters"]["retry_after"].as_u64().unwrap();
                tokio::time::sleep(Duration::from_secs(retry)).await;
            }
            _ => panic!("{status}: {body}"),
        }
        assert!(frozen.elapsed() < STEP, "B never served the bot");
    }
    println!(
        "B served the bot {:?} after the freeze ({attempts} attempts)",
        frozen.elapsed()
    );
    assert_eq!(lease_address().await, b.base, "B took the lease over");
    let (status, body, took) = poll.await.unwrap();
    assert!(
        took < Duration::from_secs(45),
        "the poll ended with the take-over: {status} {body} after {took:?}"
    );
    assert!(
        (status, &body) == (200, &json!({"ok": true, "result": []}))
            || (status == 200 && body["result"][0]["message"]["text"] == MARKER)
            || status == 502,
        "{status}: {body}"
    );

    // The freeze outlasts the stall (the condition of this test, not a wait for Hotline):
    // resumed, A goes straight on to its batch's commit.
    while frozen.elapsed() < hotline::fault::STALL + Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    a.process.signal("CONT");
    wait_until_for("A stands down", STEP, || {
        a.process.log_text().contains("stopping this owner")
    })
    .await;
    ctl.send(ann, Place::Bot(bot_id), &json!({"text": "after resume"}))
        .unwrap();
    offset = via_b.wait_for(offset, "after resume").await;
    wait_until_for("after resume copied into the topic", STEP, || {
        topic_texts(&ctl, group, "Ann")
            .iter()
            .any(|t| t == "after resume")
    })
    .await;
    let texts = topic_texts(&ctl, group, "Ann");
    for text in ["hello", MARKER, "after resume"] {
        assert_eq!(
            texts.iter().filter(|t| *t == text).count(),
            1,
            "{text:?} copied once: {texts:?}"
        );
        let decided: i64 =
            sqlx::query_scalar("SELECT count(*) FROM dialog_messages WHERE text = $1")
                .bind(text)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(decided, 1, "{text:?} decided once");
    }
    assert!(
        a.process.log_text().contains("this pass is undone"),
        "A's stalled batch was rolled back at its commit"
    );
    // A is a standby now: its calls go to B.
    assert_eq!(lease_address().await, b.base);
    assert!(
        a.metrics()
            .await
            .contains("hotline_lease_owned{connection=\"support\"} 0"),
        "A owns nothing"
    );
    let via_a = Bot::at(&a, token);
    via_a
        .ok("sendMessage", json!({"chat_id": ann, "text": "through A"}))
        .await;
    wait_until_for("the send through A mirrored", STEP, || {
        topic_texts(&ctl, group, "Ann")
            .iter()
            .any(|t| t == "🤖 through A")
    })
    .await;
    let _ = offset;
    a.kill().await;
    b.kill().await;
}
