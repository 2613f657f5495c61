//! The in-process transport: a server in the same process, reached over channels.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use hellocode_core::local::LocalServer;

use super::{Connection, Transport};
use crate::{Error, Result};

/// Connects to a server running in the same process (any [`LocalServer`], such as
/// `hellocode_server::Server::local_endpoint()`): no sockets, same protocol. For tests, bots
/// embedded in the server's process, and apps that host the server.
///
/// ```no_run
/// # async fn run(server: hellocode_server::Server) -> hellocode_sdk::Result<()> {
/// use hellocode_sdk::{Client, Credentials, InProcessTransport};
///
/// let transport = InProcessTransport::new(server.local_endpoint());
/// let client = Client::connect(transport, Credentials::password("alice", "correct horse")).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct InProcessTransport {
    server: Arc<dyn LocalServer>,
}

impl InProcessTransport {
    /// A transport to `server`.
    pub fn new(server: impl LocalServer) -> Self {
        InProcessTransport { server: Arc::new(server) }
    }
}

impl std::fmt::Debug for InProcessTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessTransport").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Transport for InProcessTransport {
    async fn connect(&self) -> Result<Connection> {
        let connection = self
            .server
            .connect()
            .ok_or_else(|| Error::Transport("the in-process server has shut down".into()))?;
        let sink = connection.to_server.sink_map_err(|_| {
            Error::Transport("the in-process server closed the connection".into())
        });
        Ok(Connection::new(sink, connection.from_server.map(Ok)))
    }

    fn describe(&self) -> String {
        "in-process".to_owned()
    }
}
