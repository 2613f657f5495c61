//! Measures what a flood of wrong logins costs a real user (issue 13, defect 4).
//!
//! Against a running server (`hellocode-server --database memory --addr 127.0.0.1:18080`):
//!
//! ```text
//! cargo run -p hellocode-server --example login_flood -- 127.0.0.1:18080 400 5
//! ```
//!
//! For each of `runs` runs and two attackers — one address and one username (`single`), or one
//! loopback address and one unknown username per request (`spread`) — it sends `count` wrong
//! logins at once and, once they are all written, times one real login from 127.0.0.1 while
//! they are pending (`behind`); then sends `count` more and closes them unanswered (`abandoned`)
//! and times a real login right after. Prints each run and the medians. Bounded: every request
//! has a 60 s timeout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const PASSWORD: &str = "correct horse battery";
const PATIENCE: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let server: SocketAddr = args.get(1).map_or("127.0.0.1:18080", String::as_str).parse()?;
    let count: usize = args.get(2).map_or(Ok(400), |n| n.parse())?.clamp(1, 2000);
    let runs: usize = args.get(3).map_or(Ok(5), |n| n.parse())?.clamp(1, 20);
    let victim = format!("victim{}", std::process::id());
    let body = format!(
        r#"{{"username":"{victim}","email":"v@example.org","password":"{PASSWORD}","password_confirmation":"{PASSWORD}"}}"#
    );
    let (status, _) = request(server, local(1), "/api/register/", &body).await?;
    println!("registered {victim}: {status}");
    for attacker in ["single", "spread"] {
        let mut behind = Vec::new();
        let mut abandoned = Vec::new();
        for run in 0..runs {
            let (status, elapsed) =
                flood_then_login(server, attacker, count, &victim, run, false).await?;
            println!(
                "{attacker} run {run}: login behind {count} wrong logins: {status} in {elapsed:?}"
            );
            behind.push(elapsed);
            let (status, elapsed) =
                flood_then_login(server, attacker, count, &victim, run, true).await?;
            println!(
                "{attacker} run {run}: login after {count} abandoned logins: {status} in {elapsed:?}"
            );
            abandoned.push(elapsed);
            // Let the server drain whatever it still hashes before the next run.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        println!(
            "{attacker}: median behind {:?}, after abandoned {:?}",
            median(behind),
            median(abandoned)
        );
    }
    Ok(())
}

/// Send `count` wrong logins, then time one real login. With `abandon`, the wrong logins'
/// connections are closed before the real one starts.
async fn flood_then_login(
    server: SocketAddr,
    attacker: &str,
    count: usize,
    victim: &str,
    run: usize,
    abandon: bool,
) -> Result<(u16, Duration), Box<dyn std::error::Error>> {
    let mut streams = Vec::with_capacity(count);
    for i in 0..count {
        let (source, username) = match attacker {
            "single" => (local(2), "target".to_owned()),
            _ => (local(10 + i), format!("nobody{run}x{i}{}", u8::from(abandon))),
        };
        let body = format!(r#"{{"username":"{username}","password":"wrong password {i}"}}"#);
        streams.push(send(server, source, "/api/login/", &body).await?);
    }
    let readers: Vec<_> = if abandon {
        drop(streams);
        Vec::new()
    } else {
        streams.into_iter().map(|stream| tokio::spawn(read_status(stream))).collect()
    };
    let started = Instant::now();
    let body = format!(r#"{{"username":"{victim}","password":"{PASSWORD}"}}"#);
    let (status, _) = request(server, local(1), "/api/login/", &body).await?;
    let elapsed = started.elapsed();
    for reader in readers {
        let _ = reader.await;
    }
    Ok((status, elapsed))
}

/// 127.0.0.1 for `0`..; spread over 127.0.x.y so that each index is its own address.
fn local(index: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, (index / 250) as u8, (index % 250 + 1) as u8))
}

async fn send(
    server: SocketAddr,
    source: IpAddr,
    path: &str,
    body: &str,
) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let mut stream = tokio::time::timeout(PATIENCE, socket.connect(server)).await??;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    Ok(stream)
}

async fn read_status(mut stream: TcpStream) -> std::io::Result<(u16, String)> {
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response)).await??;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, text))
}

async fn request(
    server: SocketAddr,
    source: IpAddr,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    read_status(send(server, source, path, body).await?).await
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
