//! Readiness: `/ready` answers 200 only while this instance can do its work — the database
//! answers, every connection it owns has passed its start-up checks (token, forum, rights),
//! and it is not shutting down. `/health` stays liveness: the process answers at all.
//!
//! A load balancer or an orchestrator routes webhooks and gateway traffic by `/ready` and
//! restarts by `/health`: a slow start (Telegram unreachable) or a stop in progress is not
//! a reason to kill the process, but it is a reason to send traffic elsewhere.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::store::Store;

/// How long `/ready` waits for the database's answer.
pub const DB_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a connection's start-up checks are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Not checked yet (or being checked).
    Pending,
    /// Token, forum and rights verified; its tasks are started.
    Passed,
}

#[derive(Default)]
struct Inner {
    store: OnceLock<Store>,
    connections: Mutex<BTreeMap<String, Check>>,
    stopping: AtomicBool,
}

/// The readiness of one running Hotline, shared by start-up, shutdown and the handler.
#[derive(Clone, Default)]
pub struct Readiness(Arc<Inner>);

/// What `/ready` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Everything below is fine.
    pub ready: bool,
    /// The database answered (false before it is opened).
    pub database: bool,
    /// Each owned connection and whether its checks passed.
    pub connections: BTreeMap<String, Check>,
    /// A stop has begun.
    pub stopping: bool,
}

impl Readiness {
    /// Not ready: no database, the given connections not checked yet.
    pub fn new<'a>(connections: impl IntoIterator<Item = &'a str>) -> Self {
        let r = Self::default();
        {
            let mut map = r.lock();
            for c in connections {
                map.insert(c.to_string(), Check::Pending);
            }
        }
        r
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Check>> {
        self.0.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The database is open and migrated; `/ready` pings it from now on.
    pub fn database_open(&self, store: &Store) {
        let _ = self.0.store.set(store.clone());
    }

    /// Connection `name` passed its start-up checks.
    pub fn connection_passed(&self, name: &str) {
        self.lock().insert(name.to_string(), Check::Passed);
    }

    /// Connection `name` stopped for good (removed or paused): `/ready` no longer waits for
    /// it.
    pub fn connection_removed(&self, name: &str) {
        self.lock().remove(name);
    }

    /// A stop has begun: not ready from now on, whatever else holds.
    pub fn stopping(&self) {
        self.0.stopping.store(true, Ordering::SeqCst);
    }

    /// Checks everything now (pings the database, at most [`DB_TIMEOUT`]).
    pub async fn report(&self) -> Report {
        let database = match self.0.store.get() {
            Some(store) => matches!(
                tokio::time::timeout(DB_TIMEOUT, store.ping()).await,
                Ok(Ok(()))
            ),
            None => false,
        };
        let connections = self.lock().clone();
        let stopping = self.0.stopping.load(Ordering::SeqCst);
        let ready = database && !stopping && connections.values().all(|c| *c == Check::Passed);
        Report {
            ready,
            database,
            connections,
            stopping,
        }
    }
}

/// `GET /ready`: 200 when ready, 503 otherwise; the JSON body says what is missing.
pub async fn handler(State(r): State<Readiness>) -> Response {
    let report = r.report().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let connections: serde_json::Map<String, serde_json::Value> = report
        .connections
        .iter()
        .map(|(name, c)| {
            let state = match c {
                Check::Pending => "checking",
                Check::Passed => "ok",
            };
            (name.clone(), json!(state))
        })
        .collect();
    let body = json!({
        "ready": report.ready,
        "database": if report.database { "ok" } else { "unavailable" },
        "connections": connections,
        "stopping": report.stopping,
    });
    (status, Json(body)).into_response()
}
