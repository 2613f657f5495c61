//! Frames the server sends: direct replies (carrying the request's `id`), pushed events, errors.

use serde::{Deserialize, Serialize};

use super::{ErrorCode, RequestId};
use crate::model::{
    BotToken, Chat, ChatId, Invitation, InviteLink, Language, Message, PushSettings, ReadPosition,
    Seq, User,
};

/// One server frame. Replies carry the `id` of the request they answer; events carry none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerFrame {
    // ---- replies ----
    /// Reply to `auth`, `login` and `register`: the connection is now authenticated.
    Authenticated {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The authenticated user.
        username: String,
        /// A fresh token, for `login` and `register`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The protocol version the server will speak on this connection: the client's, up to
        /// the server's [`PROTOCOL_VERSION`](super::PROTOCOL_VERSION) (absent from servers
        /// older than version 2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<u32>,
    },
    /// Reply to `fetch_messages`: a page of history, newest first.
    Messages {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The chat.
        #[serde(rename = "chatId")]
        chat_id: ChatId,
        /// The messages, newest first.
        messages: Vec<Message>,
    },
    /// Reply to `resume`: what the client missed, oldest first.
    Resumed {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The chat.
        #[serde(rename = "chatId")]
        chat_id: ChatId,
        /// Messages after `since`, oldest first.
        messages: Vec<Message>,
        /// Whether more messages follow: resume again from the last one here.
        more: bool,
    },
    /// Reply to `new_message` and `edit_message`: the message as committed.
    Ack {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The stored message.
        message: Message,
    },
    /// Reply to `create_chat` and `add_participants`.
    Chat {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The new chat.
        chat: Chat,
    },
    /// Reply to `list_chats`.
    Chats {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The caller's chats.
        chats: Vec<Chat>,
    },
    /// Reply to `find_users`: the users interested in a language.
    Users {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The language asked for, as given (trimmed).
        language: String,
        /// The users, by username (empty for a language no one chose or no one knows).
        users: Vec<User>,
    },
    /// Reply to `get_user` and `update_profile`: a user's public profile.
    User {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The user.
        user: User,
    },
    /// Reply to `list_languages`: every language, by name.
    Languages {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The languages.
        languages: Vec<Language>,
    },
    /// Reply to `add_language`.
    Language {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The language, new or existing.
        language: Language,
    },
    /// Reply to `list_contacts`, `add_contact` and `remove_contact`: the caller's contacts.
    Contacts {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// Their usernames, sorted.
        contacts: Vec<String>,
    },
    /// Reply to `create_bot_token`: the token, shown this once.
    BotToken {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The token's id, to revoke it.
        #[serde(rename = "tokenId")]
        token_id: i64,
        /// Its label, trimmed.
        name: String,
        /// The token itself: authenticate with it (`auth`, `?token=`, `Bearer`).
        token: String,
    },
    /// Reply to `list_bot_tokens`.
    BotTokens {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The caller's tokens by id, revoked ones included (never the secrets).
        tokens: Vec<BotToken>,
    },
    /// Reply to `invite`: the pending invitation. Also an event, to every connection of the
    /// invitee (who is not a member), when they are invited and when the invitation is
    /// cancelled (`state` says which).
    Invitation {
        /// Request id (none on the event).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The invitation.
        invitation: Invitation,
    },
    /// Reply to `list_invitations`: the caller's pending invitations, by id.
    Invitations {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The invitations.
        invitations: Vec<Invitation>,
    },
    /// Reply to `create_invite_link`: the link, and its token, shown this once.
    InviteLink {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The link.
        link: InviteLink,
        /// The secret that joins the group (`join_by_link`); stored nowhere.
        token: String,
    },
    /// Reply to `list_invite_links`: a group's links by id (never the tokens).
    InviteLinks {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The chat.
        #[serde(rename = "chatId")]
        chat_id: ChatId,
        /// The links, revoked, expired and used-up ones included.
        links: Vec<InviteLink>,
    },
    /// Reply to `get_read_positions`: how far each member of a chat has read.
    ReadPositions {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The chat.
        #[serde(rename = "chatId")]
        chat_id: ChatId,
        /// One per member, by username (`seq` 0: nothing read yet).
        positions: Vec<ReadPosition>,
    },
    /// Reply to `set_pusher`, `remove_pusher`, `get_push_settings` and `mute_chat`: the
    /// caller's pushers and muted chats.
    PushSettings {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The settings.
        #[serde(flatten)]
        settings: PushSettings,
    },
    /// Reply to `typing`, `read`, `delete_message`, `revoke_bot_token`, `decline_invitation`,
    /// `cancel_invitation` and `revoke_invite_link`: done.
    Ok {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
    },
    /// Reply to `ping`.
    Pong {
        /// Request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
    },
    /// The command was refused; the connection stays usable.
    Error {
        /// Request id, when the frame had a readable one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// Machine-readable code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
        /// For `rate_limited`: whole seconds after which a retry may succeed (clients ignore
        /// it if they do not know it).
        #[serde(rename = "retryAfter", default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },

    // ---- events ----
    /// A message was posted (sent to every participant, the author included).
    NewMessage {
        /// The stored message.
        message: Message,
    },
    /// A message was edited.
    MessageEdited {
        /// The message with its new content.
        message: Message,
        /// The `edit` event that recorded it, with its own sequence number (absent from servers
        /// older than protocol version 2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<Message>,
    },
    /// A message was deleted.
    MessageDeleted {
        /// The chat.
        #[serde(rename = "chatId")]
        chat_id: ChatId,
        /// Sequence number of the deleted message.
        seq: Seq,
        /// The `delete` event that recorded it (absent from servers older than version 2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<Message>,
    },
    /// A chat's members, roles, name or topic changed: sent to its members, and to those it
    /// removed (their last event of the chat).
    ChatChanged {
        /// The chat as it now is.
        chat: Chat,
        /// The events that recorded the change, in sequence order.
        events: Vec<Message>,
    },
    /// A chat was deleted: sent to everyone who was in it.
    ChatDeleted {
        /// The chat.
        #[serde(rename = "chatId")]
        chat_id: ChatId,
        /// Who deleted it.
        by: String,
    },
    /// A participant is typing.
    Typing {
        /// The chat.
        #[serde(rename = "chatId")]
        chat_id: ChatId,
        /// Who is typing.
        username: String,
    },
    /// A participant has read up to `seq`.
    Read {
        /// The chat.
        #[serde(rename = "chatId")]
        chat_id: ChatId,
        /// The reader.
        username: String,
        /// Newest sequence number read.
        seq: Seq,
    },
    /// A user who shares a chat with the recipient came online or went offline.
    Presence {
        /// The user.
        username: String,
        /// Whether at least one of the user's connections is open.
        online: bool,
    },
    /// Sent once on an all-chats connection of protocol version 2, right after it is
    /// authenticated: who of those sharing a chat with the recipient is online now. Everyone
    /// else is offline (an earlier `presence` event is superseded); `presence` events after it
    /// tell each later change.
    Online {
        /// The users online, by username.
        usernames: Vec<String>,
    },
    /// The recipient was added to a new chat.
    ChatCreated {
        /// The chat.
        chat: Chat,
    },
}

impl ServerFrame {
    /// The wire name of the frame, e.g. `"new_message"`.
    pub fn name(&self) -> &'static str {
        match self {
            ServerFrame::Authenticated { .. } => "authenticated",
            ServerFrame::Messages { .. } => "messages",
            ServerFrame::Resumed { .. } => "resumed",
            ServerFrame::Ack { .. } => "ack",
            ServerFrame::Chat { .. } => "chat",
            ServerFrame::Chats { .. } => "chats",
            ServerFrame::Users { .. } => "users",
            ServerFrame::User { .. } => "user",
            ServerFrame::Languages { .. } => "languages",
            ServerFrame::Language { .. } => "language",
            ServerFrame::Contacts { .. } => "contacts",
            ServerFrame::BotToken { .. } => "bot_token",
            ServerFrame::BotTokens { .. } => "bot_tokens",
            ServerFrame::Invitation { .. } => "invitation",
            ServerFrame::Invitations { .. } => "invitations",
            ServerFrame::InviteLink { .. } => "invite_link",
            ServerFrame::InviteLinks { .. } => "invite_links",
            ServerFrame::ReadPositions { .. } => "read_positions",
            ServerFrame::PushSettings { .. } => "push_settings",
            ServerFrame::Ok { .. } => "ok",
            ServerFrame::Pong { .. } => "pong",
            ServerFrame::Error { .. } => "error",
            ServerFrame::NewMessage { .. } => "new_message",
            ServerFrame::MessageEdited { .. } => "message_edited",
            ServerFrame::MessageDeleted { .. } => "message_deleted",
            ServerFrame::Typing { .. } => "typing",
            ServerFrame::Read { .. } => "read",
            ServerFrame::Presence { .. } => "presence",
            ServerFrame::Online { .. } => "online",
            ServerFrame::ChatCreated { .. } => "chat_created",
            ServerFrame::ChatChanged { .. } => "chat_changed",
            ServerFrame::ChatDeleted { .. } => "chat_deleted",
        }
    }

    /// Every frame name (kept beside [`name`](Self::name), whose match is exhaustive).
    pub const NAMES: &'static [&'static str] = &[
        "authenticated",
        "messages",
        "resumed",
        "ack",
        "chat",
        "chats",
        "users",
        "user",
        "languages",
        "language",
        "contacts",
        "bot_token",
        "bot_tokens",
        "invitation",
        "invitations",
        "invite_link",
        "invite_links",
        "read_positions",
        "push_settings",
        "ok",
        "pong",
        "error",
        "new_message",
        "message_edited",
        "message_deleted",
        "typing",
        "read",
        "presence",
        "online",
        "chat_created",
        "chat_changed",
        "chat_deleted",
    ];

    /// The request id of a direct reply; `None` for events (and for replies to commands sent
    /// without one).
    pub fn request_id(&self) -> Option<&RequestId> {
        match self {
            ServerFrame::Authenticated { id, .. }
            | ServerFrame::Messages { id, .. }
            | ServerFrame::Resumed { id, .. }
            | ServerFrame::Ack { id, .. }
            | ServerFrame::Chat { id, .. }
            | ServerFrame::Chats { id, .. }
            | ServerFrame::Users { id, .. }
            | ServerFrame::User { id, .. }
            | ServerFrame::Languages { id, .. }
            | ServerFrame::Language { id, .. }
            | ServerFrame::Contacts { id, .. }
            | ServerFrame::BotToken { id, .. }
            | ServerFrame::BotTokens { id, .. }
            | ServerFrame::Invitation { id, .. }
            | ServerFrame::Invitations { id, .. }
            | ServerFrame::InviteLink { id, .. }
            | ServerFrame::InviteLinks { id, .. }
            | ServerFrame::ReadPositions { id, .. }
            | ServerFrame::PushSettings { id, .. }
            | ServerFrame::Ok { id, .. }
            | ServerFrame::Pong { id, .. }
            | ServerFrame::Error { id, .. } => id.as_ref(),
            ServerFrame::NewMessage { .. }
            | ServerFrame::MessageEdited { .. }
            | ServerFrame::MessageDeleted { .. }
            | ServerFrame::Typing { .. }
            | ServerFrame::Read { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::Online { .. }
            | ServerFrame::ChatCreated { .. }
            | ServerFrame::ChatChanged { .. }
            | ServerFrame::ChatDeleted { .. } => None,
        }
    }

    /// An error frame.
    pub fn error(id: Option<RequestId>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerFrame::Error { id, code, message: message.into(), retry_after: None }
    }

    /// A `rate_limited` error frame saying when to retry.
    pub fn rate_limited(
        id: Option<RequestId>,
        message: impl Into<String>,
        retry_after: u64,
    ) -> Self {
        ServerFrame::Error {
            id,
            code: ErrorCode::RateLimited,
            message: message.into(),
            retry_after: Some(retry_after),
        }
    }

    /// Serialize to the JSON text of one WebSocket frame.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every map key is a string and no
        // `Serialize` impl here returns an error.
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"command":"error","code":"internal","message":"encoding failed"}"#.to_owned()
        })
    }
}
