//! Connection limits (principle 7, "bounded everything"): HTTP header timeout and size cap,
//! connection caps per address and in total, the WebSocket authentication deadline, the cap on
//! WebSockets per user, the write timeout, the send queue's byte bound, and binary frames under
//! the rate limit. Each test shows the bound holds and that the server keeps serving others.
//! Backend-independent, so they run on SQLite only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::SinkExt;
use hellocode_server::Settings;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Backend, Client, TestServer, chat_among, silent_client, test_settings};

/// A hang guard, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(10);

async fn server(settings: Settings) -> TestServer {
    TestServer::start_with(Backend::Sqlite, settings).await.expect("SQLite is always available")
}

/// A TCP connection to `server` from the loopback address `127.0.0.<host>`: each test uses its
/// own, so per-address counts of tests running in parallel do not mix.
async fn connect_from(server: SocketAddr, host: u8) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), 0)).expect("bind");
    socket.connect(server).await.expect("connect")
}

/// One keep-alive `GET` on an open connection; returns the status.
async fn get(stream: &mut TcpStream, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send request");
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(read > 0, "the server closed the connection instead of answering {path}");
        response.extend_from_slice(&chunk[..read]);
        let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        if response.len() >= end + 4 + length {
            break head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
        }
    }
}

/// Reads until the server closes the connection; returns what it sent first.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .expect("the server closes the connection in time")
        {
            Ok(0) | Err(_) => return received,
            Ok(read) => received.extend_from_slice(&chunk[..read]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_header_is_cut_off_and_others_are_served() {
    let settings = Settings { http_header_timeout: Duration::from_secs(1), ..test_settings() };
    let server = server(settings).await;
    let mut slow = connect_from(server.addr, 11).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: a").await.expect("send");
    let mut idle = connect_from(server.addr, 11).await;
    let mut kept_alive = connect_from(server.addr, 11).await;
    assert_eq!(get(&mut kept_alive, "/healthz").await, 200);
    // Served meanwhile.
    assert_eq!(server.http("GET", "/healthz", None, None).await.0, 200);
    // The slowloris, the connection that never sent anything, and the idle keep-alive one are
    // all closed by the header timeout.
    let answer = read_until_closed(&mut slow).await;
    assert!(!answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    read_until_closed(&mut idle).await;
    assert_eq!(read_until_closed(&mut kept_alive).await, b"", "nothing more was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickling_in_gets_408_and_others_are_served() {
    let settings = Settings { http_request_timeout: Duration::from_secs(1), ..test_settings() };
    let server = server(settings).await;
    let mut slow = connect_from(server.addr, 14).await;
    // A complete header announcing 100 bytes of body, then 10 of them, then nothing.
    let head = "POST /api/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n";
    slow.write_all(head.as_bytes()).await.expect("send");
    slow.write_all(br#"{"username"#).await.expect("send");
    // Served meanwhile.
    assert_eq!(server.http("GET", "/healthz", None, None).await.0, 200);
    let answer = String::from_utf8_lossy(&read_until_closed(&mut slow).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_header_gets_431() {
    let server = server(Settings { http_max_header_bytes: 16 * 1024, ..test_settings() }).await;
    let mut stream = connect_from(server.addr, 12).await;
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    // The server may close before it has read everything; what it answered is what counts.
    let _ = stream.write_all(request.as_bytes()).await;
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with(b"HTTP/1.1 431"), "{}", String::from_utf8_lossy(&answer));
    // A header under the cap is fine.
    let mut stream = connect_from(server.addr, 12).await;
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(8 * 1024)
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_capped_and_other_addresses_are_served() {
    let server = server(Settings { max_connections_per_address: 4, ..test_settings() }).await;
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut stream = connect_from(server.addr, 13).await;
        assert_eq!(get(&mut stream, "/healthz").await, 200);
        open.push(stream);
    }
    // The fifth from the same address is closed without an answer.
    let mut refused = connect_from(server.addr, 13).await;
    let _ = refused.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(read_until_closed(&mut refused).await, b"", "refused without an answer");
    // Another address is served, and so are the open connections.
    let mut other = connect_from(server.addr, 14).await;
    assert_eq!(get(&mut other, "/healthz").await, 200);
    for stream in &mut open {
        assert_eq!(get(stream, "/healthz").await, 200);
    }
    let (_, metrics) = server.http_text("/metrics").await;
    assert!(metrics.contains("hellocode_connections_refused_total 1\n"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_in_total_are_capped() {
    let server = server(Settings { max_connections: 3, ..test_settings() }).await;
    let mut open = Vec::new();
    for host in 15..18 {
        let mut stream = connect_from(server.addr, host).await;
        assert_eq!(get(&mut stream, "/healthz").await, 200);
        open.push(stream);
    }
    let mut refused = connect_from(server.addr, 18).await;
    let _ = refused.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(read_until_closed(&mut refused).await, b"", "refused without an answer");
    for stream in &mut open {
        assert_eq!(get(stream, "/healthz").await, 200, "open connections are still served");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_websocket_is_closed_at_the_deadline() {
    let server = server(Settings { auth_timeout: Duration::from_secs(1), ..test_settings() }).await;
    let token = server.user("alice").await;
    let mut alice = server.connect(&format!("/ws?token={token}")).await;
    let mut anonymous = server.connect("/ws").await;
    // Pings keep it alive, but not past the deadline.
    let pong = anonymous.request(json!({ "command": "ping" }), 1).await;
    assert_eq!(pong["command"], "pong");
    assert_eq!(anonymous.close_code().await, Some(4003), "authentication timeout");
    // Authenticated connections stay.
    assert_eq!(alice.request(json!({ "command": "ping" }), 2).await["command"], "pong");
    // Authenticating with the `auth` command in time works.
    let mut late = server.connect("/ws").await;
    let reply = late.request(json!({ "command": "auth", "token": token }), 3).await;
    assert_eq!(reply["command"], "authenticated", "{reply}");
    alice.expect_nothing_pending().await;
    late.expect_nothing_pending().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_per_user_are_capped() {
    let server = server(Settings { max_connections_per_user: 2, ..test_settings() }).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mut first = server.connect(&format!("/ws?token={alice}")).await;
    let mut second = server.connect(&format!("/ws?token={alice}")).await;
    first.expect_nothing_pending().await;
    second.expect_nothing_pending().await;
    let mut third = server.connect(&format!("/ws?token={alice}")).await;
    assert_eq!(third.close_code().await, Some(4029), "too many connections");
    // The same through the auth command.
    let mut fourth = server.connect("/ws").await;
    fourth.send(json!({ "command": "auth", "token": alice, "id": 1 })).await;
    assert_eq!(fourth.close_code().await, Some(4029), "too many connections");
    // The open ones and other users are unaffected.
    first.expect_nothing_pending().await;
    let mut bob = server.connect(&format!("/ws?token={bob}")).await;
    bob.expect_nothing_pending().await;
}

/// Alice posts `count` large messages to `chat` (with acks), stalling every silent reader.
async fn flood(alice: &mut Client, chat: i64, count: i64) {
    let body = "x".repeat(4000);
    for i in 0..count {
        alice
            .send(json!({ "command": "new_message", "id": i, "chatId": chat, "message": body }))
            .await;
        alice.expect("new_message").await;
        alice.expect("ack").await;
    }
}

/// Waits for the presence event saying `user` went offline (their last connection closed).
async fn until_offline(client: &mut Client, user: &str) {
    // One guard for the whole wait: the client's own pings would restart a per-frame one.
    tokio::time::timeout(3 * PATIENCE, async {
        loop {
            let frame = client.recv_any().await;
            if frame["command"] == "presence"
                && frame["username"] == user
                && frame["online"] == false
            {
                return;
            }
        }
    })
    .await
    .expect("the user goes offline in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_write_is_dropped_at_the_write_timeout() {
    let settings = Settings {
        write_timeout: Duration::from_secs(1),
        socket_send_buffer: Some(16 * 1024),
        ..test_settings()
    };
    let server = server(settings).await;
    let (tokens, chat) = chat_among(&server, &["alice", "carol"]).await;
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    alice.expect_nothing_pending().await;
    let _carol = silent_client(&server, &tokens[1]).await;
    flood(&mut alice, chat, 40).await;
    // Neither the ping check (30 s) nor the queue bound (1,024 frames) ends it: the timeout does.
    until_offline(&mut alice, "carol").await;
    alice.expect_nothing_pending().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ping_check_runs_while_a_write_is_stalled() {
    let settings = Settings {
        ping_interval: Duration::from_secs(1),
        write_timeout: Duration::from_secs(3600),
        socket_send_buffer: Some(16 * 1024),
        ..test_settings()
    };
    let server = server(settings).await;
    let (tokens, chat) = chat_among(&server, &["alice", "carol"]).await;
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    alice.expect_nothing_pending().await;
    let _carol = silent_client(&server, &tokens[1]).await;
    flood(&mut alice, chat, 40).await;
    until_offline(&mut alice, "carol").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_never_reads_is_evicted_at_the_byte_bound() {
    let settings = Settings {
        send_queue: 1024,
        send_queue_bytes: 256 * 1024,
        socket_send_buffer: Some(16 * 1024),
        ..test_settings()
    };
    let server = server(settings).await;
    let (tokens, chat) = chat_among(&server, &["alice", "bob", "carol"]).await;
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    let mut bob = server.connect(&format!("/ws?token={}", tokens[1])).await;
    bob.expect_nothing_pending().await;
    flood(&mut alice, chat, 20).await; // pages of about 80 KB
    for _ in 0..20 {
        bob.expect("new_message").await;
    }
    // Carol asks for 30 pages (2.4 MB) and never reads: far fewer frames than the queue holds.
    let mut carol = silent_client(&server, &tokens[2]).await;
    for i in 0..30 {
        let page = json!({ "command": "fetch_messages", "chatId": chat, "limit": 100, "id": i });
        if carol.socket.send(Message::text(page.to_string())).await.is_err() {
            break; // already evicted
        }
    }
    // Reading before the eviction would let the queue drain: wait for its marker, Carol going
    // offline (this was her only connection).
    until_offline(&mut bob, "carol").await;
    assert_eq!(carol.close_code().await, Some(4008), "slow consumer: resume");
    // Others keep receiving.
    alice.post(chat, "still here", 100).await;
    assert_eq!(bob.expect("new_message").await["message"]["content"], "still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_frames_count_against_the_rate_limit() {
    // No refill: the burst is all there is, whatever the test's speed.
    let settings = Settings { rate_per_second: 0, rate_burst: 3, ..test_settings() };
    let server = server(settings).await;
    let token = server.user("alice").await;
    let mut alice = server.connect(&format!("/ws?token={token}")).await;
    for _ in 0..3 {
        alice.socket.send(Message::binary(vec![1u8, 2, 3])).await.expect("send");
        assert_eq!(alice.expect("error").await["code"], "not_json");
    }
    alice.socket.send(Message::binary(vec![1u8, 2, 3])).await.expect("send");
    assert_eq!(alice.expect("error").await["code"], "rate_limited");
    alice.send(json!({ "command": "ping", "id": 1 })).await;
    assert_eq!(alice.expect("error").await["code"], "rate_limited", "the burst was spent");
}

/// A gauge's value in `/metrics`.
async fn gauge(server: &TestServer, name: &str) -> i64 {
    let (status, body) = server.http_text("/metrics").await;
    assert_eq!(status, 200);
    let line = body.lines().find(|line| line.starts_with(&format!("{name} ")));
    let value = line.and_then(|line| line.split(' ').nth(1)).expect("the gauge is exported");
    value.parse().expect("a number")
}

/// Admission (`session_starts`): with one turn, connections come online one after the other,
/// and a refused token gives its turn back at once (a turn kept by a refused `auth`, whose
/// connection stays open, or by a refused upgrade would leave every later connection waiting
/// until its authentication deadline, then closed as busy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_come_online_in_turn_and_a_refused_token_gives_its_turn_back() {
    // A deadline far beyond the test: a kept turn shows in the gauges, not as a timeout.
    let settings =
        Settings { session_starts: 1, auth_timeout: Duration::from_secs(60), ..test_settings() };
    let server = server(settings).await;
    let token = server.user("alice").await;
    let mut refused = server.connect("/ws").await;
    let reply = refused.request(json!({ "command": "auth", "token": "not-a-token" }), 1).await;
    assert_eq!(reply["code"], "invalid_token");
    assert_eq!(server.refused_upgrade("/ws?token=not-a-token").await, 401);
    // Signed by this server, for an account that does not exist: it takes a turn for its
    // storage check, and gives it back when refused.
    let bob = server.user("bob").await;
    let (status, _) = server.http("DELETE", "/api/users/bob/", Some(&bob), None).await;
    assert_eq!(status, 204, "bob deleted");
    let reply = refused.request(json!({ "command": "auth", "token": bob }), 2).await;
    assert_eq!(reply["code"], "invalid_token", "{reply}");
    assert_eq!(server.refused_upgrade(&format!("/ws?token={bob}")).await, 401);
    assert_eq!(gauge(&server, "hellocode_connections_coming_online").await, 0, "no turn kept");
    assert_eq!(gauge(&server, "hellocode_connections_waiting_to_come_online").await, 0);

    let mut arriving = Vec::new();
    for n in 0..24 {
        let addr = server.addr;
        let token = token.clone();
        arriving.push(tokio::spawn(async move {
            // Half authenticate with the command, half in the upgrade request.
            let query = if n % 2 == 0 { String::new() } else { format!("?token={token}") };
            let url = format!("ws://{addr}/ws{query}");
            let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("connects");
            let mut client = Client { socket };
            if n % 2 == 0 {
                let reply = client.request(json!({ "command": "auth", "token": token }), 1).await;
                assert_eq!(reply["command"], "authenticated", "{reply}");
            }
            client.request(json!({ "command": "list_chats" }), 2).await
        }));
    }
    for task in arriving {
        let reply = tokio::time::timeout(PATIENCE, task).await.expect("in time").expect("task");
        assert_eq!(reply["command"], "chats", "online: {reply}");
    }
    assert_eq!(gauge(&server, "hellocode_connections_coming_online").await, 0);
    // The refused connection is still open, and can still authenticate.
    let reply = refused.request(json!({ "command": "auth", "token": token }), 3).await;
    assert_eq!(reply["command"], "authenticated", "{reply}");
}
