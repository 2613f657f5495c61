//! A scripted in-memory "server" behind a custom transport: it answers each frame the client
//! writes with what a test's script says, records every frame per connection, and can make the
//! client's writes stall forever (a socket whose send buffer never drains).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::{Sink, SinkExt, StreamExt};
use hellocode_sdk::transport::{Connection, Transport};
use hellocode_sdk::{Chat, ChatId, Error, Message, Participant, Seq, Timestamp};
use serde_json::{Value, json};

/// What the fake answers to one client frame: `(connection number from 1, frame)` → replies.
/// A reply equal to [`CLOSE`] ends the connection instead (the frame was received, its reply
/// is lost).
pub(crate) type Script = dyn Fn(usize, &Value) -> Vec<Value> + Send + Sync;

/// The reply that makes the fake end the connection.
pub(crate) const CLOSE: Value = Value::Null;

#[derive(Clone)]
pub(crate) struct Fake {
    inner: Arc<Inner>,
}

struct Inner {
    script: Box<Script>,
    connections: AtomicUsize,
    received: Mutex<Vec<(usize, Value)>>,
    stall: Arc<AtomicBool>,
}

impl Fake {
    pub(crate) fn new(
        script: impl Fn(usize, &Value) -> Vec<Value> + Send + Sync + 'static,
    ) -> Fake {
        Fake {
            inner: Arc::new(Inner {
                script: Box::new(script),
                connections: AtomicUsize::new(0),
                received: Mutex::new(Vec::new()),
                stall: Arc::new(AtomicBool::new(false)),
            }),
        }
    }

    /// From now on every write of every open connection stalls (never completes); a new
    /// connection clears it.
    pub(crate) fn stall(&self) {
        self.inner.stall.store(true, Ordering::SeqCst);
    }

    pub(crate) fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::SeqCst)
    }

    /// Every frame received so far, with its connection number.
    pub(crate) fn received(&self) -> Vec<(usize, Value)> {
        self.inner.received.lock().expect("log").clone()
    }
}

#[async_trait::async_trait]
impl Transport for Fake {
    async fn connect(&self) -> hellocode_sdk::Result<Connection> {
        let number = self.inner.connections.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.stall.store(false, Ordering::SeqCst);
        let (to_server, mut server_in) = futures_channel::mpsc::channel::<String>(64);
        let (mut server_out, from_server) = futures_channel::mpsc::unbounded::<String>();
        let inner = self.inner.clone();
        tokio::spawn(async move {
            while let Some(text) = server_in.next().await {
                let frame: Value = serde_json::from_str(&text).expect("the client sends JSON");
                inner.received.lock().expect("log").push((number, frame.clone()));
                for reply in (inner.script)(number, &frame) {
                    if reply == CLOSE {
                        return; // the connection ends, before any reply to this frame
                    }
                    if server_out.send(reply.to_string()).await.is_err() {
                        return;
                    }
                }
            }
        });
        let sink = Stalling { inner: to_server, stall: self.inner.stall.clone() };
        Ok(Connection::new(sink, from_server.map(Ok)))
    }
}

/// A sink that stops completing anything once `stall` is set.
struct Stalling {
    inner: futures_channel::mpsc::Sender<String>,
    stall: Arc<AtomicBool>,
}

impl Stalling {
    fn stalled(&self) -> bool {
        self.stall.load(Ordering::SeqCst)
    }
}

fn lost(err: futures_channel::mpsc::SendError) -> Error {
    Error::Transport(err.to_string())
}

impl Sink<String> for Stalling {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.stalled() {
            return Poll::Pending; // never woken: stuck for good
        }
        self.inner.poll_ready(cx).map_err(lost)
    }

    fn start_send(mut self: Pin<&mut Self>, item: String) -> Result<(), Error> {
        self.inner.start_send(item).map_err(lost)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.stalled() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx).map_err(lost)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.stalled() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_close(cx).map_err(lost)
    }
}

/// The usual answers: anyone authenticates as `ghost` (token `t1`), no chats, pings answered,
/// every message stored (chat-local sequence numbers from the client id's order are not
/// tracked: seq 1 each time).
pub(crate) fn standard(frame: &Value) -> Option<Value> {
    let id = frame["id"].clone();
    Some(match frame["command"].as_str()? {
        "auth" | "login" | "register" => {
            json!({"command": "authenticated", "id": id, "username": "ghost", "token": "t1"})
        }
        "list_chats" => json!({"command": "chats", "id": id, "chats": []}),
        "ping" => json!({"command": "pong", "id": id}),
        "new_message" => ack(frame, 1),
        _ => return None,
    })
}

/// An `ack` of a `new_message` frame, stored as `seq`.
pub(crate) fn ack(frame: &Value, seq: i64) -> Value {
    let message = Message {
        id: seq,
        chat_id: ChatId(frame["chatId"].as_i64().unwrap_or(1)),
        seq: Seq(seq),
        author: "ghost".into(),
        content: frame["message"].as_str().unwrap_or_default().to_owned(),
        timestamp: Timestamp::from_unix_millis(0),
        client_id: frame["clientId"].as_str().map(str::to_owned),
        edited_at: None,
        deleted: false,
        kind: Default::default(),
        target: None,
        member: None,
        role: None,
        attachments: Vec::new(),
    };
    json!({"command": "ack", "id": frame["id"], "message": message})
}

/// A chat of `ghost` with this id and no messages.
pub(crate) fn chat(id: i64) -> Chat {
    Chat {
        id: ChatId(id),
        kind: Default::default(),
        name: None,
        topic: None,
        participants: vec![Participant::new("ghost")],
        last_seq: Seq(0),
        created_at: Timestamp::from_unix_millis(0),
    }
}
