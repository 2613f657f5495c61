//! Running a [`StorageOp`] against any [`Storage`] backend.

use super::ops::{StorageOp, StorageOutcome};
use crate::Result;
use crate::storage::Storage;

/// Run one operation. Plain async code with no runtime of its own: every driver (WebSocket,
/// REST, in-process) calls this same function, so the transports cannot disagree.
pub async fn execute(storage: &dyn Storage, op: &StorageOp) -> Result<StorageOutcome> {
    Ok(match op {
        StorageOp::FetchMessages { chat, reader, before, limit } => {
            StorageOutcome::Messages(storage.messages_before(*chat, reader, *before, *limit).await?)
        }
        StorageOp::Resume { chat, reader, since, limit } => {
            // One extra row tells whether another page follows.
            let mut messages = storage.messages_after(*chat, reader, *since, limit + 1).await?;
            let more = messages.len() > *limit as usize;
            messages.truncate(*limit as usize);
            StorageOutcome::Page { messages, more }
        }
        StorageOp::Append(message) => {
            StorageOutcome::Appended(storage.append_message(message.clone()).await?)
        }
        StorageOp::Edit { chat, seq, editor, content, at } => {
            StorageOutcome::Message(storage.edit_message(*chat, *seq, editor, content, *at).await?)
        }
        StorageOp::Delete { chat, seq, by, at } => {
            StorageOutcome::Message(storage.delete_message(*chat, *seq, by, *at).await?)
        }
        StorageOp::CreateChat { participants, at } => {
            StorageOutcome::Chat(storage.create_chat(participants, *at).await?)
        }
        StorageOp::ListChats { username } => {
            StorageOutcome::Chats(storage.chats_of(username).await?)
        }
        StorageOp::FindUsers { language, .. } => {
            StorageOutcome::Users(storage.users_by_language(language).await?)
        }
        StorageOp::Typing { chat, username } => {
            storage.require_participant(*chat, username).await?;
            StorageOutcome::Allowed
        }
        StorageOp::MarkRead { chat, username, seq } => {
            StorageOutcome::ReadUpTo(storage.mark_read(*chat, username, *seq).await?)
        }
    })
}
