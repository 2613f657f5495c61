//! The bot framework against a real server.

use std::sync::Arc;
use std::time::Duration;

use hellocode_sdk::bot::Bot;
use hellocode_sdk::{ConnectionState, Event, Message};
use hellocode_server::Settings;
use tokio::sync::Notify;

use crate::harness::{Kind, TestServer, messages, no_message_within, on_transports};

on_transports!(commands_are_routed_and_everything_else_ignored, replies_survive_the_rate_limit);

fn echo_bot(client: hellocode_sdk::Client) -> Bot {
    Bot::new(client).command("echo", |ctx, args| async move {
        ctx.reply(args).await?;
        Ok(())
    })
}

fn from_bot(messages: &[Message]) -> Vec<String> {
    messages.iter().filter(|m| m.author == "echobot").map(|m| m.content.clone()).collect()
}

async fn commands_are_routed_and_everything_else_ignored(kind: Kind) {
    let server = TestServer::start().await;
    let bot_client = server.register(kind, "echobot").await;
    let alice = server.register(kind, "alice").await;
    let mut events = alice.events();
    let bot = tokio::spawn(echo_bot(bot_client.clone()).run());
    let chat = alice.create_chat(vec!["echobot".into()]).await.expect("chat");

    for text in
        ["!echo hello", "/ECHO   there ", "no command here", "!unknown x", "!echo !echo loop"]
    {
        alice.send(chat.id, text).await.expect("sent");
    }
    alice.send(chat.id, "!help").await.expect("sent");
    // 6 sent + 3 echoes + 1 help; an echo bot that answered its own "!echo loop" would go on.
    let got = messages(&mut events, 10).await;
    assert_eq!(from_bot(&got), ["hello", "there", "!echo loop", "Commands: !echo"]);
    assert!(no_message_within(&mut events, Duration::from_millis(300)).await);

    bot_client.close().await;
    tokio::time::timeout(Duration::from_secs(10), bot).await.expect("bot stops").expect("no panic");
    server.stop().await;
}

async fn replies_survive_the_rate_limit(kind: Kind) {
    let settings = Settings { rate_per_second: 10, rate_burst: 3, ..Settings::default() };
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
    assert_eq!(from_bot(&got), want, "every command answered once, in order");
    let asked: Vec<String> =
        got.iter().filter(|m| m.author == "alice").map(|m| m.content.clone()).collect();
    let queued: Vec<String> = sends.iter().map(|s| s.content.clone()).collect();
    assert_eq!(asked, queued);
    assert_eq!(server.stored(chat.id, "alice").await.len(), 40);
    bot_client.close().await;
    tokio::time::timeout(Duration::from_secs(10), bot).await.expect("bot stops").expect("no panic");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_handlers_finish_and_flushes_their_replies() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "slowbot").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let mut events = alice.events();
    let started = Arc::new(Notify::new());
    let signal = started.clone();
    let bot = Bot::new(bot_client.clone()).command("slow", move |ctx, _| {
        let signal = signal.clone();
        async move {
            signal.notify_one();
            tokio::time::sleep(Duration::from_millis(300)).await;
            ctx.reply("done").await?;
            Ok(())
        }
    });
    let stop = Arc::new(Notify::new());
    let stopping = stop.clone();
    let running = tokio::spawn(bot.run_until(async move { stopping.notified().await }));
    let chat = alice.create_chat(vec!["slowbot".into()]).await.expect("chat");
    alice.send(chat.id, "!slow").await.expect("sent");
    started.notified().await;
    stop.notify_one();
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("stops").expect("no panic");
    let got = messages(&mut events, 2).await;
    assert_eq!(got[1].content, "done", "the running handler's reply was delivered");
    assert!(matches!(bot_client.state(), ConnectionState::Closed { error: None }));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_handlers_see_other_events() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "greeter").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let mut events = alice.events();
    let bot = Bot::new(bot_client.clone()).on_event(|client, event| async move {
        if let Event::ChatCreated(chat) = event {
            client.send(chat.id, "welcome!").await?;
        }
        Ok(())
    });
    let running = tokio::spawn(bot.run());
    let chat = alice.create_chat(vec!["greeter".into()]).await.expect("chat");
    let got = messages(&mut events, 1).await;
    assert_eq!((got[0].chat_id, got[0].content.as_str()), (chat.id, "welcome!"));
    bot_client.close().await;
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("stops").expect("no panic");
    server.stop().await;
}
