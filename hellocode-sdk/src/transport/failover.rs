//! Several servers of one deployment (identical nodes sharing one database): connect to any
//! that answers, and after a lost connection try another node first.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Connection, HttpEndpoint, Transport, WebSocketTransport};
use crate::{Error, Result};

/// Connects through the first of several transports that succeeds — for a deployment of
/// several server nodes. A client resumes on any node exactly where it left off (sequence
/// numbers come from the shared database), so a node that dies costs its clients one
/// reconnection.
///
/// Each connection tries every transport once, in order, starting after the one the last
/// connection went through: a reconnection follows a lost connection, and the node that lost
/// it may be the one going down (it is tried last). Each try is bounded by the client's
/// `connect_timeout` as a whole, so list reachable nodes first; a try that times out makes the
/// next reconnection start at the next node.
///
/// ```
/// use hellocode_sdk::transport::Failover;
///
/// let transport = Failover::websocket(&["ws://10.0.0.1:8080", "ws://10.0.0.2:8080"])?;
/// assert_eq!(transport.len(), 2);
/// assert!(Failover::websocket(&[]).is_err());
/// # Ok::<(), hellocode_sdk::Error>(())
/// ```
pub struct Failover {
    transports: Vec<Box<dyn Transport>>,
    /// Where the next connection starts.
    next: AtomicUsize,
    /// The transport of the last connection made (the first before any).
    current: AtomicUsize,
}

impl std::fmt::Debug for Failover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failover").field("servers", &self.describe()).finish_non_exhaustive()
    }
}

impl Failover {
    /// Fail over among `transports`, tried in this order. `InvalidUrl` for an empty list.
    pub fn new(transports: Vec<Box<dyn Transport>>) -> Result<Self> {
        if transports.is_empty() {
            return Err(Error::InvalidUrl {
                url: String::new(),
                reason: "no server to connect to".into(),
            });
        }
        Ok(Failover { transports, next: AtomicUsize::new(0), current: AtomicUsize::new(0) })
    }

    /// WebSocket transports to each of `urls` (see [`WebSocketTransport::new`]).
    pub fn websocket(urls: &[&str]) -> Result<Self> {
        let transports = urls
            .iter()
            .map(|url| WebSocketTransport::new(url).map(|t| Box::new(t) as Box<dyn Transport>))
            .collect::<Result<Vec<_>>>()?;
        Failover::new(transports)
    }

    /// How many servers it fails over among.
    pub fn len(&self) -> usize {
        self.transports.len()
    }

    /// Always false: a `Failover` has at least one server.
    pub fn is_empty(&self) -> bool {
        self.transports.is_empty()
    }
}

#[async_trait::async_trait]
impl Transport for Failover {
    async fn connect(&self) -> Result<Connection> {
        let count = self.transports.len();
        let start = self.next.load(Ordering::Relaxed) % count;
        // Should this attempt be cut short by the client's timeout, the next one starts at
        // the following node.
        self.next.store((start + 1) % count, Ordering::Relaxed);
        let mut failures = Vec::new();
        let mut last_error = None;
        for offset in 0..count {
            let index = (start + offset) % count;
            let transport = &self.transports[index];
            match transport.connect().await {
                Ok(connection) => {
                    // The next connection follows a loss of this one: start past this node.
                    self.next.store((index + 1) % count, Ordering::Relaxed);
                    self.current.store(index, Ordering::Relaxed);
                    if offset > 0 {
                        tracing::info!(server = %transport.describe(), "failed over");
                    }
                    return Ok(connection);
                }
                Err(error) => {
                    tracing::debug!(server = %transport.describe(), %error, "server unreachable");
                    failures.push(format!("{}: {error}", transport.describe()));
                    last_error = Some(error);
                }
            }
        }
        match last_error {
            Some(error) if count == 1 => Err(error),
            _ => Err(Error::Transport(format!("no server reachable ({})", failures.join("; ")))),
        }
    }

    fn describe(&self) -> String {
        let servers: Vec<String> = self.transports.iter().map(|t| t.describe()).collect();
        servers.join(", ")
    }

    /// The HTTP address of the node the last connection went to (the first node before any).
    fn http_endpoint(&self) -> Option<HttpEndpoint> {
        let current = self.current.load(Ordering::Relaxed) % self.transports.len();
        self.transports[current].http_endpoint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};

    use futures_util::{SinkExt, StreamExt, sink, stream};

    use super::*;

    type Log = Arc<Mutex<Vec<&'static str>>>;

    /// A node that is up or down, and records each connection attempt in a shared log.
    struct Node {
        name: &'static str,
        up: Arc<AtomicBool>,
        log: Log,
    }

    #[async_trait::async_trait]
    impl Transport for Node {
        async fn connect(&self) -> Result<Connection> {
            self.log.lock().expect("log").push(self.name);
            if !self.up.load(Ordering::Relaxed) {
                return Err(Error::Transport(format!("{} refused", self.name)));
            }
            let sink = sink::drain().sink_map_err(|never| match never {});
            Ok(Connection::new(sink, stream::empty().boxed()))
        }

        fn describe(&self) -> String {
            self.name.to_owned()
        }

        fn http_endpoint(&self) -> Option<HttpEndpoint> {
            HttpEndpoint::new(&format!("http://{}", self.name)).ok()
        }
    }

    /// Connect once: whether it worked, and which nodes were tried, in order.
    async fn attempt(failover: &Failover, log: &Log) -> (Result<()>, Vec<&'static str>) {
        let result = failover.connect().await.map(|_| ());
        (result, std::mem::take(&mut *log.lock().expect("log")))
    }

    #[tokio::test]
    async fn each_connection_starts_past_the_node_of_the_last_and_skips_dead_ones() {
        let log: Log = Arc::default();
        let ups: Vec<Arc<AtomicBool>> = (0..3).map(|_| Arc::new(AtomicBool::new(true))).collect();
        let transports = ["a", "b", "c"]
            .into_iter()
            .zip(&ups)
            .map(|(name, up)| {
                Box::new(Node { name, up: up.clone(), log: log.clone() }) as Box<dyn Transport>
            })
            .collect();
        let failover = Failover::new(transports).expect("three nodes");
        let (result, tried) = attempt(&failover, &log).await;
        assert!(result.is_ok());
        assert_eq!(tried, ["a"]);
        // Lost: the next connection starts at the next node.
        let (result, tried) = attempt(&failover, &log).await;
        assert!(result.is_ok());
        assert_eq!(tried, ["b"]);
        ups[2].store(false, Ordering::Relaxed);
        let (result, tried) = attempt(&failover, &log).await;
        assert!(result.is_ok());
        assert_eq!(tried, ["c", "a"], "a dead node is passed over in the same attempt");
        ups.iter().for_each(|up| up.store(false, Ordering::Relaxed));
        let (result, tried) = attempt(&failover, &log).await;
        assert_eq!(tried, ["b", "c", "a"]);
        let message = result.expect_err("every node down").to_string();
        assert!(message.contains("b refused") && message.contains("a refused"), "{message}");
    }

    #[tokio::test]
    async fn the_http_address_is_the_connected_nodes() {
        let log: Log = Arc::default();
        let ups: Vec<Arc<AtomicBool>> = (0..2).map(|_| Arc::new(AtomicBool::new(true))).collect();
        let transports = ["a", "b"]
            .into_iter()
            .zip(&ups)
            .map(|(name, up)| {
                Box::new(Node { name, up: up.clone(), log: log.clone() }) as Box<dyn Transport>
            })
            .collect();
        let failover = Failover::new(transports).expect("two nodes");
        let base = |failover: &Failover| failover.http_endpoint().map(|e| e.base());
        assert_eq!(base(&failover).as_deref(), Some("http://a:80"), "the first before any");
        ups[0].store(false, Ordering::Relaxed);
        let (result, _) = attempt(&failover, &log).await;
        assert!(result.is_ok());
        assert_eq!(base(&failover).as_deref(), Some("http://b:80"));
        ups.iter().for_each(|up| up.store(false, Ordering::Relaxed));
        let (result, _) = attempt(&failover, &log).await;
        assert!(result.is_err());
        assert_eq!(base(&failover).as_deref(), Some("http://b:80"), "a failure changes nothing");
    }

    #[test]
    fn no_node_is_an_invalid_url() {
        assert!(matches!(Failover::new(Vec::new()), Err(Error::InvalidUrl { .. })));
        assert!(matches!(Failover::websocket(&["http://x"]), Err(Error::InvalidUrl { .. })));
    }
}
