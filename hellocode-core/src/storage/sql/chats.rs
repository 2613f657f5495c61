//! Chats, their participants and read positions.

use sqlx::Pool;

use super::backend::{Backend, SqlRow};
use super::begin_write;
use super::rows::gather;
use super::statement::Statement;
use super::users::user_id;
use crate::model::{Chat, ChatId, Participant, ReadMark, ReadPosition, Seq, Timestamp};
use crate::{Error, Result};

pub(super) async fn create_chat<DB: Backend>(
    pool: &Pool<DB>,
    participants: &[String],
    at: Timestamp,
) -> Result<Chat> {
    let mut tx = begin_write(pool).await?;
    let insert = Statement::new("INSERT INTO chats (created_at) VALUES ($1) RETURNING id")
        .bind(at.unix_millis());
    let id = DB::fetch_one(&mut tx, insert).await?.i64(0)?;
    for username in participants {
        let user = user_id::<DB>(&mut tx, username).await?;
        DB::execute(&mut tx, add_participant(id, user)).await?;
    }
    let chat = load_chat::<DB>(&mut tx, ChatId(id)).await?;
    tx.commit().await?;
    chat.ok_or(Error::ChatNotFound(ChatId(id)))
}

pub(super) async fn chat<DB: Backend>(pool: &Pool<DB>, id: ChatId) -> Result<Option<Chat>> {
    load_chat::<DB>(&mut *pool.acquire().await?, id).await
}

pub(super) async fn chats_of<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
    after: Option<ChatId>,
    limit: u32,
) -> Result<Vec<Chat>> {
    let mut conn = pool.acquire().await?;
    let select = Statement::new(
        "SELECT c.id, c.last_seq, c.created_at FROM chats c \
         JOIN chat_participants p ON p.chat_id = c.id \
         JOIN users u ON u.id = p.user_id WHERE u.username = $1 AND c.id > $2 \
         ORDER BY c.id LIMIT $3",
    )
    .bind(username)
    .bind(after.map_or(0, |chat| chat.0))
    .bind(i64::from(limit));
    let rows = DB::fetch_all(&mut conn, select).await?;
    load_chats::<DB>(&mut conn, rows).await
}

pub(super) async fn chat_partners<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
) -> Result<Vec<String>> {
    let select = Statement::new(
        "SELECT DISTINCT u.username FROM chat_participants mine \
         JOIN users me ON me.id = mine.user_id \
         JOIN chat_participants p ON p.chat_id = mine.chat_id \
         JOIN users u ON u.id = p.user_id \
         WHERE me.username = $1 AND u.id <> me.id ORDER BY u.username",
    )
    .bind(username);
    let rows = DB::fetch_all(&mut *pool.acquire().await?, select).await?;
    Ok(rows.iter().map(|row| row.text(0)).collect::<sqlx::Result<_>>()?)
}

pub(super) async fn is_participant<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    username: &str,
) -> Result<bool> {
    match require_participant::<DB>(&mut *pool.acquire().await?, chat, username).await {
        Ok(()) => Ok(true),
        Err(Error::NotParticipant { .. }) => Ok(false),
        Err(err) => Err(err),
    }
}

pub(super) async fn set_participants<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    participants: &[String],
) -> Result<Chat> {
    let mut tx = begin_write(pool).await?;
    let current: Vec<String> = load_chat::<DB>(&mut tx, chat)
        .await?
        .ok_or(Error::ChatNotFound(chat))?
        .participants
        .into_iter()
        .map(|p| p.username)
        .collect();
    for username in participants {
        let user = user_id::<DB>(&mut tx, username).await?;
        DB::execute(&mut tx, add_participant(chat.0, user)).await?;
    }
    for gone in current.iter().filter(|name| !participants.contains(name)) {
        let delete = Statement::new(
            "DELETE FROM chat_participants WHERE chat_id = $1 \
             AND user_id = (SELECT id FROM users WHERE username = $2)",
        )
        .bind(chat.0)
        .bind(gone);
        DB::execute(&mut tx, delete).await?;
    }
    let updated = load_chat::<DB>(&mut tx, chat).await?;
    tx.commit().await?;
    updated.ok_or(Error::ChatNotFound(chat))
}

pub(super) async fn delete_chat<DB: Backend>(pool: &Pool<DB>, chat: ChatId) -> Result<()> {
    let delete = Statement::new("DELETE FROM chats WHERE id = $1").bind(chat.0);
    if DB::execute(&mut *pool.acquire().await?, delete).await? == 0 {
        return Err(Error::ChatNotFound(chat));
    }
    Ok(())
}

pub(super) async fn mark_read<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    username: &str,
    seq: Seq,
) -> Result<ReadMark> {
    let mut tx = begin_write(pool).await?;
    let select = Statement::new("SELECT last_seq FROM chats WHERE id = $1").bind(chat.0);
    let last_seq =
        DB::fetch_optional(&mut tx, select).await?.ok_or(Error::ChatNotFound(chat))?.i64(0)?;
    require_participant::<DB>(&mut tx, chat, username).await?;
    if seq.0 > last_seq {
        return Err(Error::ReadBeyondEnd { chat, seq });
    }
    // Only a forward move updates the row: whether it did is whether it moved.
    let advance = Statement::new(
        "UPDATE chat_participants SET read_seq = $3 WHERE chat_id = $1 \
         AND user_id = (SELECT id FROM users WHERE username = $2) AND read_seq < $3",
    )
    .bind(chat.0)
    .bind(username)
    .bind(seq.0);
    let moved = DB::execute(&mut tx, advance).await? > 0;
    let select = Statement::new(
        "SELECT read_seq FROM chat_participants WHERE chat_id = $1 \
         AND user_id = (SELECT id FROM users WHERE username = $2)",
    )
    .bind(chat.0)
    .bind(username);
    let stored = DB::fetch_one(&mut tx, select).await?.i64(0)?;
    tx.commit().await?;
    Ok(ReadMark { seq: Seq(stored), moved })
}

pub(super) async fn read_positions<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
) -> Result<Vec<ReadPosition>> {
    let mut conn = pool.acquire().await?;
    let select = Statement::new("SELECT id FROM chats WHERE id = $1").bind(chat.0);
    if DB::fetch_optional(&mut conn, select).await?.is_none() {
        return Err(Error::ChatNotFound(chat));
    }
    let select = Statement::new(
        "SELECT u.username, p.read_seq FROM chat_participants p \
         JOIN users u ON u.id = p.user_id WHERE p.chat_id = $1 ORDER BY u.username",
    )
    .bind(chat.0);
    let rows = DB::fetch_all(&mut conn, select).await?;
    rows.iter()
        .map(|row| Ok(ReadPosition { username: row.text(0)?, seq: Seq(row.i64(1)?) }))
        .collect()
}

/// `Ok` if `username` takes part in `chat`, else `ChatNotFound` or `NotParticipant`.
pub(super) async fn require_participant<DB: Backend>(
    conn: &mut DB::Connection,
    chat: ChatId,
    username: &str,
) -> Result<()> {
    let select = Statement::new(
        "SELECT (SELECT COUNT(*) FROM chat_participants p JOIN users u ON u.id = p.user_id \
         WHERE p.chat_id = c.id AND u.username = $2) FROM chats c WHERE c.id = $1",
    )
    .bind(chat.0)
    .bind(username);
    let count = DB::fetch_optional(conn, select).await?.map(|row| row.i64(0)).transpose()?;
    match count {
        None => Err(Error::ChatNotFound(chat)),
        Some(0) => Err(Error::NotParticipant { chat, username: username.to_owned() }),
        Some(_) => Ok(()),
    }
}

/// Add a participant, unless they already are one.
fn add_participant(chat: i64, user: i64) -> Statement {
    Statement::new(
        "INSERT INTO chat_participants (chat_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(chat)
    .bind(user)
}

async fn load_chat<DB: Backend>(conn: &mut DB::Connection, id: ChatId) -> Result<Option<Chat>> {
    let select =
        Statement::new("SELECT id, last_seq, created_at FROM chats WHERE id = $1").bind(id.0);
    let rows = DB::fetch_all(conn, select).await?;
    Ok(load_chats::<DB>(conn, rows).await?.pop())
}

/// Chats from rows of `id, last_seq, created_at`, with their participants (one more query for
/// them all).
async fn load_chats<DB: Backend>(
    conn: &mut DB::Connection,
    rows: Vec<DB::Row>,
) -> Result<Vec<Chat>> {
    let ids = rows.iter().map(|row| row.i64(0)).collect::<sqlx::Result<Vec<i64>>>()?;
    let mut participants = gather::<DB>(
        conn,
        "SELECT p.chat_id, u.username FROM chat_participants p \
         JOIN users u ON u.id = p.user_id WHERE p.chat_id",
        "ORDER BY u.username",
        &ids,
    )
    .await?;
    rows.iter()
        .map(|row| {
            let id = row.i64(0)?;
            Ok(Chat {
                id: ChatId(id),
                participants: participants
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|username| Participant { username })
                    .collect(),
                last_seq: Seq(row.i64(1)?),
                created_at: Timestamp::from_unix_millis(row.i64(2)?),
            })
        })
        .collect()
}
