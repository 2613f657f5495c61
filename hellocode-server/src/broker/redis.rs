//! Events between the nodes of a deployment, through Redis pub/sub.
//!
//! Each node delivers its own events to its own connections at once (as the single-node broker
//! does) and publishes them on one Redis channel; every node delivers what the others publish.
//! Pub/sub keeps nothing, so a node must never miss an event silently:
//!
//! - each node numbers what it publishes (`n`, from 1 at its start; a node id tells restarts
//!   apart), and one task publishes them in that order; a receiver that sees a node's number
//!   skip knows events were lost (the publishing node could not reach Redis, say);
//! - a node whose subscription broke cannot know what it missed.
//!
//! Either way the node closes every connection with code 4008 ("resume"): its clients
//! reconnect and resume from their last sequence numbers, which storage answers exactly.
//! Meanwhile each node goes on serving its own clients; `/healthz` and `/metrics` say whether
//! the broker is connected.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use async_trait::async_trait;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

use super::fill;
use super::roster::{HEARTBEAT, Roster};
use super::sequencer::{Done, SETTLE, Sequencer, Step};
use super::{Arrival, Broker, BrokerEvent, Departure};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::rate_limit::Rate;

/// The channel every node publishes to and subscribes to.
const CHANNEL: &str = "hellocode:events";
/// Reconnection delays of the subscription: from the first, doubling up to the last.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How long a Redis command or connection attempt may take.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an event past a gap in its chat waits for the missing one (in flight from another
/// node) before the gap is filled from storage.
const GAP_WAIT: Duration = Duration::from_secs(1);
/// Events published in one round trip at most.
const BATCH: usize = 256;
/// Events waiting to be published at most: beyond (Redis slow or away), new ones are dropped,
/// their numbers skipped so that the other nodes resync.
const OUTBOX: usize = 65_536;

/// What travels on the channel: an event, who sent it, and its number there.
#[derive(Serialize)]
struct Outgoing<'a> {
    node: &'a str,
    n: u64,
    event: &'a BrokerEvent,
}

#[derive(Deserialize)]
struct Incoming {
    node: String,
    n: u64,
    event: BrokerEvent,
}

/// The Redis broker: this node's events reach the other nodes, theirs reach this one. (A clone
/// shares everything: the heartbeat task holds one.)
#[derive(Clone)]
pub struct RedisBroker {
    lane: Arc<Lane>,
    outbox: Outbox,
    roster: Arc<Roster>,
    /// Connections whose uncounting failed, to retry: (user, connection).
    departures: Arc<std::sync::Mutex<Vec<(String, u64)>>>,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker").finish_non_exhaustive()
    }
}

impl RedisBroker {
    /// A broker through the Redis at `url` (`redis://host:port`), delivering to `hub`. Returns
    /// at once: the connections are made (and remade) in the background, and the node serves
    /// its own clients meanwhile. `Err` only for a URL that is not one. The background tasks
    /// end when `shutdown` turns true.
    pub fn start(
        url: &str,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, ::redis::RedisError> {
        let client = ::redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_max_delay(RETRY_MAX);
        let publisher = client.get_connection_manager_lazy(config.clone())?;
        let counter = client.get_connection_manager_lazy(config)?;
        let node = format!("{:016x}", rand::random::<u64>());
        metrics.broker_started();
        let (sender, queued) = mpsc::channel(OUTBOX);
        let outbox = Outbox { sender, dropped: Arc::new(AtomicU64::new(0)) };
        let lane = Arc::new(Lane {
            hub,
            sequencer: tokio::sync::Mutex::new(Sequencer::new(GAP_WAIT)),
            metrics: metrics.clone(),
        });
        let roster = Arc::new(Roster::new(counter, node.clone()));
        let publishing =
            Publishing { node: node.clone(), dropped: outbox.dropped.clone(), metrics };
        tokio::spawn(publish_loop(publisher, queued, publishing));
        let subscribing = Subscribing { node, lane: lane.clone(), roster: roster.clone() };
        tokio::spawn(subscribe_loop(client, subscribing, shutdown.clone()));
        tokio::spawn(expire_loop(lane.clone(), shutdown.clone()));
        lane.hub.track_deployment_presence();
        let departures = Arc::default();
        let broker = RedisBroker { lane, outbox, roster, departures };
        tokio::spawn(heartbeat_loop(broker.clone(), shutdown));
        Ok(broker)
    }

    /// Whether the other nodes can be reached now (else this node counts alone).
    fn connected(&self) -> bool {
        self.lane.metrics.broker_state() == Some(true)
    }

    /// Uncount the connections whose departure Redis did not take; tell the deployment of
    /// those users who are offline now.
    async fn retry_departures(&self) {
        let pending =
            std::mem::take(&mut *self.departures.lock().unwrap_or_else(|e| e.into_inner()));
        let mut left = Vec::new();
        for (username, connection) in pending {
            if !left.is_empty() {
                left.push((username, connection)); // Redis is still away: keep the rest
                continue;
            }
            let last_here = !self.lane.hub.is_connected(&username);
            match self.roster.depart(&username, connection, last_here).await {
                Ok(Some(version)) => {
                    let online = false;
                    let version = Some(version);
                    self.publish(BrokerEvent::Presence { username, online, version }).await;
                }
                Ok(None) => {}
                Err(_) => left.push((username, connection)),
            }
        }
        self.departures.lock().unwrap_or_else(|e| e.into_inner()).extend(left);
    }
}

/// This node's events on their way to the other nodes.
#[derive(Clone)]
struct Outbox {
    sender: mpsc::Sender<BrokerEvent>,
    /// Events dropped because the outbox was full, not yet accounted for in the numbering.
    dropped: Arc<AtomicU64>,
}

#[async_trait]
impl Broker for RedisBroker {
    async fn publish(&self, event: BrokerEvent) {
        // Never waits: this node's clients are served whatever Redis does. (Closed: only when
        // the runtime ends.)
        if let Err(mpsc::error::TrySendError::Full(_)) = self.outbox.sender.try_send(event.clone())
        {
            self.outbox.dropped.fetch_add(1, Ordering::Relaxed);
        }
        // Returns once delivered (as the single-node broker does): a command's events reach
        // its connection before its reply, even when the sequencer holds one for a moment.
        let (done, delivered) = oneshot::channel();
        self.lane.deliver(event, Some(done)).await;
        let _ = delivered.await;
    }

    async fn arrive(&self, username: &str, connection: u64, max: usize) -> Arrival {
        if !self.connected() {
            return Arrival::Local;
        }
        match self.roster.arrive(username, connection, max).await {
            Ok(Some(online)) => Arrival::Counted { online },
            Ok(None) => Arrival::Refused,
            Err(err) => {
                // It may have been counted all the same: its departure uncounts it (a no-op
                // otherwise).
                tracing::warn!(error = %err, "cannot count a connection across nodes; counting it here");
                Arrival::Local
            }
        }
    }

    async fn depart(&self, username: &str, connection: u64, last_here: bool) -> Departure {
        match self.roster.depart(username, connection, last_here).await {
            Ok(offline) => Departure::Counted { offline },
            Err(err) => {
                // Retried by the heartbeat until Redis takes it: a count left behind would
                // keep the user online, and count against their cap, for good.
                tracing::warn!(error = %err, "cannot uncount a connection across nodes; retrying");
                let mut pending = self.departures.lock().unwrap_or_else(|e| e.into_inner());
                if pending.len() < OUTBOX {
                    pending.push((username.to_owned(), connection));
                }
                Departure::Local
            }
        }
    }

    async fn take(&self, key: &str, rate: Rate) -> Option<Result<(), Duration>> {
        if !self.connected() {
            return None;
        }
        let burst = f64::from(rate.burst.max(1));
        match self.roster.take(key, burst, rate.per_second).await {
            Ok(taken) => Some(taken),
            Err(err) => {
                tracing::warn!(error = %err, "cannot reach the shared rate limit; limiting here");
                None
            }
        }
    }
}

/// This node's delivery of every node's events: one at a time, each chat's in sequence
/// order (see [`Sequencer`]).
struct Lane {
    hub: Arc<Hub>,
    sequencer: tokio::sync::Mutex<Sequencer>,
    metrics: Arc<Metrics>,
}

impl Lane {
    async fn deliver(&self, event: BrokerEvent, done: Done) {
        let mut sequencer = self.sequencer.lock().await;
        let steps = sequencer.admit(event, done, Instant::now());
        // Still holding the lane: what follows must not overtake these.
        self.run(&mut sequencer, steps).await;
    }

    async fn expire(&self) {
        let mut sequencer = self.sequencer.lock().await;
        let steps = sequencer.expire(Instant::now());
        self.run(&mut sequencer, steps).await;
    }

    /// Close every connection of this node so that its clients resume (code 4008), when events
    /// may have been `missed` or any connection is open (it may have missed some). The chats'
    /// lines start again: what they held or wait for comes with the resume.
    async fn resync(&self, missed: bool) {
        let mut sequencer = self.sequencer.lock().await;
        *sequencer = Sequencer::new(GAP_WAIT);
        // Revocations and membership changes among the missed events: connections coming
        // online recheck their credential, and memberships are read again.
        self.hub.grants().may_have_missed();
        self.hub.forget_memberships();
        let closed = self.hub.evict_all();
        if missed || closed > 0 {
            self.metrics.broker_resynced();
            tracing::warn!(closed, "events of other nodes may have been missed: clients resume");
        }
    }

    /// Carry out `steps` in order, with the lane held (`sequencer`): a fill from storage
    /// delivers what it read, then what was held behind it.
    async fn run(&self, sequencer: &mut Sequencer, steps: Vec<Step>) {
        let mut steps = VecDeque::from(steps);
        while let Some(step) = steps.pop_front() {
            match step {
                Step::Deliver(event, done) => {
                    self.hub.deliver(&event).await;
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
                Step::Fill { chat, from, to } => {
                    let read = fill::from_storage(&**self.hub.storage(), chat, from, to);
                    let events = match tokio::time::timeout(REDIS_TIMEOUT, read).await {
                        Ok(Ok(events)) => Some(events),
                        Ok(Err(err)) => {
                            tracing::warn!(%chat, error = %err, "cannot fill a gap from storage");
                            None
                        }
                        Err(_) => {
                            tracing::warn!(%chat, "storage did not answer in time to fill a gap");
                            None
                        }
                    };
                    let (after, filled) = sequencer.filled(chat, events, Instant::now());
                    self.metrics.broker_filled(filled as u64);
                    tracing::info!(%chat, from = from.0, to = to.0, filled, "filled a gap in a chat's events from storage");
                    // Before anything that came after the fill in `steps`.
                    for step in after.into_iter().rev() {
                        steps.push_front(step);
                    }
                }
                Step::Resync(chat) => {
                    let closed = self.hub.evict_members(chat).await;
                    self.metrics.broker_resynced();
                    tracing::warn!(%chat, closed, "a gap in a chat's events could not be filled: its members resume");
                }
            }
        }
    }
}

/// Fill the gaps that stayed open too long, for as long as the node runs.
async fn expire_loop(lane: Arc<Lane>, mut shutdown: watch::Receiver<bool>) {
    // Often enough for a settling line to start on time (see `sequencer::SETTLE`).
    let mut ticks = tokio::time::interval(SETTLE / 4);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => lane.expire().await,
            _ = shutdown.changed() => return,
        }
    }
}

/// What the publishing task shares with the broker.
#[derive(Clone)]
struct Publishing {
    node: String,
    dropped: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
}

/// Publish this node's events in order, a batch per round trip. An event Redis did not take, or
/// that found the outbox full, is lost to the other nodes but its number is used, so each of
/// them sees the gap and resyncs.
async fn publish_loop(
    mut redis: ConnectionManager,
    mut queued: mpsc::Receiver<BrokerEvent>,
    publishing: Publishing,
) {
    let Publishing { node, dropped, metrics } = publishing;
    let mut n = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    while queued.recv_many(&mut batch, BATCH).await > 0 {
        let mut pipe = ::redis::pipe();
        for event in batch.drain(..) {
            let skipped = dropped.swap(0, Ordering::Relaxed);
            if skipped > 0 {
                metrics.broker_publish_failed(skipped);
            }
            n += 1 + skipped;
            let text = serde_json::to_string(&Outgoing { node: &node, n, event: &event })
                .unwrap_or_default();
            pipe.publish(CHANNEL, text).ignore();
        }
        let count = pipe.len() as u64;
        match pipe.query_async::<()>(&mut redis).await {
            Ok(()) => metrics.broker_published(count),
            Err(err) => {
                metrics.broker_publish_failed(count);
                tracing::warn!(error = %err, events = count, "cannot publish to the broker; other nodes will resync");
            }
        }
    }
}

/// What the subscription task works with.
struct Subscribing {
    node: String,
    lane: Arc<Lane>,
    roster: Arc<Roster>,
}

/// Receive the other nodes' events for as long as the node runs, resubscribing after every
/// loss; each time the subscription comes back after a gap, this node's clients resync.
async fn subscribe_loop(
    client: ::redis::Client,
    subscribing: Subscribing,
    mut shutdown: watch::Receiver<bool>,
) {
    let Subscribing { node, lane, roster } = subscribing;
    let mut delay = RETRY_MIN;
    // Whether the subscription was lost (or never came up) since the last one.
    let mut missed = false;
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(CHANNEL).await?;
            // Listed and alive before counting anything (else a crash right after would
            // leave counts no other node reaps).
            roster.beat().await?;
            // Who is online across the deployment, as of a version read after subscribing:
            // every later change comes as an event with a later version.
            let online = roster.online().await?;
            Ok::<_, ::redis::RedisError>((pubsub, online))
        };
        let attempt = tokio::select! {
            attempt = tokio::time::timeout(REDIS_TIMEOUT, subscribed) => attempt,
            _ = shutdown.changed() => return,
        };
        match attempt {
            Ok(Ok((pubsub, (version, online)))) => {
                // Whoever connected before this subscription may have missed events of other
                // nodes: none at a node's start, unless clients came before Redis did.
                lane.resync(missed).await;
                lane.hub.set_online(version, online);
                lane.metrics.broker_connected(true);
                tracing::info!("subscribed to the broker");
                delay = RETRY_MIN;
                let mut messages = pubsub.into_on_message();
                let mut last_seen: HashMap<String, u64> = HashMap::new();
                loop {
                    let message = tokio::select! {
                        message = messages.next() => message,
                        _ = shutdown.changed() => return,
                    };
                    let Some(message) = message else { break };
                    let Ok(text) = message.get_payload::<String>() else { continue };
                    receive(&text, &node, &mut last_seen, &lane).await;
                }
                lane.metrics.broker_connected(false);
                tracing::warn!("lost the broker; serving this node's clients, resubscribing");
            }
            Ok(Err(err)) => tracing::warn!(error = %err, "cannot subscribe to the broker"),
            Err(_) => tracing::warn!("the broker did not answer in time"),
        }
        missed = true;
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
        delay = (delay * 2).min(RETRY_MAX);
    }
}

/// Keep this node counted as alive, and take the nodes that stopped out of the deployment's
/// counts (telling their users' contacts they went offline), for as long as the node runs.
async fn heartbeat_loop(broker: RedisBroker, mut shutdown: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(HEARTBEAT);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.changed() => return,
        }
        if !broker.connected() {
            continue;
        }
        match broker.roster.beat().await {
            Ok(true) => {}
            Ok(false) => {
                // Taken for dead (a stall longer than ALIVE_FOR) or Redis lost its data: this
                // node's connections are no longer counted. Its clients reconnect and are
                // counted again.
                tracing::warn!(
                    "this node's heartbeat lapsed; its clients reconnect to be counted again"
                );
                broker.lane.resync(true).await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot renew this node's heartbeat");
                continue;
            }
        }
        broker.retry_departures().await;
        match broker.roster.reap().await {
            Ok(gone) => {
                for (username, version) in gone {
                    let event =
                        BrokerEvent::Presence { username, online: false, version: Some(version) };
                    broker.publish(event).await;
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot look for stopped nodes"),
        }
    }
}

/// Deliver one message of another node, after checking that none of its before was lost.
async fn receive(text: &str, node: &str, last_seen: &mut HashMap<String, u64>, lane: &Lane) {
    let incoming: Incoming = match serde_json::from_str(text) {
        Ok(incoming) => incoming,
        Err(err) => {
            tracing::warn!(error = %err, "an unreadable broker message; ignored");
            return;
        }
    };
    if incoming.node == node {
        return; // delivered here when published
    }
    let previous = last_seen.insert(incoming.node, incoming.n);
    // A node first heard of mid-stream (it started before this subscription) is no gap.
    if previous.is_some_and(|previous| incoming.n != previous + 1) {
        tracing::warn!("events of another node were lost");
        lane.resync(true).await;
    }
    lane.metrics.broker_received();
    lane.deliver(incoming.event, None).await;
}

#[cfg(test)]
mod tests {
    use hellocode_core::storage::MemoryStorage;

    use super::*;

    fn message(node: &str, n: u64) -> String {
        let event = BrokerEvent::MembershipReset;
        serde_json::to_string(&Outgoing { node, n, event: &event }).expect("json")
    }

    #[tokio::test]
    async fn a_skipped_number_of_another_node_resyncs_this_one() {
        let metrics = Arc::new(Metrics::default());
        let hub = Arc::new(Hub::new(Arc::new(MemoryStorage::new()), metrics.clone()));
        let sequencer = tokio::sync::Mutex::new(Sequencer::new(GAP_WAIT));
        let lane = Lane { hub, sequencer, metrics: metrics.clone() };
        let mut last_seen = HashMap::new();
        let resyncs = |metrics: &Metrics| {
            let text = metrics.render();
            text.lines()
                .find_map(|line| line.strip_prefix("hellocode_broker_resyncs_total "))
                .map(str::to_owned)
        };
        metrics.broker_started();
        // A node first heard of mid-stream, then in order; this node's own messages skipped.
        for text in [message("b", 7), message("b", 8), message("me", 1), message("b", 9)] {
            receive(&text, "me", &mut last_seen, &lane).await;
        }
        receive("not json", "me", &mut last_seen, &lane).await;
        assert_eq!(resyncs(&metrics).as_deref(), Some("0"));
        // Node b's 10 was lost (it could not reach Redis): this node's clients must resume.
        receive(&message("b", 11), "me", &mut last_seen, &lane).await;
        assert_eq!(resyncs(&metrics).as_deref(), Some("1"));
        // A restarted node has a new id: its numbers start again, no gap.
        receive(&message("c", 1), "me", &mut last_seen, &lane).await;
        assert_eq!(resyncs(&metrics).as_deref(), Some("1"));
        let received = metrics.render();
        assert!(received.contains("hellocode_broker_events_total{outcome=\"received\"} 5\n"));
    }
}
