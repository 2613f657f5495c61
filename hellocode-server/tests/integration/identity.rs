//! Issue 13, defects 2, 3 and 7: tokens name accounts, revoking a credential closes what it
//! opened (close code 4001), and account input is checked with plain-text answers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{
    Backend, Client, PASSWORD, SECRET, TestServer, chat_among, group_among, test_settings,
};

on_backends!(identity:
    an_old_token_does_not_take_over_a_name_registered_again,
    a_password_change_closes_the_other_sessions_and_returns_a_fresh_token,
    revoking_a_bot_token_closes_its_sockets,
    deleting_an_account_closes_its_sockets,
    a_login_token_closes_its_socket_at_expiry,
    the_in_process_transport_closes_on_revocation_too,
    token_errors_are_plain_text,
    account_bodies_that_are_not_objects_of_strings_are_400,
    whitespace_passwords_are_refused,
    look_alike_usernames_are_taken,
);

/// How long a test waits for the server (a hang guard, not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(20);

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

fn sign(claims: Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

/// Read until the server closes the socket; returns the close code and reason, and every text
/// frame that arrived before the close.
async fn closed(client: &mut Client) -> (Option<u16>, String, Vec<Value>) {
    let mut frames = Vec::new();
    loop {
        let next =
            tokio::time::timeout(PATIENCE, client.socket.next()).await.expect("close in time");
        match next {
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| (Some(u16::from(f.code)), f.reason.as_str().to_owned()))
                    .unwrap_or((None, String::new()));
                return (code, reason, frames);
            }
            Some(Ok(Message::Text(text))) => {
                frames.push(serde_json::from_str(&text).expect("server frames are JSON"));
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return (None, String::new(), frames),
        }
    }
}

/// Asserts the socket is closed with 4001 and a reason `unauthorized: <what>`, and that no
/// frame arriving before the close acknowledges a message.
async fn assert_unauthorized(client: &mut Client, what: &str) {
    let (code, reason, frames) = closed(client).await;
    assert_eq!(code, Some(4001), "close code (reason {reason:?}, frames {frames:?})");
    assert_eq!(reason, format!("unauthorized: {what}"));
    assert!(
        frames.iter().all(|frame| frame["command"] != "ack"),
        "nothing sent after the revocation is acknowledged: {frames:?}"
    );
}

async fn still_works(client: &mut Client) {
    let pong = client.request(json!({ "command": "ping" }), 99).await;
    assert_eq!(pong["command"], "pong");
}

pub async fn an_old_token_does_not_take_over_a_name_registered_again(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "carol"]).await;
    let old = tokens[1].clone();
    let mut carol = server.connect(&format!("/ws?token={old}")).await;
    carol.post(chat, "the old carol", 1).await;
    drop(carol);
    let (status, _) = server.http("DELETE", "/api/users/carol/", Some(&old), None).await;
    assert_eq!(status, 204);

    let new = server.user("carol").await;
    let (status, _) = server
        .http(
            "PUT",
            &format!("/api/chat/{chat}/update/"),
            Some(&tokens[0]),
            Some(&json!({ "participants": ["alice", "carol"] })),
        )
        .await;
    assert_eq!(status, 200, "alice adds the new carol");

    let change = json!({ "password": "another long secret", "password_confirmation": "another long secret" });
    let (status, body) = server.http("PATCH", "/api/users/carol/", Some(&old), Some(&change)).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_token")), "{body}");
    let (status, _) =
        server.http("GET", &format!("/api/chat/{chat}/messages/"), Some(&old), None).await;
    assert_eq!(status, 401, "the old token reads nothing of the new carol's");
    assert_eq!(server.refused_upgrade(&format!("/ws?token={old}")).await, 401);
    let mut by_command = server.connect("/ws").await;
    let reply = by_command.request(json!({ "command": "auth", "token": old }), 1).await;
    assert_eq!(reply["code"], "invalid_token");

    let mut carol = server.connect(&format!("/ws?token={new}")).await;
    let history = carol.request(json!({ "command": "fetch_messages", "chatId": chat }), 2).await;
    assert_eq!(history["messages"][0]["author"], "carol (deleted)", "{history}");
    let edit =
        json!({ "command": "edit_message", "chatId": chat, "seq": 1, "message": "mine now" });
    let refused = carol.request(edit, 3).await;
    assert_eq!(refused["code"], "forbidden", "the new carol cannot edit the old one's message");
}

pub async fn a_password_change_closes_the_other_sessions_and_returns_a_fresh_token(
    backend: Backend,
) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let old = tokens[0].clone();
    let (status, bot) = server
        .http("POST", "/api/bot-tokens/", Some(&old), Some(&json!({ "name": "helper" })))
        .await;
    assert_eq!(status, 201);
    let mut by_token = server.connect(&format!("/ws?token={old}")).await;
    let mut by_password = server.connect("/ws").await;
    let login = json!({ "command": "login", "username": "alice", "password": PASSWORD });
    assert_eq!(by_password.request(login, 1).await["command"], "authenticated");
    let mut bot_socket =
        server.connect(&format!("/ws?token={}", bot["token"].as_str().expect("token"))).await;
    still_works(&mut by_token).await;

    let new_password = "another long secret";
    let change = json!({ "password": new_password, "password_confirmation": new_password });
    let (status, body) = server.http("PATCH", "/api/users/alice/", Some(&old), Some(&change)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["username"], "alice");
    let fresh = body["token"].as_str().expect("a fresh token in the reply").to_owned();

    by_token
        .send(json!({ "command": "new_message", "chatId": chat, "message": "late", "id": 7 }))
        .await;
    assert_unauthorized(&mut by_token, "password changed").await;
    assert_unauthorized(&mut by_password, "password changed").await;
    still_works(&mut bot_socket).await;
    let (status, _) = server.http("GET", "/api/chat/", Some(&old), None).await;
    assert_eq!(status, 401, "the old login token is refused");
    let (status, _) = server.http("GET", "/api/chat/", Some(&fresh), None).await;
    assert_eq!(status, 200, "the fresh token works");
    let mut again = server.connect(&format!("/ws?token={fresh}")).await;
    still_works(&mut again).await;
    let history = again.request(json!({ "command": "fetch_messages", "chatId": chat }), 2).await;
    assert_eq!(history["messages"], json!([]), "the message sent after the change was not stored");
}

pub async fn revoking_a_bot_token_closes_its_sockets(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let (_, bot) = server
        .http("POST", "/api/bot-tokens/", Some(&tokens[0]), Some(&json!({ "name": "helper" })))
        .await;
    let bot_token = bot["token"].as_str().expect("token").to_owned();
    let mut bot_socket = server.connect(&format!("/ws?token={bot_token}")).await;
    let mut by_auth = server.connect("/ws").await;
    let reply = by_auth.request(json!({ "command": "auth", "token": bot_token }), 1).await;
    assert_eq!(reply["command"], "authenticated");
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    bot_socket.post(chat, "before", 1).await;
    alice.expect("new_message").await;

    let (status, _) = server
        .http("DELETE", &format!("/api/bot-tokens/{}/", bot["id"]), Some(&tokens[0]), None)
        .await;
    assert_eq!(status, 204);
    bot_socket
        .send(json!({ "command": "new_message", "chatId": chat, "message": "after", "id": 2 }))
        .await;
    assert_unauthorized(&mut bot_socket, "token revoked").await;
    assert_unauthorized(&mut by_auth, "token revoked").await;
    still_works(&mut alice).await;
    let (status, _) = server.http("GET", "/api/chat/", Some(&bot_token), None).await;
    assert_eq!(status, 401);
    let history = alice.request(json!({ "command": "fetch_messages", "chatId": chat }), 3).await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(texts, ["before"], "the message sent after revocation was not stored");
}

pub async fn deleting_an_account_closes_its_sockets(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let (_, bot) = server
        .http("POST", "/api/bot-tokens/", Some(&tokens[0]), Some(&json!({ "name": "helper" })))
        .await;
    let mut by_token = server.connect(&format!("/ws?token={}", tokens[0])).await;
    let mut one_chat = server.connect(&format!("/ws/chat/{chat}?token={}", tokens[0])).await;
    let mut bot_socket =
        server.connect(&format!("/ws?token={}", bot["token"].as_str().expect("token"))).await;
    let mut bob = server.connect(&format!("/ws?token={}", tokens[1])).await;
    still_works(&mut by_token).await;
    still_works(&mut one_chat).await;
    still_works(&mut bot_socket).await;

    let (status, _) = server.http("DELETE", "/api/users/alice/", Some(&tokens[0]), None).await;
    assert_eq!(status, 204);
    by_token
        .send(json!({ "command": "new_message", "chatId": chat, "message": "ghost", "id": 5 }))
        .await;
    for socket in [&mut by_token, &mut one_chat, &mut bot_socket] {
        assert_unauthorized(socket, "account deleted").await;
    }
    // Bob is told live, as if alice had left: the chat without her, and her `leave`.
    let changed = bob.expect("chat_changed").await;
    let members: Vec<&Value> = changed["chat"]["participants"]
        .as_array()
        .expect("members")
        .iter()
        .map(|p| &p["username"])
        .collect();
    assert_eq!(members, [&json!("bob")], "{changed}");
    assert_eq!(changed["events"][0]["kind"], "leave", "{changed}");
    assert_eq!(changed["events"][0]["seq"], 1, "{changed}");
    still_works(&mut bob).await;
}

pub async fn a_login_token_closes_its_socket_at_expiry(backend: Backend) {
    let settings =
        hellocode_server::Settings { token_ttl: Duration::from_secs(1), ..test_settings() };
    let Some(server) = TestServer::start_with(backend, settings).await else { return };
    let token = server.user("alice").await;
    let mut socket = server.connect(&format!("/ws?token={token}")).await;
    // The close is the synchronization: it comes when the token expires.
    assert_unauthorized(&mut socket, "token expired").await;
    let (status, body) = server.http("GET", "/api/chat/", Some(&token), None).await;
    assert_eq!((status, body["message"].as_str()), (401, Some("invalid token: token expired")));
}

pub async fn the_in_process_transport_closes_on_revocation_too(backend: Backend) {
    use futures_util::SinkExt;
    use hellocode_core::local::LocalServer;

    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let (_, bot) = server
        .http("POST", "/api/bot-tokens/", Some(&tokens[0]), Some(&json!({ "name": "helper" })))
        .await;
    let mut local = server.local().connect().expect("running");
    let auth = json!({ "command": "auth", "token": bot["token"], "id": 1 }).to_string();
    local.to_server.send(auth).await.expect("send");
    let reply: Value = serde_json::from_str(&next(&mut local).await.expect("reply")).expect("json");
    assert_eq!(reply["command"], "authenticated");

    let (status, _) = server
        .http("DELETE", &format!("/api/bot-tokens/{}/", bot["id"]), Some(&tokens[0]), None)
        .await;
    assert_eq!(status, 204);
    let post = json!({ "command": "new_message", "chatId": chat, "message": "after", "id": 2 });
    let _ = local.to_server.send(post.to_string()).await;
    while let Some(frame) = next(&mut local).await {
        assert!(!frame.contains("\"ack\""), "nothing is acknowledged after revocation: {frame}");
    }
}

async fn next(local: &mut hellocode_core::local::LocalConnection) -> Option<String> {
    tokio::time::timeout(PATIENCE, local.from_server.next())
        .await
        .expect("a frame or the end in time")
}

pub async fn token_errors_are_plain_text(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    server.user("alice").await;
    let forged = sign(
        json!({ "sub": "1", "iat": now(), "exp": now() + 3600 }),
        b"some other secret of enough length",
    );
    let expired = sign(json!({ "sub": "1", "iat": now() - 7200, "exp": now() - 3600 }), SECRET);
    for (token, message) in [
        (forged.as_str(), "invalid token: bad signature"),
        (expired.as_str(), "invalid token: token expired"),
        ("not-a-token", "invalid token: malformed token"),
    ] {
        let (status, body) = server.http("GET", "/api/chat/", Some(token), None).await;
        assert_eq!((status, body["message"].as_str()), (401, Some(message)), "{body}");
        let mut client = server.connect("/ws").await;
        let reply = client.request(json!({ "command": "auth", "token": token }), 1).await;
        assert_eq!(reply["message"], message);
    }
}

pub async fn account_bodies_that_are_not_objects_of_strings_are_400(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    server.user("alice").await;
    for body in [
        json!([]),
        json!({}),
        json!("x"),
        json!(7),
        json!({ "username": "alice" }),
        json!({ "username": 1, "password": PASSWORD }),
        json!({ "username": "alice", "password": null }),
    ] {
        let (status, reply) = server.http("POST", "/api/login/", None, Some(&body)).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some("invalid_field")),
            "login {body}: {reply}"
        );
        let message = reply["message"].as_str().expect("a message");
        assert!(
            !message.contains("struct") && !message.contains("Login"),
            "no Rust names: {message}"
        );
    }
    for body in [json!([]), json!("x"), json!({ "username": ["alice"] })] {
        let (status, reply) = server.http("POST", "/api/register/", None, Some(&body)).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some("invalid_field")),
            "register {body}: {reply}"
        );
        let message = reply["message"].as_str().expect("a message");
        assert!(!message.contains("struct") && !message.contains("Registration"), "{message}");
    }
    let (status, reply) = server.http("POST", "/api/register/", None, Some(&json!({}))).await;
    assert_eq!(status, 422, "missing fields are per-field errors: {reply}");
    assert!(reply["username"].is_array() && reply["password"].is_array(), "{reply}");
}

pub async fn whitespace_passwords_are_refused(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let spaces = "        ";
    let body = json!({ "username": "dave", "email": "dave@example.org", "password": spaces, "password_confirmation": spaces });
    let (status, reply) = server.http("POST", "/api/register/", None, Some(&body)).await;
    assert_eq!(status, 422, "{reply}");
    assert!(reply["password"].is_array(), "a password field error: {reply}");
    let mut client = server.connect("/ws").await;
    let mut frame = body.clone();
    frame["command"] = json!("register");
    let refused = client.request(frame, 1).await;
    assert_eq!(refused["code"], "validation_failed");

    let token = server.user("alice").await;
    let tabs = "\t\t\t\t\t\t\t\t\t";
    let change = json!({ "password": tabs, "password_confirmation": tabs });
    let (status, reply) =
        server.http("PATCH", "/api/users/alice/", Some(&token), Some(&change)).await;
    assert_eq!(status, 422, "{reply}");
    assert!(reply["password"].is_array(), "{reply}");
}

pub async fn look_alike_usernames_are_taken(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    server.user("Carol").await;
    for name in ["carol", "CAROL", "\u{441}\u{430}rol"] {
        let body = json!({ "username": name, "email": "c@example.org", "password": PASSWORD, "password_confirmation": PASSWORD });
        let (status, reply) = server.http("POST", "/api/register/", None, Some(&body)).await;
        assert_eq!(status, 422, "{name}: {reply}");
        assert_eq!(
            reply["username"],
            json!(["A user with that username already exists."]),
            "{name}"
        );
    }
    // Login takes the name as registered.
    server.login("Carol").await;
}
