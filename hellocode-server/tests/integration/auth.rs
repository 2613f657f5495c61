//! Authentication paths, and every kind of bad token refused.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::harness::{Backend, PASSWORD, SECRET, TestServer, chat_among};

on_backends!(auth:
    tokens_work_from_the_query_a_header_or_an_auth_command,
    login_and_register_work_over_the_websocket,
    expired_forged_and_revoked_tokens_are_refused,
);

fn sign(claims: serde_json::Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

pub async fn tokens_work_from_the_query_a_header_or_an_auth_command(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let token = server.user("alice").await;
    let mut by_query = server.connect(&format!("/ws?token={token}")).await;
    let mut by_header = server.connect_with_header("/ws", &token).await;
    for client in [&mut by_query, &mut by_header] {
        let chats = client.request(json!({ "command": "list_chats" }), 1).await;
        assert_eq!(chats["command"], "chats", "{chats}");
    }
    let mut by_command = server.connect("/ws").await;
    let refused = by_command.request(json!({ "command": "list_chats" }), 1).await;
    assert_eq!(refused["code"], "not_authenticated");
    let pong = by_command.request(json!({ "command": "ping" }), 2).await;
    assert_eq!(pong["command"], "pong", "ping works before auth");
    let reply = by_command.request(json!({ "command": "auth", "token": token }), 3).await;
    assert_eq!(
        reply,
        json!({ "command": "authenticated", "id": 3, "username": "alice", "protocol": 1 }),
        "no version declared: version 1"
    );
    let chats = by_command.request(json!({ "command": "list_chats" }), 4).await;
    assert_eq!(chats["command"], "chats");
}

pub async fn login_and_register_work_over_the_websocket(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let mut client = server.connect("/ws").await;
    let weak = client
        .request(json!({ "command": "register", "username": "dave", "email": "dave@example.org", "password": "dave", "password_confirmation": "dave" }), 1)
        .await;
    assert_eq!(weak["code"], "validation_failed", "{weak}");
    let registered = client
        .request(json!({ "command": "register", "username": "dave", "email": "dave@example.org", "password": PASSWORD, "password_confirmation": PASSWORD }), 2)
        .await;
    assert_eq!(registered["command"], "authenticated");
    assert_eq!(registered["username"], "dave");
    let token = registered["token"].as_str().expect("a token").to_owned();
    let mut again = server.connect("/ws").await;
    let taken = again
        .request(json!({ "command": "register", "username": "dave", "email": "d@example.org", "password": PASSWORD, "password_confirmation": PASSWORD }), 1)
        .await;
    assert_eq!(taken["code"], "username_taken");
    let wrong = again
        .request(json!({ "command": "login", "username": "dave", "password": "nope nope nope" }), 2)
        .await;
    assert_eq!(wrong["code"], "invalid_credentials");
    let unknown = again
        .request(json!({ "command": "login", "username": "nobody", "password": PASSWORD }), 3)
        .await;
    assert_eq!(unknown["code"], "invalid_credentials", "the same answer for an unknown user");
    let login = again
        .request(json!({ "command": "login", "username": "dave", "password": PASSWORD }), 4)
        .await;
    assert_eq!(login["command"], "authenticated");
    let (status, _) = server.http("GET", "/api/chat/", Some(&token), None).await;
    assert_eq!(status, 200, "the token from register works for REST");
}

pub async fn expired_forged_and_revoked_tokens_are_refused(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let expired = sign(json!({ "sub": "alice", "iat": now() - 7200, "exp": now() - 3600 }), SECRET);
    let forged = sign(
        json!({ "sub": "alice", "iat": now(), "exp": now() + 3600 }),
        b"some other secret of enough length",
    );
    // Well signed, but naming an account that does not exist.
    let unknown_user =
        sign(json!({ "sub": "999", "gen": 0, "iat": now(), "exp": now() + 3600 }), SECRET);
    let garbage = "not-a-token".to_owned();

    let (status, bot) = server
        .http("POST", "/api/bot-tokens/", Some(&tokens[0]), Some(&json!({ "name": "matchmaker" })))
        .await;
    assert_eq!(status, 201, "{bot}");
    let bot_token = bot["token"].as_str().expect("token").to_owned();
    let mut bot_socket = server.connect(&format!("/ws?token={bot_token}")).await;
    let history =
        bot_socket.request(json!({ "command": "fetch_messages", "chatId": chat }), 1).await;
    assert_eq!(history["command"], "messages", "a bot token acts as its user");
    let (status, _) = server
        .http("DELETE", &format!("/api/bot-tokens/{}/", bot["id"]), Some(&tokens[1]), None)
        .await;
    assert_eq!(status, 404, "only the owner revokes a bot token");
    let (status, _) = server
        .http("DELETE", &format!("/api/bot-tokens/{}/", bot["id"]), Some(&tokens[0]), None)
        .await;
    assert_eq!(status, 204);

    for bad in [&expired, &forged, &unknown_user, &garbage, &bot_token] {
        assert_eq!(
            server.refused_upgrade(&format!("/ws?token={bad}")).await,
            401,
            "upgrade with {bad}"
        );
        let (status, body) = server.http("GET", "/api/chat/", Some(bad), None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_token")),
            "REST with {bad}"
        );
        let mut client = server.connect("/ws").await;
        let reply = client.request(json!({ "command": "auth", "token": bad }), 1).await;
        assert_eq!(reply["code"], "invalid_token", "auth command with {bad}");
    }
    let (status, _) = server.http("GET", "/api/chat/", None, None).await;
    assert_eq!(status, 401, "no token at all");
}
