//! In-process connections: a client and a server in one process exchanging protocol frames over
//! channels instead of a socket.
//!
//! A server that can be reached this way implements [`LocalServer`]; a client calls
//! [`LocalServer::connect`] and gets the two ends of a [`LocalConnection`]. The frames are the
//! same JSON texts a WebSocket carries, so the server runs the same code for both (one protocol,
//! many transports), and tests, embedded bots and apps that host the server need no sockets.
//! The channels are runtime-agnostic (`futures-channel`), which keeps this crate free of tokio.
//!
//! ```
//! use futures_channel::mpsc;
//! use hellocode_core::local::{LocalConnection, LocalServer};
//!
//! /// A toy server that greets every connection and then ignores it (a real one runs a session
//! /// per connection on its runtime).
//! struct Greeter;
//!
//! impl LocalServer for Greeter {
//!     fn connect(&self) -> Option<LocalConnection> {
//!         let (to_server, _server_in) = mpsc::channel::<String>(16);
//!         let (mut server_out, from_server) = mpsc::channel::<String>(16);
//!         server_out.try_send(r#"{"command":"pong"}"#.to_owned()).ok()?;
//!         Some(LocalConnection { to_server, from_server })
//!     }
//! }
//!
//! let mut connection = Greeter.connect().expect("the toy server is always up");
//! let greeting = connection.from_server.try_recv().expect("one frame is waiting");
//! assert_eq!(greeting, r#"{"command":"pong"}"#);
//! ```

use futures_channel::mpsc::{Receiver, Sender};

/// The client's ends of one in-process connection.
///
/// Dropping `to_server` (or closing it) is the client closing the connection; `from_server`
/// ends when the server closes it. Both channels are bounded: a client that stops reading is
/// treated by the server like a slow socket.
#[derive(Debug)]
pub struct LocalConnection {
    /// Frames to the server, one JSON object each.
    pub to_server: Sender<String>,
    /// Frames from the server, one JSON object each.
    pub from_server: Receiver<String>,
}

/// A server reachable inside this process.
pub trait LocalServer: Send + Sync + 'static {
    /// Open a connection to every chat of the user (like `/ws`), not yet authenticated: the
    /// client's first command is `auth`, `login` or `register`. `None` once the server has shut
    /// down.
    fn connect(&self) -> Option<LocalConnection>;
}
