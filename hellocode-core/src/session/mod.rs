//! The session state machine: what one connection may do, and what each command causes.
//!
//! It knows no sockets and no clock. The driver (the server's WebSocket or REST handler, or the
//! SDK's in-process transport) owns the IO and calls, for every decoded frame:
//!
//! 1. [`Session::handle`] with the frame and the current time. It returns a [`Decision`]:
//!    - [`Decision::Reply`]: answer now, nothing to look up;
//!    - [`Decision::Authenticate`]: check the credentials (password, token: the server's job),
//!      then call [`Session::authenticated`] or send the error;
//!    - [`Decision::Store`]: run the [`StorageOp`] (for example with [`execute`]), then pass the
//!      result to [`Session::complete`];
//!    - [`Decision::IssueBotToken`]: record and sign a bot token (the server's job, like a
//!      credentials check), then call [`Session::bot_token_issued`] or send the error;
//!    - [`Decision::IssueInviteLink`]: draw a random token (the session has no randomness,
//!      as it has no clock), pass it to [`Session::invite_link_token`], and go on as for
//!      [`Decision::Store`] with the [`Pending`] operation it returns.
//! 2. Send the [`Output`]'s reply to the requester and publish its events to the chat's
//!    participants, keeping per-chat order.
//!
//! Identity comes only from authentication: a `from` field naming someone else is refused, and
//! every storage operation carries the authenticated user so storage can refuse non-participants.
//!
//! ```
//! use hellocode_core::model::{ChatId, Timestamp};
//! use hellocode_core::protocol::{decode, Limits, ServerFrame, ErrorCode};
//! use hellocode_core::session::{Decision, Identity, Scope, Session};
//!
//! let mut session = Session::new(Scope::Chat(ChatId(7)), Limits::default());
//! let frame = decode(r#"{"command":"fetch_messages","chatId":"7"}"#, &Limits::default()).unwrap();
//! // Not authenticated yet: refused without touching storage.
//! let Decision::Reply(out) = session.handle(frame.clone(), Timestamp::now()) else { panic!() };
//! assert!(matches!(out.reply, Some(ServerFrame::Error { code: ErrorCode::NotAuthenticated, .. })));
//!
//! session.authenticate(Identity::new("alice"));
//! let Decision::Store(pending) = session.handle(frame, Timestamp::now()) else { panic!() };
//! assert_eq!(pending.op().actor(), Some("alice"));
//! ```

mod accounts;
mod chats;
mod execute;
mod invitations;
mod ops;
mod push;

use crate::Error;
use crate::model::{Attachment, ChatId, Timestamp};
use crate::protocol::{
    ClientFrame, Command, ErrorCode, Limits, PROTOCOL_VERSION, RequestId, ServerFrame,
};
use crate::storage::Items;

pub use accounts::{MAX_PROFILE_LANGUAGES, MAX_TIMEZONE_CHARS};
pub use chats::MAX_TOPIC_CHARS;
pub use execute::execute;
pub use invitations::{DEFAULT_LINK_LIFETIME_SECS, MAX_LINK_LIFETIME_SECS};
pub use ops::{StorageOp, StorageOutcome};

/// Longest accepted `clientId`, in bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 128;

/// Longest accepted language name in `find_users`, in characters (as for adding a language).
pub const MAX_LANGUAGE_CHARS: usize = 64;

/// Which chats a connection is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every chat of the user (`/ws`).
    AllChats,
    /// One chat (`/ws/chat/<chatId>`), as the original app: `chatId` may be left out.
    Chat(ChatId),
}

/// Who a connection is, as established by authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The authenticated username.
    pub username: String,
    /// The account's id, when a server checked a credential for it (`None` in tests and other
    /// drivers that trust the name).
    pub account_id: Option<i64>,
    /// What proved it: the server closes a connection once this stops being valid.
    pub credential: Credential,
}

impl Identity {
    /// An identity for `username`, with no checked credential behind it.
    pub fn new(username: impl Into<String>) -> Self {
        Identity { username: username.into(), account_id: None, credential: Credential::None }
    }

    /// An identity for account `account_id`, now named `username`, proved by `credential`.
    pub fn of_account(
        username: impl Into<String>,
        account_id: i64,
        credential: Credential,
    ) -> Self {
        Identity { username: username.into(), account_id: Some(account_id), credential }
    }
}

/// The credential an [`Identity`] was proved with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Credential {
    /// None recorded.
    #[default]
    None,
    /// A login token (or a password, which yields one): valid until `expires_at`, and while
    /// the account's token generation is still `generation` (a password change moves it).
    Login {
        /// The account's token generation the token was signed with.
        generation: i64,
        /// When the token stops being accepted.
        expires_at: Timestamp,
    },
    /// A bot token: valid until it is revoked.
    Bot {
        /// The bot token record's id.
        token_id: i64,
    },
}

/// The state of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Only `auth`, `login`, `register` and `ping` are accepted.
    Unauthenticated,
    /// Acting as this user.
    Authenticated(Identity),
    /// Closed: every command is ignored.
    Closed,
}

/// Credentials the driver must check before the session can become authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A JWT or bot token.
    Token {
        /// The token.
        token: String,
    },
    /// Username and password.
    Password {
        /// Username.
        username: String,
        /// Password.
        password: String,
    },
    /// A new account.
    Register {
        /// Wanted username.
        username: String,
        /// Email.
        email: String,
        /// Password.
        password: String,
        /// Password again.
        password_confirmation: String,
    },
}

/// A credentials check the driver must perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// The request id, to put in the reply.
    pub id: Option<RequestId>,
    /// What to check.
    pub credentials: Credentials,
}

/// A bot token the driver must issue (record it, sign it) before the session can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotTokenRequest {
    /// The request id, to put in the reply.
    pub id: Option<RequestId>,
    /// The user the bot will act as: the caller.
    pub owner: String,
    /// The token's label, trimmed (1 to 64 characters).
    pub name: String,
}

/// An invite link the driver must issue: draw a random token, then call
/// [`Session::invite_link_token`]. The command's checks have passed; whether the caller may
/// create links in the chat is storage's to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteLinkRequest {
    /// The request id, to put in the reply.
    pub id: Option<RequestId>,
    /// The chat the link joins.
    pub chat: ChatId,
    /// Who creates it: the caller.
    pub by: String,
    /// When it expires (`expiresIn` after now, 7 days by default, at most 30).
    pub expires_at: Timestamp,
    /// How many joins it allows in all.
    pub max_uses: Option<u32>,
    /// Now.
    pub at: Timestamp,
}

/// A secret the reply must carry (an invite link's token), kept out of every debug form.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A storage operation the driver must run before the session can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "run the operation and pass its result to Session::complete"]
pub struct Pending {
    id: Option<RequestId>,
    op: StorageOp,
    /// For `create_invite_link`: the token to show, once the link is recorded.
    secret: Option<Secret>,
}

impl Pending {
    /// The operation to run.
    pub fn op(&self) -> &StorageOp {
        &self.op
    }

    /// The attachments an append names by address only, for the driver to describe from the
    /// records of their uploads (the session has no storage to look them up in).
    pub fn attachments_mut(&mut self) -> Option<&mut Vec<crate::model::Attachment>> {
        match &mut self.op {
            StorageOp::Append(message) => Some(&mut message.attachments),
            _ => None,
        }
    }

    /// The request id of the command that caused it.
    pub fn request_id(&self) -> Option<&RequestId> {
        self.id.as_ref()
    }

    /// Turn the operation's result into the reply and the events. What
    /// [`Session::complete`] does; it needs nothing of the session, so a driver may finish an
    /// operation (an append waiting for its commit) while the session handles the next command.
    ///
    /// ```
    /// use hellocode_core::Error;
    /// use hellocode_core::model::{ChatId, Timestamp};
    /// use hellocode_core::protocol::{ErrorCode, Limits, ServerFrame, decode};
    /// use hellocode_core::session::{Decision, Identity, Scope, Session};
    /// let mut session = Session::new(Scope::AllChats, Limits::default());
    /// session.authenticate(Identity::new("ada"));
    /// let command = r#"{"command":"new_message","id":1,"chatId":7,"message":"hi"}"#;
    /// let frame = decode(command, &Limits::default()).unwrap();
    /// let Decision::Store(pending) = session.handle(frame, Timestamp::now()) else { panic!() };
    /// // The session goes on with other commands; the append's result comes later.
    /// let output = pending.respond(Err(Error::ChatNotFound(ChatId(7))));
    /// let Some(ServerFrame::Error { code, id, .. }) = output.reply else { panic!() };
    /// assert_eq!((code, id), (ErrorCode::NotFound, Some(1.into())));
    /// assert!(output.publish.is_empty());
    /// ```
    pub fn respond(self, result: Result<StorageOutcome, Error>) -> Output {
        let Pending { id, op, secret } = self;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(err) => return Output::error(id, err.code(), err.client_message()),
        };
        // A recorded invite link: its token is shown now, to its creator only, and never again.
        if let (Some(Secret(token)), StorageOutcome::InviteLink(link)) = (secret, &outcome) {
            return Output::reply(ServerFrame::InviteLink { id, link: link.clone(), token });
        }
        ops::respond(id, op, outcome)
    }
}

/// What the session decided for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
// Made and consumed once per command, never kept in bulk: boxing the reply would cost an
// allocation per command to save stack bytes.
#[allow(clippy::large_enum_variant)]
pub enum Decision {
    /// Send this now.
    Reply(Output),
    /// Check these credentials, then call [`Session::authenticated`].
    Authenticate(AuthRequest),
    /// Run this storage operation, then call [`Session::complete`].
    Store(Pending),
    /// Issue this bot token, then call [`Session::bot_token_issued`].
    IssueBotToken(BotTokenRequest),
    /// Draw a token for this invite link, call [`Session::invite_link_token`], then run the
    /// operation it returns as for [`Decision::Store`].
    IssueInviteLink(InviteLinkRequest),
}

/// An event for every open connection of every participant of `chat`. Serializable: nodes of
/// one deployment pass it to each other (the frame in its wire form).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Publish {
    /// The chat whose participants receive it. For [`ServerFrame::ChatCreated`] the participants
    /// are listed in the frame itself, as no one is subscribed to the new chat yet.
    pub chat: ChatId,
    /// The event.
    pub frame: ServerFrame,
    /// Only these participants receive it (say, those just added to the chat); `None`: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<String>>,
    /// These users receive it too although they are no longer members: those the change
    /// removed (it is the last event of the chat they get), or a deleted chat's members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

impl Publish {
    /// An event for every participant of `chat`.
    pub fn to_chat(chat: ChatId, frame: ServerFrame) -> Self {
        Publish { chat, frame, to: None, also: Vec::new() }
    }

    /// An event for some participants of `chat` only.
    pub fn to_some(chat: ChatId, frame: ServerFrame, to: Vec<String>) -> Self {
        Publish { chat, frame, to: Some(to), also: Vec::new() }
    }

    /// An event about `chat` for `users` only, who are not its members (an invitee), and
    /// none of its members. A transport delivers it to every connection of theirs, as it does
    /// `chat_created`: it is about the user more than about a chat they would be reading.
    pub fn to_users(chat: ChatId, frame: ServerFrame, users: Vec<String>) -> Self {
        Publish { chat, frame, to: Some(Vec::new()), also: users }
    }
}

/// The result of a command: a reply for the requester and events for the chat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// The direct reply, if any.
    pub reply: Option<ServerFrame>,
    /// Events to publish, in order.
    pub publish: Vec<Publish>,
}

impl Output {
    fn reply(frame: ServerFrame) -> Self {
        Output { reply: Some(frame), publish: Vec::new() }
    }

    fn error(id: Option<RequestId>, code: ErrorCode, message: impl Into<String>) -> Self {
        Output::reply(ServerFrame::error(id, code, message))
    }
}

/// The state machine of one connection (or of one REST request).
#[derive(Debug, Clone)]
pub struct Session {
    state: State,
    scope: Scope,
    limits: Limits,
    /// The protocol version spoken on this connection (1 until the client declares one).
    protocol: u32,
}

impl Session {
    /// A new, unauthenticated session.
    pub fn new(scope: Scope, limits: Limits) -> Self {
        Session { state: State::Unauthenticated, scope, limits, protocol: 1 }
    }

    /// The protocol version spoken on this connection: 1 until the client declares a newer one
    /// (in its authentication command or with [`Session::speak`]).
    pub fn protocol(&self) -> u32 {
        self.protocol
    }

    /// Speak the protocol version the client declared (say, `?protocol=2` in its URL), up to
    /// [`PROTOCOL_VERSION`]; 0 counts as 1.
    pub fn speak(&mut self, version: u32) {
        self.protocol = version.clamp(1, PROTOCOL_VERSION);
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The chats this session is bound to.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The authenticated user, if any.
    pub fn identity(&self) -> Option<&Identity> {
        match &self.state {
            State::Authenticated(identity) => Some(identity),
            _ => None,
        }
    }

    /// Mark the session authenticated, e.g. from a token given in the URL or a header.
    pub fn authenticate(&mut self, identity: Identity) {
        if self.state != State::Closed {
            self.state = State::Authenticated(identity);
        }
    }

    /// The driver verified an [`AuthRequest`]: become `identity` and build the reply.
    /// `token` is the fresh token to hand out after `login` or `register`.
    pub fn authenticated(
        &mut self,
        request: AuthRequest,
        identity: Identity,
        token: Option<String>,
    ) -> Output {
        let username = identity.username.clone();
        self.authenticate(identity);
        let protocol = Some(self.protocol);
        Output::reply(ServerFrame::Authenticated { id: request.id, username, token, protocol })
    }

    /// The driver issued a [`BotTokenRequest`]: build the reply carrying the token.
    pub fn bot_token_issued(
        &self,
        request: BotTokenRequest,
        token_id: i64,
        token: String,
    ) -> Output {
        Output::reply(ServerFrame::BotToken { id: request.id, token_id, name: request.name, token })
    }

    /// Close the session; later commands are ignored.
    pub fn close(&mut self) {
        self.state = State::Closed;
    }

    /// Whether this connection should receive events of `chat` (its scope allows it; the
    /// driver routes only events of the user's own chats here).
    pub fn receives(&self, chat: ChatId) -> bool {
        matches!(self.state, State::Authenticated(_))
            && match self.scope {
                Scope::AllChats => true,
                Scope::Chat(bound) => bound == chat,
            }
    }

    /// Decide what to do with one command.
    pub fn handle(&mut self, frame: ClientFrame, now: Timestamp) -> Decision {
        let ClientFrame { id, command } = frame;
        if self.state != State::Closed
            && let Err(err) = command.check_text(&self.limits)
        {
            return Decision::Reply(Output::error(id, err.code(), err.client_message()));
        }
        let identity = match &self.state {
            State::Closed => return Decision::Reply(Output::default()),
            State::Unauthenticated => return self.handle_unauthenticated(id, command),
            State::Authenticated(identity) => identity.username.clone(),
        };
        if let Command::CreateBotToken { name } = command {
            return match accounts::label(&name, "name") {
                Ok(name) => Decision::IssueBotToken(BotTokenRequest { id, owner: identity, name }),
                Err((code, message)) => Decision::Reply(Output::error(id, code, message)),
            };
        }
        if let Command::CreateInviteLink { chat_id, expires_in, max_uses } = command {
            let given = (chat_id, expires_in, max_uses);
            return match self.link_request(id.clone(), identity, given, now) {
                Ok(request) => Decision::IssueInviteLink(request),
                Err((code, message)) => Decision::Reply(Output::error(id, code, message)),
            };
        }
        match self.authorize(identity, command, now) {
            Ok(Some(op)) => Decision::Store(Pending { id, op, secret: None }),
            Ok(None) => Decision::Reply(Output::reply(ServerFrame::Pong { id })),
            Err((code, message)) => Decision::Reply(Output::error(id, code, message)),
        }
    }

    fn handle_unauthenticated(&mut self, id: Option<RequestId>, command: Command) -> Decision {
        let (credentials, protocol) = match command {
            Command::Ping {} => return Decision::Reply(Output::reply(ServerFrame::Pong { id })),
            Command::Auth { token, protocol } => (Credentials::Token { token }, protocol),
            Command::Login { username, password, protocol } => {
                (Credentials::Password { username, password }, protocol)
            }
            Command::Register { username, email, password, password_confirmation, protocol } => (
                Credentials::Register { username, email, password, password_confirmation },
                protocol,
            ),
            other => {
                return Decision::Reply(Output::error(
                    id,
                    ErrorCode::NotAuthenticated,
                    format!("{} needs an authenticated connection: send auth first", other.name()),
                ));
            }
        };
        if let Some(version) = protocol {
            self.speak(version);
        }
        Decision::Authenticate(AuthRequest { id, credentials })
    }

    /// Check one command of an authenticated user and turn it into a storage operation
    /// (`None` for `ping`).
    fn authorize(
        &self,
        actor: String,
        command: Command,
        now: Timestamp,
    ) -> Result<Option<StorageOp>, (ErrorCode, String)> {
        let op = match command {
            Command::Ping {} => return Ok(None),
            Command::Auth { .. } | Command::Login { .. } | Command::Register { .. } => {
                return Err((
                    ErrorCode::AlreadyAuthenticated,
                    format!("already authenticated as {actor}"),
                ));
            }
            Command::FetchMessages { chat_id, limit, before } => StorageOp::FetchMessages {
                chat: self.chat(chat_id)?,
                reader: actor,
                before,
                limit: self.page(limit, self.limits.default_page)?,
            },
            Command::Resume { chat_id, since, limit } => StorageOp::Resume {
                chat: self.chat(chat_id)?,
                reader: actor,
                since,
                limit: self.page(limit, self.limits.max_page)?,
                // A client of version 1 knows posts only.
                items: if self.protocol >= 2 { Items::All } else { Items::Posts },
            },
            Command::NewMessage { chat_id, message, from, client_id, attachments } => {
                if let Some(from) = from.filter(|from| *from != actor) {
                    return Err((
                        ErrorCode::Impersonation,
                        format!("\"from\" is {from:?} but this connection is {actor:?}"),
                    ));
                }
                let attachments = checked_attachments(attachments)?;
                let content = if attachments.is_empty() || !message.is_empty() {
                    self.content(message)?
                } else {
                    message // a file alone says enough
                };
                StorageOp::Append(crate::model::NewMessage {
                    chat_id: self.chat(chat_id)?,
                    author: actor,
                    content,
                    client_id: checked_client_id(client_id)?,
                    timestamp: now,
                    attachments,
                })
            }
            Command::EditMessage { chat_id, seq, message, client_id } => StorageOp::Edit {
                chat: self.chat(chat_id)?,
                seq,
                editor: actor,
                content: self.content(message)?,
                at: now,
                key: checked_client_id(client_id)?,
            },
            Command::DeleteMessage { chat_id, seq, client_id } => StorageOp::Delete {
                chat: self.chat(chat_id)?,
                seq,
                by: actor,
                at: now,
                key: checked_client_id(client_id)?,
            },
            Command::GetChat { chat_id } => {
                StorageOp::GetChat { chat: self.chat(chat_id)?, reader: actor }
            }
            Command::GetReadPositions { chat_id } => {
                StorageOp::ReadPositions { chat: self.chat(chat_id)?, reader: actor }
            }
            Command::ListChats { after, limit } => {
                StorageOp::ListChats { username: actor, after, limit: list_page(limit)? }
            }
            Command::FindUsers { language, after, limit } => StorageOp::FindUsers {
                username: actor,
                language: self.language(&language)?,
                after,
                limit: list_page(limit)?,
            },
            Command::Typing { chat_id } => {
                StorageOp::Typing { chat: self.chat(chat_id)?, username: actor }
            }
            Command::Read { chat_id, seq } => {
                StorageOp::MarkRead { chat: self.chat(chat_id)?, username: actor, seq }
            }
            command @ (Command::CreateChat { .. }
            | Command::AddParticipants { .. }
            | Command::RemoveParticipant { .. }
            | Command::LeaveChat { .. }
            | Command::SetRole { .. }
            | Command::UpdateChat { .. }
            | Command::DeleteChat { .. }) => self.chat_op(actor, command, now)?,
            command @ (Command::GetUser { .. }
            | Command::UpdateProfile { .. }
            | Command::ListLanguages { .. }
            | Command::AddLanguage { .. }
            | Command::ListContacts {}
            | Command::AddContact { .. }
            | Command::RemoveContact { .. }
            | Command::CreateBotToken { .. }
            | Command::ListBotTokens {}
            | Command::RevokeBotToken { .. }) => accounts::account_op(actor, command)?,
            command @ (Command::Invite { .. }
            | Command::ListInvitations { .. }
            | Command::AcceptInvitation { .. }
            | Command::DeclineInvitation { .. }
            | Command::CancelInvitation { .. }
            | Command::CreateInviteLink { .. }
            | Command::ListInviteLinks { .. }
            | Command::RevokeInviteLink { .. }
            | Command::JoinByLink { .. }) => self.invitation_op(actor, command, now)?,
            command @ (Command::SetPusher { .. }
            | Command::RemovePusher { .. }
            | Command::GetPushSettings {}) => push::pusher_op(actor, command, now)?,
            Command::MuteChat { chat_id, muted } => {
                StorageOp::MuteChat { chat: self.chat(chat_id)?, username: actor, muted }
            }
        };
        Ok(Some(op))
    }

    fn chat(&self, given: Option<ChatId>) -> Result<ChatId, (ErrorCode, String)> {
        match (self.scope, given) {
            (Scope::Chat(bound), None) => Ok(bound),
            (Scope::Chat(bound), Some(chat)) if chat == bound => Ok(chat),
            (Scope::Chat(bound), Some(chat)) => Err((
                ErrorCode::WrongChat,
                format!("this connection is bound to chat {bound}, not {chat}"),
            )),
            (Scope::AllChats, Some(chat)) => Ok(chat),
            (Scope::AllChats, None) => {
                Err((ErrorCode::MissingField, "missing field \"chatId\"".to_owned()))
            }
        }
    }

    fn page(&self, limit: Option<u32>, default: u32) -> Result<u32, (ErrorCode, String)> {
        match limit {
            None => Ok(default.min(self.limits.max_page)),
            Some(0) => Err((ErrorCode::InvalidField, "limit must be at least 1".to_owned())),
            Some(n) => Ok(n.min(self.limits.max_page)),
        }
    }

    fn content(&self, text: String) -> Result<String, (ErrorCode, String)> {
        if text.trim().is_empty() {
            return Err((ErrorCode::InvalidField, "message must not be empty".to_owned()));
        }
        let chars = text.chars().count();
        if chars > self.limits.max_message_chars {
            return Err((
                ErrorCode::InvalidField,
                format!(
                    "message has {chars} characters; the limit is {}",
                    self.limits.max_message_chars
                ),
            ));
        }
        Ok(text)
    }

    fn language(&self, name: &str) -> Result<String, (ErrorCode, String)> {
        accounts::label(name, "language")
    }

    fn participants(
        &self,
        actor: &str,
        mut names: Vec<String>,
    ) -> Result<Vec<String>, (ErrorCode, String)> {
        names.push(actor.to_owned());
        names.sort_unstable();
        names.dedup();
        if names.len() < 2 {
            return Err((
                ErrorCode::InvalidField,
                "participants must name at least one other user".to_owned(),
            ));
        }
        if names.len() > self.limits.max_participants {
            return Err((
                ErrorCode::InvalidField,
                format!("a chat has at most {} participants", self.limits.max_participants),
            ));
        }
        Ok(names)
    }

    /// Turn the result of a [`Pending`] operation into the reply and the events.
    pub fn complete(&mut self, pending: Pending, result: Result<StorageOutcome, Error>) -> Output {
        pending.respond(result)
    }
}

/// Attachments a message may carry at most.
pub const MAX_ATTACHMENTS: usize = 10;

/// The attachments of a `new_message`: content addresses (64 lowercase hex digits), at most
/// [`MAX_ATTACHMENTS`], each once.
fn checked_attachments(ids: Vec<String>) -> Result<Vec<Attachment>, (ErrorCode, String)> {
    if ids.len() > MAX_ATTACHMENTS {
        let message = format!("{} attachments; the limit is {MAX_ATTACHMENTS}", ids.len());
        return Err((ErrorCode::InvalidField, message));
    }
    let mut attachments: Vec<Attachment> = Vec::with_capacity(ids.len());
    for id in ids {
        let address = id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !address {
            return Err((
                ErrorCode::InvalidField,
                format!("{id:?} is not an attachment's address"),
            ));
        }
        if !attachments.iter().any(|known| known.id == id) {
            attachments.push(Attachment::named(id));
        }
    }
    Ok(attachments)
}

/// An idempotency key as given: 1 to [`MAX_CLIENT_ID_BYTES`] bytes, or none.
pub(crate) fn checked_client_id(
    client_id: Option<String>,
) -> Result<Option<String>, (ErrorCode, String)> {
    match client_id {
        Some(key) if key.is_empty() || key.len() > MAX_CLIENT_ID_BYTES => Err((
            ErrorCode::InvalidField,
            format!("clientId must be 1 to {MAX_CLIENT_ID_BYTES} bytes"),
        )),
        key => Ok(key),
    }
}

/// The page size of a list command: default and cap [`MAX_LIST_PAGE`](crate::protocol::MAX_LIST_PAGE).
pub(crate) fn list_page(limit: Option<u32>) -> Result<u32, (ErrorCode, String)> {
    match limit {
        Some(0) => Err((ErrorCode::InvalidField, "limit must be at least 1".to_owned())),
        Some(n) => Ok(n.min(crate::protocol::MAX_LIST_PAGE)),
        None => Ok(crate::protocol::MAX_LIST_PAGE),
    }
}

#[cfg(test)]
mod account_tests;
#[cfg(test)]
mod chat_tests;
#[cfg(test)]
mod invitation_tests;
#[cfg(test)]
mod tests;
