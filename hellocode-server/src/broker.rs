//! The broker seam: every event goes through [`Broker::publish`], so that several server nodes
//! can share events (through Redis pub/sub) without the dispatcher knowing.

use std::sync::Arc;

use async_trait::async_trait;
use hellocode_core::model::ChatId;
use hellocode_core::session::Publish;

use crate::hub::Hub;

/// Something every node must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerEvent {
    /// An event for the participants of a chat (boxed: a frame is large, the other events
    /// small).
    Chat(Box<Publish>),
    /// A user came online (first connection) or went offline (last connection closed).
    Presence {
        /// The user.
        username: String,
        /// Online or offline.
        online: bool,
    },
    /// A chat's participants changed or it was deleted: forget cached membership.
    MembersChanged(ChatId),
    /// Memberships changed in ways too broad to list (a user was deleted).
    MembershipReset,
    /// A credential stopped being valid: close the connections it authenticated.
    Revoke(crate::revocation::Revocation),
}

/// Carries events to the hubs of every node.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Publish an event; returns once this node's hub has queued it to its connections.
    async fn publish(&self, event: BrokerEvent);
}

/// The single-node broker: hands events straight to this process's hub.
#[derive(Debug, Clone)]
pub struct LocalBroker {
    hub: Arc<Hub>,
}

impl LocalBroker {
    /// A broker delivering to `hub`.
    pub fn new(hub: Arc<Hub>) -> Self {
        LocalBroker { hub }
    }
}

#[async_trait]
impl Broker for LocalBroker {
    async fn publish(&self, event: BrokerEvent) {
        self.hub.deliver(&event).await;
    }
}
