//! Persistence behind one narrow interface. All SQL of Hotline lives in this module.
//!
//! Two backends, one code: SQLite (the default: WAL, `busy_timeout`, foreign keys) and
//! PostgreSQL (`postgres://` URLs). Every query is written once, with `$N` placeholders and
//! portable SQL (`ON CONFLICT`, `RETURNING`, partial indexes), through the small layer in
//! `db` that binds it onto whichever driver the store opened; each backend has its own
//! migrations (`migrations/sqlite`, `migrations/postgres`, the same versions). Callers only
//! see domain types ([`Contact`], [`Dialog`], [`Intent`], ...).
//!
//! Reads and single writes go through [`Store`]; a decision that changes several rows and
//! enqueues outbox intents goes through a [`Tx`] from [`Store::begin`], so it is committed
//! atomically and the outbox worker is woken only after the commit.

mod admins;
mod albums;
mod api_keys;
mod api_lists;
mod broadcasts;
mod contacts;
mod db;
mod dialogs;
mod events;
pub mod files;
mod filter;
mod gateway;
mod links;
mod outbox;
mod params;
mod quick_replies;
mod tags;
mod updates;

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};
use tokio::sync::Notify;

pub use api_keys::{ApiKey, ApiUpload};
pub use api_lists::ContactFilter;
pub use broadcasts::{
    Broadcast, DialogEvent, ExportRow, NewBroadcast, RecipientCounts, RecipientDelivery, ReportRow,
};
pub use contacts::{Contact, ContactProfile};
pub use dialogs::{Dialog, DialogStatus};
pub use events::{Delivery, DeliveryStats, HistoryMessage, NewDelivery, NewHistoryMessage};
pub use filter::{Bind, Compiled};
pub use gateway::{GatewayCall, GatewayState};
pub use links::{Direction, MessageLink, NewLink};
pub use outbox::{Intent, IntentId, Lane, NewIntent, OutboxStats};
pub use quick_replies::{NewQuickReply, QuickReply, MEDIA_ITEMS_TTL_MS};
pub use tags::{Tag, TagMember};
pub use updates::StoredUpdate;

pub(crate) use db::Conn;

/// Migrations embedded in the binary, SQLite flavour.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// Migrations embedded in the binary, PostgreSQL flavour (same versions as SQLite's).
static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Storage failures. Messages never contain the database password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database driver failed (I/O, constraint, locked past the busy timeout, ...).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row holds a value Hotline cannot interpret (hand-edited DB, newer schema).
    #[error("corrupt row in {table}: {message}")]
    Corrupt {
        /// The table the row came from.
        table: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The database URL is not one this build supports.
    #[error("unsupported database URL: {0}")]
    UnsupportedUrl(String),
    /// The data directory or a database file could not be created or made private.
    #[error("data files at {path}: {source}")]
    DataFiles {
        /// The database path.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Store-assigned id of a connection (stable across renames of nothing: keyed by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub i64);

/// Unix time in milliseconds, the unit of every timestamp column.
pub type UnixMs = i64;

/// Current wall-clock time in Unix milliseconds.
pub fn now_ms() -> UnixMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Outbox wake-ups, one per connection, shared by every clone of the [`Store`].
#[derive(Default)]
struct Wakers {
    map: Mutex<HashMap<ConnectionId, Arc<Notify>>>,
}

impl Wakers {
    fn get(&self, c: ConnectionId) -> Arc<Notify> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(c).or_default().clone()
    }
}

/// The pool of whichever backend the URL named.
#[derive(Clone)]
enum Pool {
    Lite(SqlitePool),
    Pg(PgPool),
}

/// Which engine a [`Store`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (`sqlite://path`, `sqlite::memory:`), the embedded default.
    Sqlite,
    /// PostgreSQL (`postgres://` or `postgresql://`).
    Postgres,
}

/// Handle to the database. Cheap to clone; all clones share the pool and the wake-ups.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    wakers: Arc<Wakers>,
    /// Taken by every [`Tx`] until it ends. SQLite has one writer at a time, and a
    /// transaction that waits in SQLite's busy handler sleeps in steps of up to 100 ms
    /// after the lock is already free; queued here, the next one starts at once. On
    /// PostgreSQL it keeps the decisions of one process serialised exactly as on SQLite
    /// (read-then-write decisions never race each other at READ COMMITTED).
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (backend, size) = match &self.pool {
            Pool::Lite(p) => ("sqlite", p.size()),
            Pool::Pg(p) => ("postgres", p.size()),
        };
        f.debug_struct("Store")
            .field("backend", &backend)
            .field("pool_size", &size)
            .finish()
    }
}

/// The backend a database URL names, if this build supports it.
pub fn backend_of(url: &str) -> Option<Backend> {
    if url.starts_with("sqlite:") {
        Some(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Backend::Postgres)
    } else {
        None
    }
}

/// `url` without its password (for messages and logs).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..s + 3], &userinfo[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Store {
    /// Opens the database at `url`: SQLite (`sqlite://path`, `sqlite::memory:`; created if
    /// needed, its directory and files made private first, see [`files`]) or PostgreSQL
    /// (`postgres://user:password@host:port/db`; the database must exist).
    /// Does not migrate: call [`Store::migrate`] (the server does at start).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = match backend_of(url) {
            Some(Backend::Sqlite) => Pool::Lite(Self::open_sqlite(url).await?),
            Some(Backend::Postgres) => {
                let opts = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(8)
                    .idle_timeout(Some(Duration::from_secs(600)))
                    .max_lifetime(Some(Duration::from_secs(3600)))
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await?;
                tracing::debug!("store opened (postgres)");
                Pool::Pg(pool)
            }
            None => {
                return Err(StoreError::UnsupportedUrl(
                    url.split('@').next_back().unwrap_or("").to_string(),
                ))
            }
        };
        Ok(Self {
            pool,
            wakers: Arc::default(),
            writer: Arc::default(),
        })
    }

    async fn open_sqlite(url: &str) -> Result<SqlitePool, StoreError> {
        let memory = url.contains(":memory:");
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if !memory {
            let path = opts.get_filename().to_path_buf();
            files::secure(&path).map_err(|source| StoreError::DataFiles { path, source })?;
        }
        // An in-memory database exists per connection: keep exactly one.
        let max = if memory { 1 } else { 8 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
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
        tracing::debug!(memory, "store opened");
        Ok(pool)
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Lite(_) => Backend::Sqlite,
            Pool::Pg(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations (the backend's own set).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Lite(p) => MIGRATOR.run(p).await?,
            Pool::Pg(p) => PG_MIGRATOR.run(p).await?,
        }
        Ok(())
    }

    /// Starts a transaction for a decision that must be recorded atomically.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let writer = self.writer.clone().lock_owned().await;
        let tx = match &self.pool {
            // IMMEDIATE: take the write lock first. A deferred transaction that reads
            // before it writes fails with SQLITE_BUSY_SNAPSHOT (not waited out by the busy
            // timeout) when another writer commits in between; every Hotline transaction
            // writes, so waiting for the lock up front costs nothing and never fails.
            Pool::Lite(p) => TxInner::Lite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Pg(p) => TxInner::Pg(p.begin().await?),
        };
        Ok(Tx {
            _writer: writer,
            tx,
            wake: BTreeSet::new(),
            wakers: self.wakers.clone(),
        })
    }

    /// The wake-up the outbox worker of `connection` waits on; notified after every commit
    /// that enqueued intents for it.
    pub fn outbox_notify(&self, connection: ConnectionId) -> Arc<Notify> {
        self.wakers.get(connection)
    }

    /// Closes the pool, waiting for checked-out connections (used at shutdown).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Lite(p) => p.close().await,
            Pool::Pg(p) => p.close().await,
        }
    }

    async fn conn(&self) -> Result<PoolConn, StoreError> {
        Ok(match &self.pool {
            Pool::Lite(p) => PoolConn::Lite(p.acquire().await?),
            Pool::Pg(p) => PoolConn::Pg(p.acquire().await?),
        })
    }
}

/// A connection checked out of the pool; [`PoolConn::c`] borrows it for queries.
enum PoolConn {
    Lite(sqlx::pool::PoolConnection<Sqlite>),
    Pg(sqlx::pool::PoolConnection<Postgres>),
}

impl PoolConn {
    fn c(&mut self) -> Conn<'_> {
        match self {
            PoolConn::Lite(c) => Conn::Lite(c),
            PoolConn::Pg(c) => Conn::Pg(c),
        }
    }
}

enum TxInner {
    Lite(sqlx::Transaction<'static, Sqlite>),
    Pg(sqlx::Transaction<'static, Postgres>),
}

/// A store transaction. Dropping it without [`Tx::commit`] rolls back.
pub struct Tx {
    tx: TxInner,
    /// This process's turn to write (see [`Store::begin`]); released when the Tx ends.
    _writer: tokio::sync::OwnedMutexGuard<()>,
    wake: BTreeSet<ConnectionId>,
    wakers: Arc<Wakers>,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("wake", &self.wake).finish()
    }
}

impl Tx {
    /// Commits, then wakes the outbox workers of connections that got new intents.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.tx {
            TxInner::Lite(t) => t.commit().await?,
            TxInner::Pg(t) => t.commit().await?,
        }
        for c in self.wake {
            self.wakers.get(c).notify_one();
        }
        Ok(())
    }

    /// Abandons every change (same as dropping, but explicit).
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.tx {
            TxInner::Lite(t) => t.rollback().await?,
            TxInner::Pg(t) => t.rollback().await?,
        }
        Ok(())
    }

    fn c(&mut self) -> Conn<'_> {
        match &mut self.tx {
            TxInner::Lite(t) => Conn::Lite(t),
            TxInner::Pg(t) => Conn::Pg(t),
        }
    }
}

/// Declares methods available both on [`Store`] (auto-commit) and on [`Tx`] (inside the
/// transaction), forwarding to one implementation over `&mut Conn<'_>` (either backend).
macro_rules! store_methods {
    ($(
        $(#[$meta:meta])*
        pub async fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty => $imp:path;
    )*) => {
        impl $crate::store::Store {
            $(
                $(#[$meta])*
                pub async fn $name(&self $(, $arg: $ty)*) -> Result<$ret, $crate::store::StoreError> {
                    let mut pc = self.conn().await?;
                    $imp(&mut pc.c() $(, $arg)*).await
                }
            )*
        }
        impl $crate::store::Tx {
            $(
                $(#[$meta])*
                pub async fn $name(&mut self $(, $arg: $ty)*) -> Result<$ret, $crate::store::StoreError> {
                    $imp(&mut self.c() $(, $arg)*).await
                }
            )*
        }
    };
}
pub(crate) use store_methods;

/// A PostgreSQL database that exists for one test: created empty on a server (the admin
/// URL names a database to connect to for `CREATE DATABASE`), dropped when this is dropped.
/// For tests and benches; the server is `HOTLINE_TEST_PG` or the local one.
#[derive(Debug)]
pub struct TempPgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

/// Where tests find PostgreSQL when `HOTLINE_TEST_PG` is not set.
pub const DEFAULT_TEST_PG: &str = "postgres://root@127.0.0.1:5432/postgres";

impl TempPgDatabase {
    /// Creates a fresh database named after the process and a counter.
    pub async fn create() -> Result<Self, StoreError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let admin_url =
            std::env::var("HOTLINE_TEST_PG").unwrap_or_else(|_| DEFAULT_TEST_PG.to_string());
        let name = format!(
            "hotline_t_{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            now_ms() % 1_000_000
        );
        let opts = PgConnectOptions::from_str(&admin_url)?;
        let mut c = sqlx::ConnectOptions::connect(&opts).await?;
        sqlx::Executor::execute(&mut c, format!("CREATE DATABASE {name}").as_str()).await?;
        let _ = sqlx::Connection::close(c).await;
        let url = match admin_url.rfind('/') {
            Some(i) if i > admin_url.find("://").map_or(0, |s| s + 2) => {
                let rest = &admin_url[i + 1..];
                let query = rest.find('?').map_or("", |q| &rest[q..]);
                format!("{}/{name}{query}", &admin_url[..i])
            }
            _ => format!("{admin_url}/{name}"),
        };
        Ok(Self {
            admin_url,
            name,
            url,
        })
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TempPgDatabase {
    fn drop(&mut self) {
        let admin = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop may run inside or outside a runtime: a thread of its own works in both.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(opts) = PgConnectOptions::from_str(&admin) else {
                    return;
                };
                if let Ok(mut c) = sqlx::ConnectOptions::connect(&opts).await {
                    let _ = sqlx::Executor::execute(&mut c, sql.as_str()).await;
                    let _ = sqlx::Connection::close(c).await;
                }
            });
        })
        .join();
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// What keeps a test store's database alive: a temporary directory (SQLite) or a
    /// temporary PostgreSQL database.
    #[allow(dead_code)]
    pub enum TempDb {
        Dir(tempfile::TempDir),
        Pg(TempPgDatabase),
    }

    /// A migrated store in a fresh temporary file (WAL needs a real file), or in a fresh
    /// PostgreSQL database when `HOTLINE_TEST_BACKEND=postgres`.
    pub async fn temp_store() -> (Store, TempDb) {
        if std::env::var("HOTLINE_TEST_BACKEND").as_deref() == Ok("postgres") {
            let db = TempPgDatabase::create().await.unwrap();
            let store = Store::open(db.url()).await.unwrap();
            store.migrate().await.unwrap();
            return (store, TempDb::Pg(db));
        }
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        (store, TempDb::Dir(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::temp_store;
    use super::*;

    #[tokio::test]
    async fn migrate_is_idempotent_and_memory_works() {
        let (s, _d) = temp_store().await;
        s.migrate().await.unwrap();
        let m = Store::open("sqlite::memory:").await.unwrap();
        m.migrate().await.unwrap();
        let c = m.ensure_connection("x").await.unwrap();
        assert_eq!(m.ensure_connection("x").await.unwrap(), c);
    }

    #[tokio::test]
    async fn rollback_on_drop() {
        let (s, _d) = temp_store().await;
        let c = s.ensure_connection("support").await.unwrap();
        {
            let mut tx = s.begin().await.unwrap();
            tx.kv_set(c, "k", "v").await.unwrap();
        }
        assert_eq!(s.kv_get(c, "k").await.unwrap(), None);
        let mut tx = s.begin().await.unwrap();
        tx.kv_set(c, "k", "v").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.kv_get(c, "k").await.unwrap().as_deref(), Some("v"));
    }

    /// PostgreSQL is a supported backend, so the suite needs one: a missing server is a
    /// failure with the way to fix it, never a skip.
    #[tokio::test]
    async fn postgres_backend_works() {
        let db = TempPgDatabase::create().await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is needed for this test ({e}); start one on 127.0.0.1:5432 \
                 (trust auth) or point HOTLINE_TEST_PG at a server"
            )
        });
        let s = Store::open(db.url()).await.unwrap();
        assert_eq!(s.backend(), Backend::Postgres);
        s.migrate().await.unwrap();
        s.migrate().await.unwrap();
        let c = s.ensure_connection("support").await.unwrap();
        assert_eq!(s.ensure_connection("support").await.unwrap(), c);
        {
            let mut tx = s.begin().await.unwrap();
            tx.kv_set(c, "k", "v").await.unwrap();
        }
        assert_eq!(s.kv_get(c, "k").await.unwrap(), None);
        let mut tx = s.begin().await.unwrap();
        tx.kv_set(c, "k", "v").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.kv_get(c, "k").await.unwrap().as_deref(), Some("v"));
        s.close().await;
    }

    #[tokio::test]
    async fn rejects_other_databases() {
        assert!(matches!(
            Store::open("mysql://u:pw@h/db").await,
            Err(StoreError::UnsupportedUrl(u)) if !u.contains("pw")
        ));
        assert_eq!(backend_of("postgresql://h/db"), Some(Backend::Postgres));
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
