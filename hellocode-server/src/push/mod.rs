//! Push notifications to devices with no open connection, through push gateways in the shape of
//! Matrix's push gateway API (Sygnal relays them to FCM and APNs).
//!
//! When a post is stored, [`Push::post_stored`] hands it to the notifier task, which finds the
//! chat's members with no open connection anywhere in the deployment (the hub's view), asks
//! storage for their pushers in that chat (not muted, with unread counts), and queues one
//! notification per pusher in the database. The sender task (`sender`) posts queued
//! notifications to their gateways with retries; the queue survives restarts.

mod gateway;
mod notification;
mod sender;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hellocode_core::model::{Message, NewPush, PushUrl, Timestamp};
use hellocode_core::storage::Storage;
use tokio::sync::{Notify, mpsc, watch};

use crate::hub::Hub;
use crate::metrics::{Metrics, PushOutcome};

/// Posts waiting for the notifier at most.
const WAITING_POSTS: usize = 16 * 1024;
/// How long a post waits for room among them before its notification is dropped (counted).
const HAND_OVER: Duration = Duration::from_secs(2);

/// How notifications are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushSettings {
    /// Whether posts notify offline members' devices at all (`--no-push` turns it off).
    pub enabled: bool,
    /// Requests to gateways in flight at once.
    pub concurrency: usize,
    /// The first retry's delay; each next one doubles it.
    pub first_retry: Duration,
    /// The longest delay between retries.
    pub max_retry: Duration,
    /// How long a notification is retried before it is given up.
    pub give_up_after: Duration,
    /// Time a gateway has to answer one request.
    pub request_timeout: Duration,
}

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings {
            enabled: true,
            concurrency: 16,
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(600),
            give_up_after: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The notifier's handle: cheap to call on every stored post.
#[derive(Debug)]
pub struct Push {
    posts: mpsc::Sender<Message>,
    metrics: Arc<Metrics>,
}

impl Push {
    /// Start the notifier and the sender on the current runtime; both stop at `shutdown`.
    pub fn start(
        storage: Arc<dyn Storage>,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        settings: PushSettings,
        shutdown: watch::Receiver<bool>,
    ) -> Push {
        let (posts, waiting) = mpsc::channel(WAITING_POSTS);
        let wake = Arc::new(Notify::new());
        let notifier = Notifier {
            storage: storage.clone(),
            hub,
            metrics: metrics.clone(),
            wake: wake.clone(),
        };
        tokio::spawn(notifier.run(waiting, shutdown.clone()));
        tokio::spawn(sender::run(storage, metrics.clone(), settings, wake, shutdown));
        Push { posts, metrics }
    }

    /// A post was stored (for the first time): notify its chat's offline members. When the
    /// notifier is behind by 16,384 posts, this waits for room (the post's sender waits
    /// with it: back-pressure, not loss), at most 2 s; only then is the post's
    /// notification dropped, and counted.
    pub async fn post_stored(&self, message: &Message) {
        if self.posts.send_timeout(message.clone(), HAND_OVER).await.is_err() {
            self.metrics.pushes(PushOutcome::Dropped, 1);
            tracing::warn!(chat = %message.chat_id, "push notifier overloaded; post not notified");
        }
    }
}

struct Notifier {
    storage: Arc<dyn Storage>,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

impl Notifier {
    async fn run(self, mut waiting: mpsc::Receiver<Message>, mut shutdown: watch::Receiver<bool>) {
        let mut batch = Vec::new();
        loop {
            // At shutdown the posts already handed over are still queued (they are committed),
            // then the notifier stops.
            let stopping = tokio::select! {
                _ = waiting.recv_many(&mut batch, 256) => false,
                _ = shutdown.changed() => true,
            };
            if stopping {
                while let Ok(post) = waiting.try_recv() {
                    batch.push(post);
                }
            }
            if batch.is_empty() {
                return;
            }
            let mut pushes = Vec::new();
            for post in batch.drain(..) {
                match self.notifications(&post).await {
                    Ok(found) => pushes.extend(found),
                    Err(err) => {
                        self.metrics.pushes(PushOutcome::Dropped, 1);
                        tracing::warn!(chat = %post.chat_id, error = %err, "cannot find whom to notify");
                    }
                }
            }
            let count = pushes.len() as u64;
            if count == 0 {
                if stopping {
                    return;
                }
                continue;
            }
            match self.storage.queue_pushes(pushes).await {
                Ok(()) => {
                    self.metrics.pushes(PushOutcome::Queued, count);
                    self.wake.notify_one();
                }
                Err(err) => {
                    self.metrics.pushes(PushOutcome::Dropped, count);
                    tracing::warn!(error = %err, count, "cannot queue push notifications");
                }
            }
            if stopping || *shutdown.borrow() {
                return;
            }
        }
    }

    /// One notification per pusher of each offline member of the post's chat who did not
    /// mute it.
    async fn notifications(&self, post: &Message) -> hellocode_core::Result<Vec<NewPush>> {
        let offline = self.hub.offline_members(post.chat_id, &post.author).await;
        if offline.is_empty() {
            return Ok(Vec::new());
        }
        let targets = self.storage.push_targets(post.chat_id, &offline, post.seq).await?;
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let due = Timestamp::now();
        Ok(targets
            .iter()
            .map(|target| NewPush {
                app_id: target.pusher.app_id.clone(),
                pushkey: target.pusher.pushkey.clone(),
                body: notification::body(post, target),
                due,
            })
            .collect())
    }
}

/// Whether a gateway URL points at this server (`own`: the address it listens on), which
/// would make it post notifications to itself: the same port on one of its addresses, a
/// loopback or unspecified address, or `localhost`.
pub fn points_at(url: &PushUrl<'_>, own: SocketAddr) -> bool {
    if url.port != own.port() {
        return false;
    }
    let host = url.host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => {
            ip == own.ip() || ip.is_loopback() || ip.is_unspecified() || own.ip().is_unspecified()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use hellocode_core::model::check_push_url;

    use super::*;

    fn points(url: &str, own: &str) -> bool {
        points_at(&check_push_url(url).expect("url"), own.parse().expect("addr"))
    }

    #[test]
    fn a_gateway_on_the_servers_own_address_is_the_server() {
        let path = "/_matrix/push/v1/notify";
        assert!(points(&format!("http://127.0.0.1:8080{path}"), "0.0.0.0:8080"));
        assert!(points(&format!("http://localhost:8080{path}"), "127.0.0.1:8080"));
        assert!(points(&format!("http://[::1]:8080{path}"), "[::]:8080"));
        assert!(points(&format!("http://10.0.0.5:8080{path}"), "10.0.0.5:8080"));
        assert!(points(&format!("http://10.0.0.5:8080{path}"), "0.0.0.0:8080"));
        assert!(!points(&format!("http://127.0.0.1:5000{path}"), "127.0.0.1:8080"));
        assert!(!points(&format!("http://10.0.0.6:8080{path}"), "10.0.0.5:8080"));
        assert!(!points(&format!("https://push.example.org{path}"), "0.0.0.0:443"));
    }
}
