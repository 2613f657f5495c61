//! Machine-readable error codes carried by error frames.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a command was refused. Stable: clients match on these strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not valid JSON (or nests deeper than allowed).
    NotJson,
    /// The frame is JSON but not an object.
    NotAnObject,
    /// The frame exceeds the size limit.
    FrameTooLarge,
    /// The `command` field is missing.
    MissingCommand,
    /// The `command` names no known command.
    UnknownCommand,
    /// A required field is missing.
    MissingField,
    /// A field has the wrong type or an invalid value.
    InvalidField,
    /// The command needs an authenticated connection.
    NotAuthenticated,
    /// The connection is already authenticated.
    AlreadyAuthenticated,
    /// Username or password is wrong.
    InvalidCredentials,
    /// The token is malformed, forged, expired or revoked.
    InvalidToken,
    /// Registration input is invalid (see the message).
    ValidationFailed,
    /// The username is taken.
    UsernameTaken,
    /// The caller may not do this (not a participant, not the author).
    Forbidden,
    /// A `from` field names someone other than the authenticated user.
    Impersonation,
    /// The chat, message or user does not exist.
    NotFound,
    /// This connection is bound to another chat.
    WrongChat,
    /// Too many commands; retry later.
    RateLimited,
    /// The server failed; retrying may help.
    Internal,
    /// A service the server needs (its database) is unreachable; retry later.
    Unavailable,
}

impl ErrorCode {
    /// The wire string, e.g. `"not_json"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotJson => "not_json",
            ErrorCode::NotAnObject => "not_an_object",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::MissingCommand => "missing_command",
            ErrorCode::UnknownCommand => "unknown_command",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::AlreadyAuthenticated => "already_authenticated",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Impersonation => "impersonation",
            ErrorCode::NotFound => "not_found",
            ErrorCode::WrongChat => "wrong_chat",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
        }
    }

    /// Every code, for documentation checks.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::NotJson,
        ErrorCode::NotAnObject,
        ErrorCode::FrameTooLarge,
        ErrorCode::MissingCommand,
        ErrorCode::UnknownCommand,
        ErrorCode::MissingField,
        ErrorCode::InvalidField,
        ErrorCode::NotAuthenticated,
        ErrorCode::AlreadyAuthenticated,
        ErrorCode::InvalidCredentials,
        ErrorCode::InvalidToken,
        ErrorCode::ValidationFailed,
        ErrorCode::UsernameTaken,
        ErrorCode::Forbidden,
        ErrorCode::Impersonation,
        ErrorCode::NotFound,
        ErrorCode::WrongChat,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
    ];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn wire_names_match_as_str() {
        for code in ErrorCode::ALL {
            let wire = serde_json::to_value(code).expect("serializes");
            assert_eq!(wire, code.as_str());
            let back: ErrorCode = serde_json::from_value(wire).expect("deserializes");
            assert_eq!(back, *code);
        }
    }
}
