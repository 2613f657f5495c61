//! What a Python bot handler sees: `hellocode.Context`, the checks `hellocode.checks` makes,
//! and `hellocode.CommandError`, which error hooks get.

use std::sync::Arc;

use hellocode_sdk::bot::{self, CommandError as SdkCommandError, checks, error_reply};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use crate::client::{PyClient, awaitable, awaitable_none};
use crate::types::{PyChat, PyInvitation, PyMessage};

pyo3::create_exception!(
    hellocode,
    CommandError,
    PyException,
    "Why a command did not run, or failed: what `Bot.on_error` hooks get."
);

/// The message a bot handler runs for (for `Bot.on_join`, the join event), and ways to answer
/// it.
#[pyclass(name = "Context", module = "hellocode", frozen)]
pub(crate) struct PyContext {
    pub(crate) ctx: bot::Context,
    args: String,
    client: Py<PyClient>,
}

impl PyContext {
    pub(crate) fn new(ctx: bot::Context, args: String, client: Py<PyClient>) -> Self {
        PyContext { ctx, args, client }
    }
}

#[pymethods]
impl PyContext {
    /// Send `text` to the message's chat; resolves with the stored message.
    fn reply<'py>(&self, py: Python<'py>, text: String) -> PyResult<Bound<'py, PyAny>> {
        let ctx = self.ctx.clone();
        awaitable(py, async move { ctx.reply(text).await.map(PyMessage) })
    }

    /// Show the chat that the bot is typing.
    fn typing<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let ctx = self.ctx.clone();
        awaitable(py, async move { ctx.typing().await })
    }

    /// The text after the command's name (empty for a plain message).
    #[getter]
    fn args(&self) -> &str {
        &self.args
    }

    /// The whole message text.
    #[getter]
    fn text(&self) -> &str {
        self.ctx.text()
    }

    /// Who sent the message; for a join, who added the member.
    #[getter]
    fn author(&self) -> &str {
        self.ctx.author()
    }

    /// For a join (`Bot.on_join`): who joined. None for a message.
    #[getter]
    fn member(&self) -> Option<&str> {
        self.ctx.member()
    }

    /// The chat's id.
    #[getter]
    fn chat_id(&self) -> i64 {
        self.ctx.chat_id().0
    }

    /// The chat as the bot last saw it, when known.
    #[getter]
    fn chat(&self) -> Option<PyChat> {
        self.ctx.chat().cloned().map(PyChat)
    }

    /// The message.
    #[getter]
    fn message(&self) -> PyMessage {
        PyMessage(self.ctx.message().clone())
    }

    /// The command's name as registered (aliases resolved); None for a plain message.
    #[getter]
    fn command(&self) -> Option<&str> {
        self.ctx.command()
    }

    /// Whether the chat is a direct chat (the bot and one other person; not a group).
    #[getter]
    fn is_direct(&self) -> bool {
        self.ctx.is_direct()
    }

    /// The bot's own username.
    #[getter]
    fn bot_username(&self) -> &str {
        self.ctx.bot_username()
    }

    /// The bot's client (the same connection).
    #[getter]
    fn client(&self, py: Python<'_>) -> Py<PyClient> {
        self.client.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<hellocode.Context command={:?} author={:?} chat_id={} args={:?}>",
            self.ctx.command(),
            self.ctx.author(),
            self.ctx.chat_id(),
            self.args
        )
    }
}

/// What a `Bot.on_invite` handler gets: an invitation of the bot to a group, and the ways to
/// answer it.
#[pyclass(name = "InviteContext", module = "hellocode", frozen)]
pub(crate) struct PyInviteContext {
    ctx: bot::InviteContext,
    client: Py<PyClient>,
}

impl PyInviteContext {
    pub(crate) fn new(ctx: bot::InviteContext, client: Py<PyClient>) -> Self {
        PyInviteContext { ctx, client }
    }
}

#[pymethods]
impl PyInviteContext {
    /// Accept: the bot joins the group; resolves with the chat.
    fn accept<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let ctx = self.ctx.clone();
        awaitable(py, async move { ctx.accept().await.map(PyChat) })
    }

    /// Decline (nobody is told).
    fn decline<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let ctx = self.ctx.clone();
        awaitable_none(py, async move { ctx.decline().await })
    }

    /// The invitation (pending).
    #[getter]
    fn invitation(&self) -> PyInvitation {
        PyInvitation(self.ctx.invitation().clone())
    }

    /// Who invited the bot.
    #[getter]
    fn inviter(&self) -> &str {
        self.ctx.inviter()
    }

    /// The chat the bot is invited to.
    #[getter]
    fn chat_id(&self) -> i64 {
        self.ctx.chat_id().0
    }

    /// The chat's name, if it has one.
    #[getter]
    fn chat_name(&self) -> Option<&str> {
        self.ctx.chat_name()
    }

    /// The chat, once this context accepted the invitation.
    #[getter]
    fn joined(&self) -> Option<PyChat> {
        self.ctx.joined().map(PyChat)
    }

    /// The bot's own username.
    #[getter]
    fn bot_username(&self) -> &str {
        self.ctx.bot_username()
    }

    /// The bot's client (the same connection).
    #[getter]
    fn client(&self, py: Python<'_>) -> Py<PyClient> {
        self.client.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<hellocode.InviteContext invitation={} inviter={:?} chat_id={}>",
            self.ctx.invitation().id,
            self.ctx.inviter(),
            self.ctx.chat_id()
        )
    }
}

/// A check made by the Rust framework (`hellocode.checks`): call it with a context for the
/// refusal it would give (None when it passes).
#[pyclass(name = "BuiltinCheck", module = "hellocode", frozen)]
pub(crate) struct PyNativeCheck {
    pub(crate) check: Arc<dyn bot::Check>,
    description: String,
}

#[pymethods]
impl PyNativeCheck {
    fn __call__(&self, ctx: &PyContext) -> Option<String> {
        self.check.check(&ctx.ctx).err()
    }

    fn __repr__(&self) -> String {
        format!("<hellocode.checks.{}>", self.description)
    }
}

/// Only in a direct chat between the bot and one other person (not in a group).
#[pyfunction]
fn _check_direct_only() -> PyNativeCheck {
    PyNativeCheck { check: Arc::new(checks::direct_only()), description: "direct_only()".into() }
}

/// Only for these users.
#[pyfunction]
fn _check_only_users(users: Vec<String>) -> PyNativeCheck {
    let description = format!("only_users({users:?})");
    PyNativeCheck { check: Arc::new(checks::only_users(users)), description }
}

/// The `hellocode.CommandError` for `error`: `kind`, `reply` (the default hook's answer to the
/// user) and, for a failed handler, `original` (also its `__cause__`).
pub(crate) fn command_error<'py>(
    py: Python<'py>,
    ctx: &bot::Context,
    error: &SdkCommandError,
) -> PyResult<Bound<'py, PyAny>> {
    let kind = match error {
        SdkCommandError::Usage { .. } => "usage",
        SdkCommandError::Refused(_) => "refused",
        SdkCommandError::Cooldown { .. } => "cooldown",
        SdkCommandError::Failed(_) => "failed",
        _ => "reply",
    };
    let original = match error {
        SdkCommandError::Failed(failure) => match failure.downcast_ref::<PyErr>() {
            Some(raised) => Some(raised.clone_ref(py)),
            None => Some(pyo3::exceptions::PyRuntimeError::new_err(failure.to_string())),
        },
        SdkCommandError::Reply(failure) => Some(crate::errors::to_py_err(py, failure)),
        _ => None,
    };
    let exception = CommandError::new_err(error.to_string());
    if let Some(original) = &original {
        exception.set_cause(py, Some(original.clone_ref(py)));
    }
    let value = exception.into_value(py).into_bound(py);
    value.setattr("kind", kind)?;
    value.setattr("reply", error_reply(ctx, error))?;
    value.setattr("original", original.map(|original| original.into_value(py)))?;
    Ok(value.into_any())
}

/// The text after the command's name in `text`: after a prefix or a mention of `bot`, then the
/// name.
pub(crate) fn args_of(text: &str, prefixes: &[String], bot: &str, mentions: bool) -> String {
    let mut rest = text.trim();
    if mentions
        && let Some(mentioned) = rest.strip_prefix('@')
        && mentioned.get(..bot.len()).is_some_and(|head| head.eq_ignore_ascii_case(bot))
    {
        let after = &mentioned[bot.len()..];
        rest = after.strip_prefix([':', ',']).unwrap_or(after).trim_start();
    }
    if let Some(unprefixed) = prefixes.iter().find_map(|prefix| rest.strip_prefix(prefix.as_str()))
    {
        rest = unprefixed;
    }
    let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    rest[name_end..].trim().to_owned()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let class = py.get_type::<CommandError>();
    class.setattr("kind", "failed")?;
    class.setattr("reply", py.None())?;
    class.setattr("original", py.None())?;
    m.add("CommandError", class)?;
    m.add_class::<PyContext>()?;
    m.add_class::<PyInviteContext>()?;
    m.add_class::<PyNativeCheck>()?;
    m.add_function(wrap_pyfunction!(_check_direct_only, m)?)?;
    m.add_function(wrap_pyfunction!(_check_only_users, m)?)?;
    Ok(())
}
