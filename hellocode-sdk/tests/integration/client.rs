//! Every command over both transports, errors, tokens, positions, local echo.

use std::collections::HashMap;
use std::time::Duration;

use hellocode_core::model::UserUpdate;

use hellocode_sdk::{
    ChatId, Client, ConnectionState, Credentials, ErrorCode, Event, SendState, Seq,
    WebSocketTransport,
};

use crate::harness::{
    Kind, TestServer, fast_config, messages, next_matching, on_transports, password,
};

on_transports!(
    two_users_chat_with_every_command,
    refusals_carry_the_servers_code,
    a_token_and_saved_positions_continue_where_the_last_run_stopped,
    enqueue_reports_pending_then_sent,
    users_are_found_by_language,
    listeners_and_limits,
);

async fn users_are_found_by_language(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    for (name, languages) in [("bob", ["Rust", "Go"]), ("carol", ["Go", "Zig"])] {
        server.register(kind, name).await.close().await;
        let update = UserUpdate {
            languages: Some(languages.map(str::to_owned).to_vec()),
            ..UserUpdate::default()
        };
        server.storage.update_user(name, update).await.expect("profile");
    }
    let names = |users: Vec<hellocode_sdk::User>| -> Vec<String> {
        users.into_iter().map(|user| user.username).collect()
    };
    assert_eq!(names(alice.find_users("go").await.expect("found")), ["bob", "carol"]);
    assert_eq!(names(alice.find_users("Rust").await.expect("found")), ["bob"]);
    assert!(alice.find_users("Cobol").await.expect("none").is_empty());
    let invalid = alice.find_users("  ").await.expect_err("blank");
    assert_eq!(invalid.code(), "invalid_field");
    server.stop().await;
}

async fn two_users_chat_with_every_command(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    assert_eq!((alice.username(), bob.username()), ("alice", "bob"));
    assert!(matches!(alice.state(), ConnectionState::Connected { .. }));
    let mut alice_events = alice.events();
    let mut bob_events = bob.events();
    let online = |event| match event {
        Event::Online { usernames } => Some(usernames),
        _ => None,
    };
    // Each connection is told who of its chat partners is online: no one shares a chat yet.
    assert!(next_matching(&mut alice_events, online).await.is_empty());
    assert!(next_matching(&mut bob_events, online).await.is_empty());

    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat created");
    let created = next_matching(&mut bob_events, |event| match event {
        Event::ChatCreated(chat) => Some(chat),
        _ => None,
    })
    .await;
    assert_eq!(created.id, chat.id);

    let first = alice.send(chat.id, "hello bob").await.expect("sent");
    let second = bob.send(chat.id, "hi alice").await.expect("sent");
    assert_eq!((first.seq, second.seq), (Seq(1), Seq(2)));
    for events in [&mut alice_events, &mut bob_events] {
        let got = messages(events, 2).await;
        let texts: Vec<&str> = got.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["hello bob", "hi alice"]);
    }

    let page = bob.fetch_messages(chat.id, None, Some(10)).await.expect("history");
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [Seq(2), Seq(1)]);
    let older = bob.fetch_messages(chat.id, Some(Seq(2)), None).await.expect("older page");
    assert_eq!(older.iter().map(|m| m.seq).collect::<Vec<_>>(), [Seq(1)]);
    let chats = bob.list_chats().await.expect("chats");
    assert_eq!(chats.iter().map(|c| c.id).collect::<Vec<_>>(), [chat.id]);

    bob.typing(chat.id).await.expect("typing");
    let typing = next_matching(&mut alice_events, |event| match event {
        Event::Typing { chat_id, username } => Some((chat_id, username)),
        _ => None,
    })
    .await;
    assert_eq!(typing, (chat.id, "bob".to_owned()));

    bob.mark_read(chat.id, Seq(2)).await.expect("read");
    let read = next_matching(&mut alice_events, |event| match event {
        Event::Read { username, seq, .. } => Some((username, seq)),
        _ => None,
    })
    .await;
    assert_eq!(read, ("bob".to_owned(), Seq(2)));
    let positions = alice.read_positions(chat.id).await.expect("read positions");
    let positions: Vec<(&str, Seq)> =
        positions.iter().map(|p| (p.username.as_str(), p.seq)).collect();
    assert_eq!(positions, [("alice", Seq(0)), ("bob", Seq(2))]);
    let unknown = alice.read_positions(ChatId(9_999)).await.expect_err("no such chat");
    assert_eq!(unknown.code(), "not_found");

    let edited = alice.edit_message(chat.id, Seq(1), "hello, bob").await.expect("edited");
    assert_eq!(edited.content, "hello, bob");
    let seen = next_matching(&mut bob_events, |event| match event {
        Event::Edited(message) => Some(message),
        _ => None,
    })
    .await;
    assert_eq!((seen.seq, seen.content.as_str()), (Seq(1), "hello, bob"));

    alice.delete_message(chat.id, Seq(1)).await.expect("deleted");
    let deleted = next_matching(&mut bob_events, |event| match event {
        Event::Deleted { chat_id, seq } => Some((chat_id, seq)),
        _ => None,
    })
    .await;
    assert_eq!(deleted, (chat.id, Seq(1)));

    alice.ping().await.expect("pong");
    bob.close().await;
    let presence = next_matching(&mut alice_events, |event| match event {
        Event::Presence { username, online } => Some((username, online)),
        _ => None,
    })
    .await;
    assert_eq!(presence, ("bob".to_owned(), false));
    // Back again: bob is told alice is online, alice that bob is.
    let again = server.connect_with(kind, password("bob"), fast_config()).await;
    let mut again_events = again.events();
    assert_eq!(next_matching(&mut again_events, online).await, ["alice"]);
    let presence = next_matching(&mut alice_events, |event| match event {
        Event::Presence { username, online } => Some((username, online)),
        _ => None,
    })
    .await;
    assert_eq!(presence, ("bob".to_owned(), true));
    again.close().await;
    let closed = next_matching(&mut bob_events, |event| match event {
        Event::Connection(ConnectionState::Closed { error }) => Some(error),
        _ => None,
    })
    .await;
    assert_eq!(closed, None, "closed by the application, not by an error");
    assert!(bob_events.recv().await.is_none(), "the stream ends after Closed");
    let refused = bob.list_chats().await.expect_err("closed");
    assert_eq!(refused.code(), "closed");
    alice.close().await;
    server.stop().await;
}

async fn refusals_carry_the_servers_code(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    let _carol = server.register(kind, "carol").await;
    let chat = alice.create_chat(vec!["carol".into()]).await.expect("chat");
    let mut bob_events = bob.events();

    let refused = bob.send(chat.id, "let me in").await.expect_err("bob is not in the chat");
    assert_eq!(refused.server_code(), Some(ErrorCode::Forbidden));
    assert_eq!(refused.code(), "forbidden");
    let failed = next_matching(&mut bob_events, |event| match event {
        Event::Send(update) => match update.state {
            SendState::Failed(error) => Some(error),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(failed.code(), "forbidden");
    let missing = bob.fetch_messages(ChatId(9_999), None, None).await.expect_err("no such chat");
    assert_eq!(missing.code(), "not_found");
    let unknown = bob.create_chat(vec!["nobody".into()]).await.expect_err("unknown user");
    assert_eq!(unknown.code(), "not_found");
    assert!(server.stored(chat.id, "alice").await.is_empty(), "nothing stored");

    let wrong =
        Client::connect(server.transport(kind), Credentials::password("alice", "not her password"))
            .await
            .expect_err("wrong password");
    assert_eq!(wrong.code(), "invalid_credentials");
    let taken = Client::connect(
        server.transport(kind),
        Credentials::register("alice", "other@example.org", "another pass phrase"),
    )
    .await
    .expect_err("name taken");
    assert_eq!(taken.code(), "username_taken");
    let forged = Client::connect(server.transport(kind), Credentials::token("x.y.z"))
        .await
        .expect_err("forged token");
    assert_eq!(forged.code(), "invalid_token");
    server.stop().await;
}

async fn a_token_and_saved_positions_continue_where_the_last_run_stopped(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    let token = bob.token().expect("registration issued a token");
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    let mut bob_events = bob.events();
    alice.send(chat.id, "one").await.expect("sent");
    assert_eq!(messages(&mut bob_events, 1).await[0].content, "one");
    let saved = bob.positions().await.expect("positions");
    assert_eq!(saved, HashMap::from([(chat.id, Seq(1))]));
    bob.close().await;

    for text in ["two", "three", "four"] {
        alice.send(chat.id, text).await.expect("sent");
    }
    let mut config = fast_config();
    config.start_positions = saved;
    let bob = server.connect_with(kind, Credentials::token(token), config).await;
    let mut bob_events = bob.events();
    let missed: Vec<String> =
        messages(&mut bob_events, 3).await.into_iter().map(|m| m.content).collect();
    assert_eq!(missed, ["two", "three", "four"]);

    // Without saved positions a chat starts at its newest message.
    let again = server.connect_with(kind, password("bob"), fast_config()).await;
    let mut again_events = again.events();
    alice.send(chat.id, "five").await.expect("sent");
    let got = messages(&mut again_events, 1).await;
    assert_eq!((got[0].seq, got[0].content.as_str()), (Seq(5), "five"));
    // "five" is also the marker for the resumed client: nothing came twice before it.
    assert_eq!(messages(&mut bob_events, 1).await[0].content, "five");
    server.stop().await;
}

async fn listeners_and_limits(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    let mut bob_events = bob.events();
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    let (seen, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let listener = alice.add_listener(move |event| {
        if let Event::Message(message) = event {
            let _ = seen.send(message.content);
        }
    });
    alice.send(chat.id, "for the listener").await.expect("sent");
    assert_eq!(heard.recv().await.as_deref(), Some("for the listener"));
    listener.remove();
    alice.send(chat.id, "after removal").await.expect("sent");
    assert_eq!(heard.recv().await, None, "the removed listener's channel closes");

    let long = "x".repeat(hellocode_sdk::MAX_MESSAGE_CHARS + 1);
    let refused = alice.enqueue(chat.id, long).expect_err("too long");
    assert_eq!(refused.code(), "invalid_argument");
    let refused = alice.enqueue_with_client_id(chat.id, "hi", "").expect_err("empty id");
    assert_eq!(refused.code(), "invalid_argument");

    // Dropping the last handle flushes what is queued.
    alice.enqueue(chat.id, "sent on drop").expect("queued");
    drop(alice);
    let flushed = next_matching(&mut bob_events, |event| match event {
        Event::Message(message) if message.content == "sent on drop" => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(flushed.author, "alice");
    server.stop().await;
}

async fn enqueue_reports_pending_then_sent(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    server.register(kind, "bob").await.close().await;
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    let mut events = alice.events();
    let pending = alice.enqueue(chat.id, "draft").expect("queued");
    let first = next_matching(&mut events, |event| match event {
        Event::Send(update) => Some(update),
        _ => None,
    })
    .await;
    assert_eq!(
        (first.client_id.as_str(), &first.state),
        (pending.client_id.as_str(), &SendState::Pending)
    );
    let second = next_matching(&mut events, |event| match event {
        Event::Send(update) => Some(update),
        _ => None,
    })
    .await;
    let SendState::Sent(message) = second.state else { panic!("expected sent, got {second:?}") };
    assert_eq!(message.client_id.as_deref(), Some(pending.client_id.as_str()));
    assert_eq!(message.content, "draft");
    assert!(alice.pending_sends().await.expect("snapshot").is_empty());

    // A client id of the application's own: enqueued twice, stored once.
    alice.enqueue_with_client_id(chat.id, "once", "app-key-1").expect("queued");
    alice.enqueue_with_client_id(chat.id, "once", "app-key-1").expect("queued");
    alice.send(chat.id, "after").await.expect("sent");
    let stored = server.stored(chat.id, "alice").await;
    let texts: Vec<&str> = stored.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["draft", "once", "after"]);
    server.stop().await;
}

#[tokio::test]
async fn bad_urls_are_refused_before_connecting() {
    for url in ["http://example.org", "example.org", "ws://", "wss:///ws"] {
        let error = WebSocketTransport::new(url).expect_err(url);
        assert_eq!(error.code(), "invalid_url", "{url}");
    }
    let transport = WebSocketTransport::new("ws://127.0.0.1:1/ws").expect("valid url");
    let error = Client::connect(transport, password("alice")).await.expect_err("nothing listens");
    assert_eq!(error.code(), "transport");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_refuses_in_process_connections() {
    let server = TestServer::start().await;
    let transport = server.transport(Kind::InProcess);
    server.stop().await;
    let error = Client::connect(transport, password("alice")).await.expect_err("stopped");
    assert_eq!(error.code(), "transport");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_concurrent_requests_do_not_wedge_the_connection() {
    // More replies than the in-process channel and the server's send queue hold together: a
    // client that wrote them all before reading would wait on a server waiting on it.
    let settings = hellocode_server::Settings {
        rate_per_second: 1_000_000,
        rate_burst: 1_000_000,
        ..hellocode_server::Settings::without_abuse_limits()
    };
    let server = TestServer::start_with(settings).await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let pings: Vec<_> = (0..3_000).map(|_| tokio::spawn(alice.ping())).collect();
    let answered = tokio::time::timeout(Duration::from_secs(60), async {
        let mut answered = 0;
        for ping in pings {
            ping.await.expect("no panic").expect("pong");
            answered += 1;
        }
        answered
    })
    .await
    .expect("every ping answered");
    assert_eq!(answered, 3_000);
    server.stop().await;
}
