//! The one rule set for text a client sends, applied at the edge (the session for every
//! command, the REST layer for every body) so that every backend answers alike.
//!
//! No text field may hold U+0000: Postgres text cannot store it, so letting it through made a
//! storage error (`internal`) of a client's mistake, and failed other users' appends committed in
//! the same batch. Fields with no other bound get a length cap here.
//!
//! ```
//! use hellocode_core::{text, Error};
//!
//! assert!(text::check("email", "ada@example.org", text::MAX_EMAIL_CHARS).is_ok());
//! let err = text::check("email", "a\u{0}b@example.org", text::MAX_EMAIL_CHARS).unwrap_err();
//! assert_eq!(err.to_string(), r#"field "email" must not contain U+0000"#);
//! ```

use std::fmt;

use serde_json::Value;

use crate::Error;

/// Longest username given anywhere (login, profile, contact, participant), in characters.
pub const MAX_USERNAME_CHARS: usize = 150;
/// Longest email address, in characters.
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest password, in characters (a hash input, never stored).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// Longest token (JWT or bot token), in characters.
pub const MAX_TOKEN_CHARS: usize = 4096;
/// Longest avatar URL, in characters.
pub const MAX_AVATAR_CHARS: usize = 2048;
/// Longest name-like field (language, bot token label) before trimming, in characters. The
/// trimmed name is held to 64 by the command's own check.
pub const MAX_LABEL_CHARS: usize = 256;

/// What is wrong with a text field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextProblem {
    /// It contains U+0000.
    Nul,
    /// It is longer than this many characters.
    TooLong(usize),
}

impl fmt::Display for TextProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextProblem::Nul => f.write_str("must not contain U+0000"),
            TextProblem::TooLong(max) => write!(f, "must be at most {max} characters"),
        }
    }
}

/// `Ok` if `value` holds no U+0000 and at most `max_chars` characters; else
/// [`Error::InvalidText`] naming `field`.
pub fn check(field: &str, value: &str, max_chars: usize) -> Result<(), Error> {
    let problem = if value.contains('\0') {
        TextProblem::Nul
    } else if value.len() > max_chars && value.chars().count() > max_chars {
        // `len` bounds the count from above: most values skip the count.
        TextProblem::TooLong(max_chars)
    } else {
        return Ok(());
    };
    Err(Error::InvalidText { field: field.to_owned(), problem })
}

/// [`check`] for every item of a list field.
pub fn check_all<'a>(
    field: &str,
    values: impl IntoIterator<Item = &'a String>,
    max_chars: usize,
) -> Result<(), Error> {
    values.into_iter().try_for_each(|value| check(field, value, max_chars))
}

/// The first string in a JSON document (keys included) that holds U+0000, as
/// [`Error::InvalidText`] naming its path (`languages[2]`, `user.name`). For request bodies
/// read as a whole: one walk covers every field of every route.
pub fn check_json(value: &Value) -> Result<(), Error> {
    match find_nul(value, String::new()) {
        None => Ok(()),
        Some(path) => Err(Error::InvalidText { field: path, problem: TextProblem::Nul }),
    }
}

fn find_nul(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(text) => text.contains('\0').then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| find_nul(item, format!("{path}[{index}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if key.contains('\0') { Some(path) } else { find_nul(item, path) }
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn refuses_nul_and_overlong_text() {
        assert!(check("name", "rust", 4).is_ok());
        assert!(check("name", "été", 3).is_ok());
        let err = check("name", "a\0", 10).unwrap_err();
        assert!(matches!(err, Error::InvalidText { problem: TextProblem::Nul, .. }));
        let err = check("name", "rusty", 4).unwrap_err();
        assert_eq!(err.to_string(), r#"field "name" must be at most 4 characters"#);
        assert_eq!(err.code(), crate::protocol::ErrorCode::InvalidField);
    }

    #[test]
    fn json_walk_names_the_field() {
        assert!(check_json(&json!({"a": ["x", {"b": "y"}], "n": 1})).is_ok());
        let err = check_json(&json!({"a": ["x", {"b": "y\u{0}"}]})).unwrap_err();
        assert_eq!(err.to_string(), r#"field "a[1].b" must not contain U+0000"#);
        let err = check_json(&json!({"k\u{0}": 1})).unwrap_err();
        assert!(matches!(err, Error::InvalidText { problem: TextProblem::Nul, .. }));
    }
}
