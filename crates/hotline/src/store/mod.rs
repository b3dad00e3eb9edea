//! Persistence behind one narrow interface. All SQL of Hotline lives in this module.
//!
//! Two backends run the same queries: SQLite (the embedded default: WAL, `busy_timeout`,
//! foreign keys; see `sqlite_backend.rs`) and PostgreSQL (`postgres_backend.rs`). Queries
//! go through sqlx's `Any` driver as runtime `sqlx::query` with `$N` placeholders and
//! portable SQL (`ON CONFLICT`, `RETURNING`, partial indexes); each backend has its own
//! migrations with the same schema. Boolean columns are read as `CAST(x AS INTEGER)` (see
//! [`Flag`]) because the `Any` driver cannot map SQLite's `BOOLEAN` declared type. Callers
//! only see domain types ([`Contact`], [`Dialog`], [`Intent`], ...).
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
mod dead_letters;
mod dialogs;
mod events;
pub mod files;
mod filter;
mod gate;
mod gateway;
mod gauges;
mod handover;
mod leases;
mod links;
mod managed;
mod operators;
mod outbox;
mod params;
mod postgres_backend;
mod quick_replies;
mod rate_pauses;
mod ratings;
mod recap;
mod sqlite_backend;
mod sqlite_driver;
mod stats;
mod tags;
pub mod testdb;
mod updates;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::Notify;

pub use api_keys::{ApiKey, ApiUpload};
pub use api_lists::ContactFilter;
pub use broadcasts::{
    Broadcast, DialogEvent, ExportRow, NewBroadcast, RecipientCounts, RecipientDelivery, ReportRow,
};
pub use contacts::{Contact, ContactProfile};
pub use dead_letters::{DeadKind, DeadLetter};
pub use dialogs::{Dialog, DialogStatus};
pub use events::{Delivery, DeliveryStats, HistoryMessage, NewDelivery, NewHistoryMessage};
pub use filter::{Bind, Compiled};
pub use gateway::{GatewayCall, GatewayState};
pub use gauges::Gauges;
pub use handover::{Pause, PauseReason};
pub use leases::{is_dead_here, Lease};
pub use links::{Direction, MessageLink, NewLink};
pub use managed::{open_token, seal_token, ManagedConnection};
pub use operators::{AssigneeLoad, Operator};
pub use outbox::{
    Intent, IntentId, Lane, NewIntent, OutboxStats, IN_FLIGHT_TIMEOUT_MS, SENDS_FIELD,
};
pub use quick_replies::{NewQuickReply, QuickReply, MEDIA_ITEMS_TTL_MS};
pub use rate_pauses::WHOLE_BOT;
pub use ratings::Rating;
pub use recap::RecapLine;
pub use stats::StatEvent;
pub use tags::{Tag, TagMember};
pub use updates::StoredUpdate;

/// The database engine behind a [`Store`], chosen by the URL scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path` or `sqlite::memory:`: the embedded default.
    Sqlite,
    /// `postgres://` or `postgresql://`: a PostgreSQL server (15 or newer).
    Postgres,
}

impl Backend {
    /// The backend a database URL names, or `None` for an unsupported scheme.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// A boolean column read through `CAST(col AS INTEGER)`: SQLite stores booleans as
/// integers and the `Any` driver decodes `bool` only from a real boolean, so both
/// backends select flags as integers and this turns them back into `bool`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0
    }
}

impl sqlx::Type<sqlx::Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<sqlx::Any>>::type_info()
    }
    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<sqlx::Any>>::compatible(ty)
            || <bool as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        if let Ok(b) = <bool as sqlx::Decode<sqlx::Any>>::decode(value.clone()) {
            return Ok(Flag(b));
        }
        Ok(Flag(<i64 as sqlx::Decode<sqlx::Any>>::decode(value)? != 0))
    }
}

/// Reads the flag column `col` of `r` (selected as `CAST(col AS INTEGER)`).
pub(crate) fn flag(r: &DbRow, col: &str) -> Result<bool, sqlx::Error> {
    use sqlx::Row;
    Ok(r.try_get::<Flag, _>(col)?.0)
}

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

impl StoreError {
    /// Whether the failure is the store's own (I/O, a full disk, locked, a broken pool)
    /// rather than caused by the item being processed (a constraint it violates, a row it
    /// cannot read): a systemic failure is retried as a whole and never counts against
    /// one update (see `isolation`).
    pub fn is_systemic(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => {
                matches!(e.kind(), sqlx::error::ErrorKind::Other)
            }
            StoreError::Database(sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_)) => {
                false
            }
            StoreError::Corrupt { .. } => false,
            _ => true,
        }
    }
}

/// Store-assigned id of a connection (stable across renames of nothing: keyed by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub i64);

/// Unix time in milliseconds, the unit of every timestamp column.
pub type UnixMs = i64;

/// Write transactions this process started ([`Store::begin`], and auto-commit writes taken
/// in the writer's turn, [`Store::writing`]): the relay benchmark reports them per message
/// (`hotline-bench relay`), the figure that batching decisions is meant to lower.
static WRITE_TRANSACTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many write transactions this process has started so far (see [`WRITE_TRANSACTIONS`]);
/// only differences between two readings mean something.
pub fn write_transactions() -> u64 {
    WRITE_TRANSACTIONS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Current wall-clock time in Unix milliseconds.
pub fn now_ms() -> UnixMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What a wake-up is about: one [`Notify`] per connection and topic, shared by every clone
/// of the [`Store`], and on PostgreSQL carried to the other instances by `NOTIFY` (see
/// [`Store::listen`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Topic {
    /// The outbox has new intents (its worker).
    Outbox,
    /// Webhook deliveries were queued (their worker, see [`events`]).
    Deliveries,
    /// Updates were stored (the update processor).
    Updates,
    /// A parameter override changed (`/set`, the API).
    Params,
    /// The handover paused or resumed the parallel bot for a user (the owner's gateway
    /// withholds by the pauses it knows).
    Pauses,
}

impl Topic {
    const ALL: [Topic; 5] = [
        Topic::Outbox,
        Topic::Deliveries,
        Topic::Updates,
        Topic::Params,
        Topic::Pauses,
    ];

    /// The topic's letter in a `NOTIFY` payload (`o:12`: the outbox of connection 12).
    fn letter(self) -> char {
        match self {
            Topic::Outbox => 'o',
            Topic::Deliveries => 'd',
            Topic::Updates => 'u',
            Topic::Params => 'p',
            Topic::Pauses => 'h',
        }
    }

    fn of_letter(c: char) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.letter() == c)
    }
}

/// The channel of the `NOTIFY`s between instances.
const WAKE_CHANNEL: &str = "hotline_wake";

#[derive(Default)]
struct Wakers {
    map: Mutex<HashMap<(Topic, ConnectionId), Arc<Notify>>>,
}

impl Wakers {
    fn get(&self, topic: Topic, c: ConnectionId) -> Arc<Notify> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((topic, c)).or_default().clone()
    }

    /// Wakes every waiter once (the listener reconnected: notifications may be lost).
    fn wake_all(&self) {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        for n in map.values() {
            n.notify_one();
        }
    }
}

/// Tells the other instances (PostgreSQL `NOTIFY`, sent when the transaction commits) that
/// `topic` of `connection` has news; nothing on SQLite (one process per database).
pub(crate) async fn notify_instances(
    c: &mut Conn,
    topic: Topic,
    connection: ConnectionId,
) -> Result<(), StoreError> {
    if c.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(WAKE_CHANNEL)
            .bind(format!("{}:{}", topic.letter(), connection.0))
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Registers the database drivers behind sqlx's `Any`: Hotline's own for SQLite
/// (`sqlite_driver`) and sqlx's for PostgreSQL. Idempotent; [`Store::open`] calls it, and
/// so must anything that opens an `Any` connection before.
pub fn install_drivers() {
    static DRIVERS: [sqlx_core::any::driver::AnyDriver; 2] =
        [sqlite_driver::DRIVER, sqlx::postgres::any::DRIVER];
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = sqlx::any::install_drivers(&DRIVERS);
    });
}

/// Handle to the database. Cheap to clone; all clones share the pool and the wake-ups.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    wakers: Arc<Wakers>,
    /// Taken by every [`Tx`] until it ends: SQLite has one writer at a time, and a
    /// transaction that waits in SQLite's busy handler sleeps in steps of up to 100 ms
    /// after the lock is already free; queued here, the next one starts at once. On
    /// SQLite it is the file's, shared by every store of the process on that file and
    /// by its log checkpointer.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Who this process is in the leases it takes (see [`Store::instance_id`]).
    instance: Arc<str>,
    /// The database URL, for the listener's own connection ([`Store::listen`]). Never logged.
    url: Arc<str>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("pool_size", &self.pool.size())
            .finish()
    }
}

impl Store {
    /// Opens the database at `url`: `sqlite://path` (created if needed; its directory and
    /// files are made private first, see [`files`]), `sqlite::memory:`, or
    /// `postgres://user@host/db`. Does not migrate: call [`Store::migrate`] (the server
    /// does at start).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        install_drivers();
        let backend = Backend::of_url(url).ok_or_else(|| {
            StoreError::UnsupportedUrl(url.split('@').next_back().unwrap_or("").to_string())
        })?;
        let pool = match backend {
            Backend::Sqlite => sqlite_backend::open(url).await?,
            Backend::Postgres => postgres_backend::open(url).await?,
        };
        tracing::debug!(?backend, "store opened");
        // SQLite: the turn is the file's, shared with its checkpointer (see `sqlite_driver`).
        let writer = match backend {
            Backend::Sqlite => sqlite_driver::writer_turn(url),
            Backend::Postgres => None,
        }
        .unwrap_or_default();
        Ok(Self {
            pool,
            backend,
            wakers: Arc::default(),
            writer,
            instance: leases::new_instance_id().into(),
            url: url.into(),
        })
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations (each backend has its own set, same schema).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => sqlite_backend::MIGRATOR.run(&self.pool).await?,
            Backend::Postgres => postgres_backend::MIGRATOR.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Starts a transaction for a decision that must be recorded atomically.
    /// (`#[track_caller]`: a long hold of the turn is logged with the caller's place.)
    #[track_caller]
    pub fn begin(&self) -> impl std::future::Future<Output = Result<Tx, StoreError>> + '_ {
        let at = std::panic::Location::caller();
        async move {
            let writer = TurnHeld::take(&self.writer, at).await;
            WRITE_TRANSACTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(Tx {
                backend: self.backend,
                _writer: writer,
                // IMMEDIATE: take the write lock first. A deferred transaction that reads before
                // it writes fails with SQLITE_BUSY_SNAPSHOT (not waited out by the busy
                // timeout) when another writer commits in between; every Hotline transaction
                // writes, so waiting for the lock up front costs nothing and never fails.
                tx: match self.backend {
                    Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    Backend::Postgres => self.pool.begin().await?,
                },
                wake: BTreeSet::new(),
                wakers: self.wakers.clone(),
                after_commit: Vec::new(),
                hooks_at_savepoint: 0,
                deferred: Deferred::default(),
                deferred_at_savepoint: (0, 0),
                deferred_rewrite: Deferred::default(),
            })
        }
    }

    /// The wake-up the outbox worker of `connection` waits on; notified after every commit
    /// that enqueued intents for it (on PostgreSQL, in any instance: [`Store::listen`]).
    pub fn outbox_notify(&self, connection: ConnectionId) -> Arc<Notify> {
        self.wakers.get(Topic::Outbox, connection)
    }

    /// The wake-up the webhook delivery worker of `connection` waits on; notified after
    /// every commit that queued deliveries for it (in any instance, as above).
    pub fn deliveries_notify(&self, connection: ConnectionId) -> Arc<Notify> {
        self.wakers.get(Topic::Deliveries, connection)
    }

    /// The wake-up the update processor of `connection` waits on: notified by the intake
    /// of this process, and on PostgreSQL when another instance stored updates for it.
    pub fn updates_notify(&self, connection: ConnectionId) -> Arc<Notify> {
        self.wakers.get(Topic::Updates, connection)
    }

    /// Notified when another instance changed a parameter override of `connection`
    /// (PostgreSQL only; in this process the change is applied where it is made).
    pub fn params_notify(&self, connection: ConnectionId) -> Arc<Notify> {
        self.wakers.get(Topic::Params, connection)
    }

    /// Notified when another instance paused or resumed the parallel bot for a user of
    /// `connection` (PostgreSQL only; in this process the change is applied where it is
    /// made, after its commit).
    pub fn pauses_notify(&self, connection: ConnectionId) -> Arc<Notify> {
        self.wakers.get(Topic::Pauses, connection)
    }

    /// Carries wake-ups between instances until `shutdown`: on PostgreSQL, `LISTEN`s on a
    /// connection of its own and notifies this process's waiters of what other instances
    /// committed (after a lost connection it wakes every waiter once, since notifications
    /// may have been missed); on SQLite (one process per database) it only waits.
    pub async fn listen(self, mut shutdown: crate::shutdown::Shutdown) {
        if self.backend != Backend::Postgres {
            // Nothing to carry; like every long-running task it ends with the shutdown.
            return shutdown.recv().await;
        }
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect(&self.url).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "store: LISTEN connection failed; retrying");
                    tokio::select! {
                        _ = shutdown.recv() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
                    }
                }
            };
            if let Err(e) = listener.listen(WAKE_CHANNEL).await {
                tracing::warn!(error = %e, "store: LISTEN failed; retrying");
                tokio::select! {
                    _ = shutdown.recv() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
                }
            }
            // Whatever was committed before the LISTEN took effect is looked at now.
            self.wakers.wake_all();
            loop {
                let n = tokio::select! {
                    _ = shutdown.recv() => return,
                    n = listener.try_recv() => n,
                };
                match n {
                    Ok(Some(n)) => self.wake_from(n.payload()),
                    // The connection was lost; `try_recv` reconnects on the next call.
                    Ok(None) => self.wakers.wake_all(),
                    Err(e) => {
                        tracing::warn!(error = %e, "store: LISTEN connection broke; reconnecting");
                        break;
                    }
                }
            }
        }
    }

    fn wake_from(&self, payload: &str) {
        let parsed = payload.split_once(':').and_then(|(t, c)| {
            let topic = Topic::of_letter(t.chars().next()?)?;
            Some((topic, ConnectionId(c.parse().ok()?)))
        });
        match parsed {
            Some((topic, c)) => self.wakers.get(topic, c).notify_one(),
            None => tracing::debug!(payload, "store: unknown wake-up"),
        }
    }

    /// Closes the pool, waiting for checked-out connections (used at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// This process's turn to write, for an auto-commit write on the hot path (outside a
    /// [`Tx`]): queued behind the open transaction in process instead of failing to take
    /// SQLite's write lock and sleeping in its busy handler (1 ms, then 2, 5, 10, ... after
    /// the lock is already free). Never call it while holding a [`Tx`] of this store.
    #[track_caller]
    pub(crate) fn writing(&self) -> impl std::future::Future<Output = TurnHeld> + '_ {
        let at = std::panic::Location::caller();
        WRITE_TRANSACTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TurnHeld::take(&self.writer, at)
    }

    /// What reads and single writes await before running: nothing (they may run beside an
    /// open [`Tx`]); the counterpart of [`Store::writing`] in `store_methods!`.
    pub(crate) async fn no_turn(&self) {}
}

/// Holds or waits for the turn to write at least this long are logged (see [`TurnHeld`]).
const LONG_TURN: std::time::Duration = std::time::Duration::from_millis(5);

/// This process's turn to write, held (see [`Store::begin`], [`Store::writing`]). A wait
/// for it or a hold of it of [`LONG_TURN`] or more is logged at debug level under the
/// target `hotline::writer_turn`, inside the holder's span: the relay's tail latency is a
/// few stalls of the whole pipeline, and this names who held the turn meanwhile
/// (`RUST_LOG=hotline::writer_turn=debug`).
pub(crate) struct TurnHeld {
    _guard: tokio::sync::OwnedMutexGuard<()>,
    since: std::time::Instant,
    /// Who took it (the place in the source).
    at: &'static std::panic::Location<'static>,
}

impl TurnHeld {
    async fn take(
        turn: &Arc<tokio::sync::Mutex<()>>,
        at: &'static std::panic::Location<'static>,
    ) -> Self {
        let asked = std::time::Instant::now();
        let guard = turn.clone().lock_owned().await;
        let since = std::time::Instant::now();
        let waited = since - asked;
        if waited >= LONG_TURN {
            tracing::debug!(
                target: "hotline::writer_turn",
                waited_us = waited.as_micros() as u64,
                %at,
                "waited long for the turn to write"
            );
        }
        Self {
            _guard: guard,
            since,
            at,
        }
    }
}

impl Drop for TurnHeld {
    fn drop(&mut self) {
        let held = self.since.elapsed();
        if held >= LONG_TURN {
            tracing::debug!(
                target: "hotline::writer_turn",
                held_us = held.as_micros() as u64,
                at = %self.at,
                "held the turn to write long"
            );
        }
    }
}

/// A store transaction. Dropping it without [`Tx::commit`] rolls back.
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    /// The database's kind, for the few statements that differ (see `leases.rs`).
    backend: Backend,
    /// This process's turn to write (see [`Store::begin`]); released when the Tx ends.
    _writer: TurnHeld,
    wake: BTreeSet<ConnectionId>,
    wakers: Arc<Wakers>,
    /// In-memory state that must follow the committed rows (see [`Tx::after_commit`]).
    after_commit: Vec<Box<dyn FnOnce() + Send>>,
    /// How many `after_commit` entries existed at the last [`Tx::savepoint`].
    hooks_at_savepoint: usize,
    /// Append-only rows held back until the commit (see [`Deferred`]).
    deferred: Deferred,
    /// How many deferred rows (history, events) existed at the last [`Tx::savepoint`].
    deferred_at_savepoint: (usize, usize),
    /// Rows deferred before the last savepoint but written after it: a rollback to the
    /// savepoint undoes them in the database, so it holds them back again.
    deferred_rewrite: Deferred,
}

/// Rows a decision appends and nobody reads in the same transaction — the dialog history
/// (`dialog_messages`) and analytics events (`dialog_events`), one of each for every
/// relayed message — held in the [`Tx`] and written with one multi-row INSERT per table
/// when it commits, instead of one statement each: on SQLite every statement is a
/// round trip to the connection's thread, and a batch of 64 messages saved 126 of them.
/// A statement of the same transaction on those tables writes them first (methods
/// declared `@appended` in [`store_methods`]), so it sees them as if written at once;
/// a rollback to a savepoint drops those held since it.
#[derive(Default)]
struct Deferred {
    history: Vec<events::DeferredHistory>,
    events: Vec<broadcasts::DeferredEvent>,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("wake", &self.wake).finish()
    }
}

impl Tx {
    /// Commits, then wakes the outbox workers of connections that got new intents.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        self.write_deferred().await?;
        for c in &self.wake {
            notify_instances(&mut self.tx, Topic::Outbox, *c).await?;
        }
        self.tx.commit().await?;
        for c in self.wake {
            self.wakers.get(Topic::Outbox, c).notify_one();
        }
        for f in self.after_commit {
            f();
        }
        Ok(())
    }

    /// Starts a savepoint: the changes after it can be undone alone
    /// ([`Tx::rollback_to_savepoint`]) while the transaction goes on.
    pub async fn savepoint(&mut self) -> Result<(), StoreError> {
        sqlx::query("SAVEPOINT item").execute(&mut *self.tx).await?;
        self.hooks_at_savepoint = self.after_commit.len();
        self.deferred_at_savepoint = (self.deferred.history.len(), self.deferred.events.len());
        self.deferred_rewrite = Deferred::default();
        Ok(())
    }

    /// Appends a row to the dialog history when the transaction commits (see [`Deferred`]);
    /// [`Tx::insert_history`] writes at once and returns the row's id.
    pub fn defer_history(&mut self, connection: ConnectionId, m: NewHistoryMessage, now: UnixMs) {
        self.deferred
            .history
            .push(events::DeferredHistory { connection, m, now });
    }

    /// Records an analytics event when the transaction commits (see [`Deferred`]);
    /// [`Tx::record_event`] writes at once.
    pub fn defer_event(
        &mut self,
        connection: ConnectionId,
        dialog: i64,
        kind: &'static str,
        operator: Option<i64>,
        at: UnixMs,
    ) {
        self.deferred.events.push(broadcasts::DeferredEvent {
            connection,
            dialog,
            kind,
            operator,
            at,
        });
    }

    /// Writes the rows held back so far (see [`Deferred`]).
    async fn write_deferred(&mut self) -> Result<(), StoreError> {
        let (history, events) = self.deferred_at_savepoint;
        let rewrite = &mut self.deferred_rewrite;
        rewrite
            .history
            .extend_from_slice(&self.deferred.history[..history]);
        rewrite
            .events
            .extend_from_slice(&self.deferred.events[..events]);
        if !self.deferred.history.is_empty() {
            let rows = std::mem::take(&mut self.deferred.history);
            events::insert_history_rows(&mut self.tx, &rows).await?;
        }
        if !self.deferred.events.is_empty() {
            let rows = std::mem::take(&mut self.deferred.events);
            broadcasts::record_events(&mut self.tx, &rows).await?;
        }
        // What was deferred since the savepoint is undone by a rollback to it like any
        // other row; what came before it is in `deferred_rewrite`.
        self.deferred_at_savepoint = (0, 0);
        Ok(())
    }

    /// Keeps the changes since [`Tx::savepoint`] as part of the transaction.
    pub async fn release_savepoint(&mut self) -> Result<(), StoreError> {
        sqlx::query("RELEASE SAVEPOINT item")
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Undoes the changes since [`Tx::savepoint`] (and forgets the [`Tx::after_commit`]
    /// work registered since) and ends the savepoint.
    pub async fn rollback_to_savepoint(&mut self) -> Result<(), StoreError> {
        sqlx::query("ROLLBACK TO SAVEPOINT item")
            .execute(&mut *self.tx)
            .await?;
        self.after_commit.truncate(self.hooks_at_savepoint);
        let (history, events) = self.deferred_at_savepoint;
        self.deferred.history.truncate(history);
        self.deferred.events.truncate(events);
        let rewrite = std::mem::take(&mut self.deferred_rewrite);
        self.deferred.history.splice(0..0, rewrite.history);
        self.deferred.events.splice(0..0, rewrite.events);
        self.deferred_at_savepoint = (0, 0);
        self.release_savepoint().await
    }

    /// Runs `f` once the transaction committed (never when it rolls back): for in-memory
    /// mirrors of rows, such as the handover's pauses, that must not run ahead of the store.
    pub fn after_commit(&mut self, f: impl FnOnce() + Send + 'static) {
        self.after_commit.push(Box::new(f));
    }

    /// Abandons every change (same as dropping, but explicit).
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

/// Declares methods available both on [`Store`] (auto-commit) and on [`Tx`] (inside the
/// transaction), forwarding to one implementation over `&mut AnyConnection`.
macro_rules! store_methods {
    // `$turn`: what the `Store` version awaits first (`writing`: this process's turn to write).
    // `$appended`: whether the `Tx` version reads or changes the append-only tables whose
    // rows a transaction holds back ([`Tx::defer_history`], [`Tx::defer_event`]): it writes
    // them first, so it sees them in order.
    (@define $turn:ident $appended:literal $(
        $(#[$meta:meta])*
        pub async fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty => $imp:path;
    )*) => {
        impl $crate::store::Store {
            $(
                $(#[$meta])*
                pub async fn $name(&self $(, $arg: $ty)*) -> Result<$ret, $crate::store::StoreError> {
                    let _turn = self.$turn().await;
                    let mut c = self.conn().await?;
                    $imp(&mut *c $(, $arg)*).await
                }
            )*
        }
        impl $crate::store::Tx {
            $(
                $(#[$meta])*
                pub async fn $name(&mut self $(, $arg: $ty)*) -> Result<$ret, $crate::store::StoreError> {
                    if $appended {
                        self.write_deferred().await?;
                    }
                    $imp(&mut *self.tx $(, $arg)*).await
                }
            )*
        }
    };
    // Methods on the tables of [`Deferred`] (the history, analytics events).
    (@appended $($methods:tt)*) => {
        $crate::store::store_methods!(@define no_turn true $($methods)*);
    };
    ($($methods:tt)*) => {
        $crate::store::store_methods!(@define no_turn false $($methods)*);
    };
}
pub(crate) use store_methods;

/// Like [`store_methods`], for writes on the hot path: the [`Store`] version runs in this
/// process's turn to write ([`Store::writing`]), so it queues behind an open [`Tx`] instead of
/// sleeping in SQLite's busy handler.
macro_rules! store_writes {
    ($($methods:tt)*) => {
        $crate::store::store_methods!(@define writing false $($methods)*);
    };
}
pub(crate) use store_writes;

impl Store {
    /// Whether the database answers (`SELECT 1`), for `/ready`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        sqlx::query("SELECT 1").execute(&mut *c).await?;
        Ok(())
    }
}

/// Shorthand for the connection type every query function takes.
type Conn = AnyConnection;

/// Shorthand for the row type query functions read.
type DbRow = AnyRow;

/// Rows per multi-row INSERT at most, and the sizes used: powers of two, so a table gets at
/// most seven statement texts in each connection's prepared-statement cache.
const MULTI_ROW_MAX: usize = 64;

/// Splits `n` rows into the chunk sizes of a multi-row INSERT ([`MULTI_ROW_MAX`]).
fn multi_row_chunks(mut n: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    while n > 0 {
        let size = if n >= MULTI_ROW_MAX {
            MULTI_ROW_MAX
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        sizes.push(size);
        n -= size;
    }
    sizes
}

/// `($1, …, $k), ($k+1, …)`: the VALUES of a multi-row INSERT of `rows` rows of `cols`.
fn values_list(rows: usize, cols: usize) -> String {
    let mut s = String::new();
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&(r * cols + c + 1).to_string());
        }
        s.push(')');
    }
    s
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// A migrated store in a fresh database on the backend of
    /// [`testdb::test_backend`] (a temporary file for SQLite: WAL needs a real file);
    /// the database goes away with the returned guard.
    pub async fn temp_store() -> (Store, testdb::TestDatabase) {
        let db = testdb::TestDatabase::create(None).await;
        let store = Store::open(db.url()).await.unwrap();
        store.migrate().await.unwrap();
        (store, db)
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

    #[test]
    fn multi_row_chunks_are_powers_of_two() {
        assert_eq!(multi_row_chunks(0), Vec::<usize>::new());
        assert_eq!(multi_row_chunks(1), vec![1]);
        assert_eq!(multi_row_chunks(63), vec![32, 16, 8, 4, 2, 1]);
        assert_eq!(multi_row_chunks(64), vec![64]);
        assert_eq!(multi_row_chunks(130), vec![64, 64, 2]);
        assert_eq!(values_list(2, 2), "($1, $2), ($3, $4)");
    }

    /// Deferred history and analytics rows (see `Deferred`): written at the commit, in
    /// order; a statement on their tables sees them; a rollback to a savepoint drops the
    /// rows deferred since it and keeps those from before it, even when they were written
    /// after it.
    #[tokio::test]
    async fn deferred_rows_follow_savepoints_and_commits() {
        let (s, _d) = temp_store().await;
        let c = s.ensure_connection("c").await.unwrap();
        let p = ContactProfile {
            user_id: 7,
            first_name: "u".into(),
            ..Default::default()
        };
        let contact = s.contact_wrote(c, &p, None, 1).await.unwrap();
        let (d, _) = s
            .ensure_dialog(c, contact.id, DialogStatus::New, 1)
            .await
            .unwrap();
        let row = |text: &str| NewHistoryMessage {
            dialog_id: d.id,
            direction: "incoming",
            kind: "text".into(),
            text: Some(text.into()),
            ..Default::default()
        };
        let texts = |h: Vec<HistoryMessage>| -> Vec<String> {
            h.into_iter().filter_map(|m| m.text).collect()
        };
        let mut tx = s.begin().await.unwrap();
        tx.defer_history(c, row("a"), 10);
        tx.defer_event(c, d.id, "in", None, 10);
        tx.savepoint().await.unwrap();
        tx.defer_history(c, row("b"), 11);
        tx.defer_event(c, d.id, "in", None, 11);
        tx.rollback_to_savepoint().await.unwrap();
        tx.savepoint().await.unwrap();
        tx.defer_history(c, row("c"), 12);
        // A read of the history in the same transaction sees what was deferred.
        assert_eq!(
            texts(tx.dialog_history(d.id, 0, 10).await.unwrap()),
            ["a", "c"]
        );
        assert_eq!(tx.events_between(c, 0, 100).await.unwrap().len(), 1);
        tx.defer_history(c, row("d"), 13);
        // "a" was written after the savepoint: the rollback undoes it in the database,
        // and the transaction holds it back again.
        tx.rollback_to_savepoint().await.unwrap();
        tx.savepoint().await.unwrap();
        tx.defer_history(c, row("e"), 14);
        tx.defer_event(c, d.id, "out", Some(3), 14);
        // Nothing is visible outside before the commit.
        assert!(s.dialog_history(d.id, 0, 10).await.unwrap().is_empty());
        tx.commit().await.unwrap();
        assert_eq!(
            texts(s.dialog_history(d.id, 0, 10).await.unwrap()),
            ["a", "e"]
        );
        let events = s.events_between(c, 0, 100).await.unwrap();
        let kinds: Vec<(&str, Option<i64>, i64)> = events
            .iter()
            .map(|e| (e.kind.as_str(), e.operator_id, e.at))
            .collect();
        assert_eq!(kinds, [("in", None, 10), ("out", Some(3), 14)]);
        // More rows than one statement holds, in order.
        let mut tx = s.begin().await.unwrap();
        for i in 0..70 {
            tx.defer_history(c, row(&format!("m{i}")), 20 + i);
        }
        tx.commit().await.unwrap();
        let all = texts(s.dialog_history(d.id, 0, 100).await.unwrap());
        assert_eq!(all.len(), 72);
        assert_eq!(all[2], "m0");
        assert_eq!(all[71], "m69");
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

    #[tokio::test]
    async fn commits_wake_the_waiters_of_other_instances() {
        let (a, db) = temp_store().await;
        if a.backend() != Backend::Postgres {
            eprintln!("skipped: wake-ups between instances are PostgreSQL's (LISTEN/NOTIFY)");
            return;
        }
        let b = Store::open(db.url()).await.unwrap();
        let c = a.ensure_connection("c").await.unwrap();
        let (stop, shutdown) = crate::shutdown::ShutdownTrigger::new();
        let listening = tokio::spawn(a.clone().listen(shutdown));
        let within = std::time::Duration::from_secs(10);
        let outbox = a.outbox_notify(c);
        let params = a.params_notify(c);
        let updates = a.updates_notify(c);
        let deliveries = a.deliveries_notify(c);
        // The listener wakes everyone once when it (re)connects: consume that first.
        tokio::time::timeout(within, outbox.notified())
            .await
            .unwrap();
        tokio::time::timeout(within, params.notified())
            .await
            .unwrap();
        tokio::time::timeout(within, updates.notified())
            .await
            .unwrap();
        tokio::time::timeout(within, deliveries.notified())
            .await
            .unwrap();
        b.enqueue(c, &NewIntent::raw(1, Lane::Reply, serde_json::json!({})), 1)
            .await
            .unwrap();
        tokio::time::timeout(within, outbox.notified())
            .await
            .unwrap();
        b.set_param_override(c, "RECAP", "3").await.unwrap();
        tokio::time::timeout(within, params.notified())
            .await
            .unwrap();
        b.insert_updates(c, &[serde_json::json!({"update_id": 1})], 1)
            .await
            .unwrap();
        tokio::time::timeout(within, updates.notified())
            .await
            .unwrap();
        stop.trigger();
        listening.await.unwrap();
    }

    #[tokio::test]
    async fn rejects_other_databases() {
        assert!(matches!(
            Store::open("mysql://u:pw@h/db").await,
            Err(StoreError::UnsupportedUrl(u)) if !u.contains("pw")
        ));
    }
}
