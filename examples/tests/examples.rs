//! The examples, run as the programs they are against a real server (on a random loopback
//! port), driven through their command lines and standard input and output.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hellocode_core::model::UserUpdate;
use hellocode_core::storage::{MemoryStorage, Storage};
use hellocode_sdk::{Client, Credentials, Event, Events, Message, WebSocketTransport};
use hellocode_server::{Server, Settings};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const PASSWORD: &str = "correct horse battery staple";
const WAIT: Duration = Duration::from_secs(20);

/// `cargo test` builds the examples before it runs tests; they sit beside the test binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target directory");
    let path = dir.join("examples").join(name);
    assert!(path.exists(), "{} not built; run through `cargo test`", path.display());
    path
}

async fn start() -> (Server, String) {
    let (server, url, _) = start_with_storage().await;
    (server, url)
}

async fn start_with_storage() -> (Server, String, Arc<MemoryStorage>) {
    let storage = Arc::new(MemoryStorage::new());
    let server = Server::start_with(
        storage.clone(),
        b"examples-test-secret-examples-test",
        Settings::without_abuse_limits(),
        "127.0.0.1:0".parse().expect("address"),
    )
    .await
    .expect("server starts");
    let url = format!("ws://{}", server.local_addr());
    (server, url, storage)
}

async fn register(url: &str, name: &str) -> Client {
    let transport = WebSocketTransport::new(url).expect("url");
    let credentials = Credentials::register(name, format!("{name}@example.org"), PASSWORD);
    Client::connect(transport, credentials).await.expect("registers")
}

fn spawn(name: &str, args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    spawn_with(name, args, &[])
}

fn spawn_with(
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(example(name))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("HELLOCODE_TOKEN")
        .env_remove("HELLOCODE_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("example starts");
    let stdout = child.stdout.take().expect("stdout piped");
    (child, BufReader::new(stdout).lines())
}

/// Read the program's output until a line contains `needle`; returns that line.
async fn expect_line(lines: &mut Lines<BufReader<ChildStdout>>, needle: &str) -> String {
    let found = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if line.contains(needle) {
                return Some(line);
            }
        }
        None
    })
    .await
    .unwrap_or_else(|_| panic!("no line with {needle:?} within {WAIT:?}"));
    found.unwrap_or_else(|| panic!("output ended without {needle:?}"))
}

async fn message_from(events: &mut Events, author: &str) -> Message {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(Event::Message(message)) if message.author == author => return message,
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no message from {author} within {WAIT:?}"))
}

async fn interrupt_and_wait(mut child: Child) {
    let pid = child.id().expect("running").to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status().await.expect("kill runs");
    assert!(status.success());
    let exit = tokio::time::timeout(WAIT, child.wait()).await.expect("exits").expect("wait");
    assert!(exit.success(), "{exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_bot_answers_and_stops_on_ctrl_c() {
    let (server, url) = start().await;
    register(&url, "echobot").await.close().await;
    let alice = register(&url, "alice").await;
    let mut events = alice.events();
    let (child, mut out) =
        spawn("echo_bot", &["--server", &url, "--user", "echobot", "--password", PASSWORD]);
    expect_line(&mut out, "echo bot running as echobot").await;

    let chat = alice.create_chat(vec!["echobot".into()]).await.expect("chat");
    alice.send(chat.id, "!echo hi from CI").await.expect("sent");
    assert_eq!(message_from(&mut events, "echobot").await.content, "hi from CI");
    alice.send(chat.id, "/echo").await.expect("sent");
    let usage = message_from(&mut events, "echobot").await.content;
    assert_eq!(usage, "Missing text. Usage: !echo <text...>");

    interrupt_and_wait(child).await;
    expect_line(&mut out, "echo bot stopped").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_chat_sends_typed_lines_and_prints_replies() {
    let (server, url) = start().await;
    register(&url, "alice").await.close().await;
    let bob = register(&url, "bob").await;
    let mut bob_events = bob.events();
    let (mut child, mut out) =
        spawn("chat", &["--server", &url, "--user", "alice", "--with", "bob"]);
    let mut input = child.stdin.take().expect("stdin piped");
    // No password on the command line: the program asks for it on stdin.
    input.write_all(format!("{PASSWORD}\n").as_bytes()).await.expect("password");
    let connected = expect_line(&mut out, "connected as alice; chat").await;

    input.write_all(b"hello from the terminal\n").await.expect("typed");
    let got = message_from(&mut bob_events, "alice").await;
    assert_eq!(got.content, "hello from the terminal");
    assert!(connected.ends_with(&format!("chat {}", got.chat_id)), "{connected}");

    bob.send(got.chat_id, "hi alice").await.expect("sent");
    expect_line(&mut out, &format!("[chat {}] bob: hi alice", got.chat_id)).await;
    input.write_all(b"/history\n").await.expect("typed");
    expect_line(&mut out, "#1 alice: hello from the terminal").await;

    // An invitation is printed as it comes, and accepted by its id.
    register(&url, "carol").await.close().await;
    let group = bob.create_group("Crabs", vec!["carol".into()]).await.expect("group");
    let invitation = bob.invite(group.id, "alice").await.expect("invited");
    let id = invitation.id;
    expect_line(
        &mut out,
        &format!(
            "(bob invites you to \"Crabs\" (chat {}): /accept {id} or /decline {id})",
            group.id
        ),
    )
    .await;
    input.write_all(format!("/accept {id}\n").as_bytes()).await.expect("typed");
    expect_line(&mut out, &format!("joined chat {}", group.id)).await;
    input.write_all(b"hello crabs\n").await.expect("typed");
    let got = message_from(&mut bob_events, "alice").await;
    assert_eq!((got.chat_id, got.content.as_str()), (group.id, "hello crabs"));

    // End of input: the program sends what is queued and leaves.
    input.write_all(b"last words\n").await.expect("typed");
    drop(input);
    expect_line(&mut out, "bye").await;
    let exit = tokio::time::timeout(WAIT, child.wait()).await.expect("exits").expect("wait");
    assert!(exit.success(), "{exit}");
    assert_eq!(message_from(&mut bob_events, "alice").await.content, "last words");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matchmaker_finds_users_by_language() {
    let (server, url, storage) = start_with_storage().await;
    register(&url, "matchmaker").await.close().await;
    let alice = register(&url, "alice").await;
    for (name, languages) in
        [("alice", vec!["Rust"]), ("bob", vec!["Go"]), ("carol", vec!["Rust", "Go"])]
    {
        if name != "alice" {
            register(&url, name).await.close().await;
        }
        let languages = Some(languages.into_iter().map(str::to_owned).collect());
        storage
            .update_user(name, UserUpdate { languages, ..UserUpdate::default() })
            .await
            .expect("profile");
    }
    let mut events = alice.events();
    let (child, mut out) =
        spawn("matchmaker", &["--server", &url, "--user", "matchmaker", "--password", PASSWORD]);
    expect_line(&mut out, "matchmaker running as matchmaker").await;

    let chat = alice.create_chat(vec!["matchmaker".into()]).await.expect("chat");
    for (question, answer) in [
        ("!find rust", "Want to talk about rust: carol."),
        ("/find Go", "Want to talk about Go: bob, carol."),
        (
            "!find Cobol",
            "Nobody else wants to talk about Cobol yet. Add it to your profile so others find \
             you (terminal chat: /languages Cobol).",
        ),
        ("!find", "Missing word. Usage: !find <language: word>"),
    ] {
        alice.send(chat.id, question).await.expect("sent");
        assert_eq!(message_from(&mut events, "matchmaker").await.content, answer, "{question}");
    }
    interrupt_and_wait(child).await;
    expect_line(&mut out, "matchmaker stopped").await;
    server.shutdown().await;
}

/// The README's SDK section opens with `examples/hello_bot.rs`, verbatim; and it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_bot_is_the_hello_bot_example_and_runs_as_written() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let file = std::fs::read_to_string(root.join("examples/hello_bot.rs")).expect("hello_bot");
    // The file's `//!` header says how to run it; the README shows the code after it.
    let code: String = file
        .lines()
        .skip_while(|line| line.starts_with("//!"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(readme.contains(&format!("```rust,no_run\n{code}```")), "README shows hello_bot.rs");
    assert!(code.lines().count() <= 15, "the README bot stays at most 15 lines");

    let (server, url) = start().await;
    let alice = register(&url, "alice").await;
    let mut events = alice.events();
    for run in 0..2 {
        // The second run logs in to the account the first one registered.
        let (child, mut out) = spawn_with("hello_bot", &[], &[("HELLOCODE_SERVER", &url)]);
        expect_line(&mut out, "running; say !echo hi to hellobot").await;
        let chat = alice.chat_with(vec!["hellobot".into()]).await.expect("chat");
        alice.send(chat.id, format!("!echo hi {run}")).await.expect("sent");
        assert_eq!(message_from(&mut events, "hellobot").await.content, format!("hi {run}"));
        interrupt_and_wait(child).await;
    }
    server.shutdown().await;
}
