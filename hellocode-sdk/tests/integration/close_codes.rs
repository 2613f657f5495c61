//! Close code 4001 (`unauthorized: ...`, agreed protocol): the token is dead, so the client
//! never reconnects with it; it logs in again with its password, or reports the failure and
//! stops. Against a scripted WebSocket server that closes the first connection with 4001.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hellocode_sdk::{Client, ConnectionState, Credentials, ErrorCode, WebSocketTransport};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::harness::fast_config;

/// The commands each connection received, in order.
type Log = Arc<Mutex<Vec<Vec<String>>>>;

/// Serves connections: authenticates anything, answers `list_chats` and `ping`; the first
/// connection is closed with `code` right after its chat list.
async fn scripted(code: u16, reason: &'static str) -> (SocketAddr, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let log: Log = Arc::default();
    let connections = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else { continue };
            let number = {
                let mut log = connections.lock().expect("log");
                log.push(Vec::new());
                log.len()
            };
            let connections = connections.clone();
            tokio::spawn(async move {
                while let Some(Ok(Message::Text(text))) = socket.next().await {
                    let frame: Value = serde_json::from_str(text.as_str()).expect("json");
                    let command = frame["command"].as_str().unwrap_or_default().to_owned();
                    connections.lock().expect("log")[number - 1].push(command.clone());
                    let id = frame["id"].clone();
                    let reply = match command.as_str() {
                        "auth" | "login" => json!({"command": "authenticated", "id": id,
                            "username": "ghost", "token": format!("t{number}")}),
                        "list_chats" => json!({"command": "chats", "id": id, "chats": []}),
                        "ping" => json!({"command": "pong", "id": id}),
                        _ => continue,
                    };
                    if socket.send(Message::text(reply.to_string())).await.is_err() {
                        return;
                    }
                    if command == "list_chats" && number == 1 {
                        let frame =
                            CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                        let _ = socket.send(Message::Close(Some(frame))).await;
                    }
                }
            });
        }
    });
    (addr, log)
}

fn transport(addr: SocketAddr) -> WebSocketTransport {
    WebSocketTransport::new(&format!("ws://{addr}")).expect("url")
}

/// The state once it is neither connected nor connecting (10 s guard).
async fn settled(client: &Client) -> ConnectionState {
    let mut events = client.events();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match client.state() {
                state @ ConnectionState::Closed { .. } => return state,
                _ => {
                    let _ = events.recv().await;
                }
            }
        }
    })
    .await
    .expect("settles")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_token_without_a_password_stops_with_an_auth_error() {
    let (addr, log) = scripted(4001, "unauthorized: token revoked").await;
    let client = Client::connect_with(transport(addr), Credentials::token("t0"), fast_config())
        .await
        .expect("connects");
    let ConnectionState::Closed { error: Some(error) } = settled(&client).await else {
        panic!("closed with an error expected");
    };
    assert_eq!(error.server_code(), Some(ErrorCode::InvalidToken), "{error}");
    assert!(error.to_string().contains("token revoked"), "{error}");
    assert_eq!(log.lock().expect("log").len(), 1, "never reconnected with the dead token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_token_with_a_password_logs_in_again() {
    let (addr, log) = scripted(4001, "unauthorized: password changed").await;
    let client =
        Client::connect_with(transport(addr), Credentials::password("ghost", "pw"), fast_config())
            .await
            .expect("connects");
    assert_eq!(client.token().as_deref(), Some("t1"));
    let mut events = client.events();
    tokio::time::timeout(Duration::from_secs(10), async {
        while log.lock().expect("log").len() < 2 || client.ping().await.is_err() {
            let _ = events.recv().await;
        }
    })
    .await
    .expect("reconnected");
    let log = log.lock().expect("log").clone();
    assert_eq!(log[0][0], "login");
    assert_eq!(log[1][0], "login", "the dead token t1 is not tried again");
    assert_eq!(client.token().as_deref(), Some("t2"));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_reconnects_as_usual() {
    let (addr, log) = scripted(4029, "too many connections").await;
    let client = Client::connect_with(transport(addr), Credentials::token("t0"), fast_config())
        .await
        .expect("connects");
    let mut events = client.events();
    tokio::time::timeout(Duration::from_secs(10), async {
        while log.lock().expect("log").len() < 2 || client.ping().await.is_err() {
            let _ = events.recv().await;
        }
    })
    .await
    .expect("reconnected");
    assert_eq!(log.lock().expect("log")[1][0], "auth");
    client.close().await;
}
