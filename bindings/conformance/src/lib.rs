//! Language-neutral transcript scenarios for every HelloCode SDK, and the API parity check.
//!
//! A scenario (`scenarios/*.json`, format in this crate's README) is a list of steps in which
//! named users connect, call SDK operations, expect results, errors and events, and lose their
//! connection. Each SDK language has a small runner that interprets the same files against its
//! own SDK and a real server: `tests/rust_sdk.rs` here for `hellocode-sdk`, and
//! `bindings/python/tests/test_conformance.py` for the Python package. Results and events are
//! compared in one canonical JSON shape (see the README), so every runner checks the same thing.
//!
//! This crate holds what the Rust side shares: loading and validating scenarios, `$name`
//! substitution, subset matching, and the list of SDK operations for the parity check.

#![warn(missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

/// The scenario directory.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A sentence saying what it shows.
    pub name: String,
    /// Server settings other than the defaults.
    #[serde(default)]
    pub server: ServerSettings,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// Server settings a scenario may change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Commands per second per connection.
    pub rate: Option<u32>,
    /// Burst of the rate limit.
    pub rate_burst: Option<u32>,
}

/// One step: exactly one of `connect`, `call`, `event`, `disconnect`, `reconnect`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The user acting or observing.
    pub user: String,
    /// Connect the user: `register`, `login`, `register_or_login` or `token` (the token the
    /// user's previous client was given).
    pub connect: Option<String>,
    /// The password to connect with, instead of the user's usual one.
    pub password: Option<String>,
    /// Client settings: `send_queue` (messages), `request_timeout_ms`.
    pub config: Option<Map<String, Value>>,
    /// Receive this user's events through a listener callback instead of the event stream.
    #[serde(default)]
    pub listener: bool,
    /// An SDK operation to call, by its Rust name.
    pub call: Option<String>,
    /// Its arguments, by name (see the README).
    #[serde(default)]
    pub args: Map<String, Value>,
    /// The expected result (a subset: see [`matches()`]).
    pub expect: Option<Value>,
    /// The expected error code instead of a result.
    pub error: Option<String>,
    /// With `error`: a sentence the error's text must contain (say, to show that two refusals
    /// are told alike).
    pub error_says: Option<String>,
    /// What the result must not have (see [`lacks()`]): keys of an object (each value as a
    /// string, so `"$chat.id"` names a chat in `positions`), or items of a list.
    pub lacks: Option<Vec<Value>>,
    /// Keep the result under this name, for `$name` and `$name.field` in later steps.
    pub save: Option<String>,
    /// The next event of this kind must match (events of other kinds are skipped).
    pub event: Option<Value>,
    /// Cut the user's connection and refuse new ones until `reconnect`.
    #[serde(default)]
    pub disconnect: bool,
    /// Accept the user's connections again.
    #[serde(default)]
    pub reconnect: bool,
}

impl Step {
    /// What the step does, for error messages.
    pub fn describe(&self) -> String {
        let what = if let Some(how) = &self.connect {
            format!("connect ({how})")
        } else if let Some(call) = &self.call {
            format!("call {call}")
        } else if let Some(event) = &self.event {
            format!("event {event}")
        } else if self.disconnect {
            "disconnect".to_owned()
        } else {
            "reconnect".to_owned()
        };
        format!("{}: {what}", self.user)
    }

    fn actions(&self) -> usize {
        [
            self.connect.is_some(),
            self.call.is_some(),
            self.event.is_some(),
            self.disconnect,
            self.reconnect,
        ]
        .into_iter()
        .filter(|&action| action)
        .count()
    }
}

/// Every scenario, by file name, sorted; panics with the file's name on a malformed one.
pub fn load_all() -> Vec<(String, Scenario)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("scenario directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_stem().expect("file name").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("readable scenario");
            let scenario: Scenario = serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            for (index, step) in scenario.steps.iter().enumerate() {
                assert_eq!(step.actions(), 1, "{name} step {index}: exactly one action");
                assert!(
                    step.error_says.is_none() || step.error.is_some(),
                    "{name} step {index}: error_says goes with error"
                );
                if let Some(call) = &step.call {
                    assert!(OPERATIONS.contains(&call.as_str()), "{name}: unknown call {call}");
                }
            }
            (name, scenario)
        })
        .collect()
}

/// The SDK operations a scenario may call: the public operations of the Rust `Client`, by
/// name. The parity check keeps this list, the Rust `Client` and every binding in step.
pub const OPERATIONS: &[&str] = &[
    "send",
    "send_with_client_id",
    "enqueue",
    "enqueue_with_client_id",
    "pending_sends",
    "fetch_messages",
    "history",
    "history_before",
    "create_chat",
    "chat_with",
    "list_chats",
    "add_participants",
    "create_group",
    "get_chat",
    "remove_participant",
    "leave_chat",
    "set_role",
    "update_chat",
    "delete_chat",
    "find_users",
    "typing",
    "mark_read",
    "read_positions",
    "edit_message",
    "delete_message",
    "ping",
    "positions",
    "get_user",
    "update_profile",
    "languages",
    "add_language",
    "contacts",
    "add_contact",
    "remove_contact",
    "create_bot_token",
    "bot_tokens",
    "revoke_bot_token",
    "invite",
    "invitations",
    "accept_invitation",
    "decline_invitation",
    "cancel_invitation",
    "create_invite_link",
    "invite_links",
    "revoke_invite_link",
    "join_by_link",
    "upload_attachment",
    "upload_avatar",
    "download",
    "download_thumbnail",
    "send_with_attachments",
    "set_pusher",
    "remove_pusher",
    "push_settings",
    "mute_chat",
    "close",
    "username",
    "token",
    "state",
];

/// The operations every scenario together calls (connecting and events count for `connect`,
/// `events` and `add_listener`).
pub fn covered(scenarios: &[(String, Scenario)]) -> BTreeSet<String> {
    let mut covered = BTreeSet::new();
    for (_, scenario) in scenarios {
        for step in &scenario.steps {
            if let Some(call) = &step.call {
                covered.insert(call.clone());
            }
            if step.event.is_some() {
                covered.insert("events".to_owned());
            }
            if step.listener {
                covered.insert("add_listener".to_owned());
            }
            if let Some(how) = &step.connect {
                covered.insert(format!("connect:{how}"));
            }
        }
    }
    covered
}

/// The error codes the scenarios expect.
pub fn expected_errors(scenarios: &[(String, Scenario)]) -> BTreeSet<String> {
    scenarios
        .iter()
        .flat_map(|(_, scenario)| scenario.steps.iter().filter_map(|step| step.error.clone()))
        .collect()
}

/// Replace every string `"$name"` or `"$name.field.field"` in `value` by what was saved.
pub fn substitute(value: &Value, saved: &Map<String, Value>) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) if text.starts_with('$') => {
            let mut path = text[1..].split('.');
            let name = path.next().unwrap_or_default();
            let mut found = saved.get(name).ok_or_else(|| format!("nothing saved as {name}"))?;
            for field in path {
                found = match found {
                    Value::Object(object) => object.get(field),
                    Value::Array(items) => field.parse::<usize>().ok().and_then(|i| items.get(i)),
                    _ => None,
                }
                .ok_or_else(|| format!("{text}: no field {field}"))?;
            }
            found.clone()
        }
        Value::Array(items) => Value::Array(
            items.iter().map(|item| substitute(item, saved)).collect::<Result<_, _>>()?,
        ),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, item)| Ok((key.clone(), substitute(item, saved)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Whether `actual` has everything `expected` says: objects by subset (keys not named are not
/// checked), arrays element by element and of the same length, `{"$contains": [...]}` for a
/// list holding items that match those (in any order, among others), `"*"` for any value
/// present, numbers by value.
///
/// ```
/// use hellocode_conformance::matches;
/// use serde_json::json;
///
/// let actual = json!({"author": "alice", "content": "hi", "seq": 1, "id": 77});
/// assert!(matches(&json!({"author": "alice", "seq": 1, "id": "*"}), &actual).is_ok());
/// assert!(matches(&json!({"content": "bye"}), &actual).is_err());
/// ```
pub fn matches(expected: &Value, actual: &Value) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(star), _) if star == "*" => Ok(()),
        (Value::Object(want), Value::Array(have)) if want.contains_key("$contains") => {
            let Some(Value::Array(items)) = want.get("$contains") else {
                return Err("$contains takes a list".to_owned());
            };
            for item in items {
                if !have.iter().any(|candidate| matches(item, candidate).is_ok()) {
                    return Err(format!("no item matching {item} in {actual}"));
                }
            }
            Ok(())
        }
        (Value::Object(want), Value::Object(have)) => {
            for (key, want) in want {
                let have = have.get(key).ok_or_else(|| format!("missing {key:?} in {actual}"))?;
                matches(want, have).map_err(|error| format!("{key}: {error}"))?;
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(have)) => {
            if want.len() != have.len() {
                return Err(format!("{} items expected, got {}: {actual}", want.len(), have.len()));
            }
            for (index, (want, have)) in want.iter().zip(have).enumerate() {
                matches(want, have).map_err(|error| format!("[{index}]: {error}"))?;
            }
            Ok(())
        }
        (Value::Number(want), Value::Number(have)) if want.as_f64() == have.as_f64() => Ok(()),
        (want, have) if want == have => Ok(()),
        (want, have) => Err(format!("expected {want}, got {have}")),
    }
}

/// Whether `actual` has none of `unwanted`: for an object, no key equal to an unwanted value
/// (a string as it is, a number written out); for a list, no item matching one of them (by
/// [`matches()`]).
///
/// ```
/// use hellocode_conformance::lacks;
/// use serde_json::json;
///
/// let positions = json!({"7": 3, "9": 1});
/// assert!(lacks(&[json!(8)], &positions).is_ok());
/// assert!(lacks(&[json!(9)], &positions).is_err());
/// let chats = json!([{"id": 7}, {"id": 9}]);
/// assert!(lacks(&[json!({"id": 8})], &chats).is_ok());
/// assert!(lacks(&[json!({"id": 9})], &chats).is_err());
/// ```
pub fn lacks(unwanted: &[Value], actual: &Value) -> Result<(), String> {
    for value in unwanted {
        let found = match actual {
            Value::Object(object) => {
                let key = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                object.contains_key(&key)
            }
            Value::Array(items) => items.iter().any(|item| matches(value, item).is_ok()),
            other => return Err(format!("`lacks` needs an object or a list, got {other}")),
        };
        if found {
            return Err(format!("{value} should not be in {actual}"));
        }
    }
    Ok(())
}

/// The public operations of `impl Client` blocks in the SDK's sources: every `pub fn` and
/// `pub async fn` of each `impl Client {` block, constructors excluded.
pub fn rust_client_operations(source: &str) -> BTreeSet<String> {
    let mut operations = BTreeSet::new();
    let mut rest = source;
    while let Some(start) = rest.find("\nimpl Client {") {
        let block = &rest[start..];
        // The block ends at the first line that closes an item at column 0.
        let end = block[1..].find("\n}\n").map_or(block.len(), |end| end + 1);
        operations.extend(block_operations(&block[..end]));
        rest = &block[end..];
    }
    operations
}

fn block_operations(block: &str) -> Vec<String> {
    block
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let rest =
                line.strip_prefix("pub fn ").or_else(|| line.strip_prefix("pub async fn "))?;
            let name: String =
                rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            Some(name)
        })
        .filter(|name| !name.starts_with("connect"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn substitution_reads_saved_values_and_fields() {
        let saved = json!({"chat": {"id": 7, "participants": ["alice", "bob"]}});
        let Value::Object(saved) = saved else { unreachable!() };
        let args = json!({"chat": "$chat.id", "who": "$chat.participants.1", "text": "$"});
        assert!(substitute(&args, &saved).is_err(), "a bare $ names nothing");
        let args = json!({"chat": "$chat.id", "who": "$chat.participants.1", "n": 3});
        assert_eq!(
            substitute(&args, &saved).expect("substituted"),
            json!({"chat": 7, "who": "bob", "n": 3})
        );
        assert!(substitute(&json!("$nope"), &saved).is_err());
    }

    #[test]
    fn matching_is_by_subset_and_exact_length() {
        assert!(
            matches(&json!([{"seq": 2}, {"seq": 1}]), &json!([{"seq": 2}, {"seq": 1}])).is_ok()
        );
        assert!(matches(&json!([{"seq": 2}]), &json!([{"seq": 2}, {"seq": 1}])).is_err());
        assert!(matches(&json!({"a": "*"}), &json!({"b": 1})).is_err());
        assert!(matches(&json!(null), &json!(null)).is_ok());
        assert!(matches(&json!(1), &json!(1.0)).is_ok());
        let list = json!([{"name": "C"}, {"name": "Rust"}]);
        assert!(matches(&json!({"$contains": [{"name": "Rust"}]}), &list).is_ok());
        assert!(matches(&json!({"$contains": [{"name": "Gleam"}]}), &list).is_err());
    }

    #[test]
    fn client_operations_are_read_from_the_source() {
        let source = "use x;\n\nimpl Client {\n    pub async fn connect() {}\n    pub fn send(\n    fn private() {}\n    pub fn ping(&self) {}\n}\n\nimpl Other {\n    pub fn nope() {}\n}\n\nimpl Client {\n    pub fn history(&self) {}\n}\n";
        let ops: Vec<String> = rust_client_operations(source).into_iter().collect();
        assert_eq!(ops, ["history", "ping", "send"]);
    }
}
