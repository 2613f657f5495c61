//! The SQLite backend: the embedded default. One file, created with its schema on first open.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteRow, SqliteSynchronous,
};

use super::backend::{Backend, query};
use super::statement::Statement;
use super::{MAX_BATCH, PoolConfig, SqlMediaStore, SqlStorage};

/// Storage in a SQLite file (WAL journal, `synchronous = FULL`: a commit is on disk before it
/// is acknowledged).
///
/// It implements [`Storage`](crate::storage::Storage), `Clone` (clones share the pool and the
/// append queue) and `Debug`.
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
pub type SqliteStorage = SqlStorage<sqlx::Sqlite>;

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
            .row_buffer_size(MAX_BATCH);
        let pool = config.pool_options().connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        super::start(pool).await
    }

    /// Media bytes in this database, on this storage's pool (see [`SqliteMediaStore`]).
    pub fn media_store(&self) -> SqliteMediaStore {
        SqlMediaStore::new(self.pool.clone())
    }
}

/// Uploaded bytes in a SQLite file (table `media_blobs`), on the pool of the
/// [`SqliteStorage`] that made it (`SqliteStorage::media_store`). It implements
/// [`MediaStore`](crate::storage::MediaStore), `Clone` and `Debug`.
///
/// ```
/// use hellocode_core::storage::{MediaStore, SqliteStorage, Storage};
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("hellocode-doc-media-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let storage = SqliteStorage::open(&format!("sqlite:{}/chat.db", dir.display())).await?;
/// let media = storage.media_store();
/// media.put("ab12", b"hello".to_vec().into()).await?;
/// assert_eq!(media.get("ab12").await?.as_deref(), Some(&b"hello"[..]));
/// storage.close().await;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub type SqliteMediaStore = SqlMediaStore<sqlx::Sqlite>;

impl Backend for sqlx::Sqlite {
    /// SQLite allows one writer at a time. Taking the write lock when the transaction begins
    /// (rather than at its first write) means a writer waits for the lock instead of failing with
    /// `SQLITE_BUSY` after it has read.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";

    const STORAGE_NAME: &'static str = "SqliteStorage";

    /// Placeholder for the `n`th parameter: anonymous, bound in order of appearance (see
    /// `append_all`).
    fn param(_n: usize) -> String {
        "?".to_owned()
    }

    fn skip_locked(_table: &str) -> String {
        String::new()
    }

    async fn fetch_all(
        conn: &mut SqliteConnection,
        statement: Statement,
    ) -> sqlx::Result<Vec<SqliteRow>> {
        query(statement).fetch_all(conn).await
    }

    async fn fetch_optional(
        conn: &mut SqliteConnection,
        statement: Statement,
    ) -> sqlx::Result<Option<SqliteRow>> {
        query(statement).fetch_optional(conn).await
    }

    async fn execute(conn: &mut SqliteConnection, statement: Statement) -> sqlx::Result<u64> {
        Ok(query(statement).execute(conn).await?.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::super::messages::{MESSAGES_AFTER, MESSAGES_BEFORE, POSTS_AFTER};
    use super::SqliteStorage;

    /// History and resume pages (posts only or every item) are index range reads, never table
    /// scans.
    #[tokio::test]
    async fn page_queries_read_the_chat_seq_index() {
        let dir = std::env::temp_dir().join(format!("hellocode-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite:{}", dir.join("plan.db").display());
        let storage = SqliteStorage::open(&url).await.expect("open");
        for query in [MESSAGES_BEFORE, MESSAGES_AFTER, POSTS_AFTER] {
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

    /// Recording an upload again stores no second row: the unique index `media_uses` holds for
    /// avatars too, whose chat is NULL.
    #[tokio::test]
    async fn media_uses_are_stored_once() {
        use crate::model::{ChatId, MediaKind, NewChat, NewMedia, NewUser, Timestamp};
        use crate::storage::Storage;

        let dir = std::env::temp_dir().join(format!("hellocode-media-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite:{}", dir.join("media.db").display());
        let storage = SqliteStorage::open(&url).await.expect("open");
        for name in ["ada", "bob"] {
            storage.create_user(NewUser::new(name, "x@example.org", "h")).await.expect("user");
        }
        let chat = NewChat::direct("ada", "bob", Timestamp::now());
        let chat = storage.create_chat(chat).await.expect("chat").chat.id;
        let upload = |kind, chat: Option<ChatId>| NewMedia {
            id: "c0ffee".into(),
            kind,
            owner: "ada".into(),
            chat,
            name: "a.png".into(),
            content_type: "image/png".into(),
            size: 3,
            width: None,
            height: None,
            thumbnail: None,
            at: Timestamp::now(),
        };
        for _ in 0..3 {
            storage.add_media(upload(MediaKind::Avatar, None)).await.expect("avatar");
            storage.add_media(upload(MediaKind::Attachment, Some(chat))).await.expect("file");
        }
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM media")
            .fetch_one(&storage.pool)
            .await
            .expect("count");
        assert_eq!(rows, 2, "one avatar and one attachment");
        storage.close().await;
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    /// Migration 0002 on a database written by schema 1: existing accounts keep working (and
    /// get their username key, except a look-alike of one already keyed), messages get their
    /// author's account id, and messages of authors deleted before show as deleted.
    #[tokio::test]
    async fn schema_two_keeps_existing_accounts_and_messages() {
        use crate::model::{NewUser, Seq, Timestamp};
        use crate::storage::Storage;

        let dir = std::env::temp_dir().join(format!("hellocode-v1-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("v1")).expect("temp dir");
        std::fs::write(
            dir.join("v1/0001_init.sql"),
            include_str!("../../../migrations/sqlite/0001_init.sql"),
        )
        .expect("copy migration 1");
        let url = format!("sqlite:{}", dir.join("old.db").display());
        let options =
            <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url).expect("url");
        let pool =
            sqlx::SqlitePool::connect_with(options.create_if_missing(true)).await.expect("pool");
        let v1 = sqlx::migrate::Migrator::new(dir.join("v1")).await.expect("migrator");
        v1.run(&pool).await.expect("schema 1");
        for statement in [
            "INSERT INTO users (username, email, password_hash) VALUES ('Carol', 'c@x.org', 'h1')",
            "INSERT INTO users (username, email, password_hash) VALUES ('carol', 'c@x.org', 'h2')",
            "INSERT INTO chats (last_seq, created_at) VALUES (2, 0)",
            "INSERT INTO chat_participants (chat_id, user_id) VALUES (1, 1)",
            "INSERT INTO messages (chat_id, seq, author, content, created_at) VALUES (1, 1, 'Carol', 'hi', 0)",
            "INSERT INTO messages (chat_id, seq, author, content, created_at) VALUES (1, 2, 'gone', 'bye', 0)",
        ] {
            sqlx::query(statement).execute(&pool).await.expect("schema 1 data");
        }
        pool.close().await;

        let storage = SqliteStorage::open(&url).await.expect("open with schema 2");
        for (name, hash) in [("Carol", "h1"), ("carol", "h2")] {
            let account = storage.account(name).await.expect("read").expect("still there");
            assert_eq!((account.password_hash.as_str(), account.token_generation), (hash, 0));
        }
        let taken = storage.create_user(NewUser::new("CAROL", "c@x.org", "h")).await;
        assert!(matches!(taken, Err(crate::Error::UsernameTaken(_))), "{taken:?}");
        let history = storage
            .messages_before(crate::model::ChatId(1), "Carol", None, 10)
            .await
            .expect("read");
        let authors: Vec<&str> = history.iter().map(|m| m.author.as_str()).collect();
        assert_eq!(authors, ["gone (deleted)", "Carol"]);
        let edited = storage
            .edit_message(crate::model::ChatId(1), Seq(1), "Carol", "hello", Timestamp::now(), None)
            .await
            .expect("the author's id was filled in");
        assert_eq!(edited.message.content, "hello");
        storage.close().await;
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    /// Migration 0003 on a database written by schema 2: a chat of two becomes direct, any other
    /// a group owned by its participant with the lowest user id; existing messages are posts,
    /// and the chats go on (events numbered after them).
    #[tokio::test]
    async fn schema_three_makes_groups_of_existing_chats() {
        use crate::model::{ChatChange, ChatId, ChatKind, EventKind, Role, Seq, Timestamp};
        use crate::storage::{Items, Storage};

        let dir = std::env::temp_dir().join(format!("hellocode-v2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("v2")).expect("temp dir");
        for (name, text) in [
            ("0001_init.sql", include_str!("../../../migrations/sqlite/0001_init.sql")),
            (
                "0002_accounts_by_id.sql",
                include_str!("../../../migrations/sqlite/0002_accounts_by_id.sql"),
            ),
        ] {
            std::fs::write(dir.join("v2").join(name), text).expect("copy migration");
        }
        let url = format!("sqlite:{}", dir.join("old.db").display());
        let options =
            <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url).expect("url");
        let pool =
            sqlx::SqlitePool::connect_with(options.create_if_missing(true)).await.expect("pool");
        let v2 = sqlx::migrate::Migrator::new(dir.join("v2")).await.expect("migrator");
        v2.run(&pool).await.expect("schema 2");
        // Users 1 (zed), 2 (amy), 3 (bob); chat 1 of two, chat 2 of three (its lowest user id
        // is zed's, though amy comes first by name), chat 3 of one.
        for statement in [
            "INSERT INTO users (username, email, password_hash) VALUES ('zed', 'z@x.org', 'h')",
            "INSERT INTO users (username, email, password_hash) VALUES ('amy', 'a@x.org', 'h')",
            "INSERT INTO users (username, email, password_hash) VALUES ('bob', 'b@x.org', 'h')",
            "INSERT INTO chats (last_seq, created_at) VALUES (1, 0)",
            "INSERT INTO chats (last_seq, created_at) VALUES (1, 0)",
            "INSERT INTO chats (last_seq, created_at) VALUES (0, 0)",
            "INSERT INTO chat_participants (chat_id, user_id) VALUES (1, 2), (1, 3)",
            "INSERT INTO chat_participants (chat_id, user_id) VALUES (2, 1), (2, 2), (2, 3)",
            "INSERT INTO chat_participants (chat_id, user_id) VALUES (3, 2)",
            "INSERT INTO messages (chat_id, seq, author, content, created_at, author_id) \
             VALUES (1, 1, 'amy', 'hi', 0, 2), (2, 1, 'bob', 'hey', 0, 3)",
        ] {
            sqlx::query(statement).execute(&pool).await.expect("schema 2 data");
        }
        pool.close().await;

        let storage = SqliteStorage::open(&url).await.expect("open with schema 3");
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

        let old = storage.messages_after(ChatId(2), "amy", Seq(0), 10, Items::All).await;
        let old = old.expect("read");
        assert_eq!((old.len(), old[0].kind, old[0].seq), (1, EventKind::Message, Seq(1)));
        let rename = ChatChange::Describe { name: Some("old friends".into()), topic: None };
        let changed = storage
            .change_chat(ChatId(2), "zed", rename, Timestamp::now(), None)
            .await
            .expect("rename");
        assert_eq!(changed.events[0].seq, Seq(2), "events go on from the existing posts");
        let left = storage.change_chat(ChatId(1), "amy", ChatChange::Leave, Timestamp::now(), None);
        assert_eq!(left.await.expect("a direct chat may be left").events[0].seq, Seq(2));
        storage.close().await;
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
