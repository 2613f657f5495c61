//! Reconnect storm: thousands of SDK clients dropped at once reconnect, re-authenticate and
//! resume while messages keep being posted; reports how long until every client is connected
//! again and has every message, and whether anything was lost, duplicated or reordered.
//!
//! Receivers connect through proxy processes (`hellocode-load proxy`, spawned here) that cut
//! every connection at once and refuse new ones for the outage; one sender per room connects
//! directly and posts during the outage, so every receiver has messages to resume.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hellocode_sdk::{
    ChatId, Client, ClientConfig, ConnectionState, Credentials, Event, WebSocketTransport,
};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

use crate::{cpu_seconds, http, rss_kib};

/// Settings of a storm run.
#[derive(Debug, Clone)]
pub struct StormConfig {
    /// Rooms (chats).
    pub rooms: usize,
    /// Receiving users per room.
    pub users: usize,
    /// Connections (devices) per receiving user.
    pub devices: usize,
    /// Messages per room before the cut (all must arrive before it).
    pub warmup: u64,
    /// Messages per room posted during the outage.
    pub missed: u64,
    /// How long the proxies refuse connections.
    pub outage: Duration,
    /// Proxy processes.
    pub proxies: usize,
    /// Prefix of generated usernames.
    pub user_prefix: String,
    /// Server process to measure, if any.
    pub server_pid: Option<u32>,
    /// Give up waiting for recovery after this long.
    pub deadline: Duration,
    /// The `hellocode-load` executable to run the proxies with.
    pub proxy_program: std::path::PathBuf,
    /// Where to keep the users' tokens between runs ([`http::TokenCache`]).
    pub token_cache: Option<std::path::PathBuf>,
    /// Longest delay between reconnection attempts (the SDK's default is 30 s; a short one
    /// shows the server's own recovery time rather than the clients' backoff).
    pub max_backoff: Duration,
}

/// What a storm run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StormReport {
    /// Receiving connections (SDK clients).
    pub clients: usize,
    /// Rooms.
    pub rooms: usize,
    /// Messages each client missed during the outage.
    pub missed_per_client: u64,
    /// Outage length, ms.
    pub outage_ms: u64,
    /// From the proxies coming back until every client was connected again, ms.
    pub all_reconnected_ms: u64,
    /// From the proxies coming back until every client had every message, ms.
    pub all_caught_up_ms: u64,
    /// Reconnection attempts in all (an attempt refused during the outage counts too).
    pub reconnect_attempts: u64,
    /// Messages received twice.
    pub duplicated: u64,
    /// Messages received out of sequence order (after a gap).
    pub out_of_order: u64,
    /// Clients without every message at the deadline.
    pub stragglers: usize,
    /// Server resident memory before the storm and after recovery, KiB.
    pub rss_before_kib: Option<u64>,
    /// After recovery.
    pub rss_after_kib: Option<u64>,
    /// Server CPU (user + system) from the proxies coming back until every client had every
    /// message (or the deadline), seconds: whether the server's core or the clients' limit it.
    pub server_cpu_s: Option<f64>,
}

impl std::fmt::Display for StormReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "reconnect storm")?;
        writeln!(f, "  clients                 {}", self.clients)?;
        writeln!(f, "  rooms                   {}", self.rooms)?;
        writeln!(f, "  outage                  {} ms", self.outage_ms)?;
        writeln!(f, "  missed per client       {}", self.missed_per_client)?;
        writeln!(f, "  all reconnected after   {} ms", self.all_reconnected_ms)?;
        writeln!(f, "  all caught up after     {} ms", self.all_caught_up_ms)?;
        writeln!(f, "  reconnection attempts   {}", self.reconnect_attempts)?;
        writeln!(f, "  duplicated              {}", self.duplicated)?;
        writeln!(f, "  out of order            {}", self.out_of_order)?;
        writeln!(f, "  stragglers              {}", self.stragglers)?;
        if let (Some(before), Some(after)) = (self.rss_before_kib, self.rss_after_kib) {
            writeln!(f, "  server RSS              {before} KiB → {after} KiB")?;
        }
        if let Some(cpu) = self.server_cpu_s {
            writeln!(f, "  server CPU in recovery  {cpu:.2} s")?;
        }
        Ok(())
    }
}

/// Counters shared by every receiver.
#[derive(Default)]
struct Progress {
    connected: AtomicUsize,
    caught_up: AtomicUsize,
    attempts: AtomicU64,
    duplicated: AtomicU64,
    out_of_order: AtomicU64,
}

struct Proxy {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    url: String,
}

impl Proxy {
    async fn spawn(program: &std::path::Path, upstream: SocketAddr) -> anyhow::Result<Proxy> {
        let mut child = Command::new(program)
            .args(["--addr", &upstream.to_string(), "proxy"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("spawn proxy")?;
        let stdin = child.stdin.take().context("proxy stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("proxy stdout")?).lines();
        let line = stdout.next_line().await?.context("proxy exited")?;
        let addr = line.strip_prefix("listening ").context("proxy greeting")?;
        Ok(Proxy { child, stdin, stdout, url: format!("ws://{addr}") })
    }

    async fn command(&mut self, command: &str) -> anyhow::Result<()> {
        self.stdin.write_all(format!("{command}\n").as_bytes()).await?;
        self.stdout.next_line().await?.context("proxy exited")?;
        Ok(())
    }
}

/// Run the storm.
pub async fn storm(addr: SocketAddr, config: StormConfig) -> anyhow::Result<StormReport> {
    anyhow::ensure!(config.proxies >= 1, "at least one proxy");
    // Users: one sender and `users` receivers per room.
    let mut cache = http::TokenCache::open(config.token_cache.clone())?;
    let mut rooms = Vec::with_capacity(config.rooms);
    for room in 0..config.rooms {
        let names: Vec<String> =
            (0..=config.users).map(|i| format!("{}{room}_{i}", config.user_prefix)).collect();
        let tokens = http::users(addr, &names, &mut cache).await?;
        let chat = ChatId(http::chat(addr, &tokens[0], &names[1..]).await?);
        rooms.push((chat, tokens));
    }
    let mut proxies = Vec::new();
    for _ in 0..config.proxies {
        proxies.push(Proxy::spawn(&config.proxy_program, addr).await?);
    }

    let client_config = {
        let mut c = ClientConfig::default();
        c.request_timeout = Duration::from_secs(60);
        c.connect_timeout = Duration::from_secs(30);
        c.reconnect.max = config.max_backoff;
        c
    };
    let direct = WebSocketTransport::new(&format!("ws://{addr}"))?;
    let mut senders = Vec::new();
    for (_, tokens) in &rooms {
        let credentials = Credentials::token(tokens[0].clone());
        senders
            .push(Client::connect_with(direct.clone(), credentials, client_config.clone()).await?);
    }
    let progress = Arc::new(Progress::default());
    let target = Arc::new(AtomicI64::new(config.warmup as i64));
    let gate = Arc::new(Semaphore::new(256));
    let mut connecting = Vec::new();
    let mut index = 0usize;
    for (_, tokens) in &rooms {
        for token in &tokens[1..] {
            for _ in 0..config.devices {
                let transport = WebSocketTransport::new(&proxies[index % proxies.len()].url)?;
                index += 1;
                let (gate, credentials) = (gate.clone(), Credentials::token(token.clone()));
                let (client_config, progress, target) =
                    (client_config.clone(), progress.clone(), target.clone());
                connecting.push(tokio::spawn(async move {
                    let _permit = gate.acquire_owned().await?;
                    let client =
                        Client::connect_with(transport, credentials, client_config).await?;
                    tokio::spawn(track(client.clone(), progress, target));
                    Ok::<_, anyhow::Error>(client)
                }));
            }
        }
    }
    let mut receivers = Vec::with_capacity(connecting.len());
    for task in connecting {
        receivers.push(task.await??);
    }
    let clients = receivers.len();

    // Warm-up: every receiver is synced and has the first messages.
    post(&senders, &rooms, config.warmup, "warmup").await?;
    wait(|| progress.caught_up.load(Ordering::SeqCst) == clients, config.deadline)
        .await
        .context("warm-up messages not delivered")?;
    let rss_before = config.server_pid.and_then(rss_kib);

    // The cut: every receiver loses its connection; messages keep coming.
    target.store((config.warmup + config.missed) as i64, Ordering::SeqCst);
    progress.caught_up.store(0, Ordering::SeqCst);
    let cut = Instant::now();
    for proxy in &mut proxies {
        proxy.command("down").await?;
    }
    wait(|| progress.connected.load(Ordering::SeqCst) == 0, Duration::from_secs(30))
        .await
        .context("clients did not notice the cut")?;
    post(&senders, &rooms, config.missed, "missed").await?;
    tokio::time::sleep(config.outage.saturating_sub(cut.elapsed())).await;
    let outage = cut.elapsed();

    let restored = Instant::now();
    let cpu_start = config.server_pid.and_then(cpu_seconds);
    for proxy in &mut proxies {
        proxy.command("up").await?;
    }
    let mut all_reconnected = None;
    let deadline = restored + config.deadline;
    while progress.caught_up.load(Ordering::SeqCst) < clients && Instant::now() < deadline {
        if all_reconnected.is_none() && progress.connected.load(Ordering::SeqCst) == clients {
            all_reconnected = Some(restored.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all_caught_up = restored.elapsed();
    let all_reconnected = all_reconnected.unwrap_or(all_caught_up);
    let rss_after = config.server_pid.and_then(rss_kib);
    let server_cpu_s =
        cpu_start.zip(config.server_pid.and_then(cpu_seconds)).map(|(start, end)| end - start);
    let stragglers = clients - progress.caught_up.load(Ordering::SeqCst);

    drop((receivers, senders));
    for mut proxy in proxies {
        let _ = proxy.child.start_kill();
    }
    Ok(StormReport {
        clients,
        rooms: config.rooms,
        missed_per_client: config.missed,
        outage_ms: outage.as_millis() as u64,
        all_reconnected_ms: all_reconnected.as_millis() as u64,
        all_caught_up_ms: all_caught_up.as_millis() as u64,
        reconnect_attempts: progress.attempts.load(Ordering::SeqCst),
        duplicated: progress.duplicated.load(Ordering::SeqCst),
        out_of_order: progress.out_of_order.load(Ordering::SeqCst),
        stragglers,
        rss_before_kib: rss_before,
        rss_after_kib: rss_after,
        server_cpu_s,
    })
}

/// Post `count` messages in every room, each acknowledged after its commit.
async fn post(
    senders: &[Client],
    rooms: &[(ChatId, Vec<String>)],
    count: u64,
    label: &str,
) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    for (sender, (chat, _)) in senders.iter().zip(rooms) {
        let (sender, chat, label) = (sender.clone(), *chat, label.to_owned());
        tasks.push(tokio::spawn(async move {
            for n in 0..count {
                sender.send(chat, format!("{label} {n}")).await?;
            }
            Ok::<_, hellocode_sdk::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn wait(mut done: impl FnMut() -> bool, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !done() {
        anyhow::ensure!(Instant::now() < deadline, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Follow one receiver: connection state, and its room's sequence numbers.
async fn track(client: Client, progress: Arc<Progress>, target: Arc<AtomicI64>) {
    let mut events = client.events();
    drop(client);
    let mut connected = false;
    let mut last = 0i64;
    let mut reported = 0i64;
    while let Some(event) = events.recv().await {
        match event {
            Event::Connection(ConnectionState::Connected { .. }) if !connected => {
                connected = true;
                progress.connected.fetch_add(1, Ordering::SeqCst);
            }
            Event::Connection(ConnectionState::Reconnecting { .. }) => {
                progress.attempts.fetch_add(1, Ordering::SeqCst);
                if connected {
                    connected = false;
                    progress.connected.fetch_sub(1, Ordering::SeqCst);
                }
            }
            Event::Message(message) => {
                let seq = message.seq.0;
                if seq <= last {
                    progress.duplicated.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                if seq != last + 1 {
                    progress.out_of_order.fetch_add(1, Ordering::SeqCst);
                }
                last = seq;
            }
            _ => {}
        }
        let goal = target.load(Ordering::SeqCst);
        if last >= goal && reported < goal {
            reported = goal;
            progress.caught_up.fetch_add(1, Ordering::SeqCst);
        }
    }
}
