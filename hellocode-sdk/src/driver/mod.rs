//! The client's one task: it owns the connection, writes commands, matches replies to requests,
//! orders messages per chat, keeps the send queue, and reconnects.
//!
//! Handles (`Client`) talk to it over a channel; it never blocks on the application (events go
//! to unbounded subscriber queues), so replies keep flowing whatever the application does.

mod chats;
mod events;
pub(crate) mod outbox;
pub(crate) mod wire;

#[cfg(test)]
mod props;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hellocode_core::model::Chat;
use hellocode_core::model::{ChatId, Message, Seq};
use hellocode_core::protocol::{Command, ErrorCode, RequestId, ServerFrame};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until, timeout};

use crate::config::{ClientConfig, Credentials};
use crate::event::{ConnectionState, Event, PendingSend, SendState, SendUpdate};
use crate::transport::{Connection, Transport};
use crate::{Error, Result};
use chats::Chats;
use events::EventSink;
use outbox::{Outbox, Outgoing};
pub(crate) use wire::Wire;
use wire::encode;

/// What handles ask of the driver.
pub(crate) enum ToDriver {
    /// A command and where its reply goes. `retry`: safe to send again after a lost connection.
    Request { command: Wire, retry: bool, reply: oneshot::Sender<Result<ServerFrame>> },
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
    command: Wire,
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
/// The longest `retryAfter` honoured (a bound against a confused server).
const RETRY_AFTER_MAX: Duration = Duration::from_secs(300);
/// How often queued messages are checked for expiry and a silent connection for life.
const HOUSEKEEPING: Duration = Duration::from_millis(250);
/// Commands other than sends on the wire at once. Writing stops there until replies come back:
/// the driver writes before it reads, and a server whose reply queue filled up would stop
/// reading, so an unbounded burst (say, resumes of thousands of chats) could wedge both.
const COMMANDS_IN_FLIGHT: usize = 64;

/// `now + duration`, saturating far in the future instead of overflowing.
fn later(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration).unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

/// A close in progress: who waits for it, and until when queued messages may be flushed.
struct Closing {
    waiters: Vec<oneshot::Sender<()>>,
    deadline: Instant,
}

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
    /// The chat list's pages received so far, and where the next page starts.
    sync_pages: Vec<Chat>,
    sync_after: Option<ChatId>,
    paused_until: Option<Instant>,
    rate_pause: Duration,
    closing: Option<Closing>,
    /// Every `Client` handle is gone: no more commands will come.
    handles_gone: bool,
    /// The keepalive ping on the wire, and when it was sent.
    probe: Option<Instant>,
    /// When the last reply arrived (events do not count: they flow even when the server's
    /// reader is stuck).
    last_reply: Instant,
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
            sync_pages: Vec::new(),
            sync_after: None,
            paused_until: None,
            rate_pause: RATE_PAUSE,
            closing: None,
            handles_gone: false,
            probe: None,
            last_reply: Instant::now(),
        }
    }

    pub(crate) fn username(&self) -> &str {
        &self.username
    }

    /// Record the first connection's state before the task starts, so `Client::state` is right
    /// from the moment `connect` returns.
    pub(crate) fn connected(&mut self) {
        self.state.send_replace(ConnectionState::Connected { username: self.username.clone() });
    }

    /// The first connection: connect, authenticate and fetch the chat list, within
    /// `connect_timeout`. Knowing the chats before `connect` returns fixes where each starts: at
    /// its newest message now (or the configured position); any chat that appears later, even
    /// during a disconnect, is new and delivered from its start.
    pub(crate) async fn first_connection(&mut self) -> Result<Connection> {
        let limit = self.config.connect_timeout;
        timeout(limit, async {
            let mut connection = self.transport.connect().await?;
            self.authenticate(&mut connection).await?;
            self.initial_sync(&mut connection).await?;
            Ok(connection)
        })
        .await
        .map_err(|_| Error::Timeout(limit))?
    }

    async fn initial_sync(&mut self, connection: &mut Connection) -> Result<()> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = match self.call(connection, wire::list_chats(after)).await? {
                ServerFrame::Chats { chats, .. } => chats,
                other => return Err(unexpected("chats", &other)),
            };
            after = wire::absorb(&mut all, page, |chat| chat.id);
            if after.is_none() {
                break;
            }
        }
        let mut out = Vec::new();
        self.chats.synced(&all, &mut out);
        self.deliver(out);
        Ok(())
    }

    /// Send one command while connecting (before the driver serves the connection) and wait
    /// for its reply; frames meanwhile are events (messages of chats not known yet are held
    /// until the chat list arrives).
    async fn call(
        &mut self,
        connection: &mut Connection,
        command: impl Into<Wire>,
    ) -> Result<ServerFrame> {
        let id = self.take_id();
        self.write(connection, vec![encode(id, command.into())]).await?;
        loop {
            let text = match connection.stream.next().await {
                Some(frame) => frame?,
                None => return Err(Error::Transport("closed while connecting".into())),
            };
            let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else { continue };
            let answers = match reply_id(&frame) {
                Reply::To(n) => n == id,
                Reply::Oldest => true,
                Reply::Event => false,
            };
            match frame {
                ServerFrame::Error { code, message, .. } if answers => {
                    return Err(Error::server(code, message));
                }
                frame if answers => return Ok(frame),
                _ => self.on_frame(&text),
            }
        }
    }

    /// Connect and authenticate, within `connect_timeout`.
    async fn establish(&mut self) -> Result<Connection> {
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
        let mut resync = false; // the first connection synced in `first_connection`
        while let Some(mut open) = connection.take() {
            self.sync_needed = resync;
            resync = true;
            match self.serve(&mut open).await {
                Exit::Stopped => break,
                Exit::Lost(lost) => {
                    tracing::info!(error = %lost, transport = %self.transport.describe(), "connection lost");
                    drop(open);
                    self.disconnected();
                    if lost.server_code() == Some(ErrorCode::InvalidToken) {
                        // Closed with 4001: the token is dead; never reconnect with it. With a
                        // password the client logs in again, else the application must.
                        if let Ok(mut slot) = self.shared.token.lock() {
                            *slot = None;
                        }
                        if !self.has_password() {
                            error = Some(lost);
                            break;
                        }
                    }
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

    /// Whether the client can log in again without a token.
    fn has_password(&self) -> bool {
        !matches!(self.credentials, Credentials::Token(_))
    }

    async fn authenticate(&mut self, connection: &mut Connection) -> Result<()> {
        let token = self.shared.token.lock().ok().and_then(|slot| slot.clone());
        let first = match (&token, &self.credentials) {
            (Some(token), _) => Command::Auth { token: token.clone() },
            (
                None,
                Credentials::Password { username, password }
                | Credentials::RegisterOrLogin { username, password, .. },
            ) => Command::Login { username: username.clone(), password: password.clone() },
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
                    | Credentials::Register { username, password, .. }
                    | Credentials::RegisterOrLogin { username, password, .. } =
                        &self.credentials =>
            {
                // The token expired: log in again.
                let login =
                    Command::Login { username: username.clone(), password: password.clone() };
                self.exchange(connection, login).await
            }
            Err(err)
                if err.server_code() == Some(ErrorCode::InvalidCredentials)
                    && token.is_none()
                    && let Credentials::RegisterOrLogin { username, email, password } =
                        &self.credentials =>
            {
                // No such account, or another password: registering tells which. A taken name
                // means the account exists, so the login's refusal stands.
                let register = Command::Register {
                    username: username.clone(),
                    email: email.clone(),
                    password: password.clone(),
                    password_confirmation: password.clone(),
                };
                match self.exchange(connection, register).await {
                    Err(taken) if taken.server_code() == Some(ErrorCode::UsernameTaken) => Err(err),
                    other => other,
                }
            }
            other => other,
        };
        let (username, token) = outcome?;
        if let Some(token) = token
            && let Ok(mut slot) = self.shared.token.lock()
        {
            *slot = Some(token);
        }
        if let Credentials::Register { username, password, .. }
        | Credentials::RegisterOrLogin { username, password, .. } = &self.credentials
        {
            // Registered (or found) once; from now on this account logs in.
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
        match self.call(connection, command).await? {
            ServerFrame::Authenticated { username, token, .. } => Ok((username, token)),
            other => Err(unexpected("authenticated", &other)),
        }
    }

    /// Wait out the backoff (serving handles meanwhile) and connect again. `Ok(None)`: closed by
    /// the application; `Err`: given up.
    async fn reconnect(&mut self, mut error: Error) -> Result<Option<Connection>> {
        let mut attempt = 0u32;
        loop {
            if self.closing.is_some() {
                // Closing and the connection is gone: nothing more can be flushed.
                return Ok(None);
            }
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
                            self.begin_close(Some(done));
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
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        self.last_reply = Instant::now();
        self.probe = None;
        loop {
            if let Err(err) = self.flush(connection).await {
                return Exit::Lost(err);
            }
            if let Some(closing) = &self.closing
                && (self.outbox.is_empty() || Instant::now() >= closing.deadline)
            {
                let limit = self.config.write_timeout.min(Duration::from_secs(1));
                let _ = timeout(limit, connection.sink.close()).await;
                return Exit::Stopped;
            }
            let pause = self.paused_until;
            tokio::select! {
                command = self.commands.recv(), if !self.handles_gone => match command {
                    None => {
                        // The application dropped its last handle: flush, then stop.
                        self.handles_gone = true;
                        self.begin_close(None);
                    }
                    Some(command) => self.accept(command),
                },
                frame = connection.stream.next() => match frame {
                    None => return Exit::Lost(Error::Transport("the server closed the connection".into())),
                    Some(Err(err)) => return Exit::Lost(err),
                    Some(Ok(text)) => self.on_frame(&text),
                },
                () = sleep_until(pause.unwrap_or_else(Instant::now)), if pause.is_some() => {
                    self.paused_until = None;
                }
                _ = housekeeping.tick() => {
                    self.expire();
                    let now = Instant::now();
                    match self.probe {
                        Some(sent) if now.duration_since(sent) > self.config.request_timeout => {
                            return Exit::Lost(Error::Timeout(self.config.request_timeout));
                        }
                        None if now.duration_since(self.last_reply) > self.config.keepalive => {
                            self.probe = Some(now);
                            let id = self.take_id();
                            self.in_flight.insert(id, Pending::Keepalive);
                            let ping = encode(id, Command::Ping {}.into());
                            if let Err(err) = self.write(connection, vec![ping]).await {
                                return Exit::Lost(err);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn begin_close(&mut self, waiter: Option<oneshot::Sender<()>>) {
        let closing = self.closing.get_or_insert_with(|| Closing {
            waiters: Vec::new(),
            deadline: later(self.config.close_timeout),
        });
        closing.waiters.extend(waiter);
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
        self.sync_pages.clear();
        self.sync_after = None;
        self.paused_until = None;
        self.probe = None;
    }

    /// Fail what is left and report the end.
    fn finish(mut self, error: Option<Error>) {
        let reason = error.clone().unwrap_or(Error::Closed);
        for item in self.outbox.drain() {
            self.settle_send(item, Err(reason.clone()));
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
        if let Some(closing) = self.closing.take() {
            for waiter in closing.waiters {
                let _ = waiter.send(());
            }
        }
    }

    // ---- handles' commands ----

    fn accept(&mut self, command: ToDriver) {
        if self.closing.is_some() && !matches!(command, ToDriver::Close(_)) {
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
                    attempted: false,
                    queued_at: Instant::now(),
                    server_failures: 0,
                });
            }
            ToDriver::Subscribe(subscriber) => self.events.subscribe(subscriber),
            ToDriver::Positions(reply) => {
                let _ = reply.send(self.chats.positions());
            }
            ToDriver::PendingSends(reply) => {
                let _ = reply.send(self.outbox.snapshot());
            }
            ToDriver::Close(done) => self.begin_close(Some(done)),
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
        let commands = self.in_flight.len().saturating_sub(self.outbox.on_wire());
        let mut room = COMMANDS_IN_FLIGHT.saturating_sub(commands);
        if self.sync_needed && room > 0 {
            room -= 1;
            self.sync_needed = false;
            let id = self.take_id();
            self.in_flight.insert(id, Pending::Sync);
            frames.push(encode(id, wire::list_chats(self.sync_after)));
        }
        let resumes = self.chats.take_wanted(room);
        room -= resumes.len();
        for (chat, since) in resumes {
            let id = self.take_id();
            self.in_flight.insert(id, Pending::Resume { chat });
            let resume = Command::Resume { chat_id: Some(chat), since, limit: None };
            frames.push(encode(id, resume.into()));
        }
        while room > 0 {
            let Some((order, waiting)) = self.waiting.pop_first() else { break };
            if waiting.reply.is_closed() {
                continue; // the caller gave up (timed out)
            }
            room -= 1;
            let id = self.take_id();
            frames.push(encode(id, waiting.command.clone()));
            self.in_flight.insert(id, Pending::Request { waiting, order });
        }
        let room = self.config.send_window.max(1).saturating_sub(self.outbox.on_wire());
        let mut next_id = self.next_id;
        let mut ids = Vec::new();
        for item in self.outbox.ready(room) {
            item.on_wire = Some(next_id);
            item.attempted = true;
            ids.push((next_id, item.send.clone()));
            next_id += 1;
        }
        self.next_id = next_id;
        for (id, send) in ids {
            self.in_flight.insert(id, Pending::Send { client_id: send.client_id.clone() });
            let command = Command::NewMessage {
                chat_id: Some(send.chat_id),
                message: send.content,
                from: None,
                client_id: Some(send.client_id),
            };
            frames.push(encode(id, command.into()));
        }
        self.write(connection, frames).await
    }

    /// Write frames and flush them, within `write_timeout`: a write stuck longer (the peer stopped
    /// reading, a dead route) is a lost connection, so it cannot stall the driver or `close`.
    async fn write(&self, connection: &mut Connection, frames: Vec<String>) -> Result<()> {
        if frames.is_empty() {
            return Ok(());
        }
        let limit = self.config.write_timeout;
        let writing = async {
            for frame in frames {
                connection.sink.feed(frame).await?;
            }
            connection.sink.flush().await
        };
        timeout(limit, writing).await.map_err(|_| Error::Timeout(limit))?
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
            Err(_) if let Some((id, frame)) = unknown_error_code(text) => {
                // An error code newer than this SDK (say `unavailable`): a server failure that
                // may pass, like `internal`.
                match id {
                    Some(id) => self.on_reply(id, frame, retry_after(text)),
                    None => self.on_oldest(frame, retry_after(text)),
                }
                return;
            }
            Err(err) => {
                // A newer server's event this SDK does not know is not an error; but a reply
                // it cannot read must still settle its command, or the command would wait
                // (and hold its chat's queue) forever.
                let id = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|value| value.get("id").and_then(serde_json::Value::as_i64));
                match id {
                    Some(id) if self.in_flight.contains_key(&id) => {
                        tracing::warn!(error = %err, "unreadable reply");
                        let frame = ServerFrame::error(
                            Some(RequestId::Number(id)),
                            ErrorCode::Internal,
                            format!("the SDK could not read the reply: {err}"),
                        );
                        self.on_reply(id, frame, None);
                    }
                    _ => {
                        tracing::debug!(error = %err, "ignoring a frame the SDK does not understand")
                    }
                }
                return;
            }
        };
        let wait = match &frame {
            ServerFrame::Error { .. } => retry_after(text),
            _ => None,
        };
        match reply_id(&frame) {
            Reply::To(id) => self.on_reply(id, frame, wait),
            Reply::Oldest => self.on_oldest(frame, wait),
            Reply::Event => self.on_event(frame),
        }
    }

    /// An error the server could not attach an id to (the frame was refused before it was
    /// read): replies come in command order, so it answers the oldest command on the wire.
    fn on_oldest(&mut self, frame: ServerFrame, wait: Option<Duration>) {
        if let Some((&id, _)) = self.in_flight.first_key_value() {
            self.on_reply(id, frame, wait);
        }
    }

    /// A reply to command `id`; `wait`: the `retryAfter` of a refusal.
    fn on_reply(&mut self, id: i64, frame: ServerFrame, wait: Option<Duration>) {
        let Some(pending) = self.in_flight.remove(&id) else { return };
        self.last_reply = Instant::now();
        let error = match &frame {
            ServerFrame::Error { code, message, .. } => Some(Error::server(*code, message.clone())),
            _ => None,
        };
        let rate_limited =
            error.as_ref().is_some_and(|error| error.server_code() == Some(ErrorCode::RateLimited));
        if rate_limited {
            self.pause(wait);
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
                        self.settle_send(item, Ok(message));
                    }
                }
                (_, Some(error)) if outbox::retryable(&error) => {
                    if !rate_limited {
                        self.pause(wait);
                    }
                    // The rate limit and an unreachable database (`unavailable`) are waited
                    // out as long as it takes (the send's expiry, if set, still applies); a
                    // failure of the server only so many times (it may be this message that
                    // makes it fail).
                    let unavailable = error.server_code() == Some(ErrorCode::Unavailable);
                    if !self.outbox.retry(&client_id, !(rate_limited || unavailable))
                        && let Some(item) = self.outbox.take(&client_id)
                    {
                        self.settle_send(item, Err(error));
                    }
                }
                (other, error) => {
                    let error = error.unwrap_or_else(|| unexpected("ack", &other));
                    if let Some(item) = self.outbox.take(&client_id) {
                        self.settle_send(item, Err(error));
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
                    if retry {
                        self.pause(wait);
                    }
                    self.chats.resume_failed(chat, retry);
                }
            },
            Pending::Sync => match frame {
                ServerFrame::Chats { chats, .. } => {
                    if let Some(after) = wire::absorb(&mut self.sync_pages, chats, |chat| chat.id) {
                        self.sync_after = Some(after);
                        self.sync_needed = true;
                        return;
                    }
                    self.sync_after = None;
                    let chats = std::mem::take(&mut self.sync_pages);
                    let mut out = Vec::new();
                    let appeared = self.chats.synced(&chats, &mut out);
                    for chat in appeared {
                        // Added to it while we were away: the application learns of it now.
                        self.events.emit(Event::ChatCreated(chat));
                    }
                    self.deliver(out);
                }
                _ => {
                    self.pause(wait);
                    self.sync_needed = true;
                }
            },
            Pending::Keepalive => self.probe = None,
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

    /// A queued message reached its final state: count it out, report it, answer its waiter.
    fn settle_send(&mut self, item: Outgoing, outcome: Result<Message>) {
        self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        let state = match &outcome {
            Ok(message) => SendState::Sent(message.clone()),
            Err(error) => {
                tracing::debug!(client_id = %item.send.client_id, %error, "send failed");
                SendState::Failed(error.clone())
            }
        };
        self.events.emit(Event::Send(SendUpdate {
            client_id: item.send.client_id,
            chat_id: item.send.chat_id,
            state,
        }));
        if let Some(waiter) = item.waiter {
            let _ = waiter.send(outcome);
        }
    }

    fn expire(&mut self) {
        if let Some(expiry) = self.config.send_expiry {
            for item in self.outbox.expire(expiry, Instant::now()) {
                self.settle_send(item, Err(Error::Expired(expiry)));
            }
        }
    }

    /// Stop writing for a while after `rate_limited` (or a failure worth waiting out). Replies
    /// to commands already on the wire may bring more refusals: they belong to the same pause,
    /// which doubles only from one pause to the next (up to a bound).
    ///
    /// `at_least`: the server's `retryAfter`, which the pause lasts at least.
    fn pause(&mut self, at_least: Option<Duration>) {
        let asked = at_least.map(|wait| wait.min(RETRY_AFTER_MAX));
        if self.paused_until.is_none() {
            let pause = asked.map_or(self.rate_pause, |wait| wait.max(self.rate_pause));
            tracing::debug!(?pause, "refused for now by the server; pausing");
            self.paused_until = Some(later(pause));
            self.rate_pause = (self.rate_pause * 2).min(RATE_PAUSE_MAX);
        } else if let (Some(until), Some(wait)) = (self.paused_until, asked) {
            self.paused_until = Some(until.max(later(wait)));
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
    match frame.request_id() {
        Some(RequestId::Number(n)) => Reply::To(*n),
        _ if matches!(frame, ServerFrame::Error { .. }) => Reply::Oldest,
        _ => Reply::Event,
    }
}

/// The `retryAfter` (whole seconds) of an error frame, if it has one.
fn retry_after(text: &str) -> Option<Duration> {
    let value = serde_json::from_str::<serde_json::Value>(text).ok()?;
    value.get("retryAfter")?.as_u64().map(Duration::from_secs)
}

/// An error frame whose code this SDK does not know, as an `internal` error (keeping the
/// server's code in the message), with its request id if it has one.
fn unknown_error_code(text: &str) -> Option<(Option<i64>, ServerFrame)> {
    let value = serde_json::from_str::<serde_json::Value>(text).ok()?;
    if value.get("command")?.as_str()? != "error" {
        return None;
    }
    let code = value.get("code")?.as_str()?;
    let message = value.get("message").and_then(serde_json::Value::as_str).unwrap_or_default();
    let id = value.get("id").and_then(serde_json::Value::as_i64);
    let frame = ServerFrame::error(
        id.map(RequestId::Number),
        ErrorCode::Internal,
        format!("{code}: {message}"),
    );
    Some((id, frame))
}

pub(crate) fn unexpected(expected: &str, frame: &ServerFrame) -> Error {
    Error::Protocol(format!("expected `{expected}`, got `{}`", frame.name()))
}
