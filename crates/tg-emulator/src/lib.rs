//! # tg-emulator
//!
//! A local Telegram Bot API server for tests, the sandbox and benchmarks. It shares no
//! types with Hotline on purpose: it is the independent check of Hotline's assumptions,
//! so it behaves like Telegram (texts, limits, topics, update semantics), not like what
//! a client would wish.
//!
//! Module map:
//! - [`world`]: the state: bots, people, chats, messages, topics, files, update queues;
//! - [`methods`]: the Bot API methods, one file per family;
//! - [`params`]: parameters from query, JSON, urlencoded and multipart bodies;
//! - [`server`]: the HTTP front: `/bot<token>/<method>`, `/file/bot<token>/<path>`;
//! - [`delivery`]: long polling and webhook pushes;
//! - [`control`]: the control API that acts as people and reads transcripts;
//! - [`limits`]: rate limits and fault injection;
//! - [`spec`]: conformance checks against the Bot API 10.1 specification.

pub mod control;
pub mod delivery;
pub mod error;
pub mod limits;
pub mod methods;
pub mod params;
pub mod server;
pub mod spec;
pub mod web;
pub mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::broadcast;

pub use control::Control;
pub use limits::{Fault, Faults, Limits};

/// How the emulator behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Check every answer and update against the Bot API specification and record
    /// violations (see [`Emulator::violations`]).
    pub check_conformance: bool,
    /// Sending limits (off by default).
    pub limits: Limits,
    /// First retry delay of a failed webhook push; doubles up to `webhook_retry_max`.
    pub webhook_retry: Duration,
    /// Longest delay between webhook retries.
    pub webhook_retry_max: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            check_conformance: true,
            limits: Limits::default(),
            webhook_retry: Duration::from_millis(100),
            webhook_retry_max: Duration::from_secs(5),
        }
    }
}

/// State shared by the HTTP handlers, the delivery tasks and the handle.
pub struct Shared {
    world: Mutex<world::World>,
    /// Behaviour settings.
    pub config: Mutex<Config>,
    /// Injected faults.
    pub faults: Mutex<Faults>,
    /// Rate-limit windows.
    pub windows: Mutex<limits::Windows>,
    /// Client for webhook pushes.
    pub http: reqwest::Client,
    /// Notifies watchers (the sandbox page) that something changed.
    pub events: broadcast::Sender<serde_json::Value>,
}

impl Shared {
    /// Locks the world. Never held across an await.
    pub fn world(&self) -> MutexGuard<'_, world::World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running emulator.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl Emulator {
    /// Starts an emulator on `addr` (use port 0 for an ephemeral port in tests).
    pub async fn start(addr: SocketAddr, config: Config) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            world: Mutex::new(world::World::new()),
            config: Mutex::new(config),
            faults: Mutex::new(Faults::default()),
            windows: Mutex::new(limits::Windows::default()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
            events: broadcast::channel(1 << 16).0,
        });
        let app = server::router(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "emulator server stopped");
            }
        });
        Ok(Self { shared, addr })
    }

    /// Starts on 127.0.0.1 with an ephemeral port and default settings.
    pub async fn start_local() -> std::io::Result<Self> {
        Self::start(([127, 0, 0, 1], 0).into(), Config::default()).await
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (the Bot API is at `{url}/bot<token>/...`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Acts as people and reads transcripts, in process.
    pub fn control(&self) -> Control {
        Control::new(self.shared.clone())
    }

    /// Conformance violations recorded so far (empty when everything matched the spec).
    pub fn violations(&self) -> Vec<String> {
        self.shared.world().violations.clone()
    }

    /// Replaces the fault settings.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
    }

    /// Replaces the rate limits.
    pub fn set_limits(&self, limits: Limits) {
        self.shared.config.lock().unwrap().limits = limits;
    }
}
