//! The bare baseline: a minimal broadcast server on the same stack as HelloCode (tokio +
//! tokio-tungstenite), with no authentication, no storage and no ordering. A client of
//! `/room/<n>` receives every text frame any client of that room sends. The load generator runs
//! against it in the same run (`--target bare`), so HelloCode's figures read as ratios to the
//! bare cost of moving frames.
//!
//! Run with: `cargo run --release -p hellocode-load --bin hellocode-bare -- 127.0.0.1:18182`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames queued per connection; beyond, frames to that connection are dropped (and counted).
const QUEUE: usize = 1024;

type Rooms = Arc<Mutex<HashMap<u64, Vec<(u64, mpsc::Sender<Utf8Bytes>)>>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18182".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("bare broadcast server on {}", listener.local_addr()?);
    let rooms: Rooms = Arc::default();
    let mut next_id = 0;
    loop {
        let (stream, _) = listener.accept().await?;
        next_id += 1;
        tokio::spawn(serve(stream, rooms.clone(), next_id));
    }
}

// tungstenite fixes the handshake callback's error type (an HTTP response).
#[allow(clippy::result_large_err)]
async fn serve(stream: TcpStream, rooms: Rooms, id: u64) {
    let mut room = 0;
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024).write_buffer_size(0);
    let callback = |request: &Request, response: Response| {
        room = request.uri().path().rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        Ok(response)
    };
    let Ok(socket) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await
    else {
        return;
    };
    let (mut sink, mut stream) = socket.split();
    let (queue, mut outgoing) = mpsc::channel::<Utf8Bytes>(QUEUE);
    rooms.lock().unwrap_or_else(|e| e.into_inner()).entry(room).or_default().push((id, queue));
    let writer = tokio::spawn(async move {
        while let Some(frame) = outgoing.recv().await {
            if sink.feed(Message::Text(frame)).await.is_err() {
                return;
            }
            while let Ok(more) = outgoing.try_recv() {
                if sink.feed(Message::Text(more)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else { continue };
        let members =
            rooms.lock().unwrap_or_else(|e| e.into_inner()).get(&room).cloned().unwrap_or_default();
        for (_, member) in &members {
            let _ = member.try_send(text.clone());
        }
    }
    if let Some(members) = rooms.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&room) {
        members.retain(|(member, _)| *member != id);
    }
    writer.abort();
}
