//! Run reports: a table for people, JSON for scripts.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// End-to-end latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Maximum.
    pub max_us: u64,
}

impl From<&Histogram<u64>> for Latency {
    fn from(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// What an idle run measured.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    /// Connections opened and authenticated.
    pub opened: usize,
    /// Connections that failed.
    pub failed: usize,
    /// Time to open them all.
    #[serde(serialize_with = "seconds")]
    pub connect_time: Duration,
    /// Server memory before, KiB.
    pub rss_before_kib: Option<u64>,
    /// Server memory with all connections idle, KiB.
    pub rss_idle_kib: Option<u64>,
}

impl IdleReport {
    /// Server memory per connection, bytes.
    pub fn bytes_per_connection(&self) -> Option<f64> {
        let (before, idle) = (self.rss_before_kib?, self.rss_idle_kib?);
        (self.opened > 0).then(|| (idle.saturating_sub(before) * 1024) as f64 / self.opened as f64)
    }
}

impl fmt::Display for IdleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "connections opened      {:>12}", self.opened)?;
        writeln!(f, "connections failed      {:>12}", self.failed)?;
        writeln!(f, "connect time            {:>11.2}s", self.connect_time.as_secs_f64())?;
        if let (Some(before), Some(idle)) = (self.rss_before_kib, self.rss_idle_kib) {
            writeln!(f, "server RSS before       {:>9} KiB", before)?;
            writeln!(f, "server RSS idle         {:>9} KiB", idle)?;
        }
        if let Some(per) = self.bytes_per_connection() {
            writeln!(f, "memory per connection   {:>8.0} B ({:.1} KiB)", per, per / 1024.0)?;
            writeln!(f, "for 1,000,000           {:>8.1} GiB", per * 1e6 / (1u64 << 30) as f64)?;
        }
        Ok(())
    }
}

/// What a fan-out run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FanoutReport {
    /// Rooms.
    pub rooms: usize,
    /// Clients per room.
    pub clients_per_room: usize,
    /// Senders per room.
    pub senders_per_room: usize,
    /// Messages per second per sender.
    pub rate_per_sender: f64,
    /// Connections opened.
    pub connections_opened: usize,
    /// Connections that failed.
    pub connections_failed: usize,
    /// Registering users and creating rooms.
    #[serde(serialize_with = "seconds")]
    pub setup_time: Duration,
    /// Opening the connections.
    #[serde(serialize_with = "seconds")]
    pub connect_time: Duration,
    /// Messages sent.
    pub messages_sent: u64,
    /// Deliveries expected (every receiver of a room gets each of its messages).
    pub deliveries_expected: u64,
    /// Deliveries received.
    pub deliveries_received: u64,
    /// Distinct deliveries received.
    pub deliveries_unique: u64,
    /// Deliveries received while the senders were sending.
    pub deliveries_in_window: u64,
    /// Acks received (acknowledged mode: each one follows a commit).
    pub messages_acknowledged: u64,
    /// Acks received while the senders were sending.
    pub acks_in_window: u64,
    /// Deliveries out of sequence order (or duplicated).
    pub out_of_order: u64,
    /// Receivers that did not get everything before the drain deadline.
    pub receivers_timed_out: usize,
    /// The send window.
    #[serde(serialize_with = "seconds")]
    pub window: Duration,
    /// End-to-end latency.
    pub latency: Latency,
    /// Server memory before, KiB.
    pub rss_before_kib: Option<u64>,
    /// Server memory with all clients connected and idle, KiB.
    pub rss_idle_kib: Option<u64>,
    /// Server memory at the end, KiB.
    pub rss_end_kib: Option<u64>,
    /// Server CPU (user + system) from the send window's opening until the last delivery or
    /// the drain deadline, seconds (with several nodes: the node given by `--server-pid`).
    pub server_cpu_s: Option<f64>,
    /// With several nodes: deliveries and latency by whether they crossed between nodes
    /// (absent from the JSON with one node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodeSplit>,
}

/// A fan-out run over several nodes: deliveries to a receiver on the sender's node, against
/// deliveries that crossed to another node through the broker.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct NodeSplit {
    /// Nodes the clients were spread over.
    pub nodes: usize,
    /// Deliveries received on the sender's node.
    pub deliveries_same_node: u64,
    /// Deliveries received on another node than the sender's.
    pub deliveries_cross_node: u64,
    /// Latency of the deliveries on the sender's node.
    pub latency_same_node: Latency,
    /// Latency of the deliveries that crossed between nodes.
    pub latency_cross_node: Latency,
    /// Deliveries per second during the send window, all nodes together.
    pub deliveries_per_second: f64,
}

impl FanoutReport {
    /// Deliveries expected but not received.
    pub fn lost(&self) -> u64 {
        self.deliveries_expected.saturating_sub(self.deliveries_unique)
    }

    /// Duplicated deliveries.
    pub fn duplicated(&self) -> u64 {
        self.deliveries_received.saturating_sub(self.deliveries_unique)
    }

    /// Messages acknowledged (so committed) per second during the send window.
    pub fn acknowledged_per_second(&self) -> f64 {
        self.acks_in_window as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// Deliveries per second during the send window.
    pub fn deliveries_per_second(&self) -> f64 {
        self.deliveries_in_window as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// Server CPU per delivery received, microseconds (everything the server did for the
    /// run's messages, spread over their deliveries).
    pub fn cpu_per_delivery_us(&self) -> Option<f64> {
        let cpu = self.server_cpu_s?;
        (self.deliveries_unique > 0).then(|| cpu * 1e6 / self.deliveries_unique as f64)
    }
}

impl fmt::Display for FanoutReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "rooms × clients         {:>6} × {}", self.rooms, self.clients_per_room)?;
        writeln!(
            f,
            "senders/room × rate     {:>6} × {}/s",
            self.senders_per_room, self.rate_per_sender
        )?;
        writeln!(f, "connections opened      {:>12}", self.connections_opened)?;
        writeln!(f, "connections failed      {:>12}", self.connections_failed)?;
        writeln!(f, "connect time            {:>11.2}s", self.connect_time.as_secs_f64())?;
        writeln!(f, "messages sent           {:>12}", self.messages_sent)?;
        writeln!(f, "deliveries expected     {:>12}", self.deliveries_expected)?;
        writeln!(f, "deliveries received     {:>12}", self.deliveries_received)?;
        writeln!(f, "lost                    {:>12}", self.lost())?;
        writeln!(f, "duplicated              {:>12}", self.duplicated())?;
        writeln!(f, "out of order            {:>12}", self.out_of_order)?;
        writeln!(f, "deliveries/s (window)   {:>12.0}", self.deliveries_per_second())?;
        if self.messages_acknowledged > 0 {
            writeln!(f, "messages acknowledged   {:>12}", self.messages_acknowledged)?;
            writeln!(f, "acknowledged/s (window) {:>12.0}", self.acknowledged_per_second())?;
        }
        let l = self.latency;
        writeln!(
            f,
            "latency p50/p90/p99     {:>7.2} / {:.2} / {:.2} ms",
            ms(l.p50_us),
            ms(l.p90_us),
            ms(l.p99_us)
        )?;
        writeln!(f, "latency p99.9/max       {:>7.2} / {:.2} ms", ms(l.p999_us), ms(l.max_us))?;
        if let Some(split) = &self.nodes {
            writeln!(f, "nodes                   {:>12}", split.nodes)?;
            writeln!(
                f,
                "deliveries same/cross   {:>12} / {} (node of the sender / another)",
                split.deliveries_same_node, split.deliveries_cross_node
            )?;
            for (name, l) in
                [("same-node", split.latency_same_node), ("cross-node", split.latency_cross_node)]
            {
                writeln!(
                    f,
                    "{name:<10} p50/p99/max  {:>7.2} / {:.2} / {:.2} ms",
                    ms(l.p50_us),
                    ms(l.p99_us),
                    ms(l.max_us)
                )?;
            }
        }
        if let (Some(before), Some(idle), Some(end)) =
            (self.rss_before_kib, self.rss_idle_kib, self.rss_end_kib)
        {
            writeln!(f, "server RSS before/idle/end {before} / {idle} / {end} KiB")?;
        }
        if let (Some(cpu), Some(per)) = (self.server_cpu_s, self.cpu_per_delivery_us()) {
            writeln!(f, "server CPU              {cpu:>11.2}s")?;
            writeln!(f, "server CPU per delivery {per:>9.2} µs")?;
        }
        Ok(())
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
