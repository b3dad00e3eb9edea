//! Hotline's own SQLite driver behind sqlx's `Any` (the queries stay the same on both
//! backends): every statement runs on the task that awaits it.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own and hands every
//! statement to it and every row back: two thread wake-ups per statement. A relay decision
//! is a few dozen small statements, each a few microseconds of SQLite work, so the relay
//! spent its time in those hand-offs (≈ 20 context switches per message, the process under
//! half a core busy; bench/README.md). Here a statement is stepped where it is awaited.
//!
//! What this costs: a statement blocks its runtime thread while SQLite works. Hotline's
//! statements are indexed and small; a long scan (a report) yields to the runtime between
//! rows (tokio's cooperative budget). Lock waits never block a thread: the connection's busy timeout is zero, and a
//! statement that meets another connection's write lock is retried after an async sleep
//! for up to [`BUSY_WAIT`] (what `PRAGMA busy_timeout` did on sqlx's thread).
//!
//! For the same reason the log's checkpoints (the only `fsync`s) run on a thread of their
//! own (`checkpoint`), not in the commit that fills the log; the store's turn to write
//! lives there too, since the checkpointer takes it.
//!
//! `glue` holds the type-level registration sqlx requires of a driver; `raw` every call
//! into SQLite's C API; `migrate` runs sqlx's migrations on these connections.

mod checkpoint;
mod glue;
mod migrate;
mod raw;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::Either;
use sqlx_core::any::{
    Any, AnyArguments, AnyColumn, AnyConnectionBackend, AnyQueryResult, AnyRow, AnyStatement,
    AnyTypeInfo, AnyTypeInfoKind, AnyValue, AnyValueKind,
};
use sqlx_core::describe::Describe;
use sqlx_core::ext::ustr::UStr;

use raw::{Db, Failure, Stepped, Stmt};

pub(crate) use checkpoint::Turn;
pub(crate) use glue::DRIVER;

/// The process's turn to write to the SQLite database at `url` (None for an in-memory
/// one): shared by every store of this process on that file and by its checkpointer
/// thread, which takes it for the last step of each checkpoint (see `checkpoint`).
pub(crate) fn writer_turn(url: &str) -> Option<Turn> {
    use std::str::FromStr;
    let options = glue::Options::from_str(url).ok()?;
    (!options.memory).then(|| checkpoint::turn(&options.path))
}

/// How long a statement waits, in total, for another connection's write lock.
pub const BUSY_WAIT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection; past this the cache starts over (Hotline's
/// fixed queries are about 250; generated ones, e.g. multi-row inserts, vary in size).
const CACHE: usize = 512;

/// One SQLite connection of the pool.
pub struct InlineConnection {
    /// Declared before `db`: statements are finalized before their connection closes.
    cache: HashMap<Box<str>, Prepared>,
    db: Db,
    /// Open transaction and savepoint levels (sqlx's transaction depth).
    depth: usize,
}

impl std::fmt::Debug for InlineConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineConnection")
            .field("depth", &self.depth)
            .field("cached", &self.cache.len())
            .finish()
    }
}

/// A prepared statement with what its rows need.
struct Prepared {
    stmt: Stmt,
    /// Bytes of the SQL text this statement covers (the rest is the next statement).
    used: usize,
    names: Arc<sqlx_core::HashMap<UStr, usize>>,
    columns: Arc<[UStr]>,
}

impl Prepared {
    fn new(stmt: Stmt, used: usize) -> Prepared {
        let columns: Arc<[UStr]> = (0..stmt.column_count())
            .map(|i| UStr::new(&stmt.column_name(i)))
            .collect();
        let names = columns
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Prepared {
            stmt,
            used,
            names: Arc::new(names),
            columns,
        }
    }
}

/// SQLite's failure as sqlx reports database errors.
#[derive(Debug, thiserror::Error)]
#[error("(code: {}) {}", .0.code, .0.message)]
pub struct SqliteFailure(Failure);

impl DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.0.message
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.0.code.to_string()))
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> ErrorKind {
        use libsqlite3_sys as ffi;
        match self.0.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

impl From<Failure> for sqlx::Error {
    fn from(f: Failure) -> Self {
        sqlx::Error::Database(Box::new(SqliteFailure(f)))
    }
}

/// What the cursor produced next.
enum Next {
    Row(AnyRow),
    /// One statement finished.
    Finished(AnyQueryResult),
    /// Another connection holds the lock: wait and ask again.
    Busy(Failure),
    /// The SQL text is exhausted.
    End,
}

/// Runs the statements of one SQL text in order, one row at a time.
struct Cursor<'c, 'q> {
    conn: &'c mut InlineConnection,
    sql: &'q str,
    /// Offset of the statement after the current one.
    rest: usize,
    values: Vec<AnyValueKind<'q>>,
    persistent: bool,
    /// The statement being stepped: its cache key (if it goes back) and whether it gave
    /// a row already (then a busy step is an error, not a retry).
    current: Option<(Prepared, bool, bool)>,
    stopped: bool,
}

impl<'c, 'q> Cursor<'c, 'q> {
    fn new(
        conn: &'c mut InlineConnection,
        sql: &'q str,
        persistent: bool,
        args: Option<AnyArguments<'q>>,
    ) -> Self {
        Cursor {
            conn,
            sql,
            rest: 0,
            values: args.map(|a| a.values.0).unwrap_or_default(),
            persistent,
            current: None,
            stopped: false,
        }
    }

    fn next(&mut self) -> Result<Next, sqlx::Error> {
        loop {
            if self.stopped {
                return Ok(Next::End);
            }
            if self.current.is_none() {
                if self.rest >= self.sql.len() {
                    return Ok(Next::End);
                }
                // The whole text is the cache key of its first statement.
                let cacheable = self.persistent && self.rest == 0;
                let cached = if cacheable {
                    self.conn.cache.remove(self.sql)
                } else {
                    None
                };
                let mut prepared = match cached {
                    Some(p) => p,
                    None => {
                        let text = &self.sql[self.rest..];
                        // Preparing reads the schema: it too can meet a lock (another
                        // connection closing the database checkpoints under one).
                        let (stmt, used) = match self.conn.db.prepare(text, cacheable) {
                            Ok(p) => p,
                            Err(f) if f.is_busy() => return Ok(Next::Busy(f)),
                            Err(f) => return Err(f.into()),
                        };
                        match stmt {
                            Some(stmt) => Prepared::new(stmt, used),
                            None => {
                                // Only whitespace or a comment left.
                                self.rest = self.sql.len();
                                continue;
                            }
                        }
                    }
                };
                tracing::debug!(target: "sqlx::query", summary = %summary(&self.sql[self.rest..]));
                if let Err(e) = prepared.stmt.bind(&self.conn.db, &self.values) {
                    prepared.stmt.clear();
                    return Err(e.into());
                }
                self.current = Some((prepared, cacheable, false));
            }
            let (prepared, _, gave_row) = self.current.as_mut().expect("current statement");
            match prepared.stmt.step(&self.conn.db) {
                Ok(Stepped::Row) => {
                    *gave_row = true;
                    return Ok(Next::Row(row(prepared)));
                }
                Ok(Stepped::Done) => {
                    let rows_affected = if prepared.stmt.readonly() {
                        0
                    } else {
                        self.conn.db.changes()
                    };
                    self.finish_statement();
                    return Ok(Next::Finished(AnyQueryResult {
                        rows_affected,
                        last_insert_id: None,
                    }));
                }
                Err(f) if f.is_busy() && !*gave_row => {
                    prepared.stmt.reset();
                    return Ok(Next::Busy(f));
                }
                Err(f) => {
                    self.stop();
                    return Err(f.into());
                }
            }
        }
    }

    /// The current statement is done: back to the cache, on to the next one.
    fn finish_statement(&mut self) {
        if let Some((mut prepared, cacheable, _)) = self.current.take() {
            self.rest += prepared.used.max(1);
            prepared.stmt.clear();
            if cacheable {
                if self.conn.cache.len() >= CACHE {
                    self.conn.cache.clear();
                }
                self.conn.cache.insert(self.sql.into(), prepared);
            }
        }
    }

    /// Ends the cursor early (an error, or the caller wanted one row).
    fn stop(&mut self) {
        self.finish_statement();
        self.stopped = true;
    }

    /// The next row or statement result, waiting out other connections' locks.
    async fn advance(&mut self) -> Result<Next, sqlx::Error> {
        let mut waited = Duration::ZERO;
        let mut pause = Duration::from_millis(1);
        loop {
            match self.next()? {
                Next::Busy(f) => {
                    if waited >= BUSY_WAIT {
                        self.stop();
                        return Err(f.into());
                    }
                    tokio::time::sleep(pause).await;
                    waited += pause;
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                other => return Ok(other),
            }
        }
    }
}

impl Drop for Cursor<'_, '_> {
    fn drop(&mut self) {
        self.finish_statement();
    }
}

/// The current row of `p` as sqlx's `Any` row.
fn row(p: &Prepared) -> AnyRow {
    let n = p.columns.len();
    let mut columns = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n);
    for (i, name) in p.columns.iter().enumerate() {
        let kind = p.stmt.value(i);
        let type_kind = match &kind {
            AnyValueKind::BigInt(_) => AnyTypeInfoKind::BigInt,
            AnyValueKind::Double(_) => AnyTypeInfoKind::Double,
            AnyValueKind::Text(_) => AnyTypeInfoKind::Text,
            AnyValueKind::Blob(_) => AnyTypeInfoKind::Blob,
            _ => AnyTypeInfoKind::Null,
        };
        columns.push(AnyColumn {
            ordinal: i,
            name: name.clone(),
            type_info: AnyTypeInfo { kind: type_kind },
        });
        values.push(AnyValue { kind });
    }
    AnyRow {
        column_names: p.names.clone(),
        columns,
        values,
    }
}

/// The statement's first words, as sqlx's query log names a statement.
fn summary(sql: &str) -> String {
    sql.split_whitespace().take(6).collect::<Vec<_>>().join(" ")
}

impl InlineConnection {
    /// Opens `path` (or an in-memory database) with Hotline's settings: WAL (MEMORY for
    /// an in-memory database), `synchronous = NORMAL`, foreign keys, no busy timeout
    /// (locks are waited for asynchronously, see the module).
    async fn open(path: &str, flags: std::ffi::c_int, memory: bool) -> Result<Self, sqlx::Error> {
        let mut db = Db::open(path, flags)?;
        if !memory && flags & libsqlite3_sys::SQLITE_OPEN_READWRITE != 0 {
            // Without a thread, SQLite's automatic checkpoint stays.
            if let Ok(c) = checkpoint::Checkpointer::of(path) {
                c.watch(&mut db);
            }
        }
        let mut conn = InlineConnection {
            cache: HashMap::new(),
            db,
            depth: 0,
        };
        let journal = if memory { "MEMORY" } else { "WAL" };
        conn.run(&format!(
            "PRAGMA busy_timeout = 0; PRAGMA journal_mode = {journal}; \
             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
        ))
        .await?;
        Ok(conn)
    }

    /// Runs every statement of `sql` (no arguments), ignoring rows.
    async fn run(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        self.run_with(sql, Vec::new()).await.map(|_| ())
    }

    /// Runs `sql` with `values`; returns its rows.
    async fn run_with(
        &mut self,
        sql: &str,
        values: Vec<AnyValueKind<'_>>,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        let mut cursor = Cursor::new(self, sql, true, None);
        cursor.values = values;
        let mut rows = Vec::new();
        loop {
            match cursor.advance().await? {
                Next::Row(r) => rows.push(r),
                Next::Finished(_) => {}
                Next::End | Next::Busy(_) => return Ok(rows),
            }
        }
    }
}

impl AnyConnectionBackend for InlineConnection {
    fn name(&self) -> &str {
        "SQLite"
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, sqlx::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn close_hard(self: Box<Self>) -> BoxFuture<'static, sqlx::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn ping(&mut self) -> BoxFuture<'_, sqlx::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn begin(&mut self, statement: Option<Cow<'static, str>>) -> BoxFuture<'_, sqlx::Result<()>> {
        Box::pin(async move {
            let sql = match (self.depth, statement) {
                (0, Some(s)) => s,
                (0, None) => Cow::Borrowed("BEGIN"),
                (_, Some(_)) => return Err(sqlx::Error::InvalidSavePointStatement),
                (depth, None) => sqlx_core::transaction::begin_ansi_transaction_sql(depth),
            };
            self.run(&sql).await?;
            self.depth += 1;
            Ok(())
        })
    }

    fn commit(&mut self) -> BoxFuture<'_, sqlx::Result<()>> {
        Box::pin(async move {
            if self.depth > 0 {
                let sql = sqlx_core::transaction::commit_ansi_transaction_sql(self.depth);
                self.run(&sql).await?;
                self.depth -= 1;
            }
            Ok(())
        })
    }

    fn rollback(&mut self) -> BoxFuture<'_, sqlx::Result<()>> {
        Box::pin(async move {
            self.start_rollback();
            Ok(())
        })
    }

    fn start_rollback(&mut self) {
        if self.depth == 0 {
            return;
        }
        // SQLite already rolled back after some failures (a full disk, I/O): nothing is
        // open any more, and the ROLLBACK statement would fail.
        if !self.db.autocommit() {
            let sql = sqlx_core::transaction::rollback_ansi_transaction_sql(self.depth);
            let mut cursor = Cursor::new(self, &sql, true, None);
            while let Ok(Next::Row(_) | Next::Finished(_)) = cursor.next() {}
        }
        self.depth = if self.db.autocommit() {
            0
        } else {
            self.depth - 1
        };
    }

    fn get_transaction_depth(&self) -> usize {
        self.depth
    }

    fn cached_statements_size(&self) -> usize {
        self.cache.len()
    }

    fn clear_cached_statements(&mut self) -> BoxFuture<'_, sqlx::Result<()>> {
        self.cache.clear();
        Box::pin(async { Ok(()) })
    }

    fn shrink_buffers(&mut self) {}

    fn flush(&mut self) -> BoxFuture<'_, sqlx::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn should_flush(&self) -> bool {
        false
    }

    fn as_migrate(&mut self) -> sqlx::Result<&mut (dyn sqlx::migrate::Migrate + Send + 'static)> {
        Ok(self)
    }

    fn fetch_many<'q>(
        &'q mut self,
        query: &'q str,
        persistent: bool,
        arguments: Option<AnyArguments<'q>>,
    ) -> BoxStream<'q, sqlx::Result<Either<AnyQueryResult, AnyRow>>> {
        let cursor = Cursor::new(self, query, persistent, arguments);
        Box::pin(futures::stream::unfold(cursor, |mut c| async move {
            match c.advance().await {
                Ok(Next::Row(r)) => {
                    // A long scan lets the runtime's other tasks run between rows.
                    tokio::task::consume_budget().await;
                    Some((Ok(Either::Right(r)), c))
                }
                Ok(Next::Finished(q)) => Some((Ok(Either::Left(q)), c)),
                Ok(Next::End | Next::Busy(_)) => None,
                Err(e) => {
                    c.stop();
                    Some((Err(e), c))
                }
            }
        }))
    }

    fn fetch_optional<'q>(
        &'q mut self,
        query: &'q str,
        persistent: bool,
        arguments: Option<AnyArguments<'q>>,
    ) -> BoxFuture<'q, sqlx::Result<Option<AnyRow>>> {
        Box::pin(async move {
            let mut c = Cursor::new(self, query, persistent, arguments);
            loop {
                match c.advance().await? {
                    Next::Row(r) => return Ok(Some(r)),
                    Next::Finished(_) => {}
                    Next::End | Next::Busy(_) => return Ok(None),
                }
            }
        })
    }

    fn prepare_with<'c, 'q: 'c>(
        &'c mut self,
        _sql: &'q str,
        _parameters: &[AnyTypeInfo],
    ) -> BoxFuture<'c, sqlx::Result<AnyStatement<'q>>> {
        Box::pin(async { Err(unsupported("prepared statement handles")) })
    }

    fn describe<'q>(&'q mut self, _sql: &'q str) -> BoxFuture<'q, sqlx::Result<Describe<Any>>> {
        Box::pin(async { Err(unsupported("describe")) })
    }
}

/// What this driver does not do (Hotline never asks for it).
fn unsupported(what: &str) -> sqlx::Error {
    sqlx::Error::Configuration(format!("Hotline's SQLite driver does not support {what}").into())
}

#[cfg(test)]
mod tests;
