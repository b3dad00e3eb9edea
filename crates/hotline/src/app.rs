//! Starting and stopping Hotline: per connection the start-up checks (token, forum,
//! rights), command menus, and the long-running tasks (intake, processor, outbox worker,
//! auto-close); one HTTP server for webhooks and health.
//!
//! The HTTP port is bound first ([`bind`]) so `/health` and `/ready` answer during the
//! start-up checks; every other route answers 503 until [`Starting::start`] has built it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::{apply_overrides, Config, ConnectionConfig, Mode};
use crate::domain::handover::Pauses;
use crate::domain::history::History;
use crate::domain::topics::{Icons, Topics};
use crate::domain::BotIdentity;
use crate::domain::Context;
use crate::domain::Subscribers;
use crate::gateway::{BotSpec, Gateway, UpdateSignal};
use crate::intake::webhook::{Intake, WebhookState};
use crate::outbox::Registry;
use crate::outbox::{OutboxConfig, Worker};
use crate::ready::Readiness;
use crate::relay::autoclose;
use crate::shutdown::ShutdownTrigger;
use crate::store::{now_ms, Store, StoreError};
use crate::telegram::{Client, TgError};
use crate::{http, intake};

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
    let chat = tg.get_chat(cfg.group_id).await.map_err(|e| {
        explain(
            cfg,
            &format!(
                "the group {} is not reachable (add the bot to the group, check group_id)",
                cfg.group_id
            ),
            e,
        )
    })?;
    if !chat.is_forum {
        return Err(fail(
            cfg,
            format!(
                "the group {} is not a forum: enable Topics in the group settings",
                cfg.group_id
            ),
        ));
    }
    let member = tg
        .get_chat_member(cfg.group_id, me.id)
        .await
        .map_err(|e| explain(cfg, "getChatMember failed", e))?;
    if !member.is_admin() || !(member.can_manage_topics || member.status == "creator") {
        return Err(fail(
            cfg,
            "the bot must be an administrator of the group with the right to manage topics",
        ));
    }
    let connection = store.ensure_connection(&cfg.name).await?;
    crate::metrics::name_connection(connection, &cfg.name);
    // This process owns the connection from here on (one instance per database for now):
    // its outbox and webhook claims need the lease, and a new epoch lets recovery run again
    // what the previous process left in flight.
    store
        .lease_seize(
            connection,
            "",
            crate::store::now_ms(),
            crate::lease::LAPSE.as_millis() as i64,
        )
        .await?;
    crate::metrics::lease_owned(connection, true);
    let mut params = cfg.params.clone();
    for e in apply_overrides(&mut params, &store.param_overrides(connection).await?) {
        tracing::warn!(connection = %cfg.name, error = %e, "a stored parameter is invalid and was ignored");
    }
    let commands = crate::commands::menu(crate::commands::Who::Operator);
    let group_scope = json!({"scope": {"type": "chat", "chat_id": cfg.group_id}});
    if let Err(e) = tg.set_my_commands(&commands, group_scope).await {
        tracing::warn!(connection = %cfg.name, error = %e, "could not register the group's command menu");
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
    })
}

/// A running Hotline.
pub struct Running {
    /// The HTTP address (webhooks, health; later gateway and API).
    pub addr: SocketAddr,
    /// The started connections.
    pub connections: Vec<Connection>,
    /// The database.
    pub store: Store,
    readiness: Readiness,
    trigger: ShutdownTrigger,
    tasks: JoinSet<()>,
}

impl Running {
    /// What `/ready` reports.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Marks the instance not ready (`/ready` answers 503) while everything still runs:
    /// the first step of a stop, so a load balancer moves traffic away first.
    pub fn begin_stop(&self) {
        self.readiness.stopping();
    }

    /// Stops every task, letting in-flight calls finish.
    pub async fn stop(mut self) {
        self.begin_stop();
        self.trigger.trigger();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Resolves when a task ended on its own (it should not: the caller stops and exits
    /// non-zero) or after `stop`; a task's panic is logged here.
    pub async fn wait(&mut self) {
        if let Some(Err(e)) = self.tasks.join_next().await {
            let why = if e.is_panic() {
                crate::isolation::panic_message(e.into_panic().as_ref())
            } else {
                e.to_string()
            };
            tracing::error!(error = %why, "a task failed");
        }
    }
}

/// Timings that tests shorten.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Outbox retry policy and limits.
    pub outbox: OutboxConfig,
    /// How often AUTOCLOSE is checked.
    pub autoclose_every: Duration,
    /// How often REMIND_AFTER is checked.
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

/// A Hotline whose HTTP port is bound and answers `/health` and `/ready` (503 until
/// [`Starting::start`] succeeds); nothing else runs yet.
pub struct Starting {
    addr: SocketAddr,
    readiness: Readiness,
    app: Arc<OnceLock<http::Routes>>,
    trigger: ShutdownTrigger,
    tasks: JoinSet<()>,
}

/// Binds the HTTP port of `config` and serves the probes on it.
pub async fn bind(config: &Config) -> Result<Starting, StartError> {
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.http.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.http.listen,
        source,
    })?;
    let readiness = Readiness::new(config.connections.iter().map(|c| c.name.as_str()));
    let app: Arc<OnceLock<http::Routes>> = Arc::new(OnceLock::new());
    let (trigger, _) = ShutdownTrigger::new();
    let mut tasks = JoinSet::new();
    tasks.spawn(http::serve::serve(
        listener,
        http::probes(readiness.clone(), app.clone()),
        config.http.clone(),
        trigger.subscribe(),
    ));
    Ok(Starting {
        addr,
        readiness,
        app,
        trigger,
        tasks,
    })
}

/// Starts Hotline: binds the HTTP port, opens and migrates the database, checks every
/// connection, starts the tasks.
pub async fn start(config: &Config, tuning: Tuning) -> Result<Running, StartError> {
    bind(config).await?.start(config, tuning).await
}

impl Starting {
    /// The bound HTTP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What `/ready` reports.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Opens and migrates the database, checks every connection, starts the tasks and
    /// the routes. On an error the port is closed again.
    pub async fn start(self, config: &Config, tuning: Tuning) -> Result<Running, StartError> {
        let Starting {
            addr,
            readiness,
            app,
            trigger,
            tasks,
        } = self;
        let started = start_on(config, tuning, &readiness, &trigger, tasks, &app).await;
        if started.is_err() {
            trigger.trigger();
        }
        let (connections, store, tasks) = started?;
        Ok(Running {
            addr,
            connections,
            store,
            readiness,
            trigger,
            tasks,
        })
    }
}

type Started = (Vec<Connection>, Store, JoinSet<()>);

/// Spawns a prepared connection's own tasks, whatever its mode: the update processor, the
/// outbox worker, AUTOCLOSE, broadcasts, the administrators' refresh. Used at start-up and
/// by [`LiveConnections`] for a connection started at run time.
fn spawn_core(
    c: &Connection,
    store: &Store,
    tuning: Tuning,
    trigger: &ShutdownTrigger,
    tasks: &mut JoinSet<()>,
) {
    let ctx = c.ctx.clone();
    let span = tracing::info_span!("connection", connection = %ctx.name);
    tasks.spawn(
        intake::process_loop(
            ctx.clone(),
            store.clone(),
            c.wake.clone(),
            c.updates.order().clone(),
            trigger.subscribe(),
        )
        .instrument(span.clone()),
    );
    tasks.spawn(
        ctx.clone()
            .follow_params(store.clone(), trigger.subscribe())
            .instrument(span.clone()),
    );
    let worker = Worker::new(
        store.clone(),
        ctx.connection,
        c.registry.clone(),
        tuning.outbox,
    )
    .with_dead_letter_notice(dead_letter_notice(&ctx));
    tasks.spawn(worker.run(trigger.subscribe()).instrument(span.clone()));
    tasks.spawn(
        autoclose::run(
            ctx.clone(),
            store.clone(),
            tuning.autoclose_every,
            trigger.subscribe(),
        )
        .instrument(span.clone()),
    );
    tasks.spawn(
        crate::relay::remind::run(
            ctx.clone(),
            store.clone(),
            tuning.remind_every,
            trigger.subscribe(),
        )
        .instrument(span.clone()),
    );
    tasks.spawn(
        crate::broadcast::run(
            ctx.clone(),
            store.clone(),
            crate::broadcast::RunConfig::for_limits(tuning.outbox.limits),
            trigger.subscribe(),
        )
        .instrument(span.clone()),
    );
    tasks.spawn(
        crate::domain::roles::refresh_loop(
            c.tg.clone(),
            store.clone(),
            ctx.clone(),
            crate::domain::roles::REFRESH_EVERY,
            trigger.subscribe(),
        )
        .instrument(span),
    );
}

/// Takes a polling connection's updates: removes any webhook, then long-polls.
async fn spawn_polling(
    c: &Connection,
    store: &Store,
    trigger: &ShutdownTrigger,
    tasks: &mut JoinSet<()>,
) {
    let span = tracing::info_span!("connection", connection = %c.ctx.name);
    if let Err(e) = c.tg.delete_webhook(false).await {
        tracing::warn!(connection = %c.ctx.name, error = %e, "deleteWebhook failed");
    }
    tasks.spawn(
        intake::polling::poll_loop(
            c.tg.clone(),
            store.clone(),
            c.ctx.connection,
            c.wake.clone(),
            c.updates.clone(),
            trigger.subscribe(),
        )
        .instrument(span),
    );
}

/// Connections started at run time by the setup bot (issue 18), each with its own stop
/// trigger and tasks so a pause or a removal stops just it. They poll for updates; the
/// gateway, the REST API and `/metrics` know the connections of the start only (a restart
/// adds a stored connection to them).
pub struct LiveConnections {
    store: Store,
    tuning: Tuning,
    running: tokio::sync::Mutex<HashMap<String, (ShutdownTrigger, JoinSet<()>)>>,
    contexts: RwLock<HashMap<String, Context>>,
}

impl LiveConnections {
    /// No connection yet.
    pub fn new(store: Store, tuning: Tuning) -> Self {
        Self {
            store,
            tuning,
            running: Default::default(),
            contexts: Default::default(),
        }
    }

    async fn start_one(&self, cfg: ConnectionConfig) -> Result<(), String> {
        self.stop_one(&cfg.name).await;
        let c = prepare(&cfg, &self.store, false)
            .await
            .map_err(|e| match e {
                StartError::Connection { message, .. } => message,
                e => e.to_string(),
            })?;
        let (trigger, _) = ShutdownTrigger::new();
        let mut tasks = JoinSet::new();
        spawn_core(&c, &self.store, self.tuning, &trigger, &mut tasks);
        spawn_polling(&c, &self.store, &trigger, &mut tasks).await;
        tracing::info!(connection = %cfg.name, "connection started by the setup bot");
        self.contexts
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cfg.name.clone(), c.ctx.clone());
        self.running.lock().await.insert(cfg.name, (trigger, tasks));
        Ok(())
    }

    async fn stop_one(&self, name: &str) {
        self.contexts
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        let found = self.running.lock().await.remove(name);
        if let Some((trigger, mut tasks)) = found {
            trigger.trigger();
            while tasks.join_next().await.is_some() {}
            tracing::info!(connection = %name, "connection stopped by the setup bot");
        }
    }

    /// Stops every connection started at run time (Hotline stops).
    pub async fn stop_all(&self) {
        let names: Vec<String> = self.running.lock().await.keys().cloned().collect();
        for name in names {
            self.stop_one(&name).await;
        }
    }
}

impl crate::setup::Runtime for LiveConnections {
    fn start(&self, cfg: ConnectionConfig) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(self.start_one(cfg))
    }

    fn stop(&self, name: &str) -> futures::future::BoxFuture<'_, ()> {
        let name = name.to_string();
        Box::pin(async move { self.stop_one(&name).await })
    }

    fn context(&self, name: &str) -> Option<Context> {
        self.contexts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

/// Starts the setup bot when configured: the stored connections first (each checked as at
/// start-up), then the bot itself; both stop with Hotline.
async fn start_setup_bot(
    config: &Config,
    tuning: Tuning,
    store: &Store,
    trigger: &ShutdownTrigger,
    tasks: &mut JoinSet<()>,
) -> Result<(), StartError> {
    let Some(setup) = &config.setup_bot else {
        return Ok(());
    };
    let live = Arc::new(LiveConnections::new(store.clone(), tuning));
    let files = config
        .connections
        .iter()
        .map(|c| crate::setup::FileConnection {
            name: c.name.clone(),
            group_id: c.group_id,
            bot_id: c
                .token
                .expose()
                .split_once(':')
                .and_then(|(id, _)| id.parse().ok()),
        })
        .collect();
    let bot = crate::setup::SetupBot::new(
        setup.clone(),
        store.clone(),
        files,
        live.clone(),
        config.webhook_targets.clone(),
        config.webhook_secret_grace,
    );
    bot.start_stored().await?;
    tasks.spawn(
        bot.run(trigger.subscribe())
            .instrument(tracing::info_span!("setup_bot")),
    );
    let mut stop = trigger.subscribe();
    tasks.spawn(async move {
        stop.recv().await;
        live.stop_all().await;
    });
    Ok(())
}

async fn start_on(
    config: &Config,
    tuning: Tuning,
    readiness: &Readiness,
    trigger: &ShutdownTrigger,
    mut tasks: JoinSet<()>,
    routes: &OnceLock<http::Routes>,
) -> Result<Started, StartError> {
    let store = Store::open(&config.database_url).await?;
    store.migrate().await?;
    // Wake-ups from the other instances on the same PostgreSQL database.
    tasks.spawn(store.clone().listen(trigger.subscribe()));
    readiness.database_open(&store);
    let mut per_group: HashMap<i64, usize> = HashMap::new();
    for c in &config.connections {
        *per_group.entry(c.group_id).or_default() += 1;
    }
    let mut connections = Vec::new();
    for c in &config.connections {
        connections.push(prepare(c, &store, per_group[&c.group_id] > 1).await?);
        tracing::info!(connection = %c.name, "connection ready");
    }
    let mut intakes = Vec::new();
    for c in &connections {
        let ctx = c.ctx.clone();
        // Every line a connection's tasks log carries its name (see `logging`).
        spawn_core(c, &store, tuning, trigger, &mut tasks);
        match &c.mode {
            Mode::Polling => spawn_polling(c, &store, trigger, &mut tasks).await,
            Mode::Webhook { url, secret } => {
                let hook = format!("{}/telegram/{}", url.trim_end_matches('/'), ctx.name);
                let extra = json!({"secret_token": secret.expose(), "allowed_updates": crate::telegram::ALL_UPDATES});
                c.tg.set_webhook(&hook, extra)
                    .await
                    .map_err(|e| StartError::Connection {
                        connection: ctx.name.clone(),
                        message: format!("setWebhook failed: {e}"),
                    })?;
                intakes.push(Intake {
                    name: ctx.name.clone(),
                    connection: ctx.connection,
                    secret: secret.clone(),
                    wake: c.wake.clone(),
                    updates: c.updates.clone(),
                });
            }
        }
    }
    start_setup_bot(config, tuning, &store, trigger, &mut tasks).await?;
    let state = WebhookState {
        store: store.clone(),
        intakes: Arc::new(intakes),
    };
    let specs = config
        .connections
        .iter()
        .zip(&connections)
        .map(|(cfg, c)| BotSpec {
            token: cfg.token.clone(),
            api_url: cfg.api_url.clone(),
            plain_http_webhooks: cfg.gateway_plain_http_webhooks,
            ctx: c.ctx.clone(),
            updates: c.updates.clone(),
            wake: c.wake.clone(),
        });
    let gateway = Gateway::new(&store, specs.collect()).await?;
    gateway.spawn(&mut tasks, trigger);
    let ctxs: Vec<_> = connections.iter().map(|c| c.ctx.clone()).collect();
    crate::api::delivery::spawn_all(&mut tasks, &store, ctxs.clone(), tuning.outbox, trigger);
    let api = crate::api::ApiState::new(store.clone(), ctxs);
    // The gateway layer also wraps the HTTP router's fallback (`/bot<token>/…`): merged
    // in as the second router, that fallback is the one the app keeps.
    let metrics = crate::metrics::MetricsState::new(
        store.clone(),
        connections
            .iter()
            .map(|c| (c.ctx.connection, c.ctx.name.clone()))
            .collect(),
        readiness.clone(),
    );
    let router =
        http::harden(crate::api::router(api).merge(http::router(state, gateway.clone(), metrics)));
    let _ = routes.set(http::Routes { router, gateway });
    // Every owned connection passed its checks and its tasks run: ready.
    for c in &connections {
        readiness.connection_passed(&c.ctx.name);
    }
    Ok((connections, store, tasks))
}
