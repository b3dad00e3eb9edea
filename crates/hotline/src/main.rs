//! The `hotline` binary. `run` and `sandbox` are added by the app wiring; this file holds
//! the commands that need only the foundation: `check-config` and `migrate`.

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
    /// Load and validate a configuration file; print each connection's effective settings
    /// (tokens are never printed).
    CheckConfig {
        /// Path to the TOML configuration.
        #[arg(long, short, env = "HOTLINE_CONFIG")]
        config: PathBuf,
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

fn check_config(path: &Path) -> Result<(), ExitCode> {
    let config = load(path)?;
    println!("configuration OK: {}", path.display());
    println!("database_url = {}", config.database_url);
    println!("http.listen = {}", config.http.listen);
    let l = config.limits;
    println!(
        "limits: bot_per_second = {}, private_per_second = {}, group_per_minute = {}",
        l.bot_per_second, l.private_per_second, l.group_per_minute
    );
    for c in &config.connections {
        println!();
        println!("[connection {}]", c.name);
        println!("  token = {}", c.token);
        println!("  group_id = {}", c.group_id);
        println!("  api_url = {}", c.api_url);
        match &c.mode {
            Mode::Polling => println!("  mode = polling"),
            Mode::Webhook { url, .. } => println!("  mode = webhook ({url})"),
        }
        println!("  time_zone = {}", c.time_zone);
        for (name, value) in c.params.entries() {
            println!("  {name} = {value}");
        }
    }
    println!();
    println!(
        "(parameters changed at runtime with /set are stored in the database and apply on top)"
    );
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
    println!("database is up to date");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::CheckConfig { config } => check_config(config),
        Command::Migrate { config } => migrate(config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
