//! A connection's life: connecting, becoming ready, losing it, the backoff before the next
//! attempt, and the end (a close the application asked for, or giving up).

use std::sync::atomic::Ordering;

use hellocode_core::protocol::ErrorCode;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{Action, ChatListSync, Closing, Pending, Phase, RATE_PAUSE, Session, later};
use crate::Error;
use crate::config::Credentials;
use crate::driver::ToDriver;
use crate::event::{ConnectionState, Event, SendState, SendUpdate};

impl Session {
    /// Ask the shell for a connection.
    pub(super) fn connect(&mut self, attempt: u32, now: Instant) {
        let deadline = later(now, self.config.connect_timeout);
        self.establish_deadline = Some(deadline);
        self.phase = Phase::Connecting { attempt };
        self.actions.push_back(Action::Connect { deadline });
    }

    /// Authenticated (and, the first time, the chat list fetched): serve the application.
    pub(super) fn become_ready(&mut self, now: Instant) {
        // After a reconnection the chat list is fetched again (what changed while away); the
        // first connection fetched it already.
        self.sync.needed = !self.first;
        self.first = false;
        self.phase = Phase::Ready;
        self.establish_deadline = None;
        self.rate_pause = RATE_PAUSE;
        self.last_reply = now;
        self.probe = None;
        self.set_state(ConnectionState::Connected { username: self.username.clone() });
        if let Some(usernames) = self.early_online.take() {
            self.events.emit(Event::Online { usernames });
        }
    }

    /// The connection failed or was judged dead (`drop`: the shell must drop it).
    pub(super) fn lose(&mut self, error: Error, now: Instant, drop: bool) {
        if matches!(self.phase, Phase::Stopped | Phase::Backoff { .. }) {
            return; // no connection to lose
        }
        if drop {
            self.actions.push_back(Action::Disconnect);
        }
        let was_ready = matches!(self.phase, Phase::Ready);
        let attempt = match self.phase {
            Phase::Connecting { attempt } | Phase::Handshake { attempt, .. } => attempt,
            _ => 0,
        };
        self.disconnected();
        if self.first {
            // The first connection failed: `connect` returns why.
            self.stop(Some(error));
            return;
        }
        if was_ready {
            tracing::info!(error = %error, transport = %self.transport, "connection lost");
            if error.server_code() == Some(ErrorCode::InvalidToken) {
                // Closed with 4001: the token is dead; never reconnect with it. With a
                // password the client logs in again, else the application must.
                if let Ok(mut slot) = self.shared.token.lock() {
                    *slot = None;
                }
                if !self.has_password() {
                    self.stop(Some(error));
                    return;
                }
            }
        } else if error.is_auth_failure() {
            self.stop(Some(error));
            return;
        } else {
            tracing::debug!(attempt, error = %error, "reconnection failed");
        }
        self.backoff(attempt, error, now);
    }

    /// Wait before reconnection attempt `attempt + 1`, or give up.
    pub(super) fn backoff(&mut self, attempt: u32, error: Error, now: Instant) {
        if self.closing.is_some() {
            // Closing and the connection is gone: nothing more can be flushed.
            self.stop(None);
            return;
        }
        if self.config.reconnect.max_attempts.is_some_and(|max| attempt >= max) {
            self.stop(Some(error));
            return;
        }
        let delay = self.config.reconnect.delay(attempt, (self.jitter)());
        let attempt = attempt + 1;
        self.set_state(ConnectionState::Reconnecting { attempt, delay, error });
        self.phase = Phase::Backoff { until: later(now, delay), attempt };
    }

    /// Whether the client can log in again without a token.
    pub(super) fn has_password(&self) -> bool {
        !matches!(self.credentials, Credentials::Token(_))
    }

    /// Everything on the wire is gone with the connection.
    pub(super) fn disconnected(&mut self) {
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
        self.sync = ChatListSync::default();
        self.early_online = None;
        self.urgent.clear();
        self.paused_until = None;
        self.probe = None;
        self.establish_deadline = None;
    }

    pub(super) fn stop(&mut self, error: Option<Error>) {
        self.phase = Phase::Stopped;
        self.actions.push_back(Action::Stop(error));
    }

    pub(super) fn begin_close(&mut self, waiter: Option<oneshot::Sender<()>>, now: Instant) {
        let deadline = later(now, self.config.close_timeout);
        let closing = self.closing.get_or_insert_with(|| Closing { waiters: Vec::new(), deadline });
        closing.waiters.extend(waiter);
        if matches!(self.phase, Phase::Backoff { .. }) {
            // No connection to flush the queue on.
            self.stop(None);
        }
    }

    /// Stopped: fail what is left (and `leftovers`, commands handed over after the end), and
    /// report the end.
    pub(crate) fn finish(&mut self, error: Option<Error>, leftovers: Vec<ToDriver>) {
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
        for command in leftovers {
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

    /// Answer a command that will not be carried out.
    pub(super) fn refuse(&mut self, command: ToDriver, error: &Error) {
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
}
