//! Connection setup for the PostgreSQL backend (`postgres://user@host/db`), reached through
//! sqlx's `Any` driver so the queries are shared with SQLite.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;

use super::StoreError;

/// Migrations embedded in the binary (PostgreSQL flavour, same schema as SQLite's).
pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connects a pool to the PostgreSQL database at `url`. The database must exist.
pub(super) async fn open(url: &str) -> Result<AnyPool, StoreError> {
    let opts = AnyConnectOptions::from_str(url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(30))
        .idle_timeout(Some(Duration::from_secs(600)))
        .max_lifetime(Some(Duration::from_secs(3600)))
        .connect_with(opts)
        .await?;
    Ok(pool)
}
