//! Test fixtures shared by every crate's tests (feature `testing`): the service policy of
//! DESIGN.md and per-test databases. Not for production use.

use std::sync::atomic::{AtomicU32, Ordering};

/// Where the project's machines run Postgres (trust auth).
/// The maintenance database of the Postgres the tests use.
pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// With `HELLOCODE_REQUIRE_SERVICES=1` (set by `.ci/run`) a missing service fails the test;
/// otherwise the test prints why it skips.
pub fn service_unavailable(service: &str, why: &dyn std::fmt::Display) {
    if std::env::var("HELLOCODE_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!("{service} is required (HELLOCODE_REQUIRE_SERVICES=1) but unavailable: {why}");
    }
    eprintln!(
        "SKIPPED: {service} unavailable ({why}); set HELLOCODE_REQUIRE_SERVICES=1 to fail instead"
    );
}

/// A name no other test run uses: process id, a counter and the clock.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct TempDir(pub std::path::PathBuf);

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl TempDir {
    /// A fresh, empty directory under the system's temporary directory.
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(unique_name("hellocode"));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// A SQLite URL for a database file in this directory.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite:{}", self.0.join("hellocode.db").display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Postgres database created for one test, dropped when this value is dropped (also when
/// the test panics).
#[derive(Debug)]
pub struct PgDatabase {
    /// Database name.
    pub name: String,
    /// URL to connect to it.
    pub url: String,
}

impl PgDatabase {
    /// Create a fresh database, or `None` (after printing why) when Postgres is not reachable.
    pub async fn create() -> Option<PgDatabase> {
        use sqlx::Connection;
        let mut admin = match sqlx::PgConnection::connect(POSTGRES_ADMIN_URL).await {
            Ok(conn) => conn,
            Err(err) => {
                service_unavailable("PostgreSQL on 127.0.0.1:5432", &err);
                return None;
            }
        };
        let name = unique_name("hellocode_test");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        Some(PgDatabase { name, url })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop may run inside an async test, where blocking on a future is not allowed: do it
        // on a thread of its own with a small runtime.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                use sqlx::Connection;
                let mut admin = sqlx::PgConnection::connect(POSTGRES_ADMIN_URL).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}
