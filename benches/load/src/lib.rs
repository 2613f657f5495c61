//! HelloCode's load generator: drives a real server over WebSocket on loopback.
//!
//! - [`idle`] opens N authenticated connections and reports the server's memory per connection
//!   (resident set from `/proc/PID/status`).
//! - [`fanout`] runs R rooms × C clients with S senders per room at a fixed rate, each message
//!   carrying its sender, a per-sender number and its send time, and reports deliveries, loss,
//!   duplicates, reordering and end-to-end latency. [`fanout_across`] spreads the clients over
//!   several nodes of one deployment ([`nodes`]) and splits the latency into deliveries on the
//!   sender's node and deliveries that crossed to another node.
//! - [`storm`] drops thousands of SDK clients at once and reports how long they take to
//!   reconnect and resume everything they missed.
//!
//! The receive path scans frames for the few fields it needs instead of parsing JSON, so that
//! the generator's own cost per frame stays small.

pub mod http;
pub mod nodes;
pub mod proxy;
mod report;
mod scan;
mod storm;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use nodes::SplitLatency;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use nodes::Nodes;
pub use report::{FanoutReport, IdleReport, Latency, NodeSplit};
pub use storm::{StormConfig, StormReport, storm};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connections opened at once.
const CONNECT_PARALLELISM: usize = 256;

/// Resident memory of a process, in KiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time a process has used so far (user + system, all threads), in seconds: fields 14 and
/// 15 of `/proc/PID/stat`, in clock ticks of 1/100 s (Linux's `USER_HZ`, fixed for userspace).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let user: u64 = fields.nth(11)?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// Open a WebSocket with a small client-side read buffer (the generator holds many).
async fn connect_url(url: &str) -> anyhow::Result<Socket> {
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .context("websocket connect")?;
    Ok(socket)
}

/// Send a ping command and wait for its pong: the connection is registered and served.
async fn ready(socket: &mut Socket) -> anyhow::Result<()> {
    socket.send(Message::text(r#"{"command":"ping","id":"ready"}"#)).await?;
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message?
            && text.contains(r#""command":"pong""#)
        {
            return Ok(());
        }
    }
    anyhow::bail!("closed before pong")
}

/// Settings of an idle run.
#[derive(Debug, Clone)]
pub struct IdleConfig {
    /// Connections to open.
    pub connections: usize,
    /// Server process to measure, if any.
    pub server_pid: Option<u32>,
    /// How long to hold the connections before measuring.
    pub settle: Duration,
    /// The server kind.
    pub target: Target,
}

/// Open `connections` idle, authenticated connections and measure the server's memory.
pub async fn idle(addr: SocketAddr, config: IdleConfig) -> anyhow::Result<IdleReport> {
    let url = match config.target {
        Target::HelloCode => {
            format!("ws://{addr}/ws?token={}", http::user(addr, "idle_user").await?)
        }
        Target::Bare => format!("ws://{addr}/room/0"),
    };
    let rss_before = config.server_pid.and_then(rss_kib);
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(CONNECT_PARALLELISM));
    let mut tasks = Vec::with_capacity(config.connections);
    for _ in 0..config.connections {
        let (gate, url, target) = (gate.clone(), url.clone(), config.target);
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let mut socket = connect_url(&url).await?;
            if target == Target::HelloCode {
                ready(&mut socket).await?;
            }
            Ok::<_, anyhow::Error>(socket)
        }));
    }
    let mut sockets = Vec::with_capacity(config.connections);
    let mut failed = 0;
    for task in tasks {
        match task.await? {
            Ok(socket) => sockets.push(socket),
            Err(_) => failed += 1,
        }
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(config.settle).await;
    let rss_idle = config.server_pid.and_then(rss_kib);
    let opened = sockets.len();
    drop(sockets);
    Ok(IdleReport {
        opened,
        failed,
        connect_time,
        rss_before_kib: rss_before,
        rss_idle_kib: rss_idle,
    })
}

/// Which server the generator drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// A HelloCode server: users registered over REST, rooms are chats, `/ws?token=`.
    #[default]
    HelloCode,
    /// The bare broadcast baseline (`hellocode-bare`): `/room/<n>`, no setup.
    Bare,
}

/// Settings of a fan-out run.
#[derive(Debug, Clone)]
pub struct FanoutConfig {
    /// Rooms (chats).
    pub rooms: usize,
    /// Clients per room, senders included.
    pub clients: usize,
    /// Senders per room.
    pub senders: usize,
    /// Messages per second per sender.
    pub rate: f64,
    /// How long the senders send.
    pub duration: Duration,
    /// How long to wait for stragglers after the last send.
    pub drain: Duration,
    /// Server process to measure, if any.
    pub server_pid: Option<u32>,
    /// Prefix of generated usernames (distinct per run on a persistent server).
    pub user_prefix: String,
    /// The server kind.
    pub target: Target,
    /// Send with request ids and count the acks, which HelloCode sends only after the commit.
    pub acknowledged: bool,
    /// Where to keep the users' tokens between runs ([`http::TokenCache`]).
    pub token_cache: Option<std::path::PathBuf>,
    /// Members per room who never connect (HelloCode only): each post notifies their pushers.
    pub offline: usize,
    /// With `offline`: the push gateway each offline member registers a pusher at (a
    /// `.../_matrix/push/v1/notify` URL); without, they have no pusher.
    pub pusher_url: Option<String>,
}

struct Receiver {
    histogram: Histogram<u64>,
    /// With several nodes: the same latencies, by whether the sender sat on this node.
    split: Option<SplitLatency>,
    acks: u64,
    acks_in_window: u64,
    received: u64,
    unique: u64,
    out_of_order: u64,
    in_window: u64,
    last_seq: i64,
    /// Next expected number per sender of the room.
    next: Vec<u64>,
}

/// Run the fan-out scenario against one server.
pub async fn fanout(addr: SocketAddr, config: FanoutConfig) -> anyhow::Result<FanoutReport> {
    fanout_across(&Nodes::new(&[addr])?, config).await
}

/// Run the fan-out scenario against the nodes of one deployment, each room's clients spread
/// round-robin over them ([`Nodes::node_of`]); users and rooms are made through
/// [`Nodes::rest`]. With one node this is [`fanout`].
pub async fn fanout_across(nodes: &Nodes, config: FanoutConfig) -> anyhow::Result<FanoutReport> {
    anyhow::ensure!(
        config.senders >= 1 && config.senders <= config.clients,
        "need 1 ≤ senders ≤ clients"
    );
    anyhow::ensure!(
        !(nodes.several() && config.target == Target::Bare),
        "the bare baseline has no broker between nodes: drive one"
    );
    if nodes.several() {
        nodes.wait_for_broker().await?;
    }
    let addr = nodes.rest();

    // Users, rooms and connections.
    let setup = Instant::now();
    let mut cache = http::TokenCache::open(config.token_cache.clone())?;
    let mut rooms = Vec::with_capacity(config.rooms);
    for room in 0..config.rooms {
        if config.target == Target::Bare {
            rooms.push((room as i64, vec![String::new(); config.clients]));
            continue;
        }
        let members = config.clients + config.offline;
        let names: Vec<String> =
            (0..members).map(|i| format!("{}{room}_{i}", config.user_prefix)).collect();
        let mut tokens = http::users(addr, &names, &mut cache).await?;
        let chat = http::chat(addr, &tokens[0], &names[1..]).await?;
        // The offline members: a pusher each, and no connection.
        for (n, token) in tokens.drain(config.clients..).enumerate() {
            if let Some(url) = &config.pusher_url {
                let pusher = serde_json::json!({
                    "appId": "org.example.load", "pushkey": format!("{room}-{n}"), "url": url,
                });
                let (status, body) =
                    http::post(addr, "/api/pushers/", Some(&token), &pusher).await?;
                anyhow::ensure!(status == 200, "set_pusher answered {status}: {body}");
            }
        }
        rooms.push((chat, tokens));
    }
    // Measured once the users exist: registering is not part of a connection's cost.
    let rss_before = config.server_pid.and_then(rss_kib);
    let connect_started = Instant::now();
    let gate = Arc::new(Semaphore::new(CONNECT_PARALLELISM));
    let mut connecting = Vec::new();
    for (room, (chat, tokens)) in rooms.iter().enumerate() {
        for (index, token) in tokens.iter().enumerate() {
            let (gate, token, chat, target) = (gate.clone(), token.clone(), *chat, config.target);
            let node = nodes.node_of(room * config.clients + index);
            let addr = nodes.addr(node);
            connecting.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await?;
                let mut socket = match target {
                    Target::HelloCode => {
                        connect_url(&format!("ws://{addr}/ws?token={token}")).await?
                    }
                    Target::Bare => connect_url(&format!("ws://{addr}/room/{chat}")).await?,
                };
                if target == Target::HelloCode {
                    ready(&mut socket).await?;
                }
                Ok::<_, anyhow::Error>((room, index, node, chat, socket))
            }));
        }
    }
    let mut connections = Vec::new();
    let mut failed = 0;
    for task in connecting {
        match task.await? {
            Ok(connection) => connections.push(connection),
            Err(_) => failed += 1,
        }
    }
    let connect_time = connect_started.elapsed();
    let rss_idle = config.server_pid.and_then(rss_kib);

    // Receivers on every connection; senders on the first `senders` of each room.
    let window_open = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(tokio::sync::Notify::new());
    // Flips to true once the expected counts are known, so receivers re-check them.
    let (counted, counted_rx) = tokio::sync::watch::channel(false);
    // What each receiver of a room must see; unknown (MAX) until the senders are done.
    let expected: Arc<Vec<AtomicU64>> =
        Arc::new((0..config.rooms).map(|_| AtomicU64::new(u64::MAX)).collect());
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    let start = Instant::now() + Duration::from_millis(200);
    for (room, index, node, chat, socket) in connections {
        let (sink, stream) = socket.split();
        let sent_here = (index < config.senders).then(|| Arc::new(AtomicU64::new(0)));
        if let Some(sent_here) = &sent_here {
            senders.push((
                room,
                tokio::spawn(send_loop(
                    sink,
                    Schedule {
                        target: config.target,
                        acknowledged: config.acknowledged,
                        chat,
                        room,
                        sender: index,
                        rate: config.rate,
                        start,
                        duration: config.duration,
                        sent: sent_here.clone(),
                    },
                )),
            ));
        } else {
            // Non-senders keep their sink so the connection stays open.
            tokio::spawn(hold(sink));
        }
        receivers.push((
            room,
            tokio::spawn(receive_loop(
                stream,
                Shared {
                    senders: config.senders,
                    window_open: window_open.clone(),
                    expected: expected.clone(),
                    room,
                    stop: stop.clone(),
                    counted: counted_rx.clone(),
                    check_seq: config.target == Target::HelloCode,
                    acks_expected: sent_here.filter(|_| config.acknowledged),
                    locality: nodes.several().then(|| Locality {
                        node,
                        sender_nodes: (0..config.senders)
                            .map(|sender| nodes.node_of(room * config.clients + sender))
                            .collect(),
                    }),
                },
            )),
        ));
    }
    tokio::time::sleep_until(start.into()).await;
    // The server's CPU from the window's opening until the last delivery (or the drain
    // deadline): what sending, storing and delivering these messages cost it.
    let cpu_start = config.server_pid.and_then(cpu_seconds);
    window_open.store(true, Ordering::Relaxed);
    let mut sent_by_room = vec![0u64; config.rooms];
    for (room, sender) in senders {
        sent_by_room[room] += sender.await??;
    }
    let window = start.elapsed();
    window_open.store(false, Ordering::Relaxed);
    let sent: u64 = sent_by_room.iter().sum();
    // Every receiver of a room (its senders included) must see every message of the room.
    for (room, count) in sent_by_room.iter().enumerate() {
        expected[room].store(*count, Ordering::Relaxed);
    }
    let _ = counted.send(true);
    let receivers_by_room =
        receivers.iter().fold(vec![0u64; config.rooms], |mut counts, (room, _)| {
            counts[*room] += 1;
            counts
        });
    let deliveries_expected: u64 =
        sent_by_room.iter().zip(&receivers_by_room).map(|(sent, receivers)| sent * receivers).sum();
    let drain_deadline = tokio::time::Instant::now() + config.drain;
    let mut merged = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut merged_split = nodes.several().then(SplitLatency::new).transpose()?;
    let mut report = FanoutReport {
        rooms: config.rooms,
        clients_per_room: config.clients,
        senders_per_room: config.senders,
        rate_per_sender: config.rate,
        connections_opened: receivers.len(),
        connections_failed: failed,
        setup_time: connect_started.duration_since(setup),
        connect_time,
        messages_sent: sent,
        deliveries_expected,
        window,
        rss_before_kib: rss_before,
        rss_idle_kib: rss_idle,
        ..FanoutReport::default()
    };
    let stopper = tokio::spawn(async move {
        tokio::time::sleep_until(drain_deadline).await;
        stop.notify_waiters();
    });
    for (_, receiver) in receivers {
        let Ok(Ok((receiver, complete))) = receiver.await else {
            report.receivers_timed_out += 1;
            continue;
        };
        if !complete {
            report.receivers_timed_out += 1;
        }
        report.deliveries_received += receiver.received;
        report.deliveries_unique += receiver.unique;
        report.out_of_order += receiver.out_of_order;
        report.deliveries_in_window += receiver.in_window;
        report.messages_acknowledged += receiver.acks;
        report.acks_in_window += receiver.acks_in_window;
        merged.add(&receiver.histogram)?;
        if let (Some(merged), Some(split)) = (&mut merged_split, &receiver.split) {
            merged.add(split)?;
        }
    }
    stopper.abort();
    report.server_cpu_s =
        cpu_start.zip(config.server_pid.and_then(cpu_seconds)).map(|(start, end)| end - start);
    report.rss_end_kib = config.server_pid.and_then(rss_kib);
    report.latency = Latency::from(&merged);
    report.nodes = merged_split.map(|split| NodeSplit {
        nodes: nodes.count(),
        deliveries_same_node: split.same_node.len(),
        deliveries_cross_node: split.cross_node.len(),
        latency_same_node: Latency::from(&split.same_node),
        latency_cross_node: Latency::from(&split.cross_node),
        deliveries_per_second: report.deliveries_per_second(),
    });
    Ok(report)
}

async fn hold(mut sink: SplitSink<Socket, Message>) {
    // Never sends; ends when the run's runtime ends.
    std::future::pending::<()>().await;
    let _ = sink.close().await;
}

/// One sender's schedule.
struct Schedule {
    target: Target,
    acknowledged: bool,
    chat: i64,
    room: usize,
    sender: usize,
    rate: f64,
    start: Instant,
    duration: Duration,
    /// How many it has sent so far (its receiver waits for as many acks).
    sent: Arc<AtomicU64>,
}

async fn send_loop(
    mut sink: SplitSink<Socket, Message>,
    schedule: Schedule,
) -> anyhow::Result<u64> {
    let Schedule { target, acknowledged, chat, room, sender, rate, start, duration, sent: shared } =
        schedule;
    tokio::time::sleep_until(start.into()).await;
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let elapsed = start.elapsed();
        if elapsed >= duration {
            break;
        }
        let due = (elapsed.as_secs_f64() * rate) as u64;
        while sent < due {
            // content: "<room>:<sender>:<n>:<send time in µs>"
            let content = format!("{room}:{sender}:{sent}:{}", now_micros());
            let frame = match target {
                // With an id, the server acknowledges each message once it is committed.
                Target::HelloCode if acknowledged => format!(
                    r#"{{"command":"new_message","id":{sent},"chatId":{chat},"message":"{content}"}}"#
                ),
                Target::HelloCode => {
                    format!(r#"{{"command":"new_message","chatId":{chat},"message":"{content}"}}"#)
                }
                // The bare server relays frames as they are: send what HelloCode would deliver.
                Target::Bare => format!(
                    r#"{{"command":"new_message","message":{{"chatId":{chat},"seq":0,"author":"bare","content":"{content}"}}}}"#
                ),
            };
            sink.feed(Message::text(frame)).await?;
            sent += 1;
            shared.store(sent, Ordering::Relaxed);
        }
        sink.flush().await?;
    }
    Ok(sent)
}

/// What a receiver shares with the run.
struct Shared {
    senders: usize,
    window_open: Arc<AtomicBool>,
    expected: Arc<Vec<AtomicU64>>,
    room: usize,
    stop: Arc<tokio::sync::Notify>,
    counted: tokio::sync::watch::Receiver<bool>,
    /// The bare baseline has no room-wide sequence; per-sender order is checked always.
    check_seq: bool,
    /// For a sender's connection in acknowledged mode: how many acks to wait for.
    acks_expected: Option<Arc<AtomicU64>>,
    /// With several nodes: where this receiver and its room's senders sit.
    locality: Option<Locality>,
}

/// Where a receiver and the senders of its room sit, with several nodes.
struct Locality {
    /// This receiver's node.
    node: usize,
    /// The node of each sender of the room, by sender number.
    sender_nodes: Vec<usize>,
}

impl Locality {
    /// Whether a delivery from `sender` came from another node (through the broker); `None`
    /// for a sender number the room does not have.
    fn crossed(&self, sender: usize) -> Option<bool> {
        self.sender_nodes.get(sender).map(|node| *node != self.node)
    }
}

impl Shared {
    /// Everything this receiver should get has arrived (known once the senders are done).
    fn complete(&self, receiver: &Receiver) -> bool {
        receiver.unique >= self.expected[self.room].load(Ordering::Relaxed)
            && self.acks_expected.as_ref().is_none_or(|sent| {
                *self.counted.borrow() && receiver.acks >= sent.load(Ordering::Relaxed)
            })
    }
}

async fn receive_loop(
    mut stream: SplitStream<Socket>,
    mut shared: Shared,
) -> anyhow::Result<(Receiver, bool)> {
    let mut receiver = Receiver {
        histogram: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        split: shared.locality.as_ref().map(|_| SplitLatency::new()).transpose()?,
        acks: 0,
        acks_in_window: 0,
        received: 0,
        unique: 0,
        out_of_order: 0,
        in_window: 0,
        last_seq: 0,
        next: vec![0; shared.senders],
    };
    let stop = shared.stop.clone();
    let stopped = stop.notified();
    tokio::pin!(stopped);
    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            () = &mut stopped => return Ok((receiver, false)),
            Ok(()) = shared.counted.changed() => {
                if shared.complete(&receiver) {
                    return Ok((receiver, true));
                }
                continue;
            }
        };
        let Some(message) = message else { return Ok((receiver, false)) };
        let Message::Text(text) = message? else { continue };
        if text.starts_with(r#"{"command":"ack""#) {
            receiver.acks += 1;
            if shared.window_open.load(Ordering::Relaxed) {
                receiver.acks_in_window += 1;
            }
            if shared.complete(&receiver) {
                return Ok((receiver, true));
            }
            continue;
        }
        let Some(event) = scan::new_message(&text) else { continue };
        let now = now_micros();
        receiver.received += 1;
        if shared.window_open.load(Ordering::Relaxed) {
            receiver.in_window += 1;
        }
        let latency = now.saturating_sub(event.sent_micros).max(1);
        let _ = receiver.histogram.record(latency);
        if let (Some(split), Some(crossed)) = (
            &mut receiver.split,
            shared.locality.as_ref().and_then(|locality| locality.crossed(event.sender)),
        ) {
            split.record(crossed, latency);
        }
        if shared.check_seq && event.seq <= receiver.last_seq {
            receiver.out_of_order += 1;
        }
        receiver.last_seq = receiver.last_seq.max(event.seq);
        if let Some(next) = receiver.next.get_mut(event.sender) {
            if event.number == *next {
                *next += 1;
                receiver.unique += 1;
            } else if event.number > *next {
                receiver.out_of_order += 1;
                receiver.unique += 1;
                *next = event.number + 1;
            } else {
                receiver.out_of_order += 1;
            }
        }
        if shared.complete(&receiver) {
            return Ok((receiver, true));
        }
    }
}
