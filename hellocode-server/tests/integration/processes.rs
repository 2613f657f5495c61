//! A deployment as it runs: three `hellocode-server` processes on loopback ports, one Postgres
//! database, and a Redis this test starts itself. Clients (the Rust SDK, each given every node,
//! its own first) chat in two rooms; every client must receive every message once, in order,
//! while one node is killed with SIGKILL (its clients fail over and resume) and while Redis is
//! restarted mid-traffic.

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hellocode_core::testing::{PgDatabase, TempDir};
use hellocode_sdk::{ChatId, Client, ClientConfig, Credentials, Event, Failover, Message};

use crate::harness::{http, raw_http};
use crate::nodes::Redis;

/// Messages each client sends to each of its rooms in each phase.
const EACH: usize = 5;
/// How long the clients may take to receive what was sent (a hang guard).
const PATIENCE: Duration = Duration::from_secs(60);

/// One `hellocode-server` process.
struct Node {
    process: Child,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Node {
    fn start(database: &str, redis: &str) -> Node {
        let addr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port");
        let dir = TempDir::new();
        let process = Command::new(env!("CARGO_BIN_EXE_hellocode-server"))
            .args(["--addr", &addr.to_string(), "--database", database, "--broker", redis])
            .args(["--secret", "three-processes-test-secret-of-32-bytes"])
            .arg("--data-dir")
            .arg(&dir.0)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hellocode-server");
        Node { process, addr, _dir: dir }
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// SIGKILL: no close frame, no flush, no goodbye.
    fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }

    /// Wait until it serves and its broker is subscribed.
    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(self.addr).is_ok() {
                let (status, health) = http(self.addr, "GET", "/healthz", None, None).await;
                if status == 200 && health["checks"]["broker"] == "ok" {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "node {} did not come up", self.addr);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client, the messages it has received (by chat), and the presence changes it was told.
struct Member {
    client: Client,
    received: Arc<Mutex<HashMap<ChatId, Vec<Message>>>>,
    presence: Arc<Mutex<Vec<(String, bool)>>>,
}

impl Member {
    /// Register `name` through a failover list starting at node `first`.
    async fn join(nodes: &[Node], first: usize, name: &str) -> Member {
        let urls: Vec<String> =
            (0..nodes.len()).map(|i| nodes[(first + i) % nodes.len()].url()).collect();
        Member::join_through(&urls, name).await
    }

    /// Register `name` through these nodes only.
    async fn join_through(urls: &[String], name: &str) -> Member {
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let transport = Failover::websocket(&urls).expect("urls");
        let credentials =
            Credentials::register(name, format!("{name}@example.org"), "correct horse battery");
        let mut config = ClientConfig::default();
        config.reconnect.initial = Duration::from_millis(20);
        config.reconnect.max = Duration::from_millis(500);
        config.request_timeout = Duration::from_secs(30);
        let client = Client::connect_with(transport, credentials, config).await.expect("connect");
        let received = Arc::new(Mutex::new(HashMap::<ChatId, Vec<Message>>::new()));
        let presence = Arc::new(Mutex::new(Vec::new()));
        let mut events = client.events();
        let (sink, told) = (received.clone(), presence.clone());
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                match event {
                    Event::Message(message) => {
                        let mut received = sink.lock().unwrap_or_else(|e| e.into_inner());
                        received.entry(message.chat_id).or_default().push(message);
                    }
                    Event::Presence { username, online } => {
                        told.lock().unwrap_or_else(|e| e.into_inner()).push((username, online));
                    }
                    _ => {}
                }
            }
        });
        Member { client, received, presence }
    }

    fn count(&self, chat: ChatId) -> usize {
        self.received.lock().unwrap_or_else(|e| e.into_inner()).get(&chat).map_or(0, Vec::len)
    }
}

/// Every member sends `EACH` messages to each of its rooms, all at once; returns what was
/// acknowledged (the SDK resends across reconnections, so every send must succeed).
async fn chatter(members: &[Member], rooms: &[(ChatId, Vec<usize>)], phase: &str) -> Vec<String> {
    let mut sends = Vec::new();
    for (room, people) in rooms {
        for &who in people {
            for i in 0..EACH {
                let text = format!("{phase} {room} {who} {i}");
                sends.push(members[who].client.send(*room, text));
            }
        }
    }
    let sent = futures_util::future::join_all(sends).await;
    sent.into_iter().map(|sent| sent.expect("acknowledged").content).collect()
}

/// Wait until every member has received `expected` messages in each of its rooms.
async fn everyone_received(
    members: &[Member],
    rooms: &[(ChatId, Vec<usize>)],
    expected: &HashMap<ChatId, usize>,
) {
    let deadline = Instant::now() + PATIENCE;
    for (room, people) in rooms {
        for &who in people {
            while members[who].count(*room) < expected[room] {
                assert!(
                    Instant::now() < deadline,
                    "member {who} received {} of {} in room {room}",
                    members[who].count(*room),
                    expected[room]
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_lose_nothing_when_a_node_is_killed_or_redis_restarts() {
    let Some(database) = PgDatabase::create().await else { return };
    let Some(mut redis) = Redis::start() else { return };
    let mut nodes: Vec<Node> = (0..3).map(|_| Node::start(&database.url, &redis.url())).collect();
    for node in &nodes {
        node.ready().await;
    }
    // Six people, two on each node; room 1 has all of them, room 2 four.
    let mut members = Vec::new();
    for i in 0..6 {
        members.push(Member::join(&nodes, i % 3, &format!("user{i}")).await);
    }
    let names = |people: &[usize]| people.iter().map(|i| format!("user{i}")).collect::<Vec<_>>();
    let mut rooms = Vec::new();
    for people in [vec![0, 1, 2, 3, 4, 5], vec![1, 2, 3, 5]] {
        let creator = &members[people[0]].client;
        let room = creator.create_group("room", names(&people[1..])).await.expect("room").id;
        rooms.push((room, people));
    }
    // Someone connected to node 0 only, sharing a chat with user1 (on node 1): when node 0
    // dies the other nodes take its connections out of the counts, and user1 is told.
    let lonely = Member::join_through(&[nodes[0].url()], "lonely").await;
    lonely.client.create_chat(vec!["user1".into()]).await.expect("chat with user1");
    let mut sent: HashMap<ChatId, BTreeSet<String>> = HashMap::new();
    let mut record = |texts: Vec<String>| {
        for text in texts {
            let room = text.split(' ').nth(1).and_then(|id| id.parse().ok()).expect("room id");
            sent.entry(ChatId(room)).or_default().insert(text);
        }
        sent.iter().map(|(room, texts)| (*room, texts.len())).collect::<HashMap<_, _>>()
    };

    // Everyone up: each message crosses to the other nodes.
    let expected = record(chatter(&members, &rooms, "steady").await);
    everyone_received(&members, &rooms, &expected).await;

    // Node 0 is killed mid-traffic: its clients fail over to another node and resume.
    let traffic = chatter(&members, &rooms, "kill");
    let kill = async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        nodes[0].kill();
    };
    let (texts, ()) = tokio::join!(traffic, kill);
    let expected = record(texts);
    everyone_received(&members, &rooms, &expected).await;
    let deadline = Instant::now() + PATIENCE;
    let told = || members[1].presence.lock().unwrap_or_else(|e| e.into_inner()).clone();
    while told().last() != Some(&("lonely".to_owned(), false)) {
        assert!(Instant::now() < deadline, "user1 was not told lonely left: {:?}", told());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(lonely);

    // Redis restarts mid-traffic (empty): the nodes resubscribe and their clients resume.
    let port = redis.port;
    let traffic = chatter(&members, &rooms, "redis");
    let restart = async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        redis.kill();
        tokio::time::sleep(Duration::from_millis(500)).await;
        Redis::on(port).expect("redis restarts on its port")
    };
    let (texts, _redis) = tokio::join!(traffic, restart);
    let expected = record(texts);
    everyone_received(&members, &rooms, &expected).await;
    for node in &nodes[1..] {
        let (_, metrics) = raw_http(node.addr, "GET", "/metrics", None, None).await;
        let metrics = String::from_utf8_lossy(&metrics);
        let resyncs = metrics
            .lines()
            .find_map(|line| line.strip_prefix("hellocode_broker_resyncs_total "))
            .and_then(|count| count.parse::<u64>().ok());
        assert!(resyncs >= Some(1), "node {} made its clients resume: {resyncs:?}", node.addr);
    }

    // Every member got every message of its rooms once, in sequence order, and nothing else.
    for (room, people) in &rooms {
        for &who in people {
            let received = members[who].received.lock().unwrap_or_else(|e| e.into_inner());
            let got = &received[room];
            let seqs: Vec<i64> = got.iter().map(|message| message.seq.0).collect();
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "member {who}, room {room}: {seqs:?}");
            let texts: BTreeSet<String> = got.iter().map(|m| m.content.clone()).collect();
            assert_eq!(texts.len(), got.len(), "member {who}, room {room}: a message twice");
            assert_eq!(&texts, &sent[room], "member {who}, room {room}");
        }
    }
    for member in &members {
        member.client.close().await;
    }
    nodes.clear();
}
