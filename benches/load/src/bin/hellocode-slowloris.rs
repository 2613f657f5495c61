//! How many unfinished HTTP connections a server keeps, and what they cost it.
//!
//! Opens N TCP connections (source addresses spread over 127.0.0.2 and up, `--per-address`
//! each), has each send an unfinished request header (`--header-bytes`, 0: nothing at all),
//! optionally trickles one more header byte per second (`--trickle`), and reports every second
//! how many the server still keeps open, and its resident memory (`--server-pid`). With
//! `--websocket` each connection instead completes a WebSocket upgrade on `/ws`, never
//! authenticates, and answers the server's pings. Bounded: at most 15,000 connections, 300
//! seconds.
//!
//! Run with: `hellocode-slowloris --addr 127.0.0.1:8080 --server-pid PID --connections 300
//! --header-bytes 390000 --seconds 20`

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::StreamExt;
use hellocode_load::rss_kib;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
#[command(about = "Unfinished HTTP headers against a server: how many it keeps, at what cost")]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The server's process id, to read its memory from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Connections to open (at most 15,000).
    #[arg(long, default_value_t = 300)]
    connections: usize,
    /// Connections per source address (127.0.0.2, 127.0.0.3, ...).
    #[arg(long, default_value_t = 1000)]
    per_address: usize,
    /// Bytes of unfinished header each connection sends first (0: none, an idle connection).
    #[arg(long, default_value_t = 0)]
    header_bytes: usize,
    /// Send one more header byte per connection every second.
    #[arg(long)]
    trickle: bool,
    /// Seconds to watch (at most 300).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Upgrade each connection to a WebSocket on `/ws` and stay unauthenticated.
    #[arg(long)]
    websocket: bool,
}

/// Unauthenticated WebSockets held open: how many still are, and how the others ended.
#[derive(Default)]
struct Sockets {
    open: AtomicUsize,
    /// Close codes received (0: the connection ended without a close frame).
    ends: Mutex<BTreeMap<u16, usize>>,
}

/// Upgrade `stream` on `/ws` and read until the server ends it (tungstenite answers pings while
/// reading). Whether the upgrade succeeded.
async fn hold_websocket(stream: TcpStream, addr: SocketAddr, sockets: Arc<Sockets>) -> bool {
    let url = format!("ws://{addr}/ws");
    let upgrade = tokio_tungstenite::client_async(url, stream);
    let Ok(Ok((mut socket, _))) = tokio::time::timeout(Duration::from_secs(10), upgrade).await
    else {
        return false;
    };
    sockets.open.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let mut code = 0;
        while let Some(Ok(frame)) = socket.next().await {
            if let Message::Close(Some(close)) = frame {
                code = u16::from(close.code);
            }
        }
        sockets.open.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut ends) = sockets.ends.lock() {
            *ends.entry(code).or_default() += 1;
        }
    });
    true
}

async fn websockets(args: &Args, count: usize) -> anyhow::Result<()> {
    let sockets = Arc::new(Sockets::default());
    let (mut upgraded, mut refused) = (0, 0);
    let started = Instant::now();
    for i in 0..count {
        let host = 2 + (i / args.per_address.max(1)).min(250) as u8;
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), 0))?;
        let upgrade = match socket.connect(args.addr).await {
            Ok(stream) => hold_websocket(stream, args.addr, sockets.clone()).await,
            Err(_) => false,
        };
        if upgrade { upgraded += 1 } else { refused += 1 }
    }
    let opened = Instant::now();
    println!(
        "{count} WebSockets tried in {:.1} s: {upgraded} upgraded, {refused} refused",
        started.elapsed().as_secs_f64()
    );
    for _ in 0..=args.seconds.min(300) {
        let open = sockets.open.load(Ordering::Relaxed);
        let ends = sockets.ends.lock().map(|ends| format!("{ends:?}")).unwrap_or_default();
        let rss = args.server_pid.and_then(rss_kib).map_or("?".into(), |kib| kib.to_string());
        println!(
            "t={:>3}s open {open:>5} / {upgraded}  ended by close code {ends}  server RSS {rss} KiB",
            opened.elapsed().as_secs()
        );
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

/// Whether the server has closed (or answered, then closes) this connection.
fn closed(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1024];
    match stream.try_read(&mut byte) {
        Ok(_) => true, // 0: closed; more: an error answer before closing
        Err(err) => err.kind() != std::io::ErrorKind::WouldBlock,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let count = args.connections.min(15_000);
    if args.websocket {
        return websockets(&args, count).await;
    }
    let rss = || args.server_pid.and_then(rss_kib);
    let before = rss();
    let mut head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad: ".to_vec();
    head.resize(args.header_bytes.max(head.len()), b'a');
    let mut streams = Vec::with_capacity(count);
    let mut refused_at_connect = 0;
    for i in 0..count {
        let host = 2 + (i / args.per_address.max(1)).min(250) as u8;
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), 0))?;
        let Ok(mut stream) = socket.connect(args.addr).await else {
            refused_at_connect += 1;
            continue;
        };
        if args.header_bytes > 0 {
            // A write to a connection the server already closed fails: counted below.
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.write_all(&head)).await;
        }
        streams.push(Some(stream));
    }
    let opened = Instant::now();
    println!(
        "{count} connections ({refused_at_connect} failed to connect), {} header bytes each{}; \
         server RSS before: {} KiB",
        args.header_bytes,
        if args.trickle { ", trickling 1 byte/s" } else { "" },
        before.map_or("?".into(), |kib| kib.to_string()),
    );
    let mut peak = rss();
    for second in 0..=args.seconds.min(300) {
        let mut open = 0;
        for slot in &mut streams {
            let Some(stream) = slot else { continue };
            if closed(stream) {
                *slot = None;
                continue;
            }
            if args.trickle && second > 0 {
                let _ = stream.try_write(b"a");
            }
            open += 1;
        }
        let now = rss();
        peak = peak.max(now);
        println!(
            "t={:>3}s open {open:>5} / {count}  server RSS {} KiB",
            opened.elapsed().as_secs(),
            now.map_or("?".into(), |kib| kib.to_string())
        );
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if let (Some(before), Some(peak)) = (before, peak) {
        println!(
            "peak server RSS {peak} KiB: {} KiB over the start, {:.0} KiB per connection",
            peak.saturating_sub(before),
            peak.saturating_sub(before) as f64 / count.max(1) as f64
        );
    }
    Ok(())
}
