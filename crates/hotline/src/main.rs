//! The `hotline` binary: `run` (for real Telegram), `sandbox` (everything offline),
//! `check-config` and `migrate`.

// Output goes through `hotline::outln!`: `println!` panics on a closed pipe.
#![deny(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hotline::config::{Config, Mode};
use hotline::store::Store;

/// A self-hosted helpdesk inside Telegram.
#[derive(Parser)]
#[command(name = "hotline", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run Hotline against Telegram with a configuration file (and environment overrides).
    Run {
        /// Path to the TOML configuration.
        #[arg(long, short, env = "HOTLINE_CONFIG")]
        config: PathBuf,
    },
    /// Run the whole system offline: a Telegram emulator with a demo bot, group and users,
    /// Hotline connected to it, and a web page showing both sides. Runs until Ctrl-C.
    Sandbox {
        /// Address of the emulator and its web page.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
        /// Address of Hotline's own HTTP port (webhooks, gateway, API).
        #[arg(long, default_value = "127.0.0.1:8091")]
        hotline_listen: std::net::SocketAddr,
        /// Keep the database in this directory (default: a temporary one).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Also start a demo bot with its own logic, connected through the gateway.
        #[arg(long)]
        parallel: bool,
    },
    /// Load and validate a configuration file; print each connection's effective settings
    /// (tokens are never printed).
    CheckConfig {
        /// Path to the TOML configuration.
        #[arg(long, short, env = "HOTLINE_CONFIG")]
        config: PathBuf,
    },
    /// Create, list or revoke API keys of a connection (a new key is printed once).
    ApiKey {
        /// Path to the TOML configuration.
        #[arg(long, short, env = "HOTLINE_CONFIG")]
        config: PathBuf,
        #[command(subcommand)]
        action: hotline::api::cli::KeyCommand,
    },
    /// Print (or rotate) the secret that signs a connection's outgoing webhooks.
    WebhookSecret {
        /// Path to the TOML configuration.
        #[arg(long, short, env = "HOTLINE_CONFIG")]
        config: PathBuf,
        /// Connection name (may be omitted when there is one connection).
        #[arg(long)]
        connection: Option<String>,
        /// Replace the secret with a new one.
        #[arg(long)]
        rotate: bool,
    },
    /// Create or upgrade the database schema named by the configuration.
    Migrate {
        /// Path to the TOML configuration.
        #[arg(long, short, env = "HOTLINE_CONFIG")]
        config: PathBuf,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn load(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("{}: {e}", path.display());
        ExitCode::from(2)
    })
}

/// The parameters stored with `/set` per connection, when the database already exists
/// (`check-config` never creates or migrates it).
async fn stored_overrides(config: &Config) -> Option<Vec<BTreeMap<String, String>>> {
    let url = &config.database_url;
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    if path.contains(":memory:") || !Path::new(path).exists() {
        return None;
    }
    let store = Store::open(url).await.ok()?;
    let mut out = Vec::new();
    for c in &config.connections {
        let found = match store.find_connection(&c.name).await {
            Ok(Some(id)) => store.param_overrides(id).await.unwrap_or_default(),
            _ => BTreeMap::new(),
        };
        out.push(found);
    }
    store.close().await;
    Some(out)
}

async fn check_config(path: &Path) -> Result<(), ExitCode> {
    let config = load(path)?;
    let stored = stored_overrides(&config).await;
    hotline::outln!("configuration OK: {}", path.display());
    hotline::outln!("database_url = {}", config.database_url);
    let h = &config.http;
    hotline::outln!("http.listen = {}", h.listen);
    hotline::outln!(
        "http: header_timeout_secs = {}, body_min_rate = {} (per {} s), idle_timeout_secs = {}, max_connections = {}",
        h.header_timeout.as_secs(),
        h.body_min_rate,
        h.body_window.as_secs(),
        h.idle_timeout.as_secs(),
        h.max_connections
    );
    let l = config.limits;
    hotline::outln!(
        "limits: bot_per_second = {}, private_per_second = {}, group_per_minute = {}",
        l.bot_per_second,
        l.private_per_second,
        l.group_per_minute
    );
    for (i, c) in config.connections.iter().enumerate() {
        let overrides = stored.as_ref().and_then(|s| s.get(i));
        hotline::outln!();
        hotline::outln!("[connection {}]", c.name);
        hotline::outln!("  token = {}", c.token);
        hotline::outln!("  group_id = {}", c.group_id);
        hotline::outln!("  api_url = {}", c.api_url);
        match &c.mode {
            Mode::Polling => hotline::outln!("  mode = polling"),
            Mode::Webhook { url, .. } => hotline::outln!("  mode = webhook ({url})"),
        }
        hotline::outln!("  time_zone = {}", c.time_zone);
        for (name, value) in c.params.entries() {
            match overrides.and_then(|o| o.get(name)) {
                Some(set) => hotline::outln!("  {name} = {set}   [set in Telegram; file: {value}]"),
                None => hotline::outln!("  {name} = {value}"),
            }
        }
    }
    hotline::outln!();
    match stored {
        Some(_) => hotline::outln!(
            "(values marked [set in Telegram] were stored with /set; they win over the file \
             until an admin sends /set NAME default)"
        ),
        None => hotline::outln!(
            "(no database yet: parameters changed with /set are stored there and win over the file)"
        ),
    }
    Ok(())
}

async fn migrate(path: &Path) -> Result<(), ExitCode> {
    let config = load(path)?;
    let fail = |e: hotline::store::StoreError| {
        eprintln!("migration failed: {e}");
        ExitCode::FAILURE
    };
    let store = Store::open(&config.database_url).await.map_err(fail)?;
    store.migrate().await.map_err(fail)?;
    for c in &config.connections {
        store.ensure_connection(&c.name).await.map_err(fail)?;
    }
    store.close().await;
    hotline::outln!("database is up to date");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn run(path: &Path) -> Result<(), ExitCode> {
    let config = load(path)?;
    let tuning = hotline::app::Tuning::for_config(&config);
    let mut running = hotline::app::start(&config, tuning).await.map_err(|e| {
        eprintln!("hotline: {e}");
        ExitCode::FAILURE
    })?;
    tracing::info!(addr = %running.addr, connections = running.connections.len(), "hotline is running");
    tokio::select! {
        _ = stop_signal() => tracing::info!("stopping: finishing calls in flight"),
        _ = running.wait() => tracing::error!("a task stopped unexpectedly; shutting down"),
    }
    running.stop().await;
    Ok(())
}

async fn sandbox(options: hotline::sandbox::Options) -> Result<(), ExitCode> {
    let sandbox = hotline::sandbox::start(options).await.map_err(|e| {
        eprintln!("sandbox: {e}");
        ExitCode::FAILURE
    })?;
    hotline::outln!("Hotline sandbox is running: open {}", sandbox.page_url);
    hotline::api::cli::print_sandbox_key(&sandbox.hotline).await;
    hotline::outln!(
        "(Telegram emulator at {}, Hotline at http://{}; Ctrl-C to stop)",
        sandbox.emulator.url(),
        sandbox.hotline.addr
    );
    stop_signal().await;
    sandbox.hotline.stop().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run { config } => run(config).await,
        Command::Sandbox {
            listen,
            hotline_listen,
            data_dir,
            parallel,
        } => {
            let options = hotline::sandbox::Options {
                listen: *listen,
                hotline_listen: *hotline_listen,
                data_dir: data_dir.clone(),
                parallel: *parallel,
            };
            sandbox(options).await
        }
        Command::CheckConfig { config } => check_config(config).await,
        Command::Migrate { config } => migrate(config).await,
        Command::ApiKey { config, action } => match load(config) {
            Ok(c) => hotline::api::cli::api_key(&c, action).await,
            Err(code) => Err(code),
        },
        Command::WebhookSecret {
            config,
            connection,
            rotate,
        } => match load(config) {
            Ok(c) => hotline::api::cli::webhook_secret(&c, connection.as_deref(), *rotate).await,
            Err(code) => Err(code),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
