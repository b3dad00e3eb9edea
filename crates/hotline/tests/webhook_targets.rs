//! The SSRF guard of outgoing webhooks (issue 12, item 3): with the server's default
//! policy, a `WEBHOOKS` URL whose host is or resolves to a loopback, link-local, private,
//! multicast or unspecified address is refused when set (API and `/set`) and at delivery
//! (for URLs from the config file; `localhost` is resolved by the client's guarded
//! resolver); nothing reaches the receiver. With `[webhooks] allow_ranges` the same
//! receiver gets its events, a redirect is not followed, and a receiver's answer body is
//! never echoed into the group.

mod api_support;
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use api_support::{error_code, with_webhooks, Api, Receiver};
use common::{spawn_app_strict, text_of, TestApp};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn general_has(t: &TestApp, needle: &str) -> bool {
    t.topic(None).iter().any(|m| text_of(m).contains(needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_public_targets_are_refused_when_set_and_when_delivered() {
    let rx = Receiver::start().await;
    let port = rx.url.rsplit(':').next().unwrap().to_string();
    // The config file's URL is not checked at start-up (the operator wrote it), so the
    // delivery-time guard is what stops it; `localhost` goes through the resolver.
    let t = spawn_app_strict(&format!("WEBHOOKS = \"http://localhost:{port}/hook *\"")).await;
    let api = Api::new(&t).await;

    for url in [
        format!("{}/hook", rx.url),
        format!("http://localhost:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://10.0.0.1/hook".to_string(),
        "http://192.168.1.1/hook".to_string(),
        "http://[fe80::1]/hook".to_string(),
        "http://[fd00::1]/hook".to_string(),
        "http://224.0.0.1/hook".to_string(),
        "http://0.0.0.0/hook".to_string(),
    ] {
        let (code, body) = api
            .put(
                "/api/v1/parameters/WEBHOOKS",
                json!({"value": format!("{url} *")}),
            )
            .await;
        assert_eq!(code, 400, "{url} accepted: {body}");
        assert_eq!(error_code(&body), "invalid_request", "{body}");
        let msg = body["error"]["message"].as_str().unwrap_or("").to_string();
        assert!(
            msg.contains("allow_ranges"),
            "{url}: the refusal names the config key: {body}"
        );
    }

    // /set in General: refused with the reason, the parameter unchanged.
    t.operator_says_in_general(&format!("/set WEBHOOKS {}/hook *", rx.url));
    t.wait_until("/set refused", || {
        general_has(&t, "❌") && general_has(&t, "loopback")
    })
    .await;
    let (_, p) = api.get("/api/v1/parameters/WEBHOOKS").await;
    assert!(
        p["value"].as_str().unwrap().contains("localhost"),
        "unchanged: {p}"
    );

    // Delivery: an event for the config file's localhost URL is refused by the resolver.
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    t.wait_until("refusal notice", || {
        general_has(&t, "is failing (refused: localhost is a loopback address")
    })
    .await;
    assert!(rx.all().is_empty(), "nothing reached the receiver");
    t.assert_conformant();
}

/// A receiver that answers every request with a redirect to `to`, counting requests.
async fn redirector(to: String) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let to = to.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = s.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = s.write_all(head.as_bytes()).await;
            });
        }
    });
    (url, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_ranges_deliver_without_redirects_or_echoed_bodies() {
    // Allowed (the common test config allows 127.0.0.0/8): events arrive.
    let (t, api, rx) = with_webhooks("dialog_created,/ticket", "").await;
    let ann = t.person("Ann");
    t.user_says(ann, "hi");
    let thread = t.wait_topic("Ann").await;
    t.wait_until("delivered", || !rx.delivered().is_empty())
        .await;

    // A custom command's answer with fields of the receiver's own: the notice says what
    // was expected, never the receiver's words.
    *rx.answer.lock().unwrap() =
        json!({"text": "x", "internal_db_password": "hunter2"}).to_string();
    t.operator_says(thread, "/ticket one");
    t.wait_in_topic(thread, "was not understood").await;
    for m in t.topic(Some(thread)) {
        let s = text_of(&m);
        assert!(
            !s.contains("internal_db_password") && !s.contains("hunter2"),
            "echoed: {s}"
        );
    }

    // A redirect to the (allowed) receiver is not followed: a failure with the status only.
    let before = rx.all().len();
    let (hop, hits) = redirector(format!("{}/stolen", rx.url)).await;
    let (code, body) = api
        .put(
            "/api/v1/parameters/WEBHOOKS",
            json!({"value": format!("{hop}/hook dialog_created")}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let bob = t.person("Bob");
    t.user_says(bob, "hello");
    t.wait_until("redirect reported", || {
        general_has(&t, "is failing (HTTP 307)")
    })
    .await;
    assert!(hits.load(Ordering::SeqCst) >= 1);
    assert!(
        rx.all()[before..].iter().all(|r| r.path != "/stolen"),
        "the redirect was followed"
    );
}
