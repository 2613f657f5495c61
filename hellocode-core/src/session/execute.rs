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
        StorageOp::Resume { chat, reader, since, limit, items } => {
            // One extra row tells whether another page follows.
            let mut messages =
                storage.messages_after(*chat, reader, *since, limit + 1, *items).await?;
            let more = messages.len() > *limit as usize;
            messages.truncate(*limit as usize);
            StorageOutcome::Page { messages, more }
        }
        StorageOp::Append(message) => {
            StorageOutcome::Appended(storage.append_message(message.clone()).await?)
        }
        StorageOp::Edit { chat, seq, editor, content, at, key } => StorageOutcome::Revised(
            storage.edit_message(*chat, *seq, editor, content, *at, key.as_deref()).await?,
        ),
        StorageOp::Delete { chat, seq, by, at, key } => StorageOutcome::Revised(
            storage.delete_message(*chat, *seq, by, *at, key.as_deref()).await?,
        ),
        StorageOp::CreateChat { chat } => {
            StorageOutcome::Created(storage.create_chat(chat.clone()).await?)
        }
        StorageOp::GetChat { chat, reader } => {
            let found = storage.chat(*chat).await?.ok_or(Error::ChatNotFound(*chat))?;
            if !found.has_participant(reader) {
                return Err(Error::NotParticipant { chat: *chat, username: reader.clone() });
            }
            StorageOutcome::Chat(found)
        }
        StorageOp::ReadPositions { chat, reader } => {
            storage.require_participant(*chat, reader).await?;
            StorageOutcome::ReadPositions(storage.read_positions(*chat).await?)
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
        StorageOp::ChangeChat { chat, by, change, at, key } => StorageOutcome::Changed(
            storage.change_chat(*chat, by, change.clone(), *at, key.as_deref()).await?,
        ),
        StorageOp::DeleteChat { chat, by } => {
            StorageOutcome::Deleted(storage.delete_chat(*chat, by).await?)
        }
        StorageOp::Invite { chat, by, invitee, at } => {
            StorageOutcome::Invited(storage.invite(*chat, by, invitee, *at).await?)
        }
        StorageOp::ListInvitations { username, after, limit } => {
            StorageOutcome::Invitations(storage.invitations_of(username, *after, *limit).await?)
        }
        StorageOp::AcceptInvitation { invitation, by, max, at } => {
            StorageOutcome::Changed(storage.accept_invitation(*invitation, by, *max, *at).await?)
        }
        StorageOp::DeclineInvitation { invitation, by, at } => {
            StorageOutcome::Invitation(storage.decline_invitation(*invitation, by, *at).await?)
        }
        StorageOp::CancelInvitation { invitation, by, at } => {
            StorageOutcome::Invitation(storage.cancel_invitation(*invitation, by, *at).await?)
        }
        StorageOp::CreateInviteLink { chat, by, link } => {
            StorageOutcome::InviteLink(storage.create_invite_link(*chat, by, link.clone()).await?)
        }
        StorageOp::ListInviteLinks { chat, by, after, limit } => {
            StorageOutcome::InviteLinks(storage.invite_links(*chat, by, *after, *limit).await?)
        }
        StorageOp::RevokeInviteLink { chat, by, link } => {
            storage.revoke_invite_link(*chat, by, *link).await?;
            StorageOutcome::Done
        }
        StorageOp::JoinByLink { token_hash, by, max, at } => {
            StorageOutcome::Changed(storage.join_by_link(token_hash, by, *max, *at).await?)
        }
        StorageOp::SetPusher { username, pusher } => {
            storage.set_pusher(username, pusher.clone()).await?;
            StorageOutcome::PushSettings(storage.push_settings(username).await?)
        }
        StorageOp::RemovePusher { username, app_id, pushkey } => {
            storage.remove_pusher(username, app_id, pushkey).await?;
            StorageOutcome::PushSettings(storage.push_settings(username).await?)
        }
        StorageOp::GetPushSettings { username } => {
            StorageOutcome::PushSettings(storage.push_settings(username).await?)
        }
        StorageOp::MuteChat { chat, username, muted } => {
            storage.mute_chat(*chat, username, *muted).await?;
            StorageOutcome::PushSettings(storage.push_settings(username).await?)
        }
    })
}
