//! Chats, their members and read positions, and the changes members make to them.

use std::collections::{BTreeSet, HashMap};

use sqlx::Pool;

use super::backend::{Backend, SqlRow};
use super::begin_write;
use super::events::{add_members, apply, keyed, lock_chat, record, roster};
use super::rows::{chat_kind, parsed};
use super::statement::{Statement, placeholders};
use super::users::user_id;
use crate::model::{
    Chat, ChatChange, ChatChanged, ChatId, ChatKind, CreatedChat, NewChat, Participant, ReadMark,
    ReadPosition, Role, Seq, Timestamp,
};
use crate::storage::membership;
use crate::{Error, Result};

/// A group's creator is its owner, the others members; a direct chat's members are stored as
/// members (no role is shown). Everyone joins at the creation time. No event is recorded.
/// Create the chat, unless its creator made one under the same idempotency key: then that one
/// (`created: false`). The key's unique index settles two creations racing with one key: the
/// second inserts nothing and reads the first's chat.
pub(super) async fn create_chat<DB: Backend>(pool: &Pool<DB>, new: NewChat) -> Result<CreatedChat> {
    let mut tx = begin_write(pool).await?;
    let creator_id = user_id::<DB>(&mut tx, &new.creator).await?;
    let insert = Statement::new(
        "INSERT INTO chats (kind, name, topic, created_at, creator_id, client_id) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (creator_id, client_id) WHERE client_id IS NOT NULL DO NOTHING RETURNING id",
    )
    .bind(new.kind.as_str())
    .bind(new.name.filter(|name| !name.is_empty()))
    .bind(new.topic.filter(|topic| !topic.is_empty()))
    .bind(new.at.unix_millis())
    .bind(creator_id)
    .bind(&new.client_id);
    let Some(inserted) = DB::fetch_optional(&mut tx, insert).await? else {
        let select =
            Statement::new("SELECT id FROM chats WHERE creator_id = $1 AND client_id = $2")
                .bind(creator_id)
                .bind(&new.client_id);
        let id = ChatId(DB::fetch_one(&mut tx, select).await?.i64(0)?);
        let chat = load_chat::<DB>(&mut tx, id).await?.ok_or(Error::ChatNotFound(id))?;
        tx.rollback().await?;
        // Its creator may have left it since: then they see nothing of it.
        if !chat.has_participant(&new.creator) {
            return Err(Error::NotParticipant { chat: id, username: new.creator });
        }
        return Ok(CreatedChat { chat, created: false });
    };
    let id = ChatId(inserted.i64(0)?);
    let members: BTreeSet<String> = new.members.into_iter().collect();
    let role_of = |name: &String| match new.kind {
        ChatKind::Group if *name == new.creator => Role::Owner,
        _ => Role::Member,
    };
    let members = members.into_iter().map(|name| {
        let role = role_of(&name);
        (name, role)
    });
    add_members::<DB>(&mut tx, id, members.collect(), new.at).await?;
    let chat = load_chat::<DB>(&mut tx, id).await?.ok_or(Error::ChatNotFound(id))?;
    tx.commit().await?;
    Ok(CreatedChat { chat, created: true })
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
        "SELECT c.id, c.kind, c.name, c.topic, c.last_seq, c.created_at FROM chats c \
         JOIN chat_participants p ON p.chat_id = c.id \
         JOIN users u ON u.id = p.user_id WHERE u.username = $1 AND c.id > $2 \
         ORDER BY c.id LIMIT CAST($3 AS BIGINT)",
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

/// Check `change` against the rules with the chat's row locked, apply it and record its events,
/// in one transaction.
pub(super) async fn change_chat<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    by: &str,
    change: ChatChange,
    at: Timestamp,
    key: Option<&str>,
) -> Result<ChatChanged> {
    let mut tx = begin_write(pool).await?;
    let locked = lock_chat::<DB>(&mut tx, chat).await?;
    let roster = roster::<DB>(&mut tx, chat, locked).await?;
    let author_id = user_id::<DB>(&mut tx, by).await?;
    if let Some(stored) = keyed::<DB>(&mut tx, chat, author_id, key).await? {
        let view = load_chat::<DB>(&mut tx, chat).await?.ok_or(Error::ChatNotFound(chat))?;
        tx.rollback().await?;
        return membership::replay(chat, &roster, by, &change, &stored, key, view);
    }
    let plan = membership::plan(chat, &roster, by, &change)?;
    let deleted = plan.deletes_chat();
    // A chat its last member leaves is deleted: answer with it as it was, without them.
    let before = if deleted { load_chat::<DB>(&mut tx, chat).await? } else { None };
    apply::<DB>(&mut tx, chat, plan.effects, at).await?;
    let drafts = plan.drafts.into_iter().map(|draft| (draft, None)).collect();
    let events = record::<DB>(&mut tx, chat, (by, author_id), drafts, at, key).await?;
    let changed = match before {
        Some(mut before) => {
            before.participants.retain(|p| !plan.gone.contains(&p.username));
            before
        }
        None => load_chat::<DB>(&mut tx, chat).await?.ok_or(Error::ChatNotFound(chat))?,
    };
    tx.commit().await?;
    Ok(ChatChanged {
        chat: changed,
        events,
        gone: plan.gone,
        added: plan.added,
        deleted,
        replayed: false,
    })
}

/// Delete a chat as `by` (`membership::may_delete`), with its row locked; returns its members.
pub(super) async fn delete_chat<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    by: &str,
) -> Result<Vec<String>> {
    let mut tx = begin_write(pool).await?;
    let locked = lock_chat::<DB>(&mut tx, chat).await?;
    let roster = roster::<DB>(&mut tx, chat, locked).await?;
    membership::may_delete(chat, &roster, by)?;
    // Messages and memberships go with it (ON DELETE CASCADE).
    DB::execute(&mut tx, Statement::new("DELETE FROM chats WHERE id = $1").bind(chat.0)).await?;
    tx.commit().await?;
    let mut members: Vec<String> = roster.members.into_iter().map(|(name, _)| name).collect();
    members.sort_unstable();
    Ok(members)
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

pub(super) async fn load_chat<DB: Backend>(
    conn: &mut DB::Connection,
    id: ChatId,
) -> Result<Option<Chat>> {
    let select = Statement::new(
        "SELECT id, kind, name, topic, last_seq, created_at FROM chats WHERE id = $1",
    )
    .bind(id.0);
    let rows = DB::fetch_all(conn, select).await?;
    Ok(load_chats::<DB>(conn, rows).await?.pop())
}

/// Chats from rows of `id, kind, name, topic, last_seq, created_at`, with their participants
/// (one more query for them all), each ordered by username with their role in a group.
async fn load_chats<DB: Backend>(
    conn: &mut DB::Connection,
    rows: Vec<DB::Row>,
) -> Result<Vec<Chat>> {
    let ids = rows.iter().map(|row| row.i64(0)).collect::<sqlx::Result<Vec<i64>>>()?;
    let mut participants: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    if !ids.is_empty() {
        // Placeholders only around fixed SQL.
        let sql = format!(
            "SELECT p.chat_id, u.username, p.role FROM chat_participants p \
             JOIN users u ON u.id = p.user_id WHERE p.chat_id IN ({}) ORDER BY u.username",
            placeholders::<DB>(1, ids.len())
        );
        let select = ids.iter().fold(Statement::new(sql), |select, id| select.bind(*id));
        for row in DB::fetch_all(conn, select).await? {
            participants.entry(row.i64(0)?).or_default().push((row.text(1)?, row.text(2)?));
        }
    }
    rows.iter()
        .map(|row| {
            let id = row.i64(0)?;
            let kind = chat_kind(&row.text(1)?)?;
            let participants = participants
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|(username, role)| {
                    let role = match kind {
                        ChatKind::Group => Some(parsed(Role::parse, &role)?),
                        ChatKind::Direct => None,
                    };
                    Ok(Participant { username, role })
                })
                .collect::<Result<_>>()?;
            Ok(Chat {
                id: ChatId(id),
                kind,
                name: row.opt_text(2)?,
                topic: row.opt_text(3)?,
                participants,
                last_seq: Seq(row.i64(4)?),
                created_at: Timestamp::from_unix_millis(row.i64(5)?),
            })
        })
        .collect()
}
