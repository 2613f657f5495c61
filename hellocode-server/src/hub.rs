//! This node's registry of open connections, and the fan-out of events to them.
//!
//! Each connection has a bounded queue of outgoing frames. An event is serialized once; every
//! recipient's queue gets a reference-counted copy of the same bytes. A queue that is full means
//! the client cannot keep up: the connection is evicted (closed with a "resume" reason) rather
//! than letting the server's memory grow or slowing everyone else down.

mod members;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use hellocode_core::model::ChatId;
use hellocode_core::protocol::ServerFrame;
use hellocode_core::session::Scope;
use hellocode_core::storage::Storage;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::broker::BrokerEvent;
use crate::metrics::Metrics;
use crate::revocation::Grants;
use crate::send_queue::{QueueSender, Refused};
use members::MemberCache;

/// The hub's handle on one connection.
#[derive(Debug)]
struct Entry {
    id: u64,
    scope: Scope,
    queue: QueueSender,
    evict: Arc<Notify>,
}

/// What a connection keeps to receive events; dropping it does not unregister (call
/// [`Hub::unregister`]).
#[derive(Debug)]
pub struct Registration {
    /// The connection's id in the hub.
    pub id: u64,
    /// Whether this is the user's first open connection (the user just came online).
    pub first: bool,
}

/// Connections by user, and chat memberships cached from storage.
pub struct Hub {
    connections: RwLock<HashMap<String, Vec<Entry>>>,
    members: MemberCache,
    storage: Arc<dyn Storage>,
    metrics: Arc<Metrics>,
    next_id: AtomicU64,
    /// Which connection authenticated with which credential (see [`crate::revocation`]).
    grants: Grants,
    max_per_user: usize,
    /// Who is online in the deployment, as the presence events delivered so far tell it (on
    /// one node: who has a connection here). Locked while a presence event is queued to its
    /// recipients, so that a snapshot ([`Hub::tell_online`]) and the events fall in one order.
    online: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// An empty hub that looks memberships up in `storage`.
    pub fn new(storage: Arc<dyn Storage>, metrics: Arc<Metrics>) -> Self {
        Hub {
            connections: RwLock::default(),
            members: MemberCache::default(),
            storage,
            metrics,
            next_id: AtomicU64::new(1),
            grants: Grants::default(),
            max_per_user: usize::MAX,
            online: Mutex::default(),
        }
    }

    /// The storage memberships are looked up in.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The credentials of this node's connections, for revocation.
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// At most `max` open connections per user (beyond, [`Hub::register`] refuses).
    pub fn with_max_per_user(mut self, max: usize) -> Self {
        self.max_per_user = max.max(1);
        self
    }

    /// Start delivering `username`'s events (within `scope`) to `queue`; `evict` is notified
    /// when the queue overflows. `None`: the user has the maximum of open connections.
    pub fn register(
        &self,
        username: &str,
        scope: Scope,
        queue: QueueSender,
        evict: Arc<Notify>,
    ) -> Option<Registration> {
        let mut connections = self.connections.write().unwrap_or_else(|e| e.into_inner());
        let entries = connections.entry(username.to_owned()).or_default();
        if entries.len() >= self.max_per_user {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let first = entries.is_empty();
        entries.push(Entry { id, scope, queue, evict });
        Some(Registration { id, first })
    }

    /// Queue to a registered connection an `online` frame naming those of `partners` (everyone
    /// who shares a chat with its user) online now. Taken under the lock every presence event
    /// is delivered under: a change after the snapshot reaches the connection as a `presence`
    /// event after it, and one before it is in it.
    pub fn tell_online(&self, partners: &[String], queue: &QueueSender) {
        let online = self.online.lock().unwrap_or_else(|e| e.into_inner());
        let usernames: Vec<String> =
            partners.iter().filter(|partner| online.contains(partner.as_str())).cloned().collect();
        let frame = Utf8Bytes::from(ServerFrame::Online { usernames }.to_json());
        if queue.try_send(frame).is_err() {
            // Full: the connection is being evicted for it; the client reconnects and is told
            // again. Closed: it is gone.
            tracing::debug!("presence snapshot not queued");
        }
    }

    /// Who is online across the deployment, as counted where the nodes count together (read
    /// when this node subscribes to the others; later changes come as presence events).
    pub fn set_online(&self, usernames: impl IntoIterator<Item = String>) {
        let mut online = self.online.lock().unwrap_or_else(|e| e.into_inner());
        *online = usernames.into_iter().collect();
    }

    /// Stop delivering to connection `id`; returns whether it was the user's last one.
    pub fn unregister(&self, username: &str, id: u64) -> bool {
        let mut connections = self.connections.write().unwrap_or_else(|e| e.into_inner());
        let Some(entries) = connections.get_mut(username) else { return false };
        entries.retain(|entry| entry.id != id);
        if entries.is_empty() {
            connections.remove(username);
            true
        } else {
            false
        }
    }

    /// Close every connection (code 4008, "resume"): events may have been missed, and their
    /// clients resume exactly from storage. Returns how many.
    pub fn evict_all(&self) -> usize {
        let connections = self.connections.read().unwrap_or_else(|e| e.into_inner());
        evict(connections.values().flatten())
    }

    /// Close the connections of `chat`'s members on this node (4008: their clients resume).
    /// Returns how many.
    pub async fn evict_members(&self, chat: ChatId) -> usize {
        let members = self.chat_members(chat).await.unwrap_or_default();
        let connections = self.connections.read().unwrap_or_else(|e| e.into_inner());
        evict(members.iter().filter_map(|member| connections.get(member)).flatten())
    }

    /// Deliver an event to this node's connections.
    pub async fn deliver(&self, event: &BrokerEvent) {
        match event {
            BrokerEvent::Chat(publish) => {
                // No members: the chat is gone (only `also` may still be told).
                let members = self.members(publish.chat, &publish.frame).await.unwrap_or_default();
                if members.is_empty() && publish.also.is_empty() {
                    return;
                }
                let bytes = Utf8Bytes::from(publish.frame.to_json());
                let chat = publish.chat;
                // A new chat's participants, and an invitee, are told on every connection,
                // whatever its scope: these are about the user more than about a chat they read.
                let to_all = matches!(
                    publish.frame,
                    ServerFrame::ChatCreated { .. } | ServerFrame::Invitation { .. }
                );
                let wants = |scope| to_all || scope_allows(scope, chat);
                match &publish.to {
                    // Only some of them (those just added), and only if they are members.
                    Some(only) => {
                        self.send(only.iter().filter(|user| members.contains(user)), &bytes, wants)
                    }
                    None => self.send(members.iter(), &bytes, wants),
                }
                // Former members told of their removal or of the chat's deletion: once each.
                let former = publish.also.iter().filter(|user| !members.contains(user));
                self.send(former, &bytes, wants);
            }
            BrokerEvent::Presence { username, online } => {
                let recipients = self.contacts_in_chats(username).await;
                let frame = ServerFrame::Presence { username: username.clone(), online: *online };
                let bytes = Utf8Bytes::from(frame.to_json());
                let mut view = self.online.lock().unwrap_or_else(|e| e.into_inner());
                if *online {
                    view.insert(username.clone());
                } else {
                    view.remove(username);
                }
                self.send(recipients.iter(), &bytes, |scope| scope == Scope::AllChats);
            }
            BrokerEvent::MembersChanged(chat) => self.members.invalidate(*chat),
            BrokerEvent::MembershipReset => self.members.clear(),
            BrokerEvent::Revoke(revocation) => {
                let closed = self.grants.revoke(revocation);
                tracing::info!(
                    reason = revocation.reason(),
                    closed,
                    "credential revoked; connections closing"
                );
            }
        }
    }

    /// Queue `bytes` to each connection of each of `users` whose scope passes `wants`. The
    /// registry is locked once per event, not once per recipient.
    fn send<'a>(
        &self,
        users: impl Iterator<Item = &'a String>,
        bytes: &Utf8Bytes,
        wants: impl Fn(Scope) -> bool,
    ) {
        let connections = self.connections.read().unwrap_or_else(|e| e.into_inner());
        let mut queued = 0;
        for entries in users.filter_map(|user| connections.get(user)) {
            for entry in entries.iter().filter(|entry| wants(entry.scope)) {
                match entry.queue.try_send(bytes.clone()) {
                    Ok(()) => queued += 1,
                    Err(Refused::Full) => {
                        self.metrics.send_queue_drop();
                        entry.evict.notify_one();
                    }
                    // The connection is closing; it unregisters itself.
                    Err(Refused::Closed) => {}
                }
            }
        }
        self.metrics.fanned_out(queued);
    }

    /// The participants of `chat`, from the cache or storage (`None`: no such chat).
    async fn members(&self, chat: ChatId, frame: &ServerFrame) -> Option<Arc<[String]>> {
        // Not cached: a membership change may already have been delivered (the next event
        // loads the current list).
        if let ServerFrame::ChatCreated { chat: created } = frame {
            return Some(created.participants.iter().map(|p| p.username.clone()).collect());
        }
        self.chat_members(chat).await
    }

    /// The participants of `chat`, from the cache or storage.
    async fn chat_members(&self, chat: ChatId) -> Option<Arc<[String]>> {
        let load = async {
            let found = self.storage.chat(chat).await?;
            Ok::<_, hellocode_core::Error>(
                found.map(|found| found.participants.into_iter().map(|p| p.username).collect()),
            )
        };
        match self.members.get_or_load(chat, load).await {
            Ok(members) => members,
            Err(err) => {
                tracing::error!(%chat, error = %err, "cannot load chat members; event not delivered");
                None
            }
        }
    }

    /// Everyone who shares a chat with `username`.
    async fn contacts_in_chats(&self, username: &str) -> BTreeSet<String> {
        match self.storage.chat_partners(username).await {
            Ok(partners) => partners.into_iter().collect(),
            Err(err) => {
                tracing::error!(%username, error = %err, "cannot load chats for presence");
                BTreeSet::new()
            }
        }
    }
}

/// Ask each of these connections to close (see [`Hub::evict_all`]); returns how many.
fn evict<'a>(entries: impl Iterator<Item = &'a Entry>) -> usize {
    entries.map(|entry| entry.evict.notify_one()).count()
}

fn scope_allows(scope: Scope, chat: ChatId) -> bool {
    match scope {
        Scope::AllChats => true,
        Scope::Chat(bound) => bound == chat,
    }
}
