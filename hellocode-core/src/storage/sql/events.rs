//! What every change to a chat other than an append does, inside its caller's write
//! transaction: lock the chat's row first (so that a chat's changes and appends serialize on
//! it), read what the rules need, apply what they decided, and record the events with the
//! chat's next sequence numbers. The rules themselves are `membership`'s, written once.

use std::collections::HashMap;

use super::backend::{Backend, SqlRow};
use super::rows::chat_kind;
use super::statement::{Statement, placeholders, value_rows};
use super::users::user_ids;
use crate::model::{ChatId, ChatKind, EventKind, Message, Role, Seq, Timestamp};
use crate::storage::membership::{Draft, Effect, KeyedItem, Roster};
use crate::{Error, Result};

/// A chat's own fields, read under its row lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Locked {
    pub kind: ChatKind,
    pub name: Option<String>,
    pub topic: Option<String>,
}

/// Lock `chat`'s row until the transaction ends (`ChatNotFound` if there is none). The no-op
/// update takes the lock the appends' `last_seq` bump takes, so a change and an append (or two
/// changes) of one chat never interleave, and what is read after it is what was committed
/// before it (Postgres reads each statement's own snapshot; SQLite has one writer anyway).
pub(super) async fn lock_chat<DB: Backend>(
    conn: &mut DB::Connection,
    chat: ChatId,
) -> Result<Locked> {
    let lock = Statement::new(
        "UPDATE chats SET last_seq = last_seq WHERE id = $1 RETURNING kind, name, topic",
    )
    .bind(chat.0);
    let row = DB::fetch_optional(conn, lock).await?.ok_or(Error::ChatNotFound(chat))?;
    Ok(Locked { kind: chat_kind(&row.text(0)?)?, name: row.opt_text(1)?, topic: row.opt_text(2)? })
}

/// The members of a locked chat, oldest first (by when they joined, then username), for the
/// rules.
pub(super) async fn roster<DB: Backend>(
    conn: &mut DB::Connection,
    chat: ChatId,
    locked: Locked,
) -> Result<Roster> {
    let select = Statement::new(
        "SELECT u.username, p.role FROM chat_participants p JOIN users u ON u.id = p.user_id \
         WHERE p.chat_id = $1 ORDER BY p.joined_at, u.username",
    )
    .bind(chat.0);
    let members = DB::fetch_all(conn, select)
        .await?
        .iter()
        .map(|row| Ok((row.text(0)?, super::rows::parsed(Role::parse, &row.text(1)?)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Roster { kind: locked.kind, name: locked.name, topic: locked.topic, members })
}

/// Apply a plan's effects in order. Members added join at `at`, and their pending invitations
/// to the chat are settled (`accepted`); an added user who does not exist fails the whole
/// change (`UserNotFound`).
pub(super) async fn apply<DB: Backend>(
    conn: &mut DB::Connection,
    chat: ChatId,
    effects: Vec<Effect>,
    at: Timestamp,
) -> Result<()> {
    let mut adds: Vec<(String, Role)> = Vec::new();
    for effect in effects {
        let statement = match effect {
            Effect::Add(name, role) => {
                adds.push((name, role));
                continue;
            }
            Effect::Remove(name) => Statement::new(
                "DELETE FROM chat_participants WHERE chat_id = $1 \
                 AND user_id = (SELECT id FROM users WHERE username = $2)",
            )
            .bind(chat.0)
            .bind(name),
            Effect::SetRole(name, role) => Statement::new(
                "UPDATE chat_participants SET role = $3 WHERE chat_id = $1 \
                 AND user_id = (SELECT id FROM users WHERE username = $2)",
            )
            .bind(chat.0)
            .bind(name)
            .bind(role.as_str()),
            Effect::SetName(name) => {
                Statement::new("UPDATE chats SET name = $2 WHERE id = $1").bind(chat.0).bind(name)
            }
            Effect::SetTopic(topic) => {
                Statement::new("UPDATE chats SET topic = $2 WHERE id = $1").bind(chat.0).bind(topic)
            }
            // Messages and memberships go with it (ON DELETE CASCADE).
            Effect::DeleteChat => Statement::new("DELETE FROM chats WHERE id = $1").bind(chat.0),
        };
        join_members::<DB>(conn, chat, std::mem::take(&mut adds), at).await?;
        DB::execute(conn, statement).await?;
    }
    join_members::<DB>(conn, chat, adds, at).await
}

/// Add `members` to an existing chat ([`add_members`]) and settle their pending invitations to
/// it: whoever joins, however, is no longer invited (a stale invitation must not bring back a
/// member removed later).
async fn join_members<DB: Backend>(
    conn: &mut DB::Connection,
    chat: ChatId,
    members: Vec<(String, Role)>,
    at: Timestamp,
) -> Result<()> {
    let ids = add_members::<DB>(conn, chat, members, at).await?;
    if ids.is_empty() {
        return Ok(());
    }
    // Placeholders only around fixed SQL.
    let sql = format!(
        "UPDATE invitations SET state = 'accepted', answered_at = {} \
         WHERE chat_id = {} AND state = 'pending' AND invitee_id IN ({})",
        DB::param(1),
        DB::param(2),
        placeholders::<DB>(3, ids.len())
    );
    let settle = Statement::new(sql).bind(at.unix_millis()).bind(chat.0);
    DB::execute(conn, ids.into_iter().fold(settle, Statement::bind)).await?;
    Ok(())
}

/// Insert `members` (who must exist) into `chat` with their roles, joined at `at`: one look-up
/// and one insert whatever their number. Returns their user ids.
pub(super) async fn add_members<DB: Backend>(
    conn: &mut DB::Connection,
    chat: ChatId,
    members: Vec<(String, Role)>,
    at: Timestamp,
) -> Result<Vec<i64>> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = members.iter().map(|(name, _)| name.clone()).collect();
    let ids = user_ids::<DB>(conn, &names).await?;
    // Placeholders only around fixed SQL.
    let sql = format!(
        "INSERT INTO chat_participants (chat_id, user_id, role, joined_at) VALUES {} \
         ON CONFLICT DO NOTHING",
        value_rows::<DB>(members.len(), 4)
    );
    let insert = members.iter().zip(&ids).fold(Statement::new(sql), |insert, ((_, role), id)| {
        insert.bind(chat.0).bind(*id).bind(role.as_str()).bind(at.unix_millis())
    });
    DB::execute(conn, insert).await?;
    Ok(ids)
}

/// The kind and target of the item `author_id` stored in `chat` under the idempotency key
/// `key`, if any (the chat's row locked, so a retry racing its original sees it).
pub(super) async fn keyed<DB: Backend>(
    conn: &mut DB::Connection,
    chat: ChatId,
    author_id: i64,
    key: Option<&str>,
) -> Result<Option<KeyedItem>> {
    let Some(key) = key else { return Ok(None) };
    let select = Statement::new(
        "SELECT kind, target, member FROM messages \
         WHERE chat_id = $1 AND author_id = $2 AND client_id = $3",
    )
    .bind(chat.0)
    .bind(author_id)
    .bind(key);
    let Some(row) = DB::fetch_optional(conn, select).await? else { return Ok(None) };
    let kind = super::rows::parsed(EventKind::parse, &row.text(0)?)?;
    Ok(Some(KeyedItem { kind, target: row.opt_i64(1)?.map(Seq), member: row.opt_text(2)? }))
}

/// Store `events` (each a draft and, for an edit or a deletion, the post it changed) as
/// `author`'s, at `at`, with the chat's next sequence numbers in order, the first under the
/// idempotency key `key`: one bump of `last_seq` (the chat's row must be locked already, or this
/// locks it) and one multi-row insert.
pub(super) async fn record<DB: Backend>(
    conn: &mut DB::Connection,
    chat: ChatId,
    (author, author_id): (&str, i64),
    events: Vec<(Draft, Option<Seq>)>,
    at: Timestamp,
    key: Option<&str>,
) -> Result<Vec<Message>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let count = events.len() as i64;
    let bump = Statement::new(
        "UPDATE chats SET last_seq = last_seq + $2 WHERE id = $1 RETURNING last_seq",
    )
    .bind(chat.0)
    .bind(count);
    let last = DB::fetch_optional(conn, bump).await?.ok_or(Error::ChatNotFound(chat))?.i64(0)?;
    let first = last - count + 1;
    let events: Vec<Message> = events
        .into_iter()
        .zip(first..)
        .map(|((draft, target), seq)| Message {
            id: 0,
            chat_id: chat,
            seq: Seq(seq),
            author: author.to_owned(),
            content: draft.content,
            timestamp: at,
            client_id: if seq == first { key.map(str::to_owned) } else { None },
            edited_at: None,
            deleted: false,
            kind: draft.kind,
            target,
            member: draft.member,
            role: draft.role,
            attachments: Vec::new(),
        })
        .collect();
    // Placeholders only around fixed SQL.
    let sql = format!(
        "INSERT INTO messages \
         (chat_id, seq, author, content, created_at, author_id, kind, target, member, role, \
         client_id) VALUES {} RETURNING id, seq",
        value_rows::<DB>(events.len(), 11)
    );
    let insert = events.iter().fold(Statement::new(sql), |insert, event| {
        insert
            .bind(chat.0)
            .bind(event.seq.0)
            .bind(&event.author)
            .bind(&event.content)
            .bind(at.unix_millis())
            .bind(author_id)
            .bind(event.kind.as_str())
            .bind(event.target.map(|seq| seq.0))
            .bind(&event.member)
            .bind(event.role.map(Role::as_str))
            .bind(&event.client_id)
    });
    // Rows come back in no promised order: match them by seq, unique in the chat.
    let ids: HashMap<i64, i64> = DB::fetch_all(conn, insert)
        .await?
        .iter()
        .map(|row| Ok((row.i64(1)?, row.i64(0)?)))
        .collect::<Result<_>>()?;
    events
        .into_iter()
        .map(|event| {
            let id = *ids
                .get(&event.seq.0)
                .ok_or_else(|| Error::Database("an inserted event was not returned".into()))?;
            Ok(Message { id, ..event })
        })
        .collect()
}
