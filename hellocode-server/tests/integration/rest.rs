//! The REST transport: the original app's API with the authorization it lacked.

use serde_json::json;

use crate::harness::{Backend, PASSWORD, TestServer, chat_among, group_among};

on_backends!(rest:
    registration_validates_each_field,
    login_returns_a_token_or_401,
    chats_are_visible_and_changeable_by_participants_only,
    users_change_and_delete_only_themselves,
    programmers_are_found_by_language,
    history_pages_and_idempotent_posts,
    health_metrics_and_unknown_routes,
);

pub async fn registration_validates_each_field(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (status, body) = server
        .http("POST", "/api/register/", None, Some(&json!({ "username": "alice", "email": "alice", "password": "alice123", "password_confirmation": "alice124" })))
        .await;
    assert_eq!(status, 422);
    for field in ["email", "password", "password_confirmation"] {
        assert!(
            body[field].as_array().is_some_and(|m| !m.is_empty()),
            "{field} is explained: {body}"
        );
    }
    assert!(body.get("username").is_none(), "a valid field is not mentioned");
    let good = json!({ "username": "alice", "email": "alice@example.org", "password": PASSWORD, "password_confirmation": PASSWORD });
    let (status, body) = server.http("POST", "/api/register/", None, Some(&good)).await;
    assert_eq!(status, 201);
    assert_eq!(body["user"]["username"], "alice");
    assert!(body["message"].is_string());
    assert!(
        body["user"].get("password_hash").is_none() && body["user"].get("email").is_none(),
        "no secrets: {body}"
    );
    let (status, body) = server.http("POST", "/api/register/", None, Some(&good)).await;
    assert_eq!(status, 422);
    assert!(body["username"][0].as_str().is_some_and(|m| m.contains("already exists")));
    let (status, body) = server.http("POST", "/api/register/", None, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_field")),
        "an empty body: {body}"
    );
}

pub async fn login_returns_a_token_or_401(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    server.user("alice").await;
    let (status, body) = server
        .http(
            "POST",
            "/api/login/",
            None,
            Some(&json!({ "username": "alice", "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body["token"].as_str().is_some_and(|t| t.split('.').count() == 3), "a JWT: {body}");
    assert!(body["message"].is_string());
    let (status, body) = server
        .http(
            "POST",
            "/api/login/",
            None,
            Some(&json!({ "username": "alice", "password": "wrong password" })),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_credentials")));
}

pub async fn chats_are_visible_and_changeable_by_participants_only(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob"]).await;
    let carol = server.user("carol").await;
    let mallory = server.user("mallory").await;

    let (status, chats) = server.http("GET", "/api/chat/", Some(&tokens[1]), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        chats[0]["participants"],
        json!([{ "username": "alice", "role": "owner" }, { "username": "bob", "role": "member" }])
    );
    let (_, none) = server.http("GET", "/api/chat/", Some(&mallory), None).await;
    assert_eq!(none, json!([]), "only your own chats are listed");

    let path = format!("/api/chat/{chat}/");
    assert_eq!(server.http("GET", &path, Some(&tokens[0]), None).await.0, 200);
    assert_eq!(server.http("GET", &path, Some(&mallory), None).await.0, 403);
    assert_eq!(server.http("GET", "/api/chat/999999/", Some(&mallory), None).await.0, 404);
    let update = format!("/api/chat/{chat}/update/");
    let body = json!({ "participants": ["alice", "bob", "mallory"] });
    assert_eq!(
        server.http("PUT", &update, Some(&mallory), Some(&body)).await.0,
        403,
        "outsiders cannot add themselves"
    );
    let body = json!({ "participants": ["alice", "bob", "carol"] });
    let (status, refused) = server.http("PUT", &update, Some(&tokens[1]), Some(&body)).await;
    assert_eq!(status, 403, "a plain member adds no one: {refused}");
    let (status, updated) = server.http("PUT", &update, Some(&tokens[0]), Some(&body)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["participants"].as_array().map(Vec::len), Some(3));
    assert_eq!(server.http("GET", &path, Some(&carol), None).await.0, 200, "carol was added");
    // Carol now receives the chat's events.
    let mut carol_socket = server.connect(&format!("/ws?token={carol}")).await;
    carol_socket.expect_nothing_pending().await;
    let (status, _) = server
        .http(
            "POST",
            &format!("/api/chat/{chat}/messages/"),
            Some(&tokens[0]),
            Some(&json!({ "message": "welcome carol" })),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(carol_socket.expect("new_message").await["message"]["content"], "welcome carol");

    let delete = format!("/api/chat/{chat}/delete/");
    assert_eq!(server.http("DELETE", &delete, Some(&mallory), None).await.0, 403);
    assert_eq!(server.http("DELETE", &delete, Some(&carol), None).await.0, 403, "not the owner");
    assert_eq!(server.http("DELETE", &delete, Some(&tokens[0]), None).await.0, 204);
    assert_eq!(server.http("GET", &path, Some(&tokens[0]), None).await.0, 404);

    let (status, body) = server
        .http(
            "POST",
            "/api/chat/create/",
            Some(&tokens[0]),
            Some(&json!({ "participants": ["ghost"] })),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
}

pub async fn users_change_and_delete_only_themselves(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let (status, users) = server.http("GET", "/api/users/", Some(&bob), None).await;
    assert_eq!(status, 200);
    assert_eq!(users.as_array().map(Vec::len), Some(2));
    assert_eq!(server.http("GET", "/api/users/", None, None).await.0, 401);
    let (status, user) = server.http("GET", "/api/users/alice/", Some(&bob), None).await;
    assert_eq!((status, user["username"].as_str()), (200, Some("alice")));

    let change = json!({ "timezone": "Europe/Paris", "languages": ["rust", "Go"] });
    assert_eq!(server.http("PATCH", "/api/users/alice/", Some(&bob), Some(&change)).await.0, 403);
    let (status, user) =
        server.http("PATCH", "/api/users/alice/", Some(&alice), Some(&change)).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["languages"], json!(["Go", "Rust"]));
    let (status, body) = server
        .http("PATCH", "/api/users/alice/", Some(&alice), Some(&json!({ "languages": ["Cobol"] })))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = server
        .http(
            "PATCH",
            "/api/users/alice/",
            Some(&alice),
            Some(&json!({ "password": "short", "password_confirmation": "short" })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let new_password = json!({ "password": "a brand new passphrase", "password_confirmation": "a brand new passphrase" });
    let (status, changed) =
        server.http("PATCH", "/api/users/alice/", Some(&alice), Some(&new_password)).await;
    assert_eq!(status, 200, "{changed}");
    // A password change logs out other sessions: go on with the fresh token of the reply.
    let alice = changed["token"].as_str().expect("a fresh token").to_owned();
    let (status, _) = server
        .http(
            "POST",
            "/api/login/",
            None,
            Some(&json!({ "username": "alice", "password": "a brand new passphrase" })),
        )
        .await;
    assert_eq!(status, 200, "the new password works");

    let (status, contacts) = server
        .http(
            "POST",
            "/api/users/alice/contacts/",
            Some(&alice),
            Some(&json!({ "username": "bob" })),
        )
        .await;
    assert_eq!((status, contacts), (201, json!(["bob"])));
    assert_eq!(server.http("GET", "/api/users/alice/contacts/", Some(&bob), None).await.0, 403);

    assert_eq!(server.http("DELETE", "/api/users/alice/", Some(&bob), None).await.0, 403);
    assert_eq!(server.http("DELETE", "/api/users/alice/", Some(&alice), None).await.0, 204);
    assert_eq!(server.http("GET", "/api/users/alice/", Some(&bob), None).await.0, 404);
    assert_eq!(
        server.http("GET", "/api/chat/", Some(&alice), None).await.0,
        401,
        "a deleted user's token is refused"
    );
}

pub async fn programmers_are_found_by_language(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let (status, languages) = server.http("GET", "/api/languages/", None, None).await;
    assert_eq!(status, 200);
    assert!(
        languages.as_array().is_some_and(|l| l.iter().any(|l| l["name"] == "Rust")),
        "{languages}"
    );
    let (status, added) = server
        .http("POST", "/api/languages/", Some(&alice), Some(&json!({ "name": "Gleam" })))
        .await;
    assert_eq!((status, added["name"].as_str()), (201, Some("Gleam")));
    server
        .http(
            "PATCH",
            "/api/users/alice/",
            Some(&alice),
            Some(&json!({ "languages": ["Rust", "Gleam"] })),
        )
        .await;
    server
        .http("PATCH", "/api/users/bob/", Some(&bob), Some(&json!({ "languages": ["Rust"] })))
        .await;
    let (status, users) = server.http("GET", "/api/languages/rust/users/", Some(&bob), None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> =
        users.as_array().expect("list").iter().filter_map(|u| u["username"].as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    let (_, gleam) = server.http("GET", "/api/languages/Gleam/users/", Some(&bob), None).await;
    assert_eq!(gleam.as_array().map(Vec::len), Some(1));
}

pub async fn history_pages_and_idempotent_posts(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let path = format!("/api/chat/{chat}/messages/");
    for i in 0..15 {
        let (status, _) = server
            .http("POST", &path, Some(&tokens[0]), Some(&json!({ "message": format!("m{i}") })))
            .await;
        assert_eq!(status, 201);
    }
    let retry = json!({ "message": "once", "clientId": "k-1" });
    let (_, first) = server.http("POST", &path, Some(&tokens[1]), Some(&retry)).await;
    let (_, second) = server.http("POST", &path, Some(&tokens[1]), Some(&retry)).await;
    assert_eq!(first, second, "a retried post returns the stored message");
    assert_eq!(first["seq"], 16);

    let (status, page) = server.http("GET", &path, Some(&tokens[1]), None).await;
    assert_eq!(status, 200);
    let seqs: Vec<i64> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["seq"].as_i64())
        .collect();
    assert_eq!(seqs, (7..=16).rev().collect::<Vec<_>>(), "10 newest by default");
    let (_, older) =
        server.http("GET", &format!("{path}?before=7&limit=4"), Some(&tokens[1]), None).await;
    let seqs: Vec<i64> = older["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["seq"].as_i64())
        .collect();
    assert_eq!(seqs, [6, 5, 4, 3]);
    let mallory = server.user("mallory").await;
    assert_eq!(server.http("GET", &path, Some(&mallory), None).await.0, 403);
    assert_eq!(
        server.http("POST", &path, Some(&mallory), Some(&json!({ "message": "x" }))).await.0,
        403
    );
    let (status, body) =
        server.http("POST", &path, Some(&tokens[0]), Some(&json!({ "message": "   " }))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_field")));
}

pub async fn health_metrics_and_unknown_routes(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (status, health) = server.http("GET", "/healthz", None, None).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let token = server.user("alice").await;
    let mut socket = server.connect(&format!("/ws?token={token}")).await;
    socket.expect_nothing_pending().await;
    let (status, metrics) = server.http_text("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "hellocode_connections_open 1\n",
        "hellocode_commands_total{command=\"ping\"} 1\n",
        "# TYPE hellocode_storage_seconds histogram\n",
    ] {
        assert!(metrics.contains(line), "{line:?} in {metrics}");
    }
    let (status, body) = server.http("GET", "/api/nothing/here/", None, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, _) = server.http("GET", "/ws", None, None).await;
    assert_eq!(status, 400, "a plain GET on the socket path is not an upgrade");
}
