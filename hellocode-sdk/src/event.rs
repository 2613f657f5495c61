//! What a client reports to the application.

use std::time::Duration;

use hellocode_core::model::{Chat, ChatId, Message, Seq};

use crate::Error;

/// One event, in the order the client saw it. Messages of a chat arrive exactly once and in
/// sequence order, across reconnects.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A new message (the client's own included).
    Message(Message),
    /// A message was edited; carries its new content.
    Edited(Message),
    /// A message was deleted.
    Deleted {
        /// The chat.
        chat_id: ChatId,
        /// The deleted message's sequence number.
        seq: Seq,
    },
    /// Someone is typing.
    Typing {
        /// The chat.
        chat_id: ChatId,
        /// Who.
        username: String,
    },
    /// Someone has read a chat up to `seq`.
    Read {
        /// The chat.
        chat_id: ChatId,
        /// Who.
        username: String,
        /// Newest sequence number read.
        seq: Seq,
    },
    /// A user who shares a chat with this one came online or went offline.
    Presence {
        /// The user.
        username: String,
        /// Online or not.
        online: bool,
    },
    /// This user was added to a new chat.
    ChatCreated(Chat),
    /// A queued message changed state (the "local echo").
    Send(SendUpdate),
    /// The connection changed state.
    Connection(ConnectionState),
}

/// The connection's state.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Connected and authenticated.
    Connected {
        /// The authenticated user.
        username: String,
    },
    /// The connection was lost; the next attempt starts after `delay`.
    Reconnecting {
        /// Attempt number (1 for the first retry).
        attempt: u32,
        /// Wait before the attempt.
        delay: Duration,
        /// Why the last connection or attempt failed.
        error: Error,
    },
    /// The client stopped: closed by the application, credentials refused, or reconnection
    /// given up.
    Closed {
        /// Why, unless the application closed it.
        error: Option<Error>,
    },
}

/// A message handed to the send queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSend {
    /// The idempotency key sent with every attempt; the server stores the message once.
    pub client_id: String,
    /// The chat.
    pub chat_id: ChatId,
    /// The text.
    pub content: String,
}

/// A queued message's new state.
#[derive(Debug, Clone, PartialEq)]
pub struct SendUpdate {
    /// Which message (its `PendingSend::client_id`).
    pub client_id: String,
    /// The chat.
    pub chat_id: ChatId,
    /// The new state.
    pub state: SendState,
}

/// Where a queued message is.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SendState {
    /// Queued, or on the wire awaiting its acknowledgement.
    Pending,
    /// Committed by the server (the stored message, with its sequence number).
    Sent(Message),
    /// Given up: refused by the server, expired, or the client closed first.
    Failed(Error),
}
