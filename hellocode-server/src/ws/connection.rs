//! One WebSocket connection, over any `Sink + Stream` of messages (a real socket in production,
//! channels in tests).
//!
//! Two halves: this task reads frames and runs them through the session one at a time (so a
//! connection's replies keep its commands' order); a writer task drains the connection's bounded
//! queue — replies and events alike — to the socket, sends pings, and closes the socket when the
//! hub evicts the connection or the server shuts down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use hellocode_core::protocol::{ErrorCode, ServerFrame, decode};
use hellocode_core::session::{Identity, Scope, Session};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

use crate::app::AppState;
use crate::broker::BrokerEvent;
use crate::hub::Registration;
use crate::log_fields::{Peer, ScopeName};

/// Close code for a client that could not keep up with its events: reconnect and `resume`.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
/// Frames written to the socket per flush, at most.
const WRITE_BATCH: usize = 64;
/// How long the close frame may wait for room in the socket. An evicted client's socket is
/// full by definition: it gets this long to catch up and learn that it must resume. By then
/// the connection is out of the hub, so it costs only its buffers.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the peer's answer to our close frame.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(5);

/// Serve one connection until it closes.
pub async fn run<S, E>(
    socket: S,
    state: Arc<AppState>,
    scope: Scope,
    identity: Option<Identity>,
    peer: Option<SocketAddr>,
) where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Send + 'static,
    E: std::fmt::Display,
{
    let _alive = state.alive.clone();
    let opened = Instant::now();
    state.metrics.connection_opened();
    tracing::info!(
        peer = %Peer(peer),
        scope = %ScopeName(scope),
        user = identity.as_ref().map_or("-", |identity| identity.username.as_str()),
        "connection opened"
    );
    let (sink, mut stream) = socket.split();
    let (queue, outgoing) = mpsc::channel::<Utf8Bytes>(state.settings.send_queue);
    let evict = Arc::new(Notify::new());
    let writer_done = Arc::new(Notify::new());
    let last_seen = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_loop(
        sink,
        outgoing,
        evict.clone(),
        writer_done.clone(),
        last_seen.clone(),
        opened,
        state.clone(),
    ));

    let mut session = Session::new(scope, state.settings.limits);
    let mut registered: Option<(String, Registration)> = None;
    if let Some(identity) = identity {
        session.authenticate(identity);
    }
    let mut bucket = TokenBucket::new(state.settings.rate_per_second, state.settings.rate_burst);
    let mut reason = "client closed";
    loop {
        if registered.is_none()
            && let Some(identity) = session.identity()
        {
            let registration =
                state.hub.register(&identity.username, scope, queue.clone(), evict.clone());
            if registration.first {
                let event =
                    BrokerEvent::Presence { username: identity.username.clone(), online: true };
                state.dispatcher.broker().publish(event).await;
            }
            tracing::debug!(user = %identity.username, peer = %Peer(peer), "connection authenticated");
            registered = Some((identity.username.clone(), registration));
        }
        let message = tokio::select! {
            message = stream.next() => message,
            () = writer_done.notified() => { reason = "closed by server"; break }
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                last_seen.store(millis_since(opened), Ordering::Relaxed);
                let error = ServerFrame::error(
                    None,
                    ErrorCode::NotJson,
                    "binary frames are not supported; send JSON text",
                );
                if queue.send(Utf8Bytes::from(error.to_json())).await.is_err() {
                    break;
                }
                continue;
            }
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => {
                // Ping or pong: tungstenite answers pings itself; either proves the peer alive.
                last_seen.store(millis_since(opened), Ordering::Relaxed);
                continue;
            }
            Some(Err(err)) => {
                tracing::debug!(peer = %Peer(peer), error = %err, "websocket read failed");
                reason = "protocol error";
                break;
            }
        };
        last_seen.store(millis_since(opened), Ordering::Relaxed);
        let reply = if !bucket.take() {
            state.metrics.command(None);
            Some(ServerFrame::error(None, ErrorCode::RateLimited, "too many commands; slow down"))
        } else {
            match decode(&text, &state.settings.limits) {
                // Boxed: the dispatcher's future is large and only lives while a command runs;
                // inline, every idle connection would carry its size (2.6 KiB measured).
                Ok(frame) => {
                    let peer = peer.map(|peer| peer.ip());
                    Box::pin(state.dispatcher.handle_from(peer, &mut session, frame)).await
                }
                Err(err) => {
                    state.metrics.command(None);
                    Some(err.to_frame())
                }
            }
        };
        if let Some(reply) = reply
            && queue.send(Utf8Bytes::from(reply.to_json())).await.is_err()
        {
            reason = "closed by server";
            break;
        }
    }

    session.close();
    if let Some((username, registration)) = &registered
        && state.hub.unregister(username, registration.id)
    {
        let event = BrokerEvent::Presence { username: username.clone(), online: false };
        state.dispatcher.broker().publish(event).await;
    }
    drop(queue);
    let close = writer.await.ok().flatten();
    if close.is_some() {
        // The server sent a close frame: complete the closing handshake (RFC 6455 §7.1.1) by
        // reading until the peer's close. Dropping the socket while the peer still writes would
        // make the kernel answer with a reset, which can discard our close frame unread.
        let _ = tokio::time::timeout(CLOSE_HANDSHAKE, async {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    state.metrics.connection_closed();
    tracing::info!(
        user = registered.as_ref().map(|(name, _)| name.as_str()).unwrap_or("-"),
        peer = %Peer(peer),
        reason = close.unwrap_or(reason),
        seconds = opened.elapsed().as_secs(),
        "connection closed"
    );
}

/// Drain the queue to the socket; returns why the server closed the connection, if it did.
async fn write_loop<K>(
    mut sink: K,
    mut outgoing: mpsc::Receiver<Utf8Bytes>,
    evict: Arc<Notify>,
    done: Arc<Notify>,
    last_seen: Arc<AtomicU64>,
    opened: Instant,
    state: Arc<AppState>,
) -> Option<&'static str>
where
    K: Sink<Message> + Unpin + Send,
{
    let interval = state.settings.ping_interval;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    let mut shutdown = state.shutdown.clone();
    let close: Option<(u16, &'static str)> = loop {
        tokio::select! {
            biased;
            () = evict.notified() => break Some((CLOSE_SLOW_CONSUMER, "slow consumer: resume")),
            () = stopping(&mut shutdown) => break Some((1001, "server shutting down")),
            frame = outgoing.recv() => {
                let Some(frame) = frame else { break None };
                // A client that stops reading blocks the write itself; eviction and shutdown
                // must still get through.
                tokio::select! {
                    biased;
                    () = evict.notified() => break Some((CLOSE_SLOW_CONSUMER, "slow consumer: resume")),
                    () = stopping(&mut shutdown) => break Some((1001, "server shutting down")),
                    written = write_batch(&mut sink, frame, &mut outgoing) => if !written { break None },
                }
            }
            _ = ping.tick() => {
                let silent = millis_since(opened).saturating_sub(last_seen.load(Ordering::Relaxed));
                if silent > 2 * interval.as_millis() as u64 {
                    break Some((1001, "ping timeout"));
                }
                if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    break None;
                }
            }
        }
    };
    done.notify_one();
    // Frames still queued are dropped: an evicted client resumes from its last sequence number.
    drop(outgoing);
    if let Some((code, reason)) = close {
        let frame =
            CloseFrame { code: CloseCode::from(code), reason: Utf8Bytes::from_static(reason) };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), sink.close()).await;
    close.map(|(_, reason)| reason)
}

/// Write `first` and whatever else is queued (up to a batch), then flush once. `false` if the
/// socket failed.
async fn write_batch<K>(
    sink: &mut K,
    first: Utf8Bytes,
    outgoing: &mut mpsc::Receiver<Utf8Bytes>,
) -> bool
where
    K: Sink<Message> + Unpin,
{
    if sink.feed(Message::Text(first)).await.is_err() {
        return false;
    }
    for _ in 1..WRITE_BATCH {
        let Ok(more) = outgoing.try_recv() else { break };
        if sink.feed(Message::Text(more)).await.is_err() {
            return false;
        }
    }
    sink.flush().await.is_ok()
}

/// Resolves once the server is shutting down (or its state is gone).
async fn stopping(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

fn millis_since(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

/// Per-connection rate limit: `burst` commands at once, refilled at `rate` per second.
#[derive(Debug)]
struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    refilled: Instant,
}

impl TokenBucket {
    fn new(rate: u32, burst: u32) -> Self {
        TokenBucket {
            tokens: f64::from(burst),
            rate: f64::from(rate),
            burst: f64::from(burst),
            refilled: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
