//! Pool setup for the SQLite backend (the embedded default), reached through sqlx's `Any`
//! so the queries are shared with PostgreSQL. The connections are Hotline's own driver's
//! (`sqlite_driver`: WAL, `synchronous = NORMAL`, foreign keys, lock waits of up to 10 s).

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::AnyPool;

use super::{files, StoreError};

/// Migrations embedded in the binary (SQLite flavour).
pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Opens (creating if needed) the SQLite database at `url` (`sqlite://path`,
/// `sqlite::memory:`); its directory and files are made private first ([`files`]).
pub(super) async fn open(url: &str) -> Result<AnyPool, StoreError> {
    let memory = url.contains(":memory:");
    let mut url = url.to_string();
    if !memory {
        let path = SqliteConnectOptions::from_str(&url)?
            .get_filename()
            .to_path_buf();
        files::secure(&path).map_err(|source| StoreError::DataFiles { path, source })?;
        if !url.contains("mode=") {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("mode=rwc");
        }
    }
    let opts = AnyConnectOptions::from_str(&url)?;
    // An in-memory database exists per connection: keep exactly one.
    let max = if memory { 1 } else { 8 };
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        // A local file does not hang up: no ping before every checkout.
        .test_before_acquire(false)
        .min_connections(if memory { 1 } else { 0 })
        .idle_timeout(if memory {
            None
        } else {
            Some(Duration::from_secs(600))
        })
        .max_lifetime(if memory {
            None
        } else {
            Some(Duration::from_secs(3600))
        })
        .connect_with(opts)
        .await?;
    Ok(pool)
}
