//! Storage: one trait, three backends, one conformance suite.
//!
//! [`Storage`] covers the whole domain model. Every backend keeps these promises, checked by the
//! conformance suite in `tests/integration/conformance.rs` against all of them:
//!
//! - each chat's messages get sequence numbers 1, 2, 3, … with no gap and no repeat, even when
//!   many writers post at once; an append is visible to readers only once it is committed;
//! - an append whose `(chat, author account, client_id)` is already stored returns the stored
//!   message with `created: false` instead of storing a second copy;
//! - messages record their author's account id: only that account edits or deletes them, and
//!   once it is deleted its messages show [`deleted_author`](crate::model::deleted_author), so
//!   an account that registers the name again is not their author;
//! - message operations take the acting user and refuse non-participants
//!   ([`Error::NotParticipant`](crate::Error::NotParticipant)), so no transport can forget the
//!   check;
//! - every change a client must know of takes the chat's next sequence number: posts, and
//!   events ([`EventKind`](crate::model::EventKind)) for edits, deletions, membership changes
//!   and renames, so that reading the items after a position returns exactly what happened
//!   since, in order;
//! - membership changes are checked against the actor's role by one set of rules
//!   (`membership::plan`) inside the writing transaction; so are invitations and invite links
//!   (`membership::may_admit`, `join`, `link_usable`, …): joining by an invitation or a link is
//!   a change of the chat like any other, with its `join` event;
//! - an invite link's token is never stored, only its
//!   [`invite_token_hash`](crate::model::invite_token_hash);
//! - every mutating operation takes an idempotency key: a chat records its creation's, an event
//!   the key of the change that recorded it (the first event, when a change records several),
//!   and a retry under a key already stored applies nothing and answers as it now is;
//! - history pages come from an index on `(chat, seq)`, never from a scan.
//!
//! Backends: [`MemoryStorage`] (tests, ephemeral servers), `SqliteStorage` (feature `sqlite`: the
//! embedded default, one file) and `PostgresStorage` (feature `postgres`: production, bounded pool).

mod media_store;
pub(crate) mod membership;
mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

use async_trait::async_trait;

use crate::Result;
use crate::model::{
    Account, BotToken, Chat, ChatChange, ChatChanged, ChatId, CreatedChat, Invitation, InviteLink,
    Invited, Language, Media, MediaKind, Message, NewChat, NewInviteLink, NewMedia, NewMessage,
    NewPush, NewPusher, NewUser, PushSettings, PushTarget, QueuedPush, ReadMark, ReadPosition,
    Revised, Seq, Timestamp, TokenHolder, User, UserUpdate,
};

pub use media_store::{MediaStore, MemoryMediaStore};
pub use memory::MemoryStorage;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::PoolConfig;
#[cfg(feature = "postgres")]
pub use sql::postgres::{PostgresMediaStore, PostgresStorage};
#[cfg(feature = "sqlite")]
pub use sql::sqlite::{SqliteMediaStore, SqliteStorage};

/// Which items of a chat to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Items {
    /// Posts and events.
    All,
    /// Posts only (what a client of protocol version 1 knows).
    Posts,
}

/// The result of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The stored message.
    pub message: Message,
    /// `false` when the client id was already stored and `message` is the earlier copy.
    pub created: bool,
}

/// An append that has its place in the store's order and completes when it is committed (or
/// refused). See [`Storage::start_append`].
pub type AppendTicket =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Appended>> + Send>>;

/// Everything HelloCode stores. Implementations are cheap to share (`Arc<dyn Storage>`).
///
/// Lists of users and chats are returned ordered (users by username, chats by id) so that every
/// backend answers alike.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    // ---- languages ----

    /// Add a language, or return it if it exists.
    async fn add_language(&self, name: &str) -> Result<Language>;
    /// All languages, by name. For the server's own use; clients get pages
    /// ([`languages_after`](Self::languages_after)).
    async fn languages(&self) -> Result<Vec<Language>>;
    /// A page of languages by name, after `after` (exclusive).
    async fn languages_after(&self, after: Option<&str>, limit: u32) -> Result<Vec<Language>>;

    // ---- users ----

    /// Create a user with a new id (ids are never reused, even after a deletion). Fails with
    /// `UsernameTaken` when another user has the same [`username_key`](crate::model::username_key),
    /// or `LanguageNotFound` for an unknown language.
    async fn create_user(&self, user: NewUser) -> Result<User>;
    /// A user with its private fields, for login.
    async fn account(&self, username: &str) -> Result<Option<Account>>;
    /// A user with its private fields by id, for token checks: a token names the account, so
    /// that it dies with it even if someone registers the name again.
    async fn account_by_id(&self, id: i64) -> Result<Option<Account>>;
    /// The username and token generation of the account `id`: all a token check needs, in one
    /// lookup by key (every connection that comes online asks).
    async fn token_holder(&self, id: i64) -> Result<Option<TokenHolder>>;
    /// A user's public profile.
    async fn user(&self, username: &str) -> Result<Option<User>>;
    /// A page of users by username, after `after` (exclusive).
    async fn users(&self, after: Option<&str>, limit: u32) -> Result<Vec<User>>;
    /// A page of the users interested in a language (the app's purpose), by username, after
    /// `after` (exclusive).
    async fn users_by_language(
        &self,
        language: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<User>>;
    /// Change a user's profile.
    async fn update_user(&self, username: &str, update: UserUpdate) -> Result<User>;
    /// Delete a user: their account, contacts, read positions, chat memberships, the
    /// invitations they made or received and the invite links they created go; the
    /// messages they wrote stay in their chats, their author shown as
    /// [`deleted_author`](crate::model::deleted_author) of their name, and so do the media
    /// records of their uploads, their owner shown alike. Each chat they were in
    /// records a `leave` event (authored by that deleted name), and a group they owned gets a
    /// new owner as if they had left.
    async fn delete_user(&self, username: &str) -> Result<()>;
    /// Add `contact` to `username`'s contacts (idempotent).
    async fn add_contact(&self, username: &str, contact: &str) -> Result<()>;
    /// Remove a contact (idempotent).
    async fn remove_contact(&self, username: &str, contact: &str) -> Result<()>;
    /// A user's contacts, by username.
    async fn contacts(&self, username: &str) -> Result<Vec<String>>;

    // ---- chats ----

    /// Create a chat (all members must exist). A group's creator is its owner, the others
    /// members; a direct chat has no roles. Creation records no event: the chat starts empty.
    /// A creation whose `client_id` the creator used before returns that chat (`created:
    /// false`), if it still exists.
    async fn create_chat(&self, chat: NewChat) -> Result<CreatedChat>;
    /// A chat by id.
    async fn chat(&self, id: ChatId) -> Result<Option<Chat>>;
    /// A page of the chats `username` takes part in, by id, after `after` (exclusive).
    async fn chats_of(
        &self,
        username: &str,
        after: Option<ChatId>,
        limit: u32,
    ) -> Result<Vec<Chat>>;
    /// Everyone who shares a chat with `username` (not `username`), by username, in one query:
    /// whom to tell of their presence.
    async fn chat_partners(&self, username: &str) -> Result<Vec<String>>;
    /// Whether `username` takes part in `chat`; `ChatNotFound` if there is no such chat.
    async fn is_participant(&self, chat: ChatId, username: &str) -> Result<bool>;
    /// Make a change to a chat as `by`, if their role allows it (see [`ChatChange`]): the change
    /// and its events are stored in one transaction, the events numbered after every earlier
    /// item. Refusals: `ChatNotFound`, `NotParticipant` (`by` is not a member), `NotAllowed`,
    /// `DirectChat`, `NotMember`, `UserNotFound`, `TooManyParticipants`. A user who joins
    /// (however: added here, or by an invitation or a link) has their pending invitation to
    /// the chat settled (`Accepted`), so that it cannot bring them back once they are removed.
    ///
    /// `key` is the change's idempotency key: if `by` recorded an event in this chat under it,
    /// nothing is stored and the answer says `replayed` (`ClientIdReused` if that event is not
    /// what this change records). A retried `Leave` is answered even though `by` has left.
    async fn change_chat(
        &self,
        chat: ChatId,
        by: &str,
        change: ChatChange,
        at: Timestamp,
        key: Option<&str>,
    ) -> Result<ChatChanged>;
    /// Delete a chat with its messages, read positions, invitations, invite links and
    /// attachments' media records, as `by` (either member of a direct chat, a group's owner);
    /// returns the members it had, by username.
    async fn delete_chat(&self, chat: ChatId, by: &str) -> Result<Vec<String>>;

    // ---- messages ----

    /// Append a message with the chat's next sequence number, or return the stored one when
    /// `client_id` was used before by the same author in the same chat.
    async fn append_message(&self, message: NewMessage) -> Result<Appended>;
    /// Queue an append and return once it has its place, before it is committed: appends of
    /// one chat started one after another are numbered in that order, and may share a commit
    /// (group commit) instead of each waiting for the one before. The ticket resolves like
    /// [`append_message`](Self::append_message). The default appends at once.
    ///
    /// ```
    /// use hellocode_core::model::{NewChat, NewMessage, NewUser, Timestamp};
    /// use hellocode_core::storage::{MemoryStorage, Storage};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let storage = MemoryStorage::new();
    /// storage.create_user(NewUser::new("ada", "ada@example.org", "hash")).await?;
    /// let chat = storage.create_chat(NewChat::group("ada", &[], Timestamp::now())).await?.chat.id;
    /// let text = |content: &str| NewMessage {
    ///     chat_id: chat,
    ///     author: "ada".into(),
    ///     content: content.into(),
    ///     client_id: None,
    ///     timestamp: Timestamp::now(),
    ///     attachments: Vec::new(),
    /// };
    /// let first = storage.start_append(text("one")).await;
    /// let second = storage.start_append(text("two")).await;
    /// // Both are in line, numbered in the order started, whichever is awaited first.
    /// assert_eq!(second.await?.message.seq.0, 2);
    /// assert_eq!(first.await?.message.seq.0, 1);
    /// # Ok::<(), hellocode_core::Error>(()) }).unwrap();
    /// ```
    async fn start_append(&self, message: NewMessage) -> AppendTicket {
        let result = self.append_message(message).await;
        Box::pin(std::future::ready(result))
    }
    /// Up to `limit` posts (not events) below `before` (or the newest), newest first: a page of
    /// history, each post as it now is.
    async fn messages_before(
        &self,
        chat: ChatId,
        reader: &str,
        before: Option<Seq>,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// Up to `limit` items above `after`, oldest first: every item, or posts only.
    async fn messages_after(
        &self,
        chat: ChatId,
        reader: &str,
        after: Seq,
        limit: u32,
        items: Items,
    ) -> Result<Vec<Message>>;
    /// Replace the content of the editor's own post, and record an `edit` event (under `key`,
    /// the edit's idempotency key: a retry returns the post as it now is and no event).
    async fn edit_message(
        &self,
        chat: ChatId,
        seq: Seq,
        editor: &str,
        content: &str,
        at: Timestamp,
        key: Option<&str>,
    ) -> Result<Revised>;
    /// Delete the caller's own post: its content is emptied, its sequence number stays, and a
    /// `delete` event is recorded (none when it was deleted already).
    async fn delete_message(
        &self,
        chat: ChatId,
        seq: Seq,
        by: &str,
        at: Timestamp,
        key: Option<&str>,
    ) -> Result<Revised>;

    // ---- read positions ----

    /// Move `username`'s read position in `chat` forward to `seq` (never back); returns the
    /// stored position and whether it moved.
    async fn mark_read(&self, chat: ChatId, username: &str, seq: Seq) -> Result<ReadMark>;
    /// Every participant's read position in `chat`, by username (0 for none yet).
    async fn read_positions(&self, chat: ChatId) -> Result<Vec<ReadPosition>>;

    // ---- invitations ----

    /// Invite `invitee` to group `chat` as `by`, an owner or admin of it: a pending invitation
    /// the invitee may accept or decline, and its inviter, an owner or an admin may cancel.
    /// A pending invitation of the same invitee to the same chat is returned as it is
    /// (`created: false`; there is never more than one). Refusals, in this order:
    /// `ChatNotFound`, `NotParticipant` (`by` is not a member), `DirectChat`, `NotAllowed` (a
    /// plain member), `UserNotFound`, `AlreadyMember` (the invitee is a member).
    async fn invite(&self, chat: ChatId, by: &str, invitee: &str, at: Timestamp)
    -> Result<Invited>;
    /// An invitation by id, in whatever state (for the server's own use: say, to find its
    /// chat). Gone with its chat, and with its inviter's or invitee's account.
    async fn invitation(&self, id: i64) -> Result<Option<Invitation>>;
    /// A page of `invitee`'s pending invitations, by id, after `after` (exclusive), each with
    /// its chat's id, kind and current name, its inviter and when it was made.
    async fn invitations_of(
        &self,
        invitee: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Invitation>>;
    /// Accept invitation `id` as `by`, its invitee: in one transaction the invitation is
    /// settled (`Accepted`) and `by` joins the chat as a `member`, with a `join` event they
    /// author that takes the chat's next sequence number (`added` is `[by]`). Refusals:
    /// `InvitationNotFound` (no such invitation, not `by`'s, answered or cancelled already,
    /// its chat deleted), `AlreadyMember`, `TooManyParticipants` (more than `max` members).
    async fn accept_invitation(
        &self,
        id: i64,
        by: &str,
        max: usize,
        at: Timestamp,
    ) -> Result<ChatChanged>;
    /// Decline invitation `id` as `by`, its invitee; returns it, `Declined`. Refusal:
    /// `InvitationNotFound`, as for [`accept_invitation`](Self::accept_invitation).
    async fn decline_invitation(&self, id: i64, by: &str, at: Timestamp) -> Result<Invitation>;
    /// Cancel pending invitation `id` as `by`: its inviter, or an owner or admin of its chat;
    /// returns it, `Cancelled`. Refusals: `NotAllowed` (a plain member of the chat),
    /// `InvitationNotFound` (anyone else, or an invitation no longer pending).
    async fn cancel_invitation(&self, id: i64, by: &str, at: Timestamp) -> Result<Invitation>;

    // ---- invite links ----

    /// Create an invite link of group `chat` as `by`, an owner or admin of it. The link is
    /// stored under `link.token_hash` (unique), never its token. Refusals as for
    /// [`invite`](Self::invite) up to `NotAllowed`.
    async fn create_invite_link(
        &self,
        chat: ChatId,
        by: &str,
        link: NewInviteLink,
    ) -> Result<InviteLink>;
    /// A page of `chat`'s invite links, by id, after `after` (exclusive), for `by`, an owner
    /// or admin of it: revoked, expired and used-up ones included, never a secret. Refusals
    /// as for [`create_invite_link`](Self::create_invite_link).
    async fn invite_links(
        &self,
        chat: ChatId,
        by: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<InviteLink>>;
    /// Revoke invite link `link` of `chat` as `by`, an owner or admin of it (revoking a revoked
    /// link changes nothing). Refusals as for [`create_invite_link`](Self::create_invite_link),
    /// and `InviteLinkNotFound` for no such link of this chat.
    async fn revoke_invite_link(&self, chat: ChatId, by: &str, link: i64) -> Result<()>;
    /// The chat of the invite link stored under `token_hash`, whatever its state (for the
    /// server's own use: to order the join with the chat's other writes).
    async fn invite_link_chat(&self, token_hash: &str) -> Result<Option<ChatId>>;
    /// `by` joins the chat of the invite link stored under `token_hash`, as a `member`, with a
    /// `join` event they author; the link counts one more use in the same transaction, so of
    /// two joins racing for its last use one wins. Refusals: `InviteLinkNotFound` for an
    /// unknown, revoked, expired (`at` at or past its expiry) or used-up link — the same for
    /// each, telling nothing of the chat —, `AlreadyMember`, `TooManyParticipants` (more than
    /// `max` members); a refused join counts no use.
    async fn join_by_link(
        &self,
        token_hash: &str,
        by: &str,
        max: usize,
        at: Timestamp,
    ) -> Result<ChatChanged>;

    // ---- bot tokens ----

    /// Record a new bot token for `username`.
    async fn create_bot_token(&self, username: &str, name: &str, at: Timestamp)
    -> Result<BotToken>;
    /// A user's bot tokens, revoked ones included, by id.
    async fn bot_tokens(&self, username: &str) -> Result<Vec<BotToken>>;
    /// A bot token by id.
    async fn bot_token(&self, id: i64) -> Result<Option<BotToken>>;
    /// Revoke one of `username`'s bot tokens (`BotTokenNotFound` if it is not theirs).
    async fn revoke_bot_token(&self, username: &str, id: i64) -> Result<()>;

    // ---- media ----

    /// Record an upload whose bytes are in the [`MediaStore`] already. An attachment's owner
    /// must be a member of its chat (`NotParticipant`, `ChatNotFound`); the owner must exist
    /// (`UserNotFound`); an attachment names its chat and an avatar none (`InvalidMedia`,
    /// checked first). Recording the same content again for the same owner, kind and chat
    /// returns the first record.
    async fn add_media(&self, media: NewMedia) -> Result<Media>;
    /// A record of content `id` that `reader` may read, if any: an avatar (any existing user
    /// may read one), or an attachment of a chat `reader` is a member of; of several, the one
    /// recorded first. `None` also when the content exists but `reader` may not read it (a
    /// download must not tell the two apart), and for an unknown `reader`. With `in_chat`,
    /// only an attachment of that chat (the record a post in it may carry).
    async fn readable_media(
        &self,
        id: &str,
        reader: &str,
        in_chat: Option<ChatId>,
    ) -> Result<Option<Media>>;

    // ---- push ----

    /// Register `username`'s pusher, or change theirs with the same app id and push key. A key
    /// another user registered moves to `username` (the device changed hands), and what was
    /// queued for it goes. `UserNotFound`; `TooManyPushers` beyond
    /// [`MAX_PUSHERS_PER_USER`](crate::model::MAX_PUSHERS_PER_USER).
    async fn set_pusher(&self, username: &str, pusher: NewPusher) -> Result<()>;
    /// Remove `username`'s pusher with this app id and push key, with what was queued for it
    /// (idempotent: nothing to remove is no error).
    async fn remove_pusher(&self, username: &str, app_id: &str, pushkey: &str) -> Result<()>;
    /// `username`'s pushers (by app id, then push key) and the chats they muted (by id).
    async fn push_settings(&self, username: &str) -> Result<PushSettings>;
    /// Mute or unmute `chat` for `username`, a member (`NotParticipant`, `ChatNotFound`). A
    /// mute ends with the membership.
    async fn mute_chat(&self, chat: ChatId, username: &str, muted: bool) -> Result<()>;
    /// The pushers to notify of post `up_to` in `chat` among `usernames`: those who are
    /// members and have not muted it, each pusher with its user's unread count in the chat as
    /// of that post (others' live posts past their read position, up to it). By username, then
    /// app id and push key.
    async fn push_targets(
        &self,
        chat: ChatId,
        usernames: &[String],
        up_to: Seq,
    ) -> Result<Vec<PushTarget>>;
    /// Queue notifications (one transaction). One for a pusher removed meanwhile is dropped.
    async fn queue_pushes(&self, pushes: Vec<NewPush>) -> Result<()>;
    /// Claim up to `limit` queued notifications due by `now`, oldest due first: each is
    /// hidden from other claims until `until` (then due again, should its sender die), and is
    /// settled with [`push_sent`](Self::push_sent) or [`push_failed`](Self::push_failed).
    /// Several servers may claim at once; none gets a notification another holds.
    async fn claim_pushes(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<QueuedPush>>;
    /// Notifications that reached their gateway (or were given up): remove them from the
    /// queue, in one statement.
    async fn push_sent(&self, ids: &[i64]) -> Result<()>;
    /// A notification's send failed: try again at `due`, having failed `attempts` times.
    async fn push_failed(&self, id: i64, attempts: u32, due: Timestamp) -> Result<()>;
    /// The gateway rejected this push key: remove the pusher, whoever has it, with its queue.
    async fn reject_pushkey(&self, app_id: &str, pushkey: &str) -> Result<()>;
    /// How many notifications are queued (due or not).
    async fn queued_pushes(&self) -> Result<u64>;

    // ---- provided ----

    /// Finish pending work and release connections. Later calls fail.
    async fn close(&self) {}

    /// `Ok(())` if `username` takes part in `chat`, else `NotParticipant` (or `ChatNotFound`).
    async fn require_participant(&self, chat: ChatId, username: &str) -> Result<()> {
        if self.is_participant(chat, username).await? {
            Ok(())
        } else {
            Err(crate::Error::NotParticipant { chat, username: username.to_owned() })
        }
    }
}

/// The rules of a media record that need no stored data, the same for every backend: an
/// attachment is shared in a chat, an avatar in none, and the size fits a stored `BIGINT`.
/// (`InvalidMedia` comes before `UserNotFound` and the chat's refusals.)
pub(crate) fn check_media(media: &NewMedia) -> Result<()> {
    let problem = match (media.kind, media.chat) {
        (MediaKind::Avatar, Some(_)) => "cannot belong to a chat",
        (MediaKind::Attachment, None) => "needs a chat",
        _ if i64::try_from(media.size).is_err() => "is too large",
        _ => return Ok(()),
    };
    Err(crate::Error::InvalidMedia { kind: media.kind, problem })
}
