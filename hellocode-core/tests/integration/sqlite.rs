//! The conformance suite on SQLite, plus data surviving a reopen.

use std::sync::Arc;

use hellocode_core::storage::{MediaStore, SqliteStorage, Storage};

use hellocode_core::testing::TempDir;

pub struct Fixture {
    storage: Arc<dyn Storage>,
    _dir: TempDir,
}

impl Fixture {
    pub fn storage(&self) -> Arc<dyn Storage> {
        self.storage.clone()
    }

    pub async fn finish(self) {
        self.storage.close().await;
    }
}

async fn get_store() -> Option<Fixture> {
    let dir = TempDir::new();
    let storage = SqliteStorage::open(&dir.sqlite_url()).await.expect("open sqlite");
    Some(Fixture { storage: Arc::new(storage), _dir: dir })
}

storage_conformance_tests!(get_store);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_reopen() {
    let dir = TempDir::new();
    let url = dir.sqlite_url();
    let first = SqliteStorage::open(&url).await.expect("open");
    let written = crate::conformance::write_for_reopen(&first).await;
    first.close().await;
    let second = SqliteStorage::open(&url).await.expect("reopen");
    crate::conformance::check_after_reopen(&second, written).await;
    second.close().await;
}

#[tokio::test]
async fn creates_the_file_on_first_open() {
    let dir = TempDir::new();
    let url = format!("sqlite:{}", dir.0.join("new.db").display());
    let storage = SqliteStorage::open(&url).await.expect("open creates the file");
    assert!(dir.0.join("new.db").exists());
    storage.close().await;
}

/// An append the database refuses (here a trigger refuses it) fails only itself in its batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_append_fails_alone() {
    use sqlx::Connection;
    let dir = TempDir::new();
    let url = dir.sqlite_url();
    let storage = SqliteStorage::open(&url).await.expect("open sqlite");
    let chats = crate::conformance::batch_chats(&storage).await;
    let mut holder = sqlx::SqliteConnection::connect(&url).await.expect("connect");
    sqlx::query(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON messages WHEN NEW.content = 'poison' \
         BEGIN SELECT RAISE(ABORT, 'poison refused'); END",
    )
    .execute(&mut holder)
    .await
    .expect("trigger");
    // Hold the write lock: the first append waits for it, the others queue up behind it.
    sqlx::query("BEGIN IMMEDIATE").execute(&mut holder).await.expect("begin");
    let release = async move {
        sqlx::query("COMMIT").execute(&mut holder).await.expect("commit");
    };
    crate::conformance::a_refused_append_fails_alone(&storage, &chats, "poison", release).await;
    storage.close().await;
}

/// The media store in the database keeps bytes by address, and keeps them across a reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_store_keeps_bytes_by_address() {
    let dir = TempDir::new();
    let url = dir.sqlite_url();
    let first = SqliteStorage::open(&url).await.expect("open sqlite");
    crate::conformance::media_stores_keep_bytes_by_address(&first.media_store()).await;
    first.close().await;
    let second = SqliteStorage::open(&url).await.expect("reopen");
    let bytes = second.media_store().get("empty").await.expect("get");
    assert_eq!(bytes.as_deref(), Some(&[][..]), "the bytes survive a reopen");
    second.close().await;
}
