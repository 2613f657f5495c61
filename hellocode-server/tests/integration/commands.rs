//! The account, language, contact, bot-token and membership commands over the WebSocket, and
//! the REST routes that share their code.

use serde_json::{Value, json};

use crate::harness::{Backend, Client, TestServer, group_among};

on_backends!(commands:
    profiles_languages_and_contacts_over_the_socket,
    bot_tokens_over_the_socket,
    added_participants_get_chat_created_and_can_read,
);

async fn socket(server: &TestServer, token: &str) -> Client {
    server.connect(&format!("/ws?token={token}")).await
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().expect("a list").iter().filter_map(Value::as_str).collect()
}

pub async fn profiles_languages_and_contacts_over_the_socket(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let alice_token = server.user("alice").await;
    server.user("bob").await;
    let mut alice = socket(&server, &alice_token).await;

    let bob = alice.request(json!({ "command": "get_user", "username": "bob" }), 1).await;
    assert_eq!(bob["command"], "user", "{bob}");
    let (status, rest) = server.http("GET", "/api/users/bob/", Some(&alice_token), None).await;
    assert_eq!(status, 200);
    assert_eq!(bob["user"], rest, "the same profile as REST");
    let unknown = alice.request(json!({ "command": "get_user", "username": "nobody" }), 2).await;
    assert_eq!(unknown["code"], "not_found", "{unknown}");

    let rust = alice.request(json!({ "command": "add_language", "name": " Rust " }), 3).await;
    assert_eq!(rust["language"]["name"], "Rust", "{rust}");
    let again = alice.request(json!({ "command": "add_language", "name": "Rust" }), 4).await;
    assert_eq!(again["language"], rust["language"], "an existing name is returned as it is");
    alice.request(json!({ "command": "add_language", "name": "Go" }), 5).await;
    let all = alice.request(json!({ "command": "list_languages" }), 6).await;
    let (_, rest) = server.http("GET", "/api/languages/", None, None).await;
    assert_eq!(all["languages"], rest);
    let blank = alice.request(json!({ "command": "add_language", "name": "  " }), 7).await;
    assert_eq!(blank["code"], "invalid_field");

    let update = json!({ "command": "update_profile", "timezone": "Europe/Paris",
                         "languages": ["Rust", "Go"] });
    let updated = alice.request(update, 8).await;
    assert_eq!(updated["command"], "user", "{updated}");
    assert_eq!(updated["user"]["timezone"], "Europe/Paris");
    assert_eq!(updated["user"]["languages"], json!(["Go", "Rust"]));
    let only_zone =
        alice.request(json!({ "command": "update_profile", "timezone": "Asia/Tokyo" }), 9).await;
    assert_eq!(only_zone["user"]["languages"], json!(["Go", "Rust"]), "left out: unchanged");
    let bad =
        alice.request(json!({ "command": "update_profile", "languages": ["Cobol"] }), 10).await;
    assert_eq!(bad["code"], "not_found", "{bad}");
    let (_, rest) = server.http("GET", "/api/users/alice/", Some(&alice_token), None).await;
    assert_eq!(rest["timezone"], "Asia/Tokyo");

    let added = alice.request(json!({ "command": "add_contact", "username": "bob" }), 11).await;
    assert_eq!(names(&added["contacts"]), ["bob"], "{added}");
    let twice = alice.request(json!({ "command": "add_contact", "username": "bob" }), 12).await;
    assert_eq!(names(&twice["contacts"]), ["bob"], "idempotent");
    let ghost = alice.request(json!({ "command": "add_contact", "username": "ghost" }), 13).await;
    assert_eq!(ghost["code"], "not_found");
    let listed = alice.request(json!({ "command": "list_contacts" }), 14).await;
    let (_, rest) =
        server.http("GET", "/api/users/alice/contacts/", Some(&alice_token), None).await;
    assert_eq!(listed["contacts"], rest);
    let removed =
        alice.request(json!({ "command": "remove_contact", "username": "bob" }), 15).await;
    assert_eq!(removed["contacts"], json!([]));
    alice.expect_nothing_pending().await;
}

pub async fn bot_tokens_over_the_socket(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let alice_token = server.user("alice").await;
    let bob_token = server.user("bob").await;
    let mut alice = socket(&server, &alice_token).await;
    let mut bob = socket(&server, &bob_token).await;

    let created =
        alice.request(json!({ "command": "create_bot_token", "name": " matchmaker " }), 1).await;
    assert_eq!(created["command"], "bot_token", "{created}");
    assert_eq!(created["name"], "matchmaker");
    let token_id = created["tokenId"].as_i64().expect("tokenId");
    let bot_token = created["token"].as_str().expect("token").to_owned();
    let blank = alice.request(json!({ "command": "create_bot_token", "name": "" }), 2).await;
    assert_eq!(blank["code"], "invalid_field");

    // The token authenticates as alice, on the socket and over REST.
    let mut bot = server.connect("/ws").await;
    let hello = bot.request(json!({ "command": "auth", "token": bot_token }), 1).await;
    assert_eq!(hello["username"], "alice", "{hello}");
    let listed = alice.request(json!({ "command": "list_bot_tokens" }), 3).await;
    let (status, rest) = server.http("GET", "/api/bot-tokens/", Some(&bot_token), None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["tokens"], rest, "the same list as REST");
    assert_eq!(listed["tokens"][0]["id"], token_id);
    assert_eq!(listed["tokens"][0]["revoked"], false);

    // Someone else's token, or none: not_found.
    for (i, id) in [token_id, token_id + 1000].into_iter().enumerate() {
        let refused = bob
            .request(json!({ "command": "revoke_bot_token", "tokenId": id }), i as i64 + 1)
            .await;
        assert_eq!(refused["code"], "not_found", "{refused}");
    }
    let revoked =
        alice.request(json!({ "command": "revoke_bot_token", "tokenId": token_id }), 4).await;
    assert_eq!(revoked, json!({ "command": "ok", "id": 4 }));
    let listed = alice.request(json!({ "command": "list_bot_tokens" }), 5).await;
    assert_eq!(listed["tokens"][0]["revoked"], true);
    let mut late = server.connect("/ws").await;
    let refused = late.request(json!({ "command": "auth", "token": bot_token }), 1).await;
    assert_eq!(refused["code"], "invalid_token");
    // The REST route shares the code: revoking again is still the owner's, and still works.
    let (status, _) = server
        .http("DELETE", &format!("/api/bot-tokens/{token_id}/"), Some(&bob_token), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .http("DELETE", &format!("/api/bot-tokens/{token_id}/"), Some(&alice_token), None)
        .await;
    assert_eq!(status, 204);
}

pub async fn added_participants_get_chat_created_and_can_read(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob"]).await;
    let carol_token = server.user("carol").await;
    let dave_token = server.user("dave").await;
    let mallory_token = server.user("mallory").await;
    let mut alice = socket(&server, &tokens[0]).await;
    let mut bob = socket(&server, &tokens[1]).await;
    let mut carol = socket(&server, &carol_token).await;
    let mut dave = socket(&server, &dave_token).await;
    let mut mallory = socket(&server, &mallory_token).await;
    alice.post(chat, "before carol", 1).await;
    bob.expect("new_message").await;

    let (reply, told) = alice
        .call(
            json!({ "command": "add_participants", "chatId": chat.to_string(),
                         "usernames": ["carol", "bob"] }),
            2,
        )
        .await;
    assert_eq!(reply["command"], "chat", "{reply}");
    // The members learn of the change (a `join` event), the one added of the chat.
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["events"][0]["kind"], "join", "{told:?}");
    assert_eq!(bob.expect("chat_changed").await, told[0]);
    let members: Vec<&str> = reply["chat"]["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .filter_map(|p| p["username"].as_str())
        .collect();
    assert_eq!(members, ["alice", "bob", "carol"]);
    let created = carol.expect("chat_created").await;
    assert_eq!(created["chat"], reply["chat"]);
    assert_eq!(carol.expect("chat_changed").await, told[0]);
    // Only the one added is told of the chat; the others knew.
    alice.expect_nothing_pending().await;
    bob.expect_nothing_pending().await;
    dave.expect_nothing_pending().await;

    // Carol reads the history and takes part from now on.
    let history = carol.request(json!({ "command": "fetch_messages", "chatId": chat }), 1).await;
    assert_eq!(history["messages"][0]["content"], "before carol", "{history}");
    carol.post(chat, "hi all", 2).await;
    assert_eq!(bob.expect("new_message").await["message"]["content"], "hi all");
    assert_eq!(alice.expect("new_message").await["message"]["content"], "hi all");

    // Refusals: an outsider, an unknown user (nobody is added), an unknown chat.
    let outsider = mallory
        .request(
            json!({ "command": "add_participants", "chatId": chat, "usernames": ["mallory"] }),
            1,
        )
        .await;
    assert_eq!(outsider["code"], "forbidden", "{outsider}");
    let unknown = alice
        .request(
            json!({ "command": "add_participants", "chatId": chat,
                         "usernames": ["dave", "ghost"] }),
            3,
        )
        .await;
    assert_eq!(unknown["code"], "not_found", "{unknown}");
    dave.expect_nothing_pending().await;
    let no_chat = alice
        .request(
            json!({ "command": "add_participants", "chatId": chat + 100, "usernames": ["dave"] }),
            4,
        )
        .await;
    assert_eq!(no_chat["code"], "not_found");
    let empty = alice
        .request(json!({ "command": "add_participants", "chatId": chat, "usernames": [] }), 5)
        .await;
    assert_eq!(empty["code"], "invalid_field");

    // REST's replacement of the list tells those it adds the same way.
    let body = json!({ "participants": ["alice", "bob", "carol", "dave"] });
    let (status, updated) = server
        .http("PUT", &format!("/api/chat/{chat}/update/"), Some(&tokens[0]), Some(&body))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(dave.expect("chat_created").await["chat"], updated);
    assert_eq!(dave.expect("chat_changed").await["events"][0]["member"], "dave");
    assert_eq!(carol.expect("chat_changed").await["events"][0]["member"], "dave");
    carol.expect_nothing_pending().await;
    bob.expect("chat_changed").await;
    bob.post(chat, "welcome dave", 3).await;
    assert_eq!(dave.expect("new_message").await["message"]["content"], "welcome dave");
}
