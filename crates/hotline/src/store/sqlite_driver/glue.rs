//! The type-level registration sqlx asks of a driver before `Any` can dispatch to it.
//!
//! sqlx builds an `Any` driver from a full `Database` type; Hotline reaches SQLite only
//! through `Any`, so of these types only the connection and its options ever run. The
//! others exist to satisfy the trait bounds and refuse politely if ever called.

use std::borrow::Cow;
use std::str::FromStr;

use futures::future::BoxFuture;
use sqlx::any::{AnyConnectOptions, AnyQueryResult, AnyTypeInfo, AnyTypeInfoKind};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx_core::any::driver::AnyDriver;
use sqlx_core::any::AnyConnectionBackend;
use sqlx_core::arguments::Arguments;
use sqlx_core::column::Column;
use sqlx_core::connection::{ConnectOptions, Connection};
use sqlx_core::database::Database;
use sqlx_core::encode::Encode;
use sqlx_core::row::Row;
use sqlx_core::statement::Statement;
use sqlx_core::transaction::{Transaction, TransactionManager};
use sqlx_core::types::Type;
use sqlx_core::value::{Value, ValueRef};
use sqlx_core::Either;

use super::{unsupported, InlineConnection};

/// The `Any` driver for `sqlite:` URLs (see [`super`]).
pub(crate) const DRIVER: AnyDriver = AnyDriver::without_migrate::<InlineSqlite>();

/// The driver as sqlx's `Database`.
#[derive(Debug)]
pub struct InlineSqlite;

impl Database for InlineSqlite {
    type Connection = InlineConnection;
    type TransactionManager = Manager;
    type Row = Unused;
    type QueryResult = AnyQueryResult;
    type Column = Unused;
    type TypeInfo = AnyTypeInfo;
    type Value = Unused;
    type ValueRef<'r> = Unused;
    type Arguments<'q> = Unused;
    type ArgumentBuffer<'q> = ();
    type Statement<'q> = Unused;
    const NAME: &'static str = "SQLite";
    const URL_SCHEMES: &'static [&'static str] = &["sqlite"];
}

/// Where to open the database, from the URL (`sqlite://path?mode=rwc`, `sqlite::memory:`).
#[derive(Debug, Clone)]
pub struct Options {
    pub(super) path: String,
    flags: std::ffi::c_int,
    pub(super) memory: bool,
}

impl TryFrom<&AnyConnectOptions> for Options {
    type Error = sqlx::Error;

    fn try_from(o: &AnyConnectOptions) -> Result<Self, sqlx::Error> {
        Options::from_url(&o.database_url)
    }
}

impl FromStr for Options {
    type Err = sqlx::Error;

    fn from_str(s: &str) -> Result<Self, sqlx::Error> {
        let url = s
            .parse()
            .map_err(|e| sqlx::Error::Configuration(Box::new(e)))?;
        Options::from_url(&url)
    }
}

impl ConnectOptions for Options {
    type Connection = InlineConnection;

    fn from_url(url: &sqlx_core::Url) -> Result<Self, sqlx::Error> {
        use libsqlite3_sys as ffi;
        let text = url.as_str();
        if text.contains(":memory:") || text.contains("mode=memory") {
            return Ok(Options {
                path: ":memory:".into(),
                flags: ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE,
                memory: true,
            });
        }
        // sqlx's own parser decides what the URL's path means, as it did before.
        let path = SqliteConnectOptions::from_url(url)?
            .get_filename()
            .to_string_lossy()
            .into_owned();
        let mode = url
            .query_pairs()
            .find(|(k, _)| k == "mode")
            .map(|(_, v)| v.into_owned());
        let flags = match mode.as_deref() {
            Some("ro") => ffi::SQLITE_OPEN_READONLY,
            Some("rwc") => ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE,
            _ => ffi::SQLITE_OPEN_READWRITE,
        };
        Ok(Options {
            path,
            flags: flags | ffi::SQLITE_OPEN_NOMUTEX,
            memory: false,
        })
    }

    fn connect(&self) -> BoxFuture<'_, Result<InlineConnection, sqlx::Error>> {
        Box::pin(InlineConnection::open(&self.path, self.flags, self.memory))
    }

    fn log_statements(self, _level: log::LevelFilter) -> Self {
        self
    }

    fn log_slow_statements(self, _level: log::LevelFilter, _duration: std::time::Duration) -> Self {
        self
    }
}

impl Connection for InlineConnection {
    type Database = InlineSqlite;
    type Options = Options;

    fn close(self) -> BoxFuture<'static, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }

    fn close_hard(self) -> BoxFuture<'static, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }

    fn ping(&mut self) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }

    fn begin(&mut self) -> BoxFuture<'_, Result<Transaction<'_, InlineSqlite>, sqlx::Error>> {
        Transaction::begin(self, None)
    }

    fn shrink_buffers(&mut self) {}

    fn flush(&mut self) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }

    fn should_flush(&self) -> bool {
        false
    }
}

/// Transactions, by the connection's own `Any` methods.
pub struct Manager;

impl TransactionManager for Manager {
    type Database = InlineSqlite;

    fn begin<'conn>(
        conn: &'conn mut InlineConnection,
        statement: Option<Cow<'static, str>>,
    ) -> BoxFuture<'conn, Result<(), sqlx::Error>> {
        AnyConnectionBackend::begin(conn, statement)
    }

    fn commit(conn: &mut InlineConnection) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        AnyConnectionBackend::commit(conn)
    }

    fn rollback(conn: &mut InlineConnection) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        AnyConnectionBackend::rollback(conn)
    }

    fn start_rollback(conn: &mut InlineConnection) {
        AnyConnectionBackend::start_rollback(conn)
    }

    fn get_transaction_depth(conn: &InlineConnection) -> usize {
        AnyConnectionBackend::get_transaction_depth(conn)
    }
}

/// The type of every [`Unused`] value.
const NULL: AnyTypeInfo = AnyTypeInfo {
    kind: AnyTypeInfoKind::Null,
};

/// Stands for the rows, columns, values, arguments and statements sqlx's `Database`
/// names; Hotline's queries get `Any`'s own types instead, so this is never built.
#[derive(Debug, Default, Clone)]
pub struct Unused;

impl Row for Unused {
    type Database = InlineSqlite;

    fn columns(&self) -> &[Unused] {
        &[]
    }

    fn try_get_raw<I>(&self, _index: I) -> Result<Unused, sqlx::Error>
    where
        I: sqlx_core::column::ColumnIndex<Self>,
    {
        Err(unsupported("typed rows"))
    }
}

impl Column for Unused {
    type Database = InlineSqlite;

    fn ordinal(&self) -> usize {
        0
    }

    fn name(&self) -> &str {
        ""
    }

    fn type_info(&self) -> &AnyTypeInfo {
        &NULL
    }
}

impl Value for Unused {
    type Database = InlineSqlite;

    fn as_ref(&self) -> Unused {
        Unused
    }

    fn type_info(&self) -> Cow<'_, AnyTypeInfo> {
        Cow::Borrowed(&NULL)
    }

    fn is_null(&self) -> bool {
        true
    }
}

impl ValueRef<'_> for Unused {
    type Database = InlineSqlite;

    fn to_owned(&self) -> Unused {
        Unused
    }

    fn type_info(&self) -> Cow<'_, AnyTypeInfo> {
        Cow::Borrowed(&NULL)
    }

    fn is_null(&self) -> bool {
        true
    }
}

impl<'q> Arguments<'q> for Unused {
    type Database = InlineSqlite;

    fn reserve(&mut self, _additional: usize, _size: usize) {}

    fn add<T>(&mut self, _value: T) -> Result<(), sqlx_core::error::BoxDynError>
    where
        T: 'q + Encode<'q, InlineSqlite> + Type<InlineSqlite>,
    {
        Err(Box::new(unsupported("typed arguments")))
    }

    fn len(&self) -> usize {
        0
    }
}

impl<'q> Statement<'q> for Unused {
    type Database = InlineSqlite;

    fn to_owned(&self) -> Unused {
        Unused
    }

    fn sql(&self) -> &str {
        ""
    }

    fn parameters(&self) -> Option<Either<&[AnyTypeInfo], usize>> {
        None
    }

    fn columns(&self) -> &[Unused] {
        &[]
    }

    sqlx_core::impl_statement_query!(Unused);
}
