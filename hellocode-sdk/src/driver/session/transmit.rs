//! What goes on the wire, and when: authentication and keepalive first, then — unless paused by
//! the server — the chat list, resumes, waiting requests and queued sends, within the windows.

use hellocode_core::protocol::Command;
use tokio::time::Instant;

use super::{Pending, Phase, Session};
use crate::driver::wire::{self, encode};

/// Commands other than sends on the wire at once. Writing stops there until replies come back:
/// the client writes before it reads, and a server whose reply queue filled up would stop
/// reading, so an unbounded burst (say, resumes of thousands of chats) could wedge both.
pub(crate) const COMMANDS_IN_FLIGHT: usize = 64;

impl Session {
    /// The frames to write now, in order. After writing them, the shell polls actions: a close
    /// whose queue is flushed stops here.
    pub(crate) fn poll_transmit(&mut self, now: Instant) -> Vec<String> {
        let mut frames = std::mem::take(&mut self.urgent);
        match self.phase {
            Phase::FirstSync => {
                self.transmit_sync(&mut frames);
            }
            Phase::Ready => {
                if self.paused_until.is_none() {
                    self.transmit_ready(&mut frames);
                }
                if let Some(closing) = &self.closing
                    && (self.outbox.is_empty() || now >= closing.deadline)
                {
                    self.stop(None);
                }
            }
            _ => {}
        }
        frames
    }

    /// The next page of the chat list, if one is wanted. Whether it was written.
    fn transmit_sync(&mut self, frames: &mut Vec<String>) -> bool {
        if !self.sync.needed {
            return false;
        }
        self.sync.needed = false;
        let id = self.take_id();
        self.in_flight.insert(id, Pending::Sync);
        frames.push(encode(id, wire::list_chats(self.sync.after)));
        true
    }

    fn transmit_ready(&mut self, frames: &mut Vec<String>) {
        let commands = self.in_flight.len().saturating_sub(self.outbox.on_wire());
        let mut room = COMMANDS_IN_FLIGHT.saturating_sub(commands);
        if room > 0 && self.transmit_sync(frames) {
            room -= 1;
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
        let mut sends = Vec::new();
        for item in self.outbox.ready(room) {
            item.on_wire = Some(next_id);
            item.attempted = true;
            sends.push((next_id, item.send.clone()));
            next_id += 1;
        }
        self.next_id = next_id;
        for (id, send) in sends {
            self.in_flight.insert(id, Pending::Send { client_id: send.client_id.clone() });
            let command = Command::NewMessage {
                chat_id: Some(send.chat_id),
                message: send.content,
                from: None,
                client_id: Some(send.client_id),
                attachments: send.attachments,
            };
            frames.push(encode(id, command.into()));
        }
    }
}
