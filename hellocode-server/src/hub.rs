//! This node's registry of open connections, and the fan-out of events to them.
//!
//! Each connection has a bounded queue of outgoing frames. An event is serialized once; every
//! recipient's queue gets a reference-counted copy of the same bytes. A queue that is full means
//! the client cannot keep up: the connection is evicted (closed with a "resume" reason) rather
//! than letting the server's memory grow or slowing everyone else down.

mod members;

use std::collections::{BTreeSet, HashMap};
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

/// Chat members loaded from storage at once, at most. When many chats publish for the first
/// time together (a burst of appends across a thousand chats, just after a restart), their
/// loads wait here, without a deadline, instead of in the storage pool's acquire, where they
/// timed out after 2 s (the event was then not delivered) and held the connections the group
/// commit needs: measured on Postgres's 8-connection pool (BENCHMARKS.md, "Third pass").
const MEMBER_LOADS: usize = 4;

/// Connections by user, and chat memberships cached from storage.
pub struct Hub {
    connections: RwLock<HashMap<String, Vec<Entry>>>,
    members: MemberCache,
    /// Everyone who shares a chat with a user, for users with a connection here: each of the
    /// user's connections is told their presence when it comes online, and the user's presence
    /// changes go to them. Thousands of reconnections read it once per user instead of once
    /// per connection. Cleared by every membership change, like `members`.
    partners: MemberCache<String>,
    /// Turns to load a chat's members from storage (see [`MEMBER_LOADS`]).
    member_loads: tokio::sync::Semaphore,
    storage: Arc<dyn Storage>,
    metrics: Arc<Metrics>,
    next_id: AtomicU64,
    /// Which connection authenticated with which credential (see [`crate::revocation`]).
    grants: Grants,
    max_per_user: usize,
    /// With several nodes: who is online in the deployment, as the presence events delivered
    /// so far tell it, each user's state with its version. Locked while a presence event is
    /// queued to its recipients, so that a snapshot ([`Hub::tell_online`]) and the events fall
    /// in one order. `None` on one node, where the registry itself says who is online.
    online: Mutex<Option<PresenceView>>,
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
            partners: MemberCache::default(),
            member_loads: tokio::sync::Semaphore::new(MEMBER_LOADS),
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
    /// who shares a chat with its user) online now. Taken under the lock every presence change
    /// takes before it is delivered (on one node the registry's, with several nodes the
    /// presence view's): a change after the snapshot reaches the connection as a `presence`
    /// event after it, and one before it is in it.
    pub fn tell_online(&self, partners: &[String], queue: &QueueSender) {
        let view = self.online.lock().unwrap_or_else(|e| e.into_inner());
        let usernames: Vec<String> = match &*view {
            Some(view) => partners
                .iter()
                .filter(|partner| view.users.get(partner.as_str()).is_some_and(|(on, _)| *on))
                .cloned()
                .collect(),
            None => {
                let connections = self.connections.read().unwrap_or_else(|e| e.into_inner());
                partners
                    .iter()
                    .filter(|partner| connections.contains_key(partner.as_str()))
                    .cloned()
                    .collect()
            }
        };
        let frame = Utf8Bytes::from(ServerFrame::Online { usernames }.to_json());
        if queue.try_send(frame).is_err() {
            // Full: the connection is being evicted for it; the client reconnects and is told
            // again. Closed: it is gone.
            tracing::debug!("presence snapshot not queued");
        }
    }

    /// Keep a view of who is online across the deployment (several nodes), fed by versioned
    /// presence events and [`Hub::set_online`].
    pub fn track_deployment_presence(&self) {
        let mut view = self.online.lock().unwrap_or_else(|e| e.into_inner());
        view.get_or_insert_with(PresenceView::default);
    }

    /// Who is online across the deployment as of `version` (read where the nodes count
    /// together, when this node subscribes): everyone else is offline as of then. A change
    /// with a later version, delivered before this, stands.
    pub fn set_online(&self, version: u64, usernames: Vec<String>) {
        let mut view = self.online.lock().unwrap_or_else(|e| e.into_inner());
        let view = view.get_or_insert_with(PresenceView::default);
        // One less: a change read in the same microsecond, after the snapshot, must win.
        let as_of = version.saturating_sub(1);
        // Changes up to the snapshot are in it: forget them, keep the later ones.
        view.users.retain(|_, (_, version)| *version > as_of);
        view.floor = view.floor.max(as_of);
        for username in usernames {
            view.users.entry(username).or_insert((true, as_of));
        }
    }

    /// The members of `chat` other than `except` with no open connection: on this node, or
    /// with several nodes anywhere in the deployment (as this node's presence view knows it).
    /// None when the chat is gone.
    pub async fn offline_members(&self, chat: ChatId, except: &str) -> Vec<String> {
        let Some(members) = self.chat_members(chat).await else { return Vec::new() };
        let others = members.iter().filter(|member| member.as_str() != except);
        let view = self.online.lock().unwrap_or_else(|e| e.into_inner());
        match &*view {
            Some(view) => others
                .filter(|member| !view.users.get(member.as_str()).is_some_and(|(on, _)| *on))
                .cloned()
                .collect(),
            None => {
                let connections = self.connections.read().unwrap_or_else(|e| e.into_inner());
                others
                    .filter(|member| !connections.contains_key(member.as_str()))
                    .cloned()
                    .collect()
            }
        }
    }

    /// Whether `username` has a connection on this node.
    pub fn is_connected(&self, username: &str) -> bool {
        self.connections.read().unwrap_or_else(|e| e.into_inner()).contains_key(username)
    }

    /// Stop delivering to connection `id`; returns whether it was the user's last one.
    pub fn unregister(&self, username: &str, id: u64) -> bool {
        let mut connections = self.connections.write().unwrap_or_else(|e| e.into_inner());
        let Some(entries) = connections.get_mut(username) else { return false };
        entries.retain(|entry| entry.id != id);
        if entries.is_empty() {
            connections.remove(username);
            drop(connections);
            // After the removal: a load of the partners still in flight sees the user gone
            // and does not cache them (`partners`).
            self.partners.forget(&username.to_owned());
            true
        } else {
            false
        }
    }

    /// Everyone who shares a chat with `username`: cached while the user has a connection on
    /// this node, else read from storage.
    pub async fn partners(&self, username: &str) -> hellocode_core::Result<Arc<[String]>> {
        let load = async { self.storage.chat_partners(username).await.map(Some) };
        let connected = || self.is_connected(username);
        let partners = self.partners.get_or_load_if(username.to_owned(), load, connected).await?;
        Ok(partners.unwrap_or_default())
    }

    /// Forget every cached membership: events that change them may have been missed.
    pub fn forget_memberships(&self) {
        self.members.clear();
        self.partners.clear();
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
                // A new chat makes new partners (other membership changes come as
                // `MembersChanged`).
                if matches!(publish.frame, ServerFrame::ChatCreated { .. }) {
                    self.partners.clear();
                }
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
            BrokerEvent::Presence { username, online, version } => {
                let recipients = self.contacts_in_chats(username).await;
                let frame = ServerFrame::Presence { username: username.clone(), online: *online };
                let bytes = Utf8Bytes::from(frame.to_json());
                let mut view = self.online.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(view) = view.as_mut()
                    && !newer(view, username, *online, *version)
                {
                    return; // an older change, heard after a later one: superseded
                }
                self.send(recipients.iter(), &bytes, |scope| scope == Scope::AllChats);
            }
            BrokerEvent::MembersChanged(chat) => {
                self.members.invalidate(chat);
                self.partners.clear();
            }
            BrokerEvent::MembershipReset => self.forget_memberships(),
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
            // Never closed: an error cannot happen, and would only skip the wait.
            let _turn = self.member_loads.acquire().await;
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
        match self.partners(username).await {
            Ok(partners) => partners.iter().cloned().collect(),
            Err(err) => {
                tracing::error!(%username, error = %err, "cannot load chats for presence");
                BTreeSet::new()
            }
        }
    }
}

/// Who is online across a deployment, as this node has heard it.
#[derive(Debug, Default)]
struct PresenceView {
    /// Users with a change later than `floor`, or online as of it: their state and version.
    users: HashMap<String, (bool, u64)>,
    /// The version of the last snapshot: everyone not in `users` is offline as of it.
    floor: u64,
    /// Changes recorded since offline users were last forgotten.
    changes: u32,
}

/// How long an offline user's version is kept (a change older than this, heard late, is
/// dropped): ten minutes, in the versions' microseconds.
const REMEMBER_OFFLINE: u64 = 600_000_000;

/// Record `username`'s change to `online` at `version` in `view`, unless it knows a later one;
/// whether it was recorded. An unversioned change (a node counting alone while the others are
/// out of reach) is recorded without touching the version.
fn newer(view: &mut PresenceView, username: &str, online: bool, version: Option<u64>) -> bool {
    let floor = view.floor;
    let entry = view.users.entry(username.to_owned()).or_insert((false, floor));
    match version {
        Some(version) if version <= entry.1 => return false,
        Some(version) => *entry = (online, version),
        None => entry.0 = online,
    }
    view.changes += 1;
    if let Some(version) = version
        && view.changes >= 4096
    {
        // Offline users are remembered only to drop late changes: not for long.
        view.changes = 0;
        let forget_before = version.saturating_sub(REMEMBER_OFFLINE);
        view.users.retain(|_, (online, version)| *online || *version >= forget_before);
        view.floor = view.floor.max(forget_before);
    }
    true
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

#[cfg(test)]
mod tests {
    use super::*;

    fn online_in(view: &PresenceView, username: &str) -> bool {
        view.users.get(username).is_some_and(|(online, _)| *online)
    }

    #[test]
    fn a_later_presence_change_wins_whatever_order_it_is_heard_in() {
        let mut view = PresenceView::default();
        // Node B's "online" (version 20) is heard before node A's "offline" (version 10).
        assert!(newer(&mut view, "ada", true, Some(20)));
        assert!(!newer(&mut view, "ada", false, Some(10)), "older: superseded");
        assert!(online_in(&view, "ada"));
        assert!(newer(&mut view, "ada", false, Some(30)));
        assert!(!online_in(&view, "ada"));
        // A node counting alone changes the state, not the version.
        assert!(newer(&mut view, "bob", true, None));
        assert!(online_in(&view, "bob"));
        assert!(newer(&mut view, "bob", false, Some(1)));
    }

    #[test]
    fn a_snapshot_sets_who_is_online_as_of_its_version_and_later_changes_stand() {
        let hub = Hub::new(
            Arc::new(hellocode_core::storage::MemoryStorage::new()),
            Arc::new(Metrics::default()),
        );
        hub.track_deployment_presence();
        {
            let mut view = hub.online.lock().expect("lock");
            let view = view.as_mut().expect("tracking");
            newer(view, "ada", true, Some(50)); // before the snapshot
            newer(view, "bob", false, Some(200)); // after it
            newer(view, "cyd", true, Some(60)); // before it; cyd left since
        }
        hub.set_online(100, vec!["ada".into(), "bob".into()]);
        let mut view = hub.online.lock().expect("lock");
        let view = view.as_mut().expect("tracking");
        assert!(online_in(view, "ada"));
        assert!(!online_in(view, "bob"), "the later change stands");
        assert!(!online_in(view, "cyd"), "not in the snapshot: offline");
        // A change older than the snapshot, heard late, is dropped.
        assert!(!newer(view, "dan", true, Some(80)));
        assert!(newer(view, "dan", true, Some(120)));
    }
}
