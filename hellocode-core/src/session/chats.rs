//! Commands that create, change and delete chats: their checks, and the storage operations they
//! become. Who may make which change is decided by storage, in the writing transaction.

use super::accounts::{Refusal, invalid, label};
use super::{Session, StorageOp, checked_client_id};
use crate::model::{ChatChange, ChatId, ChatKind, NewChat, Timestamp};
use crate::protocol::{Command, ErrorCode};

/// Longest group topic, in characters once trimmed.
pub const MAX_TOPIC_CHARS: usize = 256;

impl Session {
    /// The storage operation of a chat command of `actor` (`create_chat`, `add_participants`,
    /// `remove_participant`, `leave_chat`, `set_role`, `update_chat`, `delete_chat`).
    pub(super) fn chat_op(
        &self,
        actor: String,
        command: Command,
        now: Timestamp,
    ) -> Result<StorageOp, Refusal> {
        let change = |chat: ChatId, change: ChatChange, key: Option<String>| {
            Ok::<_, Refusal>(StorageOp::ChangeChat {
                chat,
                by: actor.clone(),
                change,
                at: now,
                key: checked_client_id(key)?,
            })
        };
        Ok(match command {
            Command::CreateChat { participants, name, topic, client_id } => {
                let members = self.participants(&actor, participants)?;
                let name = name.map(|name| label(&name, "name")).transpose()?;
                let topic = topic.map(|topic| self::topic(&topic)).transpose()?.flatten();
                // Two people and no name: a direct chat, as the original app made them.
                let kind = if name.is_none() && topic.is_none() && members.len() == 2 {
                    ChatKind::Direct
                } else {
                    ChatKind::Group
                };
                let client_id = checked_client_id(client_id)?;
                let chat =
                    NewChat { creator: actor, members, kind, name, topic, at: now, client_id };
                StorageOp::CreateChat { chat }
            }
            Command::AddParticipants { chat_id, mut usernames, client_id } => {
                usernames.sort_unstable();
                usernames.dedup();
                let max = self.limits.max_participants;
                if usernames.is_empty() || usernames.len() > max {
                    return Err(invalid(format!("usernames must name 1 to {max} users")));
                }
                if usernames.iter().any(String::is_empty) {
                    return Err(invalid("usernames must not be empty".to_owned()));
                }
                change(self.chat(chat_id)?, ChatChange::Add { usernames, max }, client_id)?
            }
            Command::RemoveParticipant { chat_id, username, client_id } => {
                let remove = ChatChange::Remove { username: named(username)? };
                change(self.chat(chat_id)?, remove, client_id)?
            }
            Command::LeaveChat { chat_id, client_id } => {
                change(self.chat(chat_id)?, ChatChange::Leave, client_id)?
            }
            Command::SetRole { chat_id, username, role, client_id } => {
                let set = ChatChange::SetRole { username: named(username)?, role };
                change(self.chat(chat_id)?, set, client_id)?
            }
            Command::UpdateChat { chat_id, name, topic, client_id } => {
                if name.is_none() && topic.is_none() {
                    return Err(invalid("give a name, a topic or both".to_owned()));
                }
                // An empty name or topic clears it.
                let name = match name {
                    Some(name) if name.trim().is_empty() => Some(String::new()),
                    Some(name) => Some(label(&name, "name")?),
                    None => None,
                };
                let topic = topic.map(|topic| self::topic(&topic).map(Option::unwrap_or_default));
                let describe = ChatChange::Describe { name, topic: topic.transpose()? };
                change(self.chat(chat_id)?, describe, client_id)?
            }
            Command::DeleteChat { chat_id } => {
                StorageOp::DeleteChat { chat: self.chat(chat_id)?, by: actor }
            }
            other => {
                // `Session::authorize` routes only the commands above here.
                return Err((
                    ErrorCode::Internal,
                    format!("internal error: {} is not a chat command", other.name()),
                ));
            }
        })
    }
}

/// A username given by the client (looked up by storage, which answers `not_found`).
fn named(username: String) -> Result<String, Refusal> {
    if username.is_empty() {
        return Err(invalid("username must not be empty".to_owned()));
    }
    Ok(username)
}

/// A topic, trimmed: `None` when empty.
fn topic(text: &str) -> Result<Option<String>, Refusal> {
    let text = text.trim();
    if text.chars().count() > MAX_TOPIC_CHARS {
        return Err(invalid(format!("topic must be at most {MAX_TOPIC_CHARS} characters")));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}
