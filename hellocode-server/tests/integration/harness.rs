//! A real server on a random loopback port, on a chosen backend, and clients to drive it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hellocode_core::storage::{MediaStore, PoolConfig};
use hellocode_core::testing::{PgDatabase, TempDir};
use hellocode_server::media::DirMediaStore;
use hellocode_server::rate_limit::Rate;
use hellocode_server::{Server, Settings, open_storage_with_media};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame before failing (a hang guard, not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(10);

pub const SECRET: &[u8] = b"integration-test-secret-of-32-bytes!";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    server: Option<Server>,
    pub addr: SocketAddr,
    pub settings: Settings,
    url: String,
    /// The broker between nodes (`redis://...`), if any.
    broker: Option<String>,
    _dir: TempDir,
    _database: Option<PgDatabase>,
}

pub fn test_settings() -> Settings {
    let unlimited = Rate { burst: 10_000, per_second: 10_000.0 };
    Settings {
        rate_per_second: 10_000,
        rate_burst: 10_000,
        auth_rate_per_address: unlimited,
        auth_rate_per_username: unlimited,
        rest_rate_per_address: unlimited,
        hash_queue: 1024,
        ..Settings::default()
    }
}

impl TestServer {
    /// A server on `backend`, or `None` when the backend's service is unavailable (reported).
    pub async fn start(backend: Backend) -> Option<TestServer> {
        Self::start_with(backend, test_settings()).await
    }

    pub async fn start_with(backend: Backend, settings: Settings) -> Option<TestServer> {
        Self::start_node(backend, settings, None).await
    }

    /// A node of a deployment whose nodes share events through `broker` (`redis://...`).
    pub async fn start_node(
        backend: Backend,
        settings: Settings,
        broker: Option<&str>,
    ) -> Option<TestServer> {
        let dir = TempDir::new();
        let (url, database) = match backend {
            Backend::Sqlite => (dir.sqlite_url(), None),
            Backend::Postgres => {
                let database = PgDatabase::create().await?;
                (database.url.clone(), Some(database))
            }
        };
        let mut server = TestServer {
            server: None,
            addr: ([127, 0, 0, 1], 0).into(),
            settings,
            url,
            broker: broker.map(str::to_owned),
            _dir: dir,
            _database: database,
        };
        server.boot().await;
        Some(server)
    }

    /// Another node beside this one: the same database and broker (the first node owns the
    /// database: keep it until the end).
    pub async fn beside(&self) -> TestServer {
        let mut server = TestServer {
            server: None,
            addr: ([127, 0, 0, 1], 0).into(),
            settings: self.settings,
            url: self.url.clone(),
            broker: self.broker.clone(),
            _dir: TempDir::new(),
            _database: None,
        };
        server.boot().await;
        server
    }

    async fn boot(&mut self) {
        let pool = PoolConfig { max_connections: 4, ..PoolConfig::default() };
        let (storage, database_media) =
            open_storage_with_media(&self.url, pool).await.expect("open storage");
        let address = ([127, 0, 0, 1], 0).into();
        let broker = self.broker.as_deref();
        // Media as the binary keeps them: in a directory beside SQLite, in Postgres itself.
        let media: Arc<dyn MediaStore> = match database_media {
            Some(media) if !self.url.starts_with("sqlite:") => media,
            _ => Arc::new(DirMediaStore::new(self.media_dir()).expect("media directory")),
        };
        let server =
            Server::start_node_with_media(storage, media, SECRET, self.settings, address, broker)
                .await
                .expect("start server");
        self.addr = server.local_addr();
        self.server = Some(server);
    }

    /// Where a SQLite server keeps uploaded media.
    pub fn media_dir(&self) -> std::path::PathBuf {
        self._dir.0.join("media")
    }

    /// The URL of the server's database.
    pub fn database_url(&self) -> &str {
        &self.url
    }

    /// Stop the server gracefully and start it again on the same storage.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().await;
    }

    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// Register `username` and log in; returns a token.
    pub async fn user(&self, username: &str) -> String {
        let body = json!({
            "username": username, "email": format!("{username}@example.org"),
            "password": PASSWORD, "password_confirmation": PASSWORD,
        });
        let (status, reply) = self.http("POST", "/api/register/", None, Some(&body)).await;
        assert_eq!(status, 201, "register {username}: {reply}");
        self.login(username).await
    }

    pub async fn login(&self, username: &str) -> String {
        let body = json!({ "username": username, "password": PASSWORD });
        let (status, reply) = self.http("POST", "/api/login/", None, Some(&body)).await;
        assert_eq!(status, 200, "login {username}: {reply}");
        reply["token"].as_str().expect("token").to_owned()
    }

    /// One HTTP/1.1 request; returns the status and the JSON body (`Null` when empty).
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        http(self.addr, method, path, token, body).await
    }

    /// [`TestServer::http`] with more request headers.
    pub async fn http_with_headers(
        &self,
        method: &str,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> (u16, Value) {
        let mut extra = format!("Authorization: Bearer {token}\r\n");
        for (name, value) in headers {
            extra.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = body.to_string();
        let (status, raw) = exchange(self.addr, method, path, &extra, Some(&body)).await;
        (status, serde_json::from_slice(&raw).unwrap_or(Value::Null))
    }

    /// A request without a body, with `headers`; the whole response (for the web app's
    /// routes, whose headers matter).
    pub async fn fetch(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Fetched {
        self.send_bytes(method, path, headers, &[]).await
    }

    /// A request with `headers` and `body` as it is (an upload); the whole response.
    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Fetched {
        let mut stream = TcpStream::connect(self.addr).await.expect("connect");
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        // The server may answer (413, say) and close before reading the whole body.
        let _ = stream.write_all(&bytes).await;
        let mut response = Vec::new();
        let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
            .await
            .expect("response in time");
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let body = response[split + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .expect("status");
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Fetched { status, headers, body }
    }

    pub async fn http_text(&self, path: &str) -> (u16, String) {
        let (status, raw) = raw_http(self.addr, "GET", path, None, None).await;
        (status, String::from_utf8_lossy(&raw).into_owned())
    }

    /// The running server's in-process endpoint.
    pub fn local(&self) -> hellocode_server::ws::LocalEndpoint {
        self.server.as_ref().expect("the server is running").local_endpoint()
    }

    /// A WebSocket to `path` (`/ws`, `/ws/chat/7`, with `?token=` if wanted).
    pub async fn connect(&self, path: &str) -> Client {
        let url = format!("ws://{}{path}", self.addr);
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        Client { socket }
    }

    /// [`connect`](Self::connect), returning once the server has brought the connection online
    /// (it answers a command only after that): from then on, every event reaches it, the
    /// presence of users who come online after included.
    pub async fn connect_online(&self, path: &str) -> Client {
        let mut client = self.connect(path).await;
        client.send(json!({ "command": "ping", "id": "online" })).await;
        assert_eq!(client.recv().await, json!({ "command": "pong", "id": "online" }));
        client
    }

    /// A WebSocket authenticated with an `Authorization: Bearer` header.
    pub async fn connect_with_header(&self, path: &str, token: &str) -> Client {
        let mut request =
            format!("ws://{}{path}", self.addr).into_client_request().expect("request");
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().expect("header"));
        let (socket, _) =
            tokio_tungstenite::connect_async(request).await.expect("websocket connects");
        Client { socket }
    }

    /// The HTTP status a WebSocket upgrade to `path` gets, when it is refused.
    pub async fn refused_upgrade(&self, path: &str) -> u16 {
        let url = format!("ws://{}{path}", self.addr);
        match tokio_tungstenite::connect_async(url).await {
            Ok(_) => panic!("upgrade to {path} was accepted"),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                response.status().as_u16()
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
}

pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let (status, raw) =
        raw_http(addr, method, path, token, body.map(Value::to_string).as_deref()).await;
    let value = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into()))
    };
    (status, value)
}

/// A minimal HTTP/1.1 exchange with `Connection: close` (the server answers with a length).
pub async fn raw_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Vec<u8>) {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    exchange(addr, method, path, &auth, body).await
}

/// [`raw_http`] with `headers` (each line ending in CRLF) added to the request.
async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<&str>,
) -> (u16, Vec<u8>) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    );
    let (head, body) = round_trip(stream, &request).await;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    (status, body)
}

/// Write `request`, read the response to its end (the request asks to close): its head, as
/// text, and its body.
async fn round_trip(mut stream: TcpStream, request: &str) -> (String, Vec<u8>) {
    stream.write_all(request.as_bytes()).await.expect("send request");
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read");
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    (head, response[split + 4..].to_vec())
}

/// A whole HTTP response: status, headers (names in lowercase) and body.
pub struct Fetched {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Fetched {
    /// The value of header `name` (lowercase), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_str())
    }
}

fn is_presence(frame: &Value) -> bool {
    frame["command"] == "presence" || frame["command"] == "online"
}

pub struct Client {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.expect("send");
    }

    /// The next text frame as JSON. Presence, which arrives whenever another user's first
    /// connection opens or last one closes (`presence`) and when a version 2 connection opens
    /// (`online`), is skipped; [`Client::expect`] with `"presence"` or `"online"` waits for it.
    pub async fn recv(&mut self) -> Value {
        loop {
            let frame = self.recv_any().await;
            if !is_presence(&frame) {
                return frame;
            }
        }
    }

    /// The next text frame as JSON, whatever it is (pings and pongs are skipped).
    pub async fn recv_any(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a frame in time")
                .expect("the connection is open")
                .expect("a valid frame");
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(&text).expect("server frames are JSON");
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// The next frame, which must have this `command`.
    pub async fn expect(&mut self, command: &str) -> Value {
        let presence = command == "presence" || command == "online";
        let frame = if presence { self.recv_any().await } else { self.recv().await };
        assert_eq!(frame["command"], command, "expected {command}, got {frame}");
        frame
    }

    /// Send a command with an id and return the reply with that id, checking that nothing
    /// else arrives first.
    pub async fn request(&mut self, mut frame: Value, id: i64) -> Value {
        frame["id"] = json!(id);
        self.send(frame).await;
        let reply = self.recv().await;
        assert_eq!(reply["id"], id, "reply to request {id}: {reply}");
        reply
    }

    /// Send a command with an id; returns its reply and the events that came before it (the
    /// events a command causes reach its own connection before its reply).
    pub async fn call(&mut self, mut frame: Value, id: i64) -> (Value, Vec<Value>) {
        frame["id"] = json!(id);
        self.send(frame).await;
        let mut events = Vec::new();
        loop {
            let frame = self.recv().await;
            if frame["id"] == id {
                return (frame, events);
            }
            assert!(frame.get("id").is_none(), "a reply to another request: {frame}");
            events.push(frame);
        }
    }

    /// Post a message with an id: the broadcast comes first, then the ack. Returns the message.
    pub async fn post(&mut self, chat: i64, text: &str, id: i64) -> Value {
        self.send(json!({ "command": "new_message", "chatId": chat, "message": text, "id": id }))
            .await;
        let event = self.expect("new_message").await;
        let ack = self.expect("ack").await;
        assert_eq!((&ack["id"], &ack["message"]), (&json!(id), &event["message"]));
        event["message"].clone()
    }

    /// Asserts no event is pending: a ping's pong must be the very next frame. Events for this
    /// connection are queued before the command that caused them is answered, so this is
    /// deterministic once that answer has been seen.
    pub async fn expect_nothing_pending(&mut self) {
        self.send(json!({ "command": "ping", "id": "nothing-pending" })).await;
        let frame = self.recv().await;
        assert_eq!(
            frame,
            json!({ "command": "pong", "id": "nothing-pending" }),
            "an unexpected frame arrived"
        );
    }

    /// Read until the server closes; returns the close code, if any.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(PATIENCE, self.socket.next()).await.expect("close in time") {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// Register users and create a chat among them (the first creates it); returns the tokens and
/// the chat id.
pub async fn chat_among(server: &TestServer, names: &[&str]) -> (Vec<String>, i64) {
    let mut tokens = Vec::new();
    for name in names {
        tokens.push(server.user(name).await);
    }
    let others: Vec<&str> = names[1..].to_vec();
    let (status, chat) = server
        .http(
            "POST",
            "/api/chat/create/",
            Some(&tokens[0]),
            Some(&json!({ "participants": others })),
        )
        .await;
    assert_eq!(status, 201, "{chat}");
    (tokens, chat["id"].as_i64().expect("chat id"))
}

/// Register users and create a group among them, named `name` (the first creates and owns it);
/// returns the tokens and the chat id.
pub async fn group_among(server: &TestServer, name: &str, names: &[&str]) -> (Vec<String>, i64) {
    let mut tokens = Vec::new();
    for user in names {
        tokens.push(server.user(user).await);
    }
    let body = json!({ "participants": names[1..].to_vec(), "name": name });
    let (status, chat) =
        server.http("POST", "/api/chat/create/", Some(&tokens[0]), Some(&body)).await;
    assert_eq!(status, 201, "{chat}");
    assert_eq!(chat["kind"], "group", "{chat}");
    (tokens, chat["id"].as_i64().expect("chat id"))
}

/// A WebSocket that never reads, with a small receive buffer so the server's writes stall.
pub async fn silent_client(server: &TestServer, token: &str) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(server.addr).await.expect("connect");
    let url = format!("ws://{}/ws?token={token}", server.addr);
    let (socket, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .expect("handshake");
    Client { socket }
}
