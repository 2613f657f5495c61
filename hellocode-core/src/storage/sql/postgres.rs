//! The Postgres backend: for production and for several server nodes sharing one database.

use sqlx::postgres::{PgConnection, PgRow};

use super::backend::{Backend, query};
use super::statement::Statement;
use super::{PoolConfig, SqlMediaStore, SqlStorage};

/// Storage in a Postgres database, through a bounded connection pool.
///
/// It implements [`Storage`](crate::storage::Storage), `Clone` (clones share the pool and the
/// append queue) and `Debug`.
///
/// ```no_run
/// use hellocode_core::storage::{PostgresStorage, Storage};
/// # async fn run() -> hellocode_core::Result<()> {
/// let storage = PostgresStorage::connect("postgres://postgres@127.0.0.1:5432/hellocode").await?;
/// storage.add_language("Rust").await?;
/// # Ok(()) }
/// ```
pub type PostgresStorage = SqlStorage<sqlx::Postgres>;

impl PostgresStorage {
    /// Connect to the database at `url` and bring its schema up to date.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        Self::connect_with(url, PoolConfig::default()).await
    }

    /// [`connect`](Self::connect) with explicit pool settings.
    pub async fn connect_with(url: &str, config: PoolConfig) -> crate::Result<Self> {
        let pool = config.pool_options().connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        super::start(pool).await
    }

    /// Media bytes in this database, on this storage's pool (see [`PostgresMediaStore`]).
    pub fn media_store(&self) -> PostgresMediaStore {
        SqlMediaStore::new(self.pool.clone())
    }
}

/// Uploaded bytes in a Postgres database (table `media_blobs`), on the pool of the
/// [`PostgresStorage`] that made it (`PostgresStorage::media_store`): the media store of
/// several server nodes sharing one database. It implements
/// [`MediaStore`](crate::storage::MediaStore), `Clone` and `Debug`.
pub type PostgresMediaStore = SqlMediaStore<sqlx::Postgres>;

impl Backend for sqlx::Postgres {
    /// Postgres serializes a chat's appends through the row lock that `UPDATE chats` takes, so a
    /// plain transaction suffices.
    const BEGIN_WRITE: &'static str = "BEGIN";

    const STORAGE_NAME: &'static str = "PostgresStorage";

    /// Placeholder for the `n`th parameter (parameters are bound in order of appearance anyway).
    fn param(n: usize) -> String {
        format!("${n}")
    }

    fn skip_locked(table: &str) -> String {
        format!("FOR UPDATE OF {table} SKIP LOCKED")
    }

    async fn fetch_all(conn: &mut PgConnection, statement: Statement) -> sqlx::Result<Vec<PgRow>> {
        query(statement).fetch_all(conn).await
    }

    async fn fetch_optional(
        conn: &mut PgConnection,
        statement: Statement,
    ) -> sqlx::Result<Option<PgRow>> {
        query(statement).fetch_optional(conn).await
    }

    async fn execute(conn: &mut PgConnection, statement: Statement) -> sqlx::Result<u64> {
        Ok(query(statement).execute(conn).await?.rows_affected())
    }
}
