//! Helpers of the API tests: an API key for the test connection, a JSON client, and a
//! webhook receiver (written here, verifying signatures on its own) on an ephemeral port.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::common::{spawn_app_with, TestApp};

/// An API client for the test app.
pub struct Api {
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
}

impl Api {
    /// A client with a fresh key of the (first) connection.
    pub async fn new(t: &TestApp) -> Self {
        let app = t.app();
        let k = hotline::api::auth::create_key(
            &app.store,
            app.connections[0].ctx.connection,
            "test",
            "test",
        )
        .await
        .unwrap();
        Self {
            base: format!("http://{}", app.addr),
            key: k.key,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with the bearer key.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.key)
    }

    /// Sends and returns (status, JSON body or Null).
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.req(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.req(reqwest::Method::POST, path).json(&body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.req(reqwest::Method::PUT, path).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.req(reqwest::Method::DELETE, path)).await
    }
}

/// Asserts the one error shape and returns its code.
pub fn error_code(body: &Value) -> String {
    let code = body["error"]["code"].as_str().expect("error.code");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error.message in {body}"
    );
    code.to_string()
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    pub json: Value,
    /// Whether the signature checked out against the secret.
    pub signed: bool,
    /// What the receiver answered.
    pub status: u16,
}

/// A webhook receiver. It answers `status` (200 unless changed) and, for custom commands,
/// `answer`; it checks `X-Hotline-Signature` with its own HMAC code.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub status: Arc<AtomicU16>,
    pub answer: Arc<Mutex<String>>,
    pub secret: Arc<Mutex<String>>,
}

/// Checks `t=<unix>,v1=<hex>[,v1=<hex>]` against HMAC-SHA256(secret, "<t>.<body>"): any
/// `v1` may match (two are sent during a secret rotation's grace period).
pub fn verify(secret: &str, header: &str, body: &str) -> bool {
    let mut t = None;
    let mut v1s = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_string()),
            Some(("v1", v)) => v1s.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else {
        return false;
    };
    v1s.iter().any(|v1| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        mac.verify_slice(v1).is_ok()
    })
}

impl Receiver {
    pub async fn start() -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let answer = Arc::new(Mutex::new(String::new()));
        let secret = Arc::new(Mutex::new(String::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let r = Self {
            url: format!("http://{addr}"),
            got: got.clone(),
            status: status.clone(),
            answer: answer.clone(),
            secret: secret.clone(),
        };
        let state = r.clone();
        let handler = move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                let body = String::from_utf8_lossy(&body).to_string();
                let sig = headers
                    .get("x-hotline-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let secret = state.secret.lock().unwrap().clone();
                let code = state.status.load(Ordering::SeqCst);
                state.got.lock().unwrap().push(Received {
                    path: uri.path().to_string(),
                    json: serde_json::from_str(&body).unwrap_or(Value::Null),
                    signed: verify(&secret, &sig, &body),
                    status: code,
                    headers,
                    body,
                });
                let answer = state.answer.lock().unwrap().clone();
                (StatusCode::from_u16(code).unwrap(), answer)
            }
        };
        let app = axum::Router::new().route("/{*path}", post(handler));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    /// Bodies (as JSON) of the requests answered 2xx, in arrival order.
    pub fn delivered(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.status < 300)
            .map(|r| r.json.clone())
            .collect()
    }

    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// A Hotline whose `WEBHOOKS` sends `events` to a fresh receiver (which knows the signing
/// secret), with more `[connection.params]` lines in `params`, and an API client.
pub async fn with_webhooks(events: &str, params: &str) -> (TestApp, Api, Receiver) {
    with_webhooks_limited(None, events, params).await
}

/// [`with_webhooks`] with Telegram's limits lifted, for the reason `why`.
pub async fn with_webhooks_unlimited(
    why: &str,
    events: &str,
    params: &str,
) -> (TestApp, Api, Receiver) {
    with_webhooks_limited(Some(why), events, params).await
}

async fn with_webhooks_limited(
    unlimited: Option<&str>,
    events: &str,
    params: &str,
) -> (TestApp, Api, Receiver) {
    let rx = Receiver::start().await;
    let params = format!("WEBHOOKS = \"{}/hook {events}\"\n{params}", rx.url);
    let t = match unlimited {
        Some(why) => crate::common::spawn_app_unlimited(why, &params).await,
        None => spawn_app_with(&params).await,
    };
    let api = Api::new(&t).await;
    let (_, w) = api.get("/api/v1/webhooks").await;
    *rx.secret.lock().unwrap() = w["secret"].as_str().unwrap().to_string();
    (t, api, rx)
}

/// Events as `type`, or `type:text` for message events.
pub fn event_types(events: &[Value]) -> Vec<String> {
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

/// Waits until the async check `f` is true, with the harness's deadline.
pub async fn wait_async<F, Fut>(what: &str, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + crate::common::DEADLINE;
    while !f().await {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
