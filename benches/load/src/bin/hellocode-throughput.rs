//! Messages per second one `hellocode-sdk` client sends (acknowledged) and receives: the Rust
//! side of `bindings/python/bench/throughput.py`, which runs both against the same server and
//! writes the comparison. Each mode connects with `register_or_login` and prints one JSON line
//! with its figures.
//!
//! ```text
//! hellocode-throughput --url ws://127.0.0.1:PORT send --user alice --chats 1,2 --count 20000 --window 256
//! hellocode-throughput --url ws://127.0.0.1:PORT flood --users f0,f1 --chats 3 --count 100000 --window 64
//! hellocode-throughput --url ws://127.0.0.1:PORT receive --user bob --count 100000 [--drain]
//! ```
//!
//! `send`: `count` acknowledged sends (`Client::send`, `window` of them awaited concurrently,
//! round-robin over the chats). `flood`: the same from several clients at once, to feed a
//! receiver. `receive`: subscribe, print `{"ready": true}`, then count `count` message events;
//! with `--drain`, first wait for a line on stdin (the messages pile up in the client meanwhile),
//! so the figure is the consumer's own rate.

use std::io::BufRead;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use hellocode_sdk::{ChatId, Client, ClientConfig, Credentials, Event, WebSocketTransport};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Messages per second of one hellocode-sdk client")]
struct Args {
    /// The server's WebSocket URL.
    #[arg(long)]
    url: String,
    /// The users' password.
    #[arg(long, default_value = "correct horse battery staple")]
    password: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Acknowledged sends from one client.
    Send {
        #[arg(long)]
        user: String,
        #[arg(long, value_delimiter = ',')]
        chats: Vec<i64>,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 256)]
        window: usize,
    },
    /// Acknowledged sends from several clients at once (`count` in all).
    Flood {
        #[arg(long, value_delimiter = ',')]
        users: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        chats: Vec<i64>,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 256)]
        window: usize,
    },
    /// Count message events.
    Receive {
        #[arg(long)]
        user: String,
        #[arg(long)]
        count: usize,
        /// Wait for a line on stdin before reading events.
        #[arg(long)]
        drain: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
}

async fn connect(url: &str, user: &str, password: &str) -> anyhow::Result<Client> {
    let transport = WebSocketTransport::new(url)?;
    let credentials = Credentials::register_or_login(user, format!("{user}@example.org"), password);
    let mut config = ClientConfig::default();
    config.send_queue = 100_000;
    config.request_timeout = Duration::from_secs(60);
    Ok(Client::connect_with(transport, credentials, config).await?)
}

/// `count` acknowledged sends with `window` in flight; the seconds they took.
async fn send(client: &Client, chats: &[i64], count: usize, window: usize) -> anyhow::Result<f64> {
    if chats.is_empty() {
        bail!("no chats");
    }
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    for n in 0..count {
        if in_flight.len() >= window {
            in_flight.next().await.context("a send")??;
        }
        let chat = ChatId(chats[n % chats.len()]);
        in_flight.push(client.send(chat, format!("throughput message number {n:>10}")));
    }
    while let Some(sent) = in_flight.next().await {
        sent?;
    }
    Ok(started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.mode {
        Mode::Send { user, chats, count, window } => {
            let client = connect(&args.url, &user, &args.password).await?;
            let seconds = send(&client, &chats, count, window).await?;
            client.close().await;
            let rate = count as f64 / seconds;
            println!(
                "{}",
                json!({"mode": "send", "count": count, "seconds": seconds, "rate": rate})
            );
        }
        Mode::Flood { users, chats, count, window } => {
            let mut clients = Vec::new();
            for user in &users {
                clients.push(connect(&args.url, user, &args.password).await?);
            }
            let share = count / clients.len().max(1);
            let started = Instant::now();
            let mut senders = Vec::new();
            for client in &clients {
                let (client, chats) = (client.clone(), chats.clone());
                senders.push(tokio::spawn(async move {
                    send(&client, &chats, share, window).await.map(|_| ())
                }));
            }
            for sender in senders {
                sender.await??;
            }
            let seconds = started.elapsed().as_secs_f64();
            for client in clients {
                client.close().await;
            }
            let sent = share * users.len();
            let rate = sent as f64 / seconds;
            println!(
                "{}",
                json!({"mode": "flood", "count": sent, "seconds": seconds, "rate": rate})
            );
        }
        Mode::Receive { user, count, drain, timeout } => {
            let client = connect(&args.url, &user, &args.password).await?;
            let mut events = client.events();
            println!("{}", json!({"ready": true}));
            if drain {
                tokio::task::spawn_blocking(|| {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)
                })
                .await??;
            }
            let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
            let (mut received, mut first) = (0, None);
            while received < count {
                match tokio::time::timeout_at(deadline, events.recv()).await {
                    Ok(Some(Event::Message(_))) => {
                        first.get_or_insert_with(Instant::now);
                        received += 1;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => bail!("the client closed after {received} messages"),
                    Err(_) => bail!("only {received} of {count} messages within {timeout} s"),
                }
            }
            let seconds = first.map_or(0.0, |first| first.elapsed().as_secs_f64());
            client.close().await;
            let rate = count as f64 / seconds;
            println!(
                "{}",
                json!({"mode": "receive", "count": count, "seconds": seconds, "rate": rate})
            );
        }
    }
    Ok(())
}
