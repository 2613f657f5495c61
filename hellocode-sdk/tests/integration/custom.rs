//! A transport of the test's own (the client logic does not change), bot tokens, timeouts.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hellocode_sdk::transport::{Connection, Transport};
use hellocode_sdk::{Client, ClientConfig, Credentials, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Kind, TestServer, messages};

/// A "server" behind channels that authenticates anyone, has no chats, and never answers
/// anything else.
struct Silent;

#[async_trait::async_trait]
impl Transport for Silent {
    async fn connect(&self) -> hellocode_sdk::Result<Connection> {
        let (to_server, mut server_in) = futures_channel::mpsc::channel::<String>(16);
        let (mut server_out, from_server) = futures_channel::mpsc::channel::<String>(16);
        tokio::spawn(async move {
            while let Some(frame) = server_in.next().await {
                let value: serde_json::Value = serde_json::from_str(&frame).expect("json");
                let id = &value["id"];
                let reply = match value["command"].as_str() {
                    Some("auth") => {
                        serde_json::json!({"command": "authenticated", "id": id, "username": "ghost"})
                    }
                    Some("list_chats") => {
                        serde_json::json!({"command": "chats", "id": id, "chats": []})
                    }
                    _ => continue,
                };
                if server_out.send(reply.to_string()).await.is_err() {
                    break;
                }
            }
        });
        Ok(Connection::new(
            to_server.sink_map_err(|err| Error::Transport(err.to_string())),
            from_server.map(Ok),
        ))
    }
}

#[tokio::test]
async fn a_custom_transport_plugs_in_and_unanswered_requests_time_out() {
    let mut config = ClientConfig::default();
    config.request_timeout = Duration::from_millis(200);
    let client = Client::connect_with(Silent, Credentials::token("anything"), config)
        .await
        .expect("the silent server authenticates");
    assert_eq!(client.username(), "ghost");
    let error = client.ping().await.expect_err("never answered");
    assert_eq!(error, Error::Timeout(Duration::from_millis(200)));
    assert_eq!(error.code(), "timeout");
}

/// `POST path` with a JSON body and a bearer token; the reply's JSON.
async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    token: &str,
    body: &str,
) -> serde_json::Value {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let body = response.split("\r\n\r\n").nth(1).expect("a body");
    serde_json::from_str(body).expect("json body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_token_authenticates() {
    let server = TestServer::start().await;
    let owner = server.register(Kind::WebSocket, "botowner").await;
    let alice = server.register(Kind::WebSocket, "alice").await;
    let token = owner.token().expect("token");
    let issued = post(server.addr(), "/api/bot-tokens/", &token, r#"{"name":"helper"}"#).await;
    let bot_token = issued["token"].as_str().expect("a bot token").to_owned();
    owner.close().await;

    let bot = server
        .connect_with(Kind::InProcess, Credentials::token(bot_token), crate::harness::fast_config())
        .await;
    assert_eq!(bot.username(), "botowner", "a bot acts as its owner");
    let chat = alice.create_chat(vec!["botowner".into()]).await.expect("chat");
    let mut events = alice.events();
    bot.send(chat.id, "beep").await.expect("sent with a bot token");
    assert_eq!(messages(&mut events, 1).await[0].content, "beep");
    server.stop().await;
}
