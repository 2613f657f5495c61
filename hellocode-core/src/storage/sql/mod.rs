//! The SQL backends. SQLite and Postgres run the very same statements (both accept `$N`
//! placeholders, `RETURNING` and partial unique indexes), so the implementation is written once,
//! generic over [`Backend`], and [`SqlStorage`] is instantiated per database. What differs lives
//! in each backend's module: connecting, pool settings, how a write transaction begins, how a
//! placeholder of built SQL is spelled, the migrations, and the few functions that bind
//! arguments and read rows with sqlx's types.
//!
//! A `LIMIT` takes its parameter as `CAST($n AS BIGINT)`, never as a bare `$n`: SQLite (since
//! 3.47) reads a bare LIMIT parameter's bound value when it prepares the statement, and so marks
//! the statement to be prepared again whenever that parameter is bound anew, which is on every
//! run of a cached statement. The planner does not look behind the cast, and Postgres reads it
//! the same (BENCHMARKS.md, fifth pass). `Statement::new` refuses a bare one in debug builds.
//!
//! The shared code is split by concern: [`users`] (with languages and contacts), [`chats`] (with
//! read positions and membership changes), [`invitations`] (and invite links), [`messages`],
//! [`bot_tokens`], [`media`] (records of uploads, and [`SqlMediaStore`] for their bytes),
//! [`appends`] (the group commit) and [`events`] (what every other change to a
//! chat does: lock its row, apply the rules' plan, record events); [`rows`] maps rows to models,
//! [`statement`] holds statements as plain data.

mod appends;
mod backend;
mod bot_tokens;
mod chats;
mod events;
mod invitations;
mod media;
mod messages;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod push;
mod rows;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
mod statement;
mod users;

use async_trait::async_trait;
use sqlx::Pool;

use self::appends::AppendJob;
use self::backend::Backend;
use self::media::SqlMediaStore;
use crate::model::{
    Account, BotToken, Chat, ChatChange, ChatChanged, ChatId, CreatedChat, Invitation, InviteLink,
    Invited, Language, Media, Message, NewChat, NewInviteLink, NewMedia, NewMessage, NewPush,
    NewPusher, NewUser, PushSettings, PushTarget, QueuedPush, ReadMark, ReadPosition, Revised, Seq,
    Timestamp, TokenHolder, User, UserUpdate,
};
use crate::storage::{AppendTicket, Appended, Items, Storage};
use crate::{Error, Result};

/// Most appends committed in one transaction.
pub(crate) const MAX_BATCH: usize = 1024;

/// Connection-pool settings shared by the SQL backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most connections open at once; requests beyond wait for a free one.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing.
    pub acquire_timeout: std::time::Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        // A request fails after 2 s without a connection (opening one included) rather than
        // hang through a database outage.
        PoolConfig { max_connections: 8, acquire_timeout: std::time::Duration::from_secs(2) }
    }
}

/// How long a pooled connection may sit idle before it is pinged again when taken out.
const PING_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

impl PoolConfig {
    /// Pool options with these settings, for either backend.
    ///
    /// sqlx pings a connection when it comes back to the pool (always) and, by default, again
    /// when it is taken out: two extra round trips around every query, which for SQLite are two
    /// hand-offs to its worker thread. The ping on release already proved the connection alive,
    /// so it is pinged on acquire only after it has sat idle long enough for the database or the
    /// network to have dropped it (BENCHMARKS.md, fifth pass).
    fn pool_options<DB: sqlx::Database>(&self) -> sqlx::pool::PoolOptions<DB> {
        sqlx::pool::PoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
    }
}

/// Storage in a SQL database (`DB`): the implementation behind `PostgresStorage` and
/// `SqliteStorage`, which are this type for their database.
pub struct SqlStorage<DB: sqlx::Database> {
    pool: Pool<DB>,
    /// Appends go through one batching task (group commit).
    appends: tokio::sync::mpsc::Sender<AppendJob>,
}

impl<DB: sqlx::Database> Clone for SqlStorage<DB> {
    fn clone(&self) -> Self {
        SqlStorage { pool: self.pool.clone(), appends: self.appends.clone() }
    }
}

impl<DB: Backend> std::fmt::Debug for SqlStorage<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(DB::STORAGE_NAME)
            .field("pool", &self.pool)
            .field("appends", &self.appends)
            .finish()
    }
}

/// The storage on `pool`, whose schema is up to date: fills in what the migrations could not
/// ([`users::backfill_username_keys`]) and starts the group-commit task.
async fn start<DB: Backend>(pool: Pool<DB>) -> Result<SqlStorage<DB>> {
    users::backfill_username_keys(&pool).await?;
    let (appends, jobs) = tokio::sync::mpsc::channel(4 * MAX_BATCH);
    tokio::spawn(appends::append_batches(pool.clone(), jobs));
    Ok(SqlStorage { pool, appends })
}

/// Open a transaction that will write ([`Backend::BEGIN_WRITE`]).
async fn begin_write<DB: Backend>(pool: &Pool<DB>) -> Result<sqlx::Transaction<'static, DB>> {
    Ok(pool.begin_with(DB::BEGIN_WRITE).await?)
}

/// Whether a failed batch was refused by the database itself (a statement it would not run:
/// say, a value Postgres text cannot hold) rather than lost with its connection. Only then
/// can committing its appends one by one isolate the one at fault.
fn refused_by_database(err: &Error) -> bool {
    matches!(err, Error::Database(source)
        if matches!(source.downcast_ref::<sqlx::Error>(), Some(sqlx::Error::Database(_))))
}

/// Whether a database error is a unique-constraint violation.
fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Each operation lives with its concern's module; this only routes.
#[async_trait]
impl<DB: Backend> Storage for SqlStorage<DB> {
    async fn add_language(&self, name: &str) -> Result<Language> {
        users::add_language(&self.pool, name).await
    }

    async fn languages(&self) -> Result<Vec<Language>> {
        users::languages(&self.pool).await
    }

    async fn languages_after(&self, after: Option<&str>, limit: u32) -> Result<Vec<Language>> {
        users::languages_after(&self.pool, after, limit).await
    }

    async fn create_user(&self, user: NewUser) -> Result<User> {
        users::create_user(&self.pool, user).await
    }

    async fn account(&self, username: &str) -> Result<Option<Account>> {
        users::account(&self.pool, username).await
    }

    async fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        users::account_by_id(&self.pool, id).await
    }

    async fn token_holder(&self, id: i64) -> Result<Option<TokenHolder>> {
        users::token_holder(&self.pool, id).await
    }

    async fn user(&self, username: &str) -> Result<Option<User>> {
        users::user(&self.pool, username).await
    }

    async fn users(&self, after: Option<&str>, limit: u32) -> Result<Vec<User>> {
        users::users(&self.pool, after, limit).await
    }

    async fn users_by_language(
        &self,
        language: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<User>> {
        users::users_by_language(&self.pool, language, after, limit).await
    }

    async fn update_user(&self, username: &str, update: UserUpdate) -> Result<User> {
        users::update_user(&self.pool, username, update).await
    }

    async fn delete_user(&self, username: &str) -> Result<()> {
        users::delete_user(&self.pool, username).await
    }

    async fn add_contact(&self, username: &str, contact: &str) -> Result<()> {
        users::add_contact(&self.pool, username, contact).await
    }

    async fn remove_contact(&self, username: &str, contact: &str) -> Result<()> {
        users::remove_contact(&self.pool, username, contact).await
    }

    async fn contacts(&self, username: &str) -> Result<Vec<String>> {
        users::contacts(&self.pool, username).await
    }

    async fn create_chat(&self, chat: NewChat) -> Result<CreatedChat> {
        chats::create_chat(&self.pool, chat).await
    }

    async fn chat(&self, id: ChatId) -> Result<Option<Chat>> {
        chats::chat(&self.pool, id).await
    }

    async fn chats_of(
        &self,
        username: &str,
        after: Option<ChatId>,
        limit: u32,
    ) -> Result<Vec<Chat>> {
        chats::chats_of(&self.pool, username, after, limit).await
    }

    async fn chat_partners(&self, username: &str) -> Result<Vec<String>> {
        chats::chat_partners(&self.pool, username).await
    }

    async fn is_participant(&self, chat: ChatId, username: &str) -> Result<bool> {
        chats::is_participant(&self.pool, chat, username).await
    }

    async fn change_chat(
        &self,
        chat: ChatId,
        by: &str,
        change: ChatChange,
        at: Timestamp,
        key: Option<&str>,
    ) -> Result<ChatChanged> {
        chats::change_chat(&self.pool, chat, by, change, at, key).await
    }

    async fn delete_chat(&self, chat: ChatId, by: &str) -> Result<Vec<String>> {
        chats::delete_chat(&self.pool, chat, by).await
    }

    async fn append_message(&self, message: NewMessage) -> Result<Appended> {
        self.start_append(message).await.await
    }

    /// The append joins the group-commit queue (FIFO; the batcher numbers a chat's appends in
    /// queue order) and the ticket waits for its batch's commit.
    async fn start_append(&self, message: NewMessage) -> AppendTicket {
        appends::start_append(&self.appends, message).await
    }

    async fn messages_before(
        &self,
        chat: ChatId,
        reader: &str,
        before: Option<Seq>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        messages::messages_before(&self.pool, chat, reader, before, limit).await
    }

    async fn messages_after(
        &self,
        chat: ChatId,
        reader: &str,
        after: Seq,
        limit: u32,
        items: Items,
    ) -> Result<Vec<Message>> {
        messages::messages_after(&self.pool, chat, reader, after, limit, items).await
    }

    async fn edit_message(
        &self,
        chat: ChatId,
        seq: Seq,
        editor: &str,
        content: &str,
        at: Timestamp,
        key: Option<&str>,
    ) -> Result<Revised> {
        messages::edit_message(&self.pool, chat, seq, editor, content, at, key).await
    }

    async fn delete_message(
        &self,
        chat: ChatId,
        seq: Seq,
        by: &str,
        at: Timestamp,
        key: Option<&str>,
    ) -> Result<Revised> {
        messages::delete_message(&self.pool, chat, seq, by, at, key).await
    }

    async fn mark_read(&self, chat: ChatId, username: &str, seq: Seq) -> Result<ReadMark> {
        chats::mark_read(&self.pool, chat, username, seq).await
    }

    async fn read_positions(&self, chat: ChatId) -> Result<Vec<ReadPosition>> {
        chats::read_positions(&self.pool, chat).await
    }

    async fn invite(
        &self,
        chat: ChatId,
        by: &str,
        invitee: &str,
        at: Timestamp,
    ) -> Result<Invited> {
        invitations::invite(&self.pool, chat, by, invitee, at).await
    }

    async fn invitation(&self, id: i64) -> Result<Option<Invitation>> {
        invitations::invitation(&self.pool, id).await
    }

    async fn invitations_of(
        &self,
        invitee: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Invitation>> {
        invitations::invitations_of(&self.pool, invitee, after, limit).await
    }

    async fn accept_invitation(
        &self,
        id: i64,
        by: &str,
        max: usize,
        at: Timestamp,
    ) -> Result<ChatChanged> {
        invitations::accept_invitation(&self.pool, id, by, max, at).await
    }

    async fn decline_invitation(&self, id: i64, by: &str, at: Timestamp) -> Result<Invitation> {
        invitations::decline_invitation(&self.pool, id, by, at).await
    }

    async fn cancel_invitation(&self, id: i64, by: &str, at: Timestamp) -> Result<Invitation> {
        invitations::cancel_invitation(&self.pool, id, by, at).await
    }

    async fn create_invite_link(
        &self,
        chat: ChatId,
        by: &str,
        link: NewInviteLink,
    ) -> Result<InviteLink> {
        invitations::create_invite_link(&self.pool, chat, by, link).await
    }

    async fn invite_links(
        &self,
        chat: ChatId,
        by: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<InviteLink>> {
        invitations::invite_links(&self.pool, chat, by, after, limit).await
    }

    async fn revoke_invite_link(&self, chat: ChatId, by: &str, link: i64) -> Result<()> {
        invitations::revoke_invite_link(&self.pool, chat, by, link).await
    }

    async fn invite_link_chat(&self, token_hash: &str) -> Result<Option<ChatId>> {
        invitations::invite_link_chat(&self.pool, token_hash).await
    }

    async fn join_by_link(
        &self,
        token_hash: &str,
        by: &str,
        max: usize,
        at: Timestamp,
    ) -> Result<ChatChanged> {
        invitations::join_by_link(&self.pool, token_hash, by, max, at).await
    }

    async fn create_bot_token(
        &self,
        username: &str,
        name: &str,
        at: Timestamp,
    ) -> Result<BotToken> {
        bot_tokens::create_bot_token(&self.pool, username, name, at).await
    }

    async fn bot_tokens(&self, username: &str) -> Result<Vec<BotToken>> {
        bot_tokens::bot_tokens(&self.pool, username).await
    }

    async fn bot_token(&self, id: i64) -> Result<Option<BotToken>> {
        bot_tokens::bot_token(&self.pool, id).await
    }

    async fn revoke_bot_token(&self, username: &str, id: i64) -> Result<()> {
        bot_tokens::revoke_bot_token(&self.pool, username, id).await
    }

    async fn add_media(&self, media: NewMedia) -> Result<Media> {
        media::add_media(&self.pool, media).await
    }

    async fn readable_media(
        &self,
        id: &str,
        reader: &str,
        in_chat: Option<ChatId>,
    ) -> Result<Option<Media>> {
        media::readable_media(&self.pool, id, reader, in_chat).await
    }

    async fn set_pusher(&self, username: &str, pusher: NewPusher) -> Result<()> {
        push::set_pusher(&self.pool, username, pusher).await
    }

    async fn remove_pusher(&self, username: &str, app_id: &str, pushkey: &str) -> Result<()> {
        push::remove_pusher(&self.pool, username, app_id, pushkey).await
    }

    async fn push_settings(&self, username: &str) -> Result<PushSettings> {
        push::push_settings(&self.pool, username).await
    }

    async fn mute_chat(&self, chat: ChatId, username: &str, muted: bool) -> Result<()> {
        push::mute_chat(&self.pool, chat, username, muted).await
    }

    async fn push_targets(
        &self,
        chat: ChatId,
        usernames: &[String],
        up_to: Seq,
    ) -> Result<Vec<PushTarget>> {
        push::push_targets(&self.pool, chat, usernames, up_to).await
    }

    async fn queue_pushes(&self, pushes: Vec<NewPush>) -> Result<()> {
        push::queue_pushes(&self.pool, pushes).await
    }

    async fn claim_pushes(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<QueuedPush>> {
        push::claim_pushes(&self.pool, now, until, limit).await
    }

    async fn push_sent(&self, ids: &[i64]) -> Result<()> {
        push::push_sent(&self.pool, ids).await
    }

    async fn push_failed(&self, id: i64, attempts: u32, due: Timestamp) -> Result<()> {
        push::push_failed(&self.pool, id, attempts, due).await
    }

    async fn reject_pushkey(&self, app_id: &str, pushkey: &str) -> Result<()> {
        push::reject_pushkey(&self.pool, app_id, pushkey).await
    }

    async fn queued_pushes(&self) -> Result<u64> {
        push::queued_pushes(&self.pool).await
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
