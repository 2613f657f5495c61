//! The WebSocket transport against a real server.

use futures_util::{SinkExt, StreamExt};
use hellocode_server::Settings;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Backend, Client, TestServer, chat_among, silent_client, test_settings};

on_backends!(websocket:
    two_users_chat_and_outsiders_see_nothing,
    from_naming_someone_else_is_refused,
    malformed_frames_get_errors_and_the_connection_goes_on,
    history_survives_a_restart,
    the_original_front_end_works_unchanged,
    a_slow_reader_is_cut_off_while_a_fast_reader_gets_everything,
    concurrent_senders_are_delivered_in_sequence_order,
    pipelined_commands_are_answered_in_order_and_see_the_appends_before_them,
    appends_in_flight_when_the_client_hangs_up_are_still_delivered,
    changes_of_a_chat_during_a_pipelined_burst_all_finish,
    receipts_typing_edits_and_deletes_reach_participants,
    a_new_connection_learns_who_is_online_and_how_far_each_has_read,
    presence_follows_chats_made_and_deleted_while_online,
    resume_returns_exactly_what_was_missed,
    bots_find_users_by_language,
    shutdown_closes_sockets_with_a_close_frame,
    pings_keep_live_peers_and_drop_dead_ones,
);

async fn start(backend: Backend) -> Option<TestServer> {
    TestServer::start(backend).await
}

pub async fn two_users_chat_and_outsiders_see_nothing(backend: Backend) {
    let Some(server) = start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let mallory_token = server.user("mallory").await;

    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    let mut bob_phone = server.connect(&format!("/ws?token={}", tokens[1])).await;
    let mut bob_laptop = server.connect(&format!("/ws/chat/{chat}?token={}", tokens[1])).await;
    let mut mallory = server.connect(&format!("/ws?token={mallory_token}")).await;
    for client in [&mut alice, &mut bob_phone, &mut bob_laptop, &mut mallory] {
        client.expect_nothing_pending().await;
    }

    alice
        .send(json!({ "command": "new_message", "id": 1, "chatId": chat, "message": "hi bob" }))
        .await;
    let event = alice.expect("new_message").await;
    let ack = alice.expect("ack").await;
    assert_eq!(ack["id"], 1);
    assert_eq!(ack["message"], event["message"]);
    assert_eq!(event["message"]["author"], "alice");
    assert_eq!(event["message"]["seq"], 1);
    for bob in [&mut bob_phone, &mut bob_laptop] {
        assert_eq!(bob.expect("new_message").await, event, "every device of every participant");
    }

    bob_phone.post(chat, "hi alice", 2).await;
    assert_eq!(alice.expect("new_message").await["message"]["content"], "hi alice");

    // Mallory may not read, post, or type in the chat, and received none of its events.
    mallory.expect_nothing_pending().await;
    for (i, command) in [
        json!({ "command": "fetch_messages", "chatId": chat }),
        json!({ "command": "new_message", "chatId": chat, "message": "let me in" }),
        json!({ "command": "typing", "chatId": chat }),
        json!({ "command": "resume", "chatId": chat, "since": 0 }),
        json!({ "command": "read", "chatId": chat, "seq": 1 }),
    ]
    .into_iter()
    .enumerate()
    {
        let reply = mallory.request(command, i as i64 + 10).await;
        assert_eq!(reply["code"], "forbidden", "{reply}");
    }
    let mut mallory_bound = server.connect(&format!("/ws/chat/{chat}?token={mallory_token}")).await;
    let reply = mallory_bound.request(json!({ "command": "fetch_messages" }), 1).await;
    assert_eq!(reply["code"], "forbidden");
    // Nothing Mallory tried reached the participants.
    alice.expect_nothing_pending().await;
    bob_laptop.expect("new_message").await; // bob's own second message
    bob_laptop.expect_nothing_pending().await;
    let history = alice.request(json!({ "command": "fetch_messages", "chatId": chat }), 3).await;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(2));
}

pub async fn from_naming_someone_else_is_refused(backend: Backend) {
    let Some(server) = start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let mut alice = server.connect(&format!("/ws/chat/{chat}?token={}", tokens[0])).await;
    let reply = alice
        .request(json!({ "command": "new_message", "from": "bob", "message": "I am bob", "chatId": chat }), 1)
        .await;
    assert_eq!(reply["code"], "impersonation");
    alice.expect_nothing_pending().await;
    let history = alice.request(json!({ "command": "fetch_messages", "chatId": chat }), 2).await;
    assert_eq!(history["messages"], json!([]), "nothing was stored");
    alice.send(json!({ "command": "new_message", "from": "alice", "message": "I am alice", "chatId": chat, "id": 3 })).await;
    assert_eq!(alice.expect("new_message").await["message"]["content"], "I am alice");
    assert_eq!(alice.expect("ack").await["id"], 3);
}

pub async fn malformed_frames_get_errors_and_the_connection_goes_on(backend: Backend) {
    let settings = Settings {
        limits: hellocode_core::protocol::Limits { max_frame_bytes: 1024, ..Default::default() },
        ..test_settings()
    };
    let Some(server) = TestServer::start_with(backend, settings).await else { return };
    let token = server.user("alice").await;
    let mut alice = server.connect(&format!("/ws?token={token}")).await;
    let oversized = format!(r#"{{"command":"ping","pad":"{}"}}"#, "x".repeat(2000));
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "not_json"),
        ("{\"command\":\"new_message\",".into(), "not_json"),
        ("[1,2,3]".into(), "not_an_object"),
        ("{}".into(), "missing_command"),
        (r#"{"command":"launch_rockets","id":5}"#.into(), "unknown_command"),
        (r#"{"command":"new_message","chatId":1}"#.into(), "missing_field"),
        (r#"{"command":"fetch_messages","chatId":"seven"}"#.into(), "invalid_field"),
        (oversized, "frame_too_large"),
        (r#"{"command":"auth","token":"x"}"#.into(), "already_authenticated"),
    ];
    for (text, code) in &cases {
        alice.send_text(text).await;
        let reply = alice.expect("error").await;
        assert_eq!(reply["code"], *code, "{text}: {reply}");
    }
    alice.socket.send(Message::binary(vec![1u8, 2, 3])).await.expect("send");
    assert_eq!(alice.expect("error").await["code"], "not_json");
    let unknown = {
        alice.send_text(r#"{"command":"launch_rockets","id":5}"#).await;
        alice.recv().await
    };
    assert_eq!(unknown["id"], 5, "the request id is echoed in errors");
    let pong = alice.request(json!({ "command": "ping" }), 99).await;
    assert_eq!(pong["command"], "pong", "the connection is still usable");
    let (_, metrics) = server.http_text("/metrics").await;
    assert!(metrics.contains("hellocode_commands_total{command=\"invalid\"} 9"), "{metrics}");
}

pub async fn history_survives_a_restart(backend: Backend) {
    let Some(mut server) = start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    for i in 0..12 {
        alice.send(json!({ "command": "new_message", "chatId": chat, "message": format!("m{i}"), "clientId": format!("c{i}"), "id": i })).await;
        alice.expect("new_message").await;
        alice.expect("ack").await;
    }
    drop(alice);
    server.restart().await;

    // The token is still valid after the restart (same secret), and the history is intact.
    let mut bob = server.connect(&format!("/ws?token={}", tokens[1])).await;
    let page = bob.request(json!({ "command": "fetch_messages", "chatId": chat }), 1).await;
    let contents: Vec<&str> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["content"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        contents,
        ["m11", "m10", "m9", "m8", "m7", "m6", "m5", "m4", "m3", "m2"],
        "newest first, 10 by default"
    );
    let older =
        bob.request(json!({ "command": "fetch_messages", "chatId": chat, "before": 3 }), 2).await;
    assert_eq!(older["messages"].as_array().map(Vec::len), Some(2));
    // A retry of a send made before the restart is still recognized.
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    let retry = alice
        .request(
            json!({ "command": "new_message", "chatId": chat, "message": "m0", "clientId": "c0" }),
            3,
        )
        .await;
    assert_eq!(retry["command"], "ack");
    assert_eq!(retry["message"]["seq"], 1, "the stored message, not a new one");
    alice.expect_nothing_pending().await; // a recognized retry is not broadcast again
    let next = alice.post(chat, "m12", 4).await;
    assert_eq!(next["seq"], 13);
}

pub async fn the_original_front_end_works_unchanged(backend: Backend) {
    let Some(server) = start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let mut alice = server.connect(&format!("/ws/chat/{chat}/?token={}", tokens[0])).await;
    let mut bob = server.connect(&format!("/ws/chat/{chat}?token={}", tokens[1])).await;
    // Exactly the frames the Django Channels app's React client sends.
    alice.send_text(&format!(r#"{{"command":"fetch_messages","chatId":"{chat}"}}"#)).await;
    let messages = alice.expect("messages").await;
    assert_eq!(messages["messages"], json!([]));
    alice
        .send_text(&format!(
            r#"{{"command":"new_message","from":"alice","message":"hello","chatId":"{chat}"}}"#
        ))
        .await;
    for client in [&mut alice, &mut bob] {
        let event = client.expect("new_message").await;
        let message = &event["message"];
        assert_eq!(
            (message["author"].as_str(), message["content"].as_str()),
            (Some("alice"), Some("hello"))
        );
        assert!(message["id"].is_i64() && message["timestamp"].is_string());
    }
    alice.expect_nothing_pending().await; // no ack without an id, as the old client expects
    bob.send_text(&format!(r#"{{"command":"fetch_messages","chatId":"{chat}"}}"#)).await;
    let messages = bob.expect("messages").await;
    assert_eq!(messages["messages"][0]["content"], "hello");
}

pub async fn a_slow_reader_is_cut_off_while_a_fast_reader_gets_everything(backend: Backend) {
    const MESSAGES: usize = 150;
    let settings =
        Settings { send_queue: 8, socket_send_buffer: Some(16 * 1024), ..test_settings() };
    let Some(server) = TestServer::start_with(backend, settings).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob", "carol"]).await;
    let mut slow = silent_client(&server, &tokens[2]).await;
    let mut fast = server.connect(&format!("/ws?token={}", tokens[1])).await;
    fast.expect_nothing_pending().await;
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < MESSAGES {
            let event = fast.expect("new_message").await;
            seqs.push(event["message"]["seq"].as_i64().expect("seq"));
        }
        seqs
    });
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    let body = "x".repeat(4000);
    for i in 0..MESSAGES as i64 {
        alice
            .send(json!({ "command": "new_message", "id": i, "chatId": chat, "message": body }))
            .await;
        alice.expect("new_message").await;
        alice.expect("ack").await;
    }
    let seqs = reader.await.expect("fast reader");
    assert_eq!(
        seqs,
        (1..=MESSAGES as i64).collect::<Vec<_>>(),
        "the fast reader got every message, in order"
    );
    assert_eq!(slow.close_code().await, Some(4008), "the slow reader was told to resume");
    let (_, metrics) = server.http_text("/metrics").await;
    assert!(!metrics.contains("hellocode_send_queue_drops_total 0\n"), "{metrics}");
}

pub async fn concurrent_senders_are_delivered_in_sequence_order(backend: Backend) {
    // Four senders at once: their appends share commits, and still publish in seq order.
    const EACH: i64 = 40;
    const SENDERS: usize = 4;
    let Some(server) = start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob", "dave", "erin", "carol"]).await;
    let mut carol = server.connect(&format!("/ws?token={}", tokens[SENDERS])).await;
    carol.expect_nothing_pending().await;
    let mut senders = Vec::new();
    for token in &tokens[..SENDERS] {
        let mut client = server.connect(&format!("/ws?token={token}")).await;
        senders.push(tokio::spawn(async move {
            for i in 0..EACH {
                client.send(json!({ "command": "new_message", "chatId": chat, "message": format!("{i}"), "id": i })).await;
            }
            // Drain until every ack is in (events from the other senders interleave).
            let mut acks = 0;
            while acks < EACH {
                if client.recv().await["command"] == "ack" {
                    acks += 1;
                }
            }
        }));
    }
    let mut seqs = Vec::new();
    while seqs.len() < SENDERS * EACH as usize {
        seqs.push(carol.expect("new_message").await["message"]["seq"].as_i64().expect("seq"));
    }
    for sender in senders {
        sender.await.expect("sender");
    }
    assert_eq!(
        seqs,
        (1..=SENDERS as i64 * EACH).collect::<Vec<_>>(),
        "events arrive in sequence order"
    );
}

pub async fn pipelined_commands_are_answered_in_order_and_see_the_appends_before_them(
    backend: Backend,
) {
    // More appends than a connection keeps in flight, a refused one among them, then a fetch,
    // all sent without waiting: every reply comes in the order of the commands, and the fetch
    // sees every append sent before it.
    const BEFORE: i64 = 2 * hellocode_server::ws::PIPELINE_DEPTH as i64;
    let Some(server) = start(backend).await else { return };
    let (chat, mut alice, mut bob) = alice_and_bob(&server).await;
    let post = |id: i64, chat: i64| json!({ "command": "new_message", "chatId": chat, "message": format!("m{id}"), "id": id });
    for id in 1..=BEFORE {
        alice.send(post(id, chat)).await;
    }
    let refused = BEFORE + 1;
    alice.send(post(refused, chat + 1000)).await;
    for id in refused + 1..=refused + 5 {
        alice.send(post(id, chat)).await;
    }
    let fetch = refused + 6;
    alice
        .send(json!({ "command": "fetch_messages", "chatId": chat, "limit": 100, "id": fetch }))
        .await;

    let mut replies = Vec::new();
    let mut events = Vec::new();
    while replies.len() < fetch as usize {
        let frame = alice.recv().await;
        match frame.get("id") {
            Some(_) => {
                if frame["command"] == "ack" {
                    let seq = frame["message"]["seq"].as_i64().expect("seq");
                    assert!(events.contains(&seq), "the event of {seq} came before its ack");
                }
                replies.push(frame);
            }
            None => events.push(frame["message"]["seq"].as_i64().expect("a new message")),
        }
    }
    let ids: Vec<i64> = replies.iter().map(|reply| reply["id"].as_i64().expect("id")).collect();
    assert_eq!(ids, (1..=fetch).collect::<Vec<_>>(), "replies in the order of the commands");
    assert_eq!(
        replies[refused as usize - 1]["command"],
        "error",
        "{}",
        replies[refused as usize - 1]
    );
    let acked: Vec<i64> = replies
        .iter()
        .filter(|reply| reply["command"] == "ack")
        .map(|ack| ack["message"]["seq"].as_i64().expect("seq"))
        .collect();
    let stored = BEFORE + 5;
    assert_eq!(acked, (1..=stored).collect::<Vec<_>>(), "acknowledged in the order sent");
    assert_eq!(events, acked, "alice's own events, in order");
    let history = replies.last().expect("the fetch");
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(stored as usize), "{history}");
    for seq in 1..=stored {
        assert_eq!(bob.expect("new_message").await["message"]["seq"], seq);
    }
    bob.expect_nothing_pending().await;
}

pub async fn changes_of_a_chat_during_a_pipelined_burst_all_finish(backend: Backend) {
    // One connection sends a burst of appends while another edits in the same chat: an edit
    // waits for the appends before it to publish, and the appends behind it wait for the edit.
    // (Were an append published by its connection's reader, that reader, waiting for the
    // chat's line behind the edit, could never publish the append the edit waits for.)
    const BURST: i64 = 64;
    const EDITS: i64 = 20;
    let Some(server) = start(backend).await else { return };
    let (chat, mut alice, mut bob) = alice_and_bob(&server).await;
    let seq = bob.post(chat, "first", 1).await["seq"].clone();
    alice.expect("new_message").await;
    // The edits go in one write, so that they keep taking the chat's line while the burst
    // enters it.
    for id in 0..EDITS {
        let edit = json!({ "command": "edit_message", "chatId": chat, "seq": seq, "message": format!("edit {id}"), "id": 100 + id });
        bob.socket.feed(Message::text(edit.to_string())).await.expect("feed");
    }
    bob.socket.flush().await.expect("flush");
    let editing = tokio::spawn(async move {
        let mut answered = 0;
        while answered < EDITS {
            let frame = bob.recv().await;
            if frame.get("id").is_some() {
                assert_ne!(frame["command"], "error", "{frame}");
                answered += 1;
            }
        }
    });
    for id in 1..=BURST {
        let post = json!({ "command": "new_message", "chatId": chat, "message": id.to_string(), "id": id });
        alice.socket.feed(Message::text(post.to_string())).await.expect("feed");
    }
    alice.socket.flush().await.expect("flush");
    let mut acked = Vec::new();
    while acked.len() < BURST as usize {
        let frame = alice.recv().await;
        if frame["command"] == "ack" {
            acked.push(frame["id"].as_i64().expect("id"));
        }
    }
    assert_eq!(acked, (1..=BURST).collect::<Vec<_>>());
    editing.await.expect("every edit was answered");
}

pub async fn appends_in_flight_when_the_client_hangs_up_are_still_delivered(backend: Backend) {
    // A client that sends and hangs up at once: every append the server took is published,
    // none is left stored but undelivered.
    const SENT: i64 = 12;
    let Some(server) = start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let mut bob = server.connect_online(&format!("/ws?token={}", tokens[1])).await;
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    bob.expect("presence").await; // alice came online
    let mut frames: Vec<Message> = (1..=SENT)
        .map(|id| {
            let post = json!({ "command": "new_message", "chatId": chat, "message": id.to_string(), "id": id });
            Message::text(post.to_string())
        })
        .collect();
    frames.push(Message::Close(None));
    // In one write: the server reads the close while the appends still commit.
    for frame in frames {
        alice.socket.feed(frame).await.expect("feed");
    }
    alice.socket.flush().await.expect("flush");
    let mut seqs = Vec::new();
    while seqs.len() < SENT as usize {
        let frame = bob.recv().await;
        assert_eq!(frame["command"], "new_message", "{frame}");
        seqs.push(frame["message"]["seq"].as_i64().expect("seq"));
    }
    assert_eq!(seqs, (1..=SENT).collect::<Vec<_>>());
    assert_eq!(bob.expect("presence").await["online"], false, "then alice went offline");
    let fetch = json!({ "command": "fetch_messages", "chatId": chat, "limit": 100 });
    let history = bob.request(fetch, 1).await;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(SENT as usize));
}

pub async fn receipts_typing_edits_and_deletes_reach_participants(backend: Backend) {
    let Some(server) = start(backend).await else { return };
    let (chat, mut alice, mut bob) = alice_and_bob(&server).await;
    alice.send(json!({ "command": "new_message", "chatId": chat, "message": "tpyo" })).await;
    alice.expect("new_message").await;
    bob.expect("new_message").await;

    alice.send(json!({ "command": "typing", "chatId": chat })).await;
    assert_eq!(
        bob.expect("typing").await,
        json!({ "command": "typing", "chatId": chat, "username": "alice" })
    );
    alice.expect("typing").await;

    bob.send(json!({ "command": "read", "chatId": chat, "seq": 1, "id": 1 })).await;
    assert_eq!(
        bob.expect("read").await,
        json!({ "command": "read", "chatId": chat, "username": "bob", "seq": 1 })
    );
    assert_eq!(bob.expect("ok").await["id"], 1);
    assert_eq!(alice.expect("read").await["seq"], 1);

    alice
        .send(json!({ "command": "edit_message", "chatId": chat, "seq": 1, "message": "typo" }))
        .await;
    let edited = bob.expect("message_edited").await;
    assert_eq!(edited["message"]["content"], "typo");
    assert!(edited["message"]["editedAt"].is_string());
    alice.expect("message_edited").await;
    let refused = bob
        .request(
            json!({ "command": "edit_message", "chatId": chat, "seq": 1, "message": "mine" }),
            2,
        )
        .await;
    assert_eq!(refused["code"], "forbidden", "only the author edits");

    alice.send(json!({ "command": "delete_message", "chatId": chat, "seq": 1 })).await;
    let deleted = bob.expect("message_deleted").await;
    assert_eq!(deleted["event"]["kind"], "delete", "{deleted}");
    assert_eq!(deleted["event"]["target"], 1, "{deleted}");
    assert_eq!(
        json!({ "command": deleted["command"], "chatId": deleted["chatId"], "seq": deleted["seq"] }),
        json!({ "command": "message_deleted", "chatId": chat, "seq": 1 })
    );
    alice.expect("message_deleted").await;
    drop(bob);
    let presence = alice.expect("presence").await;
    assert_eq!(presence, json!({ "command": "presence", "username": "bob", "online": false }));
}

pub async fn a_new_connection_learns_who_is_online_and_how_far_each_has_read(backend: Backend) {
    let Some(server) = start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let carol = server.user("carol").await;
    let v2 = |token: &str| format!("/ws?token={token}&protocol=2");
    let mut alice = server.connect(&v2(&tokens[0])).await;
    assert_eq!(alice.recv_any().await, json!({ "command": "online", "usernames": [] }));
    let mut carol = server.connect(&v2(&carol)).await;
    assert_eq!(carol.recv_any().await, json!({ "command": "online", "usernames": [] }), "no chat");

    // Authenticating by command: the reply, then the snapshot.
    let mut bob = server.connect("/ws").await;
    let auth = json!({ "command": "auth", "token": tokens[1], "protocol": 2, "id": 1 });
    assert_eq!(bob.request(auth, 1).await["command"], "authenticated");
    assert_eq!(bob.recv_any().await, json!({ "command": "online", "usernames": ["alice"] }));
    assert_eq!(
        alice.recv_any().await,
        json!({ "command": "presence", "username": "bob", "online": true })
    );
    // Version 1 and chat-bound connections get no snapshot: the next frame answers a ping.
    for path in [
        format!("/ws?token={}", tokens[0]),
        format!("/ws/chat/{chat}?token={}&protocol=2", tokens[0]),
    ] {
        let mut other = server.connect(&path).await;
        other.send(json!({ "command": "ping", "id": "p" })).await;
        assert_eq!(other.recv_any().await, json!({ "command": "pong", "id": "p" }), "{path}");
    }

    alice.post(chat, "one", 1).await;
    alice.post(chat, "two", 2).await;
    bob.expect("new_message").await;
    bob.expect("new_message").await;
    bob.send(json!({ "command": "read", "chatId": chat, "seq": 2, "id": 3 })).await;
    bob.expect("read").await;
    assert_eq!(bob.expect("ok").await["id"], 3);
    let positions =
        bob.request(json!({ "command": "get_read_positions", "chatId": chat }), 4).await;
    assert_eq!(
        positions,
        json!({
            "command": "read_positions", "id": 4, "chatId": chat,
            "positions": [{ "username": "alice", "seq": 0 }, { "username": "bob", "seq": 2 }],
        })
    );
    let refused =
        carol.request(json!({ "command": "get_read_positions", "chatId": chat }), 5).await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    let missing =
        carol.request(json!({ "command": "get_read_positions", "chatId": 9_999 }), 6).await;
    assert_eq!(missing["code"], "not_found", "{missing}");
}

/// The hub keeps an online user's chat partners: a chat made or deleted while the user is
/// online changes whom the user's next connection is told about, and who hears the user's
/// presence.
pub async fn presence_follows_chats_made_and_deleted_while_online(backend: Backend) {
    let Some(server) = start(backend).await else { return };
    let alice = server.user("alice").await;
    let carol = server.user("carol").await;
    let v2 = |token: &str| format!("/ws?token={token}&protocol=2");
    let online = |names: &[&str]| json!({ "command": "online", "usernames": names });
    let presence = |on: bool| json!({ "command": "presence", "username": "alice", "online": on });
    let mut alice_phone = server.connect(&v2(&alice)).await;
    assert_eq!(alice_phone.recv_any().await, online(&[]), "no chat yet");
    let mut carol_phone = server.connect(&v2(&carol)).await;
    assert_eq!(carol_phone.recv_any().await, online(&[]));

    let create = json!({ "command": "create_chat", "participants": ["alice"] });
    let (created, _) = carol_phone.call(create, 1).await;
    let chat = created["chat"]["id"].as_i64().expect("chat id");
    alice_phone.expect("chat_created").await;
    let mut alice_laptop = server.connect(&v2(&alice)).await;
    assert_eq!(alice_laptop.recv_any().await, online(&["carol"]), "the new chat counts");
    drop((alice_phone, alice_laptop));
    assert_eq!(carol_phone.recv_any().await, presence(false));
    let mut alice_phone = server.connect(&v2(&alice)).await;
    assert_eq!(alice_phone.recv_any().await, online(&["carol"]));
    assert_eq!(carol_phone.recv_any().await, presence(true));

    let delete = json!({ "command": "delete_chat", "chatId": chat });
    let (deleted, _) = carol_phone.call(delete, 2).await;
    assert_eq!(deleted["command"], "ok", "{deleted}");
    alice_phone.expect("chat_deleted").await;
    let mut alice_laptop = server.connect(&v2(&alice)).await;
    assert_eq!(alice_laptop.recv_any().await, online(&[]), "the chat is gone");
    alice_laptop.expect_nothing_pending().await;
}

pub async fn resume_returns_exactly_what_was_missed(backend: Backend) {
    let Some(server) = start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let mut alice = server.connect_online(&format!("/ws?token={}", tokens[0])).await;
    let mut last_seen = 0;
    {
        let mut bob = server.connect(&format!("/ws?token={}", tokens[1])).await;
        bob.expect_nothing_pending().await;
        alice.expect("presence").await;
        alice.send(json!({ "command": "new_message", "chatId": chat, "message": "before" })).await;
        last_seen =
            last_seen.max(bob.expect("new_message").await["message"]["seq"].as_i64().expect("seq"));
    }
    alice.expect("new_message").await;
    for i in 0..150 {
        alice.post(chat, &format!("missed {i}"), i).await;
    }
    let mut bob = server.connect(&format!("/ws?token={}", tokens[1])).await;
    let mut got: Vec<Value> = Vec::new();
    let mut since = last_seen;
    loop {
        let page = bob
            .request(json!({ "command": "resume", "chatId": chat, "since": since }), since)
            .await;
        let messages = page["messages"].as_array().expect("messages").clone();
        since = messages.last().map_or(since, |m| m["seq"].as_i64().expect("seq"));
        got.extend(messages);
        if page["more"] == false {
            break;
        }
    }
    let seqs: Vec<i64> = got.iter().map(|m| m["seq"].as_i64().expect("seq")).collect();
    assert_eq!(seqs, (2..=151).collect::<Vec<_>>(), "every missed message once, in order");
    assert_eq!(got[0]["content"], "missed 0");
}

pub async fn bots_find_users_by_language(backend: Backend) {
    let Some(server) = start(backend).await else { return };
    let mut tokens = Vec::new();
    for (name, languages) in
        [("carol", json!(["Rust"])), ("alice", json!(["Go", "rust"])), ("bob", json!(["Go"]))]
    {
        let token = server.user(name).await;
        let (status, user) = server
            .http(
                "PATCH",
                &format!("/api/users/{name}/"),
                Some(&token),
                Some(&json!({ "languages": languages })),
            )
            .await;
        assert_eq!(status, 200, "{user}");
        tokens.push(token);
    }
    let bot_token = server.user("bot").await;
    let mut bot = server.connect(&format!("/ws?token={bot_token}")).await;

    let reply = bot.request(json!({ "command": "find_users", "language": "  RUST " }), 1).await;
    assert_eq!(reply["command"], "users", "{reply}");
    assert_eq!(reply["language"], "RUST", "the language as asked, trimmed");
    let names: Vec<&str> = reply["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["alice", "carol"], "exactly the Rust programmers, by username");
    // The same users, serialized exactly as the REST route does.
    let (status, rest) =
        server.http("GET", "/api/languages/Rust/users/", Some(&tokens[0]), None).await;
    assert_eq!(status, 200);
    assert_eq!(reply["users"], rest);
    assert_eq!(reply["users"][0]["languages"], json!(["Go", "Rust"]));

    // Pages: `limit` users at a time, after the last username of the previous page.
    let first =
        bot.request(json!({ "command": "find_users", "language": "go", "limit": 1 }), 20).await;
    assert_eq!(first["users"][0]["username"], "alice", "{first}");
    assert_eq!(first["users"].as_array().map(Vec::len), Some(1));
    let next = json!({ "command": "find_users", "language": "go", "limit": 1, "after": "alice" });
    let second = bot.request(next, 21).await;
    assert_eq!(second["users"][0]["username"], "bob", "{second}");
    let last = json!({ "command": "find_users", "language": "go", "limit": 1, "after": "bob" });
    assert_eq!(bot.request(last, 22).await["users"], json!([]));

    let gophers = bot.request(json!({ "command": "find_users", "language": "Go" }), 2).await;
    assert_eq!(gophers["users"].as_array().map(Vec::len), Some(2));
    let unknown = bot.request(json!({ "command": "find_users", "language": "Cobol" }), 3).await;
    assert_eq!(
        unknown,
        json!({ "command": "users", "id": 3, "language": "Cobol", "users": [] }),
        "an unknown language finds no one, as over REST"
    );

    for (id, language) in [(4, json!("   ")), (5, json!("x".repeat(65))), (6, json!(7))] {
        let refused =
            bot.request(json!({ "command": "find_users", "language": language }), id).await;
        assert_eq!(refused["code"], "invalid_field", "{refused}");
    }
    let missing = bot.request(json!({ "command": "find_users" }), 7).await;
    assert_eq!(missing["code"], "missing_field", "{missing}");
    bot.expect_nothing_pending().await;

    // Like every command but auth, login and register, it needs an authenticated connection.
    let mut anonymous = server.connect("/ws").await;
    let refused =
        anonymous.request(json!({ "command": "find_users", "language": "Rust" }), 8).await;
    assert_eq!(refused["code"], "not_authenticated", "{refused}");
}

pub async fn shutdown_closes_sockets_with_a_close_frame(backend: Backend) {
    let Some(mut server) = start(backend).await else { return };
    let token = server.user("alice").await;
    let mut alice = server.connect(&format!("/ws?token={token}")).await;
    alice.expect_nothing_pending().await;
    let stopping = tokio::spawn(async move {
        server.stop().await;
        server
    });
    assert_eq!(alice.close_code().await, Some(1001), "going away");
    let _server = stopping.await.expect("stopped");
    assert!(alice.socket.next().await.is_none_or(|m| m.is_err()), "the socket is closed");
}

pub async fn pings_keep_live_peers_and_drop_dead_ones(backend: Backend) {
    let settings = Settings { ping_interval: std::time::Duration::from_secs(1), ..test_settings() };
    let Some(server) = TestServer::start_with(backend, settings).await else { return };
    let token = server.user("alice").await;
    // A peer that reads (and so answers pings) stays connected across several intervals.
    let mut live = server.connect(&format!("/ws?token={token}")).await;
    let mut pings = 0;
    while pings < 4 {
        match live.socket.next().await.expect("open").expect("frame") {
            Message::Ping(_) => pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    live.expect_nothing_pending().await;
    // A peer that never answers: a raw socket that reads the server's frames without the
    // WebSocket machinery that would answer its pings. The server closes it with 1001.
    let mut dead = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    let upgrade = format!(
        "GET /ws?token={token} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    dead.write_all(upgrade.as_bytes()).await.expect("upgrade request");
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    // A close frame from the server: opcode 0x88, a short length, then the code 1001.
    let close_going_away = [0x88, 0x03, 0xE9];
    let closed = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let read = dead.read(&mut buffer).await.expect("read");
            received.extend_from_slice(&buffer[..read]);
            let found = received
                .windows(4)
                .any(|w| w[0] == close_going_away[0] && w[2..] == close_going_away[1..]);
            if found || read == 0 {
                return found;
            }
        }
    })
    .await
    .expect("closed within two ping intervals and some");
    assert!(closed, "a close frame with 1001 (ping timeout): {received:?}");
}

/// Alice and bob in a direct chat, both connected, alice told that bob came online (she is
/// online first, so she is told).
async fn alice_and_bob(server: &TestServer) -> (i64, Client, Client) {
    let (tokens, chat) = chat_among(server, &["alice", "bob"]).await;
    let mut alice = server.connect_online(&format!("/ws?token={}", tokens[0])).await;
    let bob = server.connect(&format!("/ws?token={}", tokens[1])).await;
    alice.expect("presence").await;
    (chat, alice, bob)
}
