//! What a client reports to the application.

use std::time::Duration;

use hellocode_core::model::{Chat, ChatId, Invitation, Message, Seq};

use crate::Error;

/// One event, in the order the client saw it. The items of a chat — its posts
/// ([`Event::Message`]) and its events ([`Event::ChatEvent`]: edits, deletions, members joining,
/// leaving or removed, role changes, renames, topics) — arrive exactly once and in sequence
/// order, across reconnects.
///
/// Every subscriber ([`Client::events`](crate::Client::events), listeners) gets every event.
/// What comes when:
///
/// - A message this client sends arrives as [`Event::Message`] *before* the
///   [`send`](crate::Client::send) future resolves (the server publishes a message to the
///   chat, the sender included, before acknowledging it), and before its
///   [`SendState::Sent`] update.
/// - After a reconnect, the items missed meanwhile arrive as ordinary `Message` and `ChatEvent`
///   events (after a `Connection(Connected)`), oldest first; nothing is delivered twice.
/// - A chat the user is added to arrives as [`Event::ChatCreated`] first, then its items from
///   the start (a bot skips those unless asked to replay them).
/// - A live change of a chat's members, roles, name or topic arrives as its `ChatEvent`s, then
///   one [`Event::ChatChanged`] with the chat as it now is. A live edit or deletion arrives as
///   its `ChatEvent`, then the [`Event::Edited`] or [`Event::Deleted`] convenience.
/// - When the user leaves a chat, is removed from it, or it is deleted, the client forgets it:
///   the `ChatEvent` of the leave or removal (or [`Event::ChatDeleted`]) is the chat's last
///   event, and it is not resumed after a reconnect. A chat the user lost while the client was
///   away (removed, or deleted) is forgotten silently on reconnection: it is no longer in the
///   chat list, and the server tells a former member nothing of it.
/// - An invitation to a group arrives as [`Event::Invitation`] (pending), and again if it is
///   cancelled; accepting it (or joining by a link) brings the chat as [`Event::ChatCreated`].
///
/// ```no_run
/// # async fn run(client: hellocode_sdk::Client) {
/// use hellocode_sdk::{ConnectionState, Event};
///
/// let mut events = client.events();
/// while let Some(event) = events.recv().await {
///     match event {
///         Event::Message(message) => println!("{}: {}", message.author, message.content),
///         Event::Connection(ConnectionState::Reconnecting { delay, .. }) => {
///             println!("offline; retrying in {delay:?}")
///         }
///         _ => {}
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A new message (a post) in one of the user's chats, the client's own included: exactly
    /// once, in sequence order per chat, from the chat's newest item at connect time on.
    Message(Message),
    /// An event of one of the user's chats: every item that is not a post (`message.kind` says
    /// which: edit, delete, join, leave, remove, role, rename, topic; `target`, `member` and
    /// `role` say what it changed; `author` made the change). Exactly once, in sequence order
    /// with the chat's `Message`s, live or resumed after a reconnect, so an application that
    /// applies them keeps every chat right across disconnects.
    ChatEvent(Message),
    /// A message was edited; carries its new content. A live convenience, after the edit's
    /// [`ChatEvent`](Event::ChatEvent): an edit made while the client was disconnected comes as
    /// that `ChatEvent` only (and a resumed message carries its current content).
    Edited(Message),
    /// A message was deleted. A live convenience after the deletion's `ChatEvent`, as for
    /// edits.
    Deleted {
        /// The chat.
        chat_id: ChatId,
        /// The deleted message's sequence number.
        seq: Seq,
    },
    /// Someone else in the chat is typing (sent by their client, typically every few
    /// seconds while they type; never replayed).
    Typing {
        /// The chat.
        chat_id: ChatId,
        /// Who.
        username: String,
    },
    /// Someone has read a chat up to `seq` (a read receipt; never replayed).
    Read {
        /// The chat.
        chat_id: ChatId,
        /// Who.
        username: String,
        /// Newest sequence number read.
        seq: Seq,
    },
    /// A user who shares a chat with this one came online (their first connection) or went
    /// offline (their last one closed). Never replayed.
    Presence {
        /// The user.
        username: String,
        /// Online or not.
        online: bool,
    },
    /// Right after each (re)connection: who of the users sharing a chat with this one is
    /// online now. Everyone else is offline: this replaces whatever presence was known before
    /// (changes made while disconnected are not replayed); [`Event::Presence`] tells each
    /// later change.
    Online {
        /// The users online, by username.
        usernames: Vec<String>,
    },
    /// This user was added to a chat: one created with them, or one they were added to later,
    /// live or while the client was away. Comes before any item of that chat.
    ChatCreated(Chat),
    /// A chat's members, roles, name or topic changed: the chat as it now is, after the
    /// [`ChatEvent`](Event::ChatEvent)s that recorded the change. Live only (after a reconnect
    /// the `ChatEvent`s say what changed; `get_chat` gives the chat as it is). A user who left
    /// or was removed gets this one last time, without themselves in it.
    ChatChanged(Chat),
    /// A chat was deleted, with its history (live only). The client forgets it.
    ChatDeleted {
        /// The chat.
        chat_id: ChatId,
        /// Who deleted it (when the last member left, that member).
        by: String,
    },
    /// This user was invited to a group ([`InvitationState::Pending`]: answer it with
    /// [`Client::accept_invitation`](crate::Client::accept_invitation) or
    /// [`decline_invitation`](crate::Client::decline_invitation)), or an invitation to them was
    /// withdrawn ([`InvitationState::Cancelled`]). Live only, never replayed: invitations made
    /// while the client was away are in [`Client::invitations`](crate::Client::invitations).
    /// The invitee reads nothing of the chat until they accept.
    ///
    /// [`InvitationState::Pending`]: crate::InvitationState::Pending
    /// [`InvitationState::Cancelled`]: crate::InvitationState::Cancelled
    Invitation(Invitation),
    /// A message queued by this client changed state (the "local echo"): `Pending` when queued,
    /// then `Sent` once stored or `Failed`.
    Send(SendUpdate),
    /// The connection changed state: `Reconnecting` when lost (with the delay before the next
    /// attempt), `Connected` when back (missed messages follow), `Closed` at the end, after
    /// which the stream ends.
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
    /// The files it carries: ids of attachments uploaded to the chat
    /// ([`Client::upload_attachment`](crate::Client::upload_attachment)).
    pub attachments: Vec<String>,
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
