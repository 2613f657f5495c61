//! The send queue: messages waiting for their acknowledgement, in the order they were queued.
//! Each keeps its client id across every attempt, so a resend after a lost ack finds the stored
//! message instead of posting it again.

use std::collections::VecDeque;
use std::time::Duration;

use hellocode_core::model::Message;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::event::PendingSend;
use crate::{Error, Result};

/// One queued message.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) send: PendingSend,
    /// Whoever awaits the outcome (`Client::send`).
    pub(crate) waiter: Option<oneshot::Sender<Result<Message>>>,
    /// The request id of the attempt on the wire, if one is.
    pub(crate) on_wire: Option<i64>,
    /// Whether it was ever sent: if so the server may have stored it, and it never expires
    /// (it is resent until acknowledged; the client id makes that safe).
    pub(crate) attempted: bool,
    pub(crate) queued_at: Instant,
    /// Attempts the server failed (`internal` and the like), counted towards
    /// [`MAX_SERVER_FAILURES`].
    pub(crate) server_failures: u32,
}

/// A message the server failed this many times fails (rather than blocking its chat's queue
/// forever, which a message that itself makes the server fail would).
pub(crate) const MAX_SERVER_FAILURES: u32 = 5;

/// Queued messages, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    items: VecDeque<Outgoing>,
}

impl Outbox {
    pub(crate) fn push(&mut self, item: Outgoing) {
        self.items.push_back(item);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn on_wire(&self) -> usize {
        self.items.iter().filter(|item| item.on_wire.is_some()).count()
    }

    /// The messages to put on the wire now, up to `room` of them: per chat, the oldest queued
    /// one, unless that chat already has one on the wire. One at a time per chat, so that a
    /// message refused for now (rate limit) cannot be overtaken by the next one: each chat's
    /// messages are stored in the order they were queued.
    pub(crate) fn ready(&mut self, room: usize) -> Vec<&mut Outgoing> {
        let mut seen = std::collections::HashSet::new();
        let mut ready = Vec::new();
        for item in &mut self.items {
            if ready.len() == room {
                break;
            }
            if seen.insert(item.send.chat_id) && item.on_wire.is_none() {
                ready.push(item);
            }
        }
        ready
    }

    /// Remove the message with this client id.
    pub(crate) fn take(&mut self, client_id: &str) -> Option<Outgoing> {
        let index = self.items.iter().position(|item| item.send.client_id == client_id)?;
        self.items.remove(index)
    }

    /// Put a message back in line after a failed attempt that may be retried; `counted`: a
    /// failure of the server, of which a message gets [`MAX_SERVER_FAILURES`]. Whether it was
    /// put back (`false`: it has failed too often; it is still queued).
    pub(crate) fn retry(&mut self, client_id: &str, counted: bool) -> bool {
        let Some(item) = self.items.iter_mut().find(|item| item.send.client_id == client_id) else {
            return true;
        };
        item.on_wire = None;
        if counted {
            item.server_failures += 1;
        }
        item.server_failures < MAX_SERVER_FAILURES
    }

    /// The connection is gone: every attempt on the wire will be made again.
    pub(crate) fn disconnected(&mut self) {
        for item in &mut self.items {
            item.on_wire = None;
        }
    }

    /// Remove messages queued longer than `expiry` that were never sent.
    pub(crate) fn expire(&mut self, expiry: Duration, now: Instant) -> Vec<Outgoing> {
        let (expired, kept): (Vec<_>, Vec<_>) = self
            .items
            .drain(..)
            .partition(|item| !item.attempted && now.duration_since(item.queued_at) >= expiry);
        self.items = kept.into();
        expired
    }

    /// Everything still queued, to fail when the client closes.
    pub(crate) fn drain(&mut self) -> Vec<Outgoing> {
        self.items.drain(..).collect()
    }

    pub(crate) fn snapshot(&self) -> Vec<PendingSend> {
        self.items.iter().map(|item| item.send.clone()).collect()
    }
}

/// A fresh client id: 128 random bits, hex.
pub(crate) fn new_client_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Whether a refused send may be tried again (the refusal says nothing about the message).
pub(crate) fn retryable(error: &Error) -> bool {
    use hellocode_core::protocol::ErrorCode;
    matches!(
        error.server_code(),
        Some(ErrorCode::RateLimited | ErrorCode::Internal | ErrorCode::Unavailable)
    )
}
