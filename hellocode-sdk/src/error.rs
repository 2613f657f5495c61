//! The SDK's one error type, with stable machine-readable codes for bindings.

use std::time::Duration;

use hellocode_core::protocol::ErrorCode;

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the SDK. [`Error::code`] gives a stable string per kind
/// (for the server's refusals, the server's own code), which is what bindings expose.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server address is not a usable `ws://` or `wss://` URL.
    #[error("invalid server url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The transport failed to connect, or the connection broke.
    #[error("transport error: {0}")]
    Transport(String),
    /// No reply came within the configured time.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The server refused the command.
    #[error("refused by the server ({code}): {message}")]
    Server {
        /// The server's machine-readable code.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The connection was lost after the command was sent and before its reply: it may or may
    /// not have taken effect. (Commands that are safe to repeat are resent instead.)
    #[error(
        "the connection was lost before the reply; the command may or may not have taken effect"
    )]
    ConnectionLost,
    /// The client was closed, or gave up reconnecting.
    #[error("the client is closed")]
    Closed,
    /// The send queue is full; wait for queued messages to be sent.
    #[error("the send queue is full ({0} messages waiting)")]
    QueueFull(usize),
    /// An argument the server would refuse (a message too long, an empty client id).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A queued message was not sent within the configured expiry.
    #[error("the message was not sent within {0:?}")]
    Expired(Duration),
    /// The server sent something the SDK did not expect (a reply of the wrong kind).
    #[error("unexpected reply from the server: {0}")]
    Protocol(String),
    /// A bot's position store could not be read or written.
    #[error("position store: {0}")]
    Persistence(String),
    /// A file is too large: an upload the server refused (HTTP 413), or a download beyond
    /// `ClientConfig::max_download_bytes`.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The operation needs something this client's transport does not offer (uploads and
    /// downloads need a transport with an HTTP address; the in-process one has none).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    /// A stable code for the kind of error: `invalid_url`, `transport`, `timeout`,
    /// `connection_lost`, `closed`, `queue_full`, `invalid_argument`, `expired`, `protocol`,
    /// `persistence`, `too_large`, `unsupported`, or the server's code
    /// (`forbidden`, `invalid_credentials`, `rate_limited`, ... see `docs/PROTOCOL.md`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidUrl { .. } => "invalid_url",
            Error::Transport(_) => "transport",
            Error::Timeout(_) => "timeout",
            Error::Server { code, .. } => code.as_str(),
            Error::ConnectionLost => "connection_lost",
            Error::Closed => "closed",
            Error::QueueFull(_) => "queue_full",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::Expired(_) => "expired",
            Error::Protocol(_) => "protocol",
            Error::Persistence(_) => "persistence",
            Error::TooLarge(_) => "too_large",
            Error::Unsupported(_) => "unsupported",
        }
    }

    /// The server's code, when the server refused the command.
    pub fn server_code(&self) -> Option<ErrorCode> {
        match self {
            Error::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn server(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Server { code, message: message.into() }
    }

    /// Whether the server's refusal is about credentials (retrying with them cannot help).
    pub(crate) fn is_auth_failure(&self) -> bool {
        matches!(
            self.server_code(),
            Some(
                ErrorCode::InvalidCredentials
                    | ErrorCode::InvalidToken
                    | ErrorCode::ValidationFailed
                    | ErrorCode::UsernameTaken
            )
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_strings() {
        assert_eq!(Error::Timeout(Duration::from_secs(1)).code(), "timeout");
        assert_eq!(Error::server(ErrorCode::Forbidden, "no").code(), "forbidden");
        assert_eq!(Error::QueueFull(3).code(), "queue_full");
        assert_eq!(Error::ConnectionLost.code(), "connection_lost");
        assert_eq!(Error::TooLarge("11 bytes".into()).code(), "too_large");
        assert_eq!(Error::Unsupported("no HTTP".into()).code(), "unsupported");
        assert!(Error::server(ErrorCode::InvalidToken, "x").is_auth_failure());
        assert!(!Error::server(ErrorCode::RateLimited, "x").is_auth_failure());
    }
}
