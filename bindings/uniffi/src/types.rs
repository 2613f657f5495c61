//! Records and enums that cross the FFI, each converted from the SDK's value with `From`.
//!
//! Identifiers and sequence numbers are `i64`; times are milliseconds (`*_ms`: since the Unix
//! epoch for instants), so no `java.time` or `Foundation.Date` dependency is forced on the app.

use std::collections::HashMap;
use std::time::Duration;

use hellocode_sdk as sdk;

use crate::error::ErrorInfo;
use crate::media::Attachment;

/// A member's role in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Role {
    /// The group's one owner: everything an admin may do, and roles and deletion.
    Owner,
    /// Adds and removes plain members, renames, sets the topic.
    Admin,
    /// Reads and posts.
    Member,
}

impl From<sdk::Role> for Role {
    fn from(role: sdk::Role) -> Self {
        match role {
            sdk::Role::Owner => Role::Owner,
            sdk::Role::Admin => Role::Admin,
            sdk::Role::Member => Role::Member,
        }
    }
}

impl From<Role> for sdk::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => sdk::Role::Owner,
            Role::Admin => sdk::Role::Admin,
            Role::Member => sdk::Role::Member,
        }
    }
}

/// What kind of chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ChatKind {
    /// Two people, no roles, no name; its members never change.
    Direct,
    /// Any number of members with roles, a name and a topic.
    Group,
}

impl From<sdk::ChatKind> for ChatKind {
    fn from(kind: sdk::ChatKind) -> Self {
        match kind {
            sdk::ChatKind::Direct => ChatKind::Direct,
            sdk::ChatKind::Group => ChatKind::Group,
        }
    }
}

/// What a chat item is: a post (`Message`), or one of the chat's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum EventKind {
    /// A post.
    Message,
    /// `author` edited post `target`; `content` is the new text.
    Edit,
    /// `author` deleted post `target`.
    Delete,
    /// `member` joined with `role`, added by `author`.
    Join,
    /// `member` left.
    Leave,
    /// `author` removed `member`.
    Remove,
    /// `member`'s role became `role`.
    Role,
    /// `author` renamed the group to `content` (empty: no name).
    Rename,
    /// `author` set the group's topic to `content` (empty: none).
    Topic,
}

impl From<sdk::EventKind> for EventKind {
    fn from(kind: sdk::EventKind) -> Self {
        match kind {
            sdk::EventKind::Message => EventKind::Message,
            sdk::EventKind::Edit => EventKind::Edit,
            sdk::EventKind::Delete => EventKind::Delete,
            sdk::EventKind::Join => EventKind::Join,
            sdk::EventKind::Leave => EventKind::Leave,
            sdk::EventKind::Remove => EventKind::Remove,
            sdk::EventKind::Role => EventKind::Role,
            sdk::EventKind::Rename => EventKind::Rename,
            sdk::EventKind::Topic => EventKind::Topic,
        }
    }
}

/// A stored chat item: a post, or (`kind` other than `Message`) an event of the chat.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Message {
    /// Server-wide id.
    pub id: i64,
    /// The chat it belongs to.
    pub chat_id: i64,
    /// Its place in the chat: 1, 2, 3, ... without gaps.
    pub seq: i64,
    /// The author's username.
    pub author: String,
    /// The text (empty once deleted).
    pub content: String,
    /// When the server stored it, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The idempotency key it was sent with, if any.
    pub client_id: Option<String>,
    /// When it was last edited, if it was.
    pub edited_at_ms: Option<i64>,
    /// Whether it was deleted.
    pub deleted: bool,
    /// What it is: `Message` for a post, else the event.
    pub kind: EventKind,
    /// For an edit or a deletion: the `seq` of the post it changed.
    pub target: Option<i64>,
    /// For a membership event: whose membership changed.
    pub member: Option<String>,
    /// For a join or a role change: the member's role from then on.
    pub role: Option<Role>,
    /// The files a post carries.
    pub attachments: Vec<Attachment>,
}

impl From<sdk::Message> for Message {
    fn from(m: sdk::Message) -> Self {
        Message {
            id: m.id,
            chat_id: m.chat_id.0,
            seq: m.seq.0,
            author: m.author,
            content: m.content,
            timestamp_ms: m.timestamp.unix_millis(),
            client_id: m.client_id,
            edited_at_ms: m.edited_at.map(sdk::Timestamp::unix_millis),
            deleted: m.deleted,
            kind: m.kind.into(),
            target: m.target.map(|seq| seq.0),
            member: m.member,
            role: m.role.map(Role::from),
            attachments: m.attachments.into_iter().map(Attachment::from).collect(),
        }
    }
}

/// A member of a chat.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Participant {
    /// The username.
    pub username: String,
    /// Their role in a group (`None` in a direct chat).
    pub role: Option<Role>,
}

impl From<sdk::Participant> for Participant {
    fn from(p: sdk::Participant) -> Self {
        Participant { username: p.username, role: p.role.map(Role::from) }
    }
}

/// A chat: a direct chat of two, or a group with roles, a name and a topic.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Chat {
    /// The chat's id.
    pub id: i64,
    /// Direct or group.
    pub kind: ChatKind,
    /// A group's name, if it has one.
    pub name: Option<String>,
    /// A group's topic, if it has one.
    pub topic: Option<String>,
    /// Every participant's username, sorted.
    pub participants: Vec<String>,
    /// The participants with their roles, by username.
    pub members: Vec<Participant>,
    /// The sequence number of its newest item, post or event (0 when empty).
    pub last_seq: i64,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

impl From<sdk::Chat> for Chat {
    fn from(c: sdk::Chat) -> Self {
        Chat {
            id: c.id.0,
            kind: c.kind.into(),
            name: c.name,
            topic: c.topic,
            participants: c.participants.iter().map(|p| p.username.clone()).collect(),
            members: c.participants.into_iter().map(Participant::from).collect(),
            last_seq: c.last_seq.0,
            created_at_ms: c.created_at.unix_millis(),
        }
    }
}

/// A user's public profile.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct User {
    /// The account's id.
    pub id: i64,
    /// The username.
    pub username: String,
    /// An IANA time zone name.
    pub timezone: String,
    /// The programming languages the user wants to talk about.
    pub languages: Vec<String>,
    /// The avatar's URL path, if any.
    pub avatar: Option<String>,
}

impl From<sdk::User> for User {
    fn from(u: sdk::User) -> Self {
        User {
            id: u.id,
            username: u.username,
            timezone: u.timezone,
            languages: u.languages,
            avatar: u.avatar,
        }
    }
}

/// How far a member of a chat has read.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReadPosition {
    /// The member.
    pub username: String,
    /// The newest sequence number they have read (0: nothing yet).
    pub seq: i64,
}

impl From<sdk::ReadPosition> for ReadPosition {
    fn from(p: sdk::ReadPosition) -> Self {
        ReadPosition { username: p.username, seq: p.seq.0 }
    }
}

/// A programming language people talk about.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Language {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
}

impl From<sdk::Language> for Language {
    fn from(l: sdk::Language) -> Self {
        Language { id: l.id, name: l.name }
    }
}

/// A message in the send queue, not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PendingSend {
    /// Its idempotency key: the same in every `SendUpdated` event about it.
    pub client_id: String,
    /// The chat it goes to.
    pub chat_id: i64,
    /// Its text.
    pub content: String,
}

impl From<sdk::PendingSend> for PendingSend {
    fn from(p: sdk::PendingSend) -> Self {
        PendingSend { client_id: p.client_id, chat_id: p.chat_id.0, content: p.content }
    }
}

/// A bot token of the caller's (without its secret).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BotToken {
    /// Its id, for `revoke_bot_token`.
    pub id: i64,
    /// The name it was given.
    pub name: String,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl From<sdk::BotToken> for BotToken {
    fn from(t: sdk::BotToken) -> Self {
        BotToken {
            id: t.id,
            name: t.name,
            created_at_ms: t.created_at.unix_millis(),
            revoked: t.revoked,
        }
    }
}

/// A new bot token with its secret, shown once.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssuedBotToken {
    /// Its id.
    pub id: i64,
    /// The name it was given.
    pub name: String,
    /// The secret: connect a bot with `Credentials.Token`.
    pub token: String,
}

impl std::fmt::Debug for IssuedBotToken {
    // Never print secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedBotToken").field("id", &self.id).field("name", &self.name).finish()
    }
}

impl From<sdk::IssuedBotToken> for IssuedBotToken {
    fn from(t: sdk::IssuedBotToken) -> Self {
        IssuedBotToken { id: t.id, name: t.name, token: t.token }
    }
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum InvitationState {
    /// Waiting for the invitee's answer.
    Pending,
    /// The invitee joined.
    Accepted,
    /// The invitee declined.
    Declined,
    /// Its inviter, an owner or an admin withdrew it.
    Cancelled,
}

impl From<sdk::InvitationState> for InvitationState {
    fn from(state: sdk::InvitationState) -> Self {
        match state {
            sdk::InvitationState::Pending => InvitationState::Pending,
            sdk::InvitationState::Accepted => InvitationState::Accepted,
            sdk::InvitationState::Declined => InvitationState::Declined,
            sdk::InvitationState::Cancelled => InvitationState::Cancelled,
        }
    }
}

/// An invitation of a user to a group, by one of its owners or admins. The invitee reads
/// nothing of the chat until they accept.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Invitation {
    /// Its id, for `accept_invitation`, `decline_invitation` and `cancel_invitation`.
    pub id: i64,
    /// The chat the invitee is invited to.
    pub chat_id: i64,
    /// The chat's kind (a group).
    pub kind: ChatKind,
    /// The chat's name as it now is, if it has one.
    pub name: Option<String>,
    /// Who invited.
    pub inviter: String,
    /// Who is invited.
    pub invitee: String,
    /// Pending, or how it was settled.
    pub state: InvitationState,
    /// When it was made, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

impl From<sdk::Invitation> for Invitation {
    fn from(i: sdk::Invitation) -> Self {
        Invitation {
            id: i.id,
            chat_id: i.chat_id.0,
            kind: i.kind.into(),
            name: i.name,
            inviter: i.inviter,
            invitee: i.invitee,
            state: i.state.into(),
            created_at_ms: i.created_at.unix_millis(),
        }
    }
}

/// An invite link of a group as its owners and admins see it (never its token).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InviteLink {
    /// Its id, for `revoke_invite_link`.
    pub id: i64,
    /// The chat it joins.
    pub chat_id: i64,
    /// The owner or admin who created it.
    pub created_by: String,
    /// When, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// The first moment it no longer joins anyone, in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
    /// How many joins it allows in all (`None`: no limit).
    pub max_uses: Option<u32>,
    /// How many users joined with it so far.
    pub uses: u32,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl From<sdk::InviteLink> for InviteLink {
    fn from(l: sdk::InviteLink) -> Self {
        InviteLink {
            id: l.id,
            chat_id: l.chat_id.0,
            created_by: l.created_by,
            created_at_ms: l.created_at.unix_millis(),
            expires_at_ms: l.expires_at.unix_millis(),
            max_uses: l.max_uses,
            uses: l.uses,
            revoked: l.revoked,
        }
    }
}

/// An invite link just created, with its token, shown once: whoever presents it joins the
/// group (`join_by_link`) until it expires, is used up or is revoked.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssuedInviteLink {
    /// The link (its `id` revokes it).
    pub link: InviteLink,
    /// The secret to hand to those who may join.
    pub token: String,
}

impl std::fmt::Debug for IssuedInviteLink {
    // Never print secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedInviteLink").field("link", &self.link).finish_non_exhaustive()
    }
}

impl From<sdk::IssuedInviteLink> for IssuedInviteLink {
    fn from(issued: sdk::IssuedInviteLink) -> Self {
        IssuedInviteLink { link: issued.link.into(), token: issued.token }
    }
}

/// Changes to the caller's profile; fields left `None` stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ProfileUpdate {
    /// A new IANA time zone name.
    #[uniffi(default)]
    pub timezone: Option<String>,
    /// The new list of languages (replaces the old one).
    #[uniffi(default)]
    pub languages: Option<Vec<String>>,
}

impl From<ProfileUpdate> for sdk::ProfileUpdate {
    fn from(update: ProfileUpdate) -> Self {
        let mut sdk_update = sdk::ProfileUpdate::new();
        if let Some(timezone) = update.timezone {
            sdk_update = sdk_update.timezone(timezone);
        }
        if let Some(languages) = update.languages {
            sdk_update = sdk_update.languages(languages);
        }
        sdk_update
    }
}

/// The state of a client's connection.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ConnectionState {
    /// Connected and authenticated.
    Connected {
        /// The authenticated user.
        username: String,
    },
    /// The connection was lost; the next attempt comes after `delay_ms`.
    Reconnecting {
        /// 1 for the first attempt after a loss, then 2, 3, ...
        attempt: u32,
        /// How long until that attempt.
        delay_ms: u64,
        /// Why the last connection or attempt failed.
        error: ErrorInfo,
    },
    /// Closed for good: by `shutdown`, or because the credentials stopped working.
    Closed {
        /// Why, if it was not asked for.
        error: Option<ErrorInfo>,
    },
}

impl From<sdk::ConnectionState> for ConnectionState {
    fn from(state: sdk::ConnectionState) -> Self {
        match state {
            sdk::ConnectionState::Connected { username } => ConnectionState::Connected { username },
            sdk::ConnectionState::Reconnecting { attempt, delay, error } => {
                ConnectionState::Reconnecting {
                    attempt,
                    delay_ms: millis(delay),
                    error: ErrorInfo::from(&error),
                }
            }
            sdk::ConnectionState::Closed { error } => {
                ConnectionState::Closed { error: error.as_ref().map(ErrorInfo::from) }
            }
            // A state added to the SDK later: reported as closed with an explanation rather
            // than not at all.
            other => ConnectionState::Closed {
                error: Some(ErrorInfo { code: "unknown".to_owned(), detail: format!("{other:?}") }),
            },
        }
    }
}

/// Where a queued message is: for local echo.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SendState {
    /// Queued, not yet acknowledged (shown greyed out).
    Pending,
    /// Stored by the server.
    Sent {
        /// The stored message.
        message: Message,
    },
    /// Given up on (the client closed, or it expired).
    Failed {
        /// Why.
        error: ErrorInfo,
    },
}

impl From<sdk::SendState> for SendState {
    fn from(state: sdk::SendState) -> Self {
        match state {
            sdk::SendState::Pending => SendState::Pending,
            sdk::SendState::Sent(message) => SendState::Sent { message: message.into() },
            sdk::SendState::Failed(error) => SendState::Failed { error: ErrorInfo::from(&error) },
            other => SendState::Failed {
                error: ErrorInfo { code: "unknown".to_owned(), detail: format!("{other:?}") },
            },
        }
    }
}

/// Something that happened: every change a client must know of, in order.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Event {
    /// A new message in one of the user's chats (exactly once, in sequence order per chat,
    /// across reconnects; the user's own messages too).
    MessageReceived {
        /// The message.
        message: Message,
    },
    /// An event of a chat (an item that is not a post: an edit, a deletion, a member joining,
    /// leaving or removed, a role change, a rename, a topic; `event.kind` says which): exactly
    /// once and in order with the chat's messages, live or resumed after a reconnect.
    ChatEvent {
        /// The event.
        event: Message,
    },
    /// A message was edited (live, after its `ChatEvent`).
    MessageEdited {
        /// The message as it is now.
        message: Message,
    },
    /// A message was deleted (live, after its `ChatEvent`).
    MessageDeleted {
        /// Its chat.
        chat_id: i64,
        /// Its sequence number.
        seq: i64,
    },
    /// Someone is typing.
    Typing {
        /// The chat.
        chat_id: i64,
        /// Who.
        username: String,
    },
    /// Someone read a chat up to `seq`.
    Read {
        /// The chat.
        chat_id: i64,
        /// Who.
        username: String,
        /// Up to which message.
        seq: i64,
    },
    /// Someone came online or went offline.
    Presence {
        /// Who.
        username: String,
        /// Whether they are online now.
        online: bool,
    },
    /// Right after each (re)connection: who of the users sharing a chat with this one is
    /// online now. Everyone else is offline (this replaces what was known before); `Presence`
    /// tells each later change.
    Online {
        /// The users online, by username.
        usernames: Vec<String>,
    },
    /// The user was added to a chat (or created one).
    ChatCreated {
        /// The chat.
        chat: Chat,
    },
    /// A chat's members, roles, name or topic changed (live): the chat as it now is, after its
    /// `ChatEvent`s.
    ChatChanged {
        /// The chat.
        chat: Chat,
    },
    /// A chat was deleted with its history (live); the client forgets it.
    ChatDeleted {
        /// The chat.
        chat_id: i64,
        /// Who deleted it.
        by: String,
    },
    /// This user was invited to a group (`invitation.state` is `Pending`: answer with
    /// `accept_invitation` or `decline_invitation`), or an invitation to them was withdrawn
    /// (`Cancelled`). Live only: `Client.invitations()` lists the pending ones.
    Invitation {
        /// The invitation.
        invitation: Invitation,
    },
    /// A queued message changed state (pending, sent, failed).
    SendUpdated {
        /// The message's idempotency key.
        client_id: String,
        /// Its chat.
        chat_id: i64,
        /// Its new state.
        state: SendState,
    },
    /// The connection changed state.
    ConnectionChanged {
        /// The new state.
        state: ConnectionState,
    },
}

impl Event {
    /// The binding's form of an SDK event; `None` for an event newer than this binding (the
    /// SDK's enum may grow), which is logged and skipped rather than passed off as another.
    pub(crate) fn from_sdk(event: sdk::Event) -> Option<Self> {
        Some(match event {
            sdk::Event::Message(message) => Event::MessageReceived { message: message.into() },
            sdk::Event::Edited(message) => Event::MessageEdited { message: message.into() },
            sdk::Event::Deleted { chat_id, seq } => {
                Event::MessageDeleted { chat_id: chat_id.0, seq: seq.0 }
            }
            sdk::Event::Typing { chat_id, username } => {
                Event::Typing { chat_id: chat_id.0, username }
            }
            sdk::Event::Read { chat_id, username, seq } => {
                Event::Read { chat_id: chat_id.0, username, seq: seq.0 }
            }
            sdk::Event::Presence { username, online } => Event::Presence { username, online },
            sdk::Event::Online { usernames } => Event::Online { usernames },
            sdk::Event::ChatCreated(chat) => Event::ChatCreated { chat: chat.into() },
            sdk::Event::ChatEvent(event) => Event::ChatEvent { event: event.into() },
            sdk::Event::ChatChanged(chat) => Event::ChatChanged { chat: chat.into() },
            sdk::Event::ChatDeleted { chat_id, by } => {
                Event::ChatDeleted { chat_id: chat_id.0, by }
            }
            sdk::Event::Invitation(invitation) => {
                Event::Invitation { invitation: invitation.into() }
            }
            sdk::Event::Send(update) => Event::SendUpdated {
                client_id: update.client_id,
                chat_id: update.chat_id.0,
                state: update.state.into(),
            },
            sdk::Event::Connection(state) => Event::ConnectionChanged { state: state.into() },
            other => {
                tracing::warn!(event = ?other, "an event this binding does not know; skipped");
                return None;
            }
        })
    }
}

/// How to authenticate.
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Credentials {
    /// Log in with a password.
    Password {
        /// The username.
        username: String,
        /// The password.
        password: String,
    },
    /// A token from an earlier login (`Client.token()`) or a bot token.
    Token {
        /// The token.
        token: String,
    },
    /// Create the account, then log in.
    Register {
        /// The username.
        username: String,
        /// The email address.
        email: String,
        /// The password.
        password: String,
    },
    /// Create the account if it does not exist yet, else log in.
    RegisterOrLogin {
        /// The username.
        username: String,
        /// The email address.
        email: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    // Never print secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::Password { .. } => "Password(..)",
            Credentials::Token { .. } => "Token(..)",
            Credentials::Register { .. } => "Register(..)",
            Credentials::RegisterOrLogin { .. } => "RegisterOrLogin(..)",
        })
    }
}

impl From<Credentials> for sdk::Credentials {
    fn from(credentials: Credentials) -> Self {
        match credentials {
            Credentials::Password { username, password } => {
                sdk::Credentials::password(username, password)
            }
            Credentials::Token { token } => sdk::Credentials::token(token),
            Credentials::Register { username, email, password } => {
                sdk::Credentials::register(username, email, password)
            }
            Credentials::RegisterOrLogin { username, email, password } => {
                sdk::Credentials::register_or_login(username, email, password)
            }
        }
    }
}

/// Client settings. Every field has the SDK's default, so `ClientConfig()` in Kotlin and
/// Swift is the default configuration.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ClientConfig {
    /// How long a command waits for its reply.
    #[uniffi(default = 15000)]
    pub request_timeout_ms: u64,
    /// How long one connection attempt may take.
    #[uniffi(default = 10000)]
    pub connect_timeout_ms: u64,
    /// The first delay before reconnecting.
    #[uniffi(default = 200)]
    pub reconnect_initial_ms: u64,
    /// The longest delay between reconnection attempts.
    #[uniffi(default = 30000)]
    pub reconnect_max_ms: u64,
    /// How much the delay grows per attempt.
    #[uniffi(default = 2.0)]
    pub reconnect_multiplier: f64,
    /// Up to this fraction of each delay is randomly taken off (0 to 1).
    #[uniffi(default = 0.5)]
    pub reconnect_jitter: f64,
    /// Give up (state `Closed`) after this many attempts in a row; `None` never gives up.
    #[uniffi(default)]
    pub reconnect_max_attempts: Option<u32>,
    /// How many messages may wait in the send queue (`queue_full` beyond).
    #[uniffi(default = 1000)]
    pub send_queue: u32,
    /// How many queued messages may be on the wire at once.
    #[uniffi(default = 32)]
    pub send_window: u32,
    /// A queued message not sent within this time fails with `expired`; `None`: never.
    #[uniffi(default)]
    pub send_expiry_ms: Option<u64>,
    /// Events kept for the first subscriber until it subscribes.
    #[uniffi(default = 10000)]
    pub event_backlog: u32,
    /// A silent connection is probed after this long.
    #[uniffi(default = 30000)]
    pub keepalive_ms: u64,
    /// How long `shutdown` waits for queued messages.
    #[uniffi(default = 5000)]
    pub close_timeout_ms: u64,
    /// How long one write to the connection may take; a stuck write is a lost connection.
    #[uniffi(default = 10000)]
    pub write_timeout_ms: u64,
    /// Start each chat after this sequence number (the positions the app saved, see
    /// `Client.positions`); chats not named start at their newest message.
    #[uniffi(default)]
    pub start_positions: HashMap<i64, i64>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        sdk::ClientConfig::default().into()
    }
}

impl From<sdk::ClientConfig> for ClientConfig {
    fn from(c: sdk::ClientConfig) -> Self {
        ClientConfig {
            request_timeout_ms: millis(c.request_timeout),
            connect_timeout_ms: millis(c.connect_timeout),
            reconnect_initial_ms: millis(c.reconnect.initial),
            reconnect_max_ms: millis(c.reconnect.max),
            reconnect_multiplier: c.reconnect.multiplier,
            reconnect_jitter: c.reconnect.jitter,
            reconnect_max_attempts: c.reconnect.max_attempts,
            send_queue: clamp_u32(c.send_queue),
            send_window: clamp_u32(c.send_window),
            send_expiry_ms: c.send_expiry.map(millis),
            event_backlog: clamp_u32(c.event_backlog),
            keepalive_ms: millis(c.keepalive),
            close_timeout_ms: millis(c.close_timeout),
            write_timeout_ms: millis(c.write_timeout),
            start_positions: c.start_positions.into_iter().map(|(c, s)| (c.0, s.0)).collect(),
        }
    }
}

impl From<ClientConfig> for sdk::ClientConfig {
    fn from(c: ClientConfig) -> Self {
        let mut config = sdk::ClientConfig::default();
        config.request_timeout = Duration::from_millis(c.request_timeout_ms);
        config.connect_timeout = Duration::from_millis(c.connect_timeout_ms);
        config.reconnect = sdk::Backoff {
            initial: Duration::from_millis(c.reconnect_initial_ms),
            max: Duration::from_millis(c.reconnect_max_ms),
            multiplier: c.reconnect_multiplier,
            jitter: c.reconnect_jitter,
            max_attempts: c.reconnect_max_attempts,
        };
        config.send_queue = c.send_queue as usize;
        config.send_window = c.send_window as usize;
        config.send_expiry = c.send_expiry_ms.map(Duration::from_millis);
        config.event_backlog = c.event_backlog as usize;
        config.keepalive = Duration::from_millis(c.keepalive_ms);
        config.close_timeout = Duration::from_millis(c.close_timeout_ms);
        config.write_timeout = Duration::from_millis(c.write_timeout_ms);
        config.start_positions = c
            .start_positions
            .into_iter()
            .map(|(chat, seq)| (sdk::ChatId(chat), sdk::Seq(seq)))
            .collect();
        config
    }
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults written in the record's attributes (what Kotlin's and Swift's
    /// `ClientConfig()` use) are the SDK's.
    #[test]
    fn record_defaults_are_the_sdks() {
        let expected = ClientConfig {
            request_timeout_ms: 15000,
            connect_timeout_ms: 10000,
            reconnect_initial_ms: 200,
            reconnect_max_ms: 30000,
            reconnect_multiplier: 2.0,
            reconnect_jitter: 0.5,
            reconnect_max_attempts: None,
            send_queue: 1000,
            send_window: 32,
            send_expiry_ms: None,
            event_backlog: 10000,
            keepalive_ms: 30000,
            close_timeout_ms: 5000,
            write_timeout_ms: 10000,
            start_positions: HashMap::new(),
        };
        assert_eq!(ClientConfig::default(), expected);
        let round_trip: ClientConfig = sdk::ClientConfig::from(expected.clone()).into();
        assert_eq!(round_trip, expected);
    }
}
