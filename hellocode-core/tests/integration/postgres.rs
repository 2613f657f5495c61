//! The conformance suite on Postgres (a fresh database per test), plus data surviving a reopen.

use std::sync::Arc;

use hellocode_core::storage::{PoolConfig, PostgresStorage, Storage};

use hellocode_core::testing::PgDatabase;

pub struct Fixture {
    storage: Arc<dyn Storage>,
    // Dropped after `storage`: the database goes once nothing uses it.
    database: PgDatabase,
}

impl Fixture {
    pub fn storage(&self) -> Arc<dyn Storage> {
        self.storage.clone()
    }

    pub async fn finish(self) {
        self.storage.close().await;
        drop(self.database);
    }
}

fn pool() -> PoolConfig {
    // Small pools: several tests run at once against one server.
    PoolConfig { max_connections: 4, ..PoolConfig::default() }
}

async fn get_store() -> Option<Fixture> {
    let database = PgDatabase::create().await?;
    let storage = PostgresStorage::connect_with(&database.url, pool()).await.expect("connect");
    Some(Fixture { storage: Arc::new(storage), database })
}

storage_conformance_tests!(get_store);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_reopen() {
    let Some(database) = PgDatabase::create().await else { return };
    let first = PostgresStorage::connect_with(&database.url, pool()).await.expect("connect");
    let written = crate::conformance::write_for_reopen(&first).await;
    first.close().await;
    let second = PostgresStorage::connect_with(&database.url, pool()).await.expect("reconnect");
    crate::conformance::check_after_reopen(&second, written).await;
    second.close().await;
    drop(database);
}

/// A NUL in a message (which Postgres text cannot hold) fails only that append of its batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_append_fails_alone() {
    use sqlx::Connection;
    let Some(fixture) = get_store().await else { return };
    let storage = fixture.storage();
    let chats = crate::conformance::batch_chats(&*storage).await;
    // Hold chats[0]'s row: the first append waits for it, the others queue up behind it.
    let mut holder = sqlx::PgConnection::connect(&fixture.database.url).await.expect("connect");
    sqlx::query("BEGIN").execute(&mut holder).await.expect("begin");
    sqlx::query("SELECT id FROM chats WHERE id = $1 FOR UPDATE")
        .bind(chats[0].0)
        .execute(&mut holder)
        .await
        .expect("lock");
    let release = async move {
        sqlx::query("COMMIT").execute(&mut holder).await.expect("commit");
    };
    crate::conformance::a_refused_append_fails_alone(&*storage, &chats, "a\u{0}b", release).await;
    fixture.finish().await;
}
