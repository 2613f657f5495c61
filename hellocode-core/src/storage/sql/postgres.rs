//! The Postgres backend: for production and for several server nodes sharing one database.

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::PoolConfig;

/// Storage in a Postgres database, through a bounded connection pool.
///
/// ```no_run
/// use hellocode_core::storage::{PostgresStorage, Storage};
/// # async fn run() -> hellocode_core::Result<()> {
/// let storage = PostgresStorage::connect("postgres://postgres@127.0.0.1:5432/hellocode").await?;
/// storage.add_language("Rust").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStorage {
    pool: PgPool,
    /// Appends go through one batching task (group commit).
    appends: tokio::sync::mpsc::Sender<AppendJob>,
}

impl PostgresStorage {
    /// Connect to the database at `url` and bring its schema up to date.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        Self::connect_with(url, PoolConfig::default()).await
    }

    /// [`connect`](Self::connect) with explicit pool settings.
    pub async fn connect_with(url: &str, config: PoolConfig) -> crate::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        backfill_username_keys(&pool).await?;
        let (appends, jobs) = tokio::sync::mpsc::channel(4 * super::MAX_BATCH);
        tokio::spawn(append_batches(pool.clone(), jobs));
        Ok(PostgresStorage { pool, appends })
    }
}

/// Postgres serializes a chat's appends through the row lock that `UPDATE chats` takes, so a plain
/// transaction suffices.
const BEGIN_WRITE: &str = "BEGIN";

/// Placeholder for the `n`th parameter (parameters are bound in order of appearance anyway).
fn param(n: usize) -> String {
    format!("${n}")
}

super::sql_storage!(PostgresStorage, sqlx::Postgres);
