//! Issue 13: text checked at the edge (U+0000 and length caps, every field, both transports),
//! read receipts that move nothing, and creation limits.

use serde_json::{Value, json};

use hellocode_server::Settings;
use hellocode_server::creation::CreationLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Backend, PASSWORD, TestServer, chat_among, test_settings};

on_backends!(validation:
    nul_is_refused_in_every_socket_field,
    nul_is_refused_in_every_rest_body,
    an_older_read_is_not_rebroadcast,
    creation_limits_refuse_the_next_creation,
    lists_come_in_pages_over_both_transports,
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

/// A request's status and `Retry-After` header (the harness's `http` keeps no headers).
async fn retry_after(
    server: &TestServer,
    method: &str,
    path: &str,
    token: &str,
    body: &Value,
) -> (u16, Option<u64>) {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    let body = body.to_string();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    let header = text
        .lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| {
            line.to_ascii_lowercase().strip_prefix("retry-after:").map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok());
    (status, header)
}

/// A `rate_limited` refusal with a whole number of seconds to wait.
fn assert_rate_limited(reply: &Value) {
    assert_eq!(reply["code"], "rate_limited", "{reply}");
    assert!(reply["retryAfter"].as_u64().is_some_and(|s| s >= 1), "{reply}");
}

pub async fn creation_limits_refuse_the_next_creation(backend: Backend) {
    let creation = CreationLimits {
        languages_per_hour: 2,
        chats_per_minute: 2,
        participant_additions_per_minute: 2,
        invitations_per_minute: 2,
        invite_links_per_minute: 2,
        uploads_per_minute: 2,
    };
    let settings = Settings { creation, ..test_settings() };
    let Some(server) = TestServer::start_with(backend, settings).await else { return };
    let alice_token = server.user("alice").await;
    let bob_token = server.user("bob").await;
    server.user("carol").await;
    server.user("dave").await;
    let mut alice = server.connect(&format!("/ws?token={alice_token}")).await;
    let mut bob = server.connect(&format!("/ws?token={bob_token}")).await;

    // Languages: two, then refused on the socket and over REST; bob is not affected.
    for (n, name) in ["Zig", "Odin"].into_iter().enumerate() {
        let added =
            alice.request(json!({ "command": "add_language", "name": name }), n as i64).await;
        assert_eq!(added["command"], "language", "{added}");
    }
    assert_rate_limited(
        &alice.request(json!({ "command": "add_language", "name": "Nim" }), 3).await,
    );
    let (status, wait) =
        retry_after(&server, "POST", "/api/languages/", &alice_token, &json!({ "name": "Nim" }))
            .await;
    assert_eq!(status, 429);
    assert!(wait.is_some_and(|s| s >= 1), "Retry-After: {wait:?}");
    let added = bob.request(json!({ "command": "add_language", "name": "Nim" }), 4).await;
    assert_eq!(added["command"], "language", "{added}");

    // Chats: two, then refused; bob still creates his.
    // (creators hear of their chat first: the event, then the reply)
    let mut chats = Vec::new();
    for n in 0..2 {
        let create = json!({ "command": "create_chat", "participants": ["bob"],
                             "name": format!("group {n}"), "id": 10 + n });
        alice.send(create).await;
        alice.expect("chat_created").await;
        let created = alice.expect("chat").await;
        chats.push(created["chat"]["id"].as_i64().expect("id"));
        bob.expect("chat_created").await;
    }
    assert_rate_limited(
        &alice.request(json!({ "command": "create_chat", "participants": ["carol"] }), 12).await,
    );
    let (status, wait) = retry_after(
        &server,
        "POST",
        "/api/chat/create/",
        &alice_token,
        &json!({ "participants": ["carol"] }),
    )
    .await;
    assert_eq!((status, wait.is_some_and(|s| s >= 1)), (429, true));
    bob.send(json!({ "command": "create_chat", "participants": ["carol"], "id": 13 })).await;
    bob.expect("chat_created").await;
    bob.expect("chat").await;

    // Participant additions: two, then refused (socket and REST).
    for (n, chat) in chats.iter().enumerate() {
        let (added, _) = alice
            .call(
                json!({ "command": "add_participants", "chatId": chat, "usernames": ["carol"] }),
                20 + n as i64,
            )
            .await;
        assert_eq!(added["command"], "chat", "{added}");
    }
    assert_rate_limited(
        &alice
            .request(
                json!({ "command": "add_participants", "chatId": chats[0], "usernames": ["dave"] }),
                22,
            )
            .await,
    );
    let path = format!("/api/chat/{}/update/", chats[0]);
    let body = json!({ "participants": ["alice", "bob", "carol", "dave"] });
    let (status, wait) = retry_after(&server, "PUT", &path, &alice_token, &body).await;
    assert_eq!((status, wait.is_some_and(|s| s >= 1)), (429, true));

    // Everything else keeps working.
    let message = alice.post(chats[0], "still talking", 30).await;
    assert_eq!(message["seq"], 2, "after carol's join: {message}");
}

pub async fn lists_come_in_pages_over_both_transports(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let alice_token = server.user("alice").await;
    server.user("bob").await;
    let alice = Some(alice_token.as_str());
    let mut socket = server.connect(&format!("/ws?token={alice_token}")).await;
    let mut chats = Vec::new();
    for _ in 0..3 {
        let body = json!({ "participants": ["bob"] });
        let (status, chat) = server.http("POST", "/api/chat/create/", alice, Some(&body)).await;
        assert_eq!(status, 201, "{chat}");
        chats.push(chat["id"].clone());
        socket.expect("chat_created").await;
    }
    let ids = |list: &Value| {
        list.as_array().expect("list").iter().map(|c| c["id"].clone()).collect::<Vec<_>>()
    };
    let first = socket.request(json!({ "command": "list_chats", "limit": 2 }), 1).await;
    assert_eq!(ids(&first["chats"]), chats[..2]);
    let next =
        socket.request(json!({ "command": "list_chats", "limit": 2, "after": chats[1] }), 2).await;
    assert_eq!(ids(&next["chats"]), chats[2..]);
    let all = socket.request(json!({ "command": "list_chats" }), 3).await;
    assert_eq!(ids(&all["chats"]), chats, "500 by default");
    let (status, page) = server.http("GET", "/api/chat/?limit=2", alice, None).await;
    assert_eq!((status, ids(&page)), (200, chats[..2].to_vec()));
    let path = format!("/api/chat/?after={}&limit=2", chats[1]);
    let (_, page) = server.http("GET", &path, alice, None).await;
    assert_eq!(ids(&page), chats[2..]);
    let zero = socket.request(json!({ "command": "list_chats", "limit": 0 }), 4).await;
    assert_eq!(zero["code"], "invalid_field", "{zero}");

    let (_, languages) = server.http("GET", "/api/languages/", None, None).await;
    let names = |list: &Value| {
        list.as_array().expect("list").iter().map(|l| l["name"].clone()).collect::<Vec<_>>()
    };
    let all = names(&languages);
    assert!(all.len() >= 2, "the server adds default languages: {languages}");
    let first = socket.request(json!({ "command": "list_languages", "limit": 1 }), 5).await;
    assert_eq!(names(&first["languages"]), all[..1]);
    let next = socket.request(json!({ "command": "list_languages", "after": all[0] }), 6).await;
    assert_eq!(names(&next["languages"]), all[1..]);
    let (_, page) = server.http("GET", "/api/languages/?limit=1", None, None).await;
    assert_eq!(names(&page), all[..1]);
}
