//! Adding participants, get-or-create chats, and history as a stream, over both transports.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use hellocode_core::model::{NewMessage, Timestamp};
use hellocode_sdk::{ChatId, ChatKind, Error, Event, Seq};

use crate::harness::{Kind, TestServer, commands_received, messages, next_matching, on_transports};

on_transports!(
    added_participants_learn_of_the_chat_and_read_it,
    chat_with_returns_the_same_chat_for_the_same_people,
    history_walks_every_page_newest_first,
);

fn code<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
    result.expect_err("the server refuses").code()
}

async fn added_participants_learn_of_the_chat_and_read_it(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    let carol = server.register(kind, "carol").await;
    let mallory = server.register(kind, "mallory").await;
    let mut carol_events = carol.events();

    // A direct chat's two members never change: people are added to a group.
    let direct = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    assert_eq!(
        code(alice.add_participants(direct.id, vec!["carol".into()]).await),
        "invalid_field"
    );
    let chat = alice.create_group("Crabs", vec!["bob".into()]).await.expect("group");
    alice.send(chat.id, "before carol").await.expect("sent");

    let grown =
        alice.add_participants(chat.id, vec!["carol".into(), "bob".into()]).await.expect("added");
    let names: Vec<&str> = grown.participants.iter().map(|p| p.username.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let created = next_matching(&mut carol_events, |event| match event {
        Event::ChatCreated(chat) => Some(chat),
        _ => None,
    })
    .await;
    assert_eq!(created.id, chat.id);
    // Carol gets the chat's items from its start (her own joining among them), then its new
    // ones.
    let earlier = messages(&mut carol_events, 1).await;
    assert_eq!(earlier[0].content, "before carol");
    bob.send(chat.id, "welcome carol").await.expect("sent");
    assert_eq!(messages(&mut carol_events, 1).await[0].content, "welcome carol");
    assert_eq!(carol.fetch_messages(chat.id, None, None).await.expect("history").len(), 2);

    assert_eq!(code(mallory.add_participants(chat.id, vec!["mallory".into()]).await), "forbidden");
    // A plain member does not add people.
    assert_eq!(code(bob.add_participants(chat.id, vec!["mallory".into()]).await), "forbidden");
    assert_eq!(code(alice.add_participants(chat.id, vec!["nobody".into()]).await), "not_found");
    assert_eq!(code(alice.add_participants(ChatId(9_999), vec!["bob".into()]).await), "not_found");
    assert_eq!(code(alice.add_participants(chat.id, Vec::new()).await), "invalid_field");
    for client in [alice, bob, carol, mallory] {
        client.close().await;
    }
    server.stop().await;
}

async fn chat_with_returns_the_same_chat_for_the_same_people(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    server.register(kind, "carol").await.close().await;

    // A bigger chat that includes bob does not count as "the chat with bob", nor does a group
    // of just the two of them.
    alice.create_chat(vec!["bob".into(), "carol".into()]).await.expect("group");
    let pair = alice.create_group("Just us", vec!["bob".into()]).await.expect("group of two");
    let with_bob = alice.chat_with(vec!["bob".into()]).await.expect("created");
    let names: Vec<&str> = with_bob.participants.iter().map(|p| p.username.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_ne!(with_bob.id, pair.id);
    assert_eq!(with_bob.kind, ChatKind::Direct);
    assert_eq!(alice.chat_with(vec!["bob".into()]).await.expect("found").id, with_bob.id);
    // Naming oneself changes nothing, and bob finds the same chat from his side.
    assert_eq!(
        alice.chat_with(vec!["bob".into(), "alice".into()]).await.expect("found").id,
        with_bob.id
    );
    assert_eq!(bob.chat_with(vec!["alice".into()]).await.expect("found").id, with_bob.id);
    let with_carol = alice.chat_with(vec!["carol".into()]).await.expect("created");
    assert_ne!(with_carol.id, with_bob.id);
    // If there are several, the oldest.
    alice.create_chat(vec!["bob".into()]).await.expect("a second chat with bob");
    assert_eq!(alice.chat_with(vec!["bob".into()]).await.expect("found").id, with_bob.id);
    assert_eq!(code(alice.chat_with(Vec::new()).await), "invalid_field");
    assert_eq!(code(alice.chat_with(vec!["nobody".into()]).await), "not_found");
    alice.close().await;
    bob.close().await;
    server.stop().await;
}

async fn history_walks_every_page_newest_first(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    server.register(kind, "bob").await.close().await;
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    for n in 1..=250 {
        let message = NewMessage {
            chat_id: chat.id,
            author: if n % 2 == 0 { "alice".into() } else { "bob".into() },
            content: format!("message {n}"),
            client_id: None,
            timestamp: Timestamp::now(),
            attachments: Vec::new(),
        };
        server.storage.append_message(message).await.expect("stored");
    }
    let before = commands_received(&server, "fetch_messages").await;

    let mut history = alice.history(chat.id);
    let first: Vec<_> = (&mut history).take(100).try_collect().await.expect("first page");
    assert_eq!(commands_received(&server, "fetch_messages").await - before, 1, "lazily");
    let rest: Vec<_> = history.try_collect().await.expect("the rest");
    let seqs: Vec<i64> = first.iter().chain(&rest).map(|m| m.seq.0).collect();
    assert_eq!(seqs, (1..=250).rev().collect::<Vec<_>>(), "newest first, each once");
    assert_eq!(rest.last().map(|m| m.content.as_str()), Some("message 1"));
    assert_eq!(commands_received(&server, "fetch_messages").await - before, 3, "three pages");

    let older: Vec<_> = alice.history_before(chat.id, Seq(120)).try_collect().await.expect("older");
    assert_eq!(older.first().map(|m| m.seq), Some(Seq(119)));
    assert_eq!(older.len(), 119);
    let none = alice.history_before(chat.id, Seq(1)).next().await;
    assert!(none.is_none(), "nothing before the first message, and no request");

    // An outsider's stream yields the refusal, then ends.
    let mallory = server.register(kind, "mallory").await;
    let mut refused = mallory.history(chat.id);
    let error = tokio::time::timeout(Duration::from_secs(10), refused.next())
        .await
        .expect("in time")
        .expect("an item")
        .expect_err("forbidden");
    assert_eq!(error.code(), "forbidden");
    assert!(refused.next().await.is_none());
    alice.close().await;
    mallory.close().await;
    server.stop().await;
}
