//! The one query path over both backends (SQLite and PostgreSQL).
//!
//! Every store query is written once, with `$N` placeholders and SQL both engines accept,
//! and built with [`q`], [`q_as`] or [`q_scalar`] instead of `sqlx::query*`. The builder
//! collects typed arguments ([`Arg`]) and, when executed on a [`Conn`], binds them onto the
//! backend's own sqlx query: rows are decoded by the backend's driver directly (no
//! conversion into `sqlx::any` rows), so SQLite pays nothing for PostgreSQL being possible.
//! Where the dialects differ a query asks [`Conn::is_pg`] (a handful of places).
//!
//! Why not `sqlx::Any`: it cannot describe SQLite columns declared `BOOLEAN` (every such
//! select fails with "Any driver does not support the SQLite type Bool"), and it copies
//! every row into an intermediate form.

use std::marker::PhantomData;

use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{ColumnIndex, Decode, FromRow, PgConnection, Postgres, Sqlite, SqliteConnection, Type};

/// A borrowed connection of either backend (from the pool or inside a transaction).
pub(crate) enum Conn<'a> {
    /// SQLite.
    Lite(&'a mut SqliteConnection),
    /// PostgreSQL.
    Pg(&'a mut PgConnection),
}

impl Conn<'_> {
    /// Whether this is PostgreSQL (for the few statements whose dialects differ).
    pub(crate) fn is_pg(&self) -> bool {
        matches!(self, Conn::Pg(_))
    }
}

/// One bound value, typed so a `NULL` keeps its type on PostgreSQL.
#[derive(Debug)]
pub(crate) enum Arg<'q> {
    I64(Option<i64>),
    F64(Option<f64>),
    Bool(Option<bool>),
    Str(Option<&'q str>),
    String(Option<String>),
    Bytes(Option<&'q [u8]>),
    ByteVec(Option<Vec<u8>>),
}

/// A value that can be bound to a store query.
pub(crate) trait Param<'q> {
    /// The bound form.
    fn arg(self) -> Arg<'q>;
}

macro_rules! param {
    ($t:ty, $v:ident, $conv:expr) => {
        impl<'q> Param<'q> for $t {
            fn arg(self) -> Arg<'q> {
                let $v = self;
                $conv
            }
        }
    };
}
param!(i64, v, Arg::I64(Some(v)));
param!(&i64, v, Arg::I64(Some(*v)));
param!(Option<i64>, v, Arg::I64(v));
param!(i32, v, Arg::I64(Some(v.into())));
param!(Option<i32>, v, Arg::I64(v.map(Into::into)));
param!(u32, v, Arg::I64(Some(v.into())));
param!(f64, v, Arg::F64(Some(v)));
param!(Option<f64>, v, Arg::F64(v));
param!(bool, v, Arg::Bool(Some(v)));
param!(Option<bool>, v, Arg::Bool(v));
param!(&'q str, v, Arg::Str(Some(v)));
param!(Option<&'q str>, v, Arg::Str(v));
param!(&'q String, v, Arg::Str(Some(v.as_str())));
param!(&'q Option<String>, v, Arg::Str(v.as_deref()));
param!(String, v, Arg::String(Some(v)));
param!(Option<String>, v, Arg::String(v));
param!(&'q [u8], v, Arg::Bytes(Some(v)));
param!(Option<&'q [u8]>, v, Arg::Bytes(v));
param!(&'q Vec<u8>, v, Arg::Bytes(Some(v.as_slice())));
param!(Vec<u8>, v, Arg::ByteVec(Some(v)));
param!(Option<Vec<u8>>, v, Arg::ByteVec(v));

fn add_lite<'q>(a: &mut SqliteArguments<'q>, v: Arg<'q>) -> Result<(), sqlx::Error> {
    use sqlx::Arguments;
    match v {
        Arg::I64(v) => a.add(v),
        Arg::F64(v) => a.add(v),
        Arg::Bool(v) => a.add(v),
        Arg::Str(v) => a.add(v),
        Arg::String(v) => a.add(v),
        Arg::Bytes(v) => a.add(v),
        Arg::ByteVec(v) => a.add(v),
    }
    .map_err(sqlx::Error::Encode)
}

fn add_pg(a: &mut PgArguments, v: Arg<'_>) -> Result<(), sqlx::Error> {
    use sqlx::Arguments;
    match v {
        Arg::I64(v) => a.add(v),
        Arg::F64(v) => a.add(v),
        Arg::Bool(v) => a.add(v),
        Arg::Str(v) => a.add(v),
        Arg::String(v) => a.add(v),
        Arg::Bytes(v) => a.add(v),
        Arg::ByteVec(v) => a.add(v),
    }
    .map_err(sqlx::Error::Encode)
}

/// A statement and its arguments, not yet tied to a backend.
pub(crate) struct Q<'q> {
    sql: &'q str,
    args: Vec<Arg<'q>>,
}

/// A statement for `sql` (the `sqlx::query` of this store).
pub(crate) fn q(sql: &str) -> Q<'_> {
    Q {
        sql,
        args: Vec::new(),
    }
}

/// A statement whose rows decode into `T` (the `sqlx::query_as` of this store).
pub(crate) fn q_as<T>(sql: &str) -> QAs<'_, T> {
    QAs {
        q: q(sql),
        _t: PhantomData,
    }
}

/// A statement whose first column decodes into `T` (the `sqlx::query_scalar` of this store).
pub(crate) fn q_scalar<T>(sql: &str) -> QScalar<'_, T> {
    QScalar {
        q: q(sql),
        _t: PhantomData,
    }
}

impl<'q> Q<'q> {
    /// Adds the next argument.
    pub(crate) fn bind(mut self, v: impl Param<'q>) -> Self {
        self.args.push(v.arg());
        self
    }

    fn lite(self) -> Result<sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>, sqlx::Error> {
        let mut a = SqliteArguments::default();
        for v in self.args {
            add_lite(&mut a, v)?;
        }
        Ok(sqlx::query_with(self.sql, a))
    }

    fn pg(self) -> Result<sqlx::query::Query<'q, Postgres, PgArguments>, sqlx::Error> {
        let mut a = PgArguments::default();
        for v in self.args {
            add_pg(&mut a, v)?;
        }
        Ok(sqlx::query_with(self.sql, a))
    }

    /// Runs it; the number of rows it changed.
    pub(crate) async fn execute(self, c: &mut Conn<'_>) -> Result<Done, sqlx::Error> {
        Ok(Done(match c {
            Conn::Lite(c) => self.lite()?.execute(&mut **c).await?.rows_affected(),
            Conn::Pg(c) => self.pg()?.execute(&mut **c).await?.rows_affected(),
        }))
    }

    /// Exactly one row.
    pub(crate) async fn fetch_one(self, c: &mut Conn<'_>) -> Result<Row, sqlx::Error> {
        Ok(match c {
            Conn::Lite(c) => Row::Lite(self.lite()?.fetch_one(&mut **c).await?),
            Conn::Pg(c) => Row::Pg(self.pg()?.fetch_one(&mut **c).await?),
        })
    }

    /// At most one row.
    pub(crate) async fn fetch_optional(self, c: &mut Conn<'_>) -> Result<Option<Row>, sqlx::Error> {
        Ok(match c {
            Conn::Lite(c) => self.lite()?.fetch_optional(&mut **c).await?.map(Row::Lite),
            Conn::Pg(c) => self.pg()?.fetch_optional(&mut **c).await?.map(Row::Pg),
        })
    }

    /// Every row.
    pub(crate) async fn fetch_all(self, c: &mut Conn<'_>) -> Result<Vec<Row>, sqlx::Error> {
        Ok(match c {
            Conn::Lite(c) => self
                .lite()?
                .fetch_all(&mut **c)
                .await?
                .into_iter()
                .map(Row::Lite)
                .collect(),
            Conn::Pg(c) => self
                .pg()?
                .fetch_all(&mut **c)
                .await?
                .into_iter()
                .map(Row::Pg)
                .collect(),
        })
    }

    /// The rows one at a time (memory does not grow with the result).
    pub(crate) fn fetch<'e>(self, c: &'e mut Conn<'_>) -> BoxStream<'e, Result<Row, sqlx::Error>>
    where
        'q: 'e,
    {
        match c {
            Conn::Lite(c) => match self.lite() {
                Ok(q) => q.fetch(&mut **c).map_ok(Row::Lite).boxed(),
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            },
            Conn::Pg(c) => match self.pg() {
                Ok(q) => q.fetch(&mut **c).map_ok(Row::Pg).boxed(),
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            },
        }
    }
}

/// What an `execute` changed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Done(u64);

impl Done {
    /// Rows inserted, updated or deleted.
    pub(crate) fn rows_affected(&self) -> u64 {
        self.0
    }
}

/// A row of either backend, decoded by that backend's driver.
pub(crate) enum Row {
    Lite(SqliteRow),
    Pg(PgRow),
}

/// A column type both backends decode.
pub(crate) trait Col:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}
impl<T> Col for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// A column name or position valid on both backends.
pub(crate) trait Index: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> {}
impl<I> Index for I where I: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> {}

/// A row type both backends can build (what `#[derive(FromRow)]` generates).
pub(crate) trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow>
{
}
impl<T> Record for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> {}

impl Row {
    /// The column `i` as `T`.
    pub(crate) fn try_get<T: Col, I: Index>(&self, i: I) -> Result<T, sqlx::Error> {
        use sqlx::Row as _;
        match self {
            Row::Lite(r) => r.try_get(i),
            Row::Pg(r) => r.try_get(i),
        }
    }

    /// The column `i` as `T`; panics if it is missing or of another type (like
    /// `sqlx::Row::get`; only for columns the query itself defines).
    pub(crate) fn get<T: Col, I: Index>(&self, i: I) -> T {
        use sqlx::Row as _;
        match self {
            Row::Lite(r) => r.get(i),
            Row::Pg(r) => r.get(i),
        }
    }

    /// The whole row as `T`.
    pub(crate) fn record<T: Record>(&self) -> Result<T, sqlx::Error> {
        match self {
            Row::Lite(r) => T::from_row(r),
            Row::Pg(r) => T::from_row(r),
        }
    }
}

/// [`q_as`]'s builder.
pub(crate) struct QAs<'q, T> {
    q: Q<'q>,
    _t: PhantomData<fn() -> T>,
}

impl<'q, T: Record + Send + Unpin> QAs<'q, T> {
    /// Adds the next argument.
    pub(crate) fn bind(mut self, v: impl Param<'q>) -> Self {
        self.q = self.q.bind(v);
        self
    }

    /// Exactly one row.
    pub(crate) async fn fetch_one(self, c: &mut Conn<'_>) -> Result<T, sqlx::Error> {
        self.q.fetch_one(c).await?.record()
    }

    /// At most one row.
    pub(crate) async fn fetch_optional(self, c: &mut Conn<'_>) -> Result<Option<T>, sqlx::Error> {
        self.q
            .fetch_optional(c)
            .await?
            .map(|r| r.record())
            .transpose()
    }

    /// Every row.
    pub(crate) async fn fetch_all(self, c: &mut Conn<'_>) -> Result<Vec<T>, sqlx::Error> {
        self.q.fetch_all(c).await?.iter().map(Row::record).collect()
    }
}

/// [`q_scalar`]'s builder.
pub(crate) struct QScalar<'q, T> {
    q: Q<'q>,
    _t: PhantomData<fn() -> T>,
}

impl<'q, T: Col> QScalar<'q, T> {
    /// Adds the next argument.
    pub(crate) fn bind(mut self, v: impl Param<'q>) -> Self {
        self.q = self.q.bind(v);
        self
    }

    /// Exactly one row.
    pub(crate) async fn fetch_one(self, c: &mut Conn<'_>) -> Result<T, sqlx::Error> {
        self.q.fetch_one(c).await?.try_get(0)
    }

    /// At most one row.
    pub(crate) async fn fetch_optional(self, c: &mut Conn<'_>) -> Result<Option<T>, sqlx::Error> {
        self.q
            .fetch_optional(c)
            .await?
            .map(|r| r.try_get(0))
            .transpose()
    }

    /// Every row.
    pub(crate) async fn fetch_all(self, c: &mut Conn<'_>) -> Result<Vec<T>, sqlx::Error> {
        self.q
            .fetch_all(c)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
    }
}
