//! `/metrics` in the Prometheus text format (docs/monitoring.md lists every series).
//!
//! Two kinds of series:
//! - **Counters and histograms** kept in memory by the code that does the work (updates
//!   received and processed, Bot API calls, 429s, retries, webhook deliveries, gateway
//!   requests). Updating one is an atomic add behind a label lookup (the gateway keeps its
//!   series per connection and method, [`GatewayMetrics`]): nothing touches the database
//!   on the relay path.
//! - **Gauges read from the database at scrape time** (outbox depth and oldest age by lane,
//!   dead letters, unprocessed updates, dialogs by status, broadcast progress), cached for
//!   [`GAUGE_CACHE`] so a scraper polling hard costs a few queries per period at most.
//!
//! The registry is process-wide, like every Prometheus client's default, and series carry
//! the connection's name as the `connection` label ([`name_connection`] maps the store id
//! to it when a connection starts).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::store::{now_ms, ConnectionId, Gauges, Lane, Store};

/// How long the database gauges of one scrape are reused.
pub const GAUGE_CACHE: Duration = Duration::from_secs(2);

/// Distinct method labels kept per family; beyond it a new method counts as `other`
/// (a parallel bot may call any method name through the gateway).
const MAX_METHODS: usize = 256;

/// Every series Hotline exports.
pub struct Metrics {
    registry: Registry,
    names: RwLock<HashMap<ConnectionId, Arc<str>>>,
    methods: RwLock<HashSet<String>>,
    updates_received: IntCounterVec,
    updates_processed: IntCounterVec,
    processing_lag: HistogramVec,
    api_calls: IntCounterVec,
    api_latency: HistogramVec,
    rate_limited: IntCounterVec,
    paused_seconds: IntCounterVec,
    outbox_retries: IntCounterVec,
    outbox_finished: IntCounterVec,
    webhook_deliveries: IntCounterVec,
    gateway_requests: IntCounterVec,
    gateway_forwarded: IntCounterVec,
    gateway_latency: HistogramVec,
    // Scrape-time gauges (reset and refilled from the database at each refresh).
    outbox_depth: IntGaugeVec,
    outbox_oldest: IntGaugeVec,
    outbox_in_flight: IntGaugeVec,
    dead_letters: IntGaugeVec,
    updates_dead: IntGaugeVec,
    updates_pending: IntGaugeVec,
    updates_oldest: IntGaugeVec,
    dialogs: IntGaugeVec,
    webhook_pending: IntGaugeVec,
    webhook_oldest: IntGaugeVec,
    broadcast_recipients: IntGaugeVec,
    ready: IntGaugeVec,
    lease_owned: IntGaugeVec,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn histogram(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

/// Latency buckets, seconds: from a local emulator's milliseconds to a long poll.
const LATENCY: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Processing lag buckets, seconds (received → decided).
const LAG: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

impl Metrics {
    fn new() -> Self {
        let r = Registry::new();
        let conn = &["connection"];
        Self {
            updates_received: counter(
                &r,
                "hotline_updates_received_total",
                "Telegram updates stored in the update log (polling or webhook).",
                conn,
            ),
            updates_processed: counter(
                &r,
                "hotline_updates_processed_total",
                "Updates the processor decided on (the relay, commands, mirroring).",
                conn,
            ),
            processing_lag: histogram(
                &r,
                "hotline_update_processing_lag_seconds",
                "Time from storing an update to committing its decision.",
                conn,
                LAG,
            ),
            api_calls: counter(
                &r,
                "hotline_telegram_calls_total",
                "Bot API calls by method and outcome (ok, 429, transient, or Telegram's error code).",
                &["connection", "method", "outcome"],
            ),
            api_latency: histogram(
                &r,
                "hotline_telegram_call_duration_seconds",
                "Duration of Bot API calls (getUpdates includes its long poll).",
                &["connection", "method"],
                LATENCY,
            ),
            rate_limited: counter(
                &r,
                "hotline_outbox_rate_limited_total",
                "429 answers that paused the connection's outbox.",
                conn,
            ),
            paused_seconds: counter(
                &r,
                "hotline_outbox_paused_seconds_total",
                "Seconds the outbox was told to pause by 429 retry_after.",
                conn,
            ),
            outbox_retries: counter(
                &r,
                "hotline_outbox_retries_total",
                "Intents rescheduled after a transient failure or a 429.",
                conn,
            ),
            outbox_finished: counter(
                &r,
                "hotline_outbox_intents_total",
                "Intents finished, by outcome (done, failed: given up, a dead letter).",
                &["connection", "outcome"],
            ),
            webhook_deliveries: counter(
                &r,
                "hotline_webhook_deliveries_total",
                "Webhook delivery attempts by outcome (delivered, failed: retried, given_up).",
                &["connection", "outcome"],
            ),
            gateway_forwarded: counter(
                &r,
                "hotline_gateway_forwarded_total",
                "Parallel bot calls this instance received for a connection another instance \
                 owns, by outcome: forwarded (to the owner), no_owner (429: none found in \
                 time), failed (502: the owner did not answer, in time or at all), \
                 owner_changed (a long poll whose owner lost the lease meanwhile, answered \
                 with no updates), served_here (the owner advertises no usable address).",
                &["connection", "outcome"],
            ),
            gateway_requests: counter(
                &r,
                "hotline_gateway_requests_total",
                "Bot API gateway requests of the parallel bot, by method and status class.",
                &["connection", "method", "status"],
            ),
            gateway_latency: histogram(
                &r,
                "hotline_gateway_request_duration_seconds",
                "Duration of gateway requests (getUpdates includes its long poll).",
                &["connection", "method"],
                LATENCY,
            ),
            outbox_depth: gauge(
                &r,
                "hotline_outbox_depth",
                "Intents waiting in the outbox (including backing off), by lane.",
                &["connection", "lane"],
            ),
            outbox_oldest: gauge(
                &r,
                "hotline_outbox_oldest_age_seconds",
                "Age of the oldest waiting intent, by lane (0 when the lane is empty).",
                &["connection", "lane"],
            ),
            outbox_in_flight: gauge(
                &r,
                "hotline_outbox_in_flight",
                "Intents being executed.",
                conn,
            ),
            dead_letters: gauge(
                &r,
                "hotline_outbox_dead_letters",
                "Intents given up on (failed permanently or out of attempts).",
                conn,
            ),
            updates_dead: gauge(
                &r,
                "hotline_updates_dead_letters",
                "Updates set aside after repeated failures (hotline dead-letters list).",
                conn,
            ),
            updates_pending: gauge(
                &r,
                "hotline_updates_pending",
                "Stored updates not processed yet.",
                conn,
            ),
            updates_oldest: gauge(
                &r,
                "hotline_updates_oldest_pending_age_seconds",
                "Age of the oldest unprocessed update (0 when caught up).",
                conn,
            ),
            dialogs: gauge(
                &r,
                "hotline_dialogs",
                "Dialogs by status (new: the user wrote last, wait, closed).",
                &["connection", "status"],
            ),
            webhook_pending: gauge(
                &r,
                "hotline_webhook_deliveries_pending",
                "Webhook deliveries waiting or backing off.",
                conn,
            ),
            webhook_oldest: gauge(
                &r,
                "hotline_webhook_oldest_pending_age_seconds",
                "Age of the oldest waiting webhook delivery (0 when none).",
                conn,
            ),
            broadcast_recipients: gauge(
                &r,
                "hotline_broadcast_recipients",
                "Recipients of live broadcasts (scheduled, running, paused) by state.",
                &["connection", "broadcast", "state"],
            ),
            ready: gauge(
                &r,
                "hotline_ready",
                "1 while /ready answers 200 (database answers, connections checked, not stopping).",
                &[],
            ),
            lease_owned: gauge(
                &r,
                "hotline_lease_owned",
                "1 while this instance owns the connection (holds its lease; see docs/deployment.md).",
                conn,
            ),
            names: RwLock::new(HashMap::new()),
            methods: RwLock::new(HashSet::new()),
            registry: r,
        }
    }

    fn name(&self, c: ConnectionId) -> Arc<str> {
        let names = self.names.read().unwrap_or_else(|e| e.into_inner());
        match names.get(&c) {
            Some(n) => n.clone(),
            None => Arc::from(c.0.to_string()),
        }
    }

    /// A method name safe as a label: Bot API names are ASCII letters; anything else, or a
    /// new name past [`MAX_METHODS`], is `other`.
    fn method<'a>(&self, method: &'a str) -> &'a str {
        if method.is_empty()
            || method.len() > 64
            || !method.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return "other";
        }
        if self
            .methods
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(method)
        {
            return method;
        }
        let mut set = self.methods.write().unwrap_or_else(|e| e.into_inner());
        if set.len() >= MAX_METHODS {
            return "other";
        }
        set.insert(method.to_string());
        method
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

fn m() -> &'static Metrics {
    &METRICS
}

/// Names the store id `c` for labels (called when a connection starts).
pub fn name_connection(c: ConnectionId, name: &str) {
    m().names
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(c, Arc::from(name));
}

/// Whether this instance owns `c` now (holds its lease).
pub fn lease_owned(c: ConnectionId, owned: bool) {
    let m = m();
    m.lease_owned
        .with_label_values(&[&*m.name(c)])
        .set(i64::from(owned));
}

/// A call for connection `name` that another instance owns ended with `outcome` (see
/// `gateway::hop`).
pub fn gateway_forwarded(name: &str, outcome: &str) {
    m().gateway_forwarded
        .with_label_values(&[name, outcome])
        .inc();
}

/// `n` updates were stored for `c`.
pub fn updates_received(c: ConnectionId, n: u64) {
    let m = m();
    m.updates_received
        .with_label_values(&[&*m.name(c)])
        .inc_by(n);
}

/// Updates received at `received_at` (Unix ms) were processed for connection `name`.
pub fn updates_processed(name: &str, received_at: impl IntoIterator<Item = i64>) {
    let m = m();
    let now = now_ms();
    let lag = m.processing_lag.with_label_values(&[name]);
    let mut n = 0;
    for at in received_at {
        lag.observe((now - at).max(0) as f64 / 1000.0);
        n += 1;
    }
    m.updates_processed.with_label_values(&[name]).inc_by(n);
}

/// A Bot API call of connection `name` ended with `outcome` after `elapsed`.
pub fn telegram_call(name: &str, method: &str, outcome: &str, elapsed: Duration) {
    let m = m();
    let method = m.method(method);
    m.api_calls
        .with_label_values(&[name, method, outcome])
        .inc();
    m.api_latency
        .with_label_values(&[name, method])
        .observe(elapsed.as_secs_f64());
}

/// The outbox of `c` was paused `secs` seconds by a 429.
pub fn rate_limited(c: ConnectionId, secs: u64) {
    let m = m();
    let name = m.name(c);
    m.rate_limited.with_label_values(&[&*name]).inc();
    m.paused_seconds.with_label_values(&[&*name]).inc_by(secs);
}

/// An intent of `c` was rescheduled.
pub fn outbox_retry(c: ConnectionId) {
    let m = m();
    m.outbox_retries.with_label_values(&[&*m.name(c)]).inc();
}

/// An intent of `c` finished: `done` or `failed`.
pub fn outbox_finished(c: ConnectionId, outcome: &str) {
    let m = m();
    m.outbox_finished
        .with_label_values(&[&*m.name(c), outcome])
        .inc();
}

/// A webhook delivery attempt of `c` ended: `delivered`, `failed` (retried) or `given_up`.
pub fn webhook_delivery(c: ConnectionId, outcome: &str) {
    let m = m();
    m.webhook_deliveries
        .with_label_values(&[&*m.name(c), outcome])
        .inc();
}

/// Status classes of `hotline_gateway_requests_total`, in [`status_class`] order.
const STATUS_CLASSES: [&str; 4] = ["2xx", "4xx", "5xx", "other"];

fn status_class(status: u16) -> usize {
    match status {
        200..=299 => 0,
        400..=499 => 1,
        500..=599 => 2,
        _ => 3,
    }
}

/// The gateway's series of one connection, resolved once per method: a label lookup
/// hashes the labels and takes the family's lock, twice per call, on the gateway's
/// hottest path. Series still appear on first use, exactly as with the lookups.
pub struct GatewayMetrics {
    name: Arc<str>,
    methods: RwLock<HashMap<String, Arc<MethodSeries>>>,
    /// Every method past [`MAX_METHODS`] or not a Bot API name (never keyed by its name:
    /// the map stays bounded whatever a bot sends).
    other: std::sync::OnceLock<Arc<MethodSeries>>,
}

struct MethodSeries {
    method: String,
    requests: [std::sync::OnceLock<prometheus::IntCounter>; 4],
    latency: prometheus::Histogram,
}

impl GatewayMetrics {
    /// The series of connection `name` (one per connected bot).
    pub fn new(name: &str) -> Self {
        Self {
            name: Arc::from(name),
            methods: RwLock::new(HashMap::new()),
            other: std::sync::OnceLock::new(),
        }
    }

    fn series(&self, label: &str) -> Arc<MethodSeries> {
        Arc::new(MethodSeries {
            method: label.to_string(),
            requests: Default::default(),
            latency: m().gateway_latency.with_label_values(&[&*self.name, label]),
        })
    }

    fn method(&self, method: &str) -> Arc<MethodSeries> {
        if let Some(s) = self
            .methods
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(method)
        {
            return s.clone();
        }
        let label = m().method(method);
        if label != method {
            return self.other.get_or_init(|| self.series("other")).clone();
        }
        let mut map = self.methods.write().unwrap_or_else(|e| e.into_inner());
        map.entry(method.to_string())
            .or_insert_with(|| self.series(label))
            .clone()
    }

    /// A gateway request answered `status` after `elapsed`.
    pub fn request(&self, method: &str, status: u16, elapsed: Duration) {
        let s = self.method(method);
        let class = status_class(status);
        s.requests[class]
            .get_or_init(|| {
                m().gateway_requests.with_label_values(&[
                    &*self.name,
                    &s.method,
                    STATUS_CLASSES[class],
                ])
            })
            .inc();
        s.latency.observe(elapsed.as_secs_f64());
    }
}

fn lane_name(lane: i64) -> &'static str {
    match Lane::from_i64(lane) {
        Some(Lane::Reply) => "reply",
        Some(Lane::Group) => "group",
        Some(Lane::Broadcast) => "broadcast",
        Some(Lane::NewDialog) => "new_dialog",
        None => "unknown",
    }
}

/// What the `/metrics` handler reads the database gauges from.
#[derive(Clone)]
pub struct MetricsState {
    store: Store,
    connections: Arc<std::sync::RwLock<Vec<(ConnectionId, String)>>>,
    /// Bumped when a connection comes or goes: the cached gauges are stale then.
    changes: Arc<std::sync::atomic::AtomicU64>,
    /// When the gauges were read, at which value of `changes`.
    cache: Arc<tokio::sync::Mutex<Option<(Instant, u64)>>>,
    readiness: crate::ready::Readiness,
}

impl MetricsState {
    /// Gauges of `store`, for no connection yet.
    pub fn new(store: Store, readiness: crate::ready::Readiness) -> Self {
        Self {
            store,
            connections: Default::default(),
            changes: Default::default(),
            cache: Arc::new(tokio::sync::Mutex::new(None)),
            readiness,
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<(ConnectionId, String)>> {
        self.connections.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Reports a connection's gauges from the next scrape on.
    pub fn add(&self, id: ConnectionId, name: &str) {
        name_connection(id, name);
        let mut c = self.write();
        c.retain(|(i, _)| *i != id);
        c.push((id, name.to_string()));
        self.stale();
    }

    /// Stops reporting a connection's gauges (they disappear at the next scrape).
    pub fn remove(&self, id: ConnectionId) {
        self.write().retain(|(i, _)| *i != id);
        self.stale();
    }

    /// The next scrape reads the gauges again.
    fn stale(&self) {
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Refreshes the database gauges unless they are fresher than [`GAUGE_CACHE`] and no
    /// connection came or went since.
    async fn refresh(&self) {
        let mut at = self.cache.lock().await;
        let changes = self.changes.load(std::sync::atomic::Ordering::SeqCst);
        if at.is_some_and(|(t, c)| t.elapsed() < GAUGE_CACHE && c == changes) {
            return;
        }
        let mut read = Vec::new();
        let connections = self
            .connections
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (id, name) in connections.iter() {
            match self.store.gauges(*id).await {
                Ok(g) => read.push((name.as_str(), g)),
                Err(e) => {
                    tracing::warn!(connection = %name, error = %e, "metrics: reading gauges failed");
                    // Keep the previous values and try again at the next scrape.
                    return;
                }
            }
        }
        let m = m();
        for g in [
            &m.outbox_depth,
            &m.outbox_oldest,
            &m.outbox_in_flight,
            &m.dead_letters,
            &m.updates_dead,
            &m.updates_pending,
            &m.updates_oldest,
            &m.dialogs,
            &m.webhook_pending,
            &m.webhook_oldest,
            &m.broadcast_recipients,
        ] {
            g.reset();
        }
        let now = now_ms();
        let age = |at: Option<i64>| at.map_or(0, |t| (now - t).max(0) / 1000);
        for (name, g) in read {
            set(m, name, &g, &age);
        }
        *at = Some((Instant::now(), changes));
    }
}

fn set(m: &Metrics, name: &str, g: &Gauges, age: &dyn Fn(Option<i64>) -> i64) {
    for lane in Lane::ALL {
        let l = lane_name(lane as i64);
        let (n, oldest) = g
            .outbox_pending
            .iter()
            .find(|(x, _, _)| *x == lane as i64)
            .map_or((0, None), |(_, n, o)| (*n, Some(*o)));
        m.outbox_depth.with_label_values(&[name, l]).set(n);
        m.outbox_oldest
            .with_label_values(&[name, l])
            .set(age(oldest));
    }
    m.outbox_in_flight
        .with_label_values(&[name])
        .set(g.outbox_in_flight);
    m.dead_letters
        .with_label_values(&[name])
        .set(g.outbox_failed);
    m.updates_dead
        .with_label_values(&[name])
        .set(g.updates_dead);
    m.updates_pending
        .with_label_values(&[name])
        .set(g.updates_pending.0);
    m.updates_oldest
        .with_label_values(&[name])
        .set(age(g.updates_pending.1));
    for status in ["new", "wait", "closed"] {
        let n = g
            .dialogs
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n);
        m.dialogs.with_label_values(&[name, status]).set(n);
    }
    m.webhook_pending
        .with_label_values(&[name])
        .set(g.webhook_pending.0);
    m.webhook_oldest
        .with_label_values(&[name])
        .set(age(g.webhook_pending.1));
    for (id, state, n) in &g.broadcast_recipients {
        m.broadcast_recipients
            .with_label_values(&[name, &id.to_string(), state])
            .set(*n);
    }
}

/// `GET /metrics`: every series in the Prometheus text format (version 0.0.4).
pub async fn handler(State(state): State<MetricsState>) -> Response {
    state.refresh().await;
    let m = m();
    let ready = state.readiness.report().await.ready;
    m.ready.with_label_values::<&str>(&[]).set(i64::from(ready));
    match TextEncoder::new().encode_to_string(&m.registry.gather()) {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics: encoding failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
