//! Frames a client sends: one JSON object with a `command` field, and an optional `id`.

use serde::{Deserialize, Serialize};

use super::RequestId;
use crate::model::{ChatId, Role, Seq};

/// One decoded client frame: the command and the request id to echo in its reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientFrame {
    /// Echoed in the direct reply, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<RequestId>,
    /// What the client asks for.
    #[serde(flatten)]
    pub command: Command,
}

impl ClientFrame {
    /// A frame without request id.
    pub fn new(command: Command) -> Self {
        ClientFrame { id: None, command }
    }

    /// A frame with a request id.
    pub fn with_id(id: impl Into<RequestId>, command: Command) -> Self {
        ClientFrame { id: Some(id.into()), command }
    }
}

/// Every command of protocol v1. Field names are the wire names; see `docs/PROTOCOL.md`.
///
/// Unknown fields are ignored, so that the original app's frames (which carry `from`) and newer
/// clients keep working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Command {
    /// Authenticate the connection with a token (JWT or bot token).
    Auth {
        /// The token.
        token: String,
        /// The protocol version the client speaks (1 when left out); see
        /// [`PROTOCOL_VERSION`](super::PROTOCOL_VERSION).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<u32>,
    },
    /// Create an account; on success the connection is authenticated as the new user.
    Register {
        /// Wanted username.
        username: String,
        /// Email address.
        email: String,
        /// Password.
        password: String,
        /// The password again; must match.
        password_confirmation: String,
        /// The protocol version the client speaks (1 when left out).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<u32>,
    },
    /// Log in with a password; on success the reply carries a token and the connection is
    /// authenticated.
    Login {
        /// Username.
        username: String,
        /// Password.
        password: String,
        /// The protocol version the client speaks (1 when left out).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<u32>,
    },
    /// A page of history, newest first.
    FetchMessages {
        /// The chat; may be left out on a connection opened for one chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// Page size (default 10, capped at 100).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
        /// Only messages with a sequence number below this one (the next older page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<Seq>,
    },
    /// Post a message.
    NewMessage {
        /// The chat; may be left out on a connection opened for one chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// The text.
        message: String,
        /// The original app's author field: if present it must equal the authenticated user.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Idempotency key: a retry with the same key never posts twice.
        #[serde(
            rename = "clientId",
            alias = "client_id",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        client_id: Option<String>,
        /// Files to carry: addresses of attachments uploaded to the chat (at most 10). With
        /// attachments the text may be empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<String>,
    },
    /// Everything posted in a chat after `since`, oldest first, in pages.
    Resume {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// The last sequence number the client has seen (0 for none).
        since: Seq,
        /// Page size (default and cap 100).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Create a chat; the caller is always a participant. One other participant and no name
    /// make a direct chat; a name, or more participants, a group the caller owns.
    CreateChat {
        /// Usernames of the other participants (the caller may be listed too).
        participants: Vec<String>,
        /// A group's name (1 to 64 characters once trimmed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// A group's topic (up to 256 characters once trimmed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// Idempotency key: a retry with the same key gets the first answer and never applies
        /// twice.
        #[serde(
            rename = "clientId",
            alias = "client_id",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        client_id: Option<String>,
    },
    /// One of the caller's chats.
    GetChat {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
    },
    /// How far each member of one of the caller's chats has read.
    GetReadPositions {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
    },
    /// A page of the caller's chats, by id.
    ListChats {
        /// Only chats with a larger id (the last of the previous page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<ChatId>,
        /// Page size (default and cap 500); a full page may have a successor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Users interested in a programming language, by username.
    FindUsers {
        /// The language's name (case-insensitive; 1 to 64 characters once trimmed).
        language: String,
        /// Only users whose username sorts after this one (the last of the previous page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<String>,
        /// Page size (default and cap 500); a full page may have a successor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Tell the other participants that the caller is typing.
    Typing {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
    },
    /// Read receipt: the caller has read up to `seq`.
    Read {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// Newest sequence number read.
        seq: Seq,
    },
    /// Replace the text of one of the caller's messages.
    EditMessage {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// Which message.
        seq: Seq,
        /// The new text.
        message: String,
        /// Idempotency key: a retry with the same key gets the first answer and never applies
        /// twice.
        #[serde(
            rename = "clientId",
            alias = "client_id",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        client_id: Option<String>,
    },
    /// Delete one of the caller's messages (its sequence number stays, its content goes).
    DeleteMessage {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// Which message.
        seq: Seq,
        /// Idempotency key: a retry with the same key gets the first answer and never applies
        /// twice.
        #[serde(
            rename = "clientId",
            alias = "client_id",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        client_id: Option<String>,
    },
    /// Liveness check; answered with `pong`.
    Ping {},
    /// A user's public profile.
    GetUser {
        /// Whose.
        username: String,
    },
    /// Change the caller's own profile; a field left out stays as it is. (Email, password and
    /// avatar are changed over REST only.)
    UpdateProfile {
        /// New IANA time zone name (empty for none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<String>,
        /// New set of languages (replaces the old set; each must exist).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        languages: Option<Vec<String>>,
    },
    /// A page of the languages, by name.
    ListLanguages {
        /// Only languages whose name sorts after this one (the last of the previous page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<String>,
        /// Page size (default and cap 500); a full page may have a successor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Add a language (an existing name is returned as it is).
    AddLanguage {
        /// Its name (1 to 64 characters once trimmed).
        name: String,
    },
    /// The caller's contacts.
    ListContacts {},
    /// Add a user to the caller's contacts (idempotent).
    AddContact {
        /// The contact.
        username: String,
    },
    /// Remove a user from the caller's contacts (idempotent).
    RemoveContact {
        /// The contact.
        username: String,
    },
    /// Issue a long-lived token a bot uses to act as the caller.
    CreateBotToken {
        /// A label (1 to 64 characters once trimmed).
        name: String,
    },
    /// The caller's bot tokens, revoked ones included.
    ListBotTokens {},
    /// Revoke one of the caller's bot tokens.
    RevokeBotToken {
        /// The token's id (`tokenId`: `id` is the request id).
        #[serde(rename = "tokenId", alias = "token_id")]
        token_id: i64,
    },
    /// Add users to a group (an owner or admin).
    AddParticipants {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// Who to add (already present ones are ignored).
        usernames: Vec<String>,
        /// Idempotency key: a retry with the same key gets the first answer and never applies
        /// twice.
        #[serde(
            rename = "clientId",
            alias = "client_id",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        client_id: Option<String>,
    },
    /// Remove a member from a group (an owner anyone, an admin plain members).
    RemoveParticipant {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// Whom.
        username: String,
        /// Idempotency key: a retry with the same key gets the first answer and never applies
        /// twice.
        #[serde(
            rename = "clientId",
            alias = "client_id",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        client_id: Option<String>,
    },
    /// Leave a chat.
    LeaveChat {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// Idempotency key: a retry with the same key gets the first answer and never applies
        /// twice.
        #[serde(
            rename = "clientId",
            alias = "client_id",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        client_id: Option<String>,
    },
    /// Give a member of a group a role (the owner); making someone owner hands ownership over.
    SetRole {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// Whose role.
        username: String,
        /// The new role.
        role: Role,
        /// Idempotency key: a retry with the same key gets the first answer and never applies
        /// twice.
        #[serde(
            rename = "clientId",
            alias = "client_id",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        client_id: Option<String>,
    },
    /// Rename a group or set its topic (an owner or admin); an empty string clears it.
    UpdateChat {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// New name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// New topic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// Idempotency key: a retry with the same key gets the first answer and never applies
        /// twice.
        #[serde(
            rename = "clientId",
            alias = "client_id",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        client_id: Option<String>,
    },
    /// Delete a chat with its history (either member of a direct chat, a group's owner).
    DeleteChat {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
    },
    /// Invite a user to a group (an owner or admin): a pending invitation they may accept.
    Invite {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// Whom.
        username: String,
    },
    /// A page of the caller's pending invitations, by id.
    ListInvitations {
        /// Only invitations with a larger id (the last of the previous page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<i64>,
        /// Page size (default and cap 500); a full page may have a successor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Accept an invitation addressed to the caller: join its chat as a member.
    AcceptInvitation {
        /// The invitation's id (`invitationId`: `id` is the request id).
        #[serde(rename = "invitationId", alias = "invitation_id")]
        invitation_id: i64,
    },
    /// Decline an invitation addressed to the caller.
    DeclineInvitation {
        /// The invitation's id.
        #[serde(rename = "invitationId", alias = "invitation_id")]
        invitation_id: i64,
    },
    /// Withdraw a pending invitation (its inviter, or an owner or admin of its chat).
    CancelInvitation {
        /// The invitation's id.
        #[serde(rename = "invitationId", alias = "invitation_id")]
        invitation_id: i64,
    },
    /// Create an invite link of a group (an owner or admin); its token is in the reply only.
    CreateInviteLink {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// Seconds until it expires (default 7 days, at most 30 days).
        #[serde(rename = "expiresIn", default, skip_serializing_if = "Option::is_none")]
        expires_in: Option<u64>,
        /// How many joins it allows in all (default: no limit).
        #[serde(rename = "maxUses", default, skip_serializing_if = "Option::is_none")]
        max_uses: Option<u32>,
    },
    /// A page of a group's invite links, by id (an owner or admin; never the tokens).
    ListInviteLinks {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// Only links with a larger id (the last of the previous page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<i64>,
        /// Page size (default and cap 500); a full page may have a successor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Revoke an invite link of a group (an owner or admin).
    RevokeInviteLink {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// The link's id.
        #[serde(rename = "linkId", alias = "link_id")]
        link_id: i64,
    },
    /// Join the group of an invite link, as a member.
    JoinByLink {
        /// The link's token.
        token: String,
    },
    /// Register (or change) a device's pusher: notifications of messages that arrive while
    /// none of the caller's connections is open go to its push gateway. Replies `push_settings`.
    SetPusher {
        /// The app, reverse-DNS style; the gateway picks its FCM or APNs credentials by it.
        #[serde(rename = "appId", alias = "app_id")]
        app_id: String,
        /// The device's token at FCM or APNs.
        pushkey: String,
        /// The gateway's notify URL (`https://…/_matrix/push/v1/notify`).
        url: String,
        /// A name the user recognises the device by.
        #[serde(rename = "deviceName", alias = "device_name", default)]
        device_name: Option<String>,
        /// The device's language tag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lang: Option<String>,
        /// Whether notifications carry the message's text (default true).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previews: Option<bool>,
    },
    /// Remove one of the caller's pushers (idempotent). Replies `push_settings`.
    RemovePusher {
        /// Its app id.
        #[serde(rename = "appId", alias = "app_id")]
        app_id: String,
        /// Its push key.
        pushkey: String,
    },
    /// The caller's pushers and muted chats. Replies `push_settings`.
    GetPushSettings {},
    /// Mute (or unmute) a chat's notifications for the caller (a member). Replies
    /// `push_settings`.
    MuteChat {
        /// The chat.
        #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<ChatId>,
        /// `true` to mute, `false` to unmute.
        muted: bool,
    },
}

impl Command {
    /// The wire name of the command, e.g. `"new_message"`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Auth { .. } => "auth",
            Command::Register { .. } => "register",
            Command::Login { .. } => "login",
            Command::FetchMessages { .. } => "fetch_messages",
            Command::NewMessage { .. } => "new_message",
            Command::Resume { .. } => "resume",
            Command::CreateChat { .. } => "create_chat",
            Command::GetChat { .. } => "get_chat",
            Command::GetReadPositions { .. } => "get_read_positions",
            Command::ListChats { .. } => "list_chats",
            Command::FindUsers { .. } => "find_users",
            Command::Typing { .. } => "typing",
            Command::Read { .. } => "read",
            Command::EditMessage { .. } => "edit_message",
            Command::DeleteMessage { .. } => "delete_message",
            Command::Ping {} => "ping",
            Command::GetUser { .. } => "get_user",
            Command::UpdateProfile { .. } => "update_profile",
            Command::ListLanguages { .. } => "list_languages",
            Command::AddLanguage { .. } => "add_language",
            Command::ListContacts {} => "list_contacts",
            Command::AddContact { .. } => "add_contact",
            Command::RemoveContact { .. } => "remove_contact",
            Command::CreateBotToken { .. } => "create_bot_token",
            Command::ListBotTokens {} => "list_bot_tokens",
            Command::RevokeBotToken { .. } => "revoke_bot_token",
            Command::AddParticipants { .. } => "add_participants",
            Command::RemoveParticipant { .. } => "remove_participant",
            Command::LeaveChat { .. } => "leave_chat",
            Command::SetRole { .. } => "set_role",
            Command::UpdateChat { .. } => "update_chat",
            Command::DeleteChat { .. } => "delete_chat",
            Command::Invite { .. } => "invite",
            Command::ListInvitations { .. } => "list_invitations",
            Command::AcceptInvitation { .. } => "accept_invitation",
            Command::DeclineInvitation { .. } => "decline_invitation",
            Command::CancelInvitation { .. } => "cancel_invitation",
            Command::CreateInviteLink { .. } => "create_invite_link",
            Command::ListInviteLinks { .. } => "list_invite_links",
            Command::RevokeInviteLink { .. } => "revoke_invite_link",
            Command::JoinByLink { .. } => "join_by_link",
            Command::SetPusher { .. } => "set_pusher",
            Command::RemovePusher { .. } => "remove_pusher",
            Command::GetPushSettings {} => "get_push_settings",
            Command::MuteChat { .. } => "mute_chat",
        }
    }

    /// Every command name, for error messages and documentation checks.
    pub const NAMES: &'static [&'static str] = &[
        "auth",
        "register",
        "login",
        "fetch_messages",
        "new_message",
        "resume",
        "create_chat",
        "get_chat",
        "get_read_positions",
        "list_chats",
        "find_users",
        "typing",
        "read",
        "edit_message",
        "delete_message",
        "ping",
        "get_user",
        "update_profile",
        "list_languages",
        "add_language",
        "list_contacts",
        "add_contact",
        "remove_contact",
        "create_bot_token",
        "list_bot_tokens",
        "revoke_bot_token",
        "add_participants",
        "remove_participant",
        "leave_chat",
        "set_role",
        "update_chat",
        "delete_chat",
        "invite",
        "list_invitations",
        "accept_invitation",
        "decline_invitation",
        "cancel_invitation",
        "create_invite_link",
        "list_invite_links",
        "revoke_invite_link",
        "join_by_link",
        "set_pusher",
        "remove_pusher",
        "get_push_settings",
        "mute_chat",
    ];
}
