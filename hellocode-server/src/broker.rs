//! The broker seam: every event goes through [`Broker::publish`], so that several server nodes
//! can share events (through Redis pub/sub, [`RedisBroker`]) without the dispatcher knowing.

mod fill;
mod redis;
mod roster;
mod sequencer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hellocode_core::model::ChatId;
use hellocode_core::session::Publish;
use serde::{Deserialize, Serialize};

pub use self::redis::RedisBroker;
use crate::hub::Hub;
use crate::rate_limit::Rate;

/// Something every node must hear about.
///
/// Its serialized form (JSON, [`BrokerEvent::to_json`]) is what nodes of one deployment send
/// each other, so it is stable: `{"kind": ..., "body": ...}` with `kind` one of `chat` (body:
/// `{chat, frame, to?, also?}`, the frame in its wire form), `presence` (`{username,
/// online, version?}`), `members_changed` (a chat id), `membership_reset` (no body) and `revoke`
/// (`{kind: account_deleted | password_changed | bot_token_revoked, account, ...}`). Fields are
/// only ever added; a node ignores the ones it does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "body", rename_all = "snake_case")]
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
        /// With several nodes: the change's version (the deployment's nodes may hear two
        /// changes of one user in either order; the later version wins).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u64>,
    },
    /// A chat's participants changed or it was deleted: forget cached membership.
    MembersChanged(ChatId),
    /// Memberships changed in ways too broad to list (a user was deleted).
    MembershipReset,
    /// A credential stopped being valid: close the connections it authenticated.
    Revoke(crate::revocation::Revocation),
}

impl BrokerEvent {
    /// The serialized form nodes exchange.
    pub fn to_json(&self) -> String {
        // Every map key is a string and no Serialize impl here fails.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Read an event another node sent; `Err` says what is wrong with it.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// How the deployment took a connection's arrival (see [`Broker::arrive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Counted by this node alone (it is the whole deployment, or cannot reach the others):
    /// its own registry says whether the user came online and caps their connections.
    Local,
    /// Counted across the deployment; `online`: the user had no other connection on any node,
    /// and this is the version of their coming online.
    Counted {
        /// The version of the user's coming online, if they just did.
        online: Option<u64>,
    },
    /// The user has the maximum of connections open across the deployment.
    Refused,
}

/// How the deployment took a connection's closing (see [`Broker::depart`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// This node decides alone: the user went offline if it was their last connection here.
    Local,
    /// Counted across the deployment; `offline`: the version of their going offline, if this
    /// was their last connection anywhere.
    Counted {
        /// The version of the user's going offline, if they did.
        offline: Option<u64>,
    },
}

/// Carries events to the hubs of every node, and keeps what the nodes count together.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Publish an event; returns once this node's hub has queued it to its connections.
    async fn publish(&self, event: BrokerEvent);

    /// Connection `connection` (its id in this node's hub) of `username` opens on this node,
    /// and the user may have at most `max` across the deployment. The single-node broker
    /// leaves it to this node ([`Arrival::Local`]).
    async fn arrive(&self, _username: &str, _connection: u64, _max: usize) -> Arrival {
        Arrival::Local
    }

    /// Connection `connection` of `username` closed; `last_here`: the user has no other
    /// connection on this node.
    async fn depart(&self, _username: &str, _connection: u64, _last_here: bool) -> Departure {
        Departure::Local
    }

    /// Take one token from the deployment's bucket `key`, filling at `rate`: `None` when there
    /// is no shared bucket (one node, or the others cannot be reached), and this node's own
    /// limiter decides.
    async fn take(&self, _key: &str, _rate: Rate) -> Option<Result<(), Duration>> {
        None
    }
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

#[cfg(test)]
mod tests {
    use hellocode_core::protocol::ServerFrame;
    use serde_json::{Value, json};

    use super::*;
    use crate::revocation::Revocation;

    /// The form other nodes read: a change here breaks a deployment mid-upgrade.
    #[test]
    fn the_serialized_form_is_stable_and_reads_back() {
        let typing = ServerFrame::Typing { chat_id: ChatId(7), username: "bob".into() };
        let cases = [
            (
                BrokerEvent::Chat(Box::new(Publish::to_chat(ChatId(7), typing.clone()))),
                json!({"kind": "chat", "body": {"chat": 7,
                    "frame": {"command": "typing", "chatId": 7, "username": "bob"}}}),
            ),
            (
                BrokerEvent::Chat(Box::new(Publish {
                    chat: ChatId(7),
                    frame: typing,
                    to: Some(vec!["carol".into()]),
                    also: vec!["dave".into()],
                })),
                json!({"kind": "chat", "body": {"chat": 7,
                    "frame": {"command": "typing", "chatId": 7, "username": "bob"},
                    "to": ["carol"], "also": ["dave"]}}),
            ),
            (
                BrokerEvent::Presence { username: "bob".into(), online: true, version: None },
                json!({"kind": "presence", "body": {"username": "bob", "online": true}}),
            ),
            (
                BrokerEvent::Presence { username: "bob".into(), online: false, version: Some(9) },
                json!({"kind": "presence", "body":
                    {"username": "bob", "online": false, "version": 9}}),
            ),
            (BrokerEvent::MembersChanged(ChatId(7)), json!({"kind": "members_changed", "body": 7})),
            (BrokerEvent::MembershipReset, json!({"kind": "membership_reset"})),
            (
                BrokerEvent::Revoke(Revocation::BotTokenRevoked { account: 3, token_id: 9 }),
                json!({"kind": "revoke", "body":
                    {"kind": "bot_token_revoked", "account": 3, "token_id": 9}}),
            ),
        ];
        for (event, form) in cases {
            let text = event.to_json();
            assert_eq!(serde_json::from_str::<Value>(&text).expect("json"), form);
            assert_eq!(BrokerEvent::from_json(&text).expect("reads back"), event);
        }
        let newer = r#"{"kind":"presence","body":{"username":"bob","online":false,"node":"b"}}"#;
        assert_eq!(
            BrokerEvent::from_json(newer).expect("unknown fields are ignored"),
            BrokerEvent::Presence { username: "bob".into(), online: false, version: None }
        );
        assert!(BrokerEvent::from_json(r#"{"kind":"teleport"}"#).is_err());
    }
}
