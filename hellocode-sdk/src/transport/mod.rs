//! Transports move protocol frames (JSON texts) between a client and a server; everything else —
//! authentication, correlation, reconnection, resume — is the client's, and the same over every
//! transport.
//!
//! Two come with the SDK: [`WebSocketTransport`] (`ws://` and `wss://`, rustls) and
//! [`InProcessTransport`] (a server in the same process, over channels). [`Failover`] spreads
//! one client over several server nodes: it connects through the first that answers.
//!
//! Media (uploads and downloads) go over HTTP, not through the transport: a transport names the
//! server's HTTP address with [`Transport::http_endpoint`] (the WebSocket transport's is its own
//! host and port, with the same TLS configuration).
//!
//! # Adding a transport
//!
//! Implement [`Transport::connect`]: open a connection to the server's `/ws` endpoint (or its
//! equivalent), unauthenticated, and return it as a [`Connection`] — a sink of outgoing frames
//! and a stream of incoming ones, each one JSON text. The stream ends (or yields an error) when
//! the connection is gone; the client then reconnects by calling `connect` again. Nothing in
//! the client changes:
//!
//! ```
//! use futures_util::{SinkExt, StreamExt};
//! use hellocode_sdk::transport::{Connection, Transport};
//! use hellocode_sdk::{Error, Result};
//!
//! /// A transport over an existing pair of channels (say, to a worker thread).
//! struct Channels {
//!     open: std::sync::Mutex<Option<Connection>>,
//! }
//!
//! #[async_trait::async_trait]
//! impl Transport for Channels {
//!     async fn connect(&self) -> Result<Connection> {
//!         self.open
//!             .lock()
//!             .map_err(|_| Error::Transport("poisoned".into()))?
//!             .take()
//!             .ok_or_else(|| Error::Transport("only one connection".into()))
//!     }
//! }
//!
//! let (to_server, _server_in) = futures_channel::mpsc::channel::<String>(8);
//! let (_server_out, from_server) = futures_channel::mpsc::channel::<String>(8);
//! let connection = Connection::new(
//!     to_server.sink_map_err(|err| Error::Transport(err.to_string())),
//!     from_server.map(Ok),
//! );
//! let transport = Channels { open: std::sync::Mutex::new(Some(connection)) };
//! # let _ = transport;
//! ```

mod failover;
mod in_process;
mod websocket;

use std::pin::Pin;

use futures_util::{Sink, Stream};

pub use crate::http::HttpEndpoint;
pub use failover::Failover;
pub use in_process::InProcessTransport;
pub use websocket::WebSocketTransport;
pub(crate) use websocket::default_tls;

use crate::Result;

/// Outgoing frames of one connection.
pub type FrameSink = Pin<Box<dyn Sink<String, Error = crate::Error> + Send>>;
/// Incoming frames of one connection; ends when the connection closes.
pub type FrameStream = Pin<Box<dyn Stream<Item = Result<String>> + Send>>;

/// One open connection: JSON text frames out and in.
pub struct Connection {
    /// Frames to the server.
    pub sink: FrameSink,
    /// Frames from the server.
    pub stream: FrameStream,
}

impl Connection {
    /// A connection from any sink and stream of text frames.
    pub fn new<K, S>(sink: K, stream: S) -> Self
    where
        K: Sink<String, Error = crate::Error> + Send + 'static,
        S: Stream<Item = Result<String>> + Send + 'static,
    {
        Connection { sink: Box::pin(sink), stream: Box::pin(stream) }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// Close code of a connection whose credentials are no longer valid (token revoked or
/// expired, account deleted, password changed); the reason starts with `unauthorized:`.
pub const CLOSE_UNAUTHORIZED: u16 = 4001;

/// The error a connection closed by the server ends with. 4001 ([`CLOSE_UNAUTHORIZED`]) is
/// `invalid_token`: the client does not reconnect with that token (it logs in again with its
/// password if it has one, else stops with this error). Anything else is a lost connection,
/// reconnected with backoff (4029 too many connections, 4003 authentication timeout, 4008 slow
/// consumer). A custom transport that learns of a dead token ends its stream with the same
/// error.
pub fn closed_by_server(code: u16, reason: &str) -> crate::Error {
    let text = format!("closed by the server ({code} {reason})");
    if code == CLOSE_UNAUTHORIZED {
        crate::Error::Server {
            code: hellocode_core::protocol::ErrorCode::InvalidToken,
            message: text,
        }
    } else {
        crate::Error::Transport(text)
    }
}

/// A way to reach a server. The client calls [`connect`](Transport::connect) for the first
/// connection and for every reconnection.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Open a new, unauthenticated connection to all of the user's chats.
    async fn connect(&self) -> Result<Connection>;

    /// A short description for logs, e.g. the URL.
    fn describe(&self) -> String {
        "custom transport".to_owned()
    }

    /// Where the server answers HTTP, for uploads and downloads of media (`None`, the default:
    /// it cannot be reached over HTTP, and media operations fail with `unsupported`).
    fn http_endpoint(&self) -> Option<HttpEndpoint> {
        None
    }
}

#[async_trait::async_trait]
impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    async fn connect(&self) -> Result<Connection> {
        (**self).connect().await
    }

    fn describe(&self) -> String {
        (**self).describe()
    }

    fn http_endpoint(&self) -> Option<HttpEndpoint> {
        (**self).http_endpoint()
    }
}

#[async_trait::async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn connect(&self) -> Result<Connection> {
        (**self).connect().await
    }

    fn describe(&self) -> String {
        (**self).describe()
    }

    fn http_endpoint(&self) -> Option<HttpEndpoint> {
        (**self).http_endpoint()
    }
}
