//! What the shared SQL code needs of a database: a few functions that do the sqlx-typed work
//! (bind a [`Statement`]'s arguments, run it, read its rows), implemented once per backend.
//!
//! The shared code is generic over [`Backend`] alone. Every bound it relies on rides on the
//! trait's associated type bounds (`Row: SqlRow`), which, unlike `where` clauses, hold wherever
//! `DB: Backend` does: no function needs `Encode`/`Decode`/`Executor` bounds of its own.

use std::future::Future;

use super::statement::Statement;

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

/// Typed reads of a row's columns, by index.
pub(crate) trait SqlRow {
    fn i64(&self, index: usize) -> sqlx::Result<i64>;
    fn opt_i64(&self, index: usize) -> sqlx::Result<Option<i64>>;
    fn text(&self, index: usize) -> sqlx::Result<String>;
    fn opt_text(&self, index: usize) -> sqlx::Result<Option<String>>;
    fn bool(&self, index: usize) -> sqlx::Result<bool>;
}
