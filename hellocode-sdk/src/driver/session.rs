//! The client's protocol state, without IO, in the style of quinn-proto.
//!
//! The shell (`Driver`, in `driver/mod.rs`) feeds a [`Session`] what happens — commands from
//! handles, frames from the server, a connection opening or failing, time passing — and does
//! what it asks: connect, write these frames, drop the connection, stop. Everything the
//! client decides (reply matching, the send queue, per-chat order, pauses, keepalive, the
//! reconnection backoff) lives here, so tests drive it with no socket and no timer: time is an
//! argument, the connection is a list of frames.

mod handshake;
mod lifecycle;
mod replies;
mod transmit;

#[cfg(test)]
pub(super) mod harness;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hellocode_core::model::Chat;
use hellocode_core::model::{ChatId, Message};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use super::chats::Chats;
use super::events::EventSink;
use super::outbox::{Outbox, Outgoing};
use super::{Shared, ToDriver, Wire};
use crate::config::{ClientConfig, Credentials};
use crate::event::{ConnectionState, Event, SendState, SendUpdate};
use crate::{Error, Result};
use handshake::Step;

/// What the session asks of the shell.
#[derive(Debug)]
pub(crate) enum Action {
    /// Open a connection by `deadline`, then report it with `handle_connected` or
    /// `handle_lost`.
    Connect { deadline: Instant },
    /// Drop the connection: the session judged it dead and has already moved on.
    Disconnect,
    /// Close the connection, if there is one, and stop; `Some`: the client failed.
    Stop(Option<Error>),
}

/// Where the session is in a connection's life.
#[derive(Debug)]
enum Phase {
    /// Waiting out the backoff before reconnection attempt `attempt` (counted from 1).
    Backoff {
        until: Instant,
        attempt: u32,
    },
    /// The shell is connecting (attempt 0: the first connection).
    Connecting {
        attempt: u32,
    },
    /// Authenticating on a new connection: command `id` is the current step.
    Handshake {
        attempt: u32,
        id: i64,
        step: Step,
    },
    /// The first connection fetches the chat list before `connect` returns.
    FirstSync,
    /// Serving the application.
    Ready,
    Stopped,
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
    reply: oneshot::Sender<Result<hellocode_core::protocol::ServerFrame>>,
}

/// A close in progress: who waits for it, and until when queued messages may be flushed.
struct Closing {
    waiters: Vec<oneshot::Sender<()>>,
    deadline: Instant,
}

/// The paged chat list being fetched after a (re)connection.
#[derive(Default)]
struct ChatListSync {
    /// A page should be asked for.
    needed: bool,
    /// The pages received so far, and where the next one starts.
    pages: Vec<Chat>,
    after: Option<ChatId>,
}

/// How long to pause after the server's first `rate_limited`, and at most.
const RATE_PAUSE: Duration = Duration::from_millis(250);
const RATE_PAUSE_MAX: Duration = Duration::from_secs(8);
/// The longest `retryAfter` honoured (a bound against a confused server).
const RETRY_AFTER_MAX: Duration = Duration::from_secs(300);
/// How often queued messages are checked for expiry and a silent connection for life.
const HOUSEKEEPING: Duration = Duration::from_millis(250);

/// `now + duration`, saturating far in the future instead of overflowing.
fn later(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration).unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

pub(crate) struct Session {
    credentials: Credentials,
    config: ClientConfig,
    shared: Arc<Shared>,
    state: watch::Sender<ConnectionState>,
    events: EventSink,
    /// Names the transport in logs.
    transport: String,
    username: String,
    phase: Phase,
    /// Not ready yet for the first time: a failure now ends the client (`connect` returns it).
    first: bool,
    /// When the connection being established (and, the first time, synced) times out.
    establish_deadline: Option<Instant>,
    next_id: i64,
    next_order: u64,
    in_flight: BTreeMap<i64, Pending>,
    waiting: BTreeMap<u64, Waiting>,
    outbox: Outbox,
    chats: Chats,
    sync: ChatListSync,
    /// The server's list of who is online, when it came before the connection was ready: told
    /// right after `Connected`, so the application sees the connection before what it says.
    early_online: Option<Vec<String>>,
    paused_until: Option<Instant>,
    rate_pause: Duration,
    closing: Option<Closing>,
    /// The keepalive ping on the wire, and when it was sent.
    probe: Option<Instant>,
    /// When the last reply arrived (events do not count: they flow even when the server's
    /// reader is stuck).
    last_reply: Instant,
    next_housekeeping: Instant,
    /// Frames that go before everything else, paused or not (authentication, keepalive).
    urgent: Vec<String>,
    actions: VecDeque<Action>,
    /// The random part of a backoff delay, in [0, 1).
    jitter: fn() -> f64,
}

impl Session {
    /// A session that asks for its first connection at once.
    pub(crate) fn new(
        credentials: Credentials,
        config: ClientConfig,
        shared: Arc<Shared>,
        state: watch::Sender<ConnectionState>,
        transport: String,
        now: Instant,
    ) -> Self {
        let events = EventSink::new(config.event_backlog);
        let chats = Chats::with_positions(&config.start_positions);
        if let Credentials::Token(token) = &credentials
            && let Ok(mut slot) = shared.token.lock()
        {
            *slot = Some(token.clone());
        }
        let mut session = Session {
            credentials,
            config,
            shared,
            state,
            events,
            transport,
            username: String::new(),
            phase: Phase::Connecting { attempt: 0 },
            first: true,
            establish_deadline: None,
            next_id: 1,
            next_order: 0,
            in_flight: BTreeMap::new(),
            waiting: BTreeMap::new(),
            outbox: Outbox::default(),
            chats,
            sync: ChatListSync::default(),
            early_online: None,
            paused_until: None,
            rate_pause: RATE_PAUSE,
            closing: None,
            probe: None,
            last_reply: now,
            next_housekeeping: now + HOUSEKEEPING,
            urgent: Vec::new(),
            actions: VecDeque::new(),
            jitter: rand::random::<f64>,
        };
        session.connect(0, now);
        session
    }

    pub(crate) fn username(&self) -> &str {
        &self.username
    }

    /// Still establishing the first connection.
    pub(crate) fn is_first(&self) -> bool {
        self.first
    }

    // ---- inputs ----

    /// The connection asked for is open: authenticate on it.
    pub(crate) fn handle_connected(&mut self, now: Instant) {
        if let Phase::Connecting { attempt } = self.phase {
            self.last_reply = now;
            self.start_handshake(attempt);
        }
    }

    /// The connection is gone, or could not be opened.
    pub(crate) fn handle_lost(&mut self, error: Error, now: Instant) {
        self.lose(error, now, false);
    }

    /// A command from a handle.
    pub(crate) fn handle_command(&mut self, command: ToDriver, now: Instant) {
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
                    queued_at: now,
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
            ToDriver::Close(done) => self.begin_close(Some(done), now),
        }
    }

    /// Every `Client` handle is gone: no more commands will come. Flush, then stop.
    pub(crate) fn handle_handles_gone(&mut self, now: Instant) {
        self.begin_close(None, now);
    }

    /// Time has come to `now`: run whatever was due.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.paused_until.is_some_and(|until| now >= until) {
            self.paused_until = None;
        }
        match self.phase {
            Phase::Backoff { until, attempt } if now >= until => self.connect(attempt, now),
            Phase::Connecting { .. } | Phase::Handshake { .. } | Phase::FirstSync
                if self.establish_deadline.is_some_and(|deadline| now >= deadline) =>
            {
                self.lose(Error::Timeout(self.config.connect_timeout), now, true);
            }
            _ => {}
        }
        if let Some(closing) = &self.closing
            && now >= closing.deadline
            && !matches!(self.phase, Phase::Ready | Phase::Stopped)
        {
            // Closing, and no connection to flush the queue on before the deadline.
            self.stop(None);
        }
        if now >= self.next_housekeeping {
            self.next_housekeeping = now + HOUSEKEEPING;
            self.expire(now);
            if matches!(self.phase, Phase::Ready) {
                self.check_alive(now);
            }
        }
    }

    // ---- outputs ----

    /// The next action for the shell, in order.
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When `handle_timeout` is next due.
    pub(crate) fn poll_timeout(&self) -> Instant {
        let backoff = match self.phase {
            Phase::Backoff { until, .. } => Some(until),
            _ => None,
        };
        [
            self.paused_until,
            backoff,
            self.establish_deadline,
            self.closing.as_ref().map(|closing| closing.deadline),
        ]
        .into_iter()
        .flatten()
        .fold(self.next_housekeeping, Instant::min)
    }

    // ---- timers ----

    /// The keepalive: a connection silent for `keepalive` gets a ping; one that leaves the ping
    /// unanswered for `request_timeout` is dead.
    fn check_alive(&mut self, now: Instant) {
        match self.probe {
            Some(sent) if now.duration_since(sent) > self.config.request_timeout => {
                self.lose(Error::Timeout(self.config.request_timeout), now, true);
            }
            None if now.duration_since(self.last_reply) > self.config.keepalive => {
                self.probe = Some(now);
                let id = self.take_id();
                self.in_flight.insert(id, Pending::Keepalive);
                let ping = hellocode_core::protocol::Command::Ping {};
                self.urgent.push(super::wire::encode(id, ping.into()));
            }
            _ => {}
        }
    }

    fn expire(&mut self, now: Instant) {
        if let Some(expiry) = self.config.send_expiry {
            for item in self.outbox.expire(expiry, now) {
                self.settle_send(item, Err(Error::Expired(expiry)));
            }
        }
    }

    /// Stop writing for a while after `rate_limited` (or a failure worth waiting out). Replies
    /// to commands already on the wire may bring more refusals: they belong to the same pause,
    /// which doubles only from one pause to the next (up to a bound).
    ///
    /// `at_least`: the server's `retryAfter`, which the pause lasts at least.
    fn pause(&mut self, at_least: Option<Duration>, now: Instant) {
        let asked = at_least.map(|wait| wait.min(RETRY_AFTER_MAX));
        if self.paused_until.is_none() {
            let pause = asked.map_or(self.rate_pause, |wait| wait.max(self.rate_pause));
            tracing::debug!(?pause, "refused for now by the server; pausing");
            self.paused_until = Some(later(now, pause));
            self.rate_pause = (self.rate_pause * 2).min(RATE_PAUSE_MAX);
        } else if let (Some(until), Some(wait)) = (self.paused_until, asked) {
            self.paused_until = Some(until.max(later(now, wait)));
        }
    }

    // ---- the application's side ----

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

    /// Hand what the sequencer released to the application, in order.
    fn deliver(&mut self, events: Vec<Event>) {
        for event in events {
            self.events.emit(event);
        }
    }

    fn set_state(&mut self, state: ConnectionState) {
        self.state.send_replace(state.clone());
        self.events.emit(Event::Connection(state));
    }

    fn take_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}
