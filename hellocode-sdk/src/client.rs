//! The client handle: typed async methods for every command, the send queue, and events.

mod accounts;
mod chats;
mod history;
mod invitations;
mod media;
mod push;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::Stream;
use hellocode_core::model::{Chat, ChatId, Message, ReadPosition, Seq, User};
use hellocode_core::protocol::{Command, ServerFrame};
use hellocode_core::session::MAX_CLIENT_ID_BYTES;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::{ClientConfig, Credentials};
use crate::driver::outbox::new_client_id;
use crate::driver::wire::{self, Wire};
use crate::driver::{Driver, Shared, ToDriver, unexpected};
use crate::event::{ConnectionState, Event, PendingSend};
use crate::transport::Transport;
use crate::{Error, Result};
pub use accounts::{IssuedBotToken, ProfileUpdate};
pub use history::History;
pub use invitations::IssuedInviteLink;
pub use media::Download;
pub use push::PusherSpec;

/// A message for the send queue.
fn pending(
    chat_id: ChatId,
    content: String,
    client_id: String,
    attachments: Vec<String>,
) -> PendingSend {
    PendingSend { client_id, chat_id, content, attachments }
}

/// The longest message text, in characters (the server's default limit).
pub const MAX_MESSAGE_CHARS: usize = 8 * 1024;

/// A connection to a HelloCode server that survives disconnects. Cheap to clone; every clone
/// drives the same connection. When the last clone is dropped the connection closes.
///
/// Every method returns an owned `Send + 'static` future (nothing borrowed from the handle, so
/// bindings can hand it to any executor); the command is sent when the future is first polled.
/// Connecting needs a tokio runtime; the client's task runs on it.
///
/// ```no_run
/// # async fn run() -> hellocode_sdk::Result<()> {
/// use hellocode_sdk::{Client, Credentials, Event, WebSocketTransport};
///
/// let transport = WebSocketTransport::new("ws://127.0.0.1:8080")?;
/// let client = Client::connect(transport, Credentials::password("alice", "correct horse")).await?;
/// let chat = client.create_chat(vec!["bob".into()]).await?;
/// let sent = client.send(chat.id, "hi bob").await?;
/// println!("stored as #{} in chat {}", sent.seq, sent.chat_id);
/// let mut events = client.events();
/// while let Some(event) = events.recv().await {
///     if let Event::Message(message) = event {
///         println!("{}: {}", message.author, message.content);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    commands: mpsc::UnboundedSender<ToDriver>,
    /// Asked for the server's HTTP address (media).
    transport: Arc<dyn Transport>,
    shared: Arc<Shared>,
    state: watch::Receiver<ConnectionState>,
    username: String,
    config: ClientConfig,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("username", &self.inner.username)
            .field("state", &*self.inner.state.borrow())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connect and authenticate with the default configuration. Fails if the first connection
    /// cannot be made or the credentials are refused; after that, the client reconnects by
    /// itself.
    pub async fn connect(transport: impl Transport, credentials: Credentials) -> Result<Client> {
        Client::connect_with(transport, credentials, ClientConfig::default()).await
    }

    /// Connect and authenticate with the given configuration.
    pub async fn connect_with(
        transport: impl Transport,
        credentials: Credentials,
        config: ClientConfig,
    ) -> Result<Client> {
        let shared = Arc::new(Shared::default());
        let (commands, inbox) = mpsc::unbounded_channel();
        let (state_sender, state) = watch::channel(ConnectionState::Closed { error: None });
        let transport: Arc<dyn Transport> = Arc::new(transport);
        let mut driver = Driver::new(
            transport.clone(),
            credentials,
            config.clone(),
            shared.clone(),
            inbox,
            state_sender,
        );
        driver.start().await?;
        let username = driver.username().to_owned();
        let runtime = tokio::runtime::Handle::current();
        runtime.spawn(driver.run());
        let inner = Inner { commands, transport, shared, state, username, config, runtime };
        Ok(Client { inner: Arc::new(inner) })
    }

    /// The authenticated user.
    pub fn username(&self) -> &str {
        &self.inner.username
    }

    /// The newest token: the one given, or the one the server issued at login or registration.
    /// Save it to connect later without the password.
    pub fn token(&self) -> Option<String> {
        self.inner.shared.token.lock().ok().and_then(|token| token.clone())
    }

    /// The connection's current state.
    pub fn state(&self) -> ConnectionState {
        self.inner.state.borrow().clone()
    }

    /// Every event from now on (and, for the first subscriber, every event since connecting).
    /// Each subscriber gets every event; its queue is unbounded, so keep reading it.
    pub fn events(&self) -> Events {
        let (sender, receiver) = mpsc::unbounded_channel();
        // If the driver is gone the stream simply ends.
        let _ = self.inner.commands.send(ToDriver::Subscribe(sender));
        Events { receiver }
    }

    /// Call `listener` with every event, in order, on a task of the runtime the client was
    /// connected on (so this may be called from any thread). Keep it quick: a slow listener
    /// delays only its own later events.
    pub fn add_listener(&self, listener: impl EventListener) -> ListenerHandle {
        let mut events = self.events();
        let task = self.inner.runtime.spawn(async move {
            while let Some(event) = events.recv().await {
                listener.on_event(event);
            }
        });
        ListenerHandle { task }
    }

    // ---- sending ----

    /// Send a message and wait until the server has committed it. The message goes through the
    /// send queue: if the connection is down it waits for the next one, and a resend never
    /// posts it twice.
    pub fn send(
        &self,
        chat: ChatId,
        text: impl Into<String>,
    ) -> impl Future<Output = Result<Message>> + Send + 'static {
        self.send_with_client_id(chat, text, new_client_id())
    }

    /// [`send`](Client::send) under a client id of your own (1 to 128 bytes): however often it
    /// is called with the same id, by this process or a restarted one, the chat stores the
    /// message once, and every call resolves with that stored message.
    pub fn send_with_client_id(
        &self,
        chat: ChatId,
        text: impl Into<String>,
        client_id: impl Into<String>,
    ) -> impl Future<Output = Result<Message>> + Send + 'static {
        let send = pending(chat, text.into(), client_id.into(), Vec::new());
        self.send_pending(send)
    }

    /// Send a message carrying files uploaded to the chat with
    /// [`upload_attachment`](Client::upload_attachment) (their ids, at most 10; the text may
    /// then be empty), and wait until the server has committed it. It goes through the send
    /// queue as [`send`](Client::send) does (a resend never posts it twice); the stored message
    /// describes each file (`attachments`: name, type, size, image dimensions, thumbnail).
    ///
    /// Errors: `invalid_argument` for more than 10 ids or one that is not a media id;
    /// `not_found` (from the server) for a file that is not an attachment of this chat.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// let file = client.upload_attachment(chat, "trace.txt", b"panicked at".to_vec(), None).await?;
    /// let sent = client.send_with_attachments(chat, "the trace", vec![file.id]).await?;
    /// assert_eq!(sent.attachments[0].name, "trace.txt");
    /// # Ok(()) }
    /// ```
    pub fn send_with_attachments(
        &self,
        chat: ChatId,
        text: impl Into<String>,
        attachments: Vec<String>,
    ) -> impl Future<Output = Result<Message>> + Send + 'static {
        self.send_pending(pending(chat, text.into(), new_client_id(), attachments))
    }

    fn send_pending(
        &self,
        send: PendingSend,
    ) -> impl Future<Output = Result<Message>> + Send + 'static {
        let this = self.clone();
        async move {
            let (waiter, outcome) = oneshot::channel();
            this.enqueue_inner(send, Some(waiter))?;
            outcome.await.map_err(|_| Error::Closed)?
        }
    }

    /// Queue a message and return at once; its progress arrives as [`Event::Send`] updates
    /// (pending, then sent or failed) carrying the returned `client_id`.
    pub fn enqueue(&self, chat: ChatId, text: impl Into<String>) -> Result<PendingSend> {
        self.enqueue_inner(pending(chat, text.into(), new_client_id(), Vec::new()), None)
    }

    /// Queue a message under a client id of your own (1 to 128 bytes; for example one
    /// persisted with an unsent message across restarts of the app: the server stores it once
    /// whatever happens).
    pub fn enqueue_with_client_id(
        &self,
        chat: ChatId,
        text: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Result<PendingSend> {
        self.enqueue_inner(pending(chat, text.into(), client_id.into(), Vec::new()), None)
    }

    fn enqueue_inner(
        &self,
        send: PendingSend,
        waiter: Option<oneshot::Sender<Result<Message>>>,
    ) -> Result<PendingSend> {
        // Checked here, not by the server: a message too large for the server's frame limit
        // would close the connection, and be resent on every reconnect.
        let PendingSend { client_id, content, attachments, .. } = &send;
        let chars = content.chars().count();
        if chars > MAX_MESSAGE_CHARS {
            return Err(Error::InvalidArgument(format!(
                "message has {chars} characters; the limit is {MAX_MESSAGE_CHARS}"
            )));
        }
        if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_BYTES {
            return Err(Error::InvalidArgument(format!(
                "client id must be 1 to {MAX_CLIENT_ID_BYTES} bytes"
            )));
        }
        media::check_attachments(attachments)?;
        let capacity = self.inner.config.send_queue;
        self.inner
            .shared
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued < capacity).then_some(queued + 1)
            })
            .map_err(Error::QueueFull)?;
        self.inner.commands.send(ToDriver::Enqueue { send: send.clone(), waiter }).map_err(
            |_| {
                self.inner.shared.queued.fetch_sub(1, Ordering::AcqRel);
                Error::Closed
            },
        )?;
        Ok(send)
    }

    /// Messages queued and not yet acknowledged, oldest first.
    pub fn pending_sends(&self) -> impl Future<Output = Result<Vec<PendingSend>>> + Send + 'static {
        self.ask(ToDriver::PendingSends)
    }

    // ---- commands ----

    /// A page of history, newest first: `limit` messages (server default 10, at most 100) with
    /// sequence numbers below `before` (the newest when `None`).
    pub fn fetch_messages(
        &self,
        chat: ChatId,
        before: Option<Seq>,
        limit: Option<u32>,
    ) -> impl Future<Output = Result<Vec<Message>>> + Send + 'static {
        let reply =
            self.request(Command::FetchMessages { chat_id: Some(chat), limit, before }, true);
        async move {
            match reply.await? {
                ServerFrame::Messages { messages, .. } => Ok(messages),
                other => Err(unexpected("messages", &other)),
            }
        }
    }

    /// Create a chat with these users (the caller is always in it): with one other person a
    /// direct chat, whose two members never change; with more, a group the caller owns (see
    /// [`create_group`](Client::create_group) for a named one).
    pub fn create_chat(
        &self,
        participants: Vec<String>,
    ) -> impl Future<Output = Result<Chat>> + Send + 'static {
        // Resent after a lost connection: its idempotency key makes the server answer a repeat
        // with the chat it made the first time.
        let command = Command::CreateChat {
            participants,
            name: None,
            topic: None,
            client_id: Some(new_client_id()),
        };
        let reply = self.request(command, true);
        async move {
            match reply.await? {
                ServerFrame::Chat { chat, .. } => Ok(chat),
                other => Err(unexpected("chat", &other)),
            }
        }
    }

    /// The caller's chats, by id (every page of them).
    pub fn list_chats(&self) -> impl Future<Output = Result<Vec<Chat>>> + Send + 'static {
        let this = self.clone();
        async move {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = match this.request(wire::list_chats(after), true).await? {
                    ServerFrame::Chats { chats, .. } => chats,
                    other => return Err(unexpected("chats", &other)),
                };
                after = wire::absorb(&mut all, page, |chat| chat.id);
                if after.is_none() {
                    return Ok(all);
                }
            }
        }
    }

    /// The users who want to talk about `language` (matched case-insensitively), by username
    /// (every page of them): the original app's purpose.
    pub fn find_users(
        &self,
        language: impl Into<String>,
    ) -> impl Future<Output = Result<Vec<User>>> + Send + 'static {
        let this = self.clone();
        let language = language.into();
        async move {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = wire::find_users(language.clone(), after);
                let page = match this.request(page, true).await? {
                    ServerFrame::Users { users, .. } => users,
                    other => return Err(unexpected("users", &other)),
                };
                after = wire::absorb(&mut all, page, |user| user.username.clone());
                if after.is_none() {
                    return Ok(all);
                }
            }
        }
    }

    /// Tell the chat's other participants that this user is typing.
    pub fn typing(&self, chat: ChatId) -> impl Future<Output = Result<()>> + Send + 'static {
        self.expect_ok(Command::Typing { chat_id: Some(chat) }, true)
    }

    /// Read receipt: this user has read the chat up to `seq`.
    pub fn mark_read(
        &self,
        chat: ChatId,
        seq: Seq,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        self.expect_ok(Command::Read { chat_id: Some(chat), seq }, true)
    }

    /// How far each member of a chat has read, by username (`seq` 0: nothing yet) — this
    /// user's own position included, so a new device can count what is unread. Read receipts
    /// ([`Event::Read`]) tell later moves. Safe to resend after a lost connection.
    ///
    /// Errors: `forbidden` if this user is not in the chat, `not_found` for an unknown chat.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::Chat)
    /// # -> hellocode_sdk::Result<()> {
    /// let me = client.username();
    /// let positions = client.read_positions(chat.id).await?;
    /// if let Some(mine) = positions.iter().find(|position| position.username == me) {
    ///     println!("read up to {} of {}", mine.seq.0, chat.last_seq.0);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn read_positions(
        &self,
        chat: ChatId,
    ) -> impl Future<Output = Result<Vec<ReadPosition>>> + Send + 'static {
        let reply = self.request(Command::GetReadPositions { chat_id: Some(chat) }, true);
        async move {
            match reply.await? {
                ServerFrame::ReadPositions { positions, .. } => Ok(positions),
                other => Err(unexpected("read_positions", &other)),
            }
        }
    }

    /// Replace the text of one of this user's messages; returns the edited message.
    pub fn edit_message(
        &self,
        chat: ChatId,
        seq: Seq,
        text: impl Into<String>,
    ) -> impl Future<Output = Result<Message>> + Send + 'static {
        // Resent after a lost connection: the key makes a repeat change nothing.
        let command = Command::EditMessage {
            chat_id: Some(chat),
            seq,
            message: text.into(),
            client_id: Some(new_client_id()),
        };
        let reply = self.request(command, true);
        async move {
            match reply.await? {
                ServerFrame::Ack { message, .. } => Ok(message),
                other => Err(unexpected("ack", &other)),
            }
        }
    }

    /// Delete one of this user's messages.
    pub fn delete_message(
        &self,
        chat: ChatId,
        seq: Seq,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        // Resent after a lost connection: the key makes a repeat answered as the first time.
        let command =
            Command::DeleteMessage { chat_id: Some(chat), seq, client_id: Some(new_client_id()) };
        self.expect_ok(command, true)
    }

    /// Round trip to the server.
    pub fn ping(&self) -> impl Future<Output = Result<Duration>> + Send + 'static {
        let reply = self.request(Command::Ping {}, true);
        async move {
            let started = Instant::now();
            match reply.await? {
                ServerFrame::Pong { .. } => Ok(started.elapsed()),
                other => Err(unexpected("pong", &other)),
            }
        }
    }

    /// The last sequence number of every chat handed to the event subscribers. To continue
    /// exactly where the application stopped, save the sequence number of the last message it
    /// *processed* per chat (this map, once everything in the event queue is handled) and pass
    /// it back as `ClientConfig::start_positions`.
    pub fn positions(&self) -> impl Future<Output = Result<HashMap<ChatId, Seq>>> + Send + 'static {
        self.ask(ToDriver::Positions)
    }

    /// Wait (up to `close_timeout`) for queued messages to be acknowledged, then close. Messages
    /// still queued fail with [`Error::Closed`]; event streams end after a final
    /// `ConnectionState::Closed`. Dropping the last handle does the same, without waiting.
    pub fn close(&self) -> impl Future<Output = ()> + Send + 'static {
        let commands = self.inner.commands.clone();
        async move {
            let (done, closed) = oneshot::channel();
            if commands.send(ToDriver::Close(done)).is_ok() {
                let _ = closed.await;
            }
        }
    }

    fn expect_ok(
        &self,
        command: impl Into<Wire>,
        retry: bool,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let reply = self.request(command, retry);
        async move {
            match reply.await? {
                ServerFrame::Ok { .. } => Ok(()),
                other => Err(unexpected("ok", &other)),
            }
        }
    }

    /// Send a command (when the future is first polled) and wait for its reply, within
    /// `request_timeout`.
    fn request(
        &self,
        command: impl Into<Wire>,
        retry: bool,
    ) -> impl Future<Output = Result<ServerFrame>> + Send + 'static {
        let command = command.into();
        let commands = self.inner.commands.clone();
        let limit = self.inner.config.request_timeout;
        async move {
            let (reply, answer) = oneshot::channel();
            commands
                .send(ToDriver::Request { command, retry, reply })
                .map_err(|_| Error::Closed)?;
            match tokio::time::timeout(limit, answer).await {
                Err(_) => Err(Error::Timeout(limit)),
                Ok(Err(_)) => Err(Error::Closed),
                Ok(Ok(result)) => result,
            }
        }
    }

    fn ask<T: Send + 'static>(
        &self,
        make: fn(oneshot::Sender<T>) -> ToDriver,
    ) -> impl Future<Output = Result<T>> + Send + 'static {
        let commands = self.inner.commands.clone();
        async move {
            let (reply, answer) = oneshot::channel();
            commands.send(make(reply)).map_err(|_| Error::Closed)?;
            answer.await.map_err(|_| Error::Closed)
        }
    }
}

/// A listener added with [`Client::add_listener`]; it keeps running when this is dropped.
#[derive(Debug)]
pub struct ListenerHandle {
    task: tokio::task::JoinHandle<()>,
}

impl ListenerHandle {
    /// Stop calling the listener.
    pub fn remove(self) {
        self.task.abort();
    }
}

/// A stream of a client's events; ends when the client is closed.
#[derive(Debug)]
pub struct Events {
    receiver: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    /// The next event, or `None` once the client is closed.
    pub async fn recv(&mut self) -> Option<Event> {
        self.receiver.recv().await
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.receiver.poll_recv(cx)
    }
}

/// Receives every event of a client (see [`Client::add_listener`]); implemented for closures.
pub trait EventListener: Send + Sync + 'static {
    /// Called once per event, in order.
    fn on_event(&self, event: Event);
}

impl<F> EventListener for F
where
    F: Fn(Event) + Send + Sync + 'static,
{
    fn on_event(&self, event: Event) {
        self(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only if every method returns an owned `Send + 'static` future, which is what
    /// the bindings (pyo3's `future_into_py`, uniffi's async exports) require.
    fn futures_are_owned(client: &Client) {
        fn owned<F: Future + Send + 'static>(_: F) {}
        owned(client.send(ChatId(1), "x"));
        owned(client.send_with_client_id(ChatId(1), "x", "key"));
        owned(client.fetch_messages(ChatId(1), None, None));
        owned(client.create_chat(Vec::new()));
        owned(client.list_chats());
        owned(client.find_users("Rust"));
        owned(client.typing(ChatId(1)));
        owned(client.mark_read(ChatId(1), Seq(1)));
        owned(client.edit_message(ChatId(1), Seq(1), "y"));
        owned(client.delete_message(ChatId(1), Seq(1)));
        owned(client.ping());
        owned(client.positions());
        owned(client.pending_sends());
        owned(client.close());
        owned(client.get_user("bob"));
        owned(client.update_profile(ProfileUpdate::new().timezone("UTC")));
        owned(client.languages());
        owned(client.add_language("Zig"));
        owned(client.contacts());
        owned(client.add_contact("bob"));
        owned(client.remove_contact("bob"));
        owned(client.create_bot_token("bot"));
        owned(client.bot_tokens());
        owned(client.revoke_bot_token(1));
        owned(client.add_participants(ChatId(1), vec!["bob".into()]));
        owned(client.chat_with(vec!["bob".into()]));
        owned(client.create_group("Crabs", vec!["bob".into()]));
        owned(client.get_chat(ChatId(1)));
        owned(client.remove_participant(ChatId(1), "bob"));
        owned(client.leave_chat(ChatId(1)));
        owned(client.set_role(ChatId(1), "bob", hellocode_core::model::Role::Admin));
        owned(client.update_chat(ChatId(1), Some("x".into()), None));
        owned(client.delete_chat(ChatId(1)));
        owned(client.invite(ChatId(1), "bob"));
        owned(client.invitations());
        owned(client.accept_invitation(1));
        owned(client.decline_invitation(1));
        owned(client.cancel_invitation(1));
        owned(client.create_invite_link(ChatId(1), Some(Duration::from_secs(60)), Some(1)));
        owned(client.invite_links(ChatId(1)));
        owned(client.revoke_invite_link(ChatId(1), 1));
        owned(client.join_by_link("token"));
        owned(client.send_with_attachments(ChatId(1), "x", vec!["a".repeat(64)]));
        owned(client.upload_attachment(ChatId(1), "a.txt", b"a".to_vec(), None));
        owned(client.upload_avatar("me.png", Vec::new(), None));
        owned(client.download("a".repeat(64), None));
        owned(client.download_thumbnail("a".repeat(64), None));
    }

    /// The history stream is an owned `Send + 'static` value too.
    fn history_is_owned(client: &Client) {
        fn owned<S: futures_util::Stream + Send + Unpin + 'static>(_: S) {}
        owned(client.history(ChatId(1)));
        owned(client.history_before(ChatId(1), Seq(10)));
    }

    #[test]
    fn client_futures_are_send_and_static() {
        let _checked: fn(&Client) = futures_are_owned;
        let _streams: fn(&Client) = history_is_owned;
    }
}
