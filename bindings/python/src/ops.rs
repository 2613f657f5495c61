//! What the async and the blocking client share: connect options, and each operation as an
//! owned SDK future whose output converts to Python.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use hellocode_sdk::{
    ChatId, Client, ClientConfig, Credentials, Event, Failover, History, ListenerHandle,
    ProfileUpdate, PusherSpec, Result, Seq,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::errors::invalid_argument;
use crate::types::{
    PyBotToken, PyChat, PyEvent, PyInvitation, PyInviteLink, PyIssuedBotToken, PyIssuedInviteLink,
    PyLanguage, PyMessage, PyPendingSend, PyPushSettings, PyReadPosition, PyUser, RoleArg,
};

/// Where and how to connect, checked before anything goes on the wire.
pub(crate) struct ConnectOptions {
    /// One server, or several nodes of one deployment to fail over among.
    urls: Vec<String>,
    credentials: Credentials,
    config: ClientConfig,
}

fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    if value > 0.0 {
        Duration::try_from_secs_f64(value)
            .map_err(|_| invalid_argument(format!("{name} is out of range: {value}")))
    } else {
        Err(invalid_argument(format!("{name} must be a positive number of seconds")))
    }
}

/// The keyword arguments `connect` takes (the stubs give their types).
const CONNECT_KEYWORDS: &[&str] = &[
    "username",
    "password",
    "token",
    "email",
    "register",
    "register_or_login",
    "request_timeout",
    "connect_timeout",
    "close_timeout",
    "keepalive",
    "write_timeout",
    "send_queue",
    "send_expiry",
    "start_positions",
    "max_reconnect_attempts",
    "reconnect_initial",
    "reconnect_max",
];

/// Keyword argument `name`, if given and not `None`.
fn keyword<'py, T>(options: Option<&Bound<'py, PyDict>>, name: &str) -> PyResult<Option<T>>
where
    T: for<'a> FromPyObject<'a, 'py>,
{
    let Some(value) = options.map(|options| options.get_item(name)).transpose()?.flatten() else {
        return Ok(None);
    };
    if value.is_none() {
        return Ok(None);
    }
    value.extract::<T>().map(Some).map_err(|error| {
        let error: PyErr = error.into();
        PyTypeError::new_err(format!("connect() argument {name}: {error}"))
    })
}

impl ConnectOptions {
    /// `connect(url, **options)`, checked: both clients' `connect` take the same keywords.
    pub(crate) fn from_keywords(
        url: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let urls = match url.extract::<String>() {
            Ok(url) => vec![url],
            Err(_) => url.extract::<Vec<String>>().map_err(|_| {
                PyTypeError::new_err("connect() argument url: a str, or a list of str (the nodes)")
            })?,
        };
        if urls.is_empty() {
            return Err(invalid_argument("connect() argument url: the list of nodes is empty"));
        }
        if let Some(options) = options {
            for key in options.keys() {
                let key: String = key.extract()?;
                if !CONNECT_KEYWORDS.contains(&key.as_str()) {
                    return Err(PyTypeError::new_err(format!(
                        "connect() got an unexpected keyword argument {key:?}"
                    )));
                }
            }
        }
        let register = keyword::<bool>(options, "register")?.unwrap_or(false);
        let register_or_login = keyword::<bool>(options, "register_or_login")?.unwrap_or(false);
        let credentials = credentials(
            keyword(options, "token")?,
            keyword(options, "username")?,
            keyword(options, "password")?,
            keyword(options, "email")?,
            register,
            register_or_login,
        )?;
        Ok(ConnectOptions { urls, credentials, config: config(options)? })
    }

    /// Connect (on the module's runtime when awaited there) to the first of the nodes that
    /// answers (`Failover`; with one URL, that server).
    pub(crate) async fn connect(self) -> Result<Client> {
        let urls: Vec<&str> = self.urls.iter().map(String::as_str).collect();
        Client::connect_with(Failover::websocket(&urls)?, self.credentials, self.config).await
    }
}

/// Who to be, from `connect`'s keyword arguments.
fn credentials(
    token: Option<String>,
    username: Option<String>,
    password: Option<String>,
    email: Option<String>,
    register: bool,
    register_or_login: bool,
) -> PyResult<Credentials> {
    let registering = register || register_or_login;
    Ok(match (token, username, password, email) {
        _ if register && register_or_login => {
            return Err(invalid_argument("give register=True or register_or_login=True"));
        }
        (Some(token), None, None, None) if !registering => Credentials::token(token),
        (Some(_), ..) => {
            return Err(invalid_argument(
                "token= excludes username=, password=, email= and registering",
            ));
        }
        (None, Some(username), Some(password), Some(email)) if register => {
            Credentials::register(username, email, password)
        }
        (None, Some(username), Some(password), Some(email)) if register_or_login => {
            Credentials::register_or_login(username, email, password)
        }
        _ if registering => {
            return Err(invalid_argument(
                "register=True and register_or_login=True need username=, email= and password=",
            ));
        }
        (None, Some(username), Some(password), None) => Credentials::password(username, password),
        (None, _, _, Some(_)) => {
            return Err(invalid_argument("email= is only used when registering"));
        }
        (None, ..) => return Err(invalid_argument("give username= and password=, or token=")),
    })
}

/// The client configuration from `connect`'s keyword arguments.
fn config(options: Option<&Bound<'_, PyDict>>) -> PyResult<ClientConfig> {
    let mut config = ClientConfig::default();
    let seconds_of = |name: &str| -> PyResult<Option<Duration>> {
        keyword::<f64>(options, name)?.map(|value| seconds(name, value)).transpose()
    };
    if let Some(value) = seconds_of("request_timeout")? {
        config.request_timeout = value;
    }
    if let Some(value) = seconds_of("connect_timeout")? {
        config.connect_timeout = value;
    }
    if let Some(value) = seconds_of("close_timeout")? {
        config.close_timeout = value;
    }
    if let Some(value) = seconds_of("keepalive")? {
        config.keepalive = value;
    }
    if let Some(value) = seconds_of("write_timeout")? {
        config.write_timeout = value;
    }
    if let Some(value) = keyword::<usize>(options, "send_queue")? {
        config.send_queue = value;
    }
    if let Some(value) = seconds_of("send_expiry")? {
        config.send_expiry = Some(value);
    }
    if let Some(positions) = keyword::<HashMap<i64, i64>>(options, "start_positions")? {
        config.start_positions =
            positions.into_iter().map(|(chat, seq)| (ChatId(chat), Seq(seq))).collect();
    }
    if let Some(attempts) = keyword::<u32>(options, "max_reconnect_attempts")? {
        config.reconnect.max_attempts = Some(attempts);
    }
    if let Some(value) = seconds_of("reconnect_initial")? {
        config.reconnect.initial = value;
    }
    let reconnect_max = seconds_of("reconnect_max")?;
    if let Some(value) = reconnect_max {
        config.reconnect.max = value;
    }
    if config.reconnect.max < config.reconnect.initial {
        if reconnect_max.is_some() {
            return Err(invalid_argument("reconnect_max must not be below reconnect_initial"));
        }
        // Only the first delay was given, above the default longest one.
        config.reconnect.max = config.reconnect.initial;
    }
    Ok(config)
}

pub(crate) fn send(
    client: &Client,
    chat_id: i64,
    text: String,
    client_id: Option<String>,
) -> impl Future<Output = Result<PyMessage>> + Send + 'static {
    let client = client.clone();
    async move {
        let sent = match client_id {
            Some(client_id) => client.send_with_client_id(ChatId(chat_id), text, client_id).await,
            None => client.send(ChatId(chat_id), text).await,
        };
        sent.map(PyMessage)
    }
}

pub(crate) fn enqueue(
    client: &Client,
    chat_id: i64,
    text: String,
    client_id: Option<String>,
) -> Result<PyPendingSend> {
    match client_id {
        Some(client_id) => client.enqueue_with_client_id(ChatId(chat_id), text, client_id),
        None => client.enqueue(ChatId(chat_id), text),
    }
    .map(PyPendingSend)
}

pub(crate) fn fetch_messages(
    client: &Client,
    chat_id: i64,
    before: Option<i64>,
    limit: Option<u32>,
) -> impl Future<Output = Result<Vec<PyMessage>>> + Send + 'static {
    let page = client.fetch_messages(ChatId(chat_id), before.map(Seq), limit);
    async move { Ok(page.await?.into_iter().map(PyMessage).collect()) }
}

pub(crate) fn create_chat(
    client: &Client,
    participants: Vec<String>,
) -> impl Future<Output = Result<PyChat>> + Send + 'static {
    let chat = client.create_chat(participants);
    async move { chat.await.map(PyChat) }
}

pub(crate) fn list_chats(
    client: &Client,
) -> impl Future<Output = Result<Vec<PyChat>>> + Send + 'static {
    let chats = client.list_chats();
    async move { Ok(chats.await?.into_iter().map(PyChat).collect()) }
}

pub(crate) fn find_users(
    client: &Client,
    language: String,
) -> impl Future<Output = Result<Vec<PyUser>>> + Send + 'static {
    let users = client.find_users(language);
    async move { Ok(users.await?.into_iter().map(PyUser).collect()) }
}

pub(crate) fn edit_message(
    client: &Client,
    chat_id: i64,
    seq: i64,
    text: String,
) -> impl Future<Output = Result<PyMessage>> + Send + 'static {
    let edited = client.edit_message(ChatId(chat_id), Seq(seq), text);
    async move { edited.await.map(PyMessage) }
}

pub(crate) fn ping(client: &Client) -> impl Future<Output = Result<f64>> + Send + 'static {
    let pong = client.ping();
    async move { Ok(pong.await?.as_secs_f64()) }
}

pub(crate) fn positions(
    client: &Client,
) -> impl Future<Output = Result<HashMap<i64, i64>>> + Send + 'static {
    let positions = client.positions();
    async move { Ok(positions.await?.into_iter().map(|(chat, seq)| (chat.0, seq.0)).collect()) }
}

pub(crate) fn pending_sends(
    client: &Client,
) -> impl Future<Output = Result<Vec<PyPendingSend>>> + Send + 'static {
    let pending = client.pending_sends();
    async move { Ok(pending.await?.into_iter().map(PyPendingSend).collect()) }
}

pub(crate) fn close(client: &Client) -> impl Future<Output = Result<()>> + Send + 'static {
    let closed = client.close();
    async move {
        closed.await;
        Ok(())
    }
}

/// A listener added with `add_listener`; `remove()` stops it (it keeps running when dropped).
#[pyclass(name = "ListenerHandle", module = "hellocode", frozen)]
pub(crate) struct PyListenerHandle(Mutex<Option<ListenerHandle>>);

#[pymethods]
impl PyListenerHandle {
    /// Stop calling the listener (events already being handled finish). Idempotent.
    fn remove(&self) {
        let handle = self.0.lock().map(|mut handle| handle.take());
        if let Ok(Some(handle)) = handle {
            handle.remove();
        }
    }
}

/// Call `callback(event)` for every event, on a runtime thread with the GIL taken. If it
/// returns a coroutine and `add_listener` was called inside a running asyncio loop, the
/// coroutine is scheduled on that loop. An exception goes to `sys.unraisablehook`.
pub(crate) fn add_listener(
    py: Python<'_>,
    client: &Client,
    callback: Py<PyAny>,
) -> PyResult<PyListenerHandle> {
    static ASYNCIO: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let asyncio = ASYNCIO.get_or_try_init(py, || py.import("asyncio").map(Bound::unbind))?;
    let event_loop: Option<Py<PyAny>> =
        asyncio.bind(py).call_method0("get_running_loop").ok().map(Bound::unbind);
    let asyncio = asyncio.clone_ref(py);
    let handle = client.add_listener(move |event: Event| {
        // Waiting for the GIL must not stall the runtime's other tasks.
        tokio::task::block_in_place(|| {
            Python::attach(|py| {
                let called = (|| -> PyResult<()> {
                    let result = callback.call1(py, (PyEvent(event),))?;
                    let result = result.bind(py);
                    if let Some(event_loop) = &event_loop {
                        let inspect = py.import("inspect")?;
                        if inspect.call_method1("iscoroutine", (result,))?.is_truthy()? {
                            asyncio
                                .bind(py)
                                .call_method1("run_coroutine_threadsafe", (result, event_loop))?;
                        }
                    }
                    Ok(())
                })();
                if let Err(error) = called {
                    error.write_unraisable(py, Some(callback.bind(py)));
                }
            })
        })
    });
    Ok(PyListenerHandle(Mutex::new(Some(handle))))
}

// ---- accounts, contacts, bot tokens, membership ----

pub(crate) fn get_user(
    client: &Client,
    username: String,
) -> impl Future<Output = Result<PyUser>> + Send + 'static {
    let user = client.get_user(username);
    async move { user.await.map(PyUser) }
}

pub(crate) fn update_profile(
    client: &Client,
    timezone: Option<String>,
    languages: Option<Vec<String>>,
) -> impl Future<Output = Result<PyUser>> + Send + 'static {
    let mut update = ProfileUpdate::new();
    if let Some(timezone) = timezone {
        update = update.timezone(timezone);
    }
    if let Some(languages) = languages {
        update = update.languages(languages);
    }
    let user = client.update_profile(update);
    async move { user.await.map(PyUser) }
}

pub(crate) fn languages(
    client: &Client,
) -> impl Future<Output = Result<Vec<PyLanguage>>> + Send + 'static {
    let languages = client.languages();
    async move { Ok(languages.await?.into_iter().map(PyLanguage).collect()) }
}

pub(crate) fn add_language(
    client: &Client,
    name: String,
) -> impl Future<Output = Result<PyLanguage>> + Send + 'static {
    let language = client.add_language(name);
    async move { language.await.map(PyLanguage) }
}

pub(crate) fn create_bot_token(
    client: &Client,
    name: String,
) -> impl Future<Output = Result<PyIssuedBotToken>> + Send + 'static {
    let issued = client.create_bot_token(name);
    async move { issued.await.map(PyIssuedBotToken) }
}

pub(crate) fn bot_tokens(
    client: &Client,
) -> impl Future<Output = Result<Vec<PyBotToken>>> + Send + 'static {
    let tokens = client.bot_tokens();
    async move { Ok(tokens.await?.into_iter().map(PyBotToken).collect()) }
}

// ---- push notifications ----

/// Register (or change) a device's pusher.
pub(crate) fn set_pusher(
    client: &Client,
    app_id: String,
    pushkey: String,
    url: String,
    device_name: Option<String>,
    lang: Option<String>,
    previews: Option<bool>,
) -> impl Future<Output = Result<PyPushSettings>> + Send + 'static {
    let mut spec = PusherSpec::new(app_id, pushkey, url);
    if let Some(name) = device_name {
        spec = spec.device_name(name);
    }
    if let Some(lang) = lang {
        spec = spec.lang(lang);
    }
    if let Some(previews) = previews {
        spec = spec.previews(previews);
    }
    let settings = client.set_pusher(spec);
    async move { settings.await.map(PyPushSettings) }
}

pub(crate) fn remove_pusher(
    client: &Client,
    app_id: String,
    pushkey: String,
) -> impl Future<Output = Result<PyPushSettings>> + Send + 'static {
    let settings = client.remove_pusher(app_id, pushkey);
    async move { settings.await.map(PyPushSettings) }
}

pub(crate) fn push_settings(
    client: &Client,
) -> impl Future<Output = Result<PyPushSettings>> + Send + 'static {
    let settings = client.push_settings();
    async move { settings.await.map(PyPushSettings) }
}

pub(crate) fn mute_chat(
    client: &Client,
    chat_id: i64,
    muted: bool,
) -> impl Future<Output = Result<PyPushSettings>> + Send + 'static {
    let settings = client.mute_chat(ChatId(chat_id), muted);
    async move { settings.await.map(PyPushSettings) }
}

pub(crate) fn add_participants(
    client: &Client,
    chat_id: i64,
    usernames: Vec<String>,
) -> impl Future<Output = Result<PyChat>> + Send + 'static {
    let chat = client.add_participants(ChatId(chat_id), usernames);
    async move { chat.await.map(PyChat) }
}

pub(crate) fn create_group(
    client: &Client,
    name: String,
    participants: Vec<String>,
) -> impl Future<Output = Result<PyChat>> + Send + 'static {
    let chat = client.create_group(name, participants);
    async move { chat.await.map(PyChat) }
}

pub(crate) fn get_chat(
    client: &Client,
    chat_id: i64,
) -> impl Future<Output = Result<PyChat>> + Send + 'static {
    let chat = client.get_chat(ChatId(chat_id));
    async move { chat.await.map(PyChat) }
}

pub(crate) fn read_positions(
    client: &Client,
    chat_id: i64,
) -> impl Future<Output = Result<Vec<PyReadPosition>>> + Send + 'static {
    let positions = client.read_positions(ChatId(chat_id));
    async move { Ok(positions.await?.into_iter().map(PyReadPosition).collect()) }
}

pub(crate) fn remove_participant(
    client: &Client,
    chat_id: i64,
    username: String,
) -> impl Future<Output = Result<PyChat>> + Send + 'static {
    let chat = client.remove_participant(ChatId(chat_id), username);
    async move { chat.await.map(PyChat) }
}

pub(crate) fn set_role(
    client: &Client,
    chat_id: i64,
    username: String,
    role: RoleArg,
) -> PyResult<impl Future<Output = Result<PyChat>> + Send + 'static> {
    let chat = client.set_role(ChatId(chat_id), username, role.role()?);
    Ok(async move { chat.await.map(PyChat) })
}

pub(crate) fn update_chat(
    client: &Client,
    chat_id: i64,
    name: Option<String>,
    topic: Option<String>,
) -> impl Future<Output = Result<PyChat>> + Send + 'static {
    let chat = client.update_chat(ChatId(chat_id), name, topic);
    async move { chat.await.map(PyChat) }
}

pub(crate) fn chat_with(
    client: &Client,
    usernames: Vec<String>,
) -> impl Future<Output = Result<PyChat>> + Send + 'static {
    let chat = client.chat_with(usernames);
    async move { chat.await.map(PyChat) }
}

// ---- invitations and invite links ----

pub(crate) fn invite(
    client: &Client,
    chat_id: i64,
    username: String,
) -> impl Future<Output = Result<PyInvitation>> + Send + 'static {
    let invitation = client.invite(ChatId(chat_id), username);
    async move { invitation.await.map(PyInvitation) }
}

pub(crate) fn invitations(
    client: &Client,
) -> impl Future<Output = Result<Vec<PyInvitation>>> + Send + 'static {
    let invitations = client.invitations();
    async move { Ok(invitations.await?.into_iter().map(PyInvitation).collect()) }
}

pub(crate) fn accept_invitation(
    client: &Client,
    invitation_id: i64,
) -> impl Future<Output = Result<PyChat>> + Send + 'static {
    let chat = client.accept_invitation(invitation_id);
    async move { chat.await.map(PyChat) }
}

/// `create_invite_link(chat_id, *, expires_in=None, max_uses=None)`: `expires_in` in seconds
/// (a part of a second counts as one).
pub(crate) fn create_invite_link(
    client: &Client,
    chat_id: i64,
    expires_in: Option<f64>,
    max_uses: Option<u32>,
) -> PyResult<impl Future<Output = Result<PyIssuedInviteLink>> + Send + 'static> {
    let expires_in = expires_in
        .map(|value| {
            Duration::try_from_secs_f64(value).map_err(|_| {
                invalid_argument(format!("expires_in must be a number of seconds, not {value}"))
            })
        })
        .transpose()?;
    let issued = client.create_invite_link(ChatId(chat_id), expires_in, max_uses);
    Ok(async move { issued.await.map(PyIssuedInviteLink) })
}

pub(crate) fn invite_links(
    client: &Client,
    chat_id: i64,
) -> impl Future<Output = Result<Vec<PyInviteLink>>> + Send + 'static {
    let links = client.invite_links(ChatId(chat_id));
    async move { Ok(links.await?.into_iter().map(PyInviteLink).collect()) }
}

pub(crate) fn join_by_link(
    client: &Client,
    token: String,
) -> impl Future<Output = Result<PyChat>> + Send + 'static {
    let chat = client.join_by_link(token);
    async move { chat.await.map(PyChat) }
}

/// A chat's history, newest first, fetched in pages as it is read; shared by the async and
/// the blocking iterator.
pub(crate) type SharedHistory = Arc<tokio::sync::Mutex<History>>;

pub(crate) fn history(client: &Client, chat_id: i64, before: Option<i64>) -> SharedHistory {
    let history = match before {
        Some(seq) => client.history_before(ChatId(chat_id), Seq(seq)),
        None => client.history(ChatId(chat_id)),
    };
    Arc::new(tokio::sync::Mutex::new(history))
}

/// The next message of a history (`None` at its end).
pub(crate) fn history_next(
    history: &SharedHistory,
) -> impl Future<Output = Result<Option<PyMessage>>> + Send + 'static {
    let history = history.clone();
    async move { history.lock().await.next().await.transpose().map(|m| m.map(PyMessage)) }
}
