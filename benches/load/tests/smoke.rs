//! The load generator's smoke mode, run by CI so the harness cannot rot: a few hundred messages
//! through a real server on SQLite, and nothing may be lost, duplicated or reordered; the same
//! through two nodes sharing the database and a `redis-server` of the test's own.

use std::time::Duration;

use hellocode_core::testing::{TempDir, service_unavailable};
use hellocode_load::{
    FanoutConfig, IdleConfig, Nodes, StormConfig, Target, fanout, fanout_across, idle, storm,
};
use hellocode_server::{Server, Settings, open_storage};

async fn server(dir: &TempDir) -> Server {
    node(dir, None).await
}

/// A server on the SQLite database in `dir`; with `broker`, one node of a deployment.
async fn node(dir: &TempDir, broker: Option<&str>) -> Server {
    let storage = open_storage(&dir.sqlite_url(), 4).await.expect("storage");
    // The idle scenario opens all its connections as one user.
    let settings = Settings {
        rate_per_second: 100_000,
        rate_burst: 100_000,
        max_connections_per_user: 1_000,
        ..Settings::without_abuse_limits()
    };
    Server::start_node(
        storage,
        b"smoke-test-secret-of-at-least-32-bytes",
        settings,
        ([127, 0, 0, 1], 0).into(),
        broker,
    )
    .await
    .expect("server")
}

/// Two rooms of ten clients, two senders each at 60 msg/s for 2 s: a few hundred messages.
fn small_fanout(target: Target, server_pid: u32) -> FanoutConfig {
    FanoutConfig {
        rooms: 2,
        clients: 10,
        senders: 2,
        rate: 60.0,
        duration: Duration::from_secs(2),
        drain: Duration::from_secs(20),
        server_pid: Some(server_pid),
        user_prefix: "smoke".into(),
        target,
        acknowledged: target == Target::HelloCode,
        token_cache: None,
        offline: 0,
        pusher_url: None,
    }
}

/// What every HelloCode fan-out run must show.
fn assert_nothing_lost(report: &hellocode_load::FanoutReport) {
    assert!(report.messages_sent >= 200, "a few hundred messages: {}", report.messages_sent);
    assert_eq!(report.connections_opened, 20);
    assert_eq!(
        report.deliveries_expected,
        report.messages_sent * 10,
        "each room's 10 clients get its messages"
    );
    assert_eq!(report.lost(), 0);
    assert_eq!(report.duplicated(), 0);
    assert_eq!(report.out_of_order, 0);
    assert_eq!(report.receivers_timed_out, 0);
    assert!(report.latency.max_us > 0 && report.latency.p50_us <= report.latency.max_us);
    assert_eq!(
        report.messages_acknowledged, report.messages_sent,
        "every send acknowledged after its commit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_smoke_loses_nothing() {
    let dir = TempDir::new();
    let server = server(&dir).await;
    let cache = dir.0.join("tokens");
    let config = FanoutConfig {
        token_cache: Some(cache.clone()),
        ..small_fanout(Target::HelloCode, std::process::id())
    };
    let report = fanout(server.local_addr(), config.clone()).await.expect("run");
    println!("{report}");
    assert_nothing_lost(&report);
    let cached = std::fs::read_to_string(&cache).expect("token cache written");
    assert_eq!(cached.lines().count(), 20, "one token per user");

    // A rerun against the same server reuses the tokens: no user is registered again.
    let report = fanout(server.local_addr(), config).await.expect("rerun");
    assert_nothing_lost(&report);
    assert_eq!(std::fs::read_to_string(&cache).expect("token cache"), cached);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_smoke_opens_every_connection() {
    let dir = TempDir::new();
    let server = server(&dir).await;
    let config = IdleConfig {
        connections: 200,
        server_pid: Some(std::process::id()),
        settle: Duration::ZERO,
        target: Default::default(),
    };
    let report = idle(server.local_addr(), config).await.expect("run");
    assert_eq!((report.opened, report.failed), (200, 0));
    assert!(report.rss_idle_kib.is_some(), "memory is read from /proc");
    server.shutdown().await;
}

/// The bare baseline binary, on a free port, killed on drop.
struct Bare(std::process::Child, std::net::SocketAddr);

impl Bare {
    fn start() -> Bare {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hellocode-bare"))
            .arg("127.0.0.1:0")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start hellocode-bare");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).expect("its address");
        let addr = line.trim().rsplit(' ').next().and_then(|a| a.parse().ok()).expect("an address");
        Bare(child, addr)
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bare_baseline_runs_in_the_same_harness() {
    let bare = Bare::start();
    let config = small_fanout(Target::Bare, bare.0.id());
    let report = fanout(bare.1, config).await.expect("run");
    assert!(report.messages_sent >= 200);
    assert_eq!(report.deliveries_expected, report.messages_sent * 10);
    assert_eq!((report.lost(), report.duplicated(), report.out_of_order), (0, 0, 0));
    assert!(report.rss_idle_kib.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_smoke_resumes_everything_once() {
    let dir = TempDir::new();
    let server = server(&dir).await;
    let config = StormConfig {
        rooms: 2,
        users: 3,
        devices: 2,
        warmup: 3,
        missed: 5,
        outage: Duration::from_millis(300),
        proxies: 2,
        user_prefix: "storm".into(),
        server_pid: Some(std::process::id()),
        deadline: Duration::from_secs(60),
        max_backoff: Duration::from_millis(500),
        proxy_program: env!("CARGO_BIN_EXE_hellocode-load").into(),
        token_cache: None,
    };
    let report = storm(server.local_addr(), config).await.expect("run");
    println!("{report}");
    assert_eq!(report.clients, 12);
    assert!(report.reconnect_attempts >= 12, "every client was cut: {}", report.reconnect_attempts);
    assert_eq!(report.stragglers, 0);
    assert_eq!(report.duplicated, 0);
    assert_eq!(report.out_of_order, 0);
    server.shutdown().await;
}

/// A `redis-server` of the test's own on a free loopback port, keeping nothing on disk; killed
/// on drop.
struct Redis(std::process::Child, u16);

impl Redis {
    /// `None` (the skip reported) when there is no `redis-server` binary.
    fn start() -> Option<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let spawned = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let redis = match spawned {
            Ok(child) => Redis(child, port),
            Err(err) => {
                service_unavailable("redis-server (the binary)", &err);
                return None;
            }
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not start on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.1)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_across_two_nodes_loses_nothing_and_splits_the_latency() {
    let Some(redis) = Redis::start() else { return };
    let dir = TempDir::new();
    let first = node(&dir, Some(&redis.url())).await;
    let second = node(&dir, Some(&redis.url())).await;
    let nodes = Nodes::new(&[first.local_addr(), second.local_addr()]).expect("nodes");
    // The run waits for both nodes' subscriptions to Redis before it starts.
    let report = fanout_across(&nodes, small_fanout(Target::HelloCode, std::process::id()))
        .await
        .expect("run");
    println!("{report}");
    assert_nothing_lost(&report);
    let split = report.nodes.expect("the latency split by node");
    assert_eq!(split.nodes, 2);
    // Two senders per room, one on each node: every receiver hears one of them across.
    assert!(split.deliveries_same_node > 0 && split.deliveries_cross_node > 0, "{split:?}");
    assert_eq!(
        split.deliveries_same_node + split.deliveries_cross_node,
        report.deliveries_received
    );
    assert!(split.latency_cross_node.p50_us > 0);
    first.shutdown().await;
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_a_broker_is_refused_before_the_run() {
    let dir = TempDir::new();
    let (first, second) = (server(&dir).await, server(&dir).await);
    let nodes = Nodes::new(&[first.local_addr(), second.local_addr()]).expect("nodes");
    let refused = fanout_across(&nodes, small_fanout(Target::HelloCode, std::process::id())).await;
    let error = refused.expect_err("two nodes that do not hear each other");
    assert!(error.to_string().contains("--broker"), "{error}");
    first.shutdown().await;
    second.shutdown().await;
}
