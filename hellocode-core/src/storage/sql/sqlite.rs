//! The SQLite backend: the embedded default. One file, created with its schema on first open.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::PoolConfig;

/// Storage in a SQLite file (WAL journal, `synchronous = FULL`: a commit is on disk before it
/// is acknowledged).
///
/// ```
/// use hellocode_core::storage::{SqliteStorage, Storage};
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("hellocode-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let storage = SqliteStorage::open(&format!("sqlite:{}/chat.db", dir.display())).await?;
/// storage.add_language("Rust").await?;
/// storage.close().await;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    pool: SqlitePool,
    /// Appends go through one batching task (group commit).
    appends: tokio::sync::mpsc::Sender<AppendJob>,
}

impl SqliteStorage {
    /// Open (creating if needed) the database at `url` (`sqlite:path/to/file.db`) and bring its
    /// schema up to date.
    pub async fn open(url: &str) -> crate::Result<Self> {
        Self::open_with(url, PoolConfig::default()).await
    }

    /// [`open`](Self::open) with explicit pool settings.
    pub async fn open_with(url: &str, config: PoolConfig) -> crate::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            // Rows come back from SQLite's thread through a bounded channel; with room for a
            // whole batch's rows the thread is not woken once per row (BENCHMARKS.md).
            .row_buffer_size(super::MAX_BATCH);
        let pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        backfill_username_keys(&pool).await?;
        let (appends, jobs) = tokio::sync::mpsc::channel(4 * super::MAX_BATCH);
        tokio::spawn(append_batches(pool.clone(), jobs));
        Ok(SqliteStorage { pool, appends })
    }
}

/// SQLite allows one writer at a time. Taking the write lock when the transaction begins (rather
/// than at its first write) means a writer waits for the lock instead of failing with
/// `SQLITE_BUSY` after it has read.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// Placeholder for the `n`th parameter: anonymous, bound in order of appearance (see `append_all`).
fn param(_n: usize) -> String {
    "?".to_owned()
}

super::sql_storage!(SqliteStorage, sqlx::Sqlite);

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::super::{MESSAGES_AFTER, MESSAGES_BEFORE};
    use super::SqliteStorage;

    /// History and resume pages are index range reads, never table scans.
    #[tokio::test]
    async fn page_queries_read_the_chat_seq_index() {
        let dir = std::env::temp_dir().join(format!("hellocode-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite:{}", dir.join("plan.db").display());
        let storage = SqliteStorage::open(&url).await.expect("open");
        for query in [MESSAGES_BEFORE, MESSAGES_AFTER] {
            let plan: Vec<String> =
                sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {query}")))
                    .bind(1_i64)
                    .bind(10_i64)
                    .bind(10_i64)
                    .fetch_all(&storage.pool)
                    .await
                    .expect("explain")
                    .iter()
                    .map(|row| row.get::<String, _>("detail"))
                    .collect();
            let plan = plan.join("; ");
            assert!(plan.contains("USING INDEX messages_chat_seq"), "{query}: {plan}");
            assert!(!plan.contains("USE TEMP B-TREE"), "no sort step: {plan}");
        }
        storage.pool.close().await;
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
