//! Groups against a real server: roles, removal, leaving with a handover, deletion, and a chat's
//! events resumed after a reconnect in one sequence with its posts.

use hellocode_sdk::{
    Chat, ChatId, ChatKind, Client, ConnectionState, Error, Event, EventKind, Events, Message,
    Role, WebSocketTransport,
};

use crate::harness::{
    Kind, TestServer, commands_received, fast_config, next_matching, next_told, on_transports,
    password,
};
use crate::proxy::Proxy;

on_transports!(
    roles_decide_who_may_change_a_group,
    leaving_hands_ownership_over_and_the_leaver_forgets_the_chat,
    a_deleted_chat_is_told_to_everyone_in_it,
);

fn code<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
    result.expect_err("the server refuses").code()
}

fn names(chat: &Chat) -> Vec<(&str, Option<Role>)> {
    chat.participants.iter().map(|p| (p.username.as_str(), p.role)).collect()
}

/// The next chat item (a post or an event), skipping everything else.
async fn next_item(events: &mut Events) -> Message {
    next_matching(events, |event| match event {
        Event::Message(item) | Event::ChatEvent(item) => Some(item),
        _ => None,
    })
    .await
}

/// `kind`, `member` and `author` of an event, for compact assertions.
fn what(item: &Message) -> (EventKind, Option<&str>, &str) {
    (item.kind, item.member.as_deref(), item.author.as_str())
}

async fn roles_decide_who_may_change_a_group(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    let carol = server.register(kind, "carol").await;
    server.register(kind, "dave").await.close().await;
    let mut carol_events = carol.events();

    let group =
        alice.create_group("Crabs", vec!["bob".into(), "carol".into()]).await.expect("group");
    assert_eq!(group.kind, ChatKind::Group);
    assert_eq!(group.name.as_deref(), Some("Crabs"));
    assert_eq!(
        names(&group),
        [("alice", Some(Role::Owner)), ("bob", Some(Role::Member)), ("carol", Some(Role::Member))]
    );
    let created = next_matching(&mut carol_events, |event| match event {
        Event::ChatCreated(chat) => Some(chat),
        _ => None,
    })
    .await;
    assert_eq!(created.id, group.id);

    // The owner makes bob an admin; everyone sees the role event, then the chat as it is.
    let changed = alice.set_role(group.id, "bob", Role::Admin).await.expect("admin");
    assert_eq!(changed.role_of("bob"), Some(Role::Admin));
    let role = next_item(&mut carol_events).await;
    assert_eq!(what(&role), (EventKind::Role, Some("bob"), "alice"));
    assert_eq!((role.role, role.seq.0), (Some(Role::Admin), 1));
    match next_told(&mut carol_events).await {
        Event::ChatChanged(chat) => assert_eq!(chat.role_of("bob"), Some(Role::Admin)),
        other => panic!("expected the changed chat, got {other:?}"),
    }

    // An admin adds and renames; a plain member may do neither.
    assert_eq!(code(carol.add_participants(group.id, vec!["dave".into()]).await), "forbidden");
    let grown = bob.add_participants(group.id, vec!["dave".into()]).await.expect("added");
    assert!(grown.has_participant("dave"));
    assert_eq!(code(carol.remove_participant(group.id, "dave").await), "forbidden");
    assert_eq!(code(carol.update_chat(group.id, Some("Mine".into()), None).await), "forbidden");
    assert_eq!(code(bob.set_role(group.id, "carol", Role::Admin).await), "forbidden");
    assert_eq!(code(bob.delete_chat(group.id).await), "forbidden");
    let join = next_item(&mut carol_events).await;
    assert_eq!(what(&join), (EventKind::Join, Some("dave"), "bob"));
    let renamed = bob
        .update_chat(group.id, Some("Ferris fans".into()), Some("all things Rust".into()))
        .await
        .expect("renamed");
    assert_eq!(
        (renamed.name.as_deref(), renamed.topic.as_deref()),
        (Some("Ferris fans"), Some("all things Rust"))
    );
    let (rename, topic) = (next_item(&mut carol_events).await, next_item(&mut carol_events).await);
    assert_eq!((rename.kind, rename.content.as_str()), (EventKind::Rename, "Ferris fans"));
    assert_eq!((topic.kind, topic.content.as_str()), (EventKind::Topic, "all things Rust"));
    // An empty string clears; `None` leaves alone.
    let cleared = alice.update_chat(group.id, None, Some(String::new())).await.expect("cleared");
    assert_eq!((cleared.name.as_deref(), cleared.topic.as_deref()), (Some("Ferris fans"), None));
    let fetched = carol.get_chat(group.id).await.expect("get_chat");
    assert_eq!(fetched, cleared);

    // An admin does not remove another admin; the owner removes anyone.
    alice.set_role(group.id, "dave", Role::Admin).await.expect("admin");
    assert_eq!(code(bob.remove_participant(group.id, "dave").await), "forbidden");
    assert_eq!(code(alice.remove_participant(group.id, "nobody").await), "not_found");
    let after = alice.remove_participant(group.id, "dave").await.expect("removed");
    assert!(!after.has_participant("dave"));

    // Direct chats have no roles, names or further members.
    let direct = alice.create_chat(vec!["carol".into()]).await.expect("direct");
    assert_eq!(direct.kind, ChatKind::Direct);
    assert_eq!(direct.role_of("alice"), None);
    assert_eq!(code(alice.set_role(direct.id, "carol", Role::Admin).await), "invalid_field");
    assert_eq!(code(alice.update_chat(direct.id, Some("x".into()), None).await), "invalid_field");
    assert_eq!(code(alice.get_chat(ChatId(9_999)).await), "not_found");
    for client in [alice, bob, carol] {
        client.close().await;
    }
    server.stop().await;
}

async fn leaving_hands_ownership_over_and_the_leaver_forgets_the_chat(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    let carol = server.register(kind, "carol").await;
    let mut alice_events = alice.events();
    let mut carol_events = carol.events();
    let group =
        alice.create_group("Crabs", vec!["bob".into(), "carol".into()]).await.expect("group");
    alice.set_role(group.id, "carol", Role::Admin).await.expect("admin");
    bob.send(group.id, "hello").await.expect("sent");
    for events in [&mut alice_events, &mut carol_events] {
        assert_eq!(next_item(events).await.kind, EventKind::Role);
        assert_eq!(next_item(events).await.content, "hello");
    }

    // The owner leaves: the oldest admin (carol, not bob who joined as early) owns it now.
    alice.leave_chat(group.id).await.expect("left");
    for events in [&mut alice_events, &mut carol_events] {
        let leave = next_item(events).await;
        let handover = next_item(events).await;
        assert_eq!(what(&leave), (EventKind::Leave, Some("alice"), "alice"));
        assert_eq!(what(&handover), (EventKind::Role, Some("carol"), "alice"));
        assert_eq!(handover.role, Some(Role::Owner));
    }
    match next_told(&mut carol_events).await {
        Event::ChatChanged(chat) => {
            assert_eq!(names(&chat), [("bob", Some(Role::Member)), ("carol", Some(Role::Owner))]);
        }
        other => panic!("expected the changed chat, got {other:?}"),
    }

    // Alice's client forgot the chat; she can neither read nor leave it again.
    assert!(!alice.positions().await.expect("positions").contains_key(&group.id));
    assert_eq!(code(alice.get_chat(group.id).await), "forbidden");
    assert_eq!(code(alice.leave_chat(group.id).await), "forbidden");
    // The new owner gives ownership to bob: she becomes an admin.
    let handed = carol.set_role(group.id, "bob", Role::Owner).await.expect("handover");
    assert_eq!(names(&handed), [("bob", Some(Role::Owner)), ("carol", Some(Role::Admin))]);
    for client in [alice, bob, carol] {
        client.close().await;
    }
    server.stop().await;
}

async fn a_deleted_chat_is_told_to_everyone_in_it(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    let mut bob_events = bob.events();
    let group = alice.create_group("Short-lived", vec!["bob".into()]).await.expect("group");
    alice.send(group.id, "bye soon").await.expect("sent");
    assert_eq!(next_item(&mut bob_events).await.content, "bye soon");
    alice.delete_chat(group.id).await.expect("deleted");
    let (chat_id, by) = next_matching(&mut bob_events, |event| match event {
        Event::ChatDeleted { chat_id, by } => Some((chat_id, by)),
        _ => None,
    })
    .await;
    assert_eq!((chat_id, by.as_str()), (group.id, "alice"));
    assert!(!bob.positions().await.expect("positions").contains_key(&group.id));
    assert_eq!(code(bob.fetch_messages(group.id, None, None).await), "not_found");

    // Either member deletes a direct chat.
    let direct = alice.create_chat(vec!["bob".into()]).await.expect("direct");
    bob.delete_chat(direct.id).await.expect("deleted by bob");
    assert_eq!(code(alice.get_chat(direct.id).await), "not_found");
    alice.close().await;
    bob.close().await;
    server.stop().await;
}

async fn via_proxy(proxy: &Proxy, name: &str) -> Client {
    let transport = WebSocketTransport::new(&proxy.ws_url()).expect("url");
    Client::connect_with(transport, password(name), fast_config()).await.expect("connects")
}

async fn wait_for_state(events: &mut Events, want: fn(&ConnectionState) -> bool) {
    next_matching(events, |event| match event {
        Event::Connection(state) if want(&state) => Some(()),
        _ => None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_gets_the_removal_then_nothing_more_of_the_chat() {
    let server = TestServer::start().await;
    let alice = server.register(Kind::WebSocket, "alice").await;
    server.register(Kind::WebSocket, "carol").await.close().await;
    let proxy = Proxy::start(server.addr()).await;
    let carol = via_proxy(&proxy, "carol").await;
    let mut carol_events = carol.events();
    let group = alice.create_group("Crabs", vec!["carol".into()]).await.expect("group");
    let direct = alice.create_chat(vec!["carol".into()]).await.expect("direct");
    alice.send(group.id, "one").await.expect("sent");
    assert_eq!(next_item(&mut carol_events).await.content, "one");

    alice.remove_participant(group.id, "carol").await.expect("removed");
    let removal = next_item(&mut carol_events).await;
    assert_eq!(what(&removal), (EventKind::Remove, Some("carol"), "alice"));
    match next_told(&mut carol_events).await {
        Event::ChatChanged(chat) => assert!(!chat.has_participant("carol")),
        other => panic!("expected the changed chat, got {other:?}"),
    }
    assert!(!carol.positions().await.expect("positions").contains_key(&group.id));
    assert_eq!(code(carol.send(group.id, "still here?").await), "forbidden");

    // Nothing more of the group: the next item carol gets is the marker in the direct chat.
    alice.send(group.id, "after carol").await.expect("sent");
    alice.send(direct.id, "marker").await.expect("sent");
    let next = next_item(&mut carol_events).await;
    assert_eq!((next.chat_id, next.content.as_str()), (direct.id, "marker"));

    // Away and back: the direct chat is resumed, the group is not (no `forbidden` resume).
    proxy.set_down(true);
    wait_for_state(&mut carol_events, |s| matches!(s, ConnectionState::Reconnecting { .. })).await;
    alice.send(direct.id, "while you were away").await.expect("sent");
    let resumes = commands_received(&server, "resume").await;
    proxy.set_down(false);
    assert_eq!(next_item(&mut carol_events).await.content, "while you were away");
    alice.send(direct.id, "second marker").await.expect("sent");
    assert_eq!(next_item(&mut carol_events).await.content, "second marker");
    assert_eq!(commands_received(&server, "resume").await - resumes, 1, "the direct chat only");
    let positions = carol.positions().await.expect("positions");
    assert_eq!(positions.keys().collect::<Vec<_>>(), [&direct.id]);
    alice.close().await;
    carol.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_deletions_and_joins_missed_while_away_are_resumed_in_order() {
    let server = TestServer::start().await;
    let alice = server.register(Kind::WebSocket, "alice").await;
    server.register(Kind::WebSocket, "bob").await.close().await;
    server.register(Kind::WebSocket, "dave").await.close().await;
    let proxy = Proxy::start(server.addr()).await;
    let bob = via_proxy(&proxy, "bob").await;
    let mut bob_events = bob.events();
    let group = alice.create_group("Crabs", vec!["bob".into()]).await.expect("group");
    let first = alice.send(group.id, "helo").await.expect("sent");
    let second = alice.send(group.id, "oops").await.expect("sent");
    assert_eq!(next_item(&mut bob_events).await.seq, first.seq);
    assert_eq!(next_item(&mut bob_events).await.seq, second.seq);

    proxy.set_down(true);
    wait_for_state(&mut bob_events, |s| matches!(s, ConnectionState::Reconnecting { .. })).await;
    alice.edit_message(group.id, first.seq, "hello").await.expect("edited");
    alice.delete_message(group.id, second.seq).await.expect("deleted");
    alice.add_participants(group.id, vec!["dave".into()]).await.expect("added");
    alice.update_chat(group.id, Some("Ferris fans".into()), None).await.expect("renamed");
    let after = alice.send(group.id, "welcome dave").await.expect("sent");
    proxy.set_down(false);

    // Everything missed, once, in sequence order: the events as `ChatEvent`s between posts.
    let mut got = Vec::new();
    while got.last().is_none_or(|item: &Message| item.seq < after.seq) {
        got.push(next_item(&mut bob_events).await);
    }
    let seqs: Vec<i64> = got.iter().map(|item| item.seq.0).collect();
    assert_eq!(seqs, (3..=7).collect::<Vec<_>>());
    let kinds: Vec<EventKind> = got.iter().map(|item| item.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Edit,
            EventKind::Delete,
            EventKind::Join,
            EventKind::Rename,
            EventKind::Message
        ]
    );
    assert_eq!((got[0].target, got[0].content.as_str()), (Some(first.seq), "hello"));
    assert_eq!(got[1].target, Some(second.seq));
    assert_eq!(got[2].member.as_deref(), Some("dave"));
    assert_eq!(got[3].content, "Ferris fans");
    // The live conveniences are for live changes only: none of them came for these.
    alice.send(group.id, "marker").await.expect("sent");
    let next = next_told(&mut bob_events).await;
    assert!(
        matches!(&next, Event::Message(m) if m.content == "marker"),
        "nothing between the resumed items and the marker: {next:?}"
    );
    // Live now: the event, then the convenience.
    alice.edit_message(group.id, after.seq, "welcome, dave").await.expect("edited");
    let edit = next_told(&mut bob_events).await;
    assert!(
        matches!(&edit, Event::ChatEvent(e) if e.kind == EventKind::Edit && e.target == Some(after.seq))
    );
    let edited = next_told(&mut bob_events).await;
    assert!(matches!(&edited, Event::Edited(m) if m.content == "welcome, dave"), "{edited:?}");
    alice.close().await;
    bob.close().await;
    server.stop().await;
}
