//! Messages, chats, users and events as Python classes: typed attributes, `repr`, equality.

use hellocode_sdk::{
    Attachment, BotToken, Chat, ChatKind, ConnectionState, Error, Event, EventKind, Invitation,
    InvitationState, InviteLink, IssuedBotToken, IssuedInviteLink, Language, Message, Participant,
    PendingSend, PushSettings, Pusher, ReadPosition, Role, SendState, Timestamp, User,
};
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::errors;

/// A timestamp as an aware `datetime` in UTC (exact to the millisecond).
pub(crate) fn datetime(py: Python<'_>, at: Timestamp) -> PyResult<Bound<'_, PyAny>> {
    static EPOCH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static TIMEDELTA: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let epoch = EPOCH.get_or_try_init(py, || -> PyResult<_> {
        let module = py.import("datetime")?;
        let utc = module.getattr("timezone")?.getattr("utc")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("tzinfo", utc)?;
        Ok(module.getattr("datetime")?.call((1970, 1, 1), Some(&kwargs))?.unbind())
    })?;
    let timedelta = TIMEDELTA
        .get_or_try_init(py, || -> PyResult<_> {
            Ok(py.import("datetime")?.getattr("timedelta")?.unbind())
        })?
        .bind(py);
    let millis = at.unix_millis();
    let delta = timedelta.call1((0, millis.div_euclid(1000), millis.rem_euclid(1000) * 1000))?;
    epoch.bind(py).add(delta)
}

fn optional_datetime(py: Python<'_>, at: Option<Timestamp>) -> PyResult<Bound<'_, PyAny>> {
    match at {
        Some(at) => datetime(py, at),
        None => Ok(py.None().into_bound(py)),
    }
}

/// `Name(field=repr, ...)`, with Python's `repr` of each value.
fn repr(name: &str, fields: &[(&str, Bound<'_, PyAny>)]) -> PyResult<String> {
    let mut out = format!("{name}(");
    for (i, (field, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(field);
        out.push('=');
        out.push_str(&value.repr()?.to_cow()?);
    }
    out.push(')');
    Ok(out)
}

fn obj<'py, T: IntoPyObject<'py>>(py: Python<'py>, value: T) -> PyResult<Bound<'py, PyAny>> {
    value.into_bound_py_any(py)
}

fn error_object<'py>(py: Python<'py>, error: Option<&Error>) -> PyResult<Bound<'py, PyAny>> {
    match error {
        Some(error) => errors::exception(py, error.code(), &error.to_string()),
        None => Ok(py.None().into_bound(py)),
    }
}

/// A member's role in a group: `Role.OWNER`, `Role.ADMIN` or `Role.MEMBER`; `value` is the wire
/// name ("owner", ...).
#[pyclass(name = "Role", module = "hellocode", frozen, eq, hash, from_py_object)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PyRole {
    /// Everything an admin may do, and roles and deletion.
    #[pyo3(name = "OWNER")]
    Owner,
    /// Adds and removes plain members, renames.
    #[pyo3(name = "ADMIN")]
    Admin,
    /// Reads and posts.
    #[pyo3(name = "MEMBER")]
    Member,
}

impl From<Role> for PyRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => PyRole::Owner,
            Role::Admin => PyRole::Admin,
            Role::Member => PyRole::Member,
        }
    }
}

impl From<PyRole> for Role {
    fn from(role: PyRole) -> Self {
        match role {
            PyRole::Owner => Role::Owner,
            PyRole::Admin => Role::Admin,
            PyRole::Member => Role::Member,
        }
    }
}

#[pymethods]
impl PyRole {
    /// The wire name: "owner", "admin" or "member".
    #[getter]
    fn value(&self) -> &'static str {
        Role::from(*self).as_str()
    }
    fn __str__(&self) -> &'static str {
        self.value()
    }
}

/// A role given as `hellocode.Role` or by its name ("owner", "admin", "member").
#[derive(FromPyObject)]
pub(crate) enum RoleArg {
    Role(PyRole),
    Name(String),
}

impl RoleArg {
    pub(crate) fn role(self) -> PyResult<Role> {
        match self {
            RoleArg::Role(role) => Ok(role.into()),
            RoleArg::Name(name) => Role::parse(&name).ok_or_else(|| {
                errors::invalid_argument(format!(
                    "no role {name:?}: give hellocode.Role or \"owner\", \"admin\", \"member\""
                ))
            }),
        }
    }
}

/// What kind of chat: `ChatKind.DIRECT` (two people, whose members never change) or
/// `ChatKind.GROUP`.
#[pyclass(name = "ChatKind", module = "hellocode", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PyChatKind {
    /// Two members, no roles, no name.
    #[pyo3(name = "DIRECT")]
    Direct,
    /// Any number of members with roles, a name and a topic.
    #[pyo3(name = "GROUP")]
    Group,
}

impl From<ChatKind> for PyChatKind {
    fn from(kind: ChatKind) -> Self {
        match kind {
            ChatKind::Direct => PyChatKind::Direct,
            ChatKind::Group => PyChatKind::Group,
        }
    }
}

#[pymethods]
impl PyChatKind {
    /// The wire name: "direct" or "group".
    #[getter]
    fn value(&self) -> &'static str {
        match self {
            PyChatKind::Direct => ChatKind::Direct.as_str(),
            PyChatKind::Group => ChatKind::Group.as_str(),
        }
    }
    fn __str__(&self) -> &'static str {
        self.value()
    }
}

/// What a chat item is: `EventKind.MESSAGE` for a post, else the event (`EDIT`, `DELETE`,
/// `JOIN`, `LEAVE`, `REMOVE`, `ROLE`, `RENAME`, `TOPIC`).
#[pyclass(name = "EventKind", module = "hellocode", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PyEventKind {
    /// A post.
    #[pyo3(name = "MESSAGE")]
    Message,
    /// `author` edited post `target`; `content` is the new text.
    #[pyo3(name = "EDIT")]
    Edit,
    /// `author` deleted post `target`.
    #[pyo3(name = "DELETE")]
    Delete,
    /// `member` joined with `role`, added by `author`.
    #[pyo3(name = "JOIN")]
    Join,
    /// `member` left.
    #[pyo3(name = "LEAVE")]
    Leave,
    /// `author` removed `member`.
    #[pyo3(name = "REMOVE")]
    Remove,
    /// `member`'s role became `role`.
    #[pyo3(name = "ROLE")]
    Role,
    /// `author` renamed the group to `content` (empty: no name).
    #[pyo3(name = "RENAME")]
    Rename,
    /// `author` set the topic to `content` (empty: none).
    #[pyo3(name = "TOPIC")]
    Topic,
}

impl From<EventKind> for PyEventKind {
    fn from(kind: EventKind) -> Self {
        match kind {
            EventKind::Message => PyEventKind::Message,
            EventKind::Edit => PyEventKind::Edit,
            EventKind::Delete => PyEventKind::Delete,
            EventKind::Join => PyEventKind::Join,
            EventKind::Leave => PyEventKind::Leave,
            EventKind::Remove => PyEventKind::Remove,
            EventKind::Role => PyEventKind::Role,
            EventKind::Rename => PyEventKind::Rename,
            EventKind::Topic => PyEventKind::Topic,
        }
    }
}

#[pymethods]
impl PyEventKind {
    /// The wire name: "message" for a post, else "edit", "delete", "join", ...
    #[getter]
    fn value(&self) -> &'static str {
        match self {
            PyEventKind::Message => EventKind::Message.as_str(),
            PyEventKind::Edit => EventKind::Edit.as_str(),
            PyEventKind::Delete => EventKind::Delete.as_str(),
            PyEventKind::Join => EventKind::Join.as_str(),
            PyEventKind::Leave => EventKind::Leave.as_str(),
            PyEventKind::Remove => EventKind::Remove.as_str(),
            PyEventKind::Role => EventKind::Role.as_str(),
            PyEventKind::Rename => EventKind::Rename.as_str(),
            PyEventKind::Topic => EventKind::Topic.as_str(),
        }
    }
    fn __str__(&self) -> &'static str {
        self.value()
    }
}

/// A member of a chat and their role (None in a direct chat).
#[pyclass(name = "Participant", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyParticipant(pub(crate) Participant);

#[pymethods]
impl PyParticipant {
    /// The username.
    #[getter]
    fn username(&self) -> &str {
        &self.0.username
    }
    /// Their role in a group; None in a direct chat.
    #[getter]
    fn role(&self) -> Option<PyRole> {
        self.0.role.map(PyRole::from)
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "Participant",
            &[("username", obj(py, &self.0.username)?), ("role", obj(py, self.role())?)],
        )
    }
}

/// A stored chat item: a post, or (`kind` other than `EventKind.MESSAGE`) an event of the chat.
#[pyclass(name = "Message", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyMessage(pub(crate) Message);

#[pymethods]
impl PyMessage {
    /// Storage id, unique across chats.
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// The chat it belongs to.
    #[getter]
    fn chat_id(&self) -> i64 {
        self.0.chat_id.0
    }
    /// Its position in the chat: 1, 2, 3, ... without gaps.
    #[getter]
    fn seq(&self) -> i64 {
        self.0.seq.0
    }
    /// Username of the author.
    #[getter]
    fn author(&self) -> &str {
        &self.0.author
    }
    /// Text; empty once deleted.
    #[getter]
    fn content(&self) -> &str {
        &self.0.content
    }
    /// When it was stored (UTC).
    #[getter]
    fn timestamp<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime(py, self.0.timestamp)
    }
    /// The sender's idempotency key, if it gave one.
    #[getter]
    fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }
    /// When it was last edited (UTC).
    #[getter]
    fn edited_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        optional_datetime(py, self.0.edited_at)
    }
    /// Whether it was deleted.
    #[getter]
    fn deleted(&self) -> bool {
        self.0.deleted
    }
    /// What it is: `EventKind.MESSAGE` for a post, else the event.
    #[getter]
    fn kind(&self) -> PyEventKind {
        self.0.kind.into()
    }
    /// Whether it is a post (not an event).
    #[getter]
    fn is_post(&self) -> bool {
        self.0.is_post()
    }
    /// For an edit or a deletion: the `seq` of the post it changed.
    #[getter]
    fn target(&self) -> Option<i64> {
        self.0.target.map(|seq| seq.0)
    }
    /// For a membership event: whose membership changed.
    #[getter]
    fn member(&self) -> Option<&str> {
        self.0.member.as_deref()
    }
    /// For a join or a role change: the member's role from then on.
    #[getter]
    fn role(&self) -> Option<PyRole> {
        self.0.role.map(PyRole::from)
    }
    /// The files a post carries (download each from `/api/media/<id>` with the user's token).
    #[getter]
    fn attachments(&self) -> Vec<PyAttachment> {
        self.0.attachments.iter().cloned().map(PyAttachment).collect()
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut fields = vec![
            ("id", obj(py, self.0.id)?),
            ("chat_id", obj(py, self.0.chat_id.0)?),
            ("seq", obj(py, self.0.seq.0)?),
            ("author", obj(py, &self.0.author)?),
            ("content", obj(py, &self.0.content)?),
            ("timestamp", self.timestamp(py)?),
            ("client_id", obj(py, self.client_id())?),
            ("edited_at", self.edited_at(py)?),
            ("deleted", obj(py, self.0.deleted)?),
        ];
        if !self.0.attachments.is_empty() {
            fields.push(("attachments", obj(py, self.attachments())?));
        }
        if !self.0.is_post() {
            fields.push(("kind", obj(py, self.kind())?));
            fields.push(("target", obj(py, self.target())?));
            fields.push(("member", obj(py, self.member())?));
            fields.push(("role", obj(py, self.role())?));
        }
        repr("Message", &fields)
    }
}

/// A file a post carries: an attachment uploaded to its chat.
#[pyclass(name = "Attachment", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyAttachment(pub(crate) Attachment);

#[pymethods]
impl PyAttachment {
    /// The content's address: GET /api/media/<id> downloads it.
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }
    /// The file name to offer.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// The type the server detected from the content.
    #[getter]
    fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.0.size
    }
    /// An image's width in pixels.
    #[getter]
    fn width(&self) -> Option<u32> {
        self.0.width
    }
    /// An image's height in pixels.
    #[getter]
    fn height(&self) -> Option<u32> {
        self.0.height
    }
    /// An image's thumbnail address: GET /api/media/<id>/thumbnail serves it.
    #[getter]
    fn thumbnail(&self) -> Option<&str> {
        self.0.thumbnail.as_deref()
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "Attachment",
            &[
                ("id", obj(py, &self.0.id)?),
                ("name", obj(py, &self.0.name)?),
                ("content_type", obj(py, &self.0.content_type)?),
                ("size", obj(py, self.0.size)?),
            ],
        )
    }
}

/// A conversation: a direct chat of two, or a group with roles, a name and a topic.
#[pyclass(name = "Chat", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyChat(pub(crate) Chat);

#[pymethods]
impl PyChat {
    /// Chat id.
    #[getter]
    fn id(&self) -> i64 {
        self.0.id.0
    }
    /// Direct or group.
    #[getter]
    fn kind(&self) -> PyChatKind {
        self.0.kind.into()
    }
    /// A group's name, if it has one.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// A group's topic, if it has one.
    #[getter]
    fn topic(&self) -> Option<&str> {
        self.0.topic.as_deref()
    }
    /// Usernames of its participants, sorted.
    #[getter]
    fn participants(&self) -> Vec<String> {
        self.0.participants.iter().map(|p| p.username.clone()).collect()
    }
    /// Its participants with their roles, by username.
    #[getter]
    fn members(&self) -> Vec<PyParticipant> {
        self.0.participants.iter().cloned().map(PyParticipant).collect()
    }
    /// `username`'s role, if they are in this group (None in a direct chat).
    fn role_of(&self, username: &str) -> Option<PyRole> {
        self.0.role_of(username).map(PyRole::from)
    }
    /// Sequence number of the newest item (post or event), 0 when empty.
    #[getter]
    fn last_seq(&self) -> i64 {
        self.0.last_seq.0
    }
    /// When it was created (UTC).
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime(py, self.0.created_at)
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "Chat",
            &[
                ("id", obj(py, self.0.id.0)?),
                ("kind", obj(py, self.kind())?),
                ("name", obj(py, self.name())?),
                ("topic", obj(py, self.topic())?),
                ("members", obj(py, self.members())?),
                ("last_seq", obj(py, self.0.last_seq.0)?),
                ("created_at", self.created_at(py)?),
            ],
        )
    }
}

/// A user as others see it.
#[pyclass(name = "User", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyUser(pub(crate) User);

#[pymethods]
impl PyUser {
    /// Storage id.
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// Unique login name.
    #[getter]
    fn username(&self) -> &str {
        &self.0.username
    }
    /// IANA time zone name; empty when unknown.
    #[getter]
    fn timezone(&self) -> &str {
        &self.0.timezone
    }
    /// The languages the user wants to explore.
    #[getter]
    fn languages(&self) -> Vec<String> {
        self.0.languages.clone()
    }
    /// Reference to an uploaded avatar, if any.
    #[getter]
    fn avatar(&self) -> Option<&str> {
        self.0.avatar.as_deref()
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "User",
            &[
                ("id", obj(py, self.0.id)?),
                ("username", obj(py, &self.0.username)?),
                ("timezone", obj(py, &self.0.timezone)?),
                ("languages", obj(py, self.languages())?),
                ("avatar", obj(py, self.avatar())?),
            ],
        )
    }
}

/// A programming language people want to talk about.
#[pyclass(name = "Language", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyLanguage(pub(crate) Language);

#[pymethods]
impl PyLanguage {
    /// Storage id.
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// Display name, e.g. "Rust".
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("Language", &[("id", obj(py, self.0.id)?), ("name", obj(py, &self.0.name)?)])
    }
}

/// How far a member of a chat has read (`seq` 0: nothing yet).
#[pyclass(name = "ReadPosition", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyReadPosition(pub(crate) ReadPosition);

#[pymethods]
impl PyReadPosition {
    /// The member.
    #[getter]
    fn username(&self) -> &str {
        &self.0.username
    }
    /// Newest sequence number they have read.
    #[getter]
    fn seq(&self) -> i64 {
        self.0.seq.0
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "ReadPosition",
            &[("username", obj(py, &self.0.username)?), ("seq", obj(py, self.0.seq.0)?)],
        )
    }
}

/// A bot token just created: the server shows `token` this once.
#[pyclass(name = "IssuedBotToken", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyIssuedBotToken(pub(crate) IssuedBotToken);

#[pymethods]
impl PyIssuedBotToken {
    /// Its id, for `revoke_bot_token`.
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// Its label.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// The secret: connect with `token=`.
    #[getter]
    fn token(&self) -> &str {
        &self.0.token
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        // Never print the secret.
        repr("IssuedBotToken", &[("id", obj(py, self.0.id)?), ("name", obj(py, &self.0.name)?)])
    }
}

/// A bot token as listed (without its secret).
#[pyclass(name = "BotToken", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyBotToken(pub(crate) BotToken);

#[pymethods]
impl PyBotToken {
    /// Id.
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// The user the bot acts as.
    #[getter]
    fn username(&self) -> &str {
        &self.0.username
    }
    /// Its label.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// When it was created (UTC).
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime(py, self.0.created_at)
    }
    /// Whether it was revoked.
    #[getter]
    fn revoked(&self) -> bool {
        self.0.revoked
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "BotToken",
            &[
                ("id", obj(py, self.0.id)?),
                ("username", obj(py, &self.0.username)?),
                ("name", obj(py, &self.0.name)?),
                ("created_at", self.created_at(py)?),
                ("revoked", obj(py, self.0.revoked)?),
            ],
        )
    }
}

/// Where an invitation stands: `InvitationState.PENDING` (waiting for the invitee), then
/// `ACCEPTED`, `DECLINED` or `CANCELLED` (withdrawn); `value` is the wire name ("pending", ...).
#[pyclass(name = "InvitationState", module = "hellocode", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PyInvitationState {
    /// Waiting for the invitee's answer.
    #[pyo3(name = "PENDING")]
    Pending,
    /// The invitee joined.
    #[pyo3(name = "ACCEPTED")]
    Accepted,
    /// The invitee declined.
    #[pyo3(name = "DECLINED")]
    Declined,
    /// Its inviter, an owner or an admin withdrew it.
    #[pyo3(name = "CANCELLED")]
    Cancelled,
}

impl From<InvitationState> for PyInvitationState {
    fn from(state: InvitationState) -> Self {
        match state {
            InvitationState::Pending => PyInvitationState::Pending,
            InvitationState::Accepted => PyInvitationState::Accepted,
            InvitationState::Declined => PyInvitationState::Declined,
            InvitationState::Cancelled => PyInvitationState::Cancelled,
        }
    }
}

#[pymethods]
impl PyInvitationState {
    /// The wire name: "pending", "accepted", "declined" or "cancelled".
    #[getter]
    fn value(&self) -> &'static str {
        match self {
            PyInvitationState::Pending => InvitationState::Pending.as_str(),
            PyInvitationState::Accepted => InvitationState::Accepted.as_str(),
            PyInvitationState::Declined => InvitationState::Declined.as_str(),
            PyInvitationState::Cancelled => InvitationState::Cancelled.as_str(),
        }
    }
    fn __str__(&self) -> &'static str {
        self.value()
    }
}

/// An invitation of a user to a group, by one of its owners or admins.
#[pyclass(name = "Invitation", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyInvitation(pub(crate) Invitation);

#[pymethods]
impl PyInvitation {
    /// Its id, for `accept_invitation`, `decline_invitation` and `cancel_invitation`.
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// The chat the invitee is invited to.
    #[getter]
    fn chat_id(&self) -> i64 {
        self.0.chat_id.0
    }
    /// The chat's kind (a group).
    #[getter]
    fn kind(&self) -> PyChatKind {
        self.0.kind.into()
    }
    /// The chat's name as it now is, if it has one.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Who invited.
    #[getter]
    fn inviter(&self) -> &str {
        &self.0.inviter
    }
    /// Who is invited.
    #[getter]
    fn invitee(&self) -> &str {
        &self.0.invitee
    }
    /// Pending, or how it was settled.
    #[getter]
    fn state(&self) -> PyInvitationState {
        self.0.state.into()
    }
    /// When it was made (UTC).
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime(py, self.0.created_at)
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "Invitation",
            &[
                ("id", obj(py, self.0.id)?),
                ("chat_id", obj(py, self.0.chat_id.0)?),
                ("name", obj(py, self.name())?),
                ("inviter", obj(py, &self.0.inviter)?),
                ("invitee", obj(py, &self.0.invitee)?),
                ("state", obj(py, self.state())?),
                ("created_at", self.created_at(py)?),
            ],
        )
    }
}

/// An invite link of a group as its owners and admins see it (without its token).
#[pyclass(name = "InviteLink", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyInviteLink(pub(crate) InviteLink);

#[pymethods]
impl PyInviteLink {
    /// Its id, for `revoke_invite_link`.
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// The chat it joins.
    #[getter]
    fn chat_id(&self) -> i64 {
        self.0.chat_id.0
    }
    /// The owner or admin who created it.
    #[getter]
    fn created_by(&self) -> &str {
        &self.0.created_by
    }
    /// When (UTC).
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime(py, self.0.created_at)
    }
    /// The first moment it no longer joins anyone (UTC).
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime(py, self.0.expires_at)
    }
    /// How many joins it allows in all (None: no limit).
    #[getter]
    fn max_uses(&self) -> Option<u32> {
        self.0.max_uses
    }
    /// How many users joined with it.
    #[getter]
    fn uses(&self) -> u32 {
        self.0.uses
    }
    /// Whether it was revoked.
    #[getter]
    fn revoked(&self) -> bool {
        self.0.revoked
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "InviteLink",
            &[
                ("id", obj(py, self.0.id)?),
                ("chat_id", obj(py, self.0.chat_id.0)?),
                ("created_by", obj(py, &self.0.created_by)?),
                ("created_at", self.created_at(py)?),
                ("expires_at", self.expires_at(py)?),
                ("max_uses", obj(py, self.0.max_uses)?),
                ("uses", obj(py, self.0.uses)?),
                ("revoked", obj(py, self.0.revoked)?),
            ],
        )
    }
}

/// An invite link just created: the server shows `token` this once (`repr` hides it).
#[pyclass(name = "IssuedInviteLink", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyIssuedInviteLink(pub(crate) IssuedInviteLink);

#[pymethods]
impl PyIssuedInviteLink {
    /// The link (its `id` revokes it).
    #[getter]
    fn link(&self) -> PyInviteLink {
        PyInviteLink(self.0.link.clone())
    }
    /// The secret that joins the group (`join_by_link`).
    #[getter]
    fn token(&self) -> &str {
        &self.0.token
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        // Never print the secret.
        repr("IssuedInviteLink", &[("link", obj(py, self.link())?)])
    }
}

/// A device's registration for push notifications (`repr` hides its push key: a device token).
#[pyclass(name = "Pusher", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyPusher(pub(crate) Pusher);

#[pymethods]
impl PyPusher {
    /// The app, reverse-DNS style (`org.example.chat.android`).
    #[getter]
    fn app_id(&self) -> &str {
        &self.0.app_id
    }
    /// The device's token at FCM or APNs.
    #[getter]
    fn pushkey(&self) -> &str {
        &self.0.pushkey
    }
    /// The gateway's notify URL.
    #[getter]
    fn url(&self) -> &str {
        &self.0.url
    }
    /// A name the user recognises the device by ("" when not told).
    #[getter]
    fn device_name(&self) -> &str {
        &self.0.device_name
    }
    /// The device's language tag ("" when not told).
    #[getter]
    fn lang(&self) -> &str {
        &self.0.lang
    }
    /// Whether notifications carry the message's text.
    #[getter]
    fn previews(&self) -> bool {
        self.0.previews
    }
    /// When it was registered or last changed (UTC).
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime(py, self.0.created_at)
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        // Never print the push key.
        repr(
            "Pusher",
            &[
                ("app_id", obj(py, &self.0.app_id)?),
                ("url", obj(py, &self.0.url)?),
                ("device_name", obj(py, &self.0.device_name)?),
                ("lang", obj(py, &self.0.lang)?),
                ("previews", obj(py, self.0.previews)?),
                ("created_at", self.created_at(py)?),
            ],
        )
    }
}

/// A user's pushers and the chats they muted, as every push settings call returns them.
#[pyclass(name = "PushSettings", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyPushSettings(pub(crate) PushSettings);

#[pymethods]
impl PyPushSettings {
    /// The user's devices' pushers, by app id then push key.
    #[getter]
    fn pushers(&self) -> Vec<PyPusher> {
        self.0.pushers.iter().cloned().map(PyPusher).collect()
    }
    /// Ids of the chats that notify none of the user's devices, ascending.
    #[getter]
    fn muted_chats(&self) -> Vec<i64> {
        self.0.muted_chats.iter().map(|chat| chat.0).collect()
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "PushSettings",
            &[("pushers", obj(py, self.pushers())?), ("muted_chats", obj(py, self.muted_chats())?)],
        )
    }
}

/// A message handed to the send queue.
#[pyclass(name = "PendingSend", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyPendingSend(pub(crate) PendingSend);

#[pymethods]
impl PyPendingSend {
    /// The idempotency key; `SendUpdate` events carry it.
    #[getter]
    fn client_id(&self) -> &str {
        &self.0.client_id
    }
    /// The chat.
    #[getter]
    fn chat_id(&self) -> i64 {
        self.0.chat_id.0
    }
    /// The text.
    #[getter]
    fn content(&self) -> &str {
        &self.0.content
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "PendingSend",
            &[
                ("client_id", obj(py, &self.0.client_id)?),
                ("chat_id", obj(py, self.0.chat_id.0)?),
                ("content", obj(py, &self.0.content)?),
            ],
        )
    }
}

/// The connection's state: `kind` is "connected", "reconnecting" or "closed".
#[pyclass(name = "ConnectionState", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyConnectionState(pub(crate) ConnectionState);

#[pymethods]
impl PyConnectionState {
    /// "connected", "reconnecting" or "closed" ("unknown" for a state this version does not know).
    #[getter]
    pub(crate) fn kind(&self) -> &'static str {
        match &self.0 {
            ConnectionState::Connected { .. } => "connected",
            ConnectionState::Reconnecting { .. } => "reconnecting",
            ConnectionState::Closed { .. } => "closed",
            _ => "unknown",
        }
    }
    /// The authenticated user, when connected.
    #[getter]
    fn username(&self) -> Option<&str> {
        match &self.0 {
            ConnectionState::Connected { username } => Some(username),
            _ => None,
        }
    }
    /// The reconnection attempt (1 for the first retry), when reconnecting.
    #[getter]
    fn attempt(&self) -> Option<u32> {
        match &self.0 {
            ConnectionState::Reconnecting { attempt, .. } => Some(*attempt),
            _ => None,
        }
    }
    /// Seconds before the next attempt, when reconnecting.
    #[getter]
    fn delay(&self) -> Option<f64> {
        match &self.0 {
            ConnectionState::Reconnecting { delay, .. } => Some(delay.as_secs_f64()),
            _ => None,
        }
    }
    /// Why the connection was lost (reconnecting) or the client stopped (closed; `None` when
    /// the application closed it).
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let error = match &self.0 {
            ConnectionState::Reconnecting { error, .. } => Some(error),
            ConnectionState::Closed { error } => error.as_ref(),
            _ => None,
        };
        error_object(py, error)
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut fields = vec![("kind", obj(py, self.kind())?)];
        match &self.0 {
            ConnectionState::Connected { username } => {
                fields.push(("username", obj(py, username)?))
            }
            ConnectionState::Reconnecting { .. } => {
                fields.push(("attempt", obj(py, self.attempt())?));
                fields.push(("delay", obj(py, self.delay())?));
                fields.push(("error", self.error(py)?));
            }
            _ => fields.push(("error", self.error(py)?)),
        }
        repr("ConnectionState", &fields)
    }
}

/// A new message (the client's own included).
#[pyclass(name = "MessageEvent", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct MessageEvent(Message);

#[pymethods]
impl MessageEvent {
    /// The message.
    #[getter]
    fn message(&self) -> PyMessage {
        PyMessage(self.0.clone())
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("MessageEvent", &[("message", obj(py, self.message())?)])
    }
}

/// An event of a chat (an item that is not a post: an edit, a deletion, a member joining,
/// leaving or removed, a role change, a rename, a topic): exactly once and in order with the
/// chat's messages, live or resumed after a reconnect.
#[pyclass(name = "ChatEvent", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct ChatEvent(Message);

#[pymethods]
impl ChatEvent {
    /// The event (`message.kind` says which).
    #[getter]
    fn message(&self) -> PyMessage {
        PyMessage(self.0.clone())
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("ChatEvent", &[("message", obj(py, self.message())?)])
    }
}

/// A chat's members, roles, name or topic changed (live): the chat as it now is, after its
/// `ChatEvent`s.
#[pyclass(name = "ChatChanged", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct ChatChanged(Chat);

#[pymethods]
impl ChatChanged {
    /// The chat as it now is.
    #[getter]
    fn chat(&self) -> PyChat {
        PyChat(self.0.clone())
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("ChatChanged", &[("chat", obj(py, self.chat())?)])
    }
}

/// A chat was deleted, with its history (live). The client forgets it.
#[pyclass(name = "ChatDeleted", module = "hellocode", frozen, eq, get_all)]
#[derive(Clone, PartialEq)]
pub(crate) struct ChatDeleted {
    /// The chat.
    chat_id: i64,
    /// Who deleted it.
    by: String,
}

#[pymethods]
impl ChatDeleted {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("ChatDeleted", &[("chat_id", obj(py, self.chat_id)?), ("by", obj(py, &self.by)?)])
    }
}

/// A message was edited; carries its new content.
#[pyclass(name = "Edited", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct Edited(Message);

#[pymethods]
impl Edited {
    /// The message as edited.
    #[getter]
    fn message(&self) -> PyMessage {
        PyMessage(self.0.clone())
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("Edited", &[("message", obj(py, self.message())?)])
    }
}

/// A message was deleted.
#[pyclass(name = "Deleted", module = "hellocode", frozen, eq, get_all)]
#[derive(Clone, PartialEq)]
pub(crate) struct Deleted {
    /// The chat.
    chat_id: i64,
    /// The deleted message's sequence number.
    seq: i64,
}

#[pymethods]
impl Deleted {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("Deleted", &[("chat_id", obj(py, self.chat_id)?), ("seq", obj(py, self.seq)?)])
    }
}

/// Someone is typing.
#[pyclass(name = "Typing", module = "hellocode", frozen, eq, get_all)]
#[derive(Clone, PartialEq)]
pub(crate) struct Typing {
    /// The chat.
    chat_id: i64,
    /// Who.
    username: String,
}

#[pymethods]
impl Typing {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "Typing",
            &[("chat_id", obj(py, self.chat_id)?), ("username", obj(py, &self.username)?)],
        )
    }
}

/// Someone has read a chat up to `seq`.
#[pyclass(name = "Read", module = "hellocode", frozen, eq, get_all)]
#[derive(Clone, PartialEq)]
pub(crate) struct Read {
    /// The chat.
    chat_id: i64,
    /// Who.
    username: String,
    /// Newest sequence number read.
    seq: i64,
}

#[pymethods]
impl Read {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "Read",
            &[
                ("chat_id", obj(py, self.chat_id)?),
                ("username", obj(py, &self.username)?),
                ("seq", obj(py, self.seq)?),
            ],
        )
    }
}

/// A user who shares a chat with this one came online or went offline.
#[pyclass(name = "Presence", module = "hellocode", frozen, eq, get_all)]
#[derive(Clone, PartialEq)]
pub(crate) struct Presence {
    /// The user.
    username: String,
    /// Online or not.
    online: bool,
}

#[pymethods]
impl Presence {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "Presence",
            &[("username", obj(py, &self.username)?), ("online", obj(py, self.online)?)],
        )
    }
}

/// Right after each (re)connection: who of the users sharing a chat with this one is online
/// now. Everyone else is offline (this replaces what was known before); `Presence` tells each
/// later change.
#[pyclass(name = "Online", module = "hellocode", frozen, eq, get_all)]
#[derive(Clone, PartialEq)]
pub(crate) struct Online {
    /// The users online, by username.
    usernames: Vec<String>,
}

#[pymethods]
impl Online {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("Online", &[("usernames", obj(py, &self.usernames)?)])
    }
}

/// This user was invited to a group (`invitation.state` is `InvitationState.PENDING`), or an
/// invitation to them was withdrawn (`CANCELLED`). Live only: `Client.invitations()` lists the
/// pending ones.
#[pyclass(name = "InvitationEvent", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct InvitationEvent(Invitation);

#[pymethods]
impl InvitationEvent {
    /// The invitation.
    #[getter]
    fn invitation(&self) -> PyInvitation {
        PyInvitation(self.0.clone())
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("InvitationEvent", &[("invitation", obj(py, self.invitation())?)])
    }
}

/// This user was added to a new chat.
#[pyclass(name = "ChatCreated", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct ChatCreated(Chat);

#[pymethods]
impl ChatCreated {
    /// The chat.
    #[getter]
    fn chat(&self) -> PyChat {
        PyChat(self.0.clone())
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("ChatCreated", &[("chat", obj(py, self.chat())?)])
    }
}

/// A queued message changed state: `state` is "pending", "sent" (with `message`) or "failed"
/// (with `error`).
#[pyclass(name = "SendUpdate", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct SendUpdate(hellocode_sdk::SendUpdate);

#[pymethods]
impl SendUpdate {
    /// Which message (its `PendingSend.client_id`).
    #[getter]
    fn client_id(&self) -> &str {
        &self.0.client_id
    }
    /// The chat.
    #[getter]
    fn chat_id(&self) -> i64 {
        self.0.chat_id.0
    }
    /// "pending", "sent" or "failed" ("unknown" for a state this version does not know).
    #[getter]
    fn state(&self) -> &'static str {
        match &self.0.state {
            SendState::Pending => "pending",
            SendState::Sent(_) => "sent",
            SendState::Failed(_) => "failed",
            _ => "unknown",
        }
    }
    /// The stored message, once sent.
    #[getter]
    fn message(&self) -> Option<PyMessage> {
        match &self.0.state {
            SendState::Sent(message) => Some(PyMessage(message.clone())),
            _ => None,
        }
    }
    /// Why it failed, as the exception the package raises for it.
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.0.state {
            SendState::Failed(error) => error_object(py, Some(error)),
            _ => error_object(py, None),
        }
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "SendUpdate",
            &[
                ("client_id", obj(py, &self.0.client_id)?),
                ("chat_id", obj(py, self.0.chat_id.0)?),
                ("state", obj(py, self.state())?),
                ("message", obj(py, self.message())?),
                ("error", self.error(py)?),
            ],
        )
    }
}

/// The connection changed state.
#[pyclass(name = "ConnectionChanged", module = "hellocode", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct ConnectionChanged(ConnectionState);

#[pymethods]
impl ConnectionChanged {
    /// The new state.
    #[getter]
    fn state(&self) -> PyConnectionState {
        PyConnectionState(self.0.clone())
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("ConnectionChanged", &[("state", obj(py, self.state())?)])
    }
}

/// An event this version of the package does not know (from a newer SDK).
#[pyclass(name = "UnknownEvent", module = "hellocode", frozen, eq, get_all)]
#[derive(Clone, PartialEq)]
pub(crate) struct UnknownEvent {
    /// A description of the event.
    description: String,
}

#[pymethods]
impl UnknownEvent {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr("UnknownEvent", &[("description", obj(py, &self.description)?)])
    }
}

/// An SDK event on its way to Python: becomes an instance of the event's class.
pub(crate) struct PyEvent(pub(crate) Event);

impl<'py> IntoPyObject<'py> for PyEvent {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Event::Message(message) => obj(py, MessageEvent(message)),
            Event::Edited(message) => obj(py, Edited(message)),
            Event::Deleted { chat_id, seq } => obj(py, Deleted { chat_id: chat_id.0, seq: seq.0 }),
            Event::Typing { chat_id, username } => obj(py, Typing { chat_id: chat_id.0, username }),
            Event::Read { chat_id, username, seq } => {
                obj(py, Read { chat_id: chat_id.0, username, seq: seq.0 })
            }
            Event::Presence { username, online } => obj(py, Presence { username, online }),
            Event::Online { usernames } => obj(py, Online { usernames }),
            Event::ChatCreated(chat) => obj(py, ChatCreated(chat)),
            Event::ChatEvent(message) => obj(py, ChatEvent(message)),
            Event::ChatChanged(chat) => obj(py, ChatChanged(chat)),
            Event::ChatDeleted { chat_id, by } => obj(py, ChatDeleted { chat_id: chat_id.0, by }),
            Event::Invitation(invitation) => obj(py, InvitationEvent(invitation)),
            Event::Send(update) => obj(py, SendUpdate(update)),
            Event::Connection(state) => obj(py, ConnectionChanged(state)),
            other => obj(py, UnknownEvent { description: format!("{other:?}") }),
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRole>()?;
    m.add_class::<PyChatKind>()?;
    m.add_class::<PyEventKind>()?;
    m.add_class::<PyParticipant>()?;
    m.add_class::<PyAttachment>()?;
    m.add_class::<PyMessage>()?;
    m.add_class::<PyChat>()?;
    m.add_class::<PyUser>()?;
    m.add_class::<PyPendingSend>()?;
    m.add_class::<PyLanguage>()?;
    m.add_class::<PyReadPosition>()?;
    m.add_class::<PyIssuedBotToken>()?;
    m.add_class::<PyBotToken>()?;
    m.add_class::<PyInvitationState>()?;
    m.add_class::<PyInvitation>()?;
    m.add_class::<PyInviteLink>()?;
    m.add_class::<PyIssuedInviteLink>()?;
    m.add_class::<PyPusher>()?;
    m.add_class::<PyPushSettings>()?;
    m.add_class::<PyConnectionState>()?;
    m.add_class::<MessageEvent>()?;
    m.add_class::<Edited>()?;
    m.add_class::<Deleted>()?;
    m.add_class::<Typing>()?;
    m.add_class::<Read>()?;
    m.add_class::<Presence>()?;
    m.add_class::<Online>()?;
    m.add_class::<ChatCreated>()?;
    m.add_class::<ChatEvent>()?;
    m.add_class::<ChatChanged>()?;
    m.add_class::<ChatDeleted>()?;
    m.add_class::<InvitationEvent>()?;
    m.add_class::<SendUpdate>()?;
    m.add_class::<ConnectionChanged>()?;
    m.add_class::<UnknownEvent>()?;
    Ok(())
}
