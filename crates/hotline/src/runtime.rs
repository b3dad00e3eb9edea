//! The connection runtime: owns every connection this instance runs, whatever its origin
//! (the configuration file at start-up, the setup bot at run time), and all of its
//! in-memory state — the decision context with its live parameters, the outbox registry,
//! the Bot API client, the processor's wake-up, the gateway's update signal — and its
//! long-running tasks, each connection under its own stop trigger.
//!
//! A connection goes through two steps: [`Runtime::add`] makes a prepared connection
//! known (its context is reachable), [`Runtime::own`] starts its owner tasks (intake,
//! processor, outbox worker, timers); [`Runtime::disown`] and [`Runtime::remove`] undo
//! them. [`Runtime::owner`] is the one answer to "who runs this connection".

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::json;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::api::ApiState;
use crate::config::{apply_overrides, Config, ConnectionConfig, Mode, Secret};
use crate::domain::handover::Pauses;
use crate::domain::history::History;
use crate::domain::topics::{Icons, Topics};
use crate::domain::BotIdentity;
use crate::domain::Context;
use crate::domain::Subscribers;
use crate::gateway::{BotSpec, Gateway, UpdateSignal};
use crate::intake;
use crate::metrics::MetricsState;
use crate::outbox::Registry;
use crate::outbox::{ExternalSends, OutboxConfig, Worker};
use crate::ready::Readiness;
use crate::relay::autoclose;
use crate::shutdown::ShutdownTrigger;
use crate::store::{now_ms, Store, StoreError};
use crate::telegram::{Client, TgError};

/// Why Hotline could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// A connection's bot or group is not usable; the message says what to fix.
    #[error("connection \"{connection}\": {message}")]
    Connection {
        /// Connection name.
        connection: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The HTTP port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// One started connection.
#[derive(Clone)]
pub struct Connection {
    /// Decision context.
    pub ctx: Context,
    /// The executors of its outbox actions.
    pub registry: Arc<Registry>,
    /// Bot API client.
    pub tg: Client,
    /// Wakes the update processor.
    pub wake: Arc<Notify>,
    /// Polling or webhook.
    pub mode: Mode,
    /// Tells the gateway that updates were stored.
    pub updates: UpdateSignal,
    /// The parallel bot's sends through the gateway, which the outbox counts in its rate
    /// windows (Telegram counts both against the bot's limits).
    pub external: ExternalSends,
    /// How the gateway serves the connection's bot (its token, upstream, webhook rule).
    gateway: GatewayAccess,
    /// Until when this instance's lease surely holds (see `lease::Clock`): the gateway
    /// serves the bot as the owner only until then.
    lease_clock: crate::lease::Clock,
}

/// What the gateway needs beyond the context to serve a connection's bot.
#[derive(Clone)]
struct GatewayAccess {
    token: Secret,
    api_url: String,
    plain_http_webhooks: bool,
}

fn fail(cfg: &ConnectionConfig, message: impl Into<String>) -> StartError {
    StartError::Connection {
        connection: cfg.name.clone(),
        message: message.into(),
    }
}

fn explain(cfg: &ConnectionConfig, what: &str, e: TgError) -> StartError {
    fail(cfg, format!("{what}: {e}"))
}

/// Who records a connection's events, in order: the dialog history, analytics, webhook
/// deliveries. A new subscriber (a metric, an export) is added here.
pub fn subscribers() -> Subscribers {
    Subscribers::new(vec![
        Arc::new(History),
        Arc::new(crate::stats::Analytics),
        Arc::new(crate::api::events::WebhookEvents),
    ])
}

/// The executors of a connection's outbox actions: every feature registers its own here.
pub fn registry(topics: &Topics) -> Registry {
    let mut registry = Registry::new();
    crate::domain::topics::register(&mut registry, topics);
    crate::relay::register(&mut registry, topics);
    crate::gateway::mirror::register(&mut registry, topics);
    crate::api::send::register(&mut registry, topics);
    crate::broadcast::register(&mut registry, topics);
    crate::closing::register(&mut registry, topics);
    crate::commands::comment::register(&mut registry, topics);
    crate::export::register(&mut registry, topics);
    crate::stats::register(&mut registry, topics);
    registry
}

/// How the outbox announces a dead intent: a notice in the connection's General topic.
fn dead_letter_notice(ctx: &Context) -> crate::outbox::DeadLetterNotice {
    let ctx = ctx.clone();
    Arc::new(move |tx, text| {
        let ctx = ctx.clone();
        Box::pin(async move { ctx.notice(tx, None, None, text).await })
    })
}

/// Checks that the bot can work in `group`: reachable, a forum, and the bot an
/// administrator that may manage topics (the primary and every overflow group alike).
async fn check_group(
    tg: &Client,
    cfg: &ConnectionConfig,
    bot: i64,
    group: i64,
) -> Result<(), StartError> {
    let chat = tg.get_chat(group).await.map_err(|e| {
        explain(
            cfg,
            &format!(
                "the group {group} is not reachable (add the bot to the group, check group_id \
                 and overflow_groups)"
            ),
            e,
        )
    })?;
    if !chat.is_forum {
        return Err(fail(
            cfg,
            format!("the group {group} is not a forum: enable Topics in the group settings"),
        ));
    }
    let member = tg
        .get_chat_member(group, bot)
        .await
        .map_err(|e| explain(cfg, "getChatMember failed", e))?;
    if !member.is_admin() || !(member.can_manage_topics || member.status == "creator") {
        return Err(fail(
            cfg,
            format!(
                "the bot must be an administrator of the group {group} with the right to manage topics"
            ),
        ));
    }
    Ok(())
}

/// Checks a connection against Telegram and prepares its runtime.
pub async fn prepare(
    cfg: &ConnectionConfig,
    store: &Store,
    shared_group: bool,
) -> Result<Connection, StartError> {
    let tg = Client::new(&cfg.api_url, cfg.token.clone()).labelled(&cfg.name);
    let me = tg.get_me().await.map_err(|e| match e {
        e if e.is_unauthorized() => fail(
            cfg,
            "Telegram rejected the bot token (401): check the token with @BotFather",
        ),
        e => explain(cfg, "getMe failed", e),
    })?;
    let groups = std::iter::once(cfg.group_id).chain(cfg.overflow_groups.iter().copied());
    for group in groups {
        check_group(&tg, cfg, me.id, group).await?;
    }
    let connection = store.ensure_connection(&cfg.name).await?;
    crate::metrics::name_connection(connection, &cfg.name);
    let mut params = cfg.params.clone();
    for e in apply_overrides(&mut params, &store.param_overrides(connection).await?) {
        tracing::warn!(connection = %cfg.name, error = %e, "a stored parameter is invalid and was ignored");
    }
    let commands = crate::commands::menu(crate::commands::Who::Operator);
    for group in std::iter::once(cfg.group_id).chain(cfg.overflow_groups.iter().copied()) {
        let group_scope = json!({"scope": {"type": "chat", "chat_id": group}});
        if let Err(e) = tg.set_my_commands(&commands, group_scope).await {
            tracing::warn!(connection = %cfg.name, error = %e, "could not register the group's command menu");
        }
    }
    let admins = crate::commands::menu(crate::commands::Who::Admin);
    let mut admin_scopes =
        vec![json!({"scope": {"type": "chat_administrators", "chat_id": cfg.group_id}})];
    for user in &params.extensions_allowed {
        admin_scopes.push(
            json!({"scope": {"type": "chat_member", "chat_id": cfg.group_id, "user_id": user}}),
        );
    }
    for scope in admin_scopes {
        if let Err(e) = tg.set_my_commands(&admins, scope).await {
            tracing::warn!(connection = %cfg.name, error = %e, "could not register the admins' command menu");
        }
    }
    if let Err(e) = crate::domain::roles::refresh_admins(&tg, store, connection, cfg.group_id).await
    {
        tracing::warn!(connection = %cfg.name, error = %e, "administrators unknown until the next refresh");
    }
    let icons = match tg.call("getForumTopicIconStickers", json!({})).await {
        Ok(stickers) => Icons::from_stickers(&stickers),
        Err(e) => {
            tracing::warn!(connection = %cfg.name, error = %e, "no topic icons");
            Icons::default()
        }
    };
    let ctx = Context {
        connection,
        name: cfg.name.clone(),
        group_id: cfg.group_id,
        overflow_groups: cfg.overflow_groups.clone().into(),
        bot: BotIdentity {
            id: me.id,
            username: me.username.clone().unwrap_or_default(),
        },
        params: Arc::new(RwLock::new(params)),
        defaults: Arc::new(cfg.params.clone()),
        shared_group,
        time_zone: cfg.time_zone,
        subscribers: subscribers(),
        webhook_targets: Arc::new(cfg.webhook_targets.clone()),
        webhook_secret_grace: cfg.webhook_secret_grace,
        pauses: Arc::new(Pauses::from_rows(
            &store
                .recent_pauses(connection, now_ms() - crate::gateway::updates::KEEP_MS)
                .await?,
        )),
        gateway_used: Default::default(),
    };
    let topics = Topics {
        ctx: ctx.clone(),
        store: store.clone(),
        tg: tg.clone(),
        icons,
    };
    let registry = Arc::new(registry(&topics));
    Ok(Connection {
        ctx,
        registry,
        tg,
        // Shared with the store: on PostgreSQL, updates another instance stored wake it too.
        wake: store.updates_notify(connection),
        mode: cfg.mode.clone(),
        updates: UpdateSignal::new(),
        external: ExternalSends::new(),
        gateway: GatewayAccess {
            token: cfg.token.clone(),
            api_url: cfg.api_url.clone(),
            plain_http_webhooks: cfg.gateway_plain_http_webhooks,
        },
        lease_clock: crate::lease::Clock::default(),
    })
}

/// Timings that tests shorten.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Outbox retry policy and limits.
    pub outbox: OutboxConfig,
    /// How often AUTOCLOSE is checked.
    pub autoclose_every: Duration,
    /// How often REMIND_AFTER and the spam gate's hourly budget are checked.
    pub remind_every: Duration,
}

impl Tuning {
    /// Production timings for `config`.
    pub fn for_config(config: &Config) -> Self {
        Self {
            outbox: OutboxConfig::new(config.limits),
            autoclose_every: Duration::from_secs(60),
            remind_every: Duration::from_secs(60),
        }
    }
}

/// Who runs a connection's owner tasks, as this instance knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// This instance: its intake, processor, outbox worker and timers run here.
    ThisInstance,
    /// Known here (prepared, its context reachable) but its owner tasks do not run here.
    NotHere,
    /// Not known to this instance.
    Unknown,
}

/// A connection this instance runs: its lease keeper (which runs the owner tasks while
/// this instance holds the lease, see [`crate::lease::hold`]) and the parameters'
/// follower, stopped together by their own trigger.
struct Owned {
    trigger: ShutdownTrigger,
    tasks: JoinSet<()>,
    /// Set before a deliberate stop, so a task ending then is not a failure.
    stopping: Arc<AtomicBool>,
    /// Whether this instance holds the lease and the owner tasks run.
    holding: Arc<AtomicBool>,
}

/// How this instance takes the leases of its connections.
#[derive(Clone, Debug)]
pub struct Leasing {
    /// The base URL other instances reach this one at (`http.advertise`, stored in the
    /// lease so they can forward the parallel bot's calls here); empty when unknown.
    pub address: String,
    /// Seize (alone on SQLite) or contend (several instances on PostgreSQL).
    pub claim: crate::lease::Claim,
    /// Renewal and retry timings.
    pub timing: crate::lease::Timing,
}

impl Leasing {
    /// The default for `store`: seize on SQLite (one process per database), contend on
    /// PostgreSQL.
    pub fn for_store(store: &Store, address: String) -> Self {
        Self {
            address,
            claim: match store.backend() {
                crate::store::Backend::Sqlite => crate::lease::Claim::Seize,
                crate::store::Backend::Postgres => crate::lease::Claim::Contend,
            },
            timing: crate::lease::Timing::default(),
        }
    }
}

impl Owned {
    async fn stop(mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.trigger.trigger();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Every connection of this instance (see the module doc).
pub struct Runtime {
    store: Store,
    tuning: Tuning,
    leasing: Leasing,
    /// Who serve the known connections over HTTP: the gateway (by bot token), the REST
    /// API (by key), `/metrics` and `/ready`; kept in step by `add` and `remove`.
    gateway: Gateway,
    api: ApiState,
    metrics: MetricsState,
    readiness: Readiness,
    /// Known connections by name: their in-memory state.
    known: RwLock<BTreeMap<String, Connection>>,
    /// The connections whose owner tasks run here.
    owned: std::sync::Mutex<HashMap<String, Owned>>,
    /// Serialises starting and stopping, so two of them never interleave.
    changing: tokio::sync::Mutex<()>,
    /// Notified when an owner task ended on its own (see [`Runtime::task_ended`]).
    ended: Arc<Notify>,
    /// This instance, as the setup bot's status names it.
    instance: String,
}

impl Runtime {
    /// No connection yet; `readiness` is what `/ready` reports.
    pub fn new(store: Store, tuning: Tuning, readiness: Readiness) -> Self {
        Self {
            leasing: Leasing::for_store(&store, String::new()),
            gateway: Gateway::new(&store),
            api: ApiState::new(store.clone()),
            metrics: MetricsState::new(store.clone(), readiness.clone()),
            readiness,
            store,
            tuning,
            known: Default::default(),
            owned: Default::default(),
            changing: Default::default(),
            ended: Arc::new(Notify::new()),
            instance: instance_name(),
        }
    }

    /// Sets how connections are leased (default: [`Leasing::for_store`] without an
    /// address).
    pub fn with_leasing(mut self, leasing: Leasing) -> Self {
        self.gateway = self.gateway.with_advertised(&leasing.address);
        self.leasing = leasing;
        self
    }

    /// Whether another instance may take a lease over (they contend: PostgreSQL), so
    /// what acts as a connection's owner is fenced by its lease (`lease::Clock`, the
    /// update processor's check before its commit).
    fn fenced(&self) -> bool {
        self.leasing.claim == crate::lease::Claim::Contend
    }

    /// How this instance takes leases (the setup bot takes its own the same way).
    pub fn leasing(&self) -> &Leasing {
        &self.leasing
    }

    /// This instance as people name it: host name and process id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The database the connections run on.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The gateway, serving the known connections' bots.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The REST API's state, serving the known connections.
    pub fn api(&self) -> &ApiState {
        &self.api
    }

    /// `/metrics`' state, reporting the known connections.
    pub fn metrics(&self) -> &MetricsState {
        &self.metrics
    }

    /// Who runs connection `name`'s owner tasks.
    pub fn owner(&self, name: &str) -> Owner {
        let holding = self
            .owned()
            .get(name)
            .is_some_and(|o| o.holding.load(Ordering::SeqCst));
        if holding {
            Owner::ThisInstance
        } else if self.read().contains_key(name) {
            Owner::NotHere
        } else {
            Owner::Unknown
        }
    }

    fn owned(&self) -> std::sync::MutexGuard<'_, HashMap<String, Owned>> {
        self.owned.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Connection>> {
        self.known.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Connection>> {
        self.known.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A known connection's in-memory state.
    pub fn connection(&self, name: &str) -> Option<Connection> {
        self.read().get(name).cloned()
    }

    /// Every known connection, by name.
    pub fn connections(&self) -> Vec<Connection> {
        self.read().values().cloned().collect()
    }

    /// Makes a prepared connection known: its context is reachable, the gateway serves
    /// its bot, the REST API its keys, `/metrics` its gauges. Its owner tasks start with
    /// [`Runtime::own`]. Replaces a known connection of the same name.
    pub async fn add(&self, c: Connection) -> Result<(), StartError> {
        self.gateway
            .add(BotSpec {
                token: c.gateway.token.clone(),
                api_url: c.gateway.api_url.clone(),
                plain_http_webhooks: c.gateway.plain_http_webhooks,
                ctx: c.ctx.clone(),
                updates: c.updates.clone(),
                wake: c.wake.clone(),
                external: c.external.clone(),
                // Alone on the database nothing can take the lease over: no fence.
                lease: if self.fenced() {
                    c.lease_clock.clone()
                } else {
                    crate::lease::Clock::unfenced()
                },
            })
            .await?;
        self.api.add(c.ctx.clone());
        self.metrics.add(c.ctx.connection, &c.ctx.name);
        self.write().insert(c.ctx.name.clone(), c);
        Ok(())
    }

    /// Forgets a connection, stopping its owner tasks first.
    pub async fn remove(&self, name: &str) {
        let _changing = self.changing.lock().await;
        self.remove_now(name).await;
    }

    async fn remove_now(&self, name: &str) {
        self.disown_now(name).await;
        if let Some(c) = self.write().remove(name) {
            self.gateway.remove(c.ctx.connection);
            self.api.remove(c.ctx.connection);
            self.metrics.remove(c.ctx.connection);
            self.readiness.connection_removed(name);
        }
    }

    /// Starts a known connection's owner tasks: the update processor, the outbox worker,
    /// AUTOCLOSE, reminders, broadcasts, outgoing webhooks, the administrators' refresh,
    /// and its intake (a polling connection removes any webhook and long-polls; a webhook
    /// connection sets its webhook, whose route the HTTP port serves). Nothing when
    /// already owned here.
    pub async fn own(&self, name: &str) -> Result<(), StartError> {
        let _changing = self.changing.lock().await;
        self.own_now(name).await
    }

    async fn own_now(&self, name: &str) -> Result<(), StartError> {
        let Some(c) = self.connection(name) else {
            return Err(StartError::Connection {
                connection: name.to_string(),
                message: "not prepared".into(),
            });
        };
        if self.owned().contains_key(name) {
            return Ok(());
        }
        let (trigger, _) = ShutdownTrigger::new();
        let stopping = Arc::new(AtomicBool::new(false));
        let holding = Arc::new(AtomicBool::new(false));
        // The first outcome: the owner tasks started (or failed to), or a standby.
        let (first, started) = tokio::sync::oneshot::channel::<Result<(), StartError>>();
        let report = Report(Arc::new(std::sync::Mutex::new(Some(first))));
        let mut tasks = Tasks {
            set: JoinSet::new(),
            trigger: &trigger,
            stopping: stopping.clone(),
            ended: self.ended.clone(),
            name: c.ctx.name.clone(),
            span: tracing::info_span!("connection", connection = %c.ctx.name),
        };
        // Every instance that knows the connection keeps its parameters current.
        tasks.spawn(
            c.ctx
                .clone()
                .follow_params(self.store.clone(), trigger.subscribe()),
        );
        // And the handover's pauses, which the REST API may change on any instance.
        tasks.spawn(
            c.ctx
                .clone()
                .follow_pauses(self.store.clone(), trigger.subscribe()),
        );
        let owner = OwnerTasks {
            c: c.clone(),
            fenced: self.fenced(),
            store: self.store.clone(),
            tuning: self.tuning,
            ended: self.ended.clone(),
            holding: holding.clone(),
            gateway: self.gateway.clone(),
        };
        let standby = report.clone();
        tasks.spawn(crate::lease::hold(
            self.store.clone(),
            c.ctx.connection,
            self.leasing.address.clone(),
            self.leasing.claim,
            self.leasing.timing,
            c.lease_clock.clone(),
            trigger.subscribe(),
            move || standby.send(Ok(())),
            move |held, stop| owner.clone().run(held, stop, report.clone()),
        ));
        let set = tasks.set;
        let owned = Owned {
            trigger,
            tasks: set,
            stopping,
            holding,
        };
        // Owner tasks that cannot start fail the start (as a bad token does); a standby
        // starts them later, when it takes the lease.
        match started.await {
            Ok(Err(e)) => {
                owned.stop().await;
                Err(e)
            }
            _ => {
                self.owned().insert(name.to_string(), owned);
                Ok(())
            }
        }
    }

    /// Stops a connection's owner tasks, letting in-flight calls finish; it stays known.
    pub async fn disown(&self, name: &str) {
        let _changing = self.changing.lock().await;
        self.disown_now(name).await;
    }

    async fn disown_now(&self, name: &str) {
        let found = self.owned().remove(name);
        if let Some(owned) = found {
            owned.stop().await;
            tracing::info!(connection = %name, "connection stopped");
        }
    }

    /// Checks `cfg` as `hotline run` does, then adds and owns it (replacing a running
    /// connection of the same name) and reports it ready: how the setup bot starts a
    /// connection (at start-up `app` checks every file connection before it starts any).
    pub async fn start(
        &self,
        cfg: &ConnectionConfig,
        shared_group: bool,
    ) -> Result<(), StartError> {
        let _changing = self.changing.lock().await;
        self.start_now(cfg, shared_group).await
    }

    /// [`Runtime::start`], but nothing when the connection is known already: how every
    /// instance follows the connections the setup bot stored (a running one is not
    /// restarted, which would hand its lease to another instance).
    pub async fn start_missing(
        &self,
        cfg: &ConnectionConfig,
        shared_group: bool,
    ) -> Result<(), StartError> {
        let _changing = self.changing.lock().await;
        if self.connection(&cfg.name).is_some() {
            return Ok(());
        }
        self.start_now(cfg, shared_group).await
    }

    async fn start_now(
        &self,
        cfg: &ConnectionConfig,
        shared_group: bool,
    ) -> Result<(), StartError> {
        self.remove_now(&cfg.name).await;
        let c = prepare(cfg, &self.store, shared_group).await?;
        let started = match self.add(c).await {
            Ok(()) => self.own_now(&cfg.name).await,
            Err(e) => Err(e),
        };
        if let Err(e) = started {
            self.remove_now(&cfg.name).await;
            return Err(e);
        }
        self.readiness.connection_passed(&cfg.name);
        tracing::info!(connection = %cfg.name, "connection started");
        Ok(())
    }

    /// Stops and forgets a connection: the gateway, the REST API, `/metrics` and `/ready`
    /// forget it too.
    pub async fn stop(&self, name: &str) {
        self.remove(name).await;
    }

    /// Stops every connection's owner tasks at once (Hotline stops).
    pub async fn stop_all(&self) {
        let _changing = self.changing.lock().await;
        let all: Vec<Owned> = self.owned().drain().map(|(_, o)| o).collect();
        for o in &all {
            o.stopping.store(true, Ordering::SeqCst);
            o.trigger.trigger();
        }
        futures::future::join_all(all.into_iter().map(Owned::stop)).await;
    }

    /// Resolves when an owner task ended on its own (it should not: the caller stops and
    /// exits non-zero).
    pub async fn task_ended(&self) {
        self.ended.notified().await;
    }
}

/// Where the first outcome of owning a connection goes (the caller of [`Runtime::own`]);
/// later ones are only logged.
#[derive(Clone)]
struct Report(Arc<std::sync::Mutex<Option<FirstOutcome>>>);

/// The sender of the first outcome of owning a connection.
type FirstOutcome = tokio::sync::oneshot::Sender<Result<(), StartError>>;

impl Report {
    fn send(&self, r: Result<(), StartError>) {
        let first = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        match (first, r) {
            (Some(tx), r) => {
                let _ = tx.send(r);
            }
            (None, Err(e)) => {
                tracing::error!(error = %e, "the connection's owner tasks could not start")
            }
            (None, Ok(())) => {}
        }
    }
}

/// What a connection's owner runs while it holds the lease (see [`crate::lease::hold`]).
#[derive(Clone)]
struct OwnerTasks {
    c: Connection,
    /// Whether another instance may take the lease over (PostgreSQL): the update
    /// processor's commits are then fenced by the lease (see `intake::process_batch`).
    fenced: bool,
    store: Store,
    tuning: Tuning,
    ended: Arc<Notify>,
    holding: Arc<AtomicBool>,
    /// Serves the gateway's webhook pushes to the parallel bot (owner-only).
    gateway: Gateway,
}

impl OwnerTasks {
    /// Starts the intake and the owner tasks, reports whether they started, runs them until
    /// `stop` (the lease is lost or the connection stops), then stops them and lets
    /// in-flight calls finish.
    async fn run(
        self,
        held: crate::lease::Held,
        mut stop: crate::shutdown::Shutdown,
        report: Report,
    ) {
        let (trigger, _) = ShutdownTrigger::new();
        let stopping = Arc::new(AtomicBool::new(false));
        let mut tasks = Tasks {
            set: JoinSet::new(),
            trigger: &trigger,
            stopping: stopping.clone(),
            ended: self.ended.clone(),
            name: self.c.ctx.name.clone(),
            span: tracing::info_span!("connection", connection = %self.c.ctx.name),
        };
        let started = start_intake(&self.c, &self.store, &mut tasks).await;
        if started.is_ok() {
            let fence = self.fenced.then_some(held);
            spawn_core(&self.c, &self.store, self.tuning, fence, &mut tasks);
            if let Some(push) = self
                .gateway
                .take_over(self.c.ctx.connection, tasks.trigger.subscribe())
                .await
            {
                tasks.spawn(push);
            }
            self.holding.store(true, Ordering::SeqCst);
        }
        report.send(started);
        stop.recv().await;
        // The bot's calls go to the next owner from now on; those served here end (a
        // waiting long poll answers at once, and its bot polls again, at the new owner).
        self.gateway.hand_back(self.c.ctx.connection);
        self.holding.store(false, Ordering::SeqCst);
        stopping.store(true, Ordering::SeqCst);
        trigger.trigger();
        let mut set = tasks.set;
        while set.join_next().await.is_some() {}
    }
}

/// Starts the connection's intake: long polling, or its webhook set at Telegram.
async fn start_intake(
    c: &Connection,
    store: &Store,
    tasks: &mut Tasks<'_>,
) -> Result<(), StartError> {
    match &c.mode {
        Mode::Polling => {
            if let Err(e) = c.tg.delete_webhook(false).await {
                tracing::warn!(connection = %c.ctx.name, error = %e, "deleteWebhook failed");
            }
            tasks.spawn(intake::polling::poll_loop(
                c.tg.clone(),
                store.clone(),
                c.ctx.connection,
                c.wake.clone(),
                c.updates.clone(),
                tasks.trigger.subscribe(),
            ));
        }
        Mode::Webhook { url, secret } => {
            let hook = format!("{}/telegram/{}", url.trim_end_matches('/'), c.ctx.name);
            let extra = json!({"secret_token": secret.expose(), "allowed_updates": crate::telegram::ALL_UPDATES});
            c.tg.set_webhook(&hook, extra)
                .await
                .map_err(|e| StartError::Connection {
                    connection: c.ctx.name.clone(),
                    message: format!("setWebhook failed: {e}"),
                })?;
        }
    }
    Ok(())
}

/// Spawns a connection's owner tasks under its trigger, in its span.
struct Tasks<'a> {
    set: JoinSet<()>,
    trigger: &'a ShutdownTrigger,
    stopping: Arc<AtomicBool>,
    ended: Arc<Notify>,
    name: String,
    span: tracing::Span,
}

impl Tasks<'_> {
    /// Spawns an owner task. It should run as long as its connection does: ending earlier
    /// (a panic included) is logged and reported through [`Runtime::task_ended`].
    fn spawn(&mut self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let stopping = self.stopping.clone();
        let ended = self.ended.clone();
        let name = self.name.clone();
        self.set.spawn(
            async move {
                let outcome = std::panic::AssertUnwindSafe(task).catch_unwind().await;
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                match outcome {
                    Ok(()) => tracing::error!(connection = %name, "a connection's task ended on its own"),
                    Err(p) => {
                        let why = crate::isolation::panic_message(p.as_ref());
                        tracing::error!(connection = %name, error = %why, "a connection's task failed");
                    }
                }
                ended.notify_one();
            }
            .instrument(self.span.clone()),
        );
    }
}

/// Spawns a connection's tasks that do not depend on its intake: the update processor,
/// the outbox worker, AUTOCLOSE, reminders, broadcasts, outgoing webhooks, the
/// administrators' refresh.
fn spawn_core(
    c: &Connection,
    store: &Store,
    tuning: Tuning,
    lease: Option<crate::lease::Held>,
    tasks: &mut Tasks<'_>,
) {
    let ctx = c.ctx.clone();
    let trigger = tasks.trigger;
    tasks.spawn(intake::process_loop(
        ctx.clone(),
        store.clone(),
        c.wake.clone(),
        c.updates.order().clone(),
        lease,
        trigger.subscribe(),
    ));
    let worker = Worker::new(
        store.clone(),
        ctx.connection,
        c.registry.clone(),
        tuning.outbox,
    )
    .with_dead_letter_notice(dead_letter_notice(&ctx))
    .with_external_sends(c.external.clone());
    tasks.spawn(worker.run(trigger.subscribe()));
    tasks.spawn(autoclose::run(
        ctx.clone(),
        store.clone(),
        tuning.autoclose_every,
        trigger.subscribe(),
    ));
    tasks.spawn(crate::relay::remind::run(
        ctx.clone(),
        store.clone(),
        tuning.remind_every,
        trigger.subscribe(),
    ));
    tasks.spawn(crate::relay::gate::run(
        ctx.clone(),
        store.clone(),
        tuning.remind_every,
        trigger.subscribe(),
    ));
    tasks.spawn(crate::broadcast::run(
        ctx.clone(),
        store.clone(),
        crate::broadcast::RunConfig::for_limits(tuning.outbox.limits),
        trigger.subscribe(),
    ));
    tasks.spawn(crate::api::delivery::run(
        store.clone(),
        ctx.clone(),
        tuning.outbox,
        trigger.subscribe(),
    ));
    tasks.spawn(crate::domain::roles::refresh_loop(
        c.tg.clone(),
        store.clone(),
        ctx,
        crate::domain::roles::REFRESH_EVERY,
        trigger.subscribe(),
    ));
}

/// The setup bot starts and stops its connections through the same runtime as the
/// configuration file's (they poll for updates and never share a group).
impl crate::setup::Runtime for Runtime {
    fn start(&self, cfg: ConnectionConfig) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            Runtime::start(self, &cfg, false)
                .await
                .map_err(|e| match e {
                    StartError::Connection { message, .. } => message,
                    e => e.to_string(),
                })
        })
    }

    fn start_missing(&self, cfg: ConnectionConfig) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            Runtime::start_missing(self, &cfg, false)
                .await
                .map_err(|e| match e {
                    StartError::Connection { message, .. } => message,
                    e => e.to_string(),
                })
        })
    }

    fn stop(&self, name: &str) -> BoxFuture<'_, ()> {
        let name = name.to_string();
        Box::pin(async move { Runtime::stop(self, &name).await })
    }

    fn context(&self, name: &str) -> Option<Context> {
        self.connection(name).map(|c| c.ctx)
    }

    fn owner(&self, name: &str) -> Option<String> {
        (Runtime::owner(self, name) == Owner::ThisInstance).then(|| self.instance.clone())
    }
}
/// `host (pid N)`: the host name from the kernel or `HOSTNAME`.
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into());
    format!("{host} (pid {})", std::process::id())
}
