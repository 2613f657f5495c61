//! Running a [`StorageOp`] against any [`Storage`] backend.

use super::ops::{StorageOp, StorageOutcome};
use crate::model::UserUpdate;
use crate::storage::Storage;
use crate::{Error, Result};

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
        StorageOp::ListChats { username, after, limit } => {
            StorageOutcome::Chats(storage.chats_of(username, *after, *limit).await?)
        }
        StorageOp::FindUsers { language, after, limit, .. } => StorageOutcome::Users(
            storage.users_by_language(language, after.as_deref(), *limit).await?,
        ),
        StorageOp::Typing { chat, username } => {
            storage.require_participant(*chat, username).await?;
            StorageOutcome::Allowed
        }
        StorageOp::MarkRead { chat, username, seq } => {
            StorageOutcome::ReadUpTo(storage.mark_read(*chat, username, *seq).await?)
        }
        StorageOp::GetUser { target, .. } => StorageOutcome::User(
            storage.user(target).await?.ok_or_else(|| Error::UserNotFound(target.clone()))?,
        ),
        StorageOp::UpdateProfile { username, timezone, languages } => {
            let update = UserUpdate {
                timezone: timezone.clone(),
                languages: languages.clone(),
                ..UserUpdate::default()
            };
            StorageOutcome::User(storage.update_user(username, update).await?)
        }
        StorageOp::ListLanguages { after, limit, .. } => {
            StorageOutcome::Languages(storage.languages_after(after.as_deref(), *limit).await?)
        }
        StorageOp::AddLanguage { name, .. } => {
            StorageOutcome::Language(storage.add_language(name).await?)
        }
        StorageOp::ListContacts { username } => {
            StorageOutcome::Contacts(storage.contacts(username).await?)
        }
        StorageOp::AddContact { username, contact } => {
            storage.add_contact(username, contact).await?;
            StorageOutcome::Contacts(storage.contacts(username).await?)
        }
        StorageOp::RemoveContact { username, contact } => {
            storage.remove_contact(username, contact).await?;
            StorageOutcome::Contacts(storage.contacts(username).await?)
        }
        StorageOp::ListBotTokens { username } => {
            StorageOutcome::BotTokens(storage.bot_tokens(username).await?)
        }
        StorageOp::RevokeBotToken { username, token } => {
            storage.revoke_bot_token(username, *token).await?;
            StorageOutcome::Done
        }
        StorageOp::AddParticipants { chat, by, usernames, max } => {
            add_participants(storage, *chat, by, usernames, *max).await?
        }
    })
}

/// Read the chat, check the caller takes part, and store the union of old and new participants.
///
/// Two concurrent additions to one chat may race (the later write wins); each caller's reply
/// shows the participants its own write stored.
async fn add_participants(
    storage: &dyn Storage,
    id: crate::model::ChatId,
    by: &str,
    usernames: &[String],
    max: usize,
) -> Result<StorageOutcome> {
    let chat = storage.chat(id).await?.ok_or(Error::ChatNotFound(id))?;
    if !chat.has_participant(by) {
        return Err(Error::NotParticipant { chat: id, username: by.to_owned() });
    }
    let added: Vec<String> =
        usernames.iter().filter(|name| !chat.has_participant(name)).cloned().collect();
    if added.is_empty() {
        return Ok(StorageOutcome::ParticipantsAdded { chat, added });
    }
    let mut all: Vec<String> = chat.participants.into_iter().map(|p| p.username).collect();
    all.extend(added.iter().cloned());
    all.sort_unstable();
    if all.len() > max {
        return Err(Error::TooManyParticipants { chat: id, size: all.len(), limit: max });
    }
    let chat = storage.set_participants(id, &all).await?;
    Ok(StorageOutcome::ParticipantsAdded { chat, added })
}
