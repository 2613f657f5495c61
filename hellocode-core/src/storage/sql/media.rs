//! Media: the records of uploads (who may read which content), and [`SqlMediaStore`], the
//! bytes themselves in the database for servers that share one.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Pool;

use super::backend::{Backend, SqlRow};
use super::begin_write;
use super::chats::require_participant;
use super::rows::{MEDIA_SELECT, media_from_row};
use super::statement::Statement;
use super::users::user_id;
use crate::model::{ChatId, Media, NewMedia};
use crate::storage::{MediaStore, check_media};
use crate::{Error, Result};

/// Record the upload unless the same content is recorded for the same owner, kind and chat
/// (the unique index `media_uses`): then read back that first record. The checks and the
/// insert share one transaction, so the owner cannot leave the chat in between.
pub(super) async fn add_media<DB: Backend>(pool: &Pool<DB>, new: NewMedia) -> Result<Media> {
    check_media(&new)?;
    let size = i64::try_from(new.size)
        .map_err(|_| Error::Database(format!("size {} out of range", new.size).into()))?;
    let mut tx = begin_write(pool).await?;
    let owner_id = user_id::<DB>(&mut tx, &new.owner).await?;
    if let Some(chat) = new.chat {
        require_participant::<DB>(&mut tx, chat, &new.owner).await?;
    }
    let chat_id = new.chat.map(|chat| chat.0);
    let insert = Statement::new(
        "INSERT INTO media (content_id, kind, owner_id, owner_name, chat_id, name, content_type, \
         size, width, height, thumbnail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
    )
    .bind(&new.id)
    .bind(new.kind.as_str())
    .bind(owner_id)
    .bind(&new.owner)
    .bind(chat_id)
    .bind(&new.name)
    .bind(&new.content_type)
    .bind(size)
    .bind(new.width.map(i64::from))
    .bind(new.height.map(i64::from))
    .bind(&new.thumbnail)
    .bind(new.at.unix_millis());
    DB::execute(&mut tx, insert).await?;
    // The terms of `media_uses` (chat ids start at 1, so 0 stands for none).
    let select = Statement::new(format!(
        "{MEDIA_SELECT} WHERE m.content_id = $1 AND m.owner_id = $2 AND m.kind = $3 \
         AND COALESCE(m.chat_id, 0) = COALESCE($4, 0)"
    ))
    .bind(&new.id)
    .bind(owner_id)
    .bind(new.kind.as_str())
    .bind(chat_id);
    let media = media_from_row(&DB::fetch_one(&mut tx, select).await?)?;
    tx.commit().await?;
    Ok(media)
}

/// The readable record of lowest id, in one query: none for an unknown reader.
pub(super) async fn readable_media<DB: Backend>(
    pool: &Pool<DB>,
    id: &str,
    reader: &str,
    in_chat: Option<ChatId>,
) -> Result<Option<Media>> {
    // `$3` is -1 for any chat: no chat has that id.
    let select = Statement::new(format!(
        "{MEDIA_SELECT} WHERE m.content_id = $1 AND EXISTS (SELECT 1 FROM users r \
         WHERE r.username = $2 AND (m.kind = 'avatar' OR EXISTS (SELECT 1 FROM chat_participants p \
         WHERE p.chat_id = m.chat_id AND p.user_id = r.id))) \
         AND ($3 = -1 OR (m.kind = 'attachment' AND m.chat_id = $3)) ORDER BY m.id LIMIT 1"
    ))
    .bind(id)
    .bind(reader)
    .bind(in_chat.map_or(-1, |chat| chat.0));
    let row = DB::fetch_optional(&mut *pool.acquire().await?, select).await?;
    row.as_ref().map(media_from_row).transpose()
}

/// Uploaded bytes in the database (table `media_blobs`), for several server nodes sharing one
/// database: what one node stores, every node serves. It shares its storage's connection pool
/// (so closing the storage closes it too); `SqliteStorage::media_store` and
/// `PostgresStorage::media_store` make one.
pub struct SqlMediaStore<DB: sqlx::Database> {
    pool: Pool<DB>,
}

impl<DB: sqlx::Database> SqlMediaStore<DB> {
    /// The store on `pool`, whose schema is up to date.
    pub(super) fn new(pool: Pool<DB>) -> Self {
        SqlMediaStore { pool }
    }
}

impl<DB: sqlx::Database> Clone for SqlMediaStore<DB> {
    fn clone(&self) -> Self {
        SqlMediaStore { pool: self.pool.clone() }
    }
}

impl<DB: Backend> std::fmt::Debug for SqlMediaStore<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlMediaStore")
            .field("storage", &DB::STORAGE_NAME)
            .field("pool", &self.pool)
            .finish()
    }
}

#[async_trait]
impl<DB: Backend> MediaStore for SqlMediaStore<DB> {
    /// Two nodes storing one address at once both succeed: the second inserts nothing.
    async fn put(&self, id: &str, bytes: Arc<[u8]>) -> Result<()> {
        let insert = Statement::new(
            "INSERT INTO media_blobs (id, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(&bytes[..]);
        DB::execute(&mut *self.pool.acquire().await?, insert).await?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Arc<[u8]>>> {
        let select = Statement::new("SELECT bytes FROM media_blobs WHERE id = $1").bind(id);
        let row = DB::fetch_optional(&mut *self.pool.acquire().await?, select).await?;
        Ok(row.map(|row| row.bytes(0)).transpose()?.map(Arc::from))
    }
}
