//! Messages, chats, users and events as Python classes: typed attributes, `repr`, equality.

use hellocode_sdk::{
    BotToken, Chat, ConnectionState, Error, Event, IssuedBotToken, Language, Message, PendingSend,
    SendState, Timestamp, User,
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

/// A stored chat message.
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
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "Message",
            &[
                ("id", obj(py, self.0.id)?),
                ("chat_id", obj(py, self.0.chat_id.0)?),
                ("seq", obj(py, self.0.seq.0)?),
                ("author", obj(py, &self.0.author)?),
                ("content", obj(py, &self.0.content)?),
                ("timestamp", self.timestamp(py)?),
                ("client_id", obj(py, self.client_id())?),
                ("edited_at", self.edited_at(py)?),
                ("deleted", obj(py, self.0.deleted)?),
            ],
        )
    }
}

/// A conversation between users.
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
    /// Usernames of its participants, sorted.
    #[getter]
    fn participants(&self) -> Vec<String> {
        self.0.participants.iter().map(|p| p.username.clone()).collect()
    }
    /// Sequence number of the newest message, 0 when empty.
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
                ("participants", obj(py, self.participants())?),
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
            Event::ChatCreated(chat) => obj(py, ChatCreated(chat)),
            Event::Send(update) => obj(py, SendUpdate(update)),
            Event::Connection(state) => obj(py, ConnectionChanged(state)),
            other => obj(py, UnknownEvent { description: format!("{other:?}") }),
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMessage>()?;
    m.add_class::<PyChat>()?;
    m.add_class::<PyUser>()?;
    m.add_class::<PyPendingSend>()?;
    m.add_class::<PyLanguage>()?;
    m.add_class::<PyIssuedBotToken>()?;
    m.add_class::<PyBotToken>()?;
    m.add_class::<PyConnectionState>()?;
    m.add_class::<MessageEvent>()?;
    m.add_class::<Edited>()?;
    m.add_class::<Deleted>()?;
    m.add_class::<Typing>()?;
    m.add_class::<Read>()?;
    m.add_class::<Presence>()?;
    m.add_class::<ChatCreated>()?;
    m.add_class::<SendUpdate>()?;
    m.add_class::<ConnectionChanged>()?;
    m.add_class::<UnknownEvent>()?;
    Ok(())
}
