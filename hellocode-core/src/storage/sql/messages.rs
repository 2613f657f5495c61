//! Reading, editing and deleting messages. Appends go through the group commit (`appends`).

use sqlx::Pool;

use super::backend::{Backend, SqlRow};
use super::begin_write;
use super::chats::require_participant;
use super::rows::message_from_row;
use super::statement::Statement;
use super::users::user_id;
use crate::model::{ChatId, Message, Seq, Timestamp};
use crate::{Error, Result};

/// A history page: newest first, below a sequence number. Reads the `(chat_id, seq)` index.
pub(crate) const MESSAGES_BEFORE: &str = "SELECT \
     id, chat_id, seq, author, content, created_at, client_id, edited_at, deleted \
     FROM messages WHERE chat_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3";

/// A resume page: oldest first, above a sequence number. Reads the `(chat_id, seq)` index.
pub(crate) const MESSAGES_AFTER: &str = "SELECT \
     id, chat_id, seq, author, content, created_at, client_id, edited_at, deleted \
     FROM messages WHERE chat_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

const EDIT_MESSAGE: &str = "UPDATE messages SET content = $3, edited_at = $4 \
     WHERE chat_id = $1 AND seq = $2 RETURNING \
     id, chat_id, seq, author, content, created_at, client_id, edited_at, deleted";

/// Deleting keeps the time of the first deletion.
const DELETE_MESSAGE: &str = "UPDATE messages SET content = '', deleted = TRUE, \
     edited_at = COALESCE(CASE WHEN deleted THEN edited_at END, $3) \
     WHERE chat_id = $1 AND seq = $2 RETURNING \
     id, chat_id, seq, author, content, created_at, client_id, edited_at, deleted";

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
) -> Result<Vec<Message>> {
    let mut conn = pool.acquire().await?;
    require_participant::<DB>(&mut conn, chat, reader).await?;
    let select = Statement::new(MESSAGES_AFTER).bind(chat.0).bind(after.0).bind(i64::from(limit));
    let rows = DB::fetch_all(&mut conn, select).await?;
    rows.iter().map(message_from_row).collect()
}

pub(super) async fn edit_message<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    seq: Seq,
    editor: &str,
    content: &str,
    at: Timestamp,
) -> Result<Message> {
    let mut tx = begin_write(pool).await?;
    own_message::<DB>(&mut tx, chat, seq, editor).await?;
    let edit =
        Statement::new(EDIT_MESSAGE).bind(chat.0).bind(seq.0).bind(content).bind(at.unix_millis());
    let row = DB::fetch_one(&mut tx, edit).await?;
    tx.commit().await?;
    message_from_row(&row)
}

pub(super) async fn delete_message<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    seq: Seq,
    by: &str,
    at: Timestamp,
) -> Result<Message> {
    let mut tx = begin_write(pool).await?;
    match own_message::<DB>(&mut tx, chat, seq, by).await {
        // Deleting twice is not an error: the message is gone either way.
        Ok(()) | Err(Error::MessageDeleted { .. }) => {}
        Err(err) => return Err(err),
    }
    let delete = Statement::new(DELETE_MESSAGE).bind(chat.0).bind(seq.0).bind(at.unix_millis());
    let row = DB::fetch_one(&mut tx, delete).await?;
    tx.commit().await?;
    message_from_row(&row)
}

/// The author's own (by account id), still present message, inside a write transaction.
async fn own_message<DB: Backend>(
    conn: &mut DB::Connection,
    chat: ChatId,
    seq: Seq,
    author: &str,
) -> Result<()> {
    require_participant::<DB>(conn, chat, author).await?;
    let author_id = user_id::<DB>(conn, author).await?;
    let select =
        Statement::new("SELECT author_id, deleted FROM messages WHERE chat_id = $1 AND seq = $2")
            .bind(chat.0)
            .bind(seq.0);
    let row =
        DB::fetch_optional(conn, select).await?.ok_or(Error::MessageNotFound { chat, seq })?;
    if row.opt_i64(0)? != Some(author_id) {
        return Err(Error::NotAuthor { chat, seq });
    }
    if row.bool(1)? {
        return Err(Error::MessageDeleted { chat, seq });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::rows::MESSAGE_COLUMNS;
    use super::{DELETE_MESSAGE, EDIT_MESSAGE, MESSAGES_AFTER, MESSAGES_BEFORE};

    /// The statements spell out the message columns (`const` text cannot splice a `const`), in
    /// the order `message_from_row` reads them.
    #[test]
    fn message_statements_select_the_message_columns() {
        for page in [MESSAGES_BEFORE, MESSAGES_AFTER] {
            assert!(
                page.starts_with(&format!("SELECT {MESSAGE_COLUMNS} FROM messages ")),
                "{page}"
            );
        }
        for change in [EDIT_MESSAGE, DELETE_MESSAGE] {
            assert!(change.ends_with(&format!(" RETURNING {MESSAGE_COLUMNS}")), "{change}");
        }
    }
}
