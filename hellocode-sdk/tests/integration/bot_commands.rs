//! Bot commands against a real server: typed arguments, checks, cooldowns, hooks, errors,
//! mentions.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hellocode_sdk::bot::{Bot, Command, CommandError, Context, User, checks, report_error};
use hellocode_sdk::{Client, Events};

use crate::bot::{echo, echo_bot, from, stopped};
use crate::harness::{Kind, TestServer, messages, no_message_within};

/// Send each question and expect the bot's next message to be the answer.
async fn ask(
    alice: &Client,
    events: &mut Events,
    chat: hellocode_sdk::ChatId,
    pairs: &[(&str, &str)],
) {
    for (question, answer) in pairs {
        alice.send(chat, *question).await.expect("sent");
        let got = messages(events, 2).await;
        assert_eq!(from("bot", &got), [*answer], "answer to {question:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_arguments_and_usage_replies() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "bot").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let add = Command::new("add", move |_: Context, a: i64, b: i64, c: Option<i64>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move { (a + b + c.unwrap_or(0)).to_string() }
    })
    .arg_names(["a", "b", "c"]);
    let poke = Command::new("poke", |ctx: Context, user: User| async move {
        format!("{} pokes {user}", ctx.author())
    });
    let bot = Bot::new(bot_client.clone()).command(add).command(poke);
    let running = tokio::spawn(bot.run());
    let mut events = alice.events();
    let chat = alice.create_chat(vec!["bot".into()]).await.expect("chat");
    let usage = "Usage: !add <a: integer> <b: integer> [c: integer]";
    ask(
        &alice,
        &mut events,
        chat.id,
        &[
            ("!add 2 3", "5"),
            ("!add 2 3 -10", "-5"),
            ("!add \"7\" 1", "8"),
            ("!add 2 x", &format!("\"x\" is not a valid integer. {usage}")),
            ("!add 2", &format!("Missing integer. {usage}")),
            ("!add 1 2 3 4", &format!("Unexpected \"4\". {usage}")),
            ("!poke @bob", "alice pokes bob"),
            ("!poke", "Missing user. Usage: !poke <user>"),
        ],
    )
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 3, "bad arguments never reach the handler");
    bot_client.close().await;
    stopped(running).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_and_cooldowns() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "bot").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let bob = server.register(Kind::InProcess, "bob").await;
    let secret = Command::new("secret", |_: Context| async { "42" }).check(checks::direct_only());
    let stop = Command::new("stop", |_: Context| async { "stopping (not really)" })
        .check(checks::only_users(["bob"]));
    let roll = Command::new("roll", |_: Context| async { "4" }).cooldown(Duration::from_secs(60));
    let bot = Bot::new(bot_client.clone()).command(secret).command(stop).command(roll);
    let running = tokio::spawn(bot.run());
    let mut alice_events = alice.events();
    let mut bob_events = bob.events();
    let direct = alice.create_chat(vec!["bot".into()]).await.expect("chat");
    let group = alice.create_chat(vec!["bot".into(), "bob".into()]).await.expect("group");
    ask(
        &alice,
        &mut alice_events,
        direct.id,
        &[
            ("!secret", "42"),
            ("!stop", "You may not use this command."),
            ("!roll", "4"),
            ("!roll", "Slow down: you can use !roll again in 60 s."),
        ],
    )
    .await;
    ask(
        &alice,
        &mut alice_events,
        group.id,
        &[("!secret", "Ask me that in a direct chat with bot.")],
    )
    .await;
    // Bob saw Alice's question in the group and its answer; then his own questions.
    assert_eq!(from("bot", &messages(&mut bob_events, 2).await).len(), 1);
    for (question, answer) in [("!stop", "stopping (not really)"), ("!roll", "4")] {
        bob.send(group.id, question).await.expect("sent");
        let got = messages(&mut bob_events, 2).await;
        assert_eq!(from("bot", &got), [answer], "answer to bob's {question:?}");
    }
    bot_client.close().await;
    stopped(running).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_reported_and_the_bot_goes_on() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "bot").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let fail = Command::new("fail", |_: Context| async {
        Err::<String, _>(std::io::Error::other("the disk is on fire"))
    });
    let panic = Command::new("panic", |_: Context, n: u32| async move {
        assert!(n < 10, "too big");
        "small"
    });
    let bot = Bot::new(bot_client.clone())
        .command(fail)
        .command(panic)
        .command(Command::new("echo", echo));
    let running = tokio::spawn(bot.run());
    let mut events = alice.events();
    let chat = alice.create_chat(vec!["bot".into()]).await.expect("chat");
    ask(
        &alice,
        &mut events,
        chat.id,
        &[
            ("!fail", "Sorry, !fail failed."),
            ("!panic 50", "Sorry, !panic failed."),
            ("!panic 5", "small"),
            ("!echo still here", "still here"),
        ],
    )
    .await;
    bot_client.close().await;
    stopped(running).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_see_every_command_and_a_custom_error_hook_replaces_the_default() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "bot").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (before_log, after_log, error_log) = (log.clone(), log.clone(), log.clone());
    let fail = Command::new("fail", |_: Context| async { Err::<(), _>("no luck") });
    let bot = echo_bot(bot_client.clone())
        .command(fail)
        .before(move |ctx| before_log.lock().expect("log").push(format!("before {}", ctx.text())))
        .after(move |ctx, outcome, _took| {
            let what = if outcome.is_ok() { "ok" } else { "err" };
            after_log.lock().expect("log").push(format!("after {} {what}", ctx.text()));
        })
        .on_error(move |ctx, error| {
            let error_log = error_log.clone();
            async move {
                let failed = matches!(error, CommandError::Failed(_));
                error_log.lock().expect("log").push(format!("error {} {failed}", ctx.text()));
                if failed {
                    let _ = ctx.reply(format!("custom: {error}")).await;
                } else {
                    report_error(ctx, error).await;
                }
            }
        });
    let running = tokio::spawn(bot.run());
    let mut events = alice.events();
    let chat = alice.create_chat(vec!["bot".into()]).await.expect("chat");
    ask(
        &alice,
        &mut events,
        chat.id,
        &[
            ("!echo hi", "hi"),
            ("!fail", "custom: the handler failed: no luck"),
            ("!echo", "Missing text. Usage: !echo <text...>"),
        ],
    )
    .await;
    assert_eq!(
        *log.lock().expect("log"),
        [
            "before !echo hi",
            "after !echo hi ok",
            "before !fail",
            "after !fail err",
            "error !fail true",
            "before !echo",
            "after !echo err",
            "error !echo false",
        ]
    );
    bot_client.close().await;
    stopped(running).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_and_custom_prefixes() {
    let server = TestServer::start().await;
    let bot_client = server.register(Kind::InProcess, "bot").await;
    let alice = server.register(Kind::InProcess, "alice").await;
    let bot = echo_bot(bot_client.clone()).prefixes(["?"]).mentions(true);
    let running = tokio::spawn(bot.run());
    let mut events = alice.events();
    let chat = alice.create_chat(vec!["bot".into()]).await.expect("chat");
    ask(
        &alice,
        &mut events,
        chat.id,
        &[("@bot echo one", "one"), ("@Bot: ?echo two", "two"), ("?echo three", "three")],
    )
    .await;
    alice.send(chat.id, "!echo not my prefix").await.expect("sent");
    alice.send(chat.id, "@botanist echo not me").await.expect("sent");
    let got = messages(&mut events, 2).await;
    assert!(from("bot", &got).is_empty());
    assert!(no_message_within(&mut events, Duration::from_millis(300)).await);
    bot_client.close().await;
    stopped(running).await;
    server.stop().await;
}
