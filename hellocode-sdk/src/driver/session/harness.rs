//! A session driven by hand for tests: a clock that moves only when told, frames written as
//! JSON values, replies built from the core's types. No socket, no timer, no randomness.

use std::sync::Arc;
use std::time::Duration;

use hellocode_core::model::{Chat, ChatId, Message, Participant, Seq, Timestamp};
use hellocode_core::protocol::{ErrorCode, RequestId, ServerFrame};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::{Action, Session};
use crate::config::{ClientConfig, Credentials};
use crate::driver::{Shared, ToDriver, Wire};
use crate::event::{ConnectionState, Event, PendingSend};
use crate::{Error, Result};

pub(in crate::driver) struct Harness {
    pub(in crate::driver) session: Session,
    pub(in crate::driver) now: Instant,
    pub(in crate::driver) shared: Arc<Shared>,
    pub(in crate::driver) state: watch::Receiver<ConnectionState>,
    pub(in crate::driver) events: mpsc::UnboundedReceiver<Event>,
}

impl Harness {
    /// A session with no jitter in its backoff, subscribed to its events.
    pub(in crate::driver) fn new(credentials: Credentials, config: ClientConfig) -> Self {
        let shared = Arc::new(Shared::default());
        let (state_sender, state) = watch::channel(ConnectionState::Closed { error: None });
        let now = Instant::now();
        let mut session =
            Session::new(credentials, config, shared.clone(), state_sender, "test".into(), now);
        session.jitter = || 0.0;
        let (subscriber, events) = mpsc::unbounded_channel();
        session.handle_command(ToDriver::Subscribe(subscriber), now);
        Harness { session, now, shared, state, events }
    }

    /// Alice with a password, through the first connection with no chats.
    pub(in crate::driver) fn ready(config: ClientConfig) -> Self {
        let mut harness = Harness::new(Credentials::password("alice", "secret-pw"), config);
        harness.open();
        let login = harness.sent_one("login");
        harness.answer(&login, authenticated("alice", Some("t1")));
        harness.answer_chat_list(&[]);
        assert!(!harness.session.is_first(), "ready after the chat list");
        harness
    }

    /// Move the clock and run what is due.
    pub(in crate::driver) fn advance(&mut self, by: Duration) {
        self.now += by;
        self.session.handle_timeout(self.now);
    }

    /// The actions asked for since the last call.
    pub(in crate::driver) fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.session.poll_action()).collect()
    }

    /// Expect a `Connect` and open the connection.
    pub(in crate::driver) fn open(&mut self) {
        let actions = self.actions();
        assert!(
            matches!(actions.as_slice(), [Action::Connect { .. }]),
            "expected a connect, got {actions:?}"
        );
        self.session.handle_connected(self.now);
    }

    /// The connection breaks (as the shell reports it).
    pub(in crate::driver) fn lose(&mut self, error: Error) {
        self.session.handle_lost(error, self.now);
    }

    /// Wait out the backoff, reconnect, and log in again (the token is saved, so `auth`).
    pub(in crate::driver) fn reconnect(&mut self) {
        let delay = match &*self.state.borrow() {
            ConnectionState::Reconnecting { delay, .. } => *delay,
            other => panic!("not reconnecting: {other:?}"),
        };
        self.advance(delay);
        self.open();
        let auth = self.sent_one("auth");
        self.answer(&auth, authenticated("alice", None));
        assert!(matches!(&*self.state.borrow(), ConnectionState::Connected { .. }));
    }

    /// The frames the session writes now.
    pub(in crate::driver) fn sent(&mut self) -> Vec<Value> {
        let frames = self.session.poll_transmit(self.now);
        frames.iter().map(|text| serde_json::from_str(text).expect("frames are JSON")).collect()
    }

    /// Exactly one frame, with this command.
    pub(in crate::driver) fn sent_one(&mut self, command: &str) -> Value {
        let sent = self.sent();
        assert_eq!(sent.len(), 1, "expected one `{command}`, got {sent:?}");
        assert_eq!(sent[0]["command"], command, "{sent:?}");
        sent[0].clone()
    }

    /// Answer a written frame (its id is put on `reply`).
    pub(in crate::driver) fn answer(
        &mut self,
        request: &Value,
        reply: impl Fn(RequestId) -> ServerFrame,
    ) {
        let id = request["id"].as_i64().expect("requests carry a numeric id");
        self.receive(&reply(RequestId::Number(id)));
    }

    pub(in crate::driver) fn receive(&mut self, frame: &ServerFrame) {
        let text = serde_json::to_string(frame).expect("frames serialize");
        self.session.handle_frame(&text, self.now);
    }

    /// Answer the `list_chats` written now with these chats (one page).
    pub(in crate::driver) fn answer_chat_list(&mut self, chats: &[Chat]) {
        let list = self.sent_one("list_chats");
        let chats = chats.to_vec();
        self.answer(&list, move |id| ServerFrame::Chats { id: Some(id), chats: chats.clone() });
    }

    /// A request from a handle; its reply arrives on the receiver.
    pub(in crate::driver) fn request(
        &mut self,
        command: impl Into<Wire>,
        retry: bool,
    ) -> oneshot::Receiver<Result<ServerFrame>> {
        let (reply, answer) = oneshot::channel();
        let request = ToDriver::Request { command: command.into(), retry, reply };
        self.session.handle_command(request, self.now);
        answer
    }

    /// A message for the send queue; its outcome arrives on the receiver.
    pub(in crate::driver) fn enqueue(
        &mut self,
        chat: i64,
        client_id: &str,
    ) -> oneshot::Receiver<Result<Message>> {
        let (waiter, outcome) = oneshot::channel();
        let send = PendingSend {
            client_id: client_id.into(),
            chat_id: ChatId(chat),
            content: format!("hello from {client_id}"),
            attachments: Vec::new(),
        };
        self.shared.queued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.session.handle_command(ToDriver::Enqueue { send, waiter: Some(waiter) }, self.now);
        outcome
    }

    /// The events emitted so far.
    pub(in crate::driver) fn drain_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.events.try_recv().ok()).collect()
    }
}

pub(in crate::driver) fn authenticated(
    username: &str,
    token: Option<&str>,
) -> impl Fn(RequestId) -> ServerFrame {
    let (username, token) = (username.to_owned(), token.map(str::to_owned));
    move |id| ServerFrame::Authenticated {
        id: Some(id),
        username: username.clone(),
        token: token.clone(),
        protocol: None,
    }
}

pub(in crate::driver) fn refusal(code: ErrorCode) -> impl Fn(RequestId) -> ServerFrame {
    move |id| ServerFrame::error(Some(id), code, "refused")
}

/// The server's `ack` of a `new_message` frame: the message stored as number `seq`.
pub(in crate::driver) fn ack(request: &Value, seq: i64) -> ServerFrame {
    let message = Message {
        id: seq,
        chat_id: ChatId(request["chatId"].as_i64().unwrap_or_default()),
        seq: Seq(seq),
        author: "alice".into(),
        content: request["message"].as_str().unwrap_or_default().into(),
        timestamp: Timestamp::from_unix_millis(0),
        client_id: request["clientId"].as_str().map(str::to_owned),
        edited_at: None,
        deleted: false,
        kind: Default::default(),
        target: None,
        member: None,
        role: None,
        attachments: Vec::new(),
    };
    let id = request["id"].as_i64().map(RequestId::Number);
    ServerFrame::Ack { id, message }
}

pub(in crate::driver) fn chat(id: i64, last: i64) -> Chat {
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
