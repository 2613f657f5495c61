//! The blocking client, `hellocode.blocking.Client`: the same SDK client, each call waiting on
//! the module's runtime with the GIL released, in slices so that Ctrl-C interrupts it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use hellocode_sdk::{ChatId, Client, Event, Seq};
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{invalid_argument, to_py_err};
use crate::media::{self, PyDownload};
use crate::ops::{self, ConnectOptions, PyListenerHandle};
use crate::runtime;
use crate::types::{
    PyAttachment, PyBotToken, PyChat, PyConnectionState, PyEvent, PyInvitation, PyInviteLink,
    PyIssuedBotToken, PyIssuedInviteLink, PyLanguage, PyMessage, PyPendingSend, PyPushSettings,
    PyReadPosition, PyUser, RoleArg,
};

/// How often a waiting call takes the GIL back to check for signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Run `future` on the module's runtime and wait for it without the GIL. A pending signal
/// (`KeyboardInterrupt`) cancels the future and is raised.
fn wait<T: Send + 'static>(
    py: Python<'_>,
    future: impl Future<Output = hellocode_sdk::Result<T>> + Send + 'static,
) -> PyResult<T> {
    let (sender, receiver) = mpsc::sync_channel(1);
    let task = runtime().spawn(async move {
        let _ = sender.send(future.await);
    });
    let receiver = Mutex::new(receiver);
    loop {
        let received = py.detach(|| match receiver.lock() {
            Ok(receiver) => receiver.recv_timeout(SIGNAL_CHECK),
            Err(_) => Err(mpsc::RecvTimeoutError::Disconnected),
        });
        match received {
            Ok(result) => return result.map_err(|error| to_py_err(py, &error)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(interrupted) = py.check_signals() {
                    task.abort();
                    return Err(interrupted);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(to_py_err(py, &hellocode_sdk::Error::Closed));
            }
        }
    }
}

/// A connection to a HelloCode server that survives disconnects, for code without asyncio.
#[pyclass(name = "BlockingClient", module = "hellocode.blocking", frozen)]
pub(crate) struct PyBlockingClient {
    client: Client,
}

#[pymethods]
impl PyBlockingClient {
    /// Connect and authenticate (same arguments as `hellocode.connect`).
    #[staticmethod]
    #[pyo3(signature = (url, **options))]
    fn connect(
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let options = ConnectOptions::from_keywords(url, options)?;
        Ok(PyBlockingClient { client: wait(py, options.connect())? })
    }

    /// The authenticated user.
    #[getter]
    fn username(&self) -> &str {
        self.client.username()
    }

    /// The newest token.
    #[getter]
    fn token(&self) -> Option<String> {
        self.client.token()
    }

    /// The connection's current state.
    #[getter]
    fn state(&self) -> PyConnectionState {
        PyConnectionState(self.client.state())
    }

    /// Send a message and wait until the server has stored it.
    #[pyo3(signature = (chat_id, text, *, client_id=None))]
    fn send(
        &self,
        py: Python<'_>,
        chat_id: i64,
        text: String,
        client_id: Option<String>,
    ) -> PyResult<PyMessage> {
        wait(py, ops::send(&self.client, chat_id, text, client_id))
    }

    /// Queue a message and return at once; its states arrive as `SendUpdate` events.
    fn enqueue(&self, py: Python<'_>, chat_id: i64, text: String) -> PyResult<PyPendingSend> {
        ops::enqueue(&self.client, chat_id, text, None).map_err(|e| to_py_err(py, &e))
    }

    /// Queue a message under a client id of your own.
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
    fn pending_sends(&self, py: Python<'_>) -> PyResult<Vec<PyPendingSend>> {
        wait(py, ops::pending_sends(&self.client))
    }

    /// A page of history, newest first.
    #[pyo3(signature = (chat_id, before=None, limit=None))]
    fn fetch_messages(
        &self,
        py: Python<'_>,
        chat_id: i64,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> PyResult<Vec<PyMessage>> {
        wait(py, ops::fetch_messages(&self.client, chat_id, before, limit))
    }

    /// Create a chat with these users.
    fn create_chat(&self, py: Python<'_>, participants: Vec<String>) -> PyResult<PyChat> {
        wait(py, ops::create_chat(&self.client, participants))
    }

    /// The caller's chats.
    fn list_chats(&self, py: Python<'_>) -> PyResult<Vec<PyChat>> {
        wait(py, ops::list_chats(&self.client))
    }

    /// The users who want to talk about `language`.
    fn find_users(&self, py: Python<'_>, language: String) -> PyResult<Vec<PyUser>> {
        wait(py, ops::find_users(&self.client, language))
    }

    /// Tell the chat's other participants that this user is typing.
    fn typing(&self, py: Python<'_>, chat_id: i64) -> PyResult<()> {
        wait(py, self.client.typing(ChatId(chat_id)))
    }

    /// Read receipt.
    fn mark_read(&self, py: Python<'_>, chat_id: i64, seq: i64) -> PyResult<()> {
        wait(py, self.client.mark_read(ChatId(chat_id), Seq(seq)))
    }

    /// How far each member of a chat has read (this user included), by username.
    fn read_positions(&self, py: Python<'_>, chat_id: i64) -> PyResult<Vec<PyReadPosition>> {
        wait(py, ops::read_positions(&self.client, chat_id))
    }

    /// Replace the text of one of this user's messages.
    fn edit_message(
        &self,
        py: Python<'_>,
        chat_id: i64,
        seq: i64,
        text: String,
    ) -> PyResult<PyMessage> {
        wait(py, ops::edit_message(&self.client, chat_id, seq, text))
    }

    /// Delete one of this user's messages.
    fn delete_message(&self, py: Python<'_>, chat_id: i64, seq: i64) -> PyResult<()> {
        wait(py, self.client.delete_message(ChatId(chat_id), Seq(seq)))
    }

    /// Round trip to the server, in seconds.
    fn ping(&self, py: Python<'_>) -> PyResult<f64> {
        wait(py, ops::ping(&self.client))
    }

    /// The last sequence number handed to the application, per chat id.
    fn positions(&self, py: Python<'_>) -> PyResult<HashMap<i64, i64>> {
        wait(py, ops::positions(&self.client))
    }

    /// A user's public profile.
    fn get_user(&self, py: Python<'_>, username: String) -> PyResult<PyUser> {
        wait(py, ops::get_user(&self.client, username))
    }

    /// Change this user's time zone and/or languages; returns the updated profile.
    #[pyo3(signature = (*, timezone=None, languages=None))]
    fn update_profile(
        &self,
        py: Python<'_>,
        timezone: Option<String>,
        languages: Option<Vec<String>>,
    ) -> PyResult<PyUser> {
        wait(py, ops::update_profile(&self.client, timezone, languages))
    }

    /// Every language known to the server.
    fn languages(&self, py: Python<'_>) -> PyResult<Vec<PyLanguage>> {
        wait(py, ops::languages(&self.client))
    }

    /// Add a language (an existing name is returned as it is).
    fn add_language(&self, py: Python<'_>, name: String) -> PyResult<PyLanguage> {
        wait(py, ops::add_language(&self.client, name))
    }

    /// This user's contacts (usernames).
    fn contacts(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        wait(py, self.client.contacts())
    }

    /// Add a contact; returns the contacts.
    fn add_contact(&self, py: Python<'_>, username: String) -> PyResult<Vec<String>> {
        wait(py, self.client.add_contact(username))
    }

    /// Remove a contact; returns the contacts.
    fn remove_contact(&self, py: Python<'_>, username: String) -> PyResult<Vec<String>> {
        wait(py, self.client.remove_contact(username))
    }

    /// Create a bot token acting as this user (its secret is shown this once).
    fn create_bot_token(&self, py: Python<'_>, name: String) -> PyResult<PyIssuedBotToken> {
        wait(py, ops::create_bot_token(&self.client, name))
    }

    /// This user's bot tokens (without their secrets).
    fn bot_tokens(&self, py: Python<'_>) -> PyResult<Vec<PyBotToken>> {
        wait(py, ops::bot_tokens(&self.client))
    }

    /// Revoke a bot token.
    fn revoke_bot_token(&self, py: Python<'_>, id: i64) -> PyResult<()> {
        wait(py, self.client.revoke_bot_token(id))
    }

    /// Register this device's pusher, or change the one with the same app id and push key;
    /// returns the push settings.
    #[pyo3(signature = (app_id, pushkey, url, *, device_name=None, lang=None, previews=None))]
    #[allow(clippy::too_many_arguments)]
    fn set_pusher(
        &self,
        py: Python<'_>,
        app_id: String,
        pushkey: String,
        url: String,
        device_name: Option<String>,
        lang: Option<String>,
        previews: Option<bool>,
    ) -> PyResult<PyPushSettings> {
        wait(py, ops::set_pusher(&self.client, app_id, pushkey, url, device_name, lang, previews))
    }

    /// Remove one of this user's pushers (removing one that is not there changes nothing).
    fn remove_pusher(
        &self,
        py: Python<'_>,
        app_id: String,
        pushkey: String,
    ) -> PyResult<PyPushSettings> {
        wait(py, ops::remove_pusher(&self.client, app_id, pushkey))
    }

    /// This user's pushers and muted chats.
    fn push_settings(&self, py: Python<'_>) -> PyResult<PyPushSettings> {
        wait(py, ops::push_settings(&self.client))
    }

    /// Mute (or unmute) a chat's notifications on every device of this user.
    fn mute_chat(&self, py: Python<'_>, chat_id: i64, muted: bool) -> PyResult<PyPushSettings> {
        wait(py, ops::mute_chat(&self.client, chat_id, muted))
    }

    /// Add users to a group (an owner or admin); returns the chat.
    fn add_participants(
        &self,
        py: Python<'_>,
        chat_id: i64,
        usernames: Vec<String>,
    ) -> PyResult<PyChat> {
        wait(py, ops::add_participants(&self.client, chat_id, usernames))
    }

    /// Create a group named `name` with these users; the caller owns it.
    fn create_group(
        &self,
        py: Python<'_>,
        name: String,
        participants: Vec<String>,
    ) -> PyResult<PyChat> {
        wait(py, ops::create_group(&self.client, name, participants))
    }

    /// One of this user's chats as it now is.
    fn get_chat(&self, py: Python<'_>, chat_id: i64) -> PyResult<PyChat> {
        wait(py, ops::get_chat(&self.client, chat_id))
    }

    /// Remove a member from a group; returns the chat.
    fn remove_participant(
        &self,
        py: Python<'_>,
        chat_id: i64,
        username: String,
    ) -> PyResult<PyChat> {
        wait(py, ops::remove_participant(&self.client, chat_id, username))
    }

    /// Leave a chat; the client forgets it.
    fn leave_chat(&self, py: Python<'_>, chat_id: i64) -> PyResult<()> {
        wait(py, self.client.leave_chat(ChatId(chat_id)))
    }

    /// Give a member of a group a role (the owner only); returns the chat.
    fn set_role(
        &self,
        py: Python<'_>,
        chat_id: i64,
        username: String,
        role: RoleArg,
    ) -> PyResult<PyChat> {
        wait(py, ops::set_role(&self.client, chat_id, username, role)?)
    }

    /// Rename a group and/or set its topic ("" clears one); returns the chat.
    #[pyo3(signature = (chat_id, *, name=None, topic=None))]
    fn update_chat(
        &self,
        py: Python<'_>,
        chat_id: i64,
        name: Option<String>,
        topic: Option<String>,
    ) -> PyResult<PyChat> {
        wait(py, ops::update_chat(&self.client, chat_id, name, topic))
    }

    /// Delete a chat and its history.
    fn delete_chat(&self, py: Python<'_>, chat_id: i64) -> PyResult<()> {
        wait(py, self.client.delete_chat(ChatId(chat_id)))
    }

    /// Invite a user to a group (an owner or admin); returns the pending invitation.
    fn invite(&self, py: Python<'_>, chat_id: i64, username: String) -> PyResult<PyInvitation> {
        wait(py, ops::invite(&self.client, chat_id, username))
    }

    /// This user's pending invitations (every page).
    fn invitations(&self, py: Python<'_>) -> PyResult<Vec<PyInvitation>> {
        wait(py, ops::invitations(&self.client))
    }

    /// Accept an invitation: join its group; returns the chat.
    fn accept_invitation(&self, py: Python<'_>, invitation_id: i64) -> PyResult<PyChat> {
        wait(py, ops::accept_invitation(&self.client, invitation_id))
    }

    /// Decline an invitation (nobody is told).
    fn decline_invitation(&self, py: Python<'_>, invitation_id: i64) -> PyResult<()> {
        wait(py, self.client.decline_invitation(invitation_id))
    }

    /// Withdraw a pending invitation (its inviter, an owner or an admin).
    fn cancel_invitation(&self, py: Python<'_>, invitation_id: i64) -> PyResult<()> {
        wait(py, self.client.cancel_invitation(invitation_id))
    }

    /// Create an invite link to a group (an owner or admin); its token is shown this once.
    #[pyo3(signature = (chat_id, *, expires_in=None, max_uses=None))]
    fn create_invite_link(
        &self,
        py: Python<'_>,
        chat_id: i64,
        expires_in: Option<f64>,
        max_uses: Option<u32>,
    ) -> PyResult<PyIssuedInviteLink> {
        wait(py, ops::create_invite_link(&self.client, chat_id, expires_in, max_uses)?)
    }

    /// A group's invite links (every page; never their tokens).
    fn invite_links(&self, py: Python<'_>, chat_id: i64) -> PyResult<Vec<PyInviteLink>> {
        wait(py, ops::invite_links(&self.client, chat_id))
    }

    /// Revoke an invite link of a group: it joins no one from then on.
    fn revoke_invite_link(&self, py: Python<'_>, chat_id: i64, link_id: i64) -> PyResult<()> {
        wait(py, self.client.revoke_invite_link(ChatId(chat_id), link_id))
    }

    /// Join the group of an invite link; returns the chat.
    fn join_by_link(&self, py: Python<'_>, token: String) -> PyResult<PyChat> {
        wait(py, ops::join_by_link(&self.client, token))
    }

    /// Send a message carrying files uploaded with `upload_attachment` (their ids, at most
    /// 10); returns the stored message.
    fn send_with_attachments(
        &self,
        py: Python<'_>,
        chat_id: i64,
        text: String,
        attachments: Vec<String>,
    ) -> PyResult<PyMessage> {
        wait(py, media::send_with_attachments(&self.client, chat_id, text, attachments))
    }

    /// Upload a file to a chat; returns its `Attachment`. `progress(done, total)` is called
    /// (on another thread) as the bytes are sent.
    #[pyo3(signature = (chat_id, name, data, progress=None))]
    fn upload_attachment(
        &self,
        py: Python<'_>,
        chat_id: i64,
        name: String,
        data: Cow<'_, [u8]>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<PyAttachment> {
        let data = data.into_owned();
        wait(py, media::upload_attachment(&self.client, chat_id, name, data, progress))
    }

    /// Upload the user's picture; the profile's `avatar` becomes its address.
    #[pyo3(signature = (name, data, progress=None))]
    fn upload_avatar(
        &self,
        py: Python<'_>,
        name: String,
        data: Cow<'_, [u8]>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<PyAttachment> {
        wait(py, media::upload_avatar(&self.client, name, data.into_owned(), progress))
    }

    /// Download a file by its id or its address (`/api/media/<id>`).
    #[pyo3(signature = (media, progress=None))]
    fn download(
        &self,
        py: Python<'_>,
        media: String,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<PyDownload> {
        wait(py, media::download(&self.client, media, progress))
    }

    /// Download an image's thumbnail, by the image's id or address.
    #[pyo3(signature = (media, progress=None))]
    fn download_thumbnail(
        &self,
        py: Python<'_>,
        media: String,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<PyDownload> {
        wait(py, media::download_thumbnail(&self.client, media, progress))
    }

    /// The chat of exactly this user and `usernames`: the existing one, else a new one.
    fn chat_with(&self, py: Python<'_>, usernames: Vec<String>) -> PyResult<PyChat> {
        wait(py, ops::chat_with(&self.client, usernames))
    }

    /// A chat's whole history (older than `before`, if given), newest first, fetched in pages
    /// as it is read.
    #[pyo3(signature = (chat_id, before=None))]
    fn history(&self, chat_id: i64, before: Option<i64>) -> PyBlockingHistory {
        PyBlockingHistory(ops::history(&self.client, chat_id, before))
    }

    /// Wait (up to `close_timeout`) for queued messages, then close.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        wait(py, ops::close(&self.client))
    }

    /// Every event from now on, as an iterator; with `timeout`, iteration ends when no event
    /// comes for that many seconds.
    #[pyo3(signature = (timeout=None))]
    fn events(&self, timeout: Option<f64>) -> PyResult<PyBlockingEvents> {
        let timeout = timeout.map(checked_timeout).transpose()?;
        let (sender, receiver) = mpsc::channel();
        let mut events = self.client.events();
        runtime().spawn(async move {
            while let Some(event) = events.recv().await {
                if sender.send(event).is_err() {
                    break;
                }
            }
        });
        Ok(PyBlockingEvents { receiver: Mutex::new(receiver), timeout })
    }

    /// Call `callback(event)` for every event, on a background thread.
    fn add_listener(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<PyListenerHandle> {
        ops::add_listener(py, &self.client, callback)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        self.close(py)
    }

    fn __repr__(&self) -> String {
        let state = PyConnectionState(self.client.state());
        format!(
            "<hellocode.blocking.Client username={:?} state={}>",
            self.client.username(),
            state.kind()
        )
    }
}

fn checked_timeout(seconds: f64) -> PyResult<Duration> {
    if seconds >= 0.0 {
        Duration::try_from_secs_f64(seconds)
            .map_err(|_| invalid_argument(format!("timeout is out of range: {seconds}")))
    } else {
        Err(invalid_argument("timeout must not be negative"))
    }
}

/// A client's events as an iterator (see `BlockingClient.events`).
#[pyclass(name = "BlockingEvents", module = "hellocode.blocking", frozen)]
pub(crate) struct PyBlockingEvents {
    receiver: Mutex<mpsc::Receiver<Event>>,
    timeout: Option<Duration>,
}

// One value per wait, handed on at once: boxing the event would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
enum Next {
    Event(Event),
    TimedOut,
    Ended,
}

impl PyBlockingEvents {
    /// The next event within `timeout` (forever when `None`), waiting without the GIL and
    /// checking for signals.
    fn next_within(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<Next> {
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        loop {
            let slice = match deadline {
                Some(deadline) => {
                    deadline.saturating_duration_since(Instant::now()).min(SIGNAL_CHECK)
                }
                None => SIGNAL_CHECK,
            };
            let received = py.detach(|| match self.receiver.lock() {
                Ok(receiver) => receiver.recv_timeout(slice),
                Err(_) => Err(mpsc::RecvTimeoutError::Disconnected),
            });
            match received {
                Ok(event) => return Ok(Next::Event(event)),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(Next::Ended),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    py.check_signals()?;
                    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                        return Ok(Next::TimedOut);
                    }
                }
            }
        }
    }
}

#[pymethods]
impl PyBlockingEvents {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<PyEvent> {
        match self.next_within(py, self.timeout)? {
            Next::Event(event) => Ok(PyEvent(event)),
            Next::TimedOut | Next::Ended => Err(PyStopIteration::new_err(())),
        }
    }

    /// The next event, or `None` if none comes within `timeout` seconds (forever when `None`).
    /// Raises `ClientClosed` once the client is closed and every event has been read.
    #[pyo3(signature = (timeout=None))]
    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyEvent>> {
        let timeout = timeout.map(checked_timeout).transpose()?;
        match self.next_within(py, timeout)? {
            Next::Event(event) => Ok(Some(PyEvent(event))),
            Next::TimedOut => Ok(None),
            Next::Ended => Err(to_py_err(py, &hellocode_sdk::Error::Closed)),
        }
    }
}

/// `for message in client.history(chat_id)`: newest first; raises the error that ends it.
#[pyclass(name = "BlockingHistory", module = "hellocode.blocking", frozen)]
pub(crate) struct PyBlockingHistory(ops::SharedHistory);

#[pymethods]
impl PyBlockingHistory {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<PyMessage> {
        match wait(py, ops::history_next(&self.0))? {
            Some(message) => Ok(message),
            None => Err(PyStopIteration::new_err(())),
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBlockingHistory>()?;
    m.add_class::<PyBlockingClient>()?;
    m.add_class::<PyBlockingEvents>()?;
    Ok(())
}
