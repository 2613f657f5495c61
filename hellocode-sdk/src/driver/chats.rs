//! Per-chat ordering: every message of a chat reaches the application exactly once and in
//! sequence order, whether it came live, from a `resume`, or both, across reconnects.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hellocode_core::model::{Chat, ChatId, Message, Seq};

/// What the client has delivered of one chat, and what it holds back.
#[derive(Debug, Default)]
struct Cursor {
    /// Every message up to this sequence number has been delivered.
    delivered: Seq,
    /// Messages past a gap, waiting for the gap to be filled.
    waiting: BTreeMap<Seq, Message>,
    /// A `resume` for this chat is on the wire.
    resuming: bool,
    /// Complete resumes in a row that left a gap.
    fruitless: u8,
}

/// The sequencer of every chat of the user.
#[derive(Debug, Default)]
pub(crate) struct Chats {
    cursors: HashMap<ChatId, Cursor>,
    /// Whether the chat list has been received once (the first sync sets starting points).
    synced_once: bool,
    /// Live messages of chats not known before the chat list arrives.
    held: Vec<Message>,
    /// Chats to resume at the next opportunity.
    wanted: BTreeSet<ChatId>,
}

impl Chats {
    /// Chats start at the given positions instead of their newest message.
    pub(crate) fn with_positions(positions: &HashMap<ChatId, Seq>) -> Self {
        let mut chats = Chats::default();
        for (chat, seq) in positions {
            chats.cursors.insert(*chat, Cursor { delivered: *seq, ..Cursor::default() });
        }
        chats
    }

    /// A message pushed by the server. Deliverable messages are appended to `out`.
    pub(crate) fn live(&mut self, message: Message, out: &mut Vec<Message>) {
        let chat = message.chat_id;
        if !self.cursors.contains_key(&chat) {
            if !self.synced_once {
                self.held.push(message);
                return;
            }
            // A chat we were added to without seeing `chat_created`: everything in it is new.
            self.cursors.insert(chat, Cursor::default());
        }
        self.accept(message, out);
        self.want_if_gap(chat);
    }

    /// A page of a `resume` reply.
    pub(crate) fn resumed(
        &mut self,
        chat: ChatId,
        messages: Vec<Message>,
        more: bool,
        out: &mut Vec<Message>,
    ) {
        let Some(cursor) = self.cursors.get_mut(&chat) else { return };
        cursor.resuming = false;
        let empty = messages.is_empty();
        for message in messages {
            self.accept(message, out);
        }
        let Some(cursor) = self.cursors.get_mut(&chat) else { return };
        if more && !empty {
            self.wanted.insert(chat);
        } else if cursor.waiting.is_empty() {
            cursor.fruitless = 0;
        } else if cursor.fruitless < 3 {
            // The missing messages may still be on their way (committed after the resume's
            // query): ask again.
            cursor.fruitless += 1;
            self.wanted.insert(chat);
        } else {
            // With gap-free sequence numbers this cannot happen, but holding messages back
            // forever would lose them.
            cursor.fruitless = 0;
            tracing::warn!(%chat, delivered = %cursor.delivered, "gap the server cannot fill; delivering past it");
            let waiting = std::mem::take(&mut cursor.waiting);
            for (seq, message) in waiting {
                cursor.delivered = seq;
                out.push(message);
            }
        }
    }

    /// A `resume` failed (refused, or the connection went): try again later, or forget the
    /// chat when the user is no longer in it.
    pub(crate) fn resume_failed(&mut self, chat: ChatId, retry: bool) {
        if retry {
            if let Some(cursor) = self.cursors.get_mut(&chat) {
                cursor.resuming = false;
                self.wanted.insert(chat);
            }
        } else {
            self.cursors.remove(&chat);
        }
    }

    /// The user's chat list, fetched after every (re)connection. Returns the chats that
    /// appeared while the client was away (none on the first sync).
    ///
    /// Chats missing from the list are kept: the list is a snapshot, and a chat created after
    /// it (whose `chat_created` may already be here) would otherwise be forgotten and replayed.
    pub(crate) fn synced(&mut self, chats: &[Chat], out: &mut Vec<Message>) -> Vec<Chat> {
        let first = !self.synced_once;
        self.synced_once = true;
        let mut appeared = Vec::new();
        for chat in chats {
            if !first && !self.cursors.contains_key(&chat.id) {
                appeared.push(chat.clone());
            }
            let cursor = self.cursors.entry(chat.id).or_insert_with(|| Cursor {
                // On the first connection a chat starts at its newest message (the past is
                // history, fetched on demand); a chat that appeared while we were away starts
                // at its beginning.
                delivered: if first { chat.last_seq } else { Seq(0) },
                ..Cursor::default()
            });
            if chat.last_seq > cursor.delivered && !cursor.resuming {
                self.wanted.insert(chat.id);
            }
        }
        for message in std::mem::take(&mut self.held) {
            self.live(message, out);
        }
        appeared
    }

    /// The user was added to a chat.
    pub(crate) fn created(&mut self, chat: &Chat) {
        if !self.cursors.contains_key(&chat.id) && self.synced_once {
            self.cursors.insert(chat.id, Cursor::default());
            if chat.last_seq > Seq(0) {
                self.wanted.insert(chat.id);
            }
        }
    }

    /// Up to `limit` chats to resume now, with the sequence to resume after; marks them as
    /// resuming.
    pub(crate) fn take_wanted(&mut self, limit: usize) -> Vec<(ChatId, Seq)> {
        let mut resumes = Vec::new();
        while resumes.len() < limit {
            let Some(chat) = self.wanted.pop_first() else { break };
            if let Some(cursor) = self.cursors.get_mut(&chat)
                && !cursor.resuming
            {
                cursor.resuming = true;
                resumes.push((chat, cursor.delivered));
            }
        }
        resumes
    }

    /// The connection is gone: nothing is on the wire any more.
    pub(crate) fn disconnected(&mut self) {
        for cursor in self.cursors.values_mut() {
            cursor.resuming = false;
        }
    }

    /// The last delivered sequence number of every chat.
    pub(crate) fn positions(&self) -> HashMap<ChatId, Seq> {
        self.cursors.iter().map(|(chat, cursor)| (*chat, cursor.delivered)).collect()
    }

    fn accept(&mut self, message: Message, out: &mut Vec<Message>) {
        let Some(cursor) = self.cursors.get_mut(&message.chat_id) else { return };
        if message.seq <= cursor.delivered {
            return; // seen already
        }
        cursor.waiting.insert(message.seq, message);
        while let Some(entry) = cursor.waiting.first_entry() {
            if entry.key().0 != cursor.delivered.0.saturating_add(1) {
                break;
            }
            let message = entry.remove();
            cursor.delivered = message.seq;
            out.push(message);
        }
    }

    fn want_if_gap(&mut self, chat: ChatId) {
        if let Some(cursor) = self.cursors.get(&chat)
            && !cursor.waiting.is_empty()
            && !cursor.resuming
        {
            self.wanted.insert(chat);
        }
    }
}

#[cfg(test)]
mod tests {
    use hellocode_core::model::{Participant, Timestamp};

    use super::*;

    fn message(chat: i64, seq: i64) -> Message {
        Message {
            id: chat * 1000 + seq,
            chat_id: ChatId(chat),
            seq: Seq(seq),
            author: "alice".into(),
            content: format!("{chat}:{seq}"),
            timestamp: Timestamp::from_unix_millis(0),
            client_id: None,
            edited_at: None,
            deleted: false,
            kind: Default::default(),
            target: None,
            member: None,
            role: None,
        }
    }

    fn chat(id: i64, last: i64) -> Chat {
        Chat {
            id: ChatId(id),
            kind: Default::default(),
            name: None,
            topic: None,
            participants: vec![Participant::new("alice")],
            last_seq: Seq(last),
            created_at: Timestamp::from_unix_millis(0),
        }
    }

    fn seqs(out: &[Message]) -> Vec<i64> {
        out.iter().map(|m| m.seq.0).collect()
    }

    #[test]
    fn first_sync_starts_at_the_newest_message_and_releases_held_ones() {
        let mut chats = Chats::default();
        let mut out = Vec::new();
        chats.live(message(1, 5), &mut out);
        chats.live(message(1, 6), &mut out);
        assert!(out.is_empty(), "held until the chat list arrives");
        chats.synced(&[chat(1, 5)], &mut out);
        assert_eq!(seqs(&out), [6]);
        assert!(chats.take_wanted(usize::MAX).is_empty());
    }

    #[test]
    fn duplicates_are_dropped_and_gaps_wait_for_resume() {
        let mut chats = Chats::with_positions(&HashMap::from([(ChatId(1), Seq(2))]));
        let mut out = Vec::new();
        chats.synced(&[chat(1, 2)], &mut out);
        chats.live(message(1, 3), &mut out);
        chats.live(message(1, 3), &mut out);
        chats.live(message(1, 6), &mut out);
        assert_eq!(seqs(&out), [3]);
        assert_eq!(chats.take_wanted(usize::MAX), [(ChatId(1), Seq(3))]);
        chats.live(message(1, 7), &mut out);
        assert!(chats.take_wanted(usize::MAX).is_empty(), "one resume at a time");
        chats.resumed(
            ChatId(1),
            vec![message(1, 4), message(1, 5), message(1, 6)],
            false,
            &mut out,
        );
        assert_eq!(seqs(&out), [3, 4, 5, 6, 7]);
        assert_eq!(chats.positions()[&ChatId(1)], Seq(7));
    }

    #[test]
    fn reconnect_resumes_behind_chats_and_new_chats_from_the_start() {
        let mut chats = Chats::default();
        let mut out = Vec::new();
        chats.synced(&[chat(1, 4)], &mut out);
        chats.disconnected();
        chats.synced(&[chat(1, 9), chat(2, 3)], &mut out);
        let mut wanted = chats.take_wanted(usize::MAX);
        wanted.sort();
        assert_eq!(wanted, [(ChatId(1), Seq(4)), (ChatId(2), Seq(0))]);
        chats.resumed(ChatId(1), vec![message(1, 5), message(1, 6)], true, &mut out);
        assert_eq!(chats.take_wanted(usize::MAX), [(ChatId(1), Seq(6))]);
    }

    #[test]
    fn a_snapshot_without_a_new_chat_does_not_forget_it() {
        let mut chats = Chats::default();
        let mut out = Vec::new();
        assert!(chats.synced(&[chat(1, 4)], &mut out).is_empty(), "first sync: nothing new");
        // Chat 2 was created after the list's snapshot; its creation is already known.
        chats.created(&chat(2, 0));
        chats.live(message(2, 1), &mut out);
        chats.synced(&[chat(1, 4)], &mut out);
        chats.live(message(2, 2), &mut out);
        assert_eq!(seqs(&out), [1, 2], "nothing replayed");
        let appeared = chats.synced(&[chat(1, 4), chat(2, 2), chat(3, 0)], &mut out);
        assert_eq!(appeared.iter().map(|c| c.id).collect::<Vec<_>>(), [ChatId(3)]);
    }
}
