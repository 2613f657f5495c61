//! The conformance suite on Postgres (a fresh database per test), plus data surviving a reopen.

use std::sync::Arc;

use hellocode_core::storage::{MediaStore, PoolConfig, PostgresStorage, Storage};

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

/// The media store in the database keeps bytes by address; what one node (storage) puts,
/// another on the same database gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_store_keeps_bytes_by_address() {
    let Some(database) = PgDatabase::create().await else { return };
    let one = PostgresStorage::connect_with(&database.url, pool()).await.expect("connect");
    let other = PostgresStorage::connect_with(&database.url, pool()).await.expect("connect");
    crate::conformance::media_stores_keep_bytes_by_address(&one.media_store()).await;
    other.media_store().put("from-other", b"hi".to_vec().into()).await.expect("put");
    let bytes = one.media_store().get("from-other").await.expect("get");
    assert_eq!(bytes.as_deref(), Some(&b"hi"[..]), "shared through the database");
    one.close().await;
    other.close().await;
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

/// Migration 0003 on a database written by schema 2: a chat of two becomes direct, any other a
/// group owned by its participant with the lowest user id; existing messages are posts, and
/// the chats go on (events numbered after them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_three_makes_groups_of_existing_chats() {
    use hellocode_core::model::{ChatChange, ChatId, ChatKind, EventKind, Role, Seq, Timestamp};
    use hellocode_core::storage::Items;
    use hellocode_core::testing::TempDir;

    let Some(database) = PgDatabase::create().await else { return };
    let dir = TempDir::new();
    for (name, text) in [
        ("0001_init.sql", include_str!("../../migrations/postgres/0001_init.sql")),
        (
            "0002_accounts_by_id.sql",
            include_str!("../../migrations/postgres/0002_accounts_by_id.sql"),
        ),
    ] {
        std::fs::write(dir.0.join(name), text).expect("copy migration");
    }
    let old = sqlx::PgPool::connect(&database.url).await.expect("pool");
    let v2 = sqlx::migrate::Migrator::new(dir.0.clone()).await.expect("migrator");
    v2.run(&old).await.expect("schema 2");
    // Users 1 (zed), 2 (amy), 3 (bob); chat 1 of two, chat 2 of three (its lowest user id is
    // zed's, though amy comes first by name), chat 3 of one.
    for statement in [
        "INSERT INTO users (username, email, password_hash) VALUES ('zed', 'z@x.org', 'h')",
        "INSERT INTO users (username, email, password_hash) VALUES ('amy', 'a@x.org', 'h')",
        "INSERT INTO users (username, email, password_hash) VALUES ('bob', 'b@x.org', 'h')",
        "INSERT INTO chats (last_seq, created_at) VALUES (1, 0), (1, 0), (0, 0)",
        "INSERT INTO chat_participants (chat_id, user_id) VALUES (1, 2), (1, 3)",
        "INSERT INTO chat_participants (chat_id, user_id) VALUES (2, 1), (2, 2), (2, 3)",
        "INSERT INTO chat_participants (chat_id, user_id) VALUES (3, 2)",
        "INSERT INTO messages (chat_id, seq, author, content, created_at, author_id) \
         VALUES (1, 1, 'amy', 'hi', 0, 2), (2, 1, 'bob', 'hey', 0, 3)",
    ] {
        sqlx::query(statement).execute(&old).await.expect("schema 2 data");
    }
    old.close().await;

    let storage = PostgresStorage::connect_with(&database.url, pool()).await.expect("schema 3");
    let direct = storage.chat(ChatId(1)).await.expect("read").expect("chat 1");
    assert_eq!(direct.kind, ChatKind::Direct);
    assert!(direct.participants.iter().all(|p| p.role.is_none()), "{direct:?}");
    let group = storage.chat(ChatId(2)).await.expect("read").expect("chat 2");
    assert_eq!(group.kind, ChatKind::Group);
    let roles: Vec<(&str, Option<Role>)> =
        group.participants.iter().map(|p| (p.username.as_str(), p.role)).collect();
    assert_eq!(
        roles,
        [("amy", Some(Role::Member)), ("bob", Some(Role::Member)), ("zed", Some(Role::Owner))]
    );
    let alone = storage.chat(ChatId(3)).await.expect("read").expect("chat 3");
    assert_eq!((alone.kind, alone.role_of("amy")), (ChatKind::Group, Some(Role::Owner)));
    let items = storage.messages_after(ChatId(2), "amy", Seq(0), 10, Items::All).await;
    let items = items.expect("read");
    assert_eq!((items.len(), items[0].kind, items[0].seq), (1, EventKind::Message, Seq(1)));
    let rename = ChatChange::Describe { name: Some("old friends".into()), topic: None };
    let changed = storage
        .change_chat(ChatId(2), "zed", rename, Timestamp::now(), None)
        .await
        .expect("rename");
    assert_eq!(changed.events[0].seq, Seq(2), "events go on from the existing posts");
    let left = storage.change_chat(ChatId(1), "amy", ChatChange::Leave, Timestamp::now(), None);
    assert_eq!(left.await.expect("a direct chat may be left").events[0].seq, Seq(2));
    storage.close().await;
    drop(database);
}
