//! Per-chat ordering: every item of a chat (a post or an event) reaches the application exactly
//! once and in sequence order, whether it came live, from a `resume`, or both, across
//! reconnects; and what depends on an item (the `ChatChanged` after a membership change, the
//! `Edited` after an edit) comes right after it.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use hellocode_core::model::{Chat, ChatId, Message, Seq};

use crate::event::Event;

/// An item waiting for the ones before it, and the events to deliver right after it.
#[derive(Debug)]
struct Held {
    item: Message,
    after: Vec<Event>,
}

/// What the client has delivered of one chat, and what it holds back.
#[derive(Debug, Default)]
struct Cursor {
    /// Every item up to this sequence number has been delivered.
    delivered: Seq,
    /// Items past a gap, waiting for the gap to be filled.
    waiting: BTreeMap<Seq, Held>,
    /// A `resume` for this chat is on the wire.
    resuming: bool,
    /// Complete resumes in a row that left a gap.
    fruitless: u8,
    /// Known from before the last disconnect and not confirmed since (by the chat list, a live
    /// frame or `chat_created`): a chat missing from the next chat list is one the user lost.
    stale: bool,
}

/// The sequencer of every chat of the user.
#[derive(Debug, Default)]
pub(crate) struct Chats {
    cursors: HashMap<ChatId, Cursor>,
    /// Whether the chat list has been received once (the first sync sets starting points).
    synced_once: bool,
    /// Live items of chats not known before the chat list arrives.
    held: Vec<(Message, Vec<Event>)>,
    /// Chats to resume at the next opportunity.
    wanted: BTreeSet<ChatId>,
    /// Chats the user left, was removed from, or that were deleted: stray frames of them are
    /// dropped (instead of starting a cursor whose resume the server would refuse), until the
    /// user is in the chat again.
    forgotten: HashSet<ChatId>,
}

/// The application's event for a chat item: a post is a `Message`, anything else a
/// `ChatEvent`.
fn item_event(item: Message) -> Event {
    if item.is_post() { Event::Message(item) } else { Event::ChatEvent(item) }
}

fn deliver(held: Held, out: &mut Vec<Event>) {
    out.push(item_event(held.item));
    out.extend(held.after);
}

impl Chats {
    /// Chats start at the given positions instead of their newest item.
    pub(crate) fn with_positions(positions: &HashMap<ChatId, Seq>) -> Self {
        let mut chats = Chats::default();
        for (chat, seq) in positions {
            chats.cursors.insert(*chat, Cursor { delivered: *seq, ..Cursor::default() });
        }
        chats
    }

    /// An item pushed by the server. Deliverable items are appended to `out`.
    pub(crate) fn live(&mut self, item: Message, out: &mut Vec<Event>) {
        self.live_then(item, Vec::new(), out);
    }

    /// An item pushed by the server, and the events that go right after it (dropped with it if
    /// it was delivered already).
    pub(crate) fn live_then(&mut self, item: Message, after: Vec<Event>, out: &mut Vec<Event>) {
        let chat = item.chat_id;
        if self.forgotten.contains(&chat) {
            return;
        }
        match self.cursors.get_mut(&chat) {
            Some(cursor) => cursor.stale = false,
            None if !self.synced_once => {
                self.held.push((item, after));
                return;
            }
            // A chat we were added to without seeing `chat_created`: everything in it is new.
            None => {
                self.cursors.insert(chat, Cursor::default());
            }
        }
        self.accept(item, after, out);
        self.want_if_gap(chat);
    }

    /// A page of a `resume` reply.
    pub(crate) fn resumed(
        &mut self,
        chat: ChatId,
        items: Vec<Message>,
        more: bool,
        out: &mut Vec<Event>,
    ) {
        let Some(cursor) = self.cursors.get_mut(&chat) else { return };
        cursor.resuming = false;
        let empty = items.is_empty();
        for item in items {
            self.accept(item, Vec::new(), out);
        }
        let Some(cursor) = self.cursors.get_mut(&chat) else { return };
        if more && !empty {
            self.wanted.insert(chat);
        } else if cursor.waiting.is_empty() {
            cursor.fruitless = 0;
        } else if cursor.fruitless < 3 {
            // The missing items may still be on their way (committed after the resume's
            // query): ask again.
            cursor.fruitless += 1;
            self.wanted.insert(chat);
        } else {
            // With gap-free sequence numbers this cannot happen, but holding items back
            // forever would lose them.
            cursor.fruitless = 0;
            tracing::warn!(%chat, delivered = %cursor.delivered, "gap the server cannot fill; delivering past it");
            let waiting = std::mem::take(&mut cursor.waiting);
            for (seq, held) in waiting {
                cursor.delivered = seq;
                deliver(held, out);
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
            self.wanted.remove(&chat);
            self.forgotten.insert(chat);
        }
    }

    /// The user is no longer in `chat` (they left, were removed, or it was deleted): deliver
    /// what is held of it (in order, past any gap: the server will not fill it for a former
    /// member), then forget it — no cursor, no resume.
    pub(crate) fn forget(&mut self, chat: ChatId, out: &mut Vec<Event>) {
        if let Some(cursor) = self.cursors.remove(&chat) {
            for (_, held) in cursor.waiting {
                deliver(held, out);
            }
        }
        self.wanted.remove(&chat);
        self.forgotten.insert(chat);
    }

    /// The user's chat list, fetched after every (re)connection. Returns the chats that
    /// appeared while the client was away (none on the first sync).
    ///
    /// Chats missing from the list are kept if they were learnt of since the last disconnect:
    /// the list is a snapshot, and a chat created after it (whose `chat_created` may already be
    /// here) would otherwise be forgotten and replayed. Those known from before the disconnect
    /// and missing now are chats the user lost while away: they are forgotten.
    pub(crate) fn synced(&mut self, chats: &[Chat], out: &mut Vec<Event>) -> Vec<Chat> {
        let first = !self.synced_once;
        self.synced_once = true;
        let mut appeared = Vec::new();
        for chat in chats {
            self.forgotten.remove(&chat.id);
            if !first && !self.cursors.contains_key(&chat.id) {
                appeared.push(chat.clone());
            }
            let cursor = self.cursors.entry(chat.id).or_insert_with(|| Cursor {
                // On the first connection a chat starts at its newest item (the past is
                // history, fetched on demand); a chat that appeared while we were away starts
                // at its beginning.
                delivered: if first { chat.last_seq } else { Seq(0) },
                ..Cursor::default()
            });
            cursor.stale = false;
            if chat.last_seq > cursor.delivered && !cursor.resuming {
                self.wanted.insert(chat.id);
            }
        }
        let lost: Vec<ChatId> =
            self.cursors.iter().filter(|(_, cursor)| cursor.stale).map(|(chat, _)| *chat).collect();
        for chat in lost {
            tracing::debug!(%chat, "no longer in the chat list: forgotten");
            self.forget(chat, out);
        }
        for (item, after) in std::mem::take(&mut self.held) {
            self.live_then(item, after, out);
        }
        appeared
    }

    /// The user was added to a chat.
    pub(crate) fn created(&mut self, chat: &Chat) {
        self.forgotten.remove(&chat.id);
        if let Some(cursor) = self.cursors.get_mut(&chat.id) {
            cursor.stale = false;
        } else if self.synced_once {
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

    /// The connection is gone: nothing is on the wire any more, and every chat must be
    /// confirmed again by the next chat list.
    pub(crate) fn disconnected(&mut self) {
        for cursor in self.cursors.values_mut() {
            cursor.resuming = false;
            cursor.stale = true;
        }
    }

    /// The last delivered sequence number of every chat.
    pub(crate) fn positions(&self) -> HashMap<ChatId, Seq> {
        self.cursors.iter().map(|(chat, cursor)| (*chat, cursor.delivered)).collect()
    }

    fn accept(&mut self, item: Message, after: Vec<Event>, out: &mut Vec<Event>) {
        let Some(cursor) = self.cursors.get_mut(&item.chat_id) else { return };
        if item.seq <= cursor.delivered {
            return; // seen already, and what goes after it too
        }
        match cursor.waiting.entry(item.seq) {
            Entry::Vacant(entry) => {
                entry.insert(Held { item, after });
            }
            // Held already (say from a resume page): a live copy brings what goes after it.
            Entry::Occupied(mut entry) => {
                if entry.get().after.is_empty() {
                    entry.get_mut().after = after;
                }
            }
        }
        while let Some(entry) = cursor.waiting.first_entry() {
            if entry.key().0 != cursor.delivered.0.saturating_add(1) {
                break;
            }
            let held = entry.remove();
            cursor.delivered = held.item.seq;
            deliver(held, out);
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
    use hellocode_core::model::{EventKind, Participant, Timestamp};

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
            attachments: Vec::new(),
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

    fn event(chat: i64, seq: i64, kind: EventKind) -> Message {
        Message { kind, content: String::new(), ..message(chat, seq) }
    }

    /// The sequence numbers of the items delivered (posts and events), in order.
    fn seqs(out: &[Event]) -> Vec<i64> {
        out.iter()
            .filter_map(|event| match event {
                Event::Message(m) | Event::ChatEvent(m) => Some(m.seq.0),
                _ => None,
            })
            .collect()
    }

    /// What was delivered, as `m<seq>` (a post), `e<seq>` (an event) or the name of a notice.
    fn shape(out: &[Event]) -> Vec<String> {
        out.iter()
            .map(|event| match event {
                Event::Message(m) => format!("m{}", m.seq.0),
                Event::ChatEvent(m) => format!("e{}", m.seq.0),
                Event::ChatChanged(chat) => format!("changed{}", chat.id.0),
                Event::Edited(m) => format!("edited{}", m.seq.0),
                other => format!("{other:?}"),
            })
            .collect()
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

    #[test]
    fn events_take_their_place_between_posts_and_notices_follow_their_item() {
        let mut chats = Chats::default();
        let mut out = Vec::new();
        chats.synced(&[chat(1, 1)], &mut out);
        chats.live(message(1, 2), &mut out);
        // An edit's event arrives before the post it follows: held, with its notice.
        let edited = Event::Edited(message(1, 2));
        chats.live_then(event(1, 4, EventKind::Edit), vec![edited.clone()], &mut out);
        assert_eq!(shape(&out), ["m2"]);
        chats.live(event(1, 3, EventKind::Join), &mut out);
        assert_eq!(shape(&out), ["m2", "e3", "e4", "edited2"]);
        // A second copy of the edit (say from a resume and then live) tells nothing again.
        chats.live_then(event(1, 4, EventKind::Edit), vec![edited], &mut out);
        assert_eq!(shape(&out), ["m2", "e3", "e4", "edited2"]);
        assert_eq!(chats.positions()[&ChatId(1)], Seq(4), "events move the cursor too");
    }

    #[test]
    fn a_held_item_gets_the_notice_of_its_live_copy() {
        let mut chats = Chats::default();
        let mut out = Vec::new();
        chats.synced(&[chat(1, 0)], &mut out);
        chats.live(message(1, 2), &mut out);
        assert_eq!(chats.take_wanted(usize::MAX), [(ChatId(1), Seq(0))]);
        chats.resumed(ChatId(1), vec![event(1, 3, EventKind::Join)], true, &mut out);
        let changed = Event::ChatChanged(chat(1, 3));
        chats.live_then(event(1, 3, EventKind::Join), vec![changed], &mut out);
        assert!(out.is_empty(), "1 is missing");
        chats.resumed(ChatId(1), vec![message(1, 1)], false, &mut out);
        assert_eq!(shape(&out), ["m1", "m2", "e3", "changed1"]);
    }

    #[test]
    fn a_forgotten_chat_delivers_what_it_held_then_nothing_until_rejoined() {
        let mut chats = Chats::default();
        let mut out = Vec::new();
        chats.synced(&[chat(1, 1)], &mut out);
        chats.live(event(1, 3, EventKind::Remove), &mut out);
        assert!(out.is_empty(), "2 is missing");
        chats.forget(ChatId(1), &mut out);
        assert_eq!(shape(&out), ["e3"], "delivered past the gap no one will fill");
        assert!(chats.take_wanted(usize::MAX).is_empty(), "not resumed");
        assert!(!chats.positions().contains_key(&ChatId(1)), "no cursor kept");
        chats.live(message(1, 4), &mut out);
        assert_eq!(shape(&out), ["e3"], "a stray frame starts nothing");
        chats.disconnected();
        chats.synced(&[], &mut out);
        assert!(chats.take_wanted(usize::MAX).is_empty(), "nothing to resume after a reconnect");

        // Added again: from its start, as any chat one is added to.
        chats.created(&chat(1, 6));
        assert_eq!(chats.take_wanted(usize::MAX), [(ChatId(1), Seq(0))]);
    }

    #[test]
    fn a_chat_lost_while_away_is_forgotten_and_one_learnt_of_since_is_kept() {
        let mut chats = Chats::default();
        let mut out = Vec::new();
        chats.synced(&[chat(1, 4), chat(2, 1)], &mut out);
        chats.disconnected();
        // Back: chat 3 was created after the list's snapshot (its `chat_created` came first).
        chats.created(&chat(3, 0));
        let appeared = chats.synced(&[chat(2, 1)], &mut out);
        assert!(appeared.is_empty());
        let mut known: Vec<_> = chats.positions().into_keys().collect();
        known.sort();
        assert_eq!(known, [ChatId(2), ChatId(3)], "chat 1 is gone from the list: forgotten");
        assert!(chats.take_wanted(usize::MAX).is_empty(), "and not resumed");
    }
}
