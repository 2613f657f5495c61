//! Counters for `/metrics`, in the Prometheus text format. Plain atomics: the hot path pays one
//! relaxed increment per event.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use hellocode_core::protocol::Command;

/// Upper bounds (seconds) of the storage latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    connections_open: AtomicI64,
    connections_total: AtomicU64,
    /// One counter per command of `Command::NAMES`, then one for undecodable frames.
    commands: Vec<AtomicU64>,
    messages_stored: AtomicU64,
    events_fanned_out: AtomicU64,
    send_queue_drops: AtomicU64,
    storage_buckets: Vec<AtomicU64>,
    storage_count: AtomicU64,
    storage_micros: AtomicU64,
    connections_refused: AtomicU64,
    admission_busy: AtomicU64,
    coming_online: AtomicI64,
    waiting_to_come_online: AtomicI64,
    /// Password hashes run, skipped (nobody waited any more), and refused (queue full).
    password_hashes: [AtomicU64; 3],
    /// Reference point of the two write timestamps below.
    started: Instant,
    /// Milliseconds after `started` (plus one; 0: never) of the last committed write.
    last_write_ok: AtomicU64,
    /// The same for the last write that failed in the database.
    last_write_failed: AtomicU64,
    /// The broker between nodes, when there is one (`--broker`).
    broker: BrokerMetrics,
    /// Push notifications by outcome, in [`PushOutcome`]'s order.
    pushes: [AtomicU64; PushOutcome::ALL.len()],
}

/// What became of push notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Queued for a gateway.
    Queued,
    /// Accepted by the gateway.
    Sent,
    /// The gateway was down or busy: tried again later.
    Retried,
    /// The gateway rejected the push key: the pusher was removed.
    Rejected,
    /// Given up: the gateway refused the request, or kept failing for a day.
    GivenUp,
    /// Not queued: the notifier was overloaded (or storage failed).
    Dropped,
}

impl PushOutcome {
    const ALL: [PushOutcome; 6] = [
        PushOutcome::Queued,
        PushOutcome::Sent,
        PushOutcome::Retried,
        PushOutcome::Rejected,
        PushOutcome::GivenUp,
        PushOutcome::Dropped,
    ];

    fn label(self) -> &'static str {
        match self {
            PushOutcome::Queued => "queued",
            PushOutcome::Sent => "sent",
            PushOutcome::Retried => "retried",
            PushOutcome::Rejected => "rejected",
            PushOutcome::GivenUp => "given_up",
            PushOutcome::Dropped => "dropped",
        }
    }
}

/// What `/metrics` and `/healthz` say of the broker between nodes.
#[derive(Debug, Default)]
struct BrokerMetrics {
    /// A broker between nodes is configured.
    used: AtomicBool,
    /// Its subscription is up.
    connected: AtomicBool,
    published: AtomicU64,
    publish_failures: AtomicU64,
    received: AtomicU64,
    /// Events of other nodes read from storage to fill a gap.
    filled: AtomicU64,
    /// Times this node closed every connection so that its clients resume.
    resyncs: AtomicU64,
}

/// How long a failed write keeps `/healthz` at 503 when no write has succeeded since.
pub const WRITE_FAILURE_WINDOW: Duration = Duration::from_secs(60);

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            connections_open: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            commands: (0..=Command::NAMES.len()).map(|_| AtomicU64::new(0)).collect(),
            messages_stored: AtomicU64::new(0),
            events_fanned_out: AtomicU64::new(0),
            send_queue_drops: AtomicU64::new(0),
            storage_buckets: LATENCY_BUCKETS.iter().map(|_| AtomicU64::new(0)).collect(),
            storage_count: AtomicU64::new(0),
            storage_micros: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            admission_busy: AtomicU64::new(0),
            coming_online: AtomicI64::new(0),
            waiting_to_come_online: AtomicI64::new(0),
            password_hashes: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            started: Instant::now(),
            last_write_ok: AtomicU64::new(0),
            last_write_failed: AtomicU64::new(0),
            broker: BrokerMetrics::default(),
            pushes: Default::default(),
        }
    }
}

impl Metrics {
    /// A WebSocket connection opened.
    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Relaxed);
        self.connections_total.fetch_add(1, Relaxed);
    }

    /// A WebSocket connection closed.
    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Relaxed);
    }

    /// A command arrived (`None`: the frame did not decode).
    pub fn command(&self, name: Option<&str>) {
        let index = name
            .and_then(|name| Command::NAMES.iter().position(|known| *known == name))
            .unwrap_or(Command::NAMES.len());
        self.commands[index].fetch_add(1, Relaxed);
    }

    /// A message was stored.
    pub fn message_stored(&self) {
        self.messages_stored.fetch_add(1, Relaxed);
    }

    /// `n` frames were queued to connections.
    pub fn fanned_out(&self, n: u64) {
        self.events_fanned_out.fetch_add(n, Relaxed);
    }

    /// A connection's send queue was full and the connection was dropped.
    pub fn send_queue_drop(&self) {
        self.send_queue_drops.fetch_add(1, Relaxed);
    }

    /// A TCP connection was closed at once because a connection cap was reached.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Relaxed);
    }

    /// A connection waited past the admission wait to come online and was told the server is
    /// busy (see [`crate::admission`]).
    pub fn admission_busy(&self) {
        self.admission_busy.fetch_add(1, Relaxed);
    }

    /// Connections holding a turn to come online: `delta` more (see [`crate::admission`]).
    pub fn coming_online(&self, delta: i64) {
        self.coming_online.fetch_add(delta, Relaxed);
    }

    /// Connections holding a turn to come online now.
    pub fn coming_online_now(&self) -> i64 {
        self.coming_online.load(Relaxed)
    }

    /// Connections waiting for a turn to come online: `delta` more.
    pub fn waiting_to_come_online(&self, delta: i64) {
        self.waiting_to_come_online.fetch_add(delta, Relaxed);
    }

    /// Connections waiting for a turn to come online now.
    pub fn waiting_to_come_online_now(&self) -> i64 {
        self.waiting_to_come_online.load(Relaxed)
    }

    /// What became of a password hash handed to the hashing pool.
    pub fn password_hash(&self, outcome: HashOutcome) {
        self.password_hashes[outcome as usize].fetch_add(1, Relaxed);
    }

    /// How many password hashes ended with `outcome` so far.
    pub fn password_hashes(&self, outcome: HashOutcome) -> u64 {
        self.password_hashes[outcome as usize].load(Relaxed)
    }

    /// A storage operation took `elapsed`.
    pub fn storage_latency(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.storage_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.storage_count.fetch_add(1, Relaxed);
        self.storage_micros.fetch_add(elapsed.as_micros() as u64, Relaxed);
    }

    /// A storage operation finished; `write` says whether it changes data. Database failures
    /// of writes are what `/healthz` reports as `writes: failing`.
    pub fn storage_outcome<T>(&self, write: bool, result: &Result<T, hellocode_core::Error>) {
        if !write {
            return;
        }
        let now = self.started.elapsed().as_millis() as u64 + 1;
        match result {
            Ok(_) => self.last_write_ok.store(now, Relaxed),
            Err(hellocode_core::Error::Database(_) | hellocode_core::Error::Unavailable(_)) => {
                self.last_write_failed.store(now, Relaxed);
            }
            Err(_) => {} // refused for the client's own reasons: the database is fine
        }
    }

    /// Whether the last database write failed within [`WRITE_FAILURE_WINDOW`] and none has
    /// succeeded since.
    pub fn writes_failing(&self) -> bool {
        let failed = self.last_write_failed.load(Relaxed);
        let now = self.started.elapsed().as_millis() as u64 + 1;
        failed > 0
            && failed > self.last_write_ok.load(Relaxed)
            && now.saturating_sub(failed) <= WRITE_FAILURE_WINDOW.as_millis() as u64
    }

    /// A broker between nodes is in use.
    pub fn broker_started(&self) {
        self.broker.used.store(true, Relaxed);
    }

    /// The broker's subscription came up or went down.
    pub fn broker_connected(&self, connected: bool) {
        self.broker.connected.store(connected, Relaxed);
    }

    /// `count` events went to the other nodes.
    pub fn broker_published(&self, count: u64) {
        self.broker.published.fetch_add(count, Relaxed);
    }

    /// `count` events could not be published.
    pub fn broker_publish_failed(&self, count: u64) {
        self.broker.publish_failures.fetch_add(count, Relaxed);
    }

    /// An event of another node arrived.
    pub fn broker_received(&self) {
        self.broker.received.fetch_add(1, Relaxed);
    }

    /// Every connection was closed so that its client resumes.
    pub fn broker_resynced(&self) {
        self.broker.resyncs.fetch_add(1, Relaxed);
    }

    /// `count` events of other nodes were filled in from storage (0: a fill that failed).
    pub fn broker_filled(&self, count: u64) {
        self.broker.filled.fetch_add(count, Relaxed);
    }

    /// `count` push notifications had `outcome`.
    pub fn pushes(&self, outcome: PushOutcome, count: u64) {
        self.pushes[outcome as usize].fetch_add(count, Relaxed);
    }

    /// How many push notifications had `outcome` so far.
    pub fn push_count(&self, outcome: PushOutcome) -> u64 {
        self.pushes[outcome as usize].load(Relaxed)
    }

    /// The broker between nodes: `None` when there is none, else whether it is connected.
    pub fn broker_state(&self) -> Option<bool> {
        self.broker.used.load(Relaxed).then(|| self.broker.connected.load(Relaxed))
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let plain = |value: String| vec![(String::new(), value)];
        metric(
            "hellocode_connections_open",
            "gauge",
            "Open WebSocket connections.",
            &plain(self.connections_open.load(Relaxed).to_string()),
        );
        metric(
            "hellocode_connections_total",
            "counter",
            "WebSocket connections accepted.",
            &plain(self.connections_total.load(Relaxed).to_string()),
        );
        let commands: Vec<(String, String)> = Command::NAMES
            .iter()
            .copied()
            .chain(["invalid"])
            .zip(&self.commands)
            .map(|(name, count)| {
                (format!("{{command=\"{name}\"}}"), count.load(Relaxed).to_string())
            })
            .collect();
        metric(
            "hellocode_commands_total",
            "counter",
            "Commands received, by type (invalid: undecodable frames).",
            &commands,
        );
        metric(
            "hellocode_messages_stored_total",
            "counter",
            "Messages committed to storage.",
            &plain(self.messages_stored.load(Relaxed).to_string()),
        );
        metric(
            "hellocode_events_fanned_out_total",
            "counter",
            "Event frames queued to connections.",
            &plain(self.events_fanned_out.load(Relaxed).to_string()),
        );
        metric(
            "hellocode_send_queue_drops_total",
            "counter",
            "Connections dropped because their send queue was full.",
            &plain(self.send_queue_drops.load(Relaxed).to_string()),
        );
        let mut buckets: Vec<(String, String)> = LATENCY_BUCKETS
            .iter()
            .zip(&self.storage_buckets)
            .map(|(bound, count)| {
                (format!("_bucket{{le=\"{bound}\"}}"), count.load(Relaxed).to_string())
            })
            .collect();
        let count = self.storage_count.load(Relaxed).to_string();
        buckets.push(("_bucket{le=\"+Inf\"}".into(), count.clone()));
        buckets.push((
            "_sum".into(),
            format!("{:.6}", self.storage_micros.load(Relaxed) as f64 / 1e6),
        ));
        buckets.push(("_count".into(), count));
        metric(
            "hellocode_storage_seconds",
            "histogram",
            "Latency of storage operations.",
            &buckets,
        );
        metric(
            "hellocode_connections_refused_total",
            "counter",
            "TCP connections closed at once because a connection cap was reached.",
            &plain(self.connections_refused.load(Relaxed).to_string()),
        );
        metric(
            "hellocode_admission_busy_total",
            "counter",
            "Connections told the server was busy: no turn to come online within the wait.",
            &plain(self.admission_busy.load(Relaxed).to_string()),
        );
        metric(
            "hellocode_connections_coming_online",
            "gauge",
            "Connections holding a turn to come online (at most --session-starts).",
            &plain(self.coming_online_now().to_string()),
        );
        metric(
            "hellocode_connections_waiting_to_come_online",
            "gauge",
            "Connections waiting for a turn to come online.",
            &plain(self.waiting_to_come_online_now().to_string()),
        );
        let hashes: Vec<(String, String)> = HashOutcome::ALL
            .iter()
            .map(|outcome| {
                let count = self.password_hashes(*outcome).to_string();
                (format!("{{outcome=\"{}\"}}", outcome.name()), count)
            })
            .collect();
        metric(
            "hellocode_password_hashes_total",
            "counter",
            "Password hashes (login, registration, password change) by outcome: run, skipped \
             because the request was abandoned while queued, refused because the queue was full.",
            &hashes,
        );
        let pushes: Vec<(String, String)> = PushOutcome::ALL
            .iter()
            .zip(&self.pushes)
            .map(|(outcome, count)| {
                (format!("{{outcome=\"{}\"}}", outcome.label()), count.load(Relaxed).to_string())
            })
            .collect();
        metric(
            "hellocode_push_notifications_total",
            "counter",
            "Push notifications by outcome: queued, sent to the gateway, retried, rejected push \
             key (pusher removed), given up, dropped before queueing.",
            &pushes,
        );
        if self.broker.used.load(Relaxed) {
            let broker = &self.broker;
            let up = u8::from(broker.connected.load(Relaxed)).to_string();
            metric(
                "hellocode_broker_up",
                "gauge",
                "Subscribed to the broker (1) or not.",
                &plain(up),
            );
            let events = [
                ("published", &broker.published),
                ("publish_failed", &broker.publish_failures),
                ("received", &broker.received),
                ("filled_from_storage", &broker.filled),
            ]
            .map(|(what, count)| {
                (format!("{{outcome=\"{what}\"}}"), count.load(Relaxed).to_string())
            });
            metric(
                "hellocode_broker_events_total",
                "counter",
                "Events sent to the other nodes, not sent (Redis refused or was away), received, \
                 and read from storage to fill a gap in a chat's events.",
                &events,
            );
            metric(
                "hellocode_broker_resyncs_total",
                "counter",
                "Times connections were closed so that clients resume: events of other nodes \
                 may have been missed (the broker was away, a node's numbers skipped, or a gap \
                 in a chat's events could not be filled from storage).",
                &plain(broker.resyncs.load(Relaxed).to_string()),
            );
        }
        out
    }
}

/// What became of a password hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashOutcome {
    /// Hashed (or verified).
    Run = 0,
    /// Skipped: the request was abandoned while the job waited in the queue.
    Skipped = 1,
    /// Refused at once: the queue was full.
    Refused = 2,
}

impl HashOutcome {
    const ALL: [HashOutcome; 3] = [HashOutcome::Run, HashOutcome::Skipped, HashOutcome::Refused];

    fn name(self) -> &'static str {
        match self {
            HashOutcome::Run => "run",
            HashOutcome::Skipped => "skipped",
            HashOutcome::Refused => "refused",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let metrics = Metrics::default();
        metrics.connection_opened();
        metrics.command(Some("new_message"));
        metrics.command(None);
        metrics.storage_latency(Duration::from_millis(3));
        let text = metrics.render();
        assert!(text.contains("hellocode_connections_open 1\n"));
        assert!(text.contains("hellocode_commands_total{command=\"new_message\"} 1\n"));
        assert!(text.contains("hellocode_commands_total{command=\"invalid\"} 1\n"));
        assert!(text.contains("hellocode_storage_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("hellocode_storage_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("hellocode_storage_seconds_bucket{le=\"+Inf\"} 1\n"));
        assert!(text.contains("hellocode_storage_seconds_count 1\n"));
        metrics.password_hash(HashOutcome::Skipped);
        let text = metrics.render();
        assert!(text.contains("hellocode_password_hashes_total{outcome=\"skipped\"} 1\n"));
        assert!(text.contains("hellocode_password_hashes_total{outcome=\"run\"} 0\n"));
    }
}
