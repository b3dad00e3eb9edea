//! `hotline api-key …` and `hotline webhook-secret`: key management from the server's shell
//! (the first key has to come from somewhere; `/apikey` in General is the other way).

// Output goes through `crate::outln!`: `println!` panics on a closed pipe.
#![deny(clippy::print_stdout)]

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;
use crate::store::{ConnectionId, Store, StoreError};

/// `hotline api-key` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum KeyCommand {
    /// Create a key and print it (once: only its hash is stored).
    Create {
        /// Connection name (may be omitted when there is one connection).
        #[arg(long)]
        connection: Option<String>,
        /// A label for the key.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List the keys (ids, prefixes, names; never the keys).
    List {
        /// Connection name (may be omitted when there is one connection).
        #[arg(long)]
        connection: Option<String>,
    },
    /// Revoke a key by id.
    Revoke {
        /// Connection name (may be omitted when there is one connection).
        #[arg(long)]
        connection: Option<String>,
        /// The key's id (from `list`).
        id: i64,
    },
}

fn fail(e: StoreError) -> ExitCode {
    eprintln!("database: {e}");
    ExitCode::FAILURE
}

async fn open(config: &Config, name: Option<&str>) -> Result<(Store, ConnectionId), ExitCode> {
    let name = match name {
        Some(n) => n.to_string(),
        None if config.connections.len() == 1 => config.connections[0].name.clone(),
        None => {
            eprintln!("several connections: choose one with --connection NAME");
            return Err(ExitCode::from(2));
        }
    };
    if !config.connections.iter().any(|c| c.name == name) {
        eprintln!("no connection named {name:?} in the configuration");
        return Err(ExitCode::from(2));
    }
    let store = Store::open(&config.database_url).await.map_err(fail)?;
    store.migrate().await.map_err(fail)?;
    let id = store.ensure_connection(&name).await.map_err(fail)?;
    Ok((store, id))
}

/// Runs `hotline api-key ACTION`.
pub async fn api_key(config: &Config, action: &KeyCommand) -> Result<(), ExitCode> {
    match action {
        KeyCommand::Create { connection, name } => {
            let name = super::keys::check_name(name).map_err(|e| {
                eprintln!("{}", e.message);
                ExitCode::from(2)
            })?;
            let (store, conn) = open(config, connection.as_deref()).await?;
            let k = super::auth::create_key(&store, conn, name, "cli")
                .await
                .map_err(fail)?;
            store.close().await;
            eprintln!("API key #{} created; it is shown only now:", k.id);
            crate::outln!("{}", k.key);
        }
        KeyCommand::List { connection } => {
            let (store, conn) = open(config, connection.as_deref()).await?;
            for k in store.api_keys(conn).await.map_err(fail)? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "live"
                };
                crate::outln!(
                    "#{}\t{}…\t{}\t{}\tby {}",
                    k.id,
                    k.prefix,
                    state,
                    k.name,
                    k.created_by
                );
            }
            store.close().await;
        }
        KeyCommand::Revoke { connection, id } => {
            let (store, conn) = open(config, connection.as_deref()).await?;
            let done = store
                .revoke_api_key(conn, *id, crate::store::now_ms())
                .await
                .map_err(fail)?;
            store.close().await;
            if !done {
                eprintln!("no live key #{id}");
                return Err(ExitCode::FAILURE);
            }
            crate::outln!("key #{id} revoked");
        }
    }
    Ok(())
}

/// Runs `hotline webhook-secret`: prints (or with `rotate` replaces) the signing secret.
pub async fn webhook_secret(
    config: &Config,
    connection: Option<&str>,
    rotate: bool,
) -> Result<(), ExitCode> {
    let (store, conn) = open(config, connection).await?;
    let secret = if rotate {
        super::delivery::rotate_secret(&store, conn, config.webhook_secret_grace).await
    } else {
        super::delivery::secret(&store, conn).await
    }
    .map_err(fail)?;
    store.close().await;
    crate::outln!("{secret}");
    Ok(())
}
