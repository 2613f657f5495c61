//! Frames from the server: replies matched to the commands on the wire, and events.

use std::time::Duration;

use hellocode_core::model::{Chat, EventKind, Message};
use hellocode_core::protocol::{ErrorCode, RequestId, ServerFrame};
use tokio::time::Instant;

use super::{Pending, Phase, Session};
use crate::driver::{outbox, unexpected, wire};
use crate::{Error, event::Event};

impl Session {
    /// A frame from the server.
    pub(crate) fn handle_frame(&mut self, text: &str, now: Instant) {
        if matches!(self.phase, Phase::Backoff { .. } | Phase::Connecting { .. } | Phase::Stopped) {
            return; // from a connection already given up
        }
        let frame = match serde_json::from_str::<ServerFrame>(text) {
            Ok(frame) => frame,
            Err(_) if let Some((id, frame)) = unknown_error_code(text) => {
                // An error code newer than this SDK (say `unavailable`): a server failure that
                // may pass, like `internal`.
                match id {
                    Some(id) => self.on_reply(id, frame, retry_after(text), now),
                    None => self.on_oldest(frame, retry_after(text), now),
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
                    Some(id) if self.awaits(id) => {
                        tracing::warn!(error = %err, "unreadable reply");
                        let frame = ServerFrame::error(
                            Some(RequestId::Number(id)),
                            ErrorCode::Internal,
                            format!("the SDK could not read the reply: {err}"),
                        );
                        self.on_reply(id, frame, None, now);
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
        match frame.request_id() {
            Some(RequestId::Number(id)) => {
                let id = *id;
                self.on_reply(id, frame, wait, now);
            }
            _ if matches!(frame, ServerFrame::Error { .. }) => self.on_oldest(frame, wait, now),
            _ => self.on_event(frame),
        }
    }

    /// Whether command `id` awaits its reply.
    fn awaits(&self, id: i64) -> bool {
        matches!(self.phase, Phase::Handshake { id: step, .. } if step == id)
            || self.in_flight.contains_key(&id)
    }

    /// An error the server could not attach an id to (the frame was refused before it was
    /// read): replies come in command order, so it answers the oldest command on the wire.
    fn on_oldest(&mut self, frame: ServerFrame, wait: Option<Duration>, now: Instant) {
        if let Phase::Handshake { id, .. } = self.phase {
            self.on_reply(id, frame, wait, now);
        } else if let Some((&id, _)) = self.in_flight.first_key_value() {
            self.on_reply(id, frame, wait, now);
        }
    }

    /// A reply to command `id`; `wait`: the `retryAfter` of a refusal.
    fn on_reply(&mut self, id: i64, frame: ServerFrame, wait: Option<Duration>, now: Instant) {
        if matches!(self.phase, Phase::Handshake { id: step, .. } if step == id) {
            self.last_reply = now;
            self.on_handshake_reply(frame, now);
            return;
        }
        let Some(pending) = self.in_flight.remove(&id) else { return };
        self.last_reply = now;
        let error = match &frame {
            ServerFrame::Error { code, message, .. } => Some(Error::server(*code, message.clone())),
            _ => None,
        };
        let rate_limited =
            error.as_ref().is_some_and(|error| error.server_code() == Some(ErrorCode::RateLimited));
        if rate_limited {
            self.pause(wait, now);
        } else if error.is_none() {
            self.rate_pause = super::RATE_PAUSE;
        }
        match pending {
            Pending::Request { waiting, order } => {
                if rate_limited {
                    self.waiting.insert(order, waiting);
                } else {
                    let _ = waiting.reply.send(error.map_or(Ok(frame), Err));
                }
            }
            Pending::Send { client_id } => self.on_send_reply(&client_id, frame, error, wait, now),
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
                        self.pause(wait, now);
                    }
                    self.chats.resume_failed(chat, retry);
                }
            },
            Pending::Sync => self.on_chat_list(frame, error, wait, now),
            Pending::Keepalive => self.probe = None,
        }
    }

    fn on_send_reply(
        &mut self,
        client_id: &str,
        frame: ServerFrame,
        error: Option<Error>,
        wait: Option<Duration>,
        now: Instant,
    ) {
        match (frame, error) {
            (ServerFrame::Ack { message, .. }, None) => {
                if let Some(item) = self.outbox.take(client_id) {
                    self.settle_send(item, Ok(message));
                }
            }
            (_, Some(error)) if outbox::retryable(&error) => {
                let code = error.server_code();
                let rate_limited = code == Some(ErrorCode::RateLimited);
                if !rate_limited {
                    self.pause(wait, now);
                }
                // The rate limit and an unreachable database (`unavailable`) are waited out as
                // long as it takes (the send's expiry, if set, still applies); a failure of the
                // server only so many times (it may be this message that makes it fail).
                let unavailable = code == Some(ErrorCode::Unavailable);
                if !self.outbox.retry(client_id, !(rate_limited || unavailable))
                    && let Some(item) = self.outbox.take(client_id)
                {
                    self.settle_send(item, Err(error));
                }
            }
            (other, error) => {
                let error = error.unwrap_or_else(|| unexpected("ack", &other));
                if let Some(item) = self.outbox.take(client_id) {
                    self.settle_send(item, Err(error));
                }
            }
        }
    }

    /// A page of the chat list.
    fn on_chat_list(
        &mut self,
        frame: ServerFrame,
        error: Option<Error>,
        wait: Option<Duration>,
        now: Instant,
    ) {
        let chats = match frame {
            ServerFrame::Chats { chats, .. } => chats,
            other if matches!(self.phase, Phase::FirstSync) => {
                // The first connection fails with it (`connect` returns the error).
                let error = error.unwrap_or_else(|| unexpected("chats", &other));
                self.lose(error, now, true);
                return;
            }
            _ => {
                self.pause(wait, now);
                self.sync.needed = true;
                return;
            }
        };
        if let Some(after) = wire::absorb(&mut self.sync.pages, chats, |chat| chat.id) {
            self.sync.after = Some(after);
            self.sync.needed = true;
            return;
        }
        self.sync.after = None;
        let chats = std::mem::take(&mut self.sync.pages);
        let mut out = Vec::new();
        let appeared = self.chats.synced(&chats, &mut out);
        if matches!(self.phase, Phase::FirstSync) {
            self.deliver(out);
            self.become_ready(now);
            return;
        }
        for chat in appeared {
            // Added to it while we were away: the application learns of it now.
            self.events.emit(Event::ChatCreated(chat));
        }
        self.deliver(out);
    }

    fn on_event(&mut self, frame: ServerFrame) {
        let mut out = Vec::new();
        match frame {
            ServerFrame::NewMessage { message } => self.chats.live(message, &mut out),
            // The sequenced event first (a server older than version 2 sends none), then the
            // convenience; neither if the event was delivered already.
            ServerFrame::MessageEdited { message, event } => {
                let edited = Event::Edited(message);
                match event {
                    Some(event) => self.chats.live_then(event, vec![edited], &mut out),
                    None => out.push(edited),
                }
            }
            ServerFrame::MessageDeleted { chat_id, seq, event } => {
                let deleted = Event::Deleted { chat_id, seq };
                match event {
                    Some(event) => self.chats.live_then(event, vec![deleted], &mut out),
                    None => out.push(deleted),
                }
            }
            ServerFrame::ChatChanged { chat, events } => {
                self.on_chat_changed(chat, events, &mut out)
            }
            ServerFrame::ChatDeleted { chat_id, by } => {
                self.chats.forget(chat_id, &mut out);
                out.push(Event::ChatDeleted { chat_id, by });
            }
            ServerFrame::Typing { chat_id, username } => {
                out.push(Event::Typing { chat_id, username });
            }
            ServerFrame::Read { chat_id, username, seq } => {
                out.push(Event::Read { chat_id, username, seq });
            }
            ServerFrame::Presence { username, online } => {
                out.push(Event::Presence { username, online });
            }
            ServerFrame::Online { usernames } if !matches!(self.phase, Phase::Ready) => {
                self.early_online = Some(usernames);
            }
            ServerFrame::Online { usernames } => out.push(Event::Online { usernames }),
            ServerFrame::ChatCreated { chat } => {
                self.chats.created(&chat);
                out.push(Event::ChatCreated(chat));
            }
            // To the invitee (not a member): a new invitation, or one withdrawn.
            ServerFrame::Invitation { invitation, .. } => out.push(Event::Invitation(invitation)),
            other => {
                tracing::debug!(frame = other.name(), "ignoring a reply without a request id");
            }
        }
        self.deliver(out);
    }

    /// A chat's members, roles, name or topic changed: its events in sequence, then the chat as
    /// it now is. If this user left or was removed, that is the last of the chat.
    fn on_chat_changed(&mut self, chat: Chat, events: Vec<Message>, out: &mut Vec<Event>) {
        let chat_id = chat.id;
        let gone = events.iter().any(|event| {
            matches!(event.kind, EventKind::Leave | EventKind::Remove)
                && event.member.as_deref() == Some(self.username.as_str())
        });
        let mut changed = Some(Event::ChatChanged(chat));
        let last = events.len().saturating_sub(1);
        for (index, event) in events.into_iter().enumerate() {
            let after =
                if index == last { changed.take().into_iter().collect() } else { Vec::new() };
            self.chats.live_then(event, after, out);
        }
        // No event (a server that sends none): the change itself.
        out.extend(changed);
        if gone {
            self.chats.forget(chat_id, out);
        }
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
