//! Domain types shared by the protocol, the session state machine and storage.
//!
//! These are the original app's models (users, languages, chats, messages) with what it lacked:
//! a per-chat sequence number, client ids for idempotent sends, edit/delete state and read positions.

mod groups;
mod invitations;
mod media;
mod push;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use groups::{
    ChatChange, ChatChanged, ChatKind, CreatedChat, EventKind, NewChat, Revised, Role,
};
pub use invitations::{
    Invitation, InvitationState, InviteLink, Invited, NewInviteLink, invite_token_hash,
};
pub use media::{Attachment, Media, MediaKind, NewMedia};
pub use push::{
    MAX_APP_ID_BYTES, MAX_DEVICE_NAME_CHARS, MAX_PUSH_URL_BYTES, MAX_PUSHERS_PER_USER,
    MAX_PUSHKEY_BYTES, NOTIFY_PATH, NewPush, NewPusher, PushSettings, PushTarget, PushUrl, Pusher,
    QueuedPush, check_push_url,
};

/// Identifies a chat. On the wire it is accepted as a string (`"7"`) or a number (`7`) and written
/// as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChatId(pub i64);

impl fmt::Display for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for ChatId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for ChatId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PositiveIdVisitor("a chat id")).map(ChatId)
    }
}

/// Position of a message in its chat: 1 for the first message, then gap-free and increasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Seq(pub i64);

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Seq {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Seq {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // 0 is a valid "seen nothing yet" position for `resume` and `read`.
        deserializer.deserialize_any(NonNegativeVisitor("a sequence number")).map(Seq)
    }
}

/// Accepts a positive integer given as a JSON number or as a decimal string.
struct PositiveIdVisitor(&'static str);

impl serde::de::Visitor<'_> for PositiveIdVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (a positive integer, as a number or a string)", self.0)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
        if v > 0 { Ok(v) } else { Err(E::custom(format!("{} must be positive", self.0))) }
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v)
            .map_err(|_| E::custom(format!("{} is too large", self.0)))
            .and_then(|v| self.visit_i64(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
        let n: i64 = v.parse().map_err(|_| E::custom(format!("{} must be an integer", self.0)))?;
        self.visit_i64(n)
    }
}

/// Accepts an integer ≥ 0 given as a JSON number or as a decimal string.
struct NonNegativeVisitor(&'static str);

impl serde::de::Visitor<'_> for NonNegativeVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (an integer >= 0)", self.0)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
        if v >= 0 { Ok(v) } else { Err(E::custom(format!("{} must not be negative", self.0))) }
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("{} is too large", self.0)))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
        let n: i64 = v.parse().map_err(|_| E::custom(format!("{} must be an integer", self.0)))?;
        self.visit_i64(n)
    }
}

/// A point in time with millisecond precision, written on the wire as RFC 3339 in UTC.
///
/// ```
/// use hellocode_core::model::Timestamp;
/// let t = Timestamp::from_unix_millis(1_700_000_000_123);
/// assert_eq!(t.to_string(), "2023-11-14T22:13:20.123Z");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    /// A timestamp from milliseconds since the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// The current time, from the system clock.
    pub fn now() -> Self {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Timestamp((nanos / 1_000_000) as i64)
    }

    fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dt = self.to_datetime();
        // RFC 3339 with exactly three fractional digits and a `Z`, the shape JavaScript's
        // `Date.toISOString()` writes and every client library parses.
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.millisecond()
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let dt = OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)?;
        Ok(Timestamp((dt.unix_timestamp_nanos() / 1_000_000) as i64))
    }
}

/// A programming language people want to talk about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Language {
    /// Storage id.
    pub id: i64,
    /// Display name, unique, e.g. `Rust`.
    pub name: String,
}

/// A user as others may see it: no email, no password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Storage id.
    pub id: i64,
    /// Unique login name; the identity used everywhere on the wire.
    pub username: String,
    /// IANA time zone name, e.g. `Europe/Paris`; empty when unknown.
    pub timezone: String,
    /// Names of the languages the user wants to explore.
    pub languages: Vec<String>,
    /// Reference to an uploaded avatar (a path or URL chosen by the server), if any.
    pub avatar: Option<String>,
}

/// A user with the fields only the user itself and the server see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The public part.
    pub user: User,
    /// Email address given at registration.
    pub email: String,
    /// Argon2 hash in PHC string format. The core never computes it; the server does.
    pub password_hash: String,
    /// Moves forward whenever the password changes; the server signs it into login tokens and
    /// refuses tokens of an older generation (a password change logs out other sessions).
    pub token_generation: i64,
}

/// What a token check needs of an account: whose it is, and which generation of login tokens
/// is still good ([`Account::token_generation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHolder {
    /// The account's username.
    pub username: String,
    /// See [`Account::token_generation`].
    pub token_generation: i64,
}

/// The key under which a username is unique: its lowercase form's Unicode TR39 confusable
/// skeleton, lowercased again. `Carol`, `carol` and `саrol` (Cyrillic с and а) share a key, so
/// only one of them can be registered.
///
/// ```
/// use hellocode_core::model::username_key;
/// assert_eq!(username_key("Carol"), username_key("\u{441}\u{430}rol"));
/// assert_ne!(username_key("carol"), username_key("caroline"));
/// ```
pub fn username_key(username: &str) -> String {
    let lower = username.to_lowercase();
    unicode_security::skeleton(&lower).collect::<String>().to_lowercase()
}

/// The `author` a message shows once its account is deleted: the old name with a suffix that
/// no username can contain (usernames have no spaces), so that someone who registers the name
/// again never appears as the author of the old account's messages.
///
/// ```
/// assert_eq!(hellocode_core::model::deleted_author("carol"), "carol (deleted)");
/// ```
pub fn deleted_author(username: &str) -> String {
    format!("{username} (deleted)")
}

/// What is needed to create a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Unique login name.
    pub username: String,
    /// Email address.
    pub email: String,
    /// Argon2 hash in PHC string format.
    pub password_hash: String,
    /// IANA time zone name, or empty.
    pub timezone: String,
    /// Languages of interest (must exist).
    pub languages: Vec<String>,
}

impl NewUser {
    /// A user with no time zone and no languages.
    pub fn new(
        username: impl Into<String>,
        email: impl Into<String>,
        password_hash: impl Into<String>,
    ) -> Self {
        NewUser {
            username: username.into(),
            email: email.into(),
            password_hash: password_hash.into(),
            timezone: String::new(),
            languages: Vec::new(),
        }
    }
}

/// A change to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// New email address.
    pub email: Option<String>,
    /// New password hash (argon2, PHC format); also moves the account's token generation.
    pub password_hash: Option<String>,
    /// New time zone.
    pub timezone: Option<String>,
    /// New set of languages (replaces the old set).
    pub languages: Option<Vec<String>>,
    /// New avatar reference; `Some(None)` removes it.
    pub avatar: Option<Option<String>>,
}

/// A participant of a chat, as the original app wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// The participant's username.
    pub username: String,
    /// Their role in a group (`None` in a direct chat, where there are none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl Participant {
    /// A participant of a direct chat (no role).
    pub fn new(username: impl Into<String>) -> Self {
        Participant { username: username.into(), role: None }
    }
}

/// A conversation: a direct chat of two, or a group of any number with roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chat {
    /// Chat id.
    pub id: ChatId,
    /// Direct or group (a server older than groups sends none: its chats read as direct).
    #[serde(default)]
    pub kind: ChatKind,
    /// A group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A group's topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Its participants, ordered by username.
    pub participants: Vec<Participant>,
    /// Sequence number of the newest item (post or event), 0 when empty.
    #[serde(rename = "lastSeq")]
    pub last_seq: Seq,
    /// When it was created.
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
}

impl Chat {
    /// Whether `username` takes part in this chat.
    pub fn has_participant(&self, username: &str) -> bool {
        self.participants.iter().any(|p| p.username == username)
    }

    /// `username`'s role, if they take part in this chat and it is a group.
    pub fn role_of(&self, username: &str) -> Option<Role> {
        self.participants.iter().find(|p| p.username == username).and_then(|p| p.role)
    }
}

/// One sequenced item of a chat: a post, or an event (an edit, a deletion, a membership change,
/// a rename) that took the chat's next sequence number. See [`EventKind`].
///
/// Serialized as the original app's message object (`id`, `author`, `content`, `timestamp`) plus
/// the fields it lacked; a post has no `kind` field, so its object is what it always was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Storage id, unique across chats.
    pub id: i64,
    /// The chat it belongs to.
    #[serde(rename = "chatId")]
    pub chat_id: ChatId,
    /// Its position in the chat.
    pub seq: Seq,
    /// Username of the author; [`deleted_author`] of it once the author's account is deleted.
    pub author: String,
    /// Text; empty once deleted.
    pub content: String,
    /// When it was stored.
    pub timestamp: Timestamp,
    /// The sender's idempotency key, if it gave one.
    #[serde(rename = "clientId", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// When it was last edited.
    #[serde(rename = "editedAt", default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    /// Whether it was deleted (its content is then empty).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// What this item is; a post when absent.
    #[serde(default, skip_serializing_if = "EventKind::is_message")]
    pub kind: EventKind,
    /// For `edit` and `delete`: the post it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Seq>,
    /// For membership events: whose membership changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// For `join` and `role`: the member's role from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Files a post carries (uploaded to its chat first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl Message {
    /// Whether this item is a post (not an event).
    pub fn is_post(&self) -> bool {
        self.kind.is_message()
    }
}

/// A message to append to a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Target chat.
    pub chat_id: ChatId,
    /// Username of the author; must be a participant.
    pub author: String,
    /// Text.
    pub content: String,
    /// Idempotency key: a second append with the same author, chat and key returns the first.
    pub client_id: Option<String>,
    /// Time of the append.
    pub timestamp: Timestamp,
    /// Files it carries (attachments of its chat, described as recorded).
    pub attachments: Vec<Attachment>,
}

impl NewMessage {
    /// The post this append became, stored as item `seq` with row id `id`.
    pub fn into_post(self, id: i64, seq: Seq) -> Message {
        Message {
            id,
            chat_id: self.chat_id,
            seq,
            author: self.author,
            content: self.content,
            timestamp: self.timestamp,
            client_id: self.client_id,
            edited_at: None,
            deleted: false,
            kind: EventKind::Message,
            target: None,
            member: None,
            role: None,
            attachments: self.attachments,
        }
    }
}

/// How far a user has read in a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadPosition {
    /// The reader.
    pub username: String,
    /// Newest sequence number read.
    pub seq: Seq,
}

/// The result of a read receipt: the position now stored, and whether this receipt moved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMark {
    /// The stored position (never lower than before).
    pub seq: Seq,
    /// `false` when the stored position was already at or past the receipt's: nothing changed,
    /// so there is nothing to tell the other participants.
    pub moved: bool,
}

/// A long-lived token a user created for a bot. The secret itself is never stored: the server
/// signs a token naming this id, and refuses it once the record is revoked or gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotToken {
    /// Id, carried inside the signed token.
    pub id: i64,
    /// The user the bot acts as.
    pub username: String,
    /// A label chosen by the user, e.g. `matchmaker`.
    pub name: String,
    /// When it was created.
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
    /// Whether it was revoked.
    pub revoked: bool,
}
