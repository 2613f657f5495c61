//! Groups over the WebSocket and REST: roles, membership changes as sequenced events, removed
//! members receiving nothing more, resume returning every change a client missed, deletion.

use serde_json::{Value, json};

use crate::harness::{Backend, Client, TestServer, chat_among, group_among};

on_backends!(groups:
    roles_decide_who_changes_a_group,
    a_removed_member_receives_nothing_more_on_any_connection,
    resume_returns_what_a_client_missed_edits_deletions_and_membership_included,
    the_last_owner_leaving_hands_over_and_only_the_owner_deletes,
    every_chat_command_refuses_outsiders_and_removed_members,
    direct_chats_keep_their_two_members,
    rest_maps_onto_the_same_commands,
    retried_commands_are_answered_and_applied_once,
);

/// A socket speaking protocol version 2 (chats' events come with `resume`).
async fn socket(server: &TestServer, token: &str) -> Client {
    server.connect(&format!("/ws?token={token}&protocol=2")).await
}

fn usernames(chat: &Value) -> Vec<(String, String)> {
    chat["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| {
            let role = p["role"].as_str().unwrap_or("-").to_owned();
            (p["username"].as_str().expect("username").to_owned(), role)
        })
        .collect()
}

fn roles(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(name, role)| ((*name).to_owned(), (*role).to_owned())).collect()
}

/// The commands of a list of frames.
fn commands(frames: &[Value]) -> Vec<&str> {
    frames.iter().map(|frame| frame["command"].as_str().expect("command")).collect()
}

/// The kinds (and members) of a `chat_changed` frame's events.
fn kinds(changed: &Value) -> Vec<String> {
    changed["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| {
            let member = event["member"].as_str().map(|m| format!(" {m}")).unwrap_or_default();
            format!("{}{member}", event["kind"].as_str().expect("kind"))
        })
        .collect()
}

pub async fn roles_decide_who_changes_a_group(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let alice_token = server.user("alice").await;
    let bob_token = server.user("bob").await;
    let carol_token = server.user("carol").await;
    server.user("dave").await;
    let mut alice = socket(&server, &alice_token).await;
    let mut bob = socket(&server, &bob_token).await;
    let mut carol = socket(&server, &carol_token).await;

    let create = json!({ "command": "create_chat", "participants": ["bob", "carol"],
                         "name": "Crabs", "topic": "all things Rust" });
    let (created, before) = alice.call(create, 1).await;
    assert_eq!(commands(&before), ["chat_created"]);
    assert_eq!(created["chat"]["kind"], "group", "{created}");
    assert_eq!(created["chat"]["name"], "Crabs");
    assert_eq!(
        usernames(&created["chat"]),
        roles(&[("alice", "owner"), ("bob", "member"), ("carol", "member")])
    );
    let chat = created["chat"]["id"].as_i64().expect("id");
    bob.expect("chat_created").await;
    carol.expect("chat_created").await;

    // A plain member may not add, remove, rename, change roles or delete; nothing is stored or
    // told.
    let attempts = [
        json!({ "command": "add_participants", "chatId": chat, "usernames": ["dave"] }),
        json!({ "command": "remove_participant", "chatId": chat, "username": "carol" }),
        json!({ "command": "update_chat", "chatId": chat, "name": "Bob's" }),
        json!({ "command": "set_role", "chatId": chat, "username": "bob", "role": "admin" }),
        json!({ "command": "delete_chat", "chatId": chat }),
    ];
    for (n, attempt) in attempts.into_iter().enumerate() {
        let refused = bob.request(attempt, 10 + n as i64).await;
        assert_eq!(refused["code"], "forbidden", "{refused}");
    }
    alice.expect_nothing_pending().await;
    carol.expect_nothing_pending().await;

    // The owner makes bob an admin: every member is told, with the event's sequence number.
    let promote =
        json!({ "command": "set_role", "chatId": chat, "username": "bob", "role": "admin" });
    let (promoted, mut told) = alice.call(promote, 2).await;
    assert_eq!(usernames(&promoted["chat"])[1], ("bob".to_owned(), "admin".to_owned()));
    told.push(bob.expect("chat_changed").await);
    told.push(carol.expect("chat_changed").await);
    for changed in told {
        assert_eq!(kinds(&changed), ["role bob"]);
        assert_eq!(changed["events"][0]["seq"], 1, "the chat's first item");
        assert_eq!(changed["events"][0]["role"], "admin");
    }

    // An admin adds and renames, but may not remove another admin or the owner, nor change
    // roles.
    let add = json!({ "command": "add_participants", "chatId": chat, "usernames": ["dave"] });
    let (added, before) = bob.call(add, 3).await;
    assert_eq!(added["command"], "chat", "{added}");
    assert_eq!(commands(&before), ["chat_changed"]);
    alice.expect("chat_changed").await;
    let changed = carol.expect("chat_changed").await;
    assert_eq!(kinds(&changed), ["join dave"]);
    assert_eq!(changed["events"][0]["author"], "bob");
    let rename =
        json!({ "command": "update_chat", "chatId": chat, "name": "Ferris fans", "topic": "" });
    let (renamed, _) = bob.call(rename, 4).await;
    alice.expect("chat_changed").await;
    assert_eq!(renamed["chat"]["name"], "Ferris fans", "{renamed}");
    assert!(renamed["chat"].get("topic").is_none(), "an empty topic clears it: {renamed}");
    assert_eq!(kinds(&carol.expect("chat_changed").await), ["rename", "topic"]);
    let remove_owner =
        json!({ "command": "remove_participant", "chatId": chat, "username": "alice" });
    let refused = bob.request(remove_owner, 5).await;
    assert_eq!(refused["code"], "forbidden", "an admin may not remove the owner: {refused}");
    let promote =
        json!({ "command": "set_role", "chatId": chat, "username": "carol", "role": "admin" });
    assert_eq!(bob.request(promote, 6).await["code"], "forbidden");
    let remove_stranger =
        json!({ "command": "remove_participant", "chatId": chat, "username": "mallory" });
    let unknown = alice.request(remove_stranger, 7).await;
    assert_eq!(unknown["code"], "not_found", "{unknown}");
    carol.expect_nothing_pending().await;
}

pub async fn a_removed_member_receives_nothing_more_on_any_connection(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob", "carol"]).await;
    let mut alice = socket(&server, &tokens[0]).await;
    let mut bob = socket(&server, &tokens[1]).await;
    // Carol has three connections: every chat (both versions) and one bound to this chat.
    let mut carol_all = socket(&server, &tokens[2]).await;
    let mut carol_old = server.connect(&format!("/ws?token={}", tokens[2])).await;
    let mut carol_bound = server.connect(&format!("/ws/chat/{chat}?token={}", tokens[2])).await;
    alice.post(chat, "before", 1).await;
    bob.expect("new_message").await;
    for carol in [&mut carol_all, &mut carol_old, &mut carol_bound] {
        carol.expect("new_message").await;
    }

    let remove = json!({ "command": "remove_participant", "chatId": chat, "username": "carol" });
    let (removed, _) = alice.call(remove, 2).await;
    assert_eq!(usernames(&removed["chat"]), roles(&[("alice", "owner"), ("bob", "member")]));
    // Each of carol's connections is told, once, then gets nothing of the chat.
    for carol in [&mut carol_all, &mut carol_old, &mut carol_bound] {
        let told = carol.expect("chat_changed").await;
        assert_eq!(kinds(&told), ["remove carol"]);
    }
    assert_eq!(kinds(&bob.expect("chat_changed").await), ["remove carol"]);
    alice.post(chat, "after", 3).await;
    bob.expect("new_message").await;
    alice.call(json!({ "command": "typing", "chatId": chat }), 4).await;
    bob.expect("typing").await;
    for carol in [&mut carol_all, &mut carol_old, &mut carol_bound] {
        carol.expect_nothing_pending().await;
    }
    // And reads nothing, on any connection.
    let fetched = carol_bound.request(json!({ "command": "fetch_messages" }), 5).await;
    assert_eq!(fetched["code"], "forbidden", "{fetched}");
    let resumed =
        carol_all.request(json!({ "command": "resume", "chatId": chat, "since": 0 }), 6).await;
    assert_eq!(resumed["code"], "forbidden");
    let posted = carol_old
        .request(json!({ "command": "new_message", "chatId": chat, "message": "hello?" }), 7)
        .await;
    assert_eq!(posted["code"], "forbidden");
    alice.expect_nothing_pending().await;
}

/// One line per item of a resumed page: `post <text>`, `<kind> <target seq | member | text>`.
fn summary(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| match item["kind"].as_str() {
            None => format!("post {}", item["content"].as_str().expect("content")),
            Some(kind) => {
                let what = match (item["target"].as_i64(), item["member"].as_str()) {
                    (Some(target), _) => target.to_string(),
                    (None, Some(member)) => member.to_owned(),
                    (None, None) => item["content"].as_str().unwrap_or_default().to_owned(),
                };
                format!("{kind} {what}")
            }
        })
        .collect()
}

pub async fn resume_returns_what_a_client_missed_edits_deletions_and_membership_included(
    backend: Backend,
) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob"]).await;
    server.user("carol").await;
    let mut alice = socket(&server, &tokens[0]).await;
    let first = alice.post(chat, "one", 1).await;
    let second = alice.post(chat, "two", 2).await;
    // Bob saw up to here, then went away.
    let seen = second["seq"].as_i64().expect("seq");

    let edit = json!({ "command": "edit_message", "chatId": chat, "seq": first["seq"], "message": "one!" });
    let (_, told) = alice.call(edit, 3).await;
    assert_eq!(commands(&told), ["message_edited"]);
    assert_eq!(told[0]["event"]["seq"], seen + 1, "the edit's own number: {}", told[0]);
    let delete = json!({ "command": "delete_message", "chatId": chat, "seq": second["seq"] });
    let (_, told) = alice.call(delete, 4).await;
    assert_eq!(told[0]["event"]["kind"], "delete", "{}", told[0]);
    let add = json!({ "command": "add_participants", "chatId": chat, "usernames": ["carol"] });
    alice.call(add, 5).await;
    alice.call(json!({ "command": "update_chat", "chatId": chat, "name": "Crabs 2" }), 6).await;
    alice.post(chat, "three", 7).await;

    // Version 2: every item after the position, in order, gap-free.
    let mut bob = socket(&server, &tokens[1]).await;
    let resumed =
        bob.request(json!({ "command": "resume", "chatId": chat, "since": seen }), 1).await;
    let items = resumed["messages"].as_array().expect("items");
    let seqs: Vec<i64> = items.iter().map(|item| item["seq"].as_i64().expect("seq")).collect();
    assert_eq!(seqs, (seen + 1..=seen + 5).collect::<Vec<_>>(), "{resumed}");
    assert_eq!(
        summary(items),
        [
            format!("edit {}", first["seq"]),
            format!("delete {}", second["seq"]),
            "join carol".to_owned(),
            "rename Crabs 2".to_owned(),
            "post three".to_owned(),
        ]
    );
    assert_eq!(items[0]["content"], "one!", "an edit carries the new text");
    assert_eq!(resumed["more"], false);

    // Version 1 (no version declared): posts only, each as it now is.
    let mut old = server.connect(&format!("/ws?token={}", tokens[1])).await;
    let resumed = old.request(json!({ "command": "resume", "chatId": chat, "since": 0 }), 1).await;
    let posts = resumed["messages"].as_array().expect("posts");
    assert_eq!(summary(posts), ["post one!", "post ", "post three"], "{resumed}");
    // History is posts only, whatever the version.
    let history = bob.request(json!({ "command": "fetch_messages", "chatId": chat }), 2).await;
    assert_eq!(
        summary(history["messages"].as_array().expect("posts")),
        ["post three", "post ", "post one!"]
    );
}

pub async fn the_last_owner_leaving_hands_over_and_only_the_owner_deletes(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob", "carol"]).await;
    let mut alice = socket(&server, &tokens[0]).await;
    let mut bob = socket(&server, &tokens[1]).await;
    let mut carol = socket(&server, &tokens[2]).await;
    let promote =
        json!({ "command": "set_role", "chatId": chat, "username": "carol", "role": "admin" });
    alice.call(promote, 1).await;
    bob.expect("chat_changed").await;
    carol.expect("chat_changed").await;

    // The owner leaves: the oldest admin (carol, not bob, who is as old but a plain member)
    // becomes owner, in the same change.
    let (left, told) = alice.call(json!({ "command": "leave_chat", "chatId": chat }), 2).await;
    assert_eq!(left, json!({ "command": "ok", "id": 2 }));
    assert_eq!(kinds(&told[0]), ["leave alice", "role carol"], "the one who left is told too");
    let changed = bob.expect("chat_changed").await;
    assert_eq!(usernames(&changed["chat"]), roles(&[("bob", "member"), ("carol", "owner")]));
    carol.expect("chat_changed").await;
    let gone = alice.request(json!({ "command": "get_chat", "chatId": chat }), 3).await;
    assert_eq!(gone["code"], "forbidden");

    // Only the owner deletes; everyone in the chat is told.
    let refused = bob.request(json!({ "command": "delete_chat", "chatId": chat }), 1).await;
    assert_eq!(refused["code"], "forbidden");
    let (deleted, mut told) =
        carol.call(json!({ "command": "delete_chat", "chatId": chat }), 1).await;
    assert_eq!(deleted["command"], "ok", "{deleted}");
    told.push(bob.expect("chat_deleted").await);
    for told in told {
        assert_eq!(told, json!({ "command": "chat_deleted", "chatId": chat, "by": "carol" }));
    }
    alice.expect_nothing_pending().await;
    let missing = bob.request(json!({ "command": "get_chat", "chatId": chat }), 2).await;
    assert_eq!(missing["code"], "not_found");
}

pub async fn every_chat_command_refuses_outsiders_and_removed_members(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob", "carol"]).await;
    let mallory_token = server.user("mallory").await;
    let mut alice = socket(&server, &tokens[0]).await;
    let mut bob = socket(&server, &tokens[1]).await;
    let mut carol = socket(&server, &tokens[2]).await;
    let post = alice.post(chat, "secret", 1).await;
    bob.expect("new_message").await;
    carol.expect("new_message").await;
    let remove = json!({ "command": "remove_participant", "chatId": chat, "username": "carol" });
    alice.call(remove, 2).await;
    bob.expect("chat_changed").await;
    carol.expect("chat_changed").await;
    let mut mallory = socket(&server, &mallory_token).await;
    let seq = post["seq"].clone();
    let commands = [
        json!({ "command": "get_chat", "chatId": chat }),
        json!({ "command": "fetch_messages", "chatId": chat }),
        json!({ "command": "resume", "chatId": chat, "since": 0 }),
        json!({ "command": "new_message", "chatId": chat, "message": "hi" }),
        json!({ "command": "edit_message", "chatId": chat, "seq": seq, "message": "x" }),
        json!({ "command": "delete_message", "chatId": chat, "seq": seq }),
        json!({ "command": "typing", "chatId": chat }),
        json!({ "command": "read", "chatId": chat, "seq": seq }),
        json!({ "command": "add_participants", "chatId": chat, "usernames": ["mallory"] }),
        json!({ "command": "remove_participant", "chatId": chat, "username": "bob" }),
        json!({ "command": "leave_chat", "chatId": chat }),
        json!({ "command": "set_role", "chatId": chat, "username": "bob", "role": "owner" }),
        json!({ "command": "update_chat", "chatId": chat, "name": "Mine" }),
        json!({ "command": "delete_chat", "chatId": chat }),
    ];
    for (who, client) in [("mallory", &mut mallory), ("carol (removed)", &mut carol)] {
        for (n, command) in commands.iter().enumerate() {
            let reply = client.request(command.clone(), n as i64 + 1).await;
            assert_eq!(reply["code"], "forbidden", "{who}: {command} → {reply}");
            // Learns nothing: no content, no member list.
            let text = reply.to_string();
            assert!(!text.contains("secret") && !text.contains("bob"), "{who}: {text}");
        }
    }
    alice.expect_nothing_pending().await;
    bob.expect_nothing_pending().await;
    let history = alice.request(json!({ "command": "fetch_messages", "chatId": chat }), 9).await;
    assert_eq!(history["messages"][0]["content"], "secret", "nothing changed");
}

pub async fn direct_chats_keep_their_two_members(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    server.user("carol").await;
    let mut alice = socket(&server, &tokens[0]).await;
    let mut bob = socket(&server, &tokens[1]).await;
    let detail = alice.request(json!({ "command": "get_chat", "chatId": chat }), 1).await;
    assert_eq!(detail["chat"]["kind"], "direct", "{detail}");
    assert_eq!(usernames(&detail["chat"]), roles(&[("alice", "-"), ("bob", "-")]), "no roles");
    let attempts = [
        json!({ "command": "add_participants", "chatId": chat, "usernames": ["carol"] }),
        json!({ "command": "remove_participant", "chatId": chat, "username": "bob" }),
        json!({ "command": "update_chat", "chatId": chat, "name": "Us" }),
        json!({ "command": "set_role", "chatId": chat, "username": "bob", "role": "admin" }),
    ];
    for (n, attempt) in attempts.into_iter().enumerate() {
        let refused = alice.request(attempt, n as i64 + 2).await;
        assert_eq!(refused["code"], "invalid_field", "{refused}");
        assert!(refused["message"].as_str().expect("message").contains("direct chat"));
    }
    bob.expect_nothing_pending().await;
    // Either member may delete it.
    let (deleted, _) = bob.call(json!({ "command": "delete_chat", "chatId": chat }), 1).await;
    assert_eq!(deleted["command"], "ok", "{deleted}");
    alice.expect("chat_deleted").await;
}

pub async fn rest_maps_onto_the_same_commands(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob", "carol"]).await;
    server.user("dave").await;
    let alice_token = tokens[0].as_str();
    let bob_token = tokens[1].as_str();
    let mut carol = socket(&server, &tokens[2]).await;

    // The original app's replacement: dave in, carol out, renamed — as three changes.
    let update = format!("/api/chat/{chat}/update/");
    let body = json!({ "participants": ["alice", "bob", "dave"], "name": "Crabs II" });
    let (status, updated) = server.http("PUT", &update, Some(alice_token), Some(&body)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Crabs II");
    assert_eq!(
        usernames(&updated),
        roles(&[("alice", "owner"), ("bob", "member"), ("dave", "member")])
    );
    assert_eq!(kinds(&carol.expect("chat_changed").await), ["join dave"]);
    assert_eq!(kinds(&carol.expect("chat_changed").await), ["remove carol"]);
    carol.expect_nothing_pending().await;

    // A plain member may not replace the list.
    let body = json!({ "participants": ["bob"] });
    let (status, refused) = server.http("PUT", &update, Some(bob_token), Some(&body)).await;
    assert_eq!((status, &refused["code"]), (403, &json!("forbidden")), "{refused}");

    let members = format!("/api/chat/{chat}/members/");
    let (status, _) = server
        .http("POST", &members, Some(alice_token), Some(&json!({ "usernames": ["carol"] })))
        .await;
    assert_eq!(status, 200);
    let role = format!("/api/chat/{chat}/members/bob/role/");
    let (status, promoted) =
        server.http("PUT", &role, Some(alice_token), Some(&json!({ "role": "admin" }))).await;
    assert_eq!(status, 200, "{promoted}");
    let (status, removed) =
        server.http("DELETE", &format!("{members}carol/"), Some(bob_token), None).await;
    assert_eq!(status, 200, "{removed}");
    let (status, _) =
        server.http("POST", &format!("/api/chat/{chat}/leave/"), Some(bob_token), None).await;
    assert_eq!(status, 204);
    let (status, _) =
        server.http("GET", &format!("/api/chat/{chat}/"), Some(bob_token), None).await;
    assert_eq!(status, 403, "bob left");
    let (status, _) =
        server.http("DELETE", &format!("/api/chat/{chat}/delete/"), Some(alice_token), None).await;
    assert_eq!(status, 204);
    let (status, _) =
        server.http("GET", &format!("/api/chat/{chat}/"), Some(alice_token), None).await;
    assert_eq!(status, 404);
}

pub async fn retried_commands_are_answered_and_applied_once(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let alice_token = server.user("alice").await;
    let bob_token = server.user("bob").await;
    server.user("carol").await;
    let mut alice = socket(&server, &alice_token).await;
    let mut bob = socket(&server, &bob_token).await;

    // A creation resent after its reply was lost: the same chat, announced once.
    let create = json!({ "command": "create_chat", "participants": ["bob"], "name": "Crabs",
                         "clientId": "create-1" });
    let (first, told) = alice.call(create.clone(), 1).await;
    assert_eq!(commands(&told), ["chat_created"]);
    bob.expect("chat_created").await;
    let (again, told) = alice.call(create, 2).await;
    assert_eq!(again["chat"], first["chat"], "the first answer again");
    assert!(told.is_empty(), "not announced again: {told:?}");
    let chat = first["chat"]["id"].as_i64().expect("id");

    // A membership change, an edit and a deletion, each sent twice with its key.
    let add = json!({ "command": "add_participants", "chatId": chat, "usernames": ["carol"],
                      "clientId": "add-1" });
    let (added, _) = alice.call(add.clone(), 3).await;
    let (again, told) = alice.call(add, 4).await;
    assert_eq!(again["chat"], added["chat"]);
    assert!(told.is_empty(), "{told:?}");
    let post = alice.post(chat, "hi", 5).await;
    let edit = json!({ "command": "edit_message", "chatId": chat, "seq": post["seq"],
                       "message": "hello", "clientId": "edit-1" });
    let (edited, _) = alice.call(edit.clone(), 6).await;
    let (again, told) = alice.call(edit, 7).await;
    assert_eq!(again["message"], edited["message"]);
    assert!(told.is_empty(), "{told:?}");
    let delete = json!({ "command": "delete_message", "chatId": chat, "seq": post["seq"],
                         "clientId": "delete-1" });
    alice.call(delete.clone(), 8).await;
    let (again, told) = alice.call(delete, 9).await;
    assert_eq!(again["command"], "ok");
    assert!(told.is_empty(), "{told:?}");
    // Bob saw each change once: join, post, edit, delete.
    let seen: Vec<Value> = vec![
        bob.expect("chat_changed").await,
        bob.expect("new_message").await,
        bob.expect("message_edited").await,
        bob.expect("message_deleted").await,
    ];
    assert_eq!(seen.len(), 4);
    bob.expect_nothing_pending().await;
    // A key reused for another command is refused.
    let reused =
        json!({ "command": "update_chat", "chatId": chat, "name": "X", "clientId": "add-1" });
    let refused = alice.request(reused, 10).await;
    assert_eq!(refused["code"], "invalid_field", "{refused}");

    // REST: the Idempotency-Key header.
    let body = json!({ "participants": ["bob", "carol"], "name": "Rest" });
    let created = server
        .http_with_headers(
            "POST",
            "/api/chat/create/",
            &alice_token,
            &[("idempotency-key", "r-1")],
            &body,
        )
        .await;
    let again = server
        .http_with_headers(
            "POST",
            "/api/chat/create/",
            &alice_token,
            &[("idempotency-key", "r-1")],
            &body,
        )
        .await;
    assert_eq!((created.0, again.0), (201, 201));
    assert_eq!(created.1["id"], again.1["id"], "one chat for one key");
}
