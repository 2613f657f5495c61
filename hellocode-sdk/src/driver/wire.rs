//! Commands as they go on the wire, and the paged list commands.
//!
//! `list_chats`, `list_languages`, `find_users`, `list_invitations` and `list_invite_links` take
//! `after` and `limit` (agreed protocol: at most 500 items a page, ordered by chat id / language
//! name / username / invitation id / link id; a full page may have a successor). The first two
//! are written as JSON objects here rather than through the core's `Command`, so that the SDK
//! speaks the paged form whatever fields the core's types carry.

use hellocode_core::model::ChatId;
use hellocode_core::protocol::{ClientFrame, Command};
use serde_json::{Map, Value, json};

/// The server's largest (and default) page of `list_chats` and `list_languages`.
pub(crate) const LIST_PAGE: usize = 500;

/// A command for the wire.
#[derive(Debug, Clone)]
pub(crate) enum Wire {
    /// A typed command of the core.
    Command(Command),
    /// A command object built here (see the module's documentation).
    Json(Map<String, Value>),
}

impl From<Command> for Wire {
    fn from(command: Command) -> Self {
        Wire::Command(command)
    }
}

/// One page of `list_chats`: the chats after `after` (by id).
pub(crate) fn list_chats(after: Option<ChatId>) -> Wire {
    paged("list_chats", after.map(|chat| json!(chat.0)))
}

/// One page of `list_languages`: the languages after `after` (by name).
pub(crate) fn list_languages(after: Option<String>) -> Wire {
    paged("list_languages", after.map(Value::String))
}

/// One page of `find_users`: the users interested in `language` after `after` (by username).
pub(crate) fn find_users(language: String, after: Option<String>) -> Wire {
    let limit = Some(LIST_PAGE as u32);
    Wire::Command(Command::FindUsers { language, after, limit })
}

/// One page of `list_invitations`: the caller's pending invitations after `after` (by id).
pub(crate) fn list_invitations(after: Option<i64>) -> Wire {
    Wire::Command(Command::ListInvitations { after, limit: Some(LIST_PAGE as u32) })
}

/// One page of `list_invite_links`: the links of `chat` after `after` (by id).
pub(crate) fn list_invite_links(chat: ChatId, after: Option<i64>) -> Wire {
    let limit = Some(LIST_PAGE as u32);
    Wire::Command(Command::ListInviteLinks { chat_id: Some(chat), after, limit })
}

fn paged(command: &str, after: Option<Value>) -> Wire {
    let mut object = Map::new();
    object.insert("command".into(), json!(command));
    if let Some(after) = after {
        object.insert("after".into(), after);
    }
    object.insert("limit".into(), json!(LIST_PAGE));
    Wire::Json(object)
}

/// Add one page to the items gathered so far; the `after` of the next page to ask for, or
/// `None` when this was the last one: shorter than a full page, or a repeat of the first page
/// (a server that ignores `after` would otherwise be asked forever).
pub(crate) fn absorb<T, K: PartialEq>(
    all: &mut Vec<T>,
    page: Vec<T>,
    key: impl Fn(&T) -> K,
) -> Option<K> {
    if !all.is_empty() && page.first().map(&key) == all.first().map(&key) {
        return None;
    }
    let full = page.len() >= LIST_PAGE;
    all.extend(page);
    if full { all.last().map(key) } else { None }
}

/// The frame text of a command with request id `id`.
pub(crate) fn encode(id: i64, wire: Wire) -> String {
    // Serializing these types cannot fail (string keys, no failing `Serialize` impls).
    match wire {
        Wire::Command(command) => {
            serde_json::to_string(&ClientFrame::with_id(id, command)).unwrap_or_default()
        }
        Wire::Json(mut object) => {
            object.insert("id".into(), json!(id));
            Value::Object(object).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_end_when_short_or_repeated() {
        let mut all = Vec::new();
        let full: Vec<i64> = (1..=LIST_PAGE as i64).collect();
        assert_eq!(absorb(&mut all, full.clone(), |n| *n), Some(LIST_PAGE as i64));
        assert_eq!(absorb(&mut all, full, |n| *n), None, "a server ignoring `after`");
        assert_eq!(all.len(), LIST_PAGE);
        assert_eq!(absorb(&mut all, vec![501, 502], |n| *n), None);
        assert_eq!(all.len(), LIST_PAGE + 2);
    }

    #[test]
    fn paged_commands_carry_after_and_limit() {
        let text = encode(3, list_chats(Some(ChatId(9))));
        let value: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value, json!({"command": "list_chats", "after": 9, "limit": 500, "id": 3}));
        let text = encode(4, list_languages(None));
        let value: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value, json!({"command": "list_languages", "limit": 500, "id": 4}));
        let text = encode(5, list_invitations(Some(12)));
        let value: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            value,
            json!({"command": "list_invitations", "after": 12, "limit": 500, "id": 5})
        );
        let text = encode(6, list_invite_links(ChatId(9), None));
        let value: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            value,
            json!({"command": "list_invite_links", "chatId": 9, "limit": 500, "id": 6})
        );
    }
}
