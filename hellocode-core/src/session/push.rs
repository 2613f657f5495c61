//! Commands about the caller's push notifications (pushers, muted chats): their checks, and
//! the storage operations they become. `mute_chat` names a chat, so the session routes it
//! itself (a chat-bound connection's rule applies).

use super::StorageOp;
use super::accounts::{Refusal, invalid};
use crate::model::{NewPusher, Timestamp};
use crate::protocol::{Command, ErrorCode};

/// The storage operation of a pusher command of `actor`.
pub(super) fn pusher_op(
    actor: String,
    command: Command,
    now: Timestamp,
) -> Result<StorageOp, Refusal> {
    Ok(match command {
        Command::SetPusher { app_id, pushkey, url, device_name, lang, previews } => {
            let pusher = NewPusher {
                app_id,
                pushkey,
                url,
                device_name: device_name.unwrap_or_default().trim().to_owned(),
                lang: lang.unwrap_or_default().trim().to_owned(),
                previews: previews.unwrap_or(true),
                at: now,
            };
            pusher.check().map_err(invalid)?;
            StorageOp::SetPusher { username: actor, pusher }
        }
        Command::RemovePusher { app_id, pushkey } => {
            if app_id.is_empty() || pushkey.is_empty() {
                return Err(invalid("appId and pushkey must not be empty".to_owned()));
            }
            StorageOp::RemovePusher { username: actor, app_id, pushkey }
        }
        Command::GetPushSettings {} => StorageOp::GetPushSettings { username: actor },
        other => {
            // `Session::handle` routes only the commands above here.
            return Err((
                ErrorCode::Internal,
                format!("internal error: {} is not a pusher command", other.name()),
            ));
        }
    })
}
