//! The crate's error type: what storage (and so a command) can fail with.

use crate::model::{ChatId, MediaKind, Seq};
use crate::protocol::ErrorCode;

/// A failed storage operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No chat with this id.
    #[error("chat {0} not found")]
    ChatNotFound(ChatId),
    /// No message at this position.
    #[error("message {seq} not found in chat {chat}")]
    MessageNotFound {
        /// Chat.
        chat: ChatId,
        /// Position.
        seq: Seq,
    },
    /// No user with this name.
    #[error("user {0:?} not found")]
    UserNotFound(String),
    /// No language with this name.
    #[error("language {0:?} not found")]
    LanguageNotFound(String),
    /// The user does not take part in the chat.
    #[error("{username:?} is not a participant of chat {chat}")]
    NotParticipant {
        /// Chat.
        chat: ChatId,
        /// User.
        username: String,
    },
    /// Only a message's author may change it.
    #[error("only its author may change message {seq} of chat {chat}")]
    NotAuthor {
        /// Chat.
        chat: ChatId,
        /// Message.
        seq: Seq,
    },
    /// The message was deleted and cannot be edited.
    #[error("message {seq} of chat {chat} was deleted")]
    MessageDeleted {
        /// Chat.
        chat: ChatId,
        /// Message.
        seq: Seq,
    },
    /// No bot token with this id belongs to the user.
    #[error("bot token {0} not found")]
    BotTokenNotFound(i64),
    /// The username is taken.
    #[error("username {0:?} is taken")]
    UsernameTaken(String),
    /// A read receipt for a message that does not exist yet.
    #[error("chat {chat} has no message {seq} yet")]
    ReadBeyondEnd {
        /// Chat.
        chat: ChatId,
        /// The position given.
        seq: Seq,
    },
    /// Adding participants would make the chat larger than the limit.
    #[error("chat {chat} would have {size} participants; the limit is {limit}")]
    TooManyParticipants {
        /// Chat.
        chat: ChatId,
        /// The size it would have.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The actor's role in the chat does not allow this change (say, a plain member removing
    /// someone).
    #[error("{username:?} may not {action} in chat {chat}: {reason}")]
    NotAllowed {
        /// Chat.
        chat: ChatId,
        /// Who tried.
        username: String,
        /// What they tried, e.g. `remove members`.
        action: &'static str,
        /// Why not, e.g. `only an owner or admin may`.
        reason: &'static str,
    },
    /// The change does not apply to a direct chat (its two members never change).
    #[error("chat {chat} is a direct chat: it cannot {action}; create a group instead")]
    DirectChat {
        /// Chat.
        chat: ChatId,
        /// What was tried, e.g. `gain members`.
        action: &'static str,
    },
    /// An idempotency key was given again with another command than the one it was first used
    /// for in this chat.
    #[error("clientId {client_id:?} was already used for another command in chat {chat}")]
    ClientIdReused {
        /// Chat.
        chat: ChatId,
        /// The key.
        client_id: String,
    },
    /// The user named is not a member of the chat.
    #[error("{username:?} is not a member of chat {chat}")]
    NotMember {
        /// Chat.
        chat: ChatId,
        /// Who.
        username: String,
    },
    /// The user is a member of the chat already (so cannot be invited or join it).
    #[error("{username:?} is already a member of chat {chat}")]
    AlreadyMember {
        /// Chat.
        chat: ChatId,
        /// Who.
        username: String,
    },
    /// No pending invitation with this id is addressed to (or, to cancel it, manageable by) the
    /// user: it does not exist, was answered or cancelled, or its chat is gone. One answer for
    /// all, so that ids reveal nothing.
    #[error("invitation {0} not found or no longer pending")]
    InvitationNotFound(i64),
    /// The invite link is unknown, revoked, expired or used up: one answer for all, that tells
    /// the holder nothing of the chat.
    #[error("invite link not found or no longer valid")]
    InviteLinkNotFound,
    /// A text field breaks the rules of [`crate::text`] (U+0000, too long).
    #[error("field {field:?} {problem}")]
    InvalidText {
        /// The field's wire name (or path in a body).
        field: String,
        /// What is wrong.
        problem: crate::text::TextProblem,
    },
    /// A media record that breaks the rules of its kind: an attachment is shared in a chat, an
    /// avatar in none.
    #[error("{} media {problem}", .kind.as_str())]
    InvalidMedia {
        /// The record's kind.
        kind: MediaKind,
        /// What is wrong, e.g. `needs a chat`.
        problem: &'static str,
    },
    /// A user has as many pushers as allowed; remove one first.
    #[error("{username} has {max} pushers already; remove one first")]
    TooManyPushers {
        /// Whose.
        username: String,
        /// The most allowed.
        max: usize,
    },
    /// The database failed (connection, constraint, I/O). Details stay in the server's logs.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database cannot be reached (no connection within the pool's timeout, connection
    /// lost). Details stay in the server's logs.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// The error code a client sees.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::ChatNotFound(_)
            | Error::MessageNotFound { .. }
            | Error::UserNotFound(_)
            | Error::LanguageNotFound(_)
            | Error::BotTokenNotFound(_)
            | Error::NotMember { .. }
            | Error::InvitationNotFound(_)
            | Error::InviteLinkNotFound => ErrorCode::NotFound,
            Error::NotParticipant { .. } | Error::NotAuthor { .. } | Error::NotAllowed { .. } => {
                ErrorCode::Forbidden
            }
            Error::MessageDeleted { .. }
            | Error::DirectChat { .. }
            | Error::ClientIdReused { .. }
            | Error::ReadBeyondEnd { .. }
            | Error::TooManyParticipants { .. }
            | Error::AlreadyMember { .. }
            | Error::InvalidText { .. }
            | Error::InvalidMedia { .. }
            | Error::TooManyPushers { .. } => ErrorCode::InvalidField,
            Error::UsernameTaken(_) => ErrorCode::UsernameTaken,
            Error::Database(_) => ErrorCode::Internal,
            Error::Unavailable(_) => ErrorCode::Unavailable,
        }
    }

    /// The message a client sees: the error itself, except that database details are hidden.
    pub fn client_message(&self) -> String {
        match self {
            Error::Database(_) => "storage failure; retry later".to_owned(),
            Error::Unavailable(_) => "the database is unavailable; retry later".to_owned(),
            other => other.to_string(),
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        // Failures to reach the database, as opposed to failures of a statement.
        if matches!(
            err,
            sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed
        ) {
            Error::Unavailable(Box::new(err))
        } else {
            Error::Database(Box::new(err))
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::migrate::MigrateError> for Error {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Error::Database(Box::new(err))
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
