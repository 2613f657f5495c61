//! The client's one task: it owns the connection, writes commands, matches replies to requests,
//! orders messages per chat, keeps the send queue, and reconnects.
//!
//! Handles (`Client`) talk to it over a channel; it never blocks on the application (events go
//! to unbounded subscriber queues), so replies keep flowing whatever the application does.

mod chats;
mod events;
pub(crate) mod outbox;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hellocode_core::model::{ChatId, Message, Seq};
use hellocode_core::protocol::{ClientFrame, Command, ErrorCode, RequestId, ServerFrame};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until, timeout};

use crate::config::{ClientConfig, Credentials};
use crate::event::{ConnectionState, Event, PendingSend, SendState, SendUpdate};
use crate::transport::{Connection, Transport};
use crate::{Error, Result};
use chats::Chats;
use events::EventSink;
use outbox::{Outbox, Outgoing};

/// What handles ask of the driver.
pub(crate) enum ToDriver {
    /// A command and where its reply goes. `retry`: safe to send again after a lost connection.
    Request { command: Command, retry: bool, reply: oneshot::Sender<Result<ServerFrame>> },
    /// A message for the send queue (already counted in `Shared::queued`).
    Enqueue { send: PendingSend, waiter: Option<oneshot::Sender<Result<Message>>> },
    /// A new event subscriber.
    Subscribe(mpsc::UnboundedSender<Event>),
    /// The last delivered sequence number per chat.
    Positions(oneshot::Sender<HashMap<ChatId, Seq>>),
    /// The messages still queued.
    PendingSends(oneshot::Sender<Vec<PendingSend>>),
    /// Flush the send queue (bounded by `close_timeout`) and stop.
    Close(oneshot::Sender<()>),
}

/// State shared between the driver and its handles.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Messages in the send queue, counted when handed over so `enqueue` can refuse at once.
    pub(crate) queued: AtomicUsize,
    /// The newest token (after login, registration, or as given).
    pub(crate) token: Mutex<Option<String>>,
}

/// A command on the wire, awaiting its reply.
enum Pending {
    Request { waiting: Waiting, order: u64 },
    Send { client_id: String },
    Resume { chat: ChatId },
    Sync,
    Keepalive,
}

/// A request not yet on the wire (disconnected, or paused by the rate limit).
struct Waiting {
    command: Command,
    retry: bool,
    reply: oneshot::Sender<Result<ServerFrame>>,
}

/// Why `serve` returned.
enum Exit {
    Lost(Error),
    Stopped,
}

/// How long to pause after the server's first `rate_limited`, and at most.
const RATE_PAUSE: Duration = Duration::from_millis(250);
const RATE_PAUSE_MAX: Duration = Duration::from_secs(8);
/// How often queued messages are checked for expiry and a silent connection for life.
const HOUSEKEEPING: Duration = Duration::from_millis(250);

pub(crate) struct Driver {
    transport: Arc<dyn Transport>,
    credentials: Credentials,
    config: ClientConfig,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<ToDriver>,
    state: watch::Sender<ConnectionState>,
    events: EventSink,
    username: String,
    next_id: i64,
    next_order: u64,
    in_flight: BTreeMap<i64, Pending>,
    waiting: BTreeMap<u64, Waiting>,
    outbox: Outbox,
    chats: Chats,
    sync_needed: bool,
    paused_until: Option<Instant>,
    rate_pause: Duration,
    closing: Option<(oneshot::Sender<()>, Instant)>,
    closed_reply: Option<oneshot::Sender<()>>,
}

impl Driver {
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        credentials: Credentials,
        config: ClientConfig,
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<ToDriver>,
        state: watch::Sender<ConnectionState>,
    ) -> Self {
        let events = EventSink::new(config.event_backlog);
        let chats = Chats::with_positions(&config.start_positions);
        if let Credentials::Token(token) = &credentials
            && let Ok(mut slot) = shared.token.lock()
        {
            *slot = Some(token.clone());
        }
        Driver {
            transport,
            credentials,
            config,
            shared,
            commands,
            state,
            events,
            username: String::new(),
            next_id: 1,
            next_order: 0,
            in_flight: BTreeMap::new(),
            waiting: BTreeMap::new(),
            outbox: Outbox::default(),
            chats,
            sync_needed: false,
            paused_until: None,
            rate_pause: RATE_PAUSE,
            closing: None,
            closed_reply: None,
        }
    }

    pub(crate) fn username(&self) -> &str {
        &self.username
    }

    /// Connect and authenticate, within `connect_timeout`.
    pub(crate) async fn establish(&mut self) -> Result<Connection> {
        let limit = self.config.connect_timeout;
        timeout(limit, async {
            let mut connection = self.transport.connect().await?;
            self.authenticate(&mut connection).await?;
            Ok(connection)
        })
        .await
        .map_err(|_| Error::Timeout(limit))?
    }

    /// Run until closed: serve the connection, reconnect when it is lost.
    pub(crate) async fn run(mut self, first: Connection) {
        let mut connection = Some(first);
        let mut error = None;
        while let Some(mut open) = connection.take() {
            match self.serve(&mut open).await {
                Exit::Stopped => break,
                Exit::Lost(lost) => {
                    tracing::info!(error = %lost, transport = %self.transport.describe(), "connection lost");
                    drop(open);
                    self.disconnected();
                    match self.reconnect(lost).await {
                        Ok(Some(next)) => connection = Some(next),
                        Ok(None) => break,
                        Err(fatal) => {
                            error = Some(fatal);
                            break;
                        }
                    }
                }
            }
        }
        self.finish(error);
    }

    // ---- connection lifecycle ----

    async fn authenticate(&mut self, connection: &mut Connection) -> Result<()> {
        let token = self.shared.token.lock().ok().and_then(|slot| slot.clone());
        let first = match (&token, &self.credentials) {
            (Some(token), _) => Command::Auth { token: token.clone() },
            (None, Credentials::Password { username, password }) => {
                Command::Login { username: username.clone(), password: password.clone() }
            }
            (None, Credentials::Register { username, email, password }) => Command::Register {
                username: username.clone(),
                email: email.clone(),
                password: password.clone(),
                password_confirmation: password.clone(),
            },
            (None, Credentials::Token(token)) => Command::Auth { token: token.clone() },
        };
        let outcome = match self.exchange(connection, first).await {
            Err(err)
                if err.server_code() == Some(ErrorCode::InvalidToken)
                    && token.is_some()
                    && let Credentials::Password { username, password }
                    | Credentials::Register { username, password, .. } = &self.credentials =>
            {
                // The token expired: log in again.
                let login =
                    Command::Login { username: username.clone(), password: password.clone() };
                self.exchange(connection, login).await
            }
            other => other,
        };
        let (username, token) = outcome?;
        if let Some(token) = token
            && let Ok(mut slot) = self.shared.token.lock()
        {
            *slot = Some(token);
        }
        if let Credentials::Register { username, password, .. } = &self.credentials {
            // Registered once; from now on this account logs in.
            self.credentials = Credentials::password(username.clone(), password.clone());
        }
        self.username = username;
        Ok(())
    }

    /// Send one authentication command and wait for its answer.
    async fn exchange(
        &mut self,
        connection: &mut Connection,
        command: Command,
    ) -> Result<(String, Option<String>)> {
        let id = self.take_id();
        connection.sink.send(encode(id, command)).await?;
        loop {
            let text = match connection.stream.next().await {
                Some(frame) => frame?,
                None => return Err(Error::Transport("closed during authentication".into())),
            };
            match serde_json::from_str::<ServerFrame>(&text) {
                Ok(ServerFrame::Authenticated {
                    id: Some(RequestId::Number(n)),
                    username,
                    token,
                }) if n == id => {
                    return Ok((username, token));
                }
                Ok(ServerFrame::Error { id: answered, code, message })
                    if answered.is_none() || answered == Some(RequestId::Number(id)) =>
                {
                    return Err(Error::server(code, message));
                }
                _ => {} // nothing else is expected before authentication; ignore it
            }
        }
    }

    /// Wait out the backoff (serving handles meanwhile) and connect again. `Ok(None)`: closed by
    /// the application; `Err`: given up.
    async fn reconnect(&mut self, mut error: Error) -> Result<Option<Connection>> {
        let mut attempt = 0u32;
        loop {
            if self.config.reconnect.max_attempts.is_some_and(|max| attempt >= max) {
                return Err(error);
            }
            let delay = self.config.reconnect.delay(attempt, rand::random::<f64>());
            attempt += 1;
            self.set_state(ConnectionState::Reconnecting { attempt, delay, error: error.clone() });
            let deadline = Instant::now() + delay;
            let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
            loop {
                tokio::select! {
                    () = sleep_until(deadline) => break,
                    _ = housekeeping.tick() => self.expire(),
                    command = self.commands.recv() => match command {
                        None => return Ok(None),
                        Some(ToDriver::Close(done)) => {
                            self.closed_reply = Some(done);
                            return Ok(None);
                        }
                        Some(command) => self.accept(command),
                    },
                }
            }
            match self.establish().await {
                Ok(connection) => return Ok(Some(connection)),
                Err(err) if err.is_auth_failure() => return Err(err),
                Err(err) => {
                    tracing::debug!(attempt, error = %err, "reconnection failed");
                    error = err;
                }
            }
        }
    }

    /// Serve one authenticated connection until it is lost or the client stops.
    async fn serve(&mut self, connection: &mut Connection) -> Exit {
        self.set_state(ConnectionState::Connected { username: self.username.clone() });
        self.rate_pause = RATE_PAUSE;
        self.sync_needed = true;
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        let mut last_heard = Instant::now();
        let mut probe: Option<Instant> = None;
        loop {
            if let Err(err) = self.flush(connection).await {
                return Exit::Lost(err);
            }
            if let Some((_, deadline)) = &self.closing
                && (self.outbox.is_empty() || Instant::now() >= *deadline)
            {
                let _ = timeout(Duration::from_secs(1), connection.sink.close()).await;
                return Exit::Stopped;
            }
            let pause = self.paused_until;
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => return Exit::Stopped,
                    Some(ToDriver::Close(done)) => {
                        self.closing = Some((done, Instant::now() + self.config.close_timeout));
                    }
                    Some(command) => self.accept(command),
                },
                frame = connection.stream.next() => match frame {
                    None => return Exit::Lost(Error::Transport("the server closed the connection".into())),
                    Some(Err(err)) => return Exit::Lost(err),
                    Some(Ok(text)) => {
                        last_heard = Instant::now();
                        probe = None;
                        self.on_frame(&text);
                    }
                },
                () = sleep_until(pause.unwrap_or_else(Instant::now)), if pause.is_some() => {
                    self.paused_until = None;
                }
                _ = housekeeping.tick() => {
                    self.expire();
                    let now = Instant::now();
                    match probe {
                        Some(sent) if now.duration_since(sent) > self.config.request_timeout => {
                            return Exit::Lost(Error::Timeout(self.config.request_timeout));
                        }
                        None if now.duration_since(last_heard) > self.config.keepalive => {
                            probe = Some(now);
                            let id = self.take_id();
                            self.in_flight.insert(id, Pending::Keepalive);
                            if let Err(err) = connection.sink.send(encode(id, Command::Ping {})).await {
                                return Exit::Lost(err);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Everything on the wire is gone with the connection.
    fn disconnected(&mut self) {
        for (_, pending) in std::mem::take(&mut self.in_flight) {
            if let Pending::Request { waiting, order } = pending {
                if waiting.retry {
                    self.waiting.insert(order, waiting);
                } else {
                    let _ = waiting.reply.send(Err(Error::ConnectionLost));
                }
            }
        }
        self.outbox.disconnected();
        self.chats.disconnected();
        self.paused_until = None;
    }

    /// Fail what is left and report the end.
    fn finish(mut self, error: Option<Error>) {
        let reason = error.clone().unwrap_or(Error::Closed);
        for item in self.outbox.drain() {
            self.fail_send(item, reason.clone());
        }
        for (_, waiting) in std::mem::take(&mut self.waiting) {
            let _ = waiting.reply.send(Err(reason.clone()));
        }
        for (_, pending) in std::mem::take(&mut self.in_flight) {
            if let Pending::Request { waiting, .. } = pending {
                let _ = waiting.reply.send(Err(reason.clone()));
            }
        }
        // Requests handed over after the end still get an answer.
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            self.refuse(command, &reason);
        }
        if let Some(error) = &error {
            tracing::warn!(%error, "client stopped");
        }
        self.set_state(ConnectionState::Closed { error });
        if let Some((done, _)) = self.closing.take() {
            let _ = done.send(());
        }
        if let Some(done) = self.closed_reply.take() {
            let _ = done.send(());
        }
    }

    // ---- handles' commands ----

    fn accept(&mut self, command: ToDriver) {
        if self.closing.is_some() {
            self.refuse(command, &Error::Closed);
            return;
        }
        match command {
            ToDriver::Request { command, retry, reply } => {
                let order = self.next_order;
                self.next_order += 1;
                self.waiting.insert(order, Waiting { command, retry, reply });
            }
            ToDriver::Enqueue { send, waiter } => {
                self.events.emit(Event::Send(SendUpdate {
                    client_id: send.client_id.clone(),
                    chat_id: send.chat_id,
                    state: SendState::Pending,
                }));
                self.outbox.push(Outgoing {
                    send,
                    waiter,
                    on_wire: None,
                    queued_at: Instant::now(),
                });
            }
            ToDriver::Subscribe(subscriber) => self.events.subscribe(subscriber),
            ToDriver::Positions(reply) => {
                let _ = reply.send(self.chats.positions());
            }
            ToDriver::PendingSends(reply) => {
                let _ = reply.send(self.outbox.snapshot());
            }
            ToDriver::Close(done) => {
                self.closing = Some((done, Instant::now() + self.config.close_timeout));
            }
        }
    }

    fn refuse(&mut self, command: ToDriver, error: &Error) {
        match command {
            ToDriver::Request { reply, .. } => {
                let _ = reply.send(Err(error.clone()));
            }
            ToDriver::Enqueue { send, waiter } => {
                self.shared.queued.fetch_sub(1, Ordering::Relaxed);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(Err(error.clone()));
                }
                self.events.emit(Event::Send(SendUpdate {
                    client_id: send.client_id,
                    chat_id: send.chat_id,
                    state: SendState::Failed(error.clone()),
                }));
            }
            ToDriver::Subscribe(_) => {}
            ToDriver::Positions(reply) => {
                let _ = reply.send(self.chats.positions());
            }
            ToDriver::PendingSends(reply) => {
                let _ = reply.send(Vec::new());
            }
            ToDriver::Close(done) => {
                let _ = done.send(());
            }
        }
    }

    // ---- writing ----

    /// Write whatever may go now: the chat list sync, resumes, waiting requests, queued sends.
    async fn flush(&mut self, connection: &mut Connection) -> Result<()> {
        if self.paused_until.is_some() {
            return Ok(());
        }
        let mut frames = Vec::new();
        if self.sync_needed {
            self.sync_needed = false;
            let id = self.take_id();
            self.in_flight.insert(id, Pending::Sync);
            frames.push(encode(id, Command::ListChats {}));
        }
        for (chat, since) in self.chats.take_wanted() {
            let id = self.take_id();
            self.in_flight.insert(id, Pending::Resume { chat });
            frames.push(encode(id, Command::Resume { chat_id: Some(chat), since, limit: None }));
        }
        for (order, waiting) in std::mem::take(&mut self.waiting) {
            if waiting.reply.is_closed() {
                continue; // the caller gave up (timed out)
            }
            let id = self.take_id();
            frames.push(encode(id, waiting.command.clone()));
            self.in_flight.insert(id, Pending::Request { waiting, order });
        }
        let room = self.config.send_window.max(1).saturating_sub(self.outbox.on_wire());
        let mut next_id = self.next_id;
        let mut ids = Vec::new();
        for item in self.outbox.ready(room) {
            item.on_wire = Some(next_id);
            ids.push((next_id, item.send.clone()));
            next_id += 1;
        }
        self.next_id = next_id;
        for (id, send) in ids {
            self.in_flight.insert(id, Pending::Send { client_id: send.client_id.clone() });
            frames.push(encode(
                id,
                Command::NewMessage {
                    chat_id: Some(send.chat_id),
                    message: send.content,
                    from: None,
                    client_id: Some(send.client_id),
                },
            ));
        }
        if frames.is_empty() {
            return Ok(());
        }
        for frame in frames {
            connection.sink.feed(frame).await?;
        }
        connection.sink.flush().await
    }

    fn take_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    // ---- reading ----

    fn on_frame(&mut self, text: &str) {
        let frame = match serde_json::from_str::<ServerFrame>(text) {
            Ok(frame) => frame,
            Err(err) => {
                // A newer server's frame this SDK does not know: not an error.
                tracing::debug!(error = %err, "ignoring a frame the SDK does not understand");
                return;
            }
        };
        match reply_id(&frame) {
            Reply::To(id) => self.on_reply(id, frame),
            Reply::Oldest => {
                // An error the server could not attach an id to (the frame was refused before
                // it was read): replies come in command order, so it answers the oldest one.
                if let Some((&id, _)) = self.in_flight.first_key_value() {
                    self.on_reply(id, frame);
                }
            }
            Reply::Event => self.on_event(frame),
        }
    }

    fn on_reply(&mut self, id: i64, frame: ServerFrame) {
        let Some(pending) = self.in_flight.remove(&id) else { return };
        let error = match &frame {
            ServerFrame::Error { code, message, .. } => Some(Error::server(*code, message.clone())),
            _ => None,
        };
        let rate_limited =
            error.as_ref().is_some_and(|error| error.server_code() == Some(ErrorCode::RateLimited));
        if rate_limited {
            self.pause();
        } else if error.is_none() {
            self.rate_pause = RATE_PAUSE;
        }
        match pending {
            Pending::Request { waiting, order } => {
                if rate_limited {
                    self.waiting.insert(order, waiting);
                } else {
                    let _ = waiting.reply.send(error.map_or(Ok(frame), Err));
                }
            }
            Pending::Send { client_id } => match (frame, error) {
                (ServerFrame::Ack { message, .. }, None) => {
                    if let Some(item) = self.outbox.take(&client_id) {
                        self.complete_send(item, message);
                    }
                }
                (_, Some(error)) if outbox::retryable(&error) => {
                    if error.server_code() != Some(ErrorCode::RateLimited) {
                        self.pause();
                    }
                    self.outbox.retry(&client_id);
                }
                (other, error) => {
                    let error = error.unwrap_or_else(|| unexpected("ack", &other));
                    if let Some(item) = self.outbox.take(&client_id) {
                        self.fail_send(item, error);
                    }
                }
            },
            Pending::Resume { chat } => match frame {
                ServerFrame::Resumed { messages, more, .. } => {
                    let mut out = Vec::new();
                    self.chats.resumed(chat, messages, more, &mut out);
                    self.deliver(out);
                }
                _ => {
                    let retry = error.as_ref().is_some_and(outbox::retryable);
                    tracing::debug!(%chat, error = ?error, "resume refused");
                    self.chats.resume_failed(chat, retry);
                }
            },
            Pending::Sync => match frame {
                ServerFrame::Chats { chats, .. } => {
                    let mut out = Vec::new();
                    self.chats.synced(&chats, &mut out);
                    self.deliver(out);
                }
                _ => self.sync_needed = true,
            },
            Pending::Keepalive => {}
        }
    }

    fn on_event(&mut self, frame: ServerFrame) {
        let event = match frame {
            ServerFrame::NewMessage { message } => {
                let mut out = Vec::new();
                self.chats.live(message, &mut out);
                self.deliver(out);
                return;
            }
            ServerFrame::MessageEdited { message } => Event::Edited(message),
            ServerFrame::MessageDeleted { chat_id, seq } => Event::Deleted { chat_id, seq },
            ServerFrame::Typing { chat_id, username } => Event::Typing { chat_id, username },
            ServerFrame::Read { chat_id, username, seq } => Event::Read { chat_id, username, seq },
            ServerFrame::Presence { username, online } => Event::Presence { username, online },
            ServerFrame::ChatCreated { chat } => {
                self.chats.created(&chat);
                Event::ChatCreated(chat)
            }
            other => {
                tracing::debug!(frame = other.name(), "ignoring a reply without a request id");
                return;
            }
        };
        self.events.emit(event);
    }

    fn deliver(&mut self, messages: Vec<Message>) {
        for message in messages {
            self.events.emit(Event::Message(message));
        }
    }

    // ---- send queue ----

    fn complete_send(&mut self, item: Outgoing, message: Message) {
        self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        self.events.emit(Event::Send(SendUpdate {
            client_id: item.send.client_id,
            chat_id: item.send.chat_id,
            state: SendState::Sent(message.clone()),
        }));
        if let Some(waiter) = item.waiter {
            let _ = waiter.send(Ok(message));
        }
    }

    fn fail_send(&mut self, item: Outgoing, error: Error) {
        self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!(client_id = %item.send.client_id, %error, "send failed");
        self.events.emit(Event::Send(SendUpdate {
            client_id: item.send.client_id,
            chat_id: item.send.chat_id,
            state: SendState::Failed(error.clone()),
        }));
        if let Some(waiter) = item.waiter {
            let _ = waiter.send(Err(error));
        }
    }

    fn expire(&mut self) {
        if let Some(expiry) = self.config.send_expiry {
            for item in self.outbox.expire(expiry, Instant::now()) {
                self.fail_send(item, Error::Expired(expiry));
            }
        }
    }

    /// Stop writing for a while after `rate_limited` (doubling up to a bound).
    fn pause(&mut self) {
        let until = Instant::now() + self.rate_pause;
        if self.paused_until.is_none_or(|current| current < until) {
            tracing::debug!(pause = ?self.rate_pause, "rate limited by the server; pausing");
            self.paused_until = Some(until);
            self.rate_pause = (self.rate_pause * 2).min(RATE_PAUSE_MAX);
        }
    }

    fn set_state(&mut self, state: ConnectionState) {
        self.state.send_replace(state.clone());
        self.events.emit(Event::Connection(state));
    }
}

/// What a frame answers.
enum Reply {
    To(i64),
    Oldest,
    Event,
}

fn reply_id(frame: &ServerFrame) -> Reply {
    let id = match frame {
        ServerFrame::Authenticated { id, .. }
        | ServerFrame::Messages { id, .. }
        | ServerFrame::Resumed { id, .. }
        | ServerFrame::Ack { id, .. }
        | ServerFrame::Chat { id, .. }
        | ServerFrame::Chats { id, .. }
        | ServerFrame::Users { id, .. }
        | ServerFrame::Ok { id, .. }
        | ServerFrame::Pong { id, .. }
        | ServerFrame::Error { id, .. } => id,
        _ => return Reply::Event,
    };
    match id {
        Some(RequestId::Number(n)) => Reply::To(*n),
        _ if matches!(frame, ServerFrame::Error { .. }) => Reply::Oldest,
        _ => Reply::Event,
    }
}

fn encode(id: i64, command: Command) -> String {
    let frame = ClientFrame::with_id(id, command);
    // Serializing these types cannot fail (string keys, no failing `Serialize` impls).
    serde_json::to_string(&frame).unwrap_or_default()
}

pub(crate) fn unexpected(expected: &str, frame: &ServerFrame) -> Error {
    Error::Protocol(format!("expected `{expected}`, got `{}`", frame.name()))
}
