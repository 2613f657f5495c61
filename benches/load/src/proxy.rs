//! A TCP proxy that can cut every connection at once: the load generator runs it as child
//! processes (`hellocode-load proxy`) in front of the server to drop thousands of clients
//! together. Commands on standard input: `down` (cut everything, refuse new connections),
//! `up` (accept again). Several processes share the load: each connection costs the proxy two
//! file descriptors, and one process may hold at most 20,000.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Run a proxy to `upstream` until standard input closes; prints `listening <addr>` first.
pub async fn run(upstream: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    let down = Arc::new(AtomicBool::new(false));
    let (cut, _) = watch::channel(0u64);
    let accepting = {
        let (down, cut) = (down.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if down.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let mut cut = cut.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    let mut client = client;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        })
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        match line.trim() {
            "down" => {
                down.store(true, Ordering::SeqCst);
                cut.send_modify(|generation| *generation += 1);
            }
            "up" => down.store(false, Ordering::SeqCst),
            other => eprintln!("proxy: unknown command {other:?}"),
        }
        println!("ok");
    }
    accepting.abort();
    Ok(())
}
