//! Bot commands against a real server: typed arguments, checks, cooldowns, hooks, errors,
//! mentions.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hellocode_sdk::bot::{Bot, Command, CommandError, Context, User, checks, report_error};
use hellocode_sdk::{Chat, ChatId, Client, Events};

use crate::bot::{echo, echo_bot, from, stopped};
use crate::harness::{Kind, TestServer, marker, messages};

/// A server, a bot named `bot` built by `build` and running, and Alice in a direct chat with it.
struct Scene {
    server: TestServer,
    bot_client: Client,
    running: tokio::task::JoinHandle<hellocode_sdk::Result<()>>,
    alice: Client,
    events: Events,
    chat: Chat,
}

impl Scene {
    async fn start(build: impl FnOnce(Client) -> Bot) -> Scene {
        let server = TestServer::start().await;
        let bot_client = server.register(Kind::InProcess, "bot").await;
        let alice = server.register(Kind::InProcess, "alice").await;
        let running = tokio::spawn(build(bot_client.clone()).run());
        let events = alice.events();
        let chat = alice.create_chat(vec!["bot".into()]).await.expect("chat");
        Scene { server, bot_client, running, alice, events, chat }
    }

    /// Send each question and expect the bot's next message to be the answer.
    async fn ask(&mut self, pairs: &[(&str, &str)]) {
        ask(&self.alice, &mut self.events, self.chat.id, pairs).await;
    }

    async fn stop(self) {
        self.bot_client.close().await;
        stopped(self.running).await;
        self.server.stop().await;
    }
}

/// Send each question to `chat` and expect the bot's next message to be the answer.
async fn ask(alice: &Client, events: &mut Events, chat: ChatId, pairs: &[(&str, &str)]) {
    for (question, answer) in pairs {
        alice.send(chat, *question).await.expect("sent");
        let got = messages(events, 2).await;
        assert_eq!(from("bot", &got), [*answer], "answer to {question:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_arguments_and_usage_replies() {
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
    let mut scene = Scene::start(|client| Bot::new(client).command(add).command(poke)).await;
    let usage = "Usage: !add <a: integer> <b: integer> [c: integer]";
    scene
        .ask(&[
            ("!add 2 3", "5"),
            ("!add 2 3 -10", "-5"),
            ("!add \"7\" 1", "8"),
            ("!add 2 x", &format!("\"x\" is not a valid integer. {usage}")),
            ("!add 2", &format!("Missing integer. {usage}")),
            ("!add 1 2 3 4", &format!("Unexpected \"4\". {usage}")),
            ("!poke @bob", "alice pokes bob"),
            ("!poke", "Missing user. Usage: !poke <user>"),
        ])
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 3, "bad arguments never reach the handler");
    scene.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_and_cooldowns() {
    let secret = Command::new("secret", |_: Context| async { "42" }).check(checks::direct_only());
    let stop = Command::new("stop", |_: Context| async { "stopping (not really)" })
        .check(checks::only_users(["bob"]));
    let roll = Command::new("roll", |_: Context| async { "4" }).cooldown(Duration::from_secs(60));
    let mut scene =
        Scene::start(|client| Bot::new(client).command(secret).command(stop).command(roll)).await;
    scene
        .ask(&[
            ("!secret", "42"),
            ("!stop", "You may not use this command."),
            ("!roll", "4"),
            ("!roll", "Slow down: you can use !roll again in 60 s."),
        ])
        .await;
    let bob = scene.server.register(Kind::InProcess, "bob").await;
    let mut bob_events = bob.events();
    let group = scene.alice.create_chat(vec!["bot".into(), "bob".into()]).await.expect("group");
    let refusal = [("!secret", "Ask me that in a direct chat with bot.")];
    ask(&scene.alice, &mut scene.events, group.id, &refusal).await;
    // Bob saw Alice's question in the group and its answer; then his own questions.
    assert_eq!(from("bot", &messages(&mut bob_events, 2).await).len(), 1);
    let bobs = [("!stop", "stopping (not really)"), ("!roll", "4")];
    ask(&bob, &mut bob_events, group.id, &bobs).await;
    scene.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_reported_and_the_bot_goes_on() {
    let fail = Command::new("fail", |_: Context| async {
        Err::<String, _>(std::io::Error::other("the disk is on fire"))
    });
    let panic = Command::new("panic", |_: Context, n: u32| async move {
        assert!(n < 10, "too big");
        "small"
    });
    let mut scene = Scene::start(|client| {
        Bot::new(client).command(fail).command(panic).command(Command::new("echo", echo))
    })
    .await;
    scene
        .ask(&[
            ("!fail", "Sorry, !fail failed."),
            ("!panic 50", "Sorry, !panic failed."),
            ("!panic 5", "small"),
            ("!echo still here", "still here"),
        ])
        .await;
    scene.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_see_every_command_and_a_custom_error_hook_replaces_the_default() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (before_log, after_log, error_log) = (log.clone(), log.clone(), log.clone());
    let fail = Command::new("fail", |_: Context| async { Err::<(), _>("no luck") });
    let mut scene = Scene::start(|client| {
        echo_bot(client)
            .command(fail)
            .before(move |ctx| {
                before_log.lock().expect("log").push(format!("before {}", ctx.text()))
            })
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
            })
    })
    .await;
    scene
        .ask(&[
            ("!echo hi", "hi"),
            ("!fail", "custom: the handler failed: no luck"),
            ("!echo", "Missing text. Usage: !echo <text...>"),
        ])
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
    scene.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_and_custom_prefixes() {
    let mut scene = Scene::start(|client| echo_bot(client).prefixes(["?"]).mentions(true)).await;
    scene
        .ask(&[("@bot echo one", "one"), ("@Bot: ?echo two", "two"), ("?echo three", "three")])
        .await;
    let chat = scene.chat.id;
    scene.alice.send(chat, "!echo not my prefix").await.expect("sent");
    scene.alice.send(chat, "@botanist echo not me").await.expect("sent");
    let got = messages(&mut scene.events, 2).await;
    assert!(from("bot", &got).is_empty());
    marker(&scene.alice, chat, &mut scene.events, "?echo marker", &[("bot", "marker")]).await;
    scene.stop().await;
}
