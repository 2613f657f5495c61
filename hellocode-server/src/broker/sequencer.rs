//! Each chat's sequenced events in sequence order, whichever node they come from.
//!
//! On one node a chat's events are published in sequence order (see `chat_order`). With
//! several nodes, two of them appending to one chat publish independently, so this node can
//! hear item 6 (from another node) before item 5 (its own, or a third node's). The sequencer
//! holds an event that comes after a gap until the missing one arrives; a gap still open after
//! the bounded wait is given up: the held events are dropped and the chat's members on this
//! node resume from storage, which has every item in order.
//!
//! A chat's line starts at the first sequenced event this node sees of it; an event older than
//! that (still in flight when the line began) is delivered late rather than lost.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use hellocode_core::model::{ChatId, Seq};
use hellocode_core::protocol::ServerFrame;

use super::BrokerEvent;

/// How long a line with nothing held is kept after its last event.
const IDLE_LINE: Duration = Duration::from_secs(600);

/// What to do, in order, after an event arrived or time passed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Deliver this event to this node's connections.
    Deliver(BrokerEvent),
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
    /// The sequence number the next deliverable event starts with.
    next: Seq,
    /// Events past a gap, by their first sequence number, with their last.
    held: BTreeMap<Seq, (Seq, BrokerEvent)>,
    /// Since when the current gap has been open.
    gap_since: Option<Instant>,
    last_event: Instant,
}

impl Sequencer {
    /// A sequencer that waits at most `wait` for a missing event.
    pub(crate) fn new(wait: Duration) -> Self {
        Sequencer { lines: HashMap::new(), wait }
    }

    /// `event` arrived at `now`: what to deliver, in order.
    pub(crate) fn admit(&mut self, event: BrokerEvent, now: Instant) -> Vec<Step> {
        let Some((chat, first, last)) = sequenced(&event) else {
            return vec![Step::Deliver(event)];
        };
        let line = self.lines.entry(chat).or_insert_with(|| Line {
            next: first,
            held: BTreeMap::new(),
            gap_since: None,
            last_event: now,
        });
        line.last_event = now;
        if first < line.next {
            // Late: older than the line's start (or overlapping it). Never lost.
            return vec![Step::Deliver(event)];
        }
        if first > line.next {
            line.held.insert(first, (last, event));
            line.gap_since.get_or_insert(now);
            return Vec::new();
        }
        let mut steps = vec![Step::Deliver(event)];
        line.next = Seq(last.0 + 1);
        while let Some(entry) = line.held.first_entry() {
            if *entry.key() != line.next {
                break;
            }
            let (last, event) = entry.remove();
            line.next = Seq(last.0 + 1);
            steps.push(Step::Deliver(event));
        }
        // Another gap may remain: its wait starts now.
        line.gap_since = (!line.held.is_empty()).then_some(now);
        steps
    }

    /// Time passed: gaps open longer than the wait are given up (their held events dropped,
    /// their chats resynced); idle lines are forgotten.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Step> {
        let mut steps = Vec::new();
        for (chat, line) in &mut self.lines {
            let overdue = line
                .gap_since
                .is_some_and(|since| now.saturating_duration_since(since) >= self.wait);
            if overdue {
                if let Some((_, (last, _))) = line.held.last_key_value() {
                    line.next = Seq(last.0 + 1);
                }
                line.held.clear();
                line.gap_since = None;
                steps.push(Step::Resync(*chat));
            }
        }
        self.lines.retain(|_, line| {
            !line.held.is_empty() || now.saturating_duration_since(line.last_event) < IDLE_LINE
        });
        steps
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

#[cfg(test)]
mod tests {
    use hellocode_core::model::{EventKind, Message, Timestamp};
    use hellocode_core::session::Publish;

    use super::*;

    const WAIT: Duration = Duration::from_millis(200);

    fn post(chat: i64, seq: i64) -> BrokerEvent {
        let message = Message {
            id: seq,
            chat_id: ChatId(chat),
            seq: Seq(seq),
            author: "alice".into(),
            content: format!("m{seq}"),
            timestamp: Timestamp::from_unix_millis(0),
            client_id: None,
            edited_at: None,
            deleted: false,
            kind: EventKind::Message,
            target: None,
            member: None,
            role: None,
        };
        BrokerEvent::Chat(Box::new(Publish::to_chat(
            ChatId(chat),
            ServerFrame::NewMessage { message },
        )))
    }

    fn delivered(steps: &[Step]) -> Vec<i64> {
        steps
            .iter()
            .map(|step| match step {
                Step::Deliver(event) => sequenced(event).map_or(-1, |(_, first, _)| first.0),
                Step::Resync(chat) => -1000 - chat.0,
            })
            .collect()
    }

    #[test]
    fn an_event_past_a_gap_waits_for_the_missing_one() {
        let mut sequencer = Sequencer::new(WAIT);
        let start = Instant::now();
        assert_eq!(delivered(&sequencer.admit(post(7, 5), start)), [5], "the line starts here");
        assert_eq!(delivered(&sequencer.admit(post(7, 7), start)), Vec::<i64>::new());
        assert_eq!(delivered(&sequencer.admit(post(7, 8), start)), Vec::<i64>::new());
        // Another chat is not held up by this one's gap.
        assert_eq!(delivered(&sequencer.admit(post(9, 1), start)), [1]);
        assert_eq!(delivered(&sequencer.admit(post(7, 6), start)), [6, 7, 8]);
        assert!(sequencer.expire(start + WAIT * 2).is_empty(), "no gap left");
        // Late (older than the line's start): delivered rather than lost.
        assert_eq!(delivered(&sequencer.admit(post(7, 4), start)), [4]);
        // Not sequenced: at once.
        let typing = BrokerEvent::Chat(Box::new(Publish::to_chat(
            ChatId(7),
            ServerFrame::Typing { chat_id: ChatId(7), username: "bob".into() },
        )));
        assert_eq!(sequencer.admit(typing.clone(), start), [Step::Deliver(typing)]);
    }

    #[test]
    fn a_gap_open_past_the_wait_resyncs_its_chat_and_the_line_goes_on() {
        let mut sequencer = Sequencer::new(WAIT);
        let start = Instant::now();
        sequencer.admit(post(7, 1), start);
        assert!(sequencer.admit(post(7, 3), start).is_empty());
        assert!(sequencer.admit(post(7, 4), start).is_empty());
        assert!(sequencer.expire(start + WAIT / 2).is_empty(), "still within the wait");
        assert_eq!(sequencer.expire(start + WAIT), [Step::Resync(ChatId(7))]);
        // The held events were dropped (the resume brings them); the line goes on after them.
        assert_eq!(delivered(&sequencer.admit(post(7, 5), start + WAIT)), [5]);
        // A line idle long enough is forgotten; the next event starts a new one.
        assert!(sequencer.expire(start + IDLE_LINE * 2).is_empty());
        assert_eq!(delivered(&sequencer.admit(post(7, 9), start + IDLE_LINE * 2)), [9]);
    }
}
