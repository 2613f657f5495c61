//! A real server (SQLite in a temporary directory) on a random loopback port, and helpers.

use std::sync::Arc;
use std::time::Duration;

use hellocode_core::model::{ChatId, Message, Seq};
use hellocode_core::storage::{Items, SqliteStorage, Storage};
use hellocode_core::testing::TempDir;
use hellocode_sdk::{
    Backoff, Client, ClientConfig, Credentials, Event, Events, InProcessTransport, Transport,
    WebSocketTransport,
};
use hellocode_server::{Server, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which transport a test runs over.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    WebSocket,
    InProcess,
}

pub(crate) struct TestServer {
    server: Option<Server>,
    pub(crate) storage: Arc<dyn Storage>,
    _dir: TempDir,
}

impl TestServer {
    pub(crate) async fn start() -> TestServer {
        TestServer::start_with(Settings::without_abuse_limits()).await
    }

    pub(crate) async fn start_with(settings: Settings) -> TestServer {
        let dir = TempDir::new();
        let url = format!("sqlite:{}", dir.0.join("chat.db").display());
        let storage: Arc<dyn Storage> =
            Arc::new(SqliteStorage::open(&url).await.expect("open sqlite"));
        TestServer::on_storage(storage, settings, dir).await
    }

    /// Another node of the same deployment: a second server on this one's storage and secret
    /// (no broker between them: each delivers live only to its own clients).
    pub(crate) async fn another_node(&self) -> TestServer {
        let settings = Settings::without_abuse_limits();
        TestServer::on_storage(self.storage.clone(), settings, TempDir::new()).await
    }

    async fn on_storage(storage: Arc<dyn Storage>, settings: Settings, dir: TempDir) -> TestServer {
        let server = Server::start_with(
            storage.clone(),
            b"an-integration-test-secret-of-32-bytes!",
            settings,
            "127.0.0.1:0".parse().expect("address"),
        )
        .await
        .expect("server starts");
        TestServer { server: Some(server), storage, _dir: dir }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("running")
    }

    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.server().local_addr()
    }

    pub(crate) fn ws_url(&self) -> String {
        format!("ws://{}", self.server().local_addr())
    }

    pub(crate) fn transport(&self, kind: Kind) -> Box<dyn Transport> {
        match kind {
            Kind::WebSocket => {
                Box::new(WebSocketTransport::new(&self.ws_url()).expect("valid url"))
            }
            Kind::InProcess => Box::new(InProcessTransport::new(self.server().local_endpoint())),
        }
    }

    /// Register `name` and return its connected client.
    pub(crate) async fn register(&self, kind: Kind, name: &str) -> Client {
        self.connect_with(kind, register(name), fast_config()).await
    }

    pub(crate) async fn connect_with(
        &self,
        kind: Kind,
        credentials: Credentials,
        config: ClientConfig,
    ) -> Client {
        Client::connect_with(self.transport(kind), credentials, config)
            .await
            .expect("client connects")
    }

    /// Every post stored in `chat`, oldest first.
    pub(crate) async fn stored(&self, chat: ChatId, reader: &str) -> Vec<Message> {
        let mut all = Vec::new();
        loop {
            let after = all.last().map_or(Seq(0), |m: &Message| m.seq);
            let page = self
                .storage
                .messages_after(chat, reader, after, 100, Items::Posts)
                .await
                .expect("page");
            if page.is_empty() {
                return all;
            }
            all.extend(page);
        }
    }

    pub(crate) async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

/// The server's count of `command` received so far, from `/metrics`.
pub(crate) async fn commands_received(server: &TestServer, command: &str) -> u64 {
    let mut socket = tokio::net::TcpStream::connect(server.addr()).await.expect("connect");
    let request = "GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
    socket.write_all(request.as_bytes()).await.expect("request");
    let mut body = String::new();
    socket.read_to_string(&mut body).await.expect("response");
    let series = format!("hellocode_commands_total{{command=\"{command}\"}} ");
    body.lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|count| count.trim().parse().ok())
        .expect("the command's counter")
}

/// Every test user's password.
const PASSWORD: &str = "correct horse battery staple";

pub(crate) fn register(name: &str) -> Credentials {
    Credentials::register(name, format!("{name}@example.org"), PASSWORD)
}

pub(crate) fn password(name: &str) -> Credentials {
    Credentials::password(name, PASSWORD)
}

/// Quick reconnection, for tests.
pub(crate) fn fast_config() -> ClientConfig {
    let mut config = ClientConfig::default();
    config.reconnect = Backoff {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(100),
        ..Backoff::default()
    };
    config.request_timeout = Duration::from_secs(20);
    config
}

/// The next event matching `pick`, skipping others; fails after 10 s.
pub(crate) async fn next_matching<T>(
    events: &mut Events,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the expected event within 10 s")
            .expect("events still open");
        if let Some(found) = pick(event) {
            return found;
        }
    }
}

/// The next `n` messages (skipping other events).
pub(crate) async fn messages(events: &mut Events, n: usize) -> Vec<Message> {
    let mut found = Vec::with_capacity(n);
    while found.len() < n {
        found.push(
            next_matching(events, |event| match event {
                Event::Message(message) => Some(message),
                _ => None,
            })
            .await,
        );
    }
    found
}

/// Send `command` to `chat` as `sender` and check that the next messages on `events` are that
/// command and the `answers` (author, text) to it, in any order: a positive marker for "and
/// nothing else was posted". Whatever a bot wrongly posted before would arrive first, because a
/// chat's messages arrive in sequence order.
pub(crate) async fn marker(
    sender: &Client,
    chat: ChatId,
    events: &mut Events,
    command: &str,
    answers: &[(&str, &str)],
) {
    sender.send(chat, command).await.expect("marker sent");
    let got = messages(events, 1 + answers.len()).await;
    assert_eq!(
        (got[0].author.as_str(), got[0].content.as_str()),
        (sender.username(), command),
        "unexpected messages before the marker: {got:?}"
    );
    let mut seen: Vec<(&str, &str)> =
        got[1..].iter().map(|m| (m.author.as_str(), m.content.as_str())).collect();
    let mut want = answers.to_vec();
    seen.sort();
    want.sort();
    assert_eq!(seen, want, "the answers to the marker");
}

/// Run each named `async fn name(kind: Kind)` test over both transports.
macro_rules! on_transports {
    ($($name:ident),* $(,)?) => {
        mod websocket {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::harness::Kind::WebSocket).await
                }
            )*
        }
        mod in_process {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::harness::Kind::InProcess).await
                }
            )*
        }
    };
}
pub(crate) use on_transports;

/// The next event that is not a send update, presence, typing, a read receipt or a connection
/// change: what a test of chats and invitations is about.
pub(crate) async fn next_told(events: &mut Events) -> Event {
    next_matching(events, |event| match event {
        Event::Send(_)
        | Event::Presence { .. }
        | Event::Online { .. }
        | Event::Typing { .. }
        | Event::Read { .. }
        | Event::Connection(_) => None,
        other => Some(other),
    })
    .await
}
