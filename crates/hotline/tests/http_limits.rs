//! The HTTP port under hostile clients: a flood of slow connections leaves `/health` and
//! the API answering (the cap evicts the slow ones), slow headers, stalled bodies and idle
//! keep-alive connections are cut, and a panicking handler answers a JSON 500.

mod api_support;
mod common;

use std::time::{Duration, Instant};

use api_support::Api;
use axum::routing::get;
use common::*;
use hotline::config::HttpConfig;
use hotline::http;
use hotline::ShutdownTrigger;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Resident memory of this process (the server runs in it), in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A fresh connection for every request: no pooled socket helps it through.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Waits until the server closes `s` (EOF or reset) and returns how long it took.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), s.read(&mut buf)).await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue, // an answer (408, 400...) before the close
            Err(_) => panic!("the server kept the connection open for {limit:?}"),
        }
    }
}

/// How many of `conns` the server has closed (EOF or reset).
async fn count_closed(conns: &mut [TcpStream]) -> usize {
    let mut closed = 0;
    let mut buf = [0u8; 256];
    for s in conns.iter_mut() {
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    closed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_slow_connections_leaves_health_and_the_api_answering() {
    let fds = http::serve::raise_fd_limit().unwrap_or(0);
    const SLOW: usize = 3000;
    assert!(
        fds > (SLOW as u64) * 2,
        "the test needs ~{} descriptors, the limit is {fds}",
        SLOW * 2
    );
    let mut t = spawn_app().await;
    t.stop().await;
    // Below the flood, so the cap has to work; slow headers are not timed out during the
    // test, so only the cap can close them.
    t.config.http.max_connections = 1000;
    t.config.http.header_timeout = Duration::from_secs(300);
    t.restart().await;
    let addr = t.app().addr;
    let api = Api::new(&t).await;
    let rss_before = rss_kib();

    let mut slow = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        // A request head that never ends.
        let _ = s
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await;
        slow.push(s);
    }
    // Keep dripping a byte per connection while the probes run.
    let (stop_drip, mut drip_stopped) = tokio::sync::oneshot::channel::<()>();
    let dripper = tokio::spawn(async move {
        loop {
            for s in slow.iter_mut() {
                let _ = s.try_write(b"a");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = &mut drip_stopped => return slow,
            }
        }
    });

    let deadline = Duration::from_secs(10);
    let started = Instant::now();
    let health = fresh_client()
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .expect("/health answers during the flood");
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let to_health = started.elapsed();
    let started = Instant::now();
    let contacts = fresh_client()
        .get(format!("http://{addr}/api/v1/contacts"))
        .bearer_auth(&api.key)
        .send()
        .await
        .expect("the API answers during the flood");
    assert_eq!(contacts.status(), 200);
    let to_api = started.elapsed();
    assert!(
        to_health < deadline && to_api < deadline,
        "/health took {to_health:?}, the API {to_api:?}"
    );

    let _ = stop_drip.send(());
    let mut slow = dripper.await.unwrap();
    // The cap held: all but about 1000 slow connections were closed by the server.
    let want = SLOW - 1000 - 50;
    let waited = Instant::now();
    let closed = loop {
        let closed = count_closed(&mut slow).await;
        if closed >= want || waited.elapsed() > Duration::from_secs(30) {
            break closed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        closed >= want,
        "only {closed} of {SLOW} slow connections were closed with a cap of 1000"
    );
    let grown_mib = rss_kib().saturating_sub(rss_before) / 1024;
    eprintln!(
        "flood: /health {to_health:?}, API {to_api:?}, {closed} of {SLOW} slow connections closed, RSS +{grown_mib} MiB"
    );
    assert!(grown_mib < 150, "memory grew by {grown_mib} MiB");
    drop(slow);
    // Still serving once the flood is gone.
    let r = fresh_client()
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_stalled_bodies_and_idle_connections_are_cut() {
    let mut t = spawn_app().await;
    t.stop().await;
    t.config.http.header_timeout = Duration::from_secs(1);
    t.config.http.body_min_rate = 1024;
    t.config.http.body_window = Duration::from_secs(1);
    t.restart().await;
    let addr = t.app().addr;
    let limit = Duration::from_secs(15);

    // A request head that never ends.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    closed_within(&mut s, limit).await;

    // A body that stalls after a few bytes (through the API and through the gateway).
    for path in [
        "/api/v1/dialogs/1/messages".to_string(),
        format!("/bot{}/sendDocument", t.token),
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 100000\r\n\r\n{{\"text\": \""
        );
        s.write_all(head.as_bytes()).await.unwrap();
        closed_within(&mut s, limit).await;
    }

    // A kept-alive connection with nothing more to ask is closed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    closed_within(&mut s, limit).await;
}

async fn boom() -> &'static str {
    panic!("boom")
}

#[tokio::test]
async fn a_panicking_handler_answers_500_in_the_callers_shape() {
    let app = axum::Router::new()
        .route("/api/v1/boom", get(boom))
        .route("/health", get(|| async { "ok" }))
        .fallback(boom);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, shutdown) = ShutdownTrigger::new();
    let server = tokio::spawn(http::serve::serve(
        listener,
        http::harden(app),
        HttpConfig::default(),
        shutdown,
    ));
    let c = reqwest::Client::new();
    for _ in 0..2 {
        let r = c
            .get(format!("http://{addr}/api/v1/boom"))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(r.status(), 500);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "internal", "{body}");
        let r = c
            .get(format!("http://{addr}/bot123:abc/getMe"))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(r.status(), 500);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (body["ok"].clone(), body["error_code"].clone()),
            (serde_json::json!(false), serde_json::json!(500)),
            "{body}"
        );
    }
    let r = c.get(format!("http://{addr}/health")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "ok");
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .expect("the server stops")
        .unwrap();
}
