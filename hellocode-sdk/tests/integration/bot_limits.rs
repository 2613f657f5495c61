//! A bot's per-chat work: a panic anywhere in it does not stop the chat's worker, and a chat
//! whose handler falls behind costs a bounded queue, with nothing lost.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hellocode_sdk::Event;
use tokio::sync::{Notify, Semaphore};

use crate::bot::{echo_bot, from, stopped};
use crate::harness::{Kind, TestServer, messages};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_hook_does_not_stop_its_chats_worker() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "echobot").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let mut events = alice.events();
    let bot = echo_bot(bot_client.clone())
        .before(|ctx| {
            if ctx.text().contains("boom") {
                panic!("a hook that panics");
            }
        })
        .on_error(|_ctx, _error| async { panic!("an error hook that panics") });
    let bot = tokio::spawn(bot.run());
    let chat = alice.create_chat(vec!["echobot".into()]).await.expect("chat");

    alice.send(chat.id, "!echo boom").await.expect("sent"); // the before hook panics
    alice.send(chat.id, "!echo").await.expect("sent"); // a usage error: the error hook panics
    alice.send(chat.id, "!echo still here").await.expect("sent");
    let got = messages(&mut events, 4).await;
    assert_eq!(from("echobot", &got), ["still here"]);

    bot_client.close().await;
    stopped(bot).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_behind_its_queue_loses_nothing() {
    const SENT: usize = 30;
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "slowbot").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let handled: Arc<Mutex<Vec<String>>> = Arc::default();
    let gate = Arc::new(Semaphore::new(0));
    let last_seen = Arc::new(Notify::new());
    let (record, held) = (handled.clone(), gate.clone());
    let seen = last_seen.clone();
    let bot = hellocode_sdk::bot::Bot::new(bot_client.clone())
        .with_chat_queue(2)
        .on_message(move |ctx| {
            let (record, held) = (record.clone(), held.clone());
            async move {
                // The first message holds the worker until the test has sent everything.
                if ctx.text() == "m00" {
                    let _permit = held.acquire().await;
                }
                record.lock().expect("record").push(ctx.text().to_owned());
            }
        })
        .on_event(move |_client, event| {
            let seen = seen.clone();
            async move {
                if let Event::Message(message) = event
                    && message.content == format!("m{:02}", SENT - 1)
                {
                    seen.notify_one();
                }
            }
        });
    let bot = tokio::spawn(bot.run());
    let chat = alice.create_chat(vec!["slowbot".into()]).await.expect("chat");
    for n in 0..SENT {
        alice.send(chat.id, format!("m{n:02}")).await.expect("sent");
    }
    // Every message reached the bot's dispatcher (the event handler sees each one just before
    // it is dispatched) while the worker was held: all but two were not queued.
    tokio::time::timeout(Duration::from_secs(10), last_seen.notified())
        .await
        .expect("the bot saw the last message");
    gate.add_permits(1);
    let expected: Vec<String> = (0..SENT).map(|n| format!("m{n:02}")).collect();
    tokio::time::timeout(Duration::from_secs(10), async {
        while handled.lock().expect("record").len() < SENT {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every message handled");
    // A marker after everything: handled once, after the rest (so nothing was handled twice).
    alice.send(chat.id, "marker").await.expect("sent");
    tokio::time::timeout(Duration::from_secs(10), async {
        while handled.lock().expect("record").last().map(String::as_str) != Some("marker") {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("marker handled");
    let mut all = handled.lock().expect("record").clone();
    assert_eq!(all.pop().as_deref(), Some("marker"));
    assert_eq!(all, expected, "each once, in order");

    bot_client.close().await;
    stopped(bot).await;
    server.stop().await;
}
