//! Each chat's sequenced events in sequence order, whichever node they come from.
//!
//! On one node a chat's events are published in sequence order (see `chat_order`). With
//! several nodes, two of them appending to one chat publish independently, so this node can
//! hear item 6 (from another node) before item 5 (its own, or a third node's). The sequencer
//! holds an event that comes after a gap until the missing one arrives; a gap still open after
//! the bounded wait is filled from storage, which has every item in order (see `fill`), and
//! the original events of what was filled are dropped if they come after all. A gap storage
//! cannot fill is given up: the held events are dropped and the chat's members on this node
//! resume.
//!
//! Where a chat's line starts: at 1 for a new chat (its first item, or `chat_created`, says
//! so); otherwise this node cannot know which earlier items are still in flight, so the first
//! events it hears are held for a short settling time and delivered from the smallest. An
//! event older than the line's start is delivered late rather than lost.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use hellocode_core::model::{ChatId, Seq};
use hellocode_core::protocol::ServerFrame;
use tokio::sync::oneshot;

use super::BrokerEvent;

/// Told when an event has been delivered, or dropped with its chat resynced (then closed).
pub(crate) type Done = Option<oneshot::Sender<()>>;

/// How long a line with nothing held is kept after its last event.
const IDLE_LINE: Duration = Duration::from_secs(600);
/// How long the first events of a line that does not start at 1 are held for earlier ones.
pub(crate) const SETTLE: Duration = Duration::from_millis(100);
/// Sequence numbers filled from storage remembered per line, to drop their events if they
/// come after all.
const FILLED_REMEMBERED: usize = 1024;

/// What to do, in order, after an event arrived or time passed.
#[derive(Debug)]
pub(crate) enum Step {
    /// Deliver this event to this node's connections, then tell `Done`.
    Deliver(BrokerEvent, Done),
    /// A gap in this chat stayed open past the wait: read items `from..=to` from storage and
    /// hand their events to [`Sequencer::filled`].
    Fill {
        /// The chat.
        chat: ChatId,
        /// The first missing item.
        from: Seq,
        /// The last item held.
        to: Seq,
    },
    /// A gap in this chat was given up: its members on this node must resume.
    Resync(ChatId),
}

/// The lines of the chats with sequenced events.
#[derive(Debug)]
pub(crate) struct Sequencer {
    lines: HashMap<ChatId, Line>,
    wait: Duration,
}

#[derive(Debug)]
struct Line {
    /// The sequence number the next deliverable event starts with; `None` while settling.
    next: Option<Seq>,
    /// Events not delivered yet, by their first sequence number, with their last.
    held: BTreeMap<Seq, (Seq, BrokerEvent, Done)>,
    /// Until when the line settles (while `next` is `None`).
    settle_until: Instant,
    /// Since when the current gap has been open.
    gap_since: Option<Instant>,
    /// A fill from storage is under way.
    filling: bool,
    /// The latest sequence numbers filled from storage.
    filled: VecDeque<Seq>,
    last_event: Instant,
}

impl Line {
    fn new(next: Option<Seq>, now: Instant) -> Self {
        Line {
            next,
            held: BTreeMap::new(),
            settle_until: now + SETTLE,
            gap_since: None,
            filling: false,
            filled: VecDeque::new(),
            last_event: now,
        }
    }

    /// Deliver the held events that follow `next` without a gap; a gap left opens its wait.
    fn flush(&mut self, steps: &mut Vec<Step>, now: Instant) {
        let Some(mut next) = self.next else { return };
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() < next {
                // Covered by an event delivered already (a fill's item inside a held range).
                entry.remove();
                continue;
            }
            if *entry.key() != next {
                break;
            }
            let (last, event, done) = entry.remove();
            next = Seq(last.0 + 1);
            steps.push(Step::Deliver(event, done));
        }
        self.next = Some(next);
        if self.held.is_empty() {
            self.gap_since = None;
        } else {
            self.gap_since.get_or_insert(now);
        }
    }
}

impl Sequencer {
    /// A sequencer that waits at most `wait` for a missing event.
    pub(crate) fn new(wait: Duration) -> Self {
        Sequencer { lines: HashMap::new(), wait }
    }

    /// `event` arrived at `now`: what to deliver, in order (`done` goes with it).
    pub(crate) fn admit(&mut self, event: BrokerEvent, done: Done, now: Instant) -> Vec<Step> {
        let Some((chat, first, last)) = sequenced(&event) else {
            // A new chat's line starts right after the items it was created with.
            if let Some((chat, last)) = created(&event) {
                self.lines.entry(chat).or_insert_with(|| Line::new(Some(Seq(last.0 + 1)), now));
            }
            return vec![Step::Deliver(event, done)];
        };
        let line = self.lines.entry(chat).or_insert_with(|| {
            // Item 1 starts every chat; another may have earlier ones still in flight.
            Line::new((first == Seq(1)).then_some(first), now)
        });
        line.last_event = now;
        if line.next.is_some_and(|next| first < next) {
            if line.filled.contains(&first) {
                return Vec::new(); // delivered from storage already
            }
            // Late: older than the line's start (or overlapping it). Never lost.
            return vec![Step::Deliver(event, done)];
        }
        if first == Seq(1) && line.next.is_none() {
            line.next = Some(first); // settling ends: nothing comes before item 1
        }
        line.held.insert(first, (last, event, done));
        let mut steps = Vec::new();
        line.flush(&mut steps, now);
        steps
    }

    /// Time passed: settling lines start from their smallest event, gaps open longer than the
    /// wait are to be filled from storage, idle lines are forgotten.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Step> {
        let mut steps = Vec::new();
        for (chat, line) in &mut self.lines {
            if line.next.is_none() && now >= line.settle_until {
                line.next = line.held.keys().next().copied();
                line.flush(&mut steps, now);
            }
            let overdue = line
                .gap_since
                .is_some_and(|since| now.saturating_duration_since(since) >= self.wait);
            if overdue
                && !line.filling
                && let (Some(from), Some((_, (to, _, _)))) = (line.next, line.held.last_key_value())
            {
                line.filling = true;
                steps.push(Step::Fill { chat: *chat, from, to: *to });
            }
        }
        self.lines.retain(|_, line| {
            !line.held.is_empty() || now.saturating_duration_since(line.last_event) < IDLE_LINE
        });
        steps
    }

    /// The events storage had for a [`Step::Fill`] of `chat` (in order; `None`: it could not be
    /// read). They take the places of the missing ones; what storage could not fill is given
    /// up (the held events dropped, the chat resynced) and the line goes on after it. Returns
    /// the steps, and how many missing events storage filled.
    pub(crate) fn filled(
        &mut self,
        chat: ChatId,
        events: Option<Vec<BrokerEvent>>,
        now: Instant,
    ) -> (Vec<Step>, usize) {
        let Some(line) = self.lines.get_mut(&chat) else { return (Vec::new(), 0) };
        let mut count = 0;
        line.filling = false;
        for event in events.into_iter().flatten() {
            let Some((_, first, last)) = sequenced(&event) else { continue };
            // Held already, alone or inside an event carrying several items.
            let held =
                line.held.range(..=first).next_back().is_some_and(|(_, (end, _, _))| *end >= first);
            if line.next.is_some_and(|next| first >= next) && !held {
                line.held.insert(first, (last, event, None));
                line.filled.push_back(first);
                count += 1;
            }
        }
        while line.filled.len() > FILLED_REMEMBERED {
            line.filled.pop_front();
        }
        let mut steps = Vec::new();
        line.flush(&mut steps, now);
        if let Some((_, (last, _, _))) = line.held.last_key_value() {
            line.next = Some(Seq(last.0 + 1));
            line.held.clear();
            line.gap_since = None;
            steps.push(Step::Resync(chat));
        }
        (steps, count)
    }
}

/// The chat and the sequence numbers an event carries, if it carries any.
fn sequenced(event: &BrokerEvent) -> Option<(ChatId, Seq, Seq)> {
    let BrokerEvent::Chat(publish) = event else { return None };
    let one = |seq: Seq| Some((publish.chat, seq, seq));
    match &publish.frame {
        ServerFrame::NewMessage { message } => one(message.seq),
        ServerFrame::MessageEdited { event: Some(event), .. }
        | ServerFrame::MessageDeleted { event: Some(event), .. } => one(event.seq),
        ServerFrame::ChatChanged { events, .. } => {
            let first = events.first()?.seq;
            let last = events.last()?.seq;
            Some((publish.chat, first, last))
        }
        _ => None,
    }
}

/// For `chat_created` of a chat no one has written in yet: the chat and its newest item.
fn created(event: &BrokerEvent) -> Option<(ChatId, Seq)> {
    let BrokerEvent::Chat(publish) = event else { return None };
    match &publish.frame {
        ServerFrame::ChatCreated { chat } if publish.to.is_none() => Some((chat.id, chat.last_seq)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use hellocode_core::model::{Chat, ChatKind, NewMessage, Timestamp};
    use hellocode_core::session::Publish;

    use super::*;

    const WAIT: Duration = Duration::from_millis(200);

    fn post(chat: i64, seq: i64) -> BrokerEvent {
        let message = NewMessage {
            chat_id: ChatId(chat),
            author: "alice".into(),
            content: format!("m{seq}"),
            client_id: None,
            timestamp: Timestamp::from_unix_millis(0),
            attachments: Vec::new(),
        }
        .into_post(seq, Seq(seq));
        BrokerEvent::Chat(Box::new(Publish::to_chat(
            ChatId(chat),
            ServerFrame::NewMessage { message },
        )))
    }

    fn delivered(steps: &[Step]) -> Vec<i64> {
        steps
            .iter()
            .map(|step| match step {
                Step::Deliver(event, _) => sequenced(event).map_or(-1, |(_, first, _)| first.0),
                Step::Resync(chat) => -1000 - chat.0,
                Step::Fill { .. } => -1,
            })
            .collect()
    }

    #[test]
    fn an_event_past_a_gap_waits_for_the_missing_one() {
        let mut sequencer = Sequencer::new(WAIT);
        let start = Instant::now();
        // Not item 1: earlier ones may be in flight, so the line settles first.
        assert!(sequencer.admit(post(7, 6), None, start).is_empty());
        assert_eq!(delivered(&sequencer.admit(post(7, 5), None, start)), Vec::<i64>::new());
        assert_eq!(delivered(&sequencer.expire(start + SETTLE)), [5, 6], "from the smallest");
        assert_eq!(delivered(&sequencer.admit(post(7, 8), None, start)), Vec::<i64>::new());
        assert_eq!(delivered(&sequencer.admit(post(7, 9), None, start)), Vec::<i64>::new());
        // Another chat is not held up by this one's gap; item 1 needs no settling.
        assert_eq!(delivered(&sequencer.admit(post(9, 1), None, start)), [1]);
        assert_eq!(delivered(&sequencer.admit(post(7, 7), None, start)), [7, 8, 9]);
        assert!(sequencer.expire(start + WAIT * 2).is_empty(), "no gap left");
        // Late (older than the line's start): delivered rather than lost.
        assert_eq!(delivered(&sequencer.admit(post(7, 4), None, start)), [4]);
        // Not sequenced: at once.
        let typing = BrokerEvent::Chat(Box::new(Publish::to_chat(
            ChatId(7),
            ServerFrame::Typing { chat_id: ChatId(7), username: "bob".into() },
        )));
        assert_eq!(delivered(&sequencer.admit(typing, None, start)), [-1], "at once");
    }

    #[test]
    fn a_gap_open_past_the_wait_is_filled_from_storage_and_the_line_goes_on() {
        let mut sequencer = Sequencer::new(WAIT);
        let start = Instant::now();
        sequencer.admit(post(7, 1), None, start);
        assert!(sequencer.admit(post(7, 3), None, start).is_empty());
        assert!(sequencer.admit(post(7, 5), None, start).is_empty());
        assert!(sequencer.expire(start + WAIT / 2).is_empty(), "still within the wait");
        let steps = sequencer.expire(start + WAIT);
        assert!(
            matches!(steps[..], [Step::Fill { chat: ChatId(7), from: Seq(2), to: Seq(5) }]),
            "{steps:?}"
        );
        assert!(sequencer.expire(start + WAIT * 2).is_empty(), "one fill at a time");
        // Storage has 2 to 5; the held 3 and 5 are delivered as they came, 2 and 4 from storage.
        let read = (2..=5).map(|seq| post(7, seq)).collect();
        assert_eq!(
            delivered(&sequencer.filled(ChatId(7), Some(read), start + WAIT).0),
            [2, 3, 4, 5]
        );
        // The original of a filled item, coming after all, is not delivered twice.
        assert!(sequencer.admit(post(7, 2), None, start + WAIT).is_empty());
        assert_eq!(delivered(&sequencer.admit(post(7, 6), None, start + WAIT)), [6]);
        // A line idle long enough is forgotten; the next event starts a new one.
        let later = start + IDLE_LINE * 2;
        assert!(sequencer.expire(later).is_empty());
        assert!(sequencer.admit(post(7, 9), None, later).is_empty(), "a new line settles");
        assert_eq!(delivered(&sequencer.expire(later + SETTLE)), [9]);
    }

    #[test]
    fn a_fill_skips_the_items_an_event_held_already_carries() {
        let mut sequencer = Sequencer::new(WAIT);
        let start = Instant::now();
        sequencer.admit(post(7, 1), None, start);
        // One event carrying items 3 and 4 (two members added), item 2 missing.
        let mut changed = post(7, 3);
        if let BrokerEvent::Chat(publish) = &mut changed
            && let ServerFrame::NewMessage { message } = &publish.frame
        {
            let (three, mut four) = (message.clone(), message.clone());
            four.seq = Seq(4);
            publish.frame = ServerFrame::ChatChanged {
                chat: hellocode_core::model::Chat {
                    id: ChatId(7),
                    kind: hellocode_core::model::ChatKind::Group,
                    name: None,
                    topic: None,
                    participants: Vec::new(),
                    last_seq: Seq(4),
                    created_at: three.timestamp,
                },
                events: vec![three, four],
            };
        }
        assert!(sequencer.admit(changed, None, start).is_empty());
        assert_eq!(sequencer.expire(start + WAIT).len(), 1, "a fill of 2..=4");
        let read = (2..=4).map(|seq| post(7, seq)).collect();
        let (steps, _) = sequencer.filled(ChatId(7), Some(read), start + WAIT);
        assert_eq!(delivered(&steps), [2, 3], "2 from storage, then the held 3..4; no resync");
        assert_eq!(delivered(&sequencer.admit(post(7, 5), None, start + WAIT)), [5]);
    }

    #[test]
    fn a_gap_storage_cannot_fill_resyncs_its_chat_and_the_line_goes_on() {
        let mut sequencer = Sequencer::new(WAIT);
        let start = Instant::now();
        sequencer.admit(post(7, 1), None, start);
        assert!(sequencer.admit(post(7, 4), None, start).is_empty());
        assert_eq!(sequencer.expire(start + WAIT).len(), 1, "a fill");
        // Storage had only item 2 (3 is gone): 2 is delivered, the rest given up.
        let (steps, filled) = sequencer.filled(ChatId(7), Some(vec![post(7, 2)]), start + WAIT);
        assert_eq!(filled, 1);
        assert_eq!(delivered(&steps), [2, -1007], "chat 7 resyncs");
        assert_eq!(delivered(&sequencer.admit(post(7, 5), None, start + WAIT)), [5]);
        // Storage could not be read at all: the same.
        assert!(sequencer.admit(post(7, 7), None, start + WAIT).is_empty());
        assert_eq!(sequencer.expire(start + WAIT * 2).len(), 1, "a fill");
        assert_eq!(delivered(&sequencer.filled(ChatId(7), None, start + WAIT * 2).0), [-1007]);
        assert_eq!(delivered(&sequencer.admit(post(7, 8), None, start + WAIT * 2)), [8]);
    }

    #[test]
    fn a_new_chat_starts_its_line_at_its_first_item() {
        let mut sequencer = Sequencer::new(WAIT);
        let start = Instant::now();
        let chat = Chat {
            id: ChatId(8),
            kind: ChatKind::Group,
            name: Some("Crabs".into()),
            topic: None,
            participants: Vec::new(),
            last_seq: Seq(0),
            created_at: Timestamp::from_unix_millis(0),
        };
        let created = BrokerEvent::Chat(Box::new(Publish::to_chat(
            ChatId(8),
            ServerFrame::ChatCreated { chat },
        )));
        assert_eq!(delivered(&sequencer.admit(created, None, start)), [-1], "delivered at once");
        // Item 2 (another node's) before item 1: held, with no settling needed to know it.
        assert!(sequencer.admit(post(8, 2), None, start).is_empty());
        assert_eq!(delivered(&sequencer.admit(post(8, 1), None, start)), [1, 2]);
    }
}
