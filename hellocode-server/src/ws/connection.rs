//! One WebSocket connection, over any `Sink + Stream` of messages (a real socket in production,
//! channels in tests).
//!
//! Two halves: this task reads frames and runs them through the session one at a time —
//! except that it reads on while its appends wait for their commit (see [`super::pipeline`]);
//! replies keep the commands' order all the same —; a writer task drains the connection's bounded
//! queue — replies and events alike — to the socket, sends pings, and closes the socket when the
//! hub evicts the connection, the reader asks it to (authentication deadline, per-user cap), the
//! credential it authenticated with is revoked or expires (4001), or the server shuts down. A write that makes no progress for the write timeout drops the
//! connection, and the ping check goes on while a write waits.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use hellocode_core::protocol::{self, ErrorCode, ServerFrame, decode};
use hellocode_core::session::{Identity, Scope, Session};
use tokio::sync::{Notify, oneshot};
use tokio::time::{Interval, Sleep};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

use crate::admission::{Admitted, Busy};
use crate::app::AppState;
use crate::broker::{Arrival, BrokerEvent, Departure};
use crate::dispatch::Started;
use crate::hub::Registration;
use crate::log_fields::{Peer, ScopeName};
use crate::revocation::{CLOSE_UNAUTHORIZED, CloseSignal, REASON_EXPIRED, close_signal};
use crate::send_queue::{self, QueueReceiver, QueueSender, Refused};
use crate::serve::WriteProgress;

use super::pipeline::{Finishing, Pipeline};

/// Close code for a client that could not keep up with its events: reconnect and `resume`.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
/// Close code for a connection that did not authenticate within the deadline.
pub const CLOSE_AUTH_TIMEOUT: u16 = 4003;
/// Close code for a connection beyond the user's maximum of open connections.
pub const CLOSE_TOO_MANY_CONNECTIONS: u16 = 4029;
/// Frames written to the socket per flush, at most.
const WRITE_BATCH: usize = 64;
/// How long the close frame may wait for room in the socket. An evicted client's socket is
/// full by definition: it gets this long to catch up and learn that it must resume. By then
/// the connection is out of the hub, so it costs only its buffers.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the peer's answer to our close frame.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(5);

/// A close frame the server sends.
#[derive(Debug, Clone, Copy)]
struct Close {
    code: u16,
    reason: &'static str,
}

const SLOW_CONSUMER: Close = Close { code: CLOSE_SLOW_CONSUMER, reason: "slow consumer: resume" };
const SHUTTING_DOWN: Close = Close { code: 1001, reason: "server shutting down" };
const PING_TIMEOUT: Close = Close { code: 1001, reason: "ping timeout" };
const AUTH_TIMEOUT: Close = Close { code: CLOSE_AUTH_TIMEOUT, reason: "authentication timeout" };
const TOO_MANY: Close = Close { code: CLOSE_TOO_MANY_CONNECTIONS, reason: "too many connections" };
/// No turn to come online within the wait (RFC 6455's 1013, try again later).
const BUSY: Close = Close { code: 1013, reason: "server busy: reconnect shortly" };

/// How the writer ended.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// The server closes with a close frame.
    Close(Close),
    /// The server drops the socket without a close frame (it would not get through).
    Drop(&'static str),
    /// The queue was closed or the socket failed.
    Quiet,
}

/// A token the upgrade request carried, checked before the connection's task started.
pub struct CheckedToken {
    /// Whom the token proves.
    pub identity: Identity,
    /// The turn to come online that the check took (see [`crate::admission`]).
    pub turn: Admitted,
    /// [`Grants::heard`](crate::revocation::Grants::heard) before the check.
    pub revocations_heard: u64,
}

/// Serve one connection until it closes, with `session` fresh for it (its scope and protocol
/// version set). `progress` tells when the socket last accepted written bytes (without it, a
/// write must complete within the write timeout). `token`: the upgrade request's, checked;
/// without it, the connection authenticates with a frame and then waits for its turn to come
/// online.
///
/// A plain function returning the connection's future, not an `async fn`: an `async fn` keeps
/// its arguments for its whole life beside the locals they are moved into (the socket alone is
/// over 300 bytes), and every idle connection would carry them.
pub fn run<S, E>(
    socket: S,
    state: Arc<AppState>,
    mut session: Session,
    token: Option<CheckedToken>,
    peer: Option<SocketAddr>,
    progress: Option<Arc<WriteProgress>>,
) -> impl Future<Output = ()>
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Send + 'static,
    E: std::fmt::Display,
{
    let (sink, mut stream) = socket.split();
    async move {
        let _alive = state.alive.clone();
        let scope = session.scope();
        let opened = Instant::now();
        state.metrics.connection_opened();
        tracing::info!(
            peer = %Peer(peer),
            scope = %ScopeName(scope),
            user = token.as_ref().map_or("-", |token| token.identity.username.as_str()),
            "connection opened"
        );
        let (queue, outgoing) =
            send_queue::channel(state.settings.send_queue, state.settings.send_queue_bytes);
        let evict = Arc::new(Notify::new());
        let writer_done = Arc::new(Notify::new());
        let last_seen = Arc::new(AtomicU64::new(0));
        // Kept until the writer has ended: a dropped sender would read as "no close requested".
        let (close_request, close_requested) = oneshot::channel::<Close>();
        let mut close_request = Some(close_request);
        // Set when the credential is revoked or expires: the writer closes with 4001, and the
        // reader runs no further command.
        let (revoke, revoked_signal) = close_signal();
        let signals = Signals {
            evict: evict.clone(),
            close: Some(close_requested),
            revoked: revoked_signal.clone(),
            shutdown: state.shutdown.clone(),
        };
        let watch = Watch {
            last_seen: last_seen.clone(),
            opened,
            interval: state.settings.ping_interval,
            progress,
            write_timeout: state.settings.write_timeout,
        };
        let writer = tokio::spawn(write_loop(sink, outgoing, signals, watch, writer_done.clone()));
        let connection = Handles { queue, evict, revoke };

        let mut online: Option<Online> = None;
        // When a login token's connection must close: boxed and made once (not a timer per frame).
        let mut expiry: Option<Pin<Box<Sleep>>> = None;
        // Boxed and dropped once authenticated: idle connections do not carry a timer.
        let mut auth_deadline: Option<Pin<Box<Sleep>>> =
            Some(Box::pin(tokio::time::sleep(state.settings.auth_timeout)));
        // Revocations heard before this connection's credential was checked: the upgrade's
        // token was checked before this task began, a frame's credential is checked later.
        let mut admitted = None;
        let revocations_heard = match token {
            Some(CheckedToken { identity, turn, revocations_heard }) => {
                session.authenticate(identity);
                admitted = Some(turn);
                revocations_heard
            }
            None => state.hub.grants().heard(),
        };
        let mut bucket =
            TokenBucket::new(state.settings.rate_per_second, state.settings.rate_burst);
        let mut reason = "client closed";
        // A frame read while a login ran (see `unless_hung_up`), to handle next.
        let mut held = None;
        // Appends waiting for their commit and the replies after them, in the commands' order.
        let mut in_flight = Pipeline::new();
        loop {
            if online.is_none()
                && let Some(identity) = session.identity()
            {
                // A password login (or registration) waits for its turn here, after its hash;
                // a token took its turn before its check.
                let turn = match admitted.take() {
                    Some(turn) => turn,
                    None => {
                        let deadline = auth_deadline.as_ref().map(|deadline| deadline.deadline());
                        let waiting = Box::pin(wait_for_turn(&state, deadline, &writer_done));
                        match waiting.await {
                            Some(Ok(turn)) => turn,
                            Some(Err(Busy)) => {
                                request_close(&mut close_request, BUSY);
                                reason = BUSY.reason;
                                break;
                            }
                            None => {
                                reason = "closed by server";
                                break;
                            }
                        }
                    }
                };
                // Boxed: coming online awaits several services once per connection; inline, every
                // idle connection would carry the largest of those futures.
                let coming =
                    come_online(&state, &session, identity, turn, &connection, revocations_heard);
                match Box::pin(coming).await {
                    Ok(arrived) => online = Some(arrived),
                    Err(refusal) => {
                        request_close(&mut close_request, refusal);
                        reason = refusal.reason;
                        break;
                    }
                }
                auth_deadline = None;
                expiry = expiry_instant(identity).map(|at| Box::pin(tokio::time::sleep_until(at)));
                tracing::debug!(user = %identity.username, peer = %Peer(peer), "connection authenticated");
            }
            // Biased: the ends first (a client that floods must not outlive its deadline),
            // then reading (so that a burst of appends is read whole before the first of them
            // finishes, see `Pipeline`), then finishing.
            let next = tokio::select! {
                biased;
                () = writer_done.notified() => { reason = "closed by server"; break }
                () = expired(&mut expiry) => {
                    connection.revoke.send_replace(Some(REASON_EXPIRED));
                    reason = REASON_EXPIRED;
                    break;
                }
                () = expired(&mut auth_deadline) => {
                    request_close(&mut close_request, AUTH_TIMEOUT);
                    reason = AUTH_TIMEOUT.reason;
                    break;
                }
                message = next_frame(&mut held, &mut stream), if in_flight.reads() => {
                    Next::Frame(message)
                }
                reply = in_flight.first_finished(), if !in_flight.is_empty() => {
                    Next::Finished(reply)
                }
            };
            let message = match next {
                Next::Finished(reply) => {
                    let Some(reply) = reply else { continue };
                    if let Err(why) = connection.reply(&state, reply).await {
                        reason = why;
                        break;
                    }
                    continue;
                }
                Next::Frame(message) => message,
            };
            if let Some(why) = *revoked_signal.borrow() {
                // Revoked: what arrives from now on is not run (so not acknowledged).
                reason = why;
                break;
            }
            let reply = match message {
                Some(Ok(Message::Text(text))) => {
                    last_seen.store(millis_since(opened), Ordering::Relaxed);
                    if bucket.take() {
                        let command = Command {
                            state: &state,
                            session: &mut session,
                            peer,
                            admitted: &mut admitted,
                            deadline: auth_deadline.as_ref().map(|deadline| deadline.deadline()),
                            in_flight: &mut in_flight,
                            connection: &connection,
                            revoked: &revoked_signal,
                        };
                        // Boxed: a command's future (the dispatcher's above all) is large and
                        // lives only while it runs; inline, every idle connection would carry
                        // it (2.6 KiB measured).
                        match Box::pin(command.run(&text, &mut stream, &mut held)).await {
                            Ran::Reply(reply) => reply,
                            Ran::Committing(finishing) => {
                                in_flight.push(text.len(), finishing);
                                None
                            }
                            Ran::HungUp => break,
                            Ran::Busy => {
                                request_close(&mut close_request, BUSY);
                                reason = BUSY.reason;
                                break;
                            }
                            Ran::Ended(why) => {
                                reason = why;
                                break;
                            }
                        }
                    } else {
                        state.metrics.command(None);
                        Some(serialized(rate_limited()))
                    }
                }
                // Counted like text: a binary frame costs the server as much as a bad text one.
                Some(Ok(Message::Binary(_))) => {
                    last_seen.store(millis_since(opened), Ordering::Relaxed);
                    Some(serialized(if bucket.take() {
                        ServerFrame::error(
                            None,
                            ErrorCode::NotJson,
                            "binary frames are not supported; send JSON text",
                        )
                    } else {
                        rate_limited()
                    }))
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {
                    // Ping or pong: tungstenite answers pings itself; either proves the peer alive.
                    last_seen.store(millis_since(opened), Ordering::Relaxed);
                    // Not counted against the command rate: a stream of them must not keep
                    // the reader from finishing its appends (which hold their chat's line).
                    in_flight.stop_filling();
                    continue;
                }
                Some(Err(err)) => {
                    tracing::debug!(peer = %Peer(peer), error = %err, "websocket read failed");
                    reason = "protocol error";
                    break;
                }
            };
            let Some(reply) = reply else { continue };
            if !in_flight.is_empty() {
                // After the replies of the appends before it.
                in_flight.push_reply(reply);
                continue;
            }
            if let Err(why) = connection.reply(&state, reply).await {
                reason = why;
                break;
            }
        }

        // Appends handed to storage are published whatever ended the connection (dropped, one
        // would be stored but not delivered live); their replies go out if there is room.
        if !in_flight.is_empty() {
            Box::pin(finish_in_flight(&mut in_flight, &connection.queue)).await;
        }
        session.close();
        drop(admitted);
        if let Some(online) = &online {
            Box::pin(go_offline(&state, online)).await;
        }
        drop(connection);
        let ending = writer.await.unwrap_or(Ending::Quiet);
        drop(close_request);
        if let Ending::Close(_) = ending {
            // The server sent a close frame: complete the closing handshake (RFC 6455 §7.1.1) by
            // reading until the peer's close. Dropping the socket while the peer still writes would
            // make the kernel answer with a reset, which can discard our close frame unread.
            let _ = Box::pin(tokio::time::timeout(CLOSE_HANDSHAKE, async {
                while let Some(Ok(message)) = stream.next().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            }))
            .await;
        }
        state.metrics.connection_closed();
        let reason = match ending {
            Ending::Close(close) => close.reason,
            Ending::Drop(why) => why,
            Ending::Quiet => reason,
        };
        tracing::info!(
            user = online.as_ref().map(|online| online.username.as_str()).unwrap_or("-"),
            peer = %Peer(peer),
            reason,
            seconds = opened.elapsed().as_secs(),
            "connection closed"
        );
    }
}

/// What the reader does next.
enum Next<M> {
    /// The first of its appends in flight finished: its reply, to queue.
    Finished(Option<Utf8Bytes>),
    /// A frame from the socket (`None`: it closed).
    Frame(Option<M>),
}

/// Finish every append in flight, in order, as the connection closes: queue their replies
/// where there is room.
async fn finish_in_flight(in_flight: &mut Pipeline<'_>, queue: &QueueSender) {
    while let Some(reply) = in_flight.next_finished().await {
        if let Some(reply) = reply {
            let _ = queue.try_send(reply);
        }
    }
}

/// What the hub and the revocation registry hold of a connection.
struct Handles {
    /// Its send queue: replies and events.
    queue: QueueSender,
    /// Notified to evict it (a slow consumer).
    evict: Arc<Notify>,
    /// Set to close it with 4001 when its credential is revoked.
    revoke: CloseSignal,
}

impl Handles {
    /// Queue `reply` for the writer, at once unless the queue is full; `Err` with the reason
    /// when the connection must end. The wait for room is boxed, so that idle connections do
    /// not carry its future.
    async fn reply(&self, state: &AppState, reply: Utf8Bytes) -> Result<(), &'static str> {
        let queued = match self.queue.try_send(reply.clone()) {
            Err(Refused::Full) => Box::pin(self.queue.send(reply)).await,
            queued => queued,
        };
        match queued {
            Ok(()) => Ok(()),
            Err(Refused::Full) => {
                // Its own replies piled up unread (pages of history, say): like a full queue.
                state.metrics.send_queue_drop();
                self.evict.notify_one();
                Err(SLOW_CONSUMER.reason)
            }
            Err(Refused::Closed) => Err("closed by server"),
        }
    }
}

/// An authenticated connection's places in the hub and the revocation registry, given back
/// when it closes.
struct Online {
    username: String,
    registration: Registration,
    grant: Option<(i64, u64)>,
}

/// Bring an authenticated connection online, in its `turn`: register it with the hub and the
/// deployment (the user may be at the maximum of connections), announce the user's presence,
/// tell it who is online, and recheck its credential if a revocation was heard since
/// `revocations_heard` (read before the check). The close to send when it cannot come online.
async fn come_online(
    state: &AppState,
    session: &Session,
    identity: &Identity,
    turn: Admitted,
    connection: &Handles,
    revocations_heard: u64,
) -> Result<Online, Close> {
    let _turn = turn;
    let username = &identity.username;
    let queue = connection.queue.clone();
    let Some(registration) =
        state.hub.register(username, session.scope(), queue, connection.evict.clone())
    else {
        return Err(TOO_MANY);
    };
    // Counted across the deployment too (one node: here only).
    let max = state.settings.max_connections_per_user;
    let broker = state.dispatcher.broker();
    let online = match broker.arrive(username, registration.id, max).await {
        Arrival::Local => registration.first.then_some(None),
        Arrival::Counted { online } => online.map(Some),
        Arrival::Refused => {
            state.hub.unregister(username, registration.id);
            return Err(TOO_MANY);
        }
    };
    if let Some(version) = online {
        let username = username.clone();
        broker.publish(BrokerEvent::Presence { username, online: true, version }).await;
    }
    // After registering, so that no event is missed while storage answers.
    if let Some(partners) = presence_partners(state, session, identity).await {
        state.hub.tell_online(&partners, &connection.queue);
    }
    let grants = state.hub.grants();
    let grant = grants.register(identity, connection.revoke.clone());
    // A revocation heard between the credential check and this registration closed nothing
    // here: check again (see `Grants`). Otherwise none slipped through, and storage is spared
    // a query per connection when thousands reconnect at once.
    if grants.heard() != revocations_heard {
        match state.auth.revoked_reason(identity).await {
            Ok(Some(why)) => {
                connection.revoke.send_replace(Some(why));
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "cannot recheck a credential"),
        }
    }
    Ok(Online { username: username.clone(), registration, grant })
}

/// Wait for a turn to come online until `deadline` (the connection's authentication deadline).
/// `None`: the writer ended meanwhile (shutdown, eviction): there is no connection left to
/// bring online.
async fn wait_for_turn(
    state: &AppState,
    deadline: Option<tokio::time::Instant>,
    writer_done: &Notify,
) -> Option<Result<Admitted, Busy>> {
    tokio::select! {
        turn = state.admission.enter_by(deadline) => Some(turn),
        () = writer_done.notified() => None,
    }
}

/// Take a closing connection out of the registries, and announce that its user went offline
/// if it was the user's last connection in the deployment.
async fn go_offline(state: &AppState, online: &Online) {
    if let Some(grant) = online.grant {
        state.hub.grants().unregister(grant);
    }
    let username = &online.username;
    let last_here = state.hub.unregister(username, online.registration.id);
    let broker = state.dispatcher.broker();
    let offline = match broker.depart(username, online.registration.id, last_here).await {
        Departure::Local => last_here.then_some(None),
        Departure::Counted { offline } => offline.map(Some),
    };
    if let Some(version) = offline {
        let username = username.clone();
        broker.publish(BrokerEvent::Presence { username, online: false, version }).await;
    }
}

/// Whose presence a newly authenticated connection is told at once: everyone who shares a
/// chat with its user, for an all-chats connection of protocol version 2 (a chat-bound one
/// gets no presence; version 1 knows no `online` frame). `None` also when storage fails: the
/// connection then learns presence from changes only.
async fn presence_partners(
    state: &AppState,
    session: &Session,
    identity: &Identity,
) -> Option<Arc<[String]>> {
    if session.scope() != Scope::AllChats || session.protocol() < 2 {
        return None;
    }
    match state.hub.partners(&identity.username).await {
        Ok(partners) => Some(partners),
        Err(err) => {
            tracing::warn!(user = %identity.username, error = %err, "cannot load chats for the presence snapshot");
            None
        }
    }
}

/// A reply as the bytes of its text frame. Serialized where it is made, so that the reader's
/// future never keeps a `ServerFrame` (384 bytes) across a wait.
fn serialized(frame: ServerFrame) -> Utf8Bytes {
    Utf8Bytes::from(frame.to_json())
}

fn rate_limited() -> ServerFrame {
    ServerFrame::error(None, ErrorCode::RateLimited, "too many commands; slow down")
}

/// The frame held back by [`unless_hung_up`], else the next from the socket.
async fn next_frame<M, S: Stream<Item = M> + Unpin>(
    held: &mut Option<Option<M>>,
    stream: &mut S,
) -> Option<M> {
    match held.take() {
        Some(message) => message,
        None => stream.next().await,
    }
}

/// One text frame of a connection, to run through its session.
struct Command<'a, 'c> {
    state: &'a AppState,
    session: &'c mut Session,
    peer: Option<SocketAddr>,
    /// The connection's turn to come online (see [`crate::admission`]), while it holds one.
    admitted: &'c mut Option<Admitted>,
    /// The connection's authentication deadline, while it has one.
    deadline: Option<tokio::time::Instant>,
    /// Its appends waiting for their commit, in order.
    in_flight: &'c mut Pipeline<'a>,
    connection: &'c Handles,
    /// Set when the connection's credential is revoked: no command runs after it.
    revoked: &'c tokio::sync::watch::Receiver<Option<&'static str>>,
}

/// What became of a command.
enum Ran<'a> {
    /// It ran: the reply, if any, serialized (a frame is large; its bytes are shared).
    Reply(Option<Utf8Bytes>),
    /// An append, in its chat's line: what finishes it (commit, publication, reply), after the
    /// connection's appends before it.
    Committing(Finishing<'a>),
    /// Queueing the replies before it failed: the connection ends, for this reason.
    Ended(&'static str),
    /// The client hung up while its authentication ran (see [`unless_hung_up`]).
    HungUp,
    /// An `auth` got no turn to come online by the authentication deadline.
    Busy,
}

impl<'a> Command<'a, '_> {
    /// Decode `text` and run it.
    async fn run<S, E>(
        self,
        text: &str,
        stream: &mut S,
        held: &mut Option<Option<Result<Message, E>>>,
    ) -> Ran<'a>
    where
        S: Stream<Item = Result<Message, E>> + Unpin,
    {
        let Command { state, session, peer, admitted, deadline, in_flight, connection, revoked } =
            self;
        let frame = match decode(text, &state.settings.limits) {
            Ok(frame) => frame,
            Err(err) => {
                state.metrics.command(None);
                return Ran::Reply(Some(serialized(err.to_frame())));
            }
        };
        // Any command but a new message runs once the appends before it are published and
        // acknowledged: it sees them, and its reply comes after theirs.
        if !matches!(frame.command, protocol::Command::NewMessage { .. }) {
            while let Some(reply) = in_flight.next_finished().await {
                if let Some(reply) = reply
                    && let Err(why) = connection.reply(state, reply).await
                {
                    return Ran::Ended(why);
                }
            }
            // Revoked while they finished: this command is not run.
            if let Some(why) = *revoked.borrow() {
                return Ran::Ended(why);
            }
        }
        let authenticating = session.identity().is_none();
        // A token's storage check is the first of the queries that bring a connection online:
        // it waits for its turn (a token this server did not sign, or an expired one, is
        // refused without waiting).
        let needs_turn = authenticating
            && admitted.is_none()
            && matches!(&frame.command, protocol::Command::Auth { token, .. }
                if state.auth.signed_and_current(token));
        let ip = peer.map(|peer| peer.ip());
        let outcome = {
            let work = std::pin::pin!(async {
                if needs_turn {
                    *admitted = Some(state.admission.enter_by(deadline).await?);
                }
                Ok(state.dispatcher.start_from(ip, session, frame).await)
            });
            // While authenticating, a client that hangs up is noticed, also while it waits.
            if authenticating {
                match unless_hung_up(work, stream, held).await {
                    Some(outcome) => outcome,
                    None => return Ran::HungUp,
                }
            } else {
                // Should a change of a chat wait for earlier appends meanwhile, the appends in
                // flight finish: this one may wait for its chat's line behind that change, and
                // the change for one of them to publish. Not otherwise: a start that waits for
                // room in storage's queue (under load, most do) would cut the burst short
                // (measured: a third fewer deliveries in the many-rooms benchmark).
                let mut work = work;
                let waited = state.dispatcher.until_a_change_waits();
                let mut waited = std::pin::pin!(waited);
                let mut finishing = false;
                loop {
                    tokio::select! {
                        biased;
                        outcome = &mut work => break outcome,
                        () = &mut waited, if !finishing => finishing = true,
                        reply = in_flight.first_finished(), if finishing && !in_flight.is_empty() => {
                            if let Some(reply) = reply
                                && let Err(why) = connection.reply(state, reply).await
                            {
                                return Ran::Ended(why);
                            }
                        }
                    }
                }
            }
        };
        if session.identity().is_none() {
            // Refused: the turn goes to the next connection.
            *admitted = None;
        }
        match outcome {
            Ok(Started::Done(reply)) => Ran::Reply(reply.map(serialized)),
            Ok(Started::Committing(append)) => {
                Ran::Committing(Box::pin(async move { append.finish().await.map(serialized) }))
            }
            Err(Busy) => Ran::Busy,
        }
    }
}

/// Run `dispatch` (a command of a connection not yet authenticated: a login or registration
/// waits for a password hash) while watching the socket. `None`: the client hung up first; the
/// command is dropped, and with it its hash if still queued (the pool skips abandoned jobs).
/// A frame that arrives meanwhile is kept in `held`, for after.
async fn unless_hung_up<F, S, E>(
    mut dispatch: F,
    stream: &mut S,
    held: &mut Option<Option<Result<Message, E>>>,
) -> Option<F::Output>
where
    F: Future + Unpin,
    S: Stream<Item = Result<Message, E>> + Unpin,
{
    loop {
        tokio::select! {
            reply = &mut dispatch => return Some(reply),
            next = stream.next(), if held.is_none() => match next {
                // Tungstenite answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                None | Some(Ok(Message::Close(_)) | Err(_)) => return None,
                other => *held = Some(other),
            },
        }
    }
}

/// Ask the writer to close with `close` (the first request wins).
fn request_close(request: &mut Option<oneshot::Sender<Close>>, close: Close) {
    if let Some(request) = request.take() {
        let _ = request.send(close);
    }
}

/// Resolves when the deadline passes; never without one.
async fn expired(deadline: &mut Option<Pin<Box<Sleep>>>) {
    match deadline {
        Some(deadline) => deadline.await,
        None => std::future::pending().await,
    }
}

/// Why the writer may have to close the connection, besides its socket.
struct Signals {
    evict: Arc<Notify>,
    close: Option<oneshot::Receiver<Close>>,
    revoked: tokio::sync::watch::Receiver<Option<&'static str>>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Signals {
    /// Resolves when the connection must close for a reason other than its socket: a revoked
    /// credential, eviction, a close the reader asked for, or shutdown. The writer makes this
    /// future once and keeps it: made anew per frame, it would register with (and leave) four
    /// wait lists per delivery.
    async fn interrupted(&mut self) -> Close {
        tokio::select! {
            biased;
            reason = revoked(&mut self.revoked) => Close { code: CLOSE_UNAUTHORIZED, reason },
            () = self.evict.notified() => SLOW_CONSUMER,
            close = requested(&mut self.close) => close,
            () = stopping(&mut self.shutdown) => SHUTTING_DOWN,
        }
    }
}

/// What the writer watches besides its queue and its [`Signals`].
struct Watch {
    last_seen: Arc<AtomicU64>,
    opened: Instant,
    interval: Duration,
    progress: Option<Arc<WriteProgress>>,
    write_timeout: Duration,
}

impl Watch {
    /// Whether the peer has been silent for two ping intervals.
    fn silent(&self) -> bool {
        let silent =
            millis_since(self.opened).saturating_sub(self.last_seen.load(Ordering::Relaxed));
        silent > 2 * self.interval.as_millis() as u64
    }

    /// Run one write to the socket; meanwhile keep watching for interruptions, keep checking
    /// for silence, and end the connection if the socket accepts nothing for the write timeout.
    async fn guard(
        &self,
        write: impl Future<Output = bool>,
        interrupted: Pin<&mut impl Future<Output = Close>>,
        ping: &mut Interval,
    ) -> Result<(), Ending> {
        let mut write = std::pin::pin!(write);
        // Most writes complete at once (the socket has room): those need no timer.
        if let Poll::Ready(written) =
            std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await
        {
            return written_or_quiet(written);
        }
        // Boxed: the timers of a blocked write would otherwise sit in every writer's future.
        Box::pin(self.blocked(write, interrupted, ping)).await
    }

    /// [`guard`](Self::guard) once the write could not complete at once.
    async fn blocked(
        &self,
        mut write: Pin<&mut impl Future<Output = bool>>,
        mut interrupted: Pin<&mut impl Future<Output = Close>>,
        ping: &mut Interval,
    ) -> Result<(), Ending> {
        let started = tokio::time::Instant::now();
        let mut deadline = started + self.write_timeout;
        loop {
            tokio::select! {
                biased;
                close = &mut interrupted => return Err(Ending::Close(close)),
                written = &mut write => return written_or_quiet(written),
                // No ping can be sent while a write waits, but silence is still noticed.
                _ = ping.tick() => if self.silent() { return Err(Ending::Close(PING_TIMEOUT)) },
                () = tokio::time::sleep_until(deadline) => {
                    let last = match &self.progress {
                        Some(progress) => tokio::time::Instant::from_std(progress.last()).max(started),
                        None => started,
                    };
                    if last.elapsed() >= self.write_timeout {
                        return Err(Ending::Drop("write timeout"));
                    }
                    deadline = last + self.write_timeout;
                }
            }
        }
    }
}

/// A write's outcome: the socket failed if not written.
fn written_or_quiet(written: bool) -> Result<(), Ending> {
    if written { Ok(()) } else { Err(Ending::Quiet) }
}

/// Resolves with the close the reader asked for; never if it asks for none.
async fn requested(close: &mut Option<oneshot::Receiver<Close>>) -> Close {
    if let Some(receiver) = close {
        match receiver.await {
            Ok(requested) => return requested,
            Err(_) => *close = None,
        }
    }
    std::future::pending().await
}

/// Drain the queue to the socket; returns how the connection ended on the writer's side. (A
/// plain function returning the future, as [`run`], so that the future does not keep its
/// arguments twice.)
#[allow(clippy::manual_async_fn)] // deliberately not an `async fn`: see above
fn write_loop<K>(
    mut sink: K,
    mut outgoing: QueueReceiver,
    mut signals: Signals,
    watch: Watch,
    done: Arc<Notify>,
) -> impl Future<Output = Ending>
where
    K: Sink<Message> + Unpin + Send,
{
    async move {
        let interval = watch.interval;
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        // Made once, polled until it resolves (then the loop ends): see `Signals::interrupted`.
        let mut interrupted = std::pin::pin!(signals.interrupted());
        let ending = loop {
            tokio::select! {
                biased;
                close = &mut interrupted => break Ending::Close(close),
                frame = outgoing.recv() => {
                    let Some(frame) = frame else { break Ending::Quiet };
                    // A client that stops reading blocks the write itself; eviction, shutdown,
                    // the ping check and the write timeout must still get through.
                    let write = write_batch(&mut sink, frame, &mut outgoing);
                    if let Err(ending) = watch.guard(write, interrupted.as_mut(), &mut ping).await {
                        break ending;
                    }
                }
                _ = ping.tick() => {
                    if watch.silent() {
                        break Ending::Close(PING_TIMEOUT);
                    }
                    let write = async { sink.send(Message::Ping(Bytes::new())).await.is_ok() };
                    if let Err(ending) = watch.guard(write, interrupted.as_mut(), &mut ping).await {
                        break ending;
                    }
                }
            }
        };
        done.notify_one();
        // Frames still queued are dropped: an evicted client resumes from its last sequence number.
        drop(outgoing);
        if let Ending::Close(Close { code, reason }) = ending {
            let frame =
                CloseFrame { code: CloseCode::from(code), reason: Utf8Bytes::from_static(reason) };
            let wait = CLOSE_TIMEOUT.min(watch.write_timeout.max(Duration::from_secs(1)));
            let _ = tokio::time::timeout(wait, sink.send(Message::Close(Some(frame)))).await;
        }
        if !matches!(ending, Ending::Drop(_)) {
            let _ = tokio::time::timeout(Duration::from_secs(5), sink.close()).await;
        }
        ending
    }
}

/// Write `first` and whatever else is queued (up to a batch), then flush once. `false` if the
/// socket failed.
async fn write_batch<K>(sink: &mut K, first: Utf8Bytes, outgoing: &mut QueueReceiver) -> bool
where
    K: Sink<Message> + Unpin,
{
    if sink.feed(Message::Text(first)).await.is_err() {
        return false;
    }
    for _ in 1..WRITE_BATCH {
        let Some(more) = outgoing.try_recv() else { break };
        if sink.feed(Message::Text(more)).await.is_err() {
            return false;
        }
    }
    sink.flush().await.is_ok()
}

/// Resolves with the reason once the connection's credential is revoked (never if the signal
/// is dropped first).
async fn revoked(closing: &mut tokio::sync::watch::Receiver<Option<&'static str>>) -> &'static str {
    let why = closing.wait_for(Option::is_some).await.map(|why| (*why).unwrap_or(REASON_EXPIRED));
    match why {
        Ok(why) => why,
        Err(_) => std::future::pending().await,
    }
}

/// When a connection authenticated by a login token must close: the token's expiry.
fn expiry_instant(identity: &Identity) -> Option<tokio::time::Instant> {
    let hellocode_core::session::Credential::Login { expires_at, .. } = identity.credential else {
        return None;
    };
    let left = expires_at
        .unix_millis()
        .saturating_sub(hellocode_core::model::Timestamp::now().unix_millis());
    let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
    Some(tokio::time::Instant::now() + left.min(Duration::from_secs(10 * 365 * 24 * 3600)))
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use futures_util::stream;

    use super::*;

    /// Sets its flag when dropped: whether a dispatch future was given up.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// A dispatch that never finishes (a login whose hash waits in the queue).
    fn stuck_login(
        dropped: &Arc<AtomicBool>,
    ) -> Pin<Box<impl Future<Output = Option<ServerFrame>>>> {
        let flag = DropFlag(dropped.clone());
        Box::pin(async move {
            let _flag = flag;
            std::future::pending::<Option<ServerFrame>>().await
        })
    }

    #[tokio::test]
    async fn a_login_whose_client_hangs_up_is_dropped() {
        for ending in [None, Some(Ok(Message::Close(None))), Some(Err("reset"))] {
            let dropped = Arc::new(AtomicBool::new(false));
            let pings = [Ok(Message::Ping(Bytes::new())), Ok(Message::Pong(Bytes::new()))];
            let mut socket = stream::iter(pings.into_iter().chain(ending.clone()));
            let mut held = None;
            let outcome = unless_hung_up(stuck_login(&dropped), &mut socket, &mut held).await;
            assert!(outcome.is_none(), "hung up ({ending:?})");
            assert!(dropped.load(Ordering::SeqCst), "the login was given up ({ending:?})");
            assert!(held.is_none());
        }
    }

    #[tokio::test]
    async fn a_frame_sent_during_a_login_is_kept_for_after_it() {
        let mut socket =
            stream::iter([Ok::<_, &str>(Message::text("next")), Ok(Message::text("later"))]);
        let mut held = None;
        let login = Box::pin(async { Some(ServerFrame::Pong { id: None }) });
        // The socket is read only while the login runs; here it finishes at once or after one
        // frame, and a frame read is held, never lost.
        let reply = unless_hung_up(login, &mut socket, &mut held).await;
        assert_eq!(reply, Some(Some(ServerFrame::Pong { id: None })));
        let mut order = Vec::new();
        while let Some(Ok(Message::Text(text))) = next_frame(&mut held, &mut socket).await {
            order.push(text.to_string());
        }
        assert_eq!(order, ["next", "later"], "every frame, in order");

        let dropped = Arc::new(AtomicBool::new(false));
        let mut socket =
            stream::iter([Ok::<_, &str>(Message::text("pipelined"))]).chain(stream::pending());
        let mut held = None;
        // One poll: the frame is read and held; then only the login is awaited.
        let waiting = unless_hung_up(stuck_login(&dropped), &mut socket, &mut held);
        assert!(futures_util::FutureExt::now_or_never(waiting).is_none(), "still logging in");
        assert!(
            matches!(&held, Some(Some(Ok(Message::Text(text)))) if text.as_str() == "pipelined"),
            "{held:?}"
        );
    }
}
