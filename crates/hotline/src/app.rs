//! Starting and stopping Hotline: the database, the configuration file's connections
//! started through the [`Runtime`] (which owns them and their tasks), the setup bot, the
//! gateway and one HTTP server for webhooks, the API, metrics and health.
//!
//! The HTTP port is bound first ([`bind`]) so `/health` and `/ready` answer during the
//! start-up checks; every other route answers 503 until [`Starting::start`] has built it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::{Config, Mode};
use crate::http;
use crate::intake::webhook::{Intake, WebhookState};
use crate::ready::Readiness;
pub use crate::runtime::{prepare, registry, subscribers, Connection, Runtime, StartError, Tuning};
use crate::shutdown::ShutdownTrigger;
use crate::store::Store;

/// A running Hotline.
pub struct Running {
    /// The HTTP address (webhooks, health; later gateway and API).
    pub addr: SocketAddr,
    /// The connections of the configuration file, as started.
    pub connections: Vec<Connection>,
    /// The database.
    pub store: Store,
    /// Every connection this instance runs (the file's and the setup bot's).
    pub runtime: Arc<Runtime>,
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
        self.runtime.gateway().begin_stop();
    }

    /// Stops every task, letting in-flight calls finish: the HTTP port's requests, then
    /// the parallel bot's calls whose bot stopped waiting (they are still journaled).
    pub async fn stop(mut self) {
        self.begin_stop();
        self.trigger.trigger();
        self.runtime.stop_all().await;
        while self.tasks.join_next().await.is_some() {}
        self.runtime.gateway().drain(http::serve::DRAIN).await;
    }

    /// Resolves when a task ended on its own (it should not: the caller stops and exits
    /// non-zero) or after `stop`; a task's panic is logged here (a connection's task's
    /// by the runtime).
    pub async fn wait(&mut self) {
        let joined = tokio::select! {
            j = self.tasks.join_next() => j,
            _ = self.runtime.task_ended() => None,
        };
        if let Some(Err(e)) = joined {
            let why = if e.is_panic() {
                crate::isolation::panic_message(e.into_panic().as_ref())
            } else {
                e.to_string()
            };
            tracing::error!(error = %why, "a task failed");
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
        let started = start_on(config, tuning, addr, &readiness, &trigger, tasks, &app).await;
        let (connections, runtime, tasks) = match started {
            Ok(started) => started,
            Err((e, runtime)) => {
                trigger.trigger();
                if let Some(runtime) = runtime {
                    runtime.stop_all().await;
                }
                return Err(e);
            }
        };
        Ok(Running {
            addr,
            connections,
            store: runtime.store().clone(),
            runtime,
            readiness,
            trigger,
            tasks,
        })
    }
}

type Started = (Vec<Connection>, Arc<Runtime>, JoinSet<()>);
/// Why start-up failed, with the runtime to stop when it was created.
type Failed = (StartError, Option<Arc<Runtime>>);

/// Starts the setup bot when configured: the stored connections first (each checked as at
/// start-up), then the bot itself; both stop with Hotline.
async fn start_setup_bot(
    config: &Config,
    runtime: &Arc<Runtime>,
    store: &Store,
    trigger: &ShutdownTrigger,
    tasks: &mut JoinSet<()>,
) -> Result<(), StartError> {
    let Some(setup) = &config.setup_bot else {
        return Ok(());
    };
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
        runtime.clone(),
        config.webhook_targets.clone(),
        config.webhook_secret_grace,
    );
    bot.start_stored().await?;
    let bot = Arc::new(bot);
    // Every instance follows the stored connections (one added on another instance gets a
    // standby here); one instance at a time serves the bot itself, under its own lease.
    let follower = bot.clone();
    let shutdown = trigger.subscribe();
    tasks.spawn(
        async move {
            follower
                .follow_stored(crate::setup::FOLLOW_EVERY, shutdown)
                .await
        }
        .instrument(tracing::info_span!("setup_bot")),
    );
    let lease = store.ensure_connection(crate::setup::LEASE_NAME).await?;
    crate::metrics::name_connection(lease, crate::setup::LEASE_NAME);
    let leasing = runtime.leasing().clone();
    tasks.spawn(
        crate::lease::hold(
            store.clone(),
            lease,
            leasing.address,
            leasing.claim,
            leasing.timing,
            crate::lease::Clock::default(),
            trigger.subscribe(),
            || tracing::info!("setup bot: served by another instance; standing by"),
            move |_held, stop| {
                let bot = bot.clone();
                async move { bot.run(stop).await }
            },
        )
        .instrument(tracing::info_span!("setup_bot")),
    );
    Ok(())
}

async fn start_on(
    config: &Config,
    tuning: Tuning,
    address: SocketAddr,
    readiness: &Readiness,
    trigger: &ShutdownTrigger,
    mut tasks: JoinSet<()>,
    routes: &OnceLock<http::Routes>,
) -> Result<Started, Failed> {
    let store = Store::open(&config.database_url)
        .await
        .map_err(|e| (e.into(), None))?;
    store.migrate().await.map_err(|e| (e.into(), None))?;
    readiness.database_open(&store);
    // Wake-ups from the other instances on the same PostgreSQL database.
    tasks.spawn(store.clone().listen(trigger.subscribe()));
    // Where the other instances forward this instance's connections' gateway calls.
    let advertised = config.http.advertised(address).unwrap_or_default();
    if advertised.is_empty() && store.backend() == crate::store::Backend::Postgres {
        tracing::warn!(
            listen = %address,
            "http.advertise is not set and the port listens on an unspecified address: other \
             instances cannot forward a parallel bot's calls to this one (they serve them \
             themselves, and Telegram's one-poller rule holds per instance only)"
        );
    }
    let leasing = crate::runtime::Leasing::for_store(&store, advertised);
    let runtime = Arc::new(Runtime::new(store, tuning, readiness.clone()).with_leasing(leasing));
    match start_connections(config, &runtime, readiness, trigger, tasks, routes).await {
        Ok((connections, tasks)) => Ok((connections, runtime, tasks)),
        Err(e) => Err((e, Some(runtime))),
    }
}

/// Checks and starts the file's connections through the runtime, then the setup bot, the
/// gateway and the routes.
async fn start_connections(
    config: &Config,
    runtime: &Arc<Runtime>,
    readiness: &Readiness,
    trigger: &ShutdownTrigger,
    mut tasks: JoinSet<()>,
    routes: &OnceLock<http::Routes>,
) -> Result<(Vec<Connection>, JoinSet<()>), StartError> {
    let store = runtime.store().clone();
    let mut per_group: HashMap<i64, usize> = HashMap::new();
    for c in &config.connections {
        *per_group.entry(c.group_id).or_default() += 1;
    }
    // Every connection is checked before any starts: one failing stops the start-up.
    let mut connections = Vec::new();
    for c in &config.connections {
        connections.push(prepare(c, &store, per_group[&c.group_id] > 1).await?);
        tracing::info!(connection = %c.name, "connection ready");
    }
    let mut intakes = Vec::new();
    for c in &connections {
        runtime.add(c.clone()).await?;
        runtime.own(&c.ctx.name).await?;
        if let Mode::Webhook { secret, .. } = &c.mode {
            intakes.push(Intake {
                name: c.ctx.name.clone(),
                connection: c.ctx.connection,
                secret: secret.clone(),
                wake: c.wake.clone(),
                updates: c.updates.clone(),
            });
        }
    }
    start_setup_bot(config, runtime, &store, trigger, &mut tasks).await?;
    let state = WebhookState {
        store: store.clone(),
        intakes: Arc::new(intakes),
    };
    let gateway = runtime.gateway().clone();
    gateway.spawn(&mut tasks, trigger);
    // The gateway, the API and `/metrics` read the runtime's live set of connections.
    // The gateway layer also wraps the HTTP router's fallback (`/bot<token>/…`): merged
    // in as the second router, that fallback is the one the app keeps.
    let router = http::harden(
        crate::api::router(runtime.api().clone()).merge(http::router(
            state,
            gateway.clone(),
            runtime.metrics().clone(),
        )),
    );
    let _ = routes.set(http::Routes { router, gateway });
    // Every owned connection passed its checks and its tasks run: ready.
    for c in &connections {
        readiness.connection_passed(&c.ctx.name);
    }
    Ok((connections, tasks))
}
