//! The client's one task: it owns the connection and runs the protocol's state machine
//! ([`session::Session`], which holds every decision and no IO) against it: it connects when
//! asked, writes what the session transmits (within `write_timeout`), and feeds it frames,
//! handles' commands and the clock.
//!
//! Handles (`Client`) talk to it over a channel; it never blocks on the application (events go
//! to unbounded subscriber queues), so replies keep flowing whatever the application does.

mod chats;
mod events;
pub(crate) mod outbox;
mod session;
pub(crate) mod wire;

#[cfg(test)]
mod props;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hellocode_core::model::{ChatId, Message, Seq};
use hellocode_core::protocol::ServerFrame;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};

use crate::config::{ClientConfig, Credentials};
use crate::event::{ConnectionState, Event, PendingSend};
use crate::transport::{Connection, Transport};
use crate::{Error, Result};
use session::{Action, Session};
pub(crate) use wire::Wire;

/// What handles ask of the driver.
pub(crate) enum ToDriver {
    /// A command and where its reply goes. `retry`: safe to send again after a lost connection.
    Request { command: Wire, retry: bool, reply: oneshot::Sender<Result<ServerFrame>> },
    /// A message for the send queue (already counted in `Shared::queued`).
    Enqueue { send: PendingSend, waiter: Option<oneshot::Sender<Result<Message>>> },
    /// A new event subscriber.
    Subscribe(mpsc::UnboundedSender<Event>),
    /// The last delivered sequence number per chat.
    Positions(oneshot::Sender<HashMap<ChatId, Seq>>),
    /// The messages still queued.
    PendingSends(oneshot::Sender<Vec<PendingSend>>),
    /// Flush the send queue (bounded by `close_timeout`) and stop.
    Close(oneshot::Sender<()>),
}

/// State shared between the driver and its handles.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Messages in the send queue, counted when handed over so `enqueue` can refuse at once.
    pub(crate) queued: AtomicUsize,
    /// The newest token (after login, registration, or as given).
    pub(crate) token: Mutex<Option<String>>,
}

pub(crate) struct Driver {
    session: Session,
    transport: Arc<dyn Transport>,
    commands: mpsc::UnboundedReceiver<ToDriver>,
    connection: Option<Connection>,
    /// Every `Client` handle is gone: no more commands will come.
    handles_gone: bool,
    connect_timeout: Duration,
    write_timeout: Duration,
}

impl Driver {
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        credentials: Credentials,
        config: ClientConfig,
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<ToDriver>,
        state: watch::Sender<ConnectionState>,
    ) -> Self {
        let (connect_timeout, write_timeout) = (config.connect_timeout, config.write_timeout);
        let name = transport.describe();
        let session = Session::new(credentials, config, shared, state, name, Instant::now());
        Driver {
            session,
            transport,
            commands,
            connection: None,
            handles_gone: false,
            connect_timeout,
            write_timeout,
        }
    }

    pub(crate) fn username(&self) -> &str {
        self.session.username()
    }

    /// The first connection: connect, authenticate and fetch the chat list, within
    /// `connect_timeout`; its failure is the client's.
    pub(crate) async fn start(&mut self) -> Result<()> {
        while self.session.is_first() {
            if let ControlFlow::Break(error) = self.step().await {
                return Err(error.unwrap_or(Error::Closed));
            }
        }
        Ok(())
    }

    /// Run until closed.
    pub(crate) async fn run(mut self) {
        let error = loop {
            if let ControlFlow::Break(error) = self.step().await {
                break error;
            }
        };
        // Requests handed over after the end still get an answer.
        self.commands.close();
        let mut leftovers = Vec::new();
        while let Ok(command) = self.commands.try_recv() {
            leftovers.push(command);
        }
        self.session.finish(error, leftovers);
    }

    /// Write what the session transmits, carry out its actions, then wait for one input.
    async fn step(&mut self) -> ControlFlow<Option<Error>> {
        if let Some(connection) = &mut self.connection {
            let frames = self.session.poll_transmit(Instant::now());
            if let Err(error) = write(connection, frames, self.write_timeout).await {
                self.connection = None;
                self.session.handle_lost(error, Instant::now());
            }
        }
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Connect { deadline } => {
                    match timeout_at(deadline, self.transport.connect()).await {
                        Ok(Ok(connection)) => {
                            self.connection = Some(connection);
                            self.session.handle_connected(Instant::now());
                        }
                        Ok(Err(error)) => self.session.handle_lost(error, Instant::now()),
                        Err(_) => self
                            .session
                            .handle_lost(Error::Timeout(self.connect_timeout), Instant::now()),
                    }
                    // Write the handshake (or act on the failure) before waiting.
                    return ControlFlow::Continue(());
                }
                Action::Disconnect => self.connection = None,
                Action::Stop(error) => {
                    if let Some(mut connection) = self.connection.take() {
                        let limit = self.write_timeout.min(Duration::from_secs(1));
                        let _ = timeout(limit, connection.sink.close()).await;
                    }
                    return ControlFlow::Break(error);
                }
            }
        }
        let deadline = self.session.poll_timeout();
        let connection = &mut self.connection;
        let next_frame = async move {
            match connection {
                Some(connection) => connection.stream.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            command = self.commands.recv(), if !self.handles_gone => match command {
                None => {
                    // The application dropped its last handle: flush, then stop.
                    self.handles_gone = true;
                    self.session.handle_handles_gone(Instant::now());
                }
                Some(command) => self.session.handle_command(command, Instant::now()),
            },
            frame = next_frame => match frame {
                Some(Ok(text)) => self.session.handle_frame(&text, Instant::now()),
                Some(Err(error)) => {
                    self.connection = None;
                    self.session.handle_lost(error, Instant::now());
                }
                None => {
                    self.connection = None;
                    let closed = Error::Transport("the server closed the connection".into());
                    self.session.handle_lost(closed, Instant::now());
                }
            },
            () = sleep_until(deadline) => self.session.handle_timeout(Instant::now()),
        }
        ControlFlow::Continue(())
    }
}

/// Write frames and flush them, within `limit`: a write stuck longer (the peer stopped reading,
/// a dead route) is a lost connection, so it cannot stall the driver or `close`.
async fn write(connection: &mut Connection, frames: Vec<String>, limit: Duration) -> Result<()> {
    if frames.is_empty() {
        return Ok(());
    }
    let writing = async {
        for frame in frames {
            connection.sink.feed(frame).await?;
        }
        connection.sink.flush().await
    };
    timeout(limit, writing).await.map_err(|_| Error::Timeout(limit))?
}

pub(crate) fn unexpected(expected: &str, frame: &ServerFrame) -> Error {
    Error::Protocol(format!("expected `{expected}`, got `{}`", frame.name()))
}
