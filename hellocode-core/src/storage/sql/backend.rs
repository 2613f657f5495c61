//! What the shared SQL code needs of a database: a few functions that do the sqlx-typed work
//! (bind a [`Statement`]'s arguments, run it, read its rows), implemented once per backend.
//!
//! The shared code is generic over [`Backend`] alone. Every bound it relies on rides on the
//! trait's associated type bounds (`Row: SqlRow`), which, unlike `where` clauses, hold wherever
//! `DB: Backend` does: no function needs `Encode`/`Decode`/`Executor` bounds of its own.

use std::future::Future;

use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Type};

use super::statement::{Arg, Statement};

/// A SQL database the storage runs on: implemented for `sqlx::Postgres` (module `postgres`) and
/// `sqlx::Sqlite` (module `sqlite`).
///
/// Connections are `&mut Self::Connection`: a pooled connection (`&mut *conn`) and a transaction
/// (`&mut *tx`) both dereference to one. The returned futures are `Send`, as the `Storage`
/// trait's are.
pub(crate) trait Backend: sqlx::Database<Row: SqlRow> {
    /// The statement that opens a transaction that will write.
    const BEGIN_WRITE: &'static str;

    /// The name the storage goes by in `Debug` output.
    const STORAGE_NAME: &'static str;

    /// What a claiming `SELECT` ends with so that concurrent claims skip the rows of `table`
    /// (a name or alias) another holds (Postgres); empty where writers take turns anyway
    /// (SQLite).
    fn skip_locked(table: &str) -> String;

    /// The placeholder for the `n`th parameter (from 1) in SQL built at run time.
    fn param(n: usize) -> String;

    /// Run `statement` and return its rows.
    fn fetch_all(
        conn: &mut Self::Connection,
        statement: Statement,
    ) -> impl Future<Output = sqlx::Result<Vec<Self::Row>>> + Send;

    /// Run `statement` and return its first row, if any.
    fn fetch_optional(
        conn: &mut Self::Connection,
        statement: Statement,
    ) -> impl Future<Output = sqlx::Result<Option<Self::Row>>> + Send;

    /// Run `statement` and return how many rows it affected.
    fn execute(
        conn: &mut Self::Connection,
        statement: Statement,
    ) -> impl Future<Output = sqlx::Result<u64>> + Send;

    /// Run `statement` and return its first row: `RowNotFound` if there is none.
    fn fetch_one(
        conn: &mut Self::Connection,
        statement: Statement,
    ) -> impl Future<Output = sqlx::Result<Self::Row>> + Send {
        async move { Self::fetch_optional(conn, statement).await?.ok_or(sqlx::Error::RowNotFound) }
    }
}

/// `statement` as a sqlx query of `DB`, its arguments bound. The bounds are the value kinds of
/// [`Arg`]; both backends meet them, and only the backends' own functions call this, with a
/// concrete `DB`.
pub(super) fn query<DB>(statement: Statement) -> Query<'static, DB, DB::Arguments>
where
    DB: Database,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
    Option<i64>: for<'t> Encode<'t, DB> + Type<DB>,
    String: for<'t> Encode<'t, DB> + Type<DB>,
    Option<String>: for<'t> Encode<'t, DB> + Type<DB>,
    Vec<u8>: for<'t> Encode<'t, DB> + Type<DB>,
{
    let (sql, args) = statement.into_parts();
    // The text is fixed SQL or placeholders around it (see `Statement`).
    args.into_iter().fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |query, arg| match arg {
        Arg::I64(value) => query.bind(value),
        Arg::OptI64(value) => query.bind(value),
        Arg::Text(value) => query.bind(value),
        Arg::OptText(value) => query.bind(value),
        Arg::Bytes(value) => query.bind(value),
    })
}

/// Typed reads of a row's columns, by index.
pub(crate) trait SqlRow {
    fn i64(&self, index: usize) -> sqlx::Result<i64>;
    fn opt_i64(&self, index: usize) -> sqlx::Result<Option<i64>>;
    fn text(&self, index: usize) -> sqlx::Result<String>;
    fn opt_text(&self, index: usize) -> sqlx::Result<Option<String>>;
    fn bool(&self, index: usize) -> sqlx::Result<bool>;
    fn bytes(&self, index: usize) -> sqlx::Result<Vec<u8>>;
}

/// Every sqlx row whose database decodes the kinds of value the storage reads.
impl<R> SqlRow for R
where
    R: sqlx::Row,
    usize: ColumnIndex<R>,
    i64: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    bool: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    fn i64(&self, index: usize) -> sqlx::Result<i64> {
        self.try_get(index)
    }

    fn opt_i64(&self, index: usize) -> sqlx::Result<Option<i64>> {
        self.try_get(index)
    }

    fn text(&self, index: usize) -> sqlx::Result<String> {
        self.try_get(index)
    }

    fn opt_text(&self, index: usize) -> sqlx::Result<Option<String>> {
        self.try_get(index)
    }

    fn bool(&self, index: usize) -> sqlx::Result<bool> {
        self.try_get(index)
    }

    fn bytes(&self, index: usize) -> sqlx::Result<Vec<u8>> {
        self.try_get(index)
    }
}
