//! Commands about the caller's account (profile, contacts, bot tokens) and languages: their
//! checks, and the storage operations they become.

use super::{MAX_LANGUAGE_CHARS, StorageOp};
use crate::protocol::{Command, ErrorCode};

/// Longest time zone name accepted by `update_profile`, in characters.
pub const MAX_TIMEZONE_CHARS: usize = 64;

/// Most languages a profile may list.
pub const MAX_PROFILE_LANGUAGES: usize = 100;

pub(super) type Refusal = (ErrorCode, String);

pub(super) fn invalid(message: String) -> Refusal {
    (ErrorCode::InvalidField, message)
}

/// A name (language, bot token label): trimmed, then 1 to 64 characters.
pub(super) fn label(name: &str, field: &str) -> Result<String, Refusal> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_LANGUAGE_CHARS {
        return Err(invalid(format!("{field} must be 1 to {MAX_LANGUAGE_CHARS} characters")));
    }
    Ok(name.to_owned())
}

/// A username given by the client (looked up by storage, which answers `not_found`).
fn username(name: String) -> Result<String, Refusal> {
    if name.is_empty() {
        return Err(invalid("username must not be empty".to_owned()));
    }
    Ok(name)
}

/// The storage operation of an account command of `actor`.
pub(super) fn account_op(actor: String, command: Command) -> Result<StorageOp, Refusal> {
    Ok(match command {
        Command::GetUser { username: target } => {
            StorageOp::GetUser { username: actor, target: username(target)? }
        }
        Command::UpdateProfile { timezone, languages } => {
            if let Some(timezone) = &timezone
                && timezone.chars().count() > MAX_TIMEZONE_CHARS
            {
                return Err(invalid(format!(
                    "timezone must be at most {MAX_TIMEZONE_CHARS} characters"
                )));
            }
            let languages = match languages {
                Some(names) if names.len() > MAX_PROFILE_LANGUAGES => {
                    return Err(invalid(format!(
                        "a profile lists at most {MAX_PROFILE_LANGUAGES} languages"
                    )));
                }
                Some(names) => {
                    let mut names = names
                        .iter()
                        .map(|name| label(name, "language"))
                        .collect::<Result<Vec<_>, _>>()?;
                    names.sort_unstable();
                    names.dedup();
                    Some(names)
                }
                None => None,
            };
            StorageOp::UpdateProfile { username: actor, timezone, languages }
        }
        Command::ListLanguages { after, limit } => {
            StorageOp::ListLanguages { username: actor, after, limit: super::list_page(limit)? }
        }
        Command::AddLanguage { name } => {
            StorageOp::AddLanguage { username: actor, name: label(&name, "name")? }
        }
        Command::ListContacts {} => StorageOp::ListContacts { username: actor },
        Command::AddContact { username: contact } => {
            StorageOp::AddContact { username: actor, contact: username(contact)? }
        }
        Command::RemoveContact { username: contact } => {
            StorageOp::RemoveContact { username: actor, contact: username(contact)? }
        }
        Command::ListBotTokens {} => StorageOp::ListBotTokens { username: actor },
        Command::RevokeBotToken { token_id } => {
            StorageOp::RevokeBotToken { username: actor, token: token_id }
        }
        other => {
            // `Session::handle` routes only the commands above here.
            return Err((
                ErrorCode::Internal,
                format!("internal error: {} is not an account command", other.name()),
            ));
        }
    })
}
