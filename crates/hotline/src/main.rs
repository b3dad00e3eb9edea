//! The `hotline` binary: `run` (for real Telegram), `sandbox` (everything offline),
//! `check-config`, `migrate`, `backup`/`restore`, and key management.
//!
//! Global options (`--config`, `--log-format`) are accepted before or after the
//! subcommand, so every command line in the docs works as written.

// Output goes through `hotline::outln!`: `println!` panics on a closed pipe.
#![deny(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};
use hotline::config::{Config, Mode};
use hotline::logging::LogFormat;
use hotline::store::Store;

/// mimalloc rather than glibc's malloc: cheaper per allocation on the gateway's and the
/// relay's paths (bench/README.md has the measurement).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A self-hosted helpdesk inside Telegram.
#[derive(Parser)]
#[command(name = "hotline", version, about)]
struct Cli {
    /// Path to the TOML configuration (every command but `sandbox` needs one).
    #[arg(
        long,
        short,
        env = "HOTLINE_CONFIG",
        global = true,
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
    /// Log format on stderr (default: `log_format` in the file, else text).
    #[arg(long, env = "HOTLINE_LOG_FORMAT", global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run Hotline against Telegram with a configuration file (and environment overrides).
    Run,
    /// Run the whole system offline: a Telegram emulator with a demo bot, group and users,
    /// Hotline connected to it, and a web page showing both sides. Runs until Ctrl-C.
    Sandbox {
        /// Address of the emulator and its web page.
        #[arg(long, env = "HOTLINE_SANDBOX_LISTEN", default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
        /// Address of Hotline's own HTTP port (webhooks, gateway, API).
        #[arg(
            long,
            env = "HOTLINE_SANDBOX_HOTLINE_LISTEN",
            default_value = "127.0.0.1:8091"
        )]
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
    CheckConfig,
    /// Create, list or revoke API keys of a connection (a new key is printed once).
    ApiKey {
        #[command(subcommand)]
        action: hotline::api::cli::KeyCommand,
    },
    /// Print (or rotate) the secret that signs a connection's outgoing webhooks.
    WebhookSecret {
        /// Connection name (may be omitted when there is one connection).
        #[arg(long)]
        connection: Option<String>,
        /// Replace the secret with a new one.
        #[arg(long)]
        rotate: bool,
    },
    /// Inspect the items set aside after repeated failures (updates, outbox intents,
    /// webhook deliveries): list them, re-queue one, or drop one.
    DeadLetters {
        #[command(subcommand)]
        action: hotline::isolation::DeadLetterCommand,
    },
    /// Create or upgrade the database schema named by the configuration.
    Migrate,
    /// Copy the SQLite database into a new file (mode 0600), consistently, while Hotline
    /// runs. For PostgreSQL use pg_dump.
    Backup {
        /// The new backup file (never overwritten).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Replace the SQLite database with a backup. Stop Hotline first: the database must
    /// not be in use. The replaced database is kept next to it.
    Restore {
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
}

impl Command {
    fn needs_config(&self) -> bool {
        !matches!(self, Command::Sandbox { .. })
    }
}

fn load(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("{}: {e}", path.display());
        ExitCode::from(2)
    })
}

/// The parameters stored with `/set` per connection, when the database already exists
/// (`check-config` never creates or migrates it: a SQLite file must be there, a PostgreSQL
/// database must accept the connection).
async fn stored_overrides(config: &Config) -> Option<Vec<BTreeMap<String, String>>> {
    let url = &config.database_url;
    if hotline::store::Backend::of_url(url)? == hotline::store::Backend::Sqlite
        && !hotline::backup::sqlite_path(url).ok()?.exists()
    {
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

async fn check_config(path: &Path, config: &Config) -> Result<(), ExitCode> {
    let stored = stored_overrides(config).await;
    hotline::outln!("configuration OK: {}", path.display());
    hotline::outln!(
        "database_url = {}",
        hotline::config::redact_url(&config.database_url)
    );
    let h = &config.http;
    hotline::outln!("http.listen = {}", h.listen);
    match h.advertised(h.listen) {
        Some(a) if h.advertise.is_some() => hotline::outln!("http.advertise = {a}"),
        Some(a) if h.listen.port() != 0 => {
            hotline::outln!("http.advertise = {a} (the listen address)")
        }
        Some(_) => hotline::outln!("http.advertise = (the bound listen address)"),
        None => hotline::outln!("http.advertise = (not set)"),
    }
    let several = hotline::store::Backend::of_url(&config.database_url)
        == Some(hotline::store::Backend::Postgres);
    if several && h.advertise.is_none() && h.listen.ip().is_unspecified() {
        hotline::outln!(
            "  warning: several instances may share this PostgreSQL database, and http.listen \
             = {} is no address another instance can reach: set http.advertise (or \
             HOTLINE_HTTP_ADVERTISE) to this instance's own address, e.g. \
             http://10.0.0.5:{}, so the others can pass a parallel bot's calls to it \
             (docs/deployment.md, \"Several instances\")",
            h.listen,
            h.listen.port()
        );
    }
    hotline::outln!(
        "http: header_timeout_secs = {}, body_min_rate = {} (per {} s), idle_timeout_secs = {}, max_connections = {}",
        h.header_timeout.as_secs(),
        h.body_min_rate,
        h.body_window.as_secs(),
        h.idle_timeout.as_secs(),
        h.max_connections
    );
    hotline::outln!(
        "log_format = {}",
        config.log_format.unwrap_or_default().name()
    );
    let l = config.limits;
    hotline::outln!(
        "limits: bot_per_second = {}, private_per_second = {}, group_per_minute = {}",
        l.bot_per_second,
        l.private_per_second,
        l.group_per_minute
    );
    if let Some(s) = &config.setup_bot {
        hotline::outln!();
        hotline::outln!("[setup_bot]");
        hotline::outln!("  token = {}", s.token);
        hotline::outln!("  owners = {:?}", s.owners);
        hotline::outln!("  api_url = {}", s.api_url);
        hotline::outln!("  secret_key = {:?}", s.secret_key);
    }
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
        if c.gateway_plain_http_webhooks {
            hotline::outln!("  gateway_plain_http_webhooks = true");
        }
        hotline::outln!("  time_zone = {}", c.time_zone);
        for (name, value) in c.params.entries() {
            match overrides.and_then(|o| o.get(name)) {
                Some(set) => hotline::outln!("  {name} = {set}   [set in Telegram; file: {value}]"),
                None => hotline::outln!("  {name} = {value}"),
            }
        }
        let welcome = overrides
            .and_then(|o| o.get("WELCOME"))
            .cloned()
            .or_else(|| c.params.get("WELCOME"))
            .unwrap_or_default();
        if let Some(line) = hotline::config::welcome_warning(&welcome) {
            hotline::outln!("  {line}");
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

async fn migrate(config: &Config) -> Result<(), ExitCode> {
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

/// Starts listening for Ctrl-C and SIGTERM at once — a signal that arrives while Hotline
/// is still starting is then a clean stop, not the default fatal one — and returns a future
/// that resolves on either.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("signal handler");
        let mut int = signal(SignalKind::interrupt()).expect("signal handler");
        async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run(config: &Config) -> Result<(), ExitCode> {
    let stop = stop_signal();
    hotline::logging::announce("run");
    let tuning = hotline::app::Tuning::for_config(config);
    let mut running = hotline::app::start(config, tuning).await.map_err(|e| {
        eprintln!("hotline: {e}");
        ExitCode::FAILURE
    })?;
    tracing::info!(addr = %running.addr, connections = running.connections.len(), "hotline is running");
    let failed = tokio::select! {
        _ = stop => {
            running.begin_stop();
            tracing::info!("stopping: not ready any more, finishing calls in flight");
            false
        }
        _ = running.wait() => {
            tracing::error!("a task stopped unexpectedly; shutting down");
            true
        }
    };
    running.stop().await;
    if failed {
        // A service manager must see the failure (and restart per its policy).
        eprintln!("hotline: a task stopped unexpectedly (see the log); exiting with status 1");
        return Err(ExitCode::FAILURE);
    }
    Ok(())
}

async fn sandbox(options: hotline::sandbox::Options) -> Result<(), ExitCode> {
    let stop = stop_signal();
    hotline::logging::announce("sandbox");
    let sandbox = hotline::sandbox::start(options).await.map_err(|e| {
        eprintln!("sandbox: {e}");
        ExitCode::FAILURE
    })?;
    hotline::outln!("Hotline sandbox is running: open {}", sandbox.page_url);
    hotline::outln!(
        "The setup bot (docs/setup-bot.md), as Olga: {} (/connect, then the token {})",
        sandbox.setup_url,
        hotline::sandbox::SHOP_TOKEN
    );
    hotline::sandbox::print_sandbox_key(&sandbox.hotline).await;
    hotline::outln!(
        "(Telegram emulator at {}, Hotline at http://{}; Ctrl-C to stop)",
        sandbox.emulator.url(),
        sandbox.hotline.addr
    );
    stop.await;
    sandbox.hotline.stop().await;
    Ok(())
}

async fn backup(config: &Config, to: &Path) -> Result<(), ExitCode> {
    match hotline::backup::backup(&config.database_url, to).await {
        Ok(s) => {
            hotline::outln!(
                "backed up {} tables ({} rows, {} bytes) to {}",
                s.tables,
                s.rows,
                s.bytes,
                to.display()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("backup: {e}");
            Err(backup_exit(&e))
        }
    }
}

async fn restore(config: &Config, from: &Path) -> Result<(), ExitCode> {
    match hotline::backup::restore(&config.database_url, from).await {
        Ok(r) => {
            hotline::outln!("restored {}", from.display());
            if let Some(previous) = r.previous {
                hotline::outln!("the replaced database was kept as {}", previous.display());
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("restore: {e}");
            Err(backup_exit(&e))
        }
    }
}

/// 2 for "not possible as asked" (wrong database kind, existing file, in use), 1 otherwise.
fn backup_exit(e: &hotline::backup::BackupError) -> ExitCode {
    use hotline::backup::BackupError as E;
    match e {
        E::Postgres | E::Memory | E::Unsupported | E::Exists(_) | E::InUse(_) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match (&cli.config, cli.command.needs_config()) {
        (Some(path), true) => match load(path) {
            Ok(c) => Some(c),
            Err(code) => return code,
        },
        (None, true) => Cli::command()
            .error(
                ErrorKind::MissingRequiredArgument,
                "the configuration file is required: --config FILE (or HOTLINE_CONFIG)",
            )
            .exit(),
        (_, false) => None,
    };
    let format = cli
        .log_format
        .or(config.as_ref().and_then(|c| c.log_format))
        .unwrap_or_default();
    hotline::logging::init(format);
    let path = cli.config.as_deref().unwrap_or(Path::new(""));
    let result = match (&cli.command, &config) {
        (
            Command::Sandbox {
                listen,
                hotline_listen,
                data_dir,
                parallel,
            },
            _,
        ) => {
            let options = hotline::sandbox::Options {
                listen: *listen,
                hotline_listen: *hotline_listen,
                data_dir: data_dir.clone(),
                parallel: *parallel,
            };
            sandbox(options).await
        }
        (_, None) => unreachable!("every other command loaded its configuration"),
        (Command::Run, Some(c)) => run(c).await,
        (Command::CheckConfig, Some(c)) => check_config(path, c).await,
        (Command::Migrate, Some(c)) => migrate(c).await,
        (Command::ApiKey { action }, Some(c)) => hotline::api::cli::api_key(c, action).await,
        (Command::WebhookSecret { connection, rotate }, Some(c)) => {
            hotline::api::cli::webhook_secret(c, connection.as_deref(), *rotate).await
        }
        (Command::DeadLetters { action }, Some(c)) => hotline::isolation::command(c, action).await,
        (Command::Backup { to }, Some(c)) => backup(c, to).await,
        (Command::Restore { from }, Some(c)) => restore(c, from).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "hotline", "api-key", "create", "--config", "h.toml", "--name", "ci",
        ])
        .unwrap();
        assert_eq!(cli.config.as_deref(), Some(Path::new("h.toml")));
        let cli = Cli::try_parse_from(["hotline", "run", "-c", "h.toml", "--log-format", "json"])
            .unwrap();
        assert_eq!(cli.log_format, Some(LogFormat::Json));
        assert!(Cli::try_parse_from(["hotline", "--config", "h.toml", "migrate"]).is_ok());
    }

    /// Every variable the command line reads is in docs/configuration.md (the file's keys and
    /// the parser's variables are checked by tests/docs.rs).
    #[test]
    fn every_cli_variable_is_documented() {
        let doc = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"),
        )
        .unwrap();
        fn vars(cmd: &clap::Command, out: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                if let Some(env) = arg.get_env() {
                    out.push(env.to_string_lossy().to_string());
                }
            }
            for sub in cmd.get_subcommands() {
                vars(sub, out);
            }
        }
        let mut found = Vec::new();
        vars(&Cli::command(), &mut found);
        assert!(found.len() >= 4, "{found:?}");
        for var in found {
            assert!(
                doc.contains(&format!("| `{var}` |")),
                "{var} is read by the command line but not in docs/configuration.md"
            );
        }
    }
}
