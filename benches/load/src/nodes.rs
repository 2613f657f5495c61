//! Several nodes of one deployment (each server started with `--broker redis://...`, all on one
//! database): which node each client talks to, readiness of the nodes' broker, and latency
//! split by whether a delivery crossed between nodes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;

use crate::http;

/// How long the nodes' subscriptions to the broker may take to come up.
const BROKER_PATIENCE: Duration = Duration::from_secs(15);
/// How long one `/healthz` request may take.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// The nodes a run drives, and which one each client uses.
#[derive(Debug, Clone)]
pub struct Nodes {
    addrs: Vec<SocketAddr>,
}

impl Nodes {
    /// The nodes at `addrs` (at least one).
    pub fn new(addrs: &[SocketAddr]) -> anyhow::Result<Nodes> {
        anyhow::ensure!(!addrs.is_empty(), "need at least one server address");
        Ok(Nodes { addrs: addrs.to_vec() })
    }

    /// How many nodes.
    pub fn count(&self) -> usize {
        self.addrs.len()
    }

    /// Whether the run spans several nodes (the split latency is reported then).
    pub fn several(&self) -> bool {
        self.addrs.len() > 1
    }

    /// Where registration, login and room creation go: any node would do (they share the
    /// database), the first one is used.
    pub fn rest(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The node of the run's `connection`-th connection (counted over all rooms, in order):
    /// round-robin, so that consecutive clients of a room, senders included, sit on different
    /// nodes.
    pub fn node_of(&self, connection: usize) -> usize {
        connection % self.addrs.len()
    }

    /// The address of node `node`.
    pub fn addr(&self, node: usize) -> SocketAddr {
        self.addrs[node % self.addrs.len()]
    }

    /// Wait until every node says in `/healthz` that its broker is up: before that a node
    /// cannot hear the others, and its clients would miss their messages. Bounded.
    pub async fn wait_for_broker(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + BROKER_PATIENCE;
        for &addr in &self.addrs {
            loop {
                let health = tokio::time::timeout(HEALTH_TIMEOUT, http::get(addr, "/healthz"))
                    .await
                    .with_context(|| format!("{addr}: /healthz did not answer"))??;
                match health.1["checks"]["broker"].as_str() {
                    Some("ok") => break,
                    None => anyhow::bail!(
                        "{addr} has no broker between nodes (start every node with --broker \
                         redis://...): {} {}",
                        health.0,
                        health.1
                    ),
                    Some(_) if Instant::now() >= deadline => {
                        anyhow::bail!("{addr}: its broker is not up: {}", health.1)
                    }
                    Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
        Ok(())
    }
}

/// Latency of the deliveries whose receiver sits on its sender's node, and of those that
/// crossed to another node through the broker, in microseconds.
#[derive(Debug, Clone)]
pub(crate) struct SplitLatency {
    pub(crate) same_node: Histogram<u64>,
    pub(crate) cross_node: Histogram<u64>,
}

impl SplitLatency {
    pub(crate) fn new() -> anyhow::Result<SplitLatency> {
        Ok(SplitLatency {
            same_node: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            cross_node: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        })
    }

    /// Record one delivery's latency; out-of-range values are dropped, as in the overall one.
    pub(crate) fn record(&mut self, crossed: bool, micros: u64) {
        let histogram = if crossed { &mut self.cross_node } else { &mut self.same_node };
        let _ = histogram.record(micros);
    }

    /// Add another receiver's figures.
    pub(crate) fn add(&mut self, other: &SplitLatency) -> anyhow::Result<()> {
        self.same_node.add(&other.same_node)?;
        self.cross_node.add(&other.cross_node)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_of_a_room_alternate_between_nodes() {
        let addrs: Vec<SocketAddr> = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
            .iter()
            .map(|a| a.parse().expect("address"))
            .collect();
        let nodes = Nodes::new(&addrs).expect("nodes");
        let placed: Vec<usize> = (0..7).map(|c| nodes.node_of(c)).collect();
        assert_eq!(placed, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(nodes.addr(nodes.node_of(4)), addrs[1]);
        assert!(nodes.several());
        let one = Nodes::new(&addrs[..1]).expect("one node");
        assert!(!one.several());
        assert_eq!((one.node_of(5), one.rest()), (0, addrs[0]));
        assert!(Nodes::new(&[]).is_err());
    }
}
