//! The asyncio client: `await hellocode.connect(...)`, every operation as an awaitable.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;

use hellocode_sdk::{ChatId, Client, Event, Events, Seq};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::completer::{Deliver, deliver_awaitable};
use crate::errors::to_py_err;
use crate::media;
use crate::ops::{self, ConnectOptions, PyListenerHandle};
use crate::types::{PyConnectionState, PyEvent, PyPendingSend, RoleArg};

/// An awaitable for an SDK future, run on the module's runtime; the GIL is not held while it
/// waits, and its result is made Python on the event loop's thread (see the `completer` module).
pub(crate) fn awaitable<'py, T>(
    py: Python<'py>,
    future: impl Future<Output = hellocode_sdk::Result<T>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    deliver_awaitable(py, async move {
        let result = future.await;
        Box::new(move |py: Python<'_>| match result {
            Ok(value) => to_object(py, value),
            Err(error) => Err(to_py_err(py, &error)),
        }) as Deliver
    })
}

/// `value` as a Python object.
fn to_object<T: for<'a> IntoPyObject<'a>>(py: Python<'_>, value: T) -> PyResult<Py<PyAny>> {
    value.into_py_any(py)
}

/// An awaitable for an SDK future without a result: it gives `None` (a `()` would become an
/// empty tuple).
pub(crate) fn awaitable_none<'py>(
    py: Python<'py>,
    future: impl Future<Output = hellocode_sdk::Result<()>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>> {
    awaitable(py, async move { future.await.map(|()| None::<()>) })
}

/// Connect and authenticate; see the stubs for the arguments.
#[pyfunction]
#[pyo3(signature = (url, **options))]
fn connect<'py>(
    py: Python<'py>,
    url: &Bound<'py, PyAny>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let options = ConnectOptions::from_keywords(url, options)?;
    let connecting = options.connect();
    awaitable(py, async move { Ok(PyClient { client: connecting.await? }) })
}

/// A connection to a HelloCode server that survives disconnects (asyncio).
#[pyclass(name = "Client", module = "hellocode", frozen)]
pub(crate) struct PyClient {
    pub(crate) client: Client,
}

#[pymethods]
impl PyClient {
    /// The authenticated user.
    #[getter]
    fn username(&self) -> &str {
        self.client.username()
    }

    /// The newest token (save it to connect later without the password).
    #[getter]
    fn token(&self) -> Option<String> {
        self.client.token()
    }

    /// The connection's current state.
    #[getter]
    fn state(&self) -> PyConnectionState {
        PyConnectionState(self.client.state())
    }

    /// Send a message and wait until the server has stored it; returns the stored message.
    #[pyo3(signature = (chat_id, text, *, client_id=None))]
    fn send<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        text: String,
        client_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::send(&self.client, chat_id, text, client_id))
    }

    /// Queue a message and return at once; its states arrive as `SendUpdate` events.
    fn enqueue(&self, py: Python<'_>, chat_id: i64, text: String) -> PyResult<PyPendingSend> {
        ops::enqueue(&self.client, chat_id, text, None).map_err(|e| to_py_err(py, &e))
    }

    /// Queue a message under a client id of your own (1 to 128 bytes).
    fn enqueue_with_client_id(
        &self,
        py: Python<'_>,
        chat_id: i64,
        text: String,
        client_id: String,
    ) -> PyResult<PyPendingSend> {
        ops::enqueue(&self.client, chat_id, text, Some(client_id)).map_err(|e| to_py_err(py, &e))
    }

    /// Messages queued and not yet acknowledged, oldest first.
    fn pending_sends<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::pending_sends(&self.client))
    }

    /// A page of history, newest first.
    #[pyo3(signature = (chat_id, before=None, limit=None))]
    fn fetch_messages<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::fetch_messages(&self.client, chat_id, before, limit))
    }

    /// Create a chat with these users (the caller is always in it).
    fn create_chat<'py>(
        &self,
        py: Python<'py>,
        participants: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::create_chat(&self.client, participants))
    }

    /// The caller's chats.
    fn list_chats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::list_chats(&self.client))
    }

    /// The users who want to talk about `language`.
    fn find_users<'py>(&self, py: Python<'py>, language: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::find_users(&self.client, language))
    }

    /// Tell the chat's other participants that this user is typing.
    fn typing<'py>(&self, py: Python<'py>, chat_id: i64) -> PyResult<Bound<'py, PyAny>> {
        awaitable_none(py, self.client.typing(ChatId(chat_id)))
    }

    /// Read receipt: this user has read the chat up to `seq`.
    fn mark_read<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        seq: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable_none(py, self.client.mark_read(ChatId(chat_id), Seq(seq)))
    }

    /// How far each member of a chat has read (this user included): a list of `ReadPosition`
    /// by username, `seq` 0 for nothing read yet.
    fn read_positions<'py>(&self, py: Python<'py>, chat_id: i64) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::read_positions(&self.client, chat_id))
    }

    /// Replace the text of one of this user's messages; returns the edited message.
    fn edit_message<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        seq: i64,
        text: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::edit_message(&self.client, chat_id, seq, text))
    }

    /// Delete one of this user's messages.
    fn delete_message<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        seq: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable_none(py, self.client.delete_message(ChatId(chat_id), Seq(seq)))
    }

    /// Round trip to the server, in seconds.
    fn ping<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::ping(&self.client))
    }

    /// The last sequence number handed to the application, per chat id.
    fn positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::positions(&self.client))
    }

    /// A user's public profile.
    fn get_user<'py>(&self, py: Python<'py>, username: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::get_user(&self.client, username))
    }

    /// Change this user's time zone and/or languages; returns the updated profile.
    #[pyo3(signature = (*, timezone=None, languages=None))]
    fn update_profile<'py>(
        &self,
        py: Python<'py>,
        timezone: Option<String>,
        languages: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::update_profile(&self.client, timezone, languages))
    }

    /// Every language known to the server.
    fn languages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::languages(&self.client))
    }

    /// Add a language (an existing name is returned as it is).
    fn add_language<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::add_language(&self.client, name))
    }

    /// This user's contacts (usernames).
    fn contacts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.client.contacts())
    }

    /// Add a contact; returns the contacts.
    fn add_contact<'py>(&self, py: Python<'py>, username: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.client.add_contact(username))
    }

    /// Remove a contact; returns the contacts.
    fn remove_contact<'py>(
        &self,
        py: Python<'py>,
        username: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.client.remove_contact(username))
    }

    /// Create a bot token acting as this user (its secret is shown this once).
    fn create_bot_token<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::create_bot_token(&self.client, name))
    }

    /// This user's bot tokens (without their secrets).
    fn bot_tokens<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::bot_tokens(&self.client))
    }

    /// Revoke a bot token (closing what it opened).
    fn revoke_bot_token<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyAny>> {
        awaitable_none(py, self.client.revoke_bot_token(id))
    }

    /// Register this device's pusher, or change the one with the same app id and push key;
    /// returns the push settings.
    #[pyo3(signature = (app_id, pushkey, url, *, device_name=None, lang=None, previews=None))]
    #[allow(clippy::too_many_arguments)]
    fn set_pusher<'py>(
        &self,
        py: Python<'py>,
        app_id: String,
        pushkey: String,
        url: String,
        device_name: Option<String>,
        lang: Option<String>,
        previews: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let settings =
            ops::set_pusher(&self.client, app_id, pushkey, url, device_name, lang, previews);
        awaitable(py, settings)
    }

    /// Remove one of this user's pushers (removing one that is not there changes nothing).
    fn remove_pusher<'py>(
        &self,
        py: Python<'py>,
        app_id: String,
        pushkey: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::remove_pusher(&self.client, app_id, pushkey))
    }

    /// This user's pushers and muted chats.
    fn push_settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::push_settings(&self.client))
    }

    /// Mute (or unmute) a chat's notifications on every device of this user.
    fn mute_chat<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        muted: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::mute_chat(&self.client, chat_id, muted))
    }

    /// Add users to a group (an owner or admin); returns the chat.
    fn add_participants<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        usernames: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::add_participants(&self.client, chat_id, usernames))
    }

    /// Create a group named `name` with these users; the caller owns it.
    fn create_group<'py>(
        &self,
        py: Python<'py>,
        name: String,
        participants: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::create_group(&self.client, name, participants))
    }

    /// One of this user's chats as it now is.
    fn get_chat<'py>(&self, py: Python<'py>, chat_id: i64) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::get_chat(&self.client, chat_id))
    }

    /// Remove a member from a group (an owner anyone, an admin plain members); returns the chat.
    fn remove_participant<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        username: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::remove_participant(&self.client, chat_id, username))
    }

    /// Leave a chat; the client forgets it.
    fn leave_chat<'py>(&self, py: Python<'py>, chat_id: i64) -> PyResult<Bound<'py, PyAny>> {
        awaitable_none(py, self.client.leave_chat(ChatId(chat_id)))
    }

    /// Give a member of a group a role (the owner only); returns the chat.
    fn set_role<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        username: String,
        role: RoleArg,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::set_role(&self.client, chat_id, username, role)?)
    }

    /// Rename a group and/or set its topic ("" clears one); returns the chat.
    #[pyo3(signature = (chat_id, *, name=None, topic=None))]
    fn update_chat<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        name: Option<String>,
        topic: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::update_chat(&self.client, chat_id, name, topic))
    }

    /// Delete a chat and its history.
    fn delete_chat<'py>(&self, py: Python<'py>, chat_id: i64) -> PyResult<Bound<'py, PyAny>> {
        awaitable_none(py, self.client.delete_chat(ChatId(chat_id)))
    }

    /// Invite a user to a group (an owner or admin); returns the pending invitation.
    fn invite<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        username: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::invite(&self.client, chat_id, username))
    }

    /// This user's pending invitations (every page).
    fn invitations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::invitations(&self.client))
    }

    /// Accept an invitation: join its group; returns the chat.
    fn accept_invitation<'py>(
        &self,
        py: Python<'py>,
        invitation_id: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::accept_invitation(&self.client, invitation_id))
    }

    /// Decline an invitation (nobody is told).
    fn decline_invitation<'py>(
        &self,
        py: Python<'py>,
        invitation_id: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable_none(py, self.client.decline_invitation(invitation_id))
    }

    /// Withdraw a pending invitation (its inviter, an owner or an admin).
    fn cancel_invitation<'py>(
        &self,
        py: Python<'py>,
        invitation_id: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable_none(py, self.client.cancel_invitation(invitation_id))
    }

    /// Create an invite link to a group (an owner or admin); its token is shown this once.
    #[pyo3(signature = (chat_id, *, expires_in=None, max_uses=None))]
    fn create_invite_link<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        expires_in: Option<f64>,
        max_uses: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::create_invite_link(&self.client, chat_id, expires_in, max_uses)?)
    }

    /// A group's invite links (every page; never their tokens).
    fn invite_links<'py>(&self, py: Python<'py>, chat_id: i64) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::invite_links(&self.client, chat_id))
    }

    /// Revoke an invite link of a group: it joins no one from then on.
    fn revoke_invite_link<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        link_id: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable_none(py, self.client.revoke_invite_link(ChatId(chat_id), link_id))
    }

    /// Join the group of an invite link; returns the chat.
    fn join_by_link<'py>(&self, py: Python<'py>, token: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::join_by_link(&self.client, token))
    }

    /// Send a message carrying files uploaded with `upload_attachment` (their ids, at most
    /// 10); returns the stored message, whose `attachments` describe them.
    fn send_with_attachments<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        text: String,
        attachments: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, media::send_with_attachments(&self.client, chat_id, text, attachments))
    }

    /// Upload a file to a chat; returns its `Attachment` (its `id` goes to
    /// `send_with_attachments`). `progress(done, total)` is called as the bytes are sent.
    #[pyo3(signature = (chat_id, name, data, progress=None))]
    fn upload_attachment<'py>(
        &self,
        py: Python<'py>,
        chat_id: i64,
        name: String,
        data: Cow<'_, [u8]>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let data = data.into_owned();
        awaitable(py, media::upload_attachment(&self.client, chat_id, name, data, progress))
    }

    /// Upload the user's picture (JPEG, PNG, GIF or WebP); the profile's `avatar` becomes its
    /// address.
    #[pyo3(signature = (name, data, progress=None))]
    fn upload_avatar<'py>(
        &self,
        py: Python<'py>,
        name: String,
        data: Cow<'_, [u8]>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, media::upload_avatar(&self.client, name, data.into_owned(), progress))
    }

    /// Download a file by its id or its address (`/api/media/<id>`, a profile's `avatar`).
    #[pyo3(signature = (media, progress=None))]
    fn download<'py>(
        &self,
        py: Python<'py>,
        media: String,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, media::download(&self.client, media, progress))
    }

    /// Download an image's thumbnail, by the image's id or address.
    #[pyo3(signature = (media, progress=None))]
    fn download_thumbnail<'py>(
        &self,
        py: Python<'py>,
        media: String,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, media::download_thumbnail(&self.client, media, progress))
    }

    /// The chat of exactly this user and `usernames`: the existing one, else a new one.
    fn chat_with<'py>(
        &self,
        py: Python<'py>,
        usernames: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::chat_with(&self.client, usernames))
    }

    /// A chat's whole history (older than `before`, if given), newest first, fetched in pages
    /// as it is read: `async for message in client.history(chat_id)`.
    #[pyo3(signature = (chat_id, before=None))]
    fn history(&self, chat_id: i64, before: Option<i64>) -> PyHistory {
        PyHistory(ops::history(&self.client, chat_id, before))
    }

    /// Wait (up to `close_timeout`) for queued messages, then close.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable_none(py, ops::close(&self.client))
    }

    /// Every event from now on (the first subscriber also gets those since connecting).
    fn events(&self) -> PyEventStream {
        PyEventStream::new(self.client.events())
    }

    /// Call `callback(event)` for every event, on a background thread; see the stubs.
    fn add_listener(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<PyListenerHandle> {
        ops::add_listener(py, &self.client, callback)
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        Ok(Bound::new(py, Done(Some(slf.into_any().unbind())))?.into_any())
    }

    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _args: &Bound<'py, pyo3::types::PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable_none(py, ops::close(&self.client))
    }

    fn __repr__(&self) -> String {
        let state = PyConnectionState(self.client.state());
        format!("<hellocode.Client username={:?} state={}>", self.client.username(), state.kind())
    }
}

/// Most events moved at once from the client's queue to a stream's ready list.
const BATCH: usize = 256;
/// After this many events handed out without waiting, one `__anext__` goes through the event
/// loop, so that a consumer that never catches up still lets the loop's other tasks run.
const YIELD_EVERY: u32 = 256;

/// An event stream's state, shared with the awaitables it hands out.
struct StreamState {
    events: tokio::sync::Mutex<Events>,
    /// Events taken from the client's queue and not yet handed out, oldest first.
    ready: Mutex<VecDeque<Event>>,
}

/// What a stream has without waiting (one value per poll, handed on at once: boxing the event
/// would cost an allocation per event).
#[allow(clippy::large_enum_variant)]
enum Now {
    Event(Event),
    Ended,
    Empty,
}

impl StreamState {
    fn ready(&self) -> std::sync::MutexGuard<'_, VecDeque<Event>> {
        self.ready.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Move what the client's queue holds (up to a batch) to `ready`; whether the queue ended.
    fn fill(events: &mut Events, ready: &mut VecDeque<Event>) -> bool {
        while ready.len() < BATCH {
            match events.recv().now_or_never() {
                Some(Some(event)) => ready.push_back(event),
                Some(None) => return true,
                None => break,
            }
        }
        false
    }

    /// The next event if there is one already (no waiting, no event loop).
    fn now(&self) -> Now {
        let mut ready = self.ready();
        if let Some(event) = ready.pop_front() {
            return Now::Event(event);
        }
        // Another awaitable is waiting for the queue: wait behind it.
        let Ok(mut events) = self.events.try_lock() else { return Now::Empty };
        let ended = Self::fill(&mut events, &mut ready);
        match ready.pop_front() {
            Some(event) => Now::Event(event),
            None if ended => Now::Ended,
            None => Now::Empty,
        }
    }

    /// The next event, waiting for it (`None` once the client is closed).
    async fn next(&self) -> Option<Event> {
        if let Some(event) = self.ready().pop_front() {
            return Some(event);
        }
        let mut events = self.events.lock().await;
        if let Some(event) = self.ready().pop_front() {
            return Some(event);
        }
        let first = events.recv().await?;
        Self::fill(&mut events, &mut self.ready());
        Some(first)
    }
}

/// `async for event in client.events()`; ends when the client is closed.
///
/// Events are taken from the client's queue in batches: while some are ready, `__anext__`
/// returns an awaitable that is already done (no asyncio future, no task, no thread hop); only
/// an empty stream waits on the runtime.
#[pyclass(name = "EventStream", module = "hellocode", frozen)]
pub(crate) struct PyEventStream {
    state: Arc<StreamState>,
    /// Events handed out in a row without going through the event loop.
    streak: AtomicU32,
}

impl PyEventStream {
    fn new(events: Events) -> Self {
        let state = StreamState {
            events: tokio::sync::Mutex::new(events),
            ready: Mutex::new(VecDeque::with_capacity(BATCH)),
        };
        PyEventStream { state: Arc::new(state), streak: AtomicU32::new(0) }
    }
}

#[pymethods]
impl PyEventStream {
    fn __aiter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.streak.fetch_add(1, Ordering::Relaxed) < YIELD_EVERY {
            match self.state.now() {
                Now::Event(event) => {
                    let event = PyEvent(event).into_pyobject(py)?.unbind();
                    return Ok(Bound::new(py, Done(Some(event)))?.into_any());
                }
                Now::Ended => return Err(PyStopAsyncIteration::new_err(())),
                Now::Empty => {}
            }
        }
        self.streak.store(0, Ordering::Relaxed);
        let state = self.state.clone();
        deliver_awaitable(py, async move {
            let event = state.next().await;
            Box::new(move |py: Python<'_>| match event {
                Some(event) => to_object(py, PyEvent(event)),
                None => Err(PyStopAsyncIteration::new_err(())),
            }) as Deliver
        })
    }
}

/// An awaitable that is already done: `await` gives its value at once.
#[pyclass(module = "hellocode")]
struct Done(Option<Py<PyAny>>);

#[pymethods]
impl Done {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self) -> PyResult<()> {
        Err(PyStopIteration::new_err((self.0.take(),)))
    }
}

/// `async for message in client.history(chat_id)`: newest first; raises the error that ends it.
#[pyclass(name = "History", module = "hellocode", frozen)]
pub(crate) struct PyHistory(ops::SharedHistory);

#[pymethods]
impl PyHistory {
    fn __aiter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let next = ops::history_next(&self.0);
        deliver_awaitable(py, async move {
            let next = next.await;
            Box::new(move |py: Python<'_>| match next {
                Ok(Some(message)) => to_object(py, message),
                Ok(None) => Err(PyStopAsyncIteration::new_err(())),
                Err(error) => Err(to_py_err(py, &error)),
            }) as Deliver
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyHistory>()?;
    m.add_function(wrap_pyfunction!(connect, m)?)?;
    m.add_class::<PyClient>()?;
    m.add_class::<PyEventStream>()?;
    m.add_class::<PyListenerHandle>()?;
    Ok(())
}
