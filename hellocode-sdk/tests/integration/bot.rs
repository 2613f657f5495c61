//! The bot framework against a real server: routing, help, rate limits, shutdown, events.

use std::sync::Arc;
use std::time::Duration;

use hellocode_sdk::bot::{Bot, Command, Context, Rest};
use hellocode_sdk::{Client, ConnectionState, Event, Message};
use hellocode_server::Settings;
use tokio::sync::Notify;

use crate::harness::{Kind, TestServer, marker, messages, on_transports};

on_transports!(commands_are_routed_and_everything_else_ignored, replies_survive_the_rate_limit);

pub(crate) async fn echo(_ctx: Context, text: Rest) -> String {
    text.0
}

pub(crate) fn echo_bot(client: Client) -> Bot {
    Bot::new(client)
        .command(Command::new("echo", echo).alias("say").description("Repeat your text"))
}

pub(crate) fn from(author: &str, messages: &[Message]) -> Vec<String> {
    messages.iter().filter(|m| m.author == author).map(|m| m.content.clone()).collect()
}

/// Wait for a bot task to end after its client was closed.
pub(crate) async fn stopped(bot: tokio::task::JoinHandle<hellocode_sdk::Result<()>>) {
    let outcome = tokio::time::timeout(Duration::from_secs(10), bot).await.expect("bot stops");
    outcome.expect("no panic").expect("bot ran");
}

async fn commands_are_routed_and_everything_else_ignored(kind: Kind) {
    let server = TestServer::start().await;
    let bot_client = server.register(kind, "echobot").await;
    let alice = server.register(kind, "alice").await;
    let mut events = alice.events();
    let bot = tokio::spawn(echo_bot(bot_client.clone()).run());
    let chat = alice.create_chat(vec!["echobot".into()]).await.expect("chat");

    for text in [
        "!echo hello",
        "/ECHO   there ",
        "no command here",
        "!unknown x",
        "!echo !echo loop",
        "!say alias",
    ] {
        alice.send(chat.id, text).await.expect("sent");
    }
    alice.send(chat.id, "!help").await.expect("sent");
    alice.send(chat.id, "!help say").await.expect("sent");
    // 8 sent + 4 echoes + 2 help; an echo bot that answered its own "!echo loop" would go on.
    let got = messages(&mut events, 14).await;
    assert_eq!(
        from("echobot", &got),
        [
            "hello",
            "there",
            "!echo loop",
            "alias",
            "Commands:\n  !echo <text...> — Repeat your text\n!help <command> tells more about one.",
            "Usage: !echo <text...>\nRepeat your text\nAlso: !say",
        ]
    );
    marker(&alice, chat.id, &mut events, "!echo marker", &[("echobot", "marker")]).await;

    bot_client.close().await;
    stopped(bot).await;
    server.stop().await;
}

async fn replies_survive_the_rate_limit(kind: Kind) {
    let settings =
        Settings { rate_per_second: 10, rate_burst: 3, ..Settings::without_abuse_limits() };
    let server = TestServer::start_with(settings).await;
    let bot_client = server.register(kind, "echobot").await;
    let alice = server.register(kind, "alice").await;
    let mut events = alice.events();
    let bot = tokio::spawn(echo_bot(bot_client.clone()).run());
    let chat = alice.create_chat(vec!["echobot".into()]).await.expect("chat");
    // Far beyond the burst: both clients get `rate_limited` and must pause and resend.
    let sends: Vec<_> =
        (0..20).map(|n| alice.enqueue(chat.id, format!("!echo {n}")).expect("queued")).collect();
    let got = messages(&mut events, 40).await;
    let want: Vec<String> = (0..20).map(|n| n.to_string()).collect();
    assert_eq!(from("echobot", &got), want, "every command answered once, in order");
    let queued: Vec<String> = sends.iter().map(|s| s.content.clone()).collect();
    assert_eq!(from("alice", &got), queued);
    assert_eq!(server.stored(chat.id, "alice").await.len(), 40);
    bot_client.close().await;
    stopped(bot).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_handlers_finish_and_flushes_their_replies() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "slowbot").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let mut events = alice.events();
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let (signal, released) = (started.clone(), release.clone());
    let slow = Command::new("slow", move |ctx: Context| {
        let (signal, released) = (signal.clone(), released.clone());
        async move {
            signal.notify_one();
            // Still running when the stop arrives: it ends only after the bot was told to stop.
            released.notified().await;
            ctx.reply("done").await
        }
    });
    let bot = Bot::new(bot_client.clone()).command(slow);
    let (stop, told) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (stopping, telling) = (stop.clone(), told.clone());
    let running = tokio::spawn(bot.run_until(async move {
        stopping.notified().await;
        telling.notify_one();
    }));
    let chat = alice.create_chat(vec!["slowbot".into()]).await.expect("chat");
    alice.send(chat.id, "!slow").await.expect("sent");
    started.notified().await;
    stop.notify_one();
    told.notified().await;
    release.notify_one();
    stopped(running).await;
    let got = messages(&mut events, 2).await;
    assert_eq!(got[1].content, "done", "the running handler's reply was delivered");
    assert!(matches!(bot_client.state(), ConnectionState::Closed { error: None }));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_and_message_handlers() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "greeter").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let mut events = alice.events();
    let (seen, mut seen_events) = tokio::sync::mpsc::unbounded_channel();
    let bot = Bot::new(bot_client.clone())
        .on_event(|client: Client, event: Event| async move {
            if let Event::ChatCreated(chat) = event {
                client.send(chat.id, "welcome!").await?;
            }
            Ok::<(), hellocode_sdk::Error>(())
        })
        .on_message(|ctx: Context| async move {
            (ctx.text() == "hello there").then(|| format!("hello, {}", ctx.author()))
        })
        .see_own_messages(true)
        .on_message(move |ctx: Context| {
            let _ = seen.send((ctx.author().to_owned(), ctx.text().to_owned()));
            async {}
        });
    let running = tokio::spawn(bot.run());
    let chat = alice.create_chat(vec!["greeter".into()]).await.expect("chat");
    let got = messages(&mut events, 1).await;
    assert_eq!((got[0].chat_id, got[0].content.as_str()), (chat.id, "welcome!"));
    alice.send(chat.id, "hello there").await.expect("sent");
    let got = messages(&mut events, 2).await;
    assert_eq!(got[1].content, "hello, alice");
    // With `see_own_messages`, message handlers also get the bot's own messages, in order.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(seen_events.recv().await.expect("handler saw it"));
    }
    let owners: Vec<&str> = seen.iter().map(|(author, _)| author.as_str()).collect();
    assert_eq!(owners, ["greeter", "alice", "greeter"]);
    bot_client.close().await;
    stopped(running).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_sees_its_message_event_before_the_send_resolves() {
    let server = TestServer::start().await;
    let alice = server.register(Kind::WebSocket, "alice").await;
    server.register(Kind::WebSocket, "bob").await.close().await;
    let mut events = alice.events();
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    for n in 0..20 {
        let sent = alice.send(chat.id, format!("m{n}")).await.expect("sent");
        // The event is already queued when `send` resolves (documented on `Event::Message`).
        let queued = loop {
            match futures_util::FutureExt::now_or_never(events.recv()) {
                Some(Some(Event::Message(message))) => break Some(message),
                Some(Some(_)) => continue,
                _ => break None,
            }
        };
        assert_eq!(queued.as_ref(), Some(&sent), "message {n}");
    }
    alice.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_handlers_welcome_members_who_join_after_the_bot() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "greeter").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    for name in ["bob", "carol", "dave", "erin"] {
        server.register(Kind::InProcess, name).await.close().await;
    }
    let mut events = alice.events();
    let bot = Bot::new(bot_client.clone()).on_join(|ctx: Context| async move {
        let group = ctx.chat().and_then(|chat| chat.name.clone()).unwrap_or_default();
        let member = ctx.member().unwrap_or("?");
        format!(
            "welcome to {group}, {member} (added by {}; direct: {})",
            ctx.author(),
            ctx.is_direct()
        )
    });
    let running = tokio::spawn(bot.run());

    // A group the bot is in from its creation: each member added later is welcomed, once.
    let crabs =
        alice.create_group("Crabs", vec!["greeter".into(), "bob".into()]).await.expect("group");
    alice.add_participants(crabs.id, vec!["carol".into()]).await.expect("added");
    let got = messages(&mut events, 1).await;
    assert_eq!(
        (got[0].chat_id, got[0].author.as_str(), got[0].content.as_str()),
        (crabs.id, "greeter", "welcome to Crabs, carol (added by alice; direct: false)")
    );

    // Added to a group later: neither those who joined before it nor the bot itself.
    let ferris = alice.create_group("Ferris", vec!["bob".into()]).await.expect("group");
    alice.add_participants(ferris.id, vec!["dave".into()]).await.expect("added");
    alice.add_participants(ferris.id, vec!["greeter".into()]).await.expect("bot added");
    alice.add_participants(ferris.id, vec!["erin".into()]).await.expect("added");
    let got = messages(&mut events, 1).await;
    assert_eq!(
        (got[0].chat_id, got[0].content.as_str()),
        (ferris.id, "welcome to Ferris, erin (added by alice; direct: false)"),
        "the first post of the bot in Ferris is erin's welcome"
    );
    bot_client.close().await;
    stopped(running).await;
    server.stop().await;
}
