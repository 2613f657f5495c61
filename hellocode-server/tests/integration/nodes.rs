//! Two nodes of one deployment, sharing one database and a Redis this test starts itself on a
//! random port: events cross between the nodes, and when Redis goes away each node goes on
//! serving its own clients, says so in /healthz, and once Redis is back makes its clients
//! resume, so that nothing is lost silently.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hellocode_core::testing::service_unavailable;
use serde_json::{Value, json};

use hellocode_server::Settings;
use hellocode_server::creation::CreationLimits;
use hellocode_server::rate_limit::Rate;

use crate::harness::{Backend, Client, TestServer, group_among, test_settings};

on_backends!(nodes:
    events_cross_between_nodes_and_survive_a_redis_restart,
    concurrent_appends_on_two_nodes_reach_every_client_in_sequence_order,
    presence_connection_caps_and_rate_limits_are_the_deployments,
    a_gap_in_a_chats_events_is_filled_from_storage,
);

/// A `redis-server` of this test's own, on a free port, keeping nothing on disk.
pub struct Redis {
    process: Child,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Option<Redis> {
        let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        Redis::on(port)
    }

    pub fn on(port: u16) -> Option<Redis> {
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let process = match spawned {
            Ok(process) => process,
            Err(err) => {
                service_unavailable("redis-server (the binary)", &err);
                return None;
            }
        };
        let redis = Redis { process, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kill it (SIGKILL: pub/sub keeps nothing anyway).
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis of the test's own and two nodes on it, both subscribed (`None`: a service is missing,
/// reported).
async fn two_nodes(
    backend: Backend,
    settings: Settings,
) -> Option<(Redis, TestServer, TestServer)> {
    let redis = Redis::start()?;
    let node_a = TestServer::start_node(backend, settings, Some(&redis.url())).await?;
    let node_b = node_a.beside().await;
    broker_becomes(&node_a, "ok").await;
    broker_becomes(&node_b, "ok").await;
    Some((redis, node_a, node_b))
}

/// `/healthz` of the server at `addr`, as JSON.
async fn health(server: &TestServer) -> Value {
    let (status, body) = server.http("GET", "/healthz", None, None).await;
    assert_eq!(status, 200, "a node without its broker still serves: {body}");
    body
}

/// Wait until `/healthz` says the broker is `state`.
async fn broker_becomes(server: &TestServer, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if health(server).await["checks"]["broker"] == state {
            return;
        }
        assert!(Instant::now() < deadline, "the broker never became {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connect_v2(node: &TestServer, token: &str) -> crate::harness::Client {
    node.connect(&format!("/ws?token={token}&protocol=2")).await
}

pub async fn events_cross_between_nodes_and_survive_a_redis_restart(backend: Backend) {
    let Some(mut redis) = Redis::start() else { return };
    let Some(mut node_a) =
        TestServer::start_node(backend, test_settings(), Some(&redis.url())).await
    else {
        return;
    };
    let mut node_b = node_a.beside().await;
    // Until its subscription is up a node cannot hear the others (its clients would resume).
    broker_becomes(&node_a, "ok").await;
    broker_becomes(&node_b, "ok").await;
    let (alice_token, bob_token) = (node_a.user("alice").await, node_a.user("bob").await);
    let mut alice = connect_v2(&node_a, &alice_token).await;
    let mut bob = connect_v2(&node_b, &bob_token).await;
    // A chat made on node A reaches bob on node B.
    let (created, _) =
        alice.call(json!({ "command": "create_chat", "participants": ["bob"] }), 1).await;
    let chat = created["chat"]["id"].as_i64().expect("chat id");
    assert_eq!(bob.expect("chat_created").await["chat"]["id"], chat);
    // Each side's message reaches the other node, once and in order.
    for (i, text) in ["one", "two", "three"].into_iter().enumerate() {
        alice.post(chat, text, 10 + i as i64).await;
        let got = bob.expect("new_message").await;
        assert_eq!(
            (got["message"]["seq"].as_i64(), &got["message"]["content"]),
            (Some(i as i64 + 1), &json!(text))
        );
    }
    bob.post(chat, "four", 20).await;
    assert_eq!(alice.expect("new_message").await["message"]["content"], "four");

    // Redis goes away: each node still serves its own clients, and says it is degraded.
    redis.kill();
    broker_becomes(&node_a, "down").await;
    assert_eq!(health(&node_a).await["status"], "degraded");
    alice.post(chat, "five, while the broker is away", 30).await;

    // Redis is back (empty): the nodes resubscribe and close their connections so that every
    // client resumes; bob then finds what he missed.
    let port = redis.port;
    drop(redis);
    let _redis = Redis::on(port).expect("redis restarts on its port");
    broker_becomes(&node_a, "ok").await;
    assert_eq!(bob.close_code().await, Some(4008), "bob's node made him resume");
    let mut bob = connect_v2(&node_b, &bob_token).await;
    let resumed = bob.request(json!({ "command": "resume", "chatId": chat, "since": 4 }), 2).await;
    let contents: Vec<&Value> =
        resumed["messages"].as_array().expect("messages").iter().map(|m| &m["content"]).collect();
    assert_eq!(contents, [&json!("five, while the broker is away")]);
    // And live delivery across the nodes works again.
    let mut alice = connect_v2(&node_a, &alice_token).await;
    alice.post(chat, "six", 40).await;
    assert_eq!(bob.expect("new_message").await["message"]["content"], "six");
    let (_, metrics) = node_a.http_text("/metrics").await;
    assert!(metrics.contains("hellocode_broker_up 1\n"), "{metrics}");
    assert!(metrics.contains("hellocode_broker_resyncs_total 1\n"), "{metrics}");
    node_b.stop().await;
    node_a.stop().await;
}

/// Send `count` messages to `chat` without waiting, then read until each is acknowledged.
async fn post_many(mut client: Client, chat: i64, who: &str, count: i64) -> Client {
    for i in 0..count {
        let frame = json!({ "command": "new_message", "chatId": chat, "message": format!("{who} {i}"), "id": i });
        client.send(frame).await;
    }
    let mut acked = 0;
    while acked < count {
        if client.recv().await["command"] == "ack" {
            acked += 1;
        }
    }
    client
}

/// The sequence numbers of the next `count` messages a watcher receives.
async fn watch(mut client: Client, count: usize) -> Vec<i64> {
    let mut seqs = Vec::with_capacity(count);
    while seqs.len() < count {
        let frame = client.recv().await;
        if frame["command"] == "new_message" {
            seqs.push(frame["message"]["seq"].as_i64().expect("seq"));
        }
    }
    seqs
}

pub async fn concurrent_appends_on_two_nodes_reach_every_client_in_sequence_order(
    backend: Backend,
) {
    const EACH: i64 = 150;
    let Some((_redis, node_a, node_b)) = two_nodes(backend, test_settings()).await else { return };
    let (tokens, chat) = group_among(&node_a, "Crabs", &["alice", "bob", "carol", "dave"]).await;
    let alice = connect_v2(&node_a, &tokens[0]).await;
    let bob = connect_v2(&node_b, &tokens[1]).await;
    let carol = connect_v2(&node_a, &tokens[2]).await;
    let dave = connect_v2(&node_b, &tokens[3]).await;
    // Alice (node A) and bob (node B) write to the chat at the same time: each node hears the
    // other's messages through Redis, interleaved with its own.
    let watchers = [
        tokio::spawn(watch(carol, 2 * EACH as usize)),
        tokio::spawn(watch(dave, 2 * EACH as usize)),
    ];
    let writers = [
        tokio::spawn(post_many(alice, chat, "alice", EACH)),
        tokio::spawn(post_many(bob, chat, "bob", EACH)),
    ];
    for writer in writers {
        writer.await.expect("writer");
    }
    for (name, watcher) in ["carol (node A)", "dave (node B)"].into_iter().zip(watchers) {
        let seqs = watcher.await.expect("watcher");
        let all: Vec<i64> = (seqs[0]..seqs[0] + 2 * EACH).collect();
        assert_eq!(seqs, all, "{name}: every message once, in sequence order");
    }
}

/// The next presence frame (`presence` or `online`) a client receives, others skipped.
async fn next_presence(client: &mut Client) -> Value {
    loop {
        let frame = client.recv_any().await;
        if frame["command"] == "presence" || frame["command"] == "online" {
            return frame;
        }
    }
}

pub async fn presence_connection_caps_and_rate_limits_are_the_deployments(backend: Backend) {
    let mut settings = test_settings();
    settings.max_connections_per_user = 2;
    settings.creation = CreationLimits { chats_per_minute: 2, ..CreationLimits::default() };
    settings.auth_rate_per_username = Rate { burst: 3, per_second: 0.001 };
    let Some((_redis, node_a, node_b)) = two_nodes(backend, settings).await else { return };
    let (tokens, _) = group_among(&node_a, "Crabs", &["alice", "bob", "carol", "dave"]).await;
    let [alice, bob, carol, dave] = [0, 1, 2, 3].map(|i| tokens[i].clone());

    // A user online on any node is online: alice has connections on both nodes; closing the
    // one on node A tells no one she left, and a connection opening on node A (where she has
    // none now) is told she is online.
    let mut bob_a = connect_v2(&node_a, &bob).await;
    assert_eq!(next_presence(&mut bob_a).await, json!({"command": "online", "usernames": []}));
    let alice_a = connect_v2(&node_a, &alice).await;
    let presence = next_presence(&mut bob_a).await;
    assert_eq!(presence, json!({"command": "presence", "username": "alice", "online": true}));
    let mut alice_b = connect_v2(&node_b, &alice).await;
    alice_b.expect_nothing_pending().await;
    drop(alice_a);
    let mut bob_a2 = connect_v2(&node_a, &bob).await;
    let snapshot = next_presence(&mut bob_a2).await;
    assert_eq!(snapshot, json!({"command": "online", "usernames": ["alice"]}));
    // The next presence bob hears is carol's arrival, not alice leaving (she has not).
    let carol_b = connect_v2(&node_b, &carol).await;
    let presence = next_presence(&mut bob_a).await;
    assert_eq!(presence, json!({"command": "presence", "username": "carol", "online": true}));
    // Her last connection, on node B, closing: offline everywhere.
    drop(alice_b);
    let presence = next_presence(&mut bob_a).await;
    assert_eq!(presence, json!({"command": "presence", "username": "alice", "online": false}));
    drop(carol_b);

    // The per-user connection cap (2) holds across the nodes: dave's third connection is
    // refused although node A has only one of his.
    let mut dave_a = connect_v2(&node_a, &dave).await;
    let mut dave_b = connect_v2(&node_b, &dave).await;
    dave_b.expect_nothing_pending().await;
    let mut third = connect_v2(&node_a, &dave).await;
    assert_eq!(third.close_code().await, Some(4029), "too many connections in the deployment");

    // Creation limits (2 chats a minute) hold across nodes: dave's third chat is refused,
    // although node A has seen only one.
    let create = |n: i64| json!({"command": "create_chat", "participants": ["bob"], "clientId": format!("c{n}")});
    let (first, _) = dave_a.call(create(1), 1).await;
    assert_eq!(first["command"], "chat", "{first}");
    let (second, _) = dave_b.call(create(2), 2).await;
    assert_eq!(second["command"], "chat", "{second}");
    let (third, _) = dave_a.call(create(3), 3).await;
    assert_eq!(third["code"], "rate_limited", "{third}");

    // So do login attempts per username (3): a registration and a login on node A (the
    // harness's `user`), then on node B one wrong password, and the next is refused although
    // node B has seen one attempt.
    node_a.user("eve").await;
    let login = json!({"username": "eve", "password": "wrong password"});
    let (status, _) = node_b.http("POST", "/api/login/", None, Some(&login)).await;
    assert_eq!(status, 401);
    let (status, body) = node_b.http("POST", "/api/login/", None, Some(&login)).await;
    assert_eq!(status, 429, "the fourth attempt in the deployment: {body}");
}

pub async fn a_gap_in_a_chats_events_is_filled_from_storage(backend: Backend) {
    let Some((_redis, node_a, node_b)) = two_nodes(backend, test_settings()).await else { return };
    let (tokens, chat) = group_among(&node_a, "Crabs", &["alice", "bob"]).await;
    let mut alice = connect_v2(&node_a, &tokens[0]).await;
    let mut bob = connect_v2(&node_b, &tokens[1]).await;
    // The chat's creation travels through Redis and may reach a connection opened just after
    // it (under a loaded test run it did): past it, each gets the first post.
    alice
        .send(json!({ "command": "new_message", "chatId": chat, "message": "one", "id": 1 }))
        .await;
    let first = past_creation(&mut alice).await["message"].clone();
    assert_eq!(alice.expect("ack").await["id"], 1);
    assert_eq!(past_creation(&mut bob).await["message"]["content"], "one");
    // An item no node published (as if its event was lost between the nodes): written to the
    // database directly.
    let storage = hellocode_server::open_storage(node_a.database_url(), 1).await.expect("storage");
    let lost = hellocode_core::model::NewMessage {
        chat_id: hellocode_core::model::ChatId(chat),
        author: "alice".into(),
        content: "lost between the nodes".into(),
        client_id: None,
        timestamp: hellocode_core::model::Timestamp::now(),
        attachments: Vec::new(),
    };
    storage.append_message(lost).await.expect("append");
    let three = json!({ "command": "new_message", "chatId": chat, "message": "three", "id": 3 });
    alice.send(three).await;
    // Each node holds "three" behind the gap, then fills it from storage: bob (node B) and
    // alice herself (node A) get both, in order, without having to resume; then alice's ack.
    let seq = first["seq"].as_i64().expect("seq");
    for client in [&mut bob, &mut alice] {
        for (offset, content) in [(1, "lost between the nodes"), (2, "three")] {
            let got = client.expect("new_message").await;
            let message = &got["message"];
            let expected = (Some(seq + offset), &json!(content));
            assert_eq!((message["seq"].as_i64(), &message["content"]), expected);
        }
    }
    assert_eq!(alice.expect("ack").await["id"], 3);
    bob.expect_nothing_pending().await;
    let (_, metrics) = node_b.http_text("/metrics").await;
    assert!(
        metrics.contains("hellocode_broker_events_total{outcome=\"filled_from_storage\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("hellocode_broker_resyncs_total 0\n"), "{metrics}");
    storage.close().await;
}

/// The next frame past a `chat_created` that may still be on its way: a `new_message`.
async fn past_creation(client: &mut crate::harness::Client) -> Value {
    let mut frame = client.recv().await;
    if frame["command"] == "chat_created" {
        frame = client.recv().await;
    }
    assert_eq!(frame["command"], "new_message", "{frame}");
    frame
}
