//! Property tests of the driver's socket-free parts: the per-chat sequencer and the send queue,
//! driven by random arrivals, losses, duplicates and disconnects against a model server.

use std::collections::HashMap;

use hellocode_core::model::{Chat, ChatId, Message, Participant, Seq, Timestamp};
use proptest::prelude::*;
use tokio::time::Instant;

use super::chats::Chats;
use super::outbox::{Outbox, Outgoing};
use crate::event::PendingSend;

fn message(seq: i64) -> Message {
    Message {
        id: seq,
        chat_id: ChatId(1),
        seq: Seq(seq),
        author: "bob".into(),
        content: format!("#{seq}"),
        timestamp: Timestamp::from_unix_millis(0),
        client_id: None,
        edited_at: None,
        deleted: false,
    }
}

fn chat(last: i64) -> Chat {
    Chat {
        id: ChatId(1),
        participants: vec![Participant { username: "alice".into() }],
        last_seq: Seq(last),
        created_at: Timestamp::from_unix_millis(0),
    }
}

#[derive(Debug, Clone)]
enum Arrival {
    /// The server pushes message `n` live (any order, any number of times).
    Live(i64),
    /// The oldest resume on the wire is answered, a page of at most this many.
    Answer(usize),
    /// The connection drops (resumes on the wire are lost) and comes back (chat list sync).
    Reconnect,
}

fn arrivals(n: i64) -> impl Strategy<Value = Vec<Arrival>> {
    let one = prop_oneof![
        4 => (1..=n).prop_map(Arrival::Live),
        2 => (1usize..5).prop_map(Arrival::Answer),
        1 => Just(Arrival::Reconnect),
    ];
    proptest::collection::vec(one, 0..80)
}

/// The model server's answer to `resume since`, at most `limit` messages.
fn answer(chats: &mut Chats, since: Seq, limit: usize, n: i64, out: &mut Vec<Message>) {
    let page: Vec<Message> = (since.0 + 1..=n).take(limit).map(message).collect();
    let more = since.0 + (limit as i64) < n;
    chats.resumed(ChatId(1), page, more, out);
}

proptest! {
    /// Whatever the arrival order, duplicates, losses and disconnects, the application gets
    /// every message of the chat once, in sequence order (gaps filled by `resume`).
    #[test]
    fn messages_are_delivered_once_in_order(n in 1i64..40, script in arrivals(40)) {
        let mut chats = Chats::with_positions(&HashMap::from([(ChatId(1), Seq(0))]));
        let mut out = Vec::new();
        chats.synced(&[chat(0)], &mut out);
        let mut on_wire: Vec<Seq> = Vec::new();
        for arrival in script {
            match arrival {
                Arrival::Live(k) if k <= n => chats.live(message(k), &mut out),
                Arrival::Live(_) => {}
                Arrival::Answer(limit) => {
                    if !on_wire.is_empty() {
                        let since = on_wire.remove(0);
                        answer(&mut chats, since, limit, n, &mut out);
                    }
                }
                Arrival::Reconnect => {
                    on_wire.clear();
                    chats.disconnected();
                    chats.synced(&[chat(n)], &mut out);
                }
            }
            on_wire.extend(chats.take_wanted(usize::MAX).into_iter().map(|(_, since)| since));
        }
        // Finally a reconnection, and every resume answered.
        chats.disconnected();
        chats.synced(&[chat(n)], &mut out);
        for _ in 0..1_000 {
            let wanted = chats.take_wanted(usize::MAX);
            let Some(&(_, since)) = wanted.first() else { break };
            answer(&mut chats, since, 3, n, &mut out);
        }
        let seqs: Vec<i64> = out.iter().map(|m| m.seq.0).collect();
        prop_assert_eq!(seqs, (1..=n).collect::<Vec<_>>());
    }
}

#[derive(Debug, Clone)]
enum Wire {
    /// Put what may go on the wire (at most this many).
    Flush(usize),
    /// The server handles the oldest frame on the wire; its ack is delivered, lost, or
    /// delivered twice.
    Serve { ack: u8 },
    /// The connection drops: frames and acks on the wire are lost.
    Drop,
}

fn wire_script() -> impl Strategy<Value = (Vec<u8>, Vec<Wire>)> {
    let chats = proptest::collection::vec(0u8..3, 1..20);
    let one = prop_oneof![
        3 => (1usize..6).prop_map(Wire::Flush),
        4 => (0u8..4).prop_map(|ack| Wire::Serve { ack }),
        1 => Just(Wire::Drop),
    ];
    (chats, proptest::collection::vec(one, 0..120))
}

/// The model server: per chat, the client ids stored, in order; idempotent by client id.
#[derive(Default)]
struct Store {
    chats: HashMap<ChatId, Vec<String>>,
}

impl Store {
    fn post(&mut self, send: &PendingSend) {
        let stored = self.chats.entry(send.chat_id).or_default();
        if !stored.contains(&send.client_id) {
            stored.push(send.client_id.clone());
        }
    }
}

/// The driver's rules for one acknowledgement: settle the message once.
fn acked(outbox: &mut Outbox, settled: &mut Vec<String>, client_id: &str) {
    if let Some(item) = outbox.take(client_id) {
        settled.push(item.send.client_id);
    }
}

proptest! {
    /// Every queued message is stored once and settled once, each chat's in the order they were
    /// queued, across lost and duplicate acknowledgements and disconnects (resends carry the
    /// same client id).
    #[test]
    fn every_send_is_stored_and_settled_once_in_queue_order((chats, script) in wire_script()) {
        let mut outbox = Outbox::default();
        let now = Instant::now();
        let mut queued: HashMap<ChatId, Vec<String>> = HashMap::new();
        for (n, chat) in chats.iter().enumerate() {
            let send = PendingSend {
                client_id: format!("c{n}"),
                chat_id: ChatId(i64::from(*chat)),
                content: format!("m{n}"),
            };
            queued.entry(send.chat_id).or_default().push(send.client_id.clone());
            outbox.push(Outgoing {
                send,
                waiter: None,
                on_wire: None,
                attempted: false,
                queued_at: now,
                server_failures: 0,
            });
        }
        let mut store = Store::default();
        let mut settled = Vec::new();
        let mut wire: Vec<PendingSend> = Vec::new();
        let mut next_id = 1;
        let mut step = |op: &Wire, outbox: &mut Outbox, wire: &mut Vec<PendingSend>| match op {
            Wire::Flush(room) => {
                for item in outbox.ready(*room) {
                    item.on_wire = Some(next_id);
                    item.attempted = true;
                    next_id += 1;
                    wire.push(item.send.clone());
                }
            }
            Wire::Serve { ack } => {
                if !wire.is_empty() {
                    let send = wire.remove(0);
                    store.post(&send);
                    for _ in 0..match ack { 0 => 0, 1 => 2, _ => 1 } {
                        acked(outbox, &mut settled, &send.client_id);
                    }
                    if *ack == 0 {
                        // Lost: the message stays on the wire until the connection drops.
                    }
                }
            }
            Wire::Drop => {
                wire.clear();
                outbox.disconnected();
            }
        };
        for op in &script {
            step(op, &mut outbox, &mut wire);
        }
        // Then a connection that loses nothing, until the queue is empty.
        step(&Wire::Drop, &mut outbox, &mut wire);
        for _ in 0..1_000 {
            if outbox.is_empty() {
                break;
            }
            step(&Wire::Flush(usize::MAX), &mut outbox, &mut wire);
            while !wire.is_empty() {
                step(&Wire::Serve { ack: 2 }, &mut outbox, &mut wire);
            }
        }
        prop_assert!(outbox.is_empty());
        let mut once = settled.clone();
        once.sort();
        once.dedup();
        prop_assert_eq!(once.len(), chats.len(), "each settled once");
        prop_assert_eq!(settled.len(), chats.len());
        prop_assert_eq!(&store.chats, &queued, "stored once each, in queue order per chat");
    }
}
