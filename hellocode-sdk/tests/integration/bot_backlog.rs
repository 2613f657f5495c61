//! No backlog, and nothing missed or repeated across restarts, against a real server.

use std::collections::HashMap;
use std::sync::Arc;

use hellocode_core::testing::TempDir;
use hellocode_sdk::bot::{FileStore, MemoryStore, PositionStore};
use hellocode_sdk::{ChatId, Client, Seq};

use crate::bot::{echo_bot, from, stopped};
use crate::harness::{Kind, TestServer, fast_config, marker, messages, password};

async fn bot_answers(server: &TestServer, chat: ChatId) -> Vec<String> {
    from("echobot", &server.stored(chat, "echobot").await)
}

async fn connect_bot(server: &TestServer) -> Client {
    server.connect_with(Kind::WebSocket, password("echobot"), fast_config()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_added_to_a_chat_answers_none_of_its_old_commands() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::WebSocket, "echobot").await;
    let replay_client = server.register(Kind::WebSocket, "replaybot").await;
    let alice = server.register(Kind::WebSocket, "alice").await;
    server.register(Kind::WebSocket, "bob").await.close().await;
    let bot = tokio::spawn(echo_bot(bot_client.clone()).run());
    let replay = tokio::spawn(
        hellocode_sdk::bot::Bot::new(replay_client.clone())
            .command(hellocode_sdk::bot::Command::new("echo", crate::bot::echo))
            .without_help()
            .replay_backlog(true)
            .run(),
    );
    let mut events = alice.events();
    let chat = alice.create_group("Echoes", vec!["bob".into()]).await.expect("group");
    for text in ["!echo old one", "!help", "!echo old two"] {
        alice.send(chat.id, text).await.expect("sent");
    }
    alice
        .add_participants(chat.id, vec!["echobot".into(), "replaybot".into()])
        .await
        .expect("bots added");
    alice.send(chat.id, "!echo new").await.expect("sent");
    // The replaying bot answers the three old commands' echoes and the new one; the default
    // bot only the new one.
    let got = messages(&mut events, 4 + 3 + 1).await;
    assert_eq!(from("echobot", &got), ["new"]);
    let mut replayed = from("replaybot", &got);
    replayed.sort();
    assert_eq!(replayed, ["new", "old one", "old two"]);
    let answers = [("echobot", "marker"), ("replaybot", "marker")];
    marker(&alice, chat.id, &mut events, "!echo marker", &answers).await;
    bot_client.close().await;
    replay_client.close().await;
    stopped(bot).await;
    stopped(replay).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_started_late_does_not_answer_earlier_commands() {
    let server = TestServer::start().await;
    server.register(Kind::WebSocket, "echobot").await.close().await;
    let alice = server.register(Kind::WebSocket, "alice").await;
    let mut events = alice.events();
    let chat = alice.create_chat(vec!["echobot".into()]).await.expect("chat");
    alice.send(chat.id, "!echo before").await.expect("sent");
    messages(&mut events, 1).await;
    let bot_client = connect_bot(&server).await;
    let bot = tokio::spawn(echo_bot(bot_client.clone()).run());
    alice.send(chat.id, "!echo after").await.expect("sent");
    let got = messages(&mut events, 2).await;
    assert_eq!(from("echobot", &got), ["after"]);
    marker(&alice, chat.id, &mut events, "!echo marker", &[("echobot", "marker")]).await;
    bot_client.close().await;
    stopped(bot).await;
    assert_eq!(bot_answers(&server, chat.id).await, ["after", "marker"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_bot_with_persistence_answers_what_came_while_it_was_down_once() {
    let server = TestServer::start().await;
    let dir = TempDir::new();
    let store = FileStore::new(dir.0.join("positions.json"));
    let bot_client = server.register(Kind::WebSocket, "echobot").await;
    let alice = server.register(Kind::WebSocket, "alice").await;
    let mut events = alice.events();
    let bot = tokio::spawn(echo_bot(bot_client.clone()).persist(store.clone()).run());
    let chat = alice.create_chat(vec!["echobot".into()]).await.expect("chat");
    alice.send(chat.id, "!echo 1").await.expect("sent");
    assert_eq!(from("echobot", &messages(&mut events, 2).await), ["1"]);
    bot_client.close().await;
    stopped(bot).await;

    // While the bot is down: more than a catch-up page, two of them commands.
    alice.send(chat.id, "!echo 2").await.expect("sent");
    for n in 0..120 {
        alice.send(chat.id, format!("chatter {n}")).await.expect("sent");
    }
    alice.send(chat.id, "!echo 3").await.expect("sent");
    messages(&mut events, 122).await;

    let bot_client = connect_bot(&server).await;
    let bot = tokio::spawn(echo_bot(bot_client.clone()).persist(store.clone()).run());
    assert_eq!(from("echobot", &messages(&mut events, 2).await), ["2", "3"]);
    alice.send(chat.id, "!echo 4").await.expect("sent");
    assert_eq!(from("echobot", &messages(&mut events, 2).await), ["4"]);
    marker(&alice, chat.id, &mut events, "!echo marker", &[("echobot", "marker")]).await;
    bot_client.close().await;
    stopped(bot).await;
    assert_eq!(bot_answers(&server, chat.id).await, ["1", "2", "3", "4", "marker"]);
    let saved = store.load().await.expect("positions saved");
    let stored = server.stored(chat.id, "alice").await;
    let last_command = stored.iter().rfind(|m| m.content == "!echo marker").map(|m| m.seq);
    let last = stored.last().map(|m| m.seq);
    // The last command was handled; the bot's own reply after it may or may not have come
    // back to it before it closed.
    let position = saved.get(&chat.id).copied();
    assert!(
        position == last_command || position == last,
        "the store holds the last handled message: {position:?}, command {last_command:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_handled_again_after_a_lost_save_is_not_answered_twice() {
    let server = TestServer::start().await;
    let store = Arc::new(MemoryStore::new());
    let bot_client = server.register(Kind::WebSocket, "echobot").await;
    let alice = server.register(Kind::WebSocket, "alice").await;
    let mut events = alice.events();
    let bot = tokio::spawn(echo_bot(bot_client.clone()).persist(store.clone()).run());
    let chat = alice.create_chat(vec!["echobot".into()]).await.expect("chat");
    alice.send(chat.id, "!echo once").await.expect("sent");
    assert_eq!(from("echobot", &messages(&mut events, 2).await), ["once"]);
    bot_client.close().await;
    stopped(bot).await;

    // As if the bot had crashed after answering and before saving its position.
    store.save(&HashMap::from([(chat.id, Seq(0))])).await.expect("rewound");
    let bot_client = connect_bot(&server).await;
    let bot = tokio::spawn(echo_bot(bot_client.clone()).persist(store.clone()).run());
    alice.send(chat.id, "!echo twice").await.expect("sent");
    assert_eq!(from("echobot", &messages(&mut events, 2).await), ["twice"]);
    bot_client.close().await;
    stopped(bot).await;
    // The command was handled twice, but its reply carried the same idempotency key.
    assert_eq!(bot_answers(&server, chat.id).await, ["once", "twice"]);
    server.stop().await;
}
