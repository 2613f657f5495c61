//! Issue 13: text checked at the edge (U+0000 and length caps, every field, both transports),
//! read receipts that move nothing, and creation limits.

use serde_json::{Value, json};

use crate::harness::{Backend, PASSWORD, TestServer, chat_among};

on_backends!(validation:
    nul_is_refused_in_every_socket_field,
    nul_is_refused_in_every_rest_body,
    an_older_read_is_not_rebroadcast,
);

const NUL: &str = "a\u{0}b";
/// An address that is valid but for its U+0000.
const NUL_EMAIL: &str = "ca\u{0}rol@example.org";

/// An `invalid_field` refusal that names `field`.
fn assert_refused(reply: &Value, field: &str) {
    assert_eq!(reply["command"], "error", "{field}: {reply}");
    assert_eq!(reply["code"], "invalid_field", "{field}: {reply}");
    let message = reply["message"].as_str().unwrap_or_default();
    assert!(message.contains(field) && message.contains("U+0000"), "{field}: {reply}");
}

pub async fn nul_is_refused_in_every_socket_field(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    let first = alice.post(chat, "hello", 1).await;
    let seq = first["seq"].clone();
    let cases = [
        ("message", json!({ "command": "new_message", "chatId": chat, "message": NUL })),
        (
            "clientId",
            json!({ "command": "new_message", "chatId": chat, "message": "m", "clientId": NUL }),
        ),
        (
            "message",
            json!({ "command": "edit_message", "chatId": chat, "seq": seq, "message": NUL }),
        ),
        ("language", json!({ "command": "find_users", "language": NUL })),
        ("timezone", json!({ "command": "update_profile", "timezone": NUL })),
        ("languages", json!({ "command": "update_profile", "languages": [NUL] })),
        ("name", json!({ "command": "add_language", "name": NUL })),
        ("name", json!({ "command": "create_bot_token", "name": NUL })),
        ("username", json!({ "command": "add_contact", "username": NUL })),
        ("username", json!({ "command": "get_user", "username": NUL })),
        ("participants", json!({ "command": "create_chat", "participants": [NUL] })),
        ("usernames", json!({ "command": "add_participants", "chatId": chat, "usernames": [NUL] })),
    ];
    for (n, (field, frame)) in cases.into_iter().enumerate() {
        let reply = alice.request(frame, 100 + n as i64).await;
        assert_refused(&reply, field);
    }
    // Before authentication: login and registration.
    let mut anonymous = server.connect("/ws").await;
    let login = json!({ "command": "login", "username": NUL, "password": "p" });
    assert_refused(&anonymous.request(login, 1).await, "username");
    let register = json!({ "command": "register", "username": "carol", "email": NUL_EMAIL,
                           "password": PASSWORD, "password_confirmation": PASSWORD });
    assert_refused(&anonymous.request(register, 2).await, "email");
    // Nothing was stored, and the chat goes on.
    let second = alice.post(chat, "still here", 200).await;
    assert_eq!(second["seq"], 2, "{second}");
}

pub async fn nul_is_refused_in_every_rest_body(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let alice = Some(tokens[0].as_str());
    let post = format!("/api/chat/{chat}/messages/");
    let update = format!("/api/chat/{chat}/update/");
    let cases: Vec<(&str, &str, String, Value, Option<&str>)> = vec![
        ("message", "POST", post.clone(), json!({ "message": NUL }), alice),
        ("clientId", "POST", post, json!({ "message": "m", "clientId": NUL }), alice),
        (
            "email",
            "POST",
            "/api/register/".into(),
            json!({ "username": "carol", "email": NUL_EMAIL, "password": PASSWORD,
                    "password_confirmation": PASSWORD }),
            None,
        ),
        (
            "username",
            "POST",
            "/api/login/".into(),
            json!({ "username": NUL, "password": "p" }),
            None,
        ),
        ("email", "PATCH", "/api/users/alice/".into(), json!({ "email": NUL_EMAIL }), alice),
        ("timezone", "PATCH", "/api/users/alice/".into(), json!({ "timezone": NUL }), alice),
        ("avatar", "PATCH", "/api/users/alice/".into(), json!({ "avatar": NUL }), alice),
        ("languages", "PATCH", "/api/users/alice/".into(), json!({ "languages": [NUL] }), alice),
        ("name", "POST", "/api/languages/".into(), json!({ "name": NUL }), alice),
        ("name", "POST", "/api/bot-tokens/".into(), json!({ "name": NUL }), alice),
        (
            "username",
            "POST",
            "/api/users/alice/contacts/".into(),
            json!({ "username": NUL }),
            alice,
        ),
        (
            "participants",
            "POST",
            "/api/chat/create/".into(),
            json!({ "participants": [NUL] }),
            alice,
        ),
        ("participants", "PUT", update, json!({ "participants": ["alice", NUL] }), alice),
    ];
    for (field, method, path, body, token) in cases {
        let (status, reply) = server.http(method, &path, token, Some(&body)).await;
        assert_eq!(status, 400, "{method} {path} {field}: {reply}");
        assert_eq!(reply["code"], "invalid_field", "{method} {path}: {reply}");
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{method} {path} names {field}: {reply}");
    }
    let (status, reply) = server.http("GET", "/api/users/?after=a%00b", alice, None).await;
    assert_eq!(status, 400, "a query parameter: {reply}");
    // Nothing was stored, and the chat goes on.
    let path = format!("/api/chat/{chat}/messages/");
    let (status, message) =
        server.http("POST", &path, alice, Some(&json!({ "message": "ok" }))).await;
    assert_eq!((status, &message["seq"]), (201, &json!(1)), "{message}");
}

pub async fn an_older_read_is_not_rebroadcast(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    let mut bob = server.connect(&format!("/ws?token={}", tokens[1])).await;
    for n in 1..=3 {
        alice.post(chat, &format!("m{n}"), n).await;
        bob.expect("new_message").await;
    }
    let read = |seq: i64| json!({ "command": "read", "chatId": chat, "seq": seq });
    bob.send(read(3)).await;
    let event = alice.expect("read").await;
    assert_eq!((&event["username"], &event["seq"]), (&json!("bob"), &json!(3)));
    bob.expect("read").await;
    // Older and equal receipts move nothing: acknowledged, but nobody is told.
    assert_eq!(bob.request(read(2), 10).await["command"], "ok");
    assert_eq!(bob.request(read(3), 11).await["command"], "ok");
    bob.expect_nothing_pending().await;
    // One without id, then a ping: nothing came before the pong, on either side.
    bob.send(read(1)).await;
    bob.expect_nothing_pending().await;
    alice.expect_nothing_pending().await;
}
