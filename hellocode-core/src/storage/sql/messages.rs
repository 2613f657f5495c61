//! Reading, editing and deleting messages. Appends go through the group commit (`appends`).

use sqlx::Pool;

use super::backend::{Backend, SqlRow};
use super::begin_write;
use super::chats::require_participant;
use super::events::{keyed, lock_chat, record};
use super::rows::message_from_row;
use super::statement::Statement;
use super::users::user_id;
use crate::model::{ChatId, EventKind, Message, Revised, Seq, Timestamp};
use crate::storage::Items;
use crate::storage::membership::{self, Draft};
use crate::{Error, Result};

/// A history page: posts only, newest first, below a sequence number. Reads the `(chat_id, seq)`
/// index (skipping the events between posts).
pub(crate) const MESSAGES_BEFORE: &str = "SELECT \
     id, chat_id, seq, author, content, created_at, client_id, edited_at, deleted, kind, target, \
     member, role, attachments \
     FROM messages WHERE chat_id = $1 AND seq < $2 AND kind = 'message' \
     ORDER BY seq DESC LIMIT CAST($3 AS BIGINT)";

/// A resume page: every item, oldest first, above a sequence number. Reads the `(chat_id, seq)`
/// index.
pub(crate) const MESSAGES_AFTER: &str = "SELECT \
     id, chat_id, seq, author, content, created_at, client_id, edited_at, deleted, kind, target, \
     member, role, attachments \
     FROM messages WHERE chat_id = $1 AND seq > $2 \
     ORDER BY seq LIMIT CAST($3 AS BIGINT)";

/// A resume page of posts only, oldest first, above a sequence number. Reads the `(chat_id,
/// seq)` index.
pub(crate) const POSTS_AFTER: &str = "SELECT \
     id, chat_id, seq, author, content, created_at, client_id, edited_at, deleted, kind, target, \
     member, role, attachments \
     FROM messages WHERE chat_id = $1 AND seq > $2 AND kind = 'message' \
     ORDER BY seq LIMIT CAST($3 AS BIGINT)";

/// An item with its author's account id (after the message columns).
const ITEM_WITH_AUTHOR_ID: &str = "SELECT \
     id, chat_id, seq, author, content, created_at, client_id, edited_at, deleted, kind, target, \
     member, role, attachments, author_id \
     FROM messages WHERE chat_id = $1 AND seq = $2";

const EDIT_MESSAGE: &str = "UPDATE messages SET content = $3, edited_at = $4 \
     WHERE chat_id = $1 AND seq = $2 RETURNING \
     id, chat_id, seq, author, content, created_at, client_id, edited_at, deleted, kind, target, \
     member, role, attachments";

const DELETE_MESSAGE: &str = "UPDATE messages SET content = '', deleted = TRUE, edited_at = $3, \
     attachments = NULL \
     WHERE chat_id = $1 AND seq = $2 RETURNING \
     id, chat_id, seq, author, content, created_at, client_id, edited_at, deleted, kind, target, \
     member, role, attachments";

pub(super) async fn messages_before<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    reader: &str,
    before: Option<Seq>,
    limit: u32,
) -> Result<Vec<Message>> {
    let mut conn = pool.acquire().await?;
    require_participant::<DB>(&mut conn, chat, reader).await?;
    let select = Statement::new(MESSAGES_BEFORE)
        .bind(chat.0)
        .bind(before.map_or(i64::MAX, |seq| seq.0))
        .bind(i64::from(limit));
    let rows = DB::fetch_all(&mut conn, select).await?;
    rows.iter().map(message_from_row).collect()
}

pub(super) async fn messages_after<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    reader: &str,
    after: Seq,
    limit: u32,
    items: Items,
) -> Result<Vec<Message>> {
    let mut conn = pool.acquire().await?;
    require_participant::<DB>(&mut conn, chat, reader).await?;
    let sql = match items {
        Items::All => MESSAGES_AFTER,
        Items::Posts => POSTS_AFTER,
    };
    let select = Statement::new(sql).bind(chat.0).bind(after.0).bind(i64::from(limit));
    let rows = DB::fetch_all(&mut conn, select).await?;
    rows.iter().map(message_from_row).collect()
}

/// Edit the post and record the `edit` event, in one transaction.
pub(super) async fn edit_message<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    seq: Seq,
    editor: &str,
    content: &str,
    at: Timestamp,
    key: Option<&str>,
) -> Result<Revised> {
    let mut tx = begin_write(pool).await?;
    let (author_id, post) = own_post::<DB>(&mut tx, chat, seq, editor).await?;
    if let Some(stored) = keyed::<DB>(&mut tx, chat, author_id, key).await? {
        tx.rollback().await?;
        return membership::revision_replay(chat, (EventKind::Edit, seq), stored, key, post);
    }
    if post.deleted {
        return Err(Error::MessageDeleted { chat, seq });
    }
    let edit =
        Statement::new(EDIT_MESSAGE).bind(chat.0).bind(seq.0).bind(content).bind(at.unix_millis());
    let message = message_from_row(&DB::fetch_one(&mut tx, edit).await?)?;
    let draft = Draft::text(EventKind::Edit, Some(content));
    let mut events =
        record::<DB>(&mut tx, chat, (editor, author_id), vec![(draft, Some(seq))], at, key).await?;
    tx.commit().await?;
    Ok(Revised { message, event: events.pop() })
}

/// Delete the post and record the `delete` event, in one transaction; a post deleted already
/// is returned as it is, and nothing is recorded.
pub(super) async fn delete_message<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    seq: Seq,
    by: &str,
    at: Timestamp,
    key: Option<&str>,
) -> Result<Revised> {
    let mut tx = begin_write(pool).await?;
    let (author_id, post) = own_post::<DB>(&mut tx, chat, seq, by).await?;
    if let Some(stored) = keyed::<DB>(&mut tx, chat, author_id, key).await? {
        tx.rollback().await?;
        return membership::revision_replay(chat, (EventKind::Delete, seq), stored, key, post);
    }
    if post.deleted {
        // Deleting twice is not an error: the message is gone either way.
        tx.rollback().await?;
        return Ok(Revised { message: post, event: None });
    }
    let delete = Statement::new(DELETE_MESSAGE).bind(chat.0).bind(seq.0).bind(at.unix_millis());
    let message = message_from_row(&DB::fetch_one(&mut tx, delete).await?)?;
    let draft = Draft::text(EventKind::Delete, None);
    let mut events =
        record::<DB>(&mut tx, chat, (by, author_id), vec![(draft, Some(seq))], at, key).await?;
    tx.commit().await?;
    Ok(Revised { message, event: events.pop() })
}

/// The author's own (by account id) post at `seq`, with the chat's row locked (so that two
/// revisions of one post, and the events they record, serialize), and the author's account id.
/// An event is never a post: `MessageNotFound`.
async fn own_post<DB: Backend>(
    conn: &mut DB::Connection,
    chat: ChatId,
    seq: Seq,
    author: &str,
) -> Result<(i64, Message)> {
    lock_chat::<DB>(conn, chat).await?;
    require_participant::<DB>(conn, chat, author).await?;
    let author_id = user_id::<DB>(conn, author).await?;
    let select = Statement::new(ITEM_WITH_AUTHOR_ID).bind(chat.0).bind(seq.0);
    let row =
        DB::fetch_optional(conn, select).await?.ok_or(Error::MessageNotFound { chat, seq })?;
    let item = message_from_row(&row)?;
    if !item.is_post() {
        return Err(Error::MessageNotFound { chat, seq });
    }
    if row.opt_i64(14)? != Some(author_id) {
        return Err(Error::NotAuthor { chat, seq });
    }
    Ok((author_id, item))
}

#[cfg(test)]
mod tests {
    use super::super::rows::MESSAGE_COLUMNS;
    use super::{
        DELETE_MESSAGE, EDIT_MESSAGE, ITEM_WITH_AUTHOR_ID, MESSAGES_AFTER, MESSAGES_BEFORE,
        POSTS_AFTER,
    };

    /// The statements spell out the message columns (`const` text cannot splice a `const`), in
    /// the order `message_from_row` reads them.
    #[test]
    fn message_statements_select_the_message_columns() {
        for page in [MESSAGES_BEFORE, MESSAGES_AFTER, POSTS_AFTER] {
            assert!(
                page.starts_with(&format!("SELECT {MESSAGE_COLUMNS} FROM messages ")),
                "{page}"
            );
        }
        assert!(ITEM_WITH_AUTHOR_ID.starts_with(&format!("SELECT {MESSAGE_COLUMNS}, author_id ")));
        for change in [EDIT_MESSAGE, DELETE_MESSAGE] {
            assert!(change.ends_with(&format!(" RETURNING {MESSAGE_COLUMNS}")), "{change}");
        }
    }

    /// History pages are posts only; resume pages are every item or posts only.
    #[test]
    fn pages_choose_their_items() {
        assert!(MESSAGES_BEFORE.contains(" AND kind = 'message' "));
        assert!(POSTS_AFTER.contains(" AND kind = 'message' "));
        assert!(!MESSAGES_AFTER.contains("kind ="));
    }
}
