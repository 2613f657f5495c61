//! Property tests of the client without sockets: the per-chat sequencer, and the whole session
//! (send queue, reply matching, pauses, reconnection) against a model server that loses,
//! duplicates and refuses replies and drops the connection.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use hellocode_core::model::{Chat, ChatId, EventKind, Message, Participant, Seq, Timestamp};
use hellocode_core::protocol::{RequestId, ServerFrame};
use proptest::prelude::*;
use serde_json::Value;
use tokio::sync::oneshot;

use super::chats::Chats;
use super::session::Action;
use super::session::harness::{Harness, ack};
use crate::Result;
use crate::config::ClientConfig;
use crate::event::Event;

/// Item `seq` of the chat: every third one an event (a join), the others posts.
fn message(seq: i64) -> Message {
    let kind = if seq % 3 == 0 { EventKind::Join } else { EventKind::Message };
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
        kind,
        target: None,
        member: None,
        role: None,
        attachments: Vec::new(),
    }
}

fn chat(last: i64) -> Chat {
    Chat {
        id: ChatId(1),
        kind: Default::default(),
        name: None,
        topic: None,
        participants: vec![Participant::new("alice")],
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
fn answer(chats: &mut Chats, since: Seq, limit: usize, n: i64, out: &mut Vec<Event>) {
    let page: Vec<Message> = (since.0 + 1..=n).take(limit).map(message).collect();
    let more = since.0 + (limit as i64) < n;
    chats.resumed(ChatId(1), page, more, out);
}

proptest! {
    /// Whatever the arrival order, duplicates, losses and disconnects, the application gets
    /// every item of the chat (posts and events) once, in sequence order (gaps filled by
    /// `resume`), each as what it is.
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
        let seqs: Vec<i64> = out
            .iter()
            .map(|event| match event {
                Event::Message(m) if m.is_post() => m.seq.0,
                Event::ChatEvent(m) if !m.is_post() => m.seq.0,
                other => panic!("an item delivered as what it is not: {other:?}"),
            })
            .collect();
        prop_assert_eq!(seqs, (1..=n).collect::<Vec<_>>());
    }
}

/// One thing that happens to a connected client.
#[derive(Debug, Clone)]
enum Step {
    /// The application queues a message for chat `1..=3`.
    Enqueue(u8),
    /// The client writes what it may; the frames go on the wire.
    Transmit,
    /// The server handles the oldest frame on the wire, and its reply is…
    Serve(Fate),
    /// The connection drops, losing what is on the wire; the client reconnects.
    Drop,
    /// Time passes (milliseconds): pauses end, keepalive pings go out.
    Wait(u16),
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    Delivered,
    Lost,
    Duplicated,
    /// `rate_limited` (the message is not stored).
    RateLimited,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let fate = prop_oneof![
        4 => Just(Fate::Delivered),
        1 => Just(Fate::Lost),
        1 => Just(Fate::Duplicated),
        1 => Just(Fate::RateLimited),
    ];
    let one = prop_oneof![
        3 => (1u8..=3).prop_map(Step::Enqueue),
        3 => Just(Step::Transmit),
        5 => fate.prop_map(Step::Serve),
        1 => Just(Step::Drop),
        1 => (0u16..3_000).prop_map(Step::Wait),
    ];
    proptest::collection::vec(one, 0..150)
}

/// The model server: frames on the wire, and per chat the client ids stored, in order
/// (idempotent by client id, as the real one is).
#[derive(Default)]
struct ModelServer {
    wire: VecDeque<Value>,
    chats: HashMap<i64, Vec<String>>,
}

impl ModelServer {
    /// Handle the oldest frame on the wire; its reply, if it has one.
    fn serve(&mut self, fate: Fate) -> Option<ServerFrame> {
        let frame = self.wire.pop_front()?;
        let id = frame["id"].as_i64().map(RequestId::Number);
        match frame["command"].as_str() {
            Some("new_message") if matches!(fate, Fate::RateLimited) => {
                Some(ServerFrame::rate_limited(id, "slow down", 1))
            }
            Some("new_message") => {
                let chat = frame["chatId"].as_i64().unwrap_or_default();
                let client_id = frame["clientId"].as_str().unwrap_or_default().to_owned();
                let stored = self.chats.entry(chat).or_default();
                let seq = match stored.iter().position(|known| *known == client_id) {
                    Some(index) => index + 1,
                    None => {
                        stored.push(client_id);
                        stored.len()
                    }
                };
                Some(ack(&frame, seq as i64))
            }
            Some("list_chats") => Some(ServerFrame::Chats { id, chats: Vec::new() }),
            Some("ping") => Some(ServerFrame::Pong { id }),
            other => panic!("the model server does not expect {other:?}"),
        }
    }
}

/// Run one step against the session; a connection the session dropped (keepalive) is
/// reopened like a lost one.
fn run(step: &Step, h: &mut Harness, server: &mut ModelServer, queued: &mut Queued) {
    match step {
        Step::Enqueue(chat) => {
            let client_id = format!("c{}", queued.len());
            let outcome = h.enqueue(i64::from(*chat), &client_id);
            queued.push((i64::from(*chat), client_id, outcome));
        }
        Step::Transmit => server.wire.extend(h.sent()),
        Step::Serve(fate) => {
            if let Some(reply) = server.serve(*fate) {
                match fate {
                    Fate::Lost => {}
                    Fate::Duplicated => {
                        h.receive(&reply);
                        h.receive(&reply);
                    }
                    Fate::Delivered | Fate::RateLimited => h.receive(&reply),
                }
            }
        }
        Step::Drop => {
            server.wire.clear();
            h.lose(crate::Error::Transport("dropped".into()));
            h.reconnect();
        }
        Step::Wait(ms) => h.advance(Duration::from_millis(u64::from(*ms))),
    }
    let actions = h.actions();
    if actions.iter().any(|action| matches!(action, Action::Disconnect)) {
        server.wire.clear();
        h.reconnect();
    }
    assert!(
        !actions.iter().any(|action| matches!(action, Action::Stop(_))),
        "the client never gives up here: {actions:?}"
    );
}

type Queued = Vec<(i64, String, oneshot::Receiver<Result<Message>>)>;

proptest! {
    /// Whatever is lost, duplicated, refused for now or cut by a disconnect, every queued
    /// message is stored once and settled once as sent, and each chat stores its messages in
    /// the order they were queued.
    #[test]
    fn every_send_is_stored_and_settled_once_in_queue_order(script in steps()) {
        let mut h = Harness::ready(ClientConfig::default());
        let mut server = ModelServer::default();
        let mut queued = Queued::new();
        for step in &script {
            run(step, &mut h, &mut server, &mut queued);
        }
        // Then a connection that loses nothing, until every message is settled.
        run(&Step::Drop, &mut h, &mut server, &mut queued);
        for _ in 0..1_000 {
            if h.shared.queued.load(std::sync::atomic::Ordering::Relaxed) == 0 {
                break;
            }
            run(&Step::Wait(1_000), &mut h, &mut server, &mut queued);
            run(&Step::Transmit, &mut h, &mut server, &mut queued);
            while !server.wire.is_empty() {
                run(&Step::Serve(Fate::Delivered), &mut h, &mut server, &mut queued);
            }
        }
        let mut expected: HashMap<i64, Vec<String>> = HashMap::new();
        for (chat, client_id, outcome) in &mut queued {
            expected.entry(*chat).or_default().push(client_id.clone());
            let sent = outcome.try_recv();
            prop_assert!(matches!(sent, Ok(Ok(_))), "{} settled as sent: {:?}", client_id, sent);
            if let Ok(Ok(message)) = sent {
                prop_assert_eq!(message.client_id.as_deref(), Some(client_id.as_str()));
            }
        }
        prop_assert_eq!(&server.chats, &expected, "stored once each, in queue order per chat");
    }
}
