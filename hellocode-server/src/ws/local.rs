//! The in-process transport: connections over channels instead of sockets, served by the same
//! connection code as the WebSocket (see [`hellocode_core::local`]).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use futures_channel::mpsc;
use futures_util::{Sink, Stream};
use hellocode_core::local::{LocalConnection, LocalServer};
use hellocode_core::session::{Scope, Session};
use tokio_tungstenite::tungstenite::{Bytes, Message};

use crate::app::AppState;

/// Frames buffered in each direction of an in-process connection, besides the server's own
/// per-connection send queue.
const CHANNEL_FRAMES: usize = 64;

/// Opens in-process connections to a running server; cheap to clone.
///
/// ```no_run
/// # async fn run(server: &hellocode_server::Server) {
/// use hellocode_core::local::LocalServer;
///
/// let endpoint = server.local_endpoint();
/// let mut connection = endpoint.connect().expect("the server is running");
/// connection.to_server.try_send(r#"{"command":"ping","id":1}"#.to_owned()).expect("room");
/// # }
/// ```
#[derive(Clone)]
pub struct LocalEndpoint {
    // Weak: an endpoint kept by a client must not keep a stopped server's state alive (shutdown
    // waits until every holder of the state is gone).
    state: Weak<AppState>,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for LocalEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEndpoint").finish_non_exhaustive()
    }
}

impl LocalEndpoint {
    pub(crate) fn new(state: &Arc<AppState>, runtime: tokio::runtime::Handle) -> Self {
        LocalEndpoint { state: Arc::downgrade(state), runtime }
    }
}

impl LocalServer for LocalEndpoint {
    fn connect(&self) -> Option<LocalConnection> {
        let state = self.state.upgrade()?;
        if *state.shutdown.borrow() {
            return None;
        }
        let (to_server, incoming) = mpsc::channel(CHANNEL_FRAMES);
        let (outgoing, from_server) = mpsc::channel(CHANNEL_FRAMES);
        let socket = LocalSocket { incoming, outgoing, pong_due: false, reader: None };
        let session = Session::new(Scope::AllChats, state.settings.limits);
        let connection = super::run_connection(socket, state, session, None, None, None);
        self.runtime.spawn(connection);
        Some(LocalConnection { to_server, from_server })
    }
}

/// The server's side of an in-process connection, as the `Sink + Stream` of WebSocket messages
/// that the connection code expects. The client end sees only text frames: pings are answered
/// here (the connection code closes peers that never answer), closing is dropping a channel.
struct LocalSocket {
    incoming: mpsc::Receiver<String>,
    outgoing: mpsc::Sender<String>,
    pong_due: bool,
    reader: Option<Waker>,
}

impl Stream for LocalSocket {
    type Item = Result<Message, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.pong_due {
            self.pong_due = false;
            return Poll::Ready(Some(Ok(Message::Pong(Bytes::new()))));
        }
        match Pin::new(&mut self.incoming).poll_next(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|text| Ok(Message::text(text)))),
            Poll::Pending => {
                self.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Sink<Message> for LocalSocket {
    type Error = mpsc::SendError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        match message {
            Message::Text(text) => self.outgoing.start_send(text.as_str().to_owned()),
            Message::Ping(_) => {
                self.pong_due = true;
                if let Some(reader) = self.reader.take() {
                    reader.wake();
                }
                Ok(())
            }
            Message::Close(_) => {
                self.outgoing.close_channel();
                Ok(())
            }
            Message::Binary(_) | Message::Pong(_) | Message::Frame(_) => Ok(()),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Result<(), Self::Error>> {
        self.outgoing.close_channel();
        Poll::Ready(Ok(()))
    }
}
