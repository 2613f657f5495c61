//! One flattened error for foreign languages: a class per kind of failure, each carrying the
//! SDK's stable `code` and a human-readable `detail`.

use hellocode_sdk::Error;

/// Why an operation failed. Every variant carries `code`, the SDK's stable machine code
/// (`Error::code()` in Rust: `forbidden`, `not_found`, `timeout`, ...), and `detail`, a sentence
/// for logs. Branch on the variant (the class in Kotlin, the case in Swift) or on `code`.
///
/// (The text field is not called `message`: uniffi's Kotlin exceptions already have one, and
/// theirs reads `code=..., detail=...`.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum HelloCodeError {
    /// Credentials or token refused, or registration refused (`invalid_credentials`,
    /// `invalid_token`, `username_taken`, `not_authenticated`, `already_authenticated`).
    #[error("{detail}")]
    Auth {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// Not allowed: not a participant, or someone else's message (`forbidden`,
    /// `impersonation`, `wrong_chat`).
    #[error("{detail}")]
    NotAllowed {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// No such chat, message, user or token (`not_found`).
    #[error("{detail}")]
    NotFound {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// The arguments were refused (`invalid_argument`, `invalid_field`, `missing_field`,
    /// `validation_failed`, `frame_too_large`, `too_large` (a file), `invalid_url`).
    #[error("{detail}")]
    InvalidInput {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// Too many commands; the SDK waits and retries by itself, so this is rare
    /// (`rate_limited`).
    #[error("{detail}")]
    RateLimited {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// The connection was lost before the reply of a command that is not safe to repeat
    /// (`connection_lost`): it may or may not have taken effect.
    #[error("{detail}")]
    ConnectionLost {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// The server could not be reached (`transport`).
    #[error("{detail}")]
    Transport {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// No reply within the configured request timeout (`timeout`).
    #[error("{detail}")]
    Timeout {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// The client is closed (`closed`).
    #[error("{detail}")]
    Closed {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// The send queue is full (`queue_full`).
    #[error("{detail}")]
    QueueFull {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// A queued message was not sent within the configured expiry (`expired`).
    #[error("{detail}")]
    Expired {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// The server said something this SDK does not understand, or failed itself (`protocol`,
    /// `internal`, `not_json`, `unknown_command`, ...).
    #[error("{detail}")]
    Protocol {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// A bot's position file could not be read or written (`persistence`).
    #[error("{detail}")]
    Persistence {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// The client's transport cannot do this: uploads and downloads need one with an HTTP
    /// address (`unsupported`).
    #[error("{detail}")]
    Unsupported {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
    /// Anything else: a code this version does not know, or a failure in foreign code called
    /// back by the library (`callback`, `panic`).
    #[error("{detail}")]
    Other {
        /// The SDK's error code.
        code: String,
        /// What happened, for logs.
        detail: String,
    },
}

impl HelloCodeError {
    /// The error of the class the SDK's `code` belongs to.
    pub fn from_code(code: &str, detail: impl Into<String>) -> Self {
        let (code, detail) = (code.to_owned(), detail.into());
        match code.as_str() {
            "invalid_credentials"
            | "invalid_token"
            | "username_taken"
            | "not_authenticated"
            | "already_authenticated" => HelloCodeError::Auth { code, detail },
            "forbidden" | "impersonation" | "wrong_chat" => {
                HelloCodeError::NotAllowed { code, detail }
            }
            "not_found" => HelloCodeError::NotFound { code, detail },
            "invalid_argument" | "invalid_field" | "missing_field" | "validation_failed"
            | "frame_too_large" | "too_large" | "invalid_url" => {
                HelloCodeError::InvalidInput { code, detail }
            }
            "rate_limited" => HelloCodeError::RateLimited { code, detail },
            "connection_lost" => HelloCodeError::ConnectionLost { code, detail },
            "transport" => HelloCodeError::Transport { code, detail },
            "timeout" => HelloCodeError::Timeout { code, detail },
            "closed" => HelloCodeError::Closed { code, detail },
            "queue_full" => HelloCodeError::QueueFull { code, detail },
            "expired" => HelloCodeError::Expired { code, detail },
            "protocol" | "internal" | "not_json" | "not_an_object" | "missing_command"
            | "unknown_command" => HelloCodeError::Protocol { code, detail },
            "persistence" => HelloCodeError::Persistence { code, detail },
            "unsupported" => HelloCodeError::Unsupported { code, detail },
            _ => HelloCodeError::Other { code, detail },
        }
    }

    /// The SDK's error code.
    pub fn code(&self) -> &str {
        self.parts().0
    }

    fn parts(&self) -> (&str, &str) {
        match self {
            HelloCodeError::Auth { code, detail }
            | HelloCodeError::NotAllowed { code, detail }
            | HelloCodeError::NotFound { code, detail }
            | HelloCodeError::InvalidInput { code, detail }
            | HelloCodeError::RateLimited { code, detail }
            | HelloCodeError::ConnectionLost { code, detail }
            | HelloCodeError::Transport { code, detail }
            | HelloCodeError::Timeout { code, detail }
            | HelloCodeError::Closed { code, detail }
            | HelloCodeError::QueueFull { code, detail }
            | HelloCodeError::Expired { code, detail }
            | HelloCodeError::Protocol { code, detail }
            | HelloCodeError::Persistence { code, detail }
            | HelloCodeError::Unsupported { code, detail }
            | HelloCodeError::Other { code, detail } => (code, detail),
        }
    }
}

impl From<Error> for HelloCodeError {
    fn from(error: Error) -> Self {
        HelloCodeError::from_code(error.code(), error.to_string())
    }
}

impl From<&Error> for HelloCodeError {
    fn from(error: &Error) -> Self {
        HelloCodeError::from_code(error.code(), error.to_string())
    }
}

/// A foreign callback failed with something other than a `HelloCodeError`.
impl From<uniffi::UnexpectedUniFFICallbackError> for HelloCodeError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        HelloCodeError::Other { code: "callback".to_owned(), detail: error.reason }
    }
}

/// A code and a sentence, for errors carried inside events and states.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ErrorInfo {
    /// The SDK's error code.
    pub code: String,
    /// What happened, for logs.
    pub detail: String,
}

impl From<&Error> for ErrorInfo {
    fn from(error: &Error) -> Self {
        ErrorInfo { code: error.code().to_owned(), detail: error.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sdk_errors_keep_their_code_and_get_their_class() {
        let error = HelloCodeError::from(Error::Timeout(Duration::from_secs(1)));
        assert!(matches!(error, HelloCodeError::Timeout { .. }));
        assert_eq!(error.code(), "timeout");
        assert!(matches!(HelloCodeError::from(Error::Closed), HelloCodeError::Closed { .. }));
        let unsupported = HelloCodeError::from(Error::Unsupported("no HTTP".into()));
        assert!(matches!(unsupported, HelloCodeError::Unsupported { .. }));
        let too_large = HelloCodeError::from(Error::TooLarge("11 bytes".into()));
        assert!(matches!(too_large, HelloCodeError::InvalidInput { .. }));
        let unknown = HelloCodeError::from_code("something_new", "x");
        assert!(matches!(unknown, HelloCodeError::Other { .. }));
        assert_eq!(unknown.parts(), ("something_new", "x"));
    }
}
