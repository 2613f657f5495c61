//! Rows to models: the column lists the queries select and the functions that read them.

use std::collections::HashMap;

use super::backend::{Backend, SqlRow};
use super::statement::{Statement, placeholders};
use crate::model::{
    Attachment, BotToken, ChatId, ChatKind, EventKind, Invitation, InvitationState, InviteLink,
    Language, Media, MediaKind, Message, Role, Seq, Timestamp, deleted_author,
};
use crate::{Error, Result};

/// Columns of a message, in the order [`message_from_row`] reads them. Statements that return
/// messages spell them out (they are `const` text); a test checks they match.
pub(crate) const MESSAGE_COLUMNS: &str = "id, chat_id, seq, author, content, created_at, \
     client_id, edited_at, deleted, kind, target, member, role, attachments";

/// Columns and join of a bot token, in the order [`bot_token_from_row`] reads them.
pub(crate) const BOT_TOKEN_SELECT: &str = "SELECT t.id, u.username, t.name, t.created_at, t.revoked \
     FROM bot_tokens t JOIN users u ON u.id = t.user_id";

/// Columns and joins of an invitation, in the order [`invitation_from_row`] reads them.
pub(crate) const INVITATION_SELECT: &str = "SELECT i.id, i.chat_id, c.kind, c.name, \
     inviter.username, invitee.username, i.state, i.created_at FROM invitations i \
     JOIN chats c ON c.id = i.chat_id JOIN users inviter ON inviter.id = i.inviter_id \
     JOIN users invitee ON invitee.id = i.invitee_id";

/// Columns and join of an invite link, in the order [`invite_link_from_row`] reads them.
pub(crate) const INVITE_LINK_SELECT: &str = "SELECT l.id, l.chat_id, u.username, l.created_at, \
     l.expires_at, l.max_uses, l.uses, l.revoked FROM invite_links l \
     JOIN users u ON u.id = l.creator_id";

/// Columns and join of a media record, in the order [`media_from_row`] reads them: the owner's
/// current name, NULL once the account is deleted, then the name it uploaded under.
pub(crate) const MEDIA_SELECT: &str = "SELECT m.content_id, m.kind, u.username, m.owner_name, \
     m.chat_id, m.name, m.content_type, m.size, m.width, m.height, m.thumbnail, m.created_at \
     FROM media m LEFT JOIN users u ON u.id = m.owner_id";

pub(crate) fn message_from_row(row: &impl SqlRow) -> Result<Message> {
    Ok(Message {
        id: row.i64(0)?,
        chat_id: ChatId(row.i64(1)?),
        seq: Seq(row.i64(2)?),
        author: row.text(3)?,
        content: row.text(4)?,
        timestamp: Timestamp::from_unix_millis(row.i64(5)?),
        client_id: row.opt_text(6)?,
        edited_at: row.opt_i64(7)?.map(Timestamp::from_unix_millis),
        deleted: row.bool(8)?,
        kind: parsed(EventKind::parse, &row.text(9)?)?,
        target: row.opt_i64(10)?.map(Seq),
        member: row.opt_text(11)?,
        role: row.opt_text(12)?.map(|role| parsed(Role::parse, &role)).transpose()?,
        attachments: match row.opt_text(13)? {
            Some(json) => {
                serde_json::from_str(&json).map_err(|err| Error::Database(Box::new(err)))?
            }
            None => Vec::new(),
        },
    })
}

/// A post's attachments as stored: a JSON array, or NULL for none.
pub(crate) fn attachments_column(attachments: &[Attachment]) -> Option<String> {
    (!attachments.is_empty()).then(|| serde_json::to_string(attachments).unwrap_or_default())
}

/// A stored name (`kind`, `role`) as its type; a name the code does not know is a database
/// error (a newer schema, or a row written by hand), not a panic.
pub(crate) fn parsed<T>(parse: fn(&str) -> Option<T>, name: &str) -> Result<T> {
    parse(name).ok_or_else(|| Error::Database(format!("unknown stored name {name:?}").into()))
}

/// A chat kind as stored.
pub(crate) fn chat_kind(name: &str) -> Result<ChatKind> {
    parsed(ChatKind::parse, name)
}

pub(crate) fn bot_token_from_row(row: &impl SqlRow) -> Result<BotToken> {
    Ok(BotToken {
        id: row.i64(0)?,
        username: row.text(1)?,
        name: row.text(2)?,
        created_at: Timestamp::from_unix_millis(row.i64(3)?),
        revoked: row.bool(4)?,
    })
}

pub(crate) fn invitation_from_row(row: &impl SqlRow) -> Result<Invitation> {
    Ok(Invitation {
        id: row.i64(0)?,
        chat_id: ChatId(row.i64(1)?),
        kind: chat_kind(&row.text(2)?)?,
        name: row.opt_text(3)?,
        inviter: row.text(4)?,
        invitee: row.text(5)?,
        state: parsed(InvitationState::parse, &row.text(6)?)?,
        created_at: Timestamp::from_unix_millis(row.i64(7)?),
    })
}

pub(crate) fn invite_link_from_row(row: &impl SqlRow) -> Result<InviteLink> {
    Ok(InviteLink {
        id: row.i64(0)?,
        chat_id: ChatId(row.i64(1)?),
        created_by: row.text(2)?,
        created_at: Timestamp::from_unix_millis(row.i64(3)?),
        expires_at: Timestamp::from_unix_millis(row.i64(4)?),
        max_uses: row.opt_i64(5)?.map(count).transpose()?,
        uses: count(row.i64(6)?)?,
        revoked: row.bool(7)?,
    })
}

/// A media record; a deleted owner shows as [`deleted_author`] of the name it uploaded under.
pub(crate) fn media_from_row(row: &impl SqlRow) -> Result<Media> {
    let owner = match row.opt_text(2)? {
        Some(owner) => owner,
        None => deleted_author(&row.text(3)?),
    };
    let size = row.i64(7)?;
    Ok(Media {
        id: row.text(0)?,
        kind: parsed(MediaKind::parse, &row.text(1)?)?,
        owner,
        chat: row.opt_i64(4)?.map(ChatId),
        name: row.text(5)?,
        content_type: row.text(6)?,
        size: u64::try_from(size)
            .map_err(|_| Error::Database(format!("stored size {size} out of range").into()))?,
        width: row.opt_i64(8)?.map(count).transpose()?,
        height: row.opt_i64(9)?.map(count).transpose()?,
        thumbnail: row.opt_text(10)?,
        created_at: Timestamp::from_unix_millis(row.i64(11)?),
    })
}

/// A stored count (of uses, of pixels) as the model's `u32`.
pub(crate) fn count(stored: i64) -> Result<u32> {
    u32::try_from(stored)
        .map_err(|_| Error::Database(format!("stored count {stored} out of range").into()))
}

/// A language from a row of `id, name`.
pub(crate) fn language_from_row(row: &impl SqlRow) -> Result<Language> {
    Ok(Language { id: row.i64(0)?, name: row.text(1)? })
}

/// `owner, item` rows of `{select} IN (ids…) {order}`, gathered by owner in order: one query for
/// a whole page instead of one per row.
pub(crate) async fn gather<DB: Backend>(
    conn: &mut DB::Connection,
    select: &str,
    order: &str,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<String>>> {
    let mut gathered: HashMap<i64, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(gathered);
    }
    // Placeholders only around fixed SQL.
    let sql = format!("{select} IN ({}) {order}", placeholders::<DB>(1, ids.len()));
    let select = ids.iter().fold(Statement::new(sql), |select, id| select.bind(*id));
    for row in DB::fetch_all(conn, select).await? {
        gathered.entry(row.i64(0)?).or_default().push(row.text(1)?);
    }
    Ok(gathered)
}
