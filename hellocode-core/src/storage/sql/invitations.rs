//! Invitations to groups and invite links. Every write that depends on the chat's members locks
//! the chat's row first (`events::lock_chat`), so that it serializes with the chat's other
//! changes and appends; the rules are `membership`'s (`may_admit`, `join`, `may_answer`,
//! `may_cancel`, `link_usable`), applied to what is read under the lock.

use sqlx::Pool;

use super::backend::{Backend, SqlRow};
use super::begin_write;
use super::chats::load_chat;
use super::events::{Locked, apply, lock_chat, record, roster};
use super::rows::{
    INVITATION_SELECT, INVITE_LINK_SELECT, chat_kind, count, invitation_from_row,
    invite_link_from_row,
};
use super::statement::Statement;
use super::users::user_id;
use crate::model::{
    ChatChanged, ChatId, Invitation, InvitationState, InviteLink, Invited, NewInviteLink, Timestamp,
};
use crate::storage::membership::{self, Admission, LinkUse, Plan};
use crate::{Error, Result};

pub(super) async fn invite<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    by: &str,
    invitee: &str,
    at: Timestamp,
) -> Result<Invited> {
    let mut tx = begin_write(pool).await?;
    let locked = lock_chat::<DB>(&mut tx, chat).await?;
    let roster = roster::<DB>(&mut tx, chat, locked).await?;
    membership::may_admit(chat, &roster, by, Admission::Invite)?;
    let invitee_id = user_id::<DB>(&mut tx, invitee).await?;
    membership::invitable(chat, &roster, invitee)?;
    // At most one pending invitation per (chat, invitee): the partial unique index
    // `invitations_pending` guards what this look-up (under the chat's lock) relies on.
    let pending = Statement::new(
        "SELECT id FROM invitations WHERE chat_id = $1 AND invitee_id = $2 AND state = 'pending'",
    )
    .bind(chat.0)
    .bind(invitee_id);
    let (id, created) = match DB::fetch_optional(&mut tx, pending).await? {
        Some(row) => (row.i64(0)?, false),
        None => {
            let inviter_id = user_id::<DB>(&mut tx, by).await?;
            let insert = Statement::new(
                "INSERT INTO invitations (chat_id, invitee_id, inviter_id, state, created_at) \
                 VALUES ($1, $2, $3, 'pending', $4) RETURNING id",
            )
            .bind(chat.0)
            .bind(invitee_id)
            .bind(inviter_id)
            .bind(at.unix_millis());
            (DB::fetch_one(&mut tx, insert).await?.i64(0)?, true)
        }
    };
    let invitation =
        load_invitation::<DB>(&mut tx, id).await?.ok_or(Error::InvitationNotFound(id))?;
    tx.commit().await?;
    Ok(Invited { invitation, created })
}

pub(super) async fn invitation<DB: Backend>(
    pool: &Pool<DB>,
    id: i64,
) -> Result<Option<Invitation>> {
    load_invitation::<DB>(&mut *pool.acquire().await?, id).await
}

pub(super) async fn invitations_of<DB: Backend>(
    pool: &Pool<DB>,
    invitee: &str,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<Invitation>> {
    let select = Statement::new(format!(
        "{INVITATION_SELECT} WHERE invitee.username = $1 AND i.state = 'pending' AND i.id > $2 \
         ORDER BY i.id LIMIT CAST($3 AS BIGINT)"
    ))
    .bind(invitee)
    .bind(after.unwrap_or(0))
    .bind(i64::from(limit));
    let rows = DB::fetch_all(&mut *pool.acquire().await?, select).await?;
    rows.iter().map(invitation_from_row).collect()
}

/// Settle invitation `id` and join its chat, with the chat's row locked: both or neither.
pub(super) async fn accept_invitation<DB: Backend>(
    pool: &Pool<DB>,
    id: i64,
    by: &str,
    max: usize,
    at: Timestamp,
) -> Result<ChatChanged> {
    let mut tx = begin_write(pool).await?;
    let (chat, locked, invitation) = lock_invitation::<DB>(&mut tx, id).await?;
    let accepted = InvitationState::Accepted;
    let pending = membership::may_answer(id, &invitation.invitee, invitation.state, by, accepted)?;
    let roster = roster::<DB>(&mut tx, chat, locked).await?;
    if !pending {
        // Accepted before: answered again while they are still in the chat.
        let member = roster.members.iter().any(|(name, _)| name == by);
        let view = load_chat::<DB>(&mut tx, chat).await?.filter(|_| member);
        tx.rollback().await?;
        return view.map(membership::already_joined).ok_or(Error::InvitationNotFound(id));
    }
    let plan = membership::join(chat, &roster, by, max)?;
    settle::<DB>(&mut tx, id, InvitationState::Accepted, at).await?;
    let changed = join::<DB>(&mut tx, chat, by, plan, at).await?;
    tx.commit().await?;
    Ok(changed)
}

pub(super) async fn decline_invitation<DB: Backend>(
    pool: &Pool<DB>,
    id: i64,
    by: &str,
    at: Timestamp,
) -> Result<Invitation> {
    let mut tx = begin_write(pool).await?;
    let invitation =
        load_invitation::<DB>(&mut tx, id).await?.ok_or(Error::InvitationNotFound(id))?;
    let declined = InvitationState::Declined;
    if !membership::may_answer(id, &invitation.invitee, invitation.state, by, declined)? {
        tx.rollback().await?;
        return Ok(invitation);
    }
    // No chat lock: the update itself refuses an invitation settled meanwhile.
    settle::<DB>(&mut tx, id, InvitationState::Declined, at).await?;
    tx.commit().await?;
    Ok(Invitation { state: InvitationState::Declined, ..invitation })
}

pub(super) async fn cancel_invitation<DB: Backend>(
    pool: &Pool<DB>,
    id: i64,
    by: &str,
    at: Timestamp,
) -> Result<Invitation> {
    let mut tx = begin_write(pool).await?;
    let (chat, locked, invitation) = lock_invitation::<DB>(&mut tx, id).await?;
    let roster = roster::<DB>(&mut tx, chat, locked).await?;
    let settled = (id, invitation.inviter.as_str(), invitation.state);
    membership::may_cancel(chat, &roster, settled, by)?;
    settle::<DB>(&mut tx, id, InvitationState::Cancelled, at).await?;
    tx.commit().await?;
    Ok(Invitation { state: InvitationState::Cancelled, ..invitation })
}

pub(super) async fn create_invite_link<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    by: &str,
    link: NewInviteLink,
) -> Result<InviteLink> {
    let mut tx = begin_write(pool).await?;
    let locked = lock_chat::<DB>(&mut tx, chat).await?;
    let roster = roster::<DB>(&mut tx, chat, locked).await?;
    membership::may_admit(chat, &roster, by, Admission::Links)?;
    let creator_id = user_id::<DB>(&mut tx, by).await?;
    let insert = Statement::new(
        "INSERT INTO invite_links (chat_id, creator_id, token_hash, created_at, expires_at, \
         max_uses) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(chat.0)
    .bind(creator_id)
    .bind(link.token_hash)
    .bind(link.at.unix_millis())
    .bind(link.expires_at.unix_millis())
    .bind(link.max_uses.map(i64::from));
    let id = DB::fetch_one(&mut tx, insert).await?.i64(0)?;
    let select = Statement::new(format!("{INVITE_LINK_SELECT} WHERE l.id = $1")).bind(id);
    let created = invite_link_from_row(&DB::fetch_one(&mut tx, select).await?)?;
    tx.commit().await?;
    Ok(created)
}

pub(super) async fn invite_links<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    by: &str,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<InviteLink>> {
    let mut conn = pool.acquire().await?;
    // A read: the roster as committed, no lock.
    let select = Statement::new("SELECT kind, name, topic FROM chats WHERE id = $1").bind(chat.0);
    let row = DB::fetch_optional(&mut conn, select).await?.ok_or(Error::ChatNotFound(chat))?;
    let fields =
        Locked { kind: chat_kind(&row.text(0)?)?, name: row.opt_text(1)?, topic: row.opt_text(2)? };
    let roster = roster::<DB>(&mut conn, chat, fields).await?;
    membership::may_admit(chat, &roster, by, Admission::Links)?;
    let select = Statement::new(format!(
        "{INVITE_LINK_SELECT} WHERE l.chat_id = $1 AND l.id > $2 \
         ORDER BY l.id LIMIT CAST($3 AS BIGINT)"
    ))
    .bind(chat.0)
    .bind(after.unwrap_or(0))
    .bind(i64::from(limit));
    let rows = DB::fetch_all(&mut conn, select).await?;
    rows.iter().map(invite_link_from_row).collect()
}

pub(super) async fn revoke_invite_link<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    by: &str,
    link: i64,
) -> Result<()> {
    let mut tx = begin_write(pool).await?;
    let locked = lock_chat::<DB>(&mut tx, chat).await?;
    let roster = roster::<DB>(&mut tx, chat, locked).await?;
    membership::may_admit(chat, &roster, by, Admission::Links)?;
    let revoke =
        Statement::new("UPDATE invite_links SET revoked = TRUE WHERE id = $1 AND chat_id = $2")
            .bind(link)
            .bind(chat.0);
    if DB::execute(&mut tx, revoke).await? == 0 {
        return Err(Error::InviteLinkNotFound);
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn invite_link_chat<DB: Backend>(
    pool: &Pool<DB>,
    token_hash: &str,
) -> Result<Option<ChatId>> {
    let select =
        Statement::new("SELECT chat_id FROM invite_links WHERE token_hash = $1").bind(token_hash);
    let row = DB::fetch_optional(&mut *pool.acquire().await?, select).await?;
    Ok(row.map(|row| row.i64(0).map(ChatId)).transpose()?)
}

/// Count a use of the link and join its chat, with the chat's row locked: two joins racing for
/// the last use serialize on it, and the second finds the link used up.
pub(super) async fn join_by_link<DB: Backend>(
    pool: &Pool<DB>,
    token_hash: &str,
    by: &str,
    max: usize,
    at: Timestamp,
) -> Result<ChatChanged> {
    let mut tx = begin_write(pool).await?;
    let chat = invite_link_chat_in::<DB>(&mut tx, token_hash).await?;
    let locked = lock_chat::<DB>(&mut tx, chat).await.map_err(|err| match err {
        Error::ChatNotFound(_) => Error::InviteLinkNotFound,
        other => other,
    })?;
    // Read again under the lock: what an earlier join (or a revocation) committed.
    let select = Statement::new(
        "SELECT id, revoked, expires_at, max_uses, uses FROM invite_links WHERE token_hash = $1",
    )
    .bind(token_hash);
    let row = DB::fetch_optional(&mut tx, select).await?.ok_or(Error::InviteLinkNotFound)?;
    let link = row.i64(0)?;
    let usage = LinkUse {
        revoked: row.bool(1)?,
        expires_at: Timestamp::from_unix_millis(row.i64(2)?),
        max_uses: row.opt_i64(3)?.map(count).transpose()?,
        uses: count(row.i64(4)?)?,
    };
    let roster = roster::<DB>(&mut tx, chat, locked).await?;
    if roster.members.iter().any(|(name, _)| name == by) {
        // A member joining again (a retry whose reply was lost): nothing changes.
        membership::link_repeatable(&usage, at)?;
        let view = load_chat::<DB>(&mut tx, chat).await?.ok_or(Error::InviteLinkNotFound)?;
        tx.rollback().await?;
        return Ok(membership::already_joined(view));
    }
    membership::link_usable(&usage, at)?;
    let plan = membership::join(chat, &roster, by, max)?;
    let used = Statement::new("UPDATE invite_links SET uses = uses + 1 WHERE id = $1").bind(link);
    DB::execute(&mut tx, used).await?;
    let changed = join::<DB>(&mut tx, chat, by, plan, at).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Invitation `id` read again with its chat's row locked (so that its answer serializes with the
/// chat's other changes); a chat deleted meanwhile took its invitations with it.
async fn lock_invitation<DB: Backend>(
    conn: &mut DB::Connection,
    id: i64,
) -> Result<(ChatId, Locked, Invitation)> {
    let chat = invitation_chat::<DB>(conn, id).await?;
    let locked = lock_chat::<DB>(conn, chat).await.map_err(|err| match err {
        Error::ChatNotFound(_) => Error::InvitationNotFound(id),
        other => other,
    })?;
    let invitation = load_invitation::<DB>(conn, id).await?.ok_or(Error::InvitationNotFound(id))?;
    Ok((chat, locked, invitation))
}

/// The chat of invitation `id` (`InvitationNotFound` if there is none). An invitation never
/// changes chats, so this may be read before the chat is locked.
async fn invitation_chat<DB: Backend>(conn: &mut DB::Connection, id: i64) -> Result<ChatId> {
    let select = Statement::new("SELECT chat_id FROM invitations WHERE id = $1").bind(id);
    let row = DB::fetch_optional(conn, select).await?.ok_or(Error::InvitationNotFound(id))?;
    Ok(ChatId(row.i64(0)?))
}

/// The chat of the link stored under `token_hash` (`InviteLinkNotFound` if there is none).
async fn invite_link_chat_in<DB: Backend>(
    conn: &mut DB::Connection,
    token_hash: &str,
) -> Result<ChatId> {
    let select =
        Statement::new("SELECT chat_id FROM invite_links WHERE token_hash = $1").bind(token_hash);
    let row = DB::fetch_optional(conn, select).await?.ok_or(Error::InviteLinkNotFound)?;
    Ok(ChatId(row.i64(0)?))
}

async fn load_invitation<DB: Backend>(
    conn: &mut DB::Connection,
    id: i64,
) -> Result<Option<Invitation>> {
    let select = Statement::new(format!("{INVITATION_SELECT} WHERE i.id = $1")).bind(id);
    DB::fetch_optional(conn, select).await?.as_ref().map(invitation_from_row).transpose()
}

/// Settle pending invitation `id` as `state`; `InvitationNotFound` if it is no longer pending
/// (settled by a concurrent transaction: the update waits for it, then finds nothing to do).
async fn settle<DB: Backend>(
    conn: &mut DB::Connection,
    id: i64,
    state: InvitationState,
    at: Timestamp,
) -> Result<()> {
    let update = Statement::new(
        "UPDATE invitations SET state = $2, answered_at = $3 WHERE id = $1 AND state = 'pending'",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(at.unix_millis());
    if DB::execute(conn, update).await? == 0 {
        return Err(Error::InvitationNotFound(id));
    }
    Ok(())
}

/// Apply a [`membership::join`] plan of `by` to the locked `chat` and record its `join` event.
async fn join<DB: Backend>(
    conn: &mut DB::Connection,
    chat: ChatId,
    by: &str,
    plan: Plan,
    at: Timestamp,
) -> Result<ChatChanged> {
    let author_id = user_id::<DB>(conn, by).await?;
    apply::<DB>(conn, chat, plan.effects, at).await?;
    let drafts = plan.drafts.into_iter().map(|draft| (draft, None)).collect();
    let events = record::<DB>(conn, chat, (by, author_id), drafts, at, None).await?;
    let joined = load_chat::<DB>(conn, chat).await?.ok_or(Error::ChatNotFound(chat))?;
    Ok(ChatChanged {
        chat: joined,
        events,
        gone: plan.gone,
        added: plan.added,
        deleted: false,
        replayed: false,
    })
}
