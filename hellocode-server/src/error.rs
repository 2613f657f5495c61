//! The server's error type.

use std::collections::BTreeMap;

use hellocode_core::protocol::{ErrorCode, ServerFrame};

/// Per-field validation messages, as the original app returned them: `{field: [messages]}`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// What can go wrong in the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A storage operation failed.
    #[error(transparent)]
    Storage(#[from] hellocode_core::Error),
    /// Username or password is wrong (deliberately not saying which).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// A token is malformed, forged, expired or revoked.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// Registration or profile input is invalid.
    #[error("invalid input")]
    Validation(FieldErrors),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts (per address or username), or the password hashing queue is full.
    #[error("too many attempts; retry in {} s", crate::rate_limit::retry_after_secs(*retry_after))]
    RateLimited {
        /// How long to wait before retrying.
        retry_after: std::time::Duration,
    },
    /// Hashing a password failed.
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// An I/O error (binding the socket, the data directory, the secret file).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The protocol error code a client sees.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Storage(err) => err.code(),
            Error::InvalidCredentials => ErrorCode::InvalidCredentials,
            Error::InvalidToken(_) => ErrorCode::InvalidToken,
            Error::Validation(fields) if is_taken(fields) => ErrorCode::UsernameTaken,
            Error::Validation(_) => ErrorCode::ValidationFailed,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::PasswordHash(_) | Error::Config(_) | Error::Io(_) => ErrorCode::Internal,
        }
    }

    /// Whole seconds to wait before retrying, for a rate-limited request.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::RateLimited { retry_after } => {
                Some(crate::rate_limit::retry_after_secs(*retry_after))
            }
            _ => None,
        }
    }

    /// The error frame of this error, answering request `id`.
    pub fn to_frame(&self, id: Option<hellocode_core::protocol::RequestId>) -> ServerFrame {
        match self.retry_after() {
            Some(secs) => ServerFrame::rate_limited(id, self.client_message(), secs),
            None => ServerFrame::error(id, self.code(), self.client_message()),
        }
    }

    /// The message a client sees: internal details stay in the logs.
    pub fn client_message(&self) -> String {
        match self {
            Error::Storage(err) => err.client_message(),
            Error::Validation(fields) => fields
                .iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
                .collect::<Vec<_>>()
                .join("; "),
            Error::PasswordHash(_) | Error::Config(_) | Error::Io(_) => {
                "internal error; retry later".to_owned()
            }
            other => other.to_string(),
        }
    }
}

/// The validation message for a taken username; also how `code()` recognizes that case.
pub(crate) const USERNAME_TAKEN: &str = "A user with that username already exists.";

fn is_taken(fields: &FieldErrors) -> bool {
    fields.len() == 1
        && fields.get("username").is_some_and(|messages| messages == &[USERNAME_TAKEN])
}

/// `Result` with the server's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
