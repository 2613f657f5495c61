//! The dispatcher: runs a session's decisions — credential checks, storage operations, event
//! publication. Every transport (WebSocket, REST) calls [`Dispatcher::handle`]; there is no
//! second implementation of any command.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hellocode_core::model::{ChatId, Timestamp};
use hellocode_core::protocol::{ClientFrame, ServerFrame};
use hellocode_core::session::{Decision, Output, Session, StorageOp, execute};
use hellocode_core::storage::Storage;

use crate::auth::Auth;
use crate::broker::{Broker, BrokerEvent};
use crate::metrics::Metrics;

/// Runs commands for sessions.
pub struct Dispatcher {
    storage: Arc<dyn Storage>,
    auth: Auth,
    broker: Arc<dyn Broker>,
    metrics: Arc<Metrics>,
    /// One lock per chat with an append in flight: a chat's appends commit and publish one at a
    /// time, so its participants receive its messages in sequence order.
    chat_locks: Mutex<HashMap<ChatId, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher over these services.
    pub fn new(
        storage: Arc<dyn Storage>,
        auth: Auth,
        broker: Arc<dyn Broker>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Dispatcher { storage, auth, broker, metrics, chat_locks: Mutex::default() }
    }

    /// The broker events go through.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    /// Handle one command of `session`; returns the direct reply, if any. Events are published
    /// before this returns.
    pub async fn handle(&self, session: &mut Session, frame: ClientFrame) -> Option<ServerFrame> {
        self.metrics.command(Some(frame.command.name()));
        match session.handle(frame, Timestamp::now()) {
            Decision::Reply(output) => self.finish(output).await,
            Decision::Authenticate(request) => match self.auth.check(&request.credentials).await {
                Ok((identity, token)) => session.authenticated(request, identity, token).reply,
                Err(err) => {
                    if matches!(err, crate::Error::Storage(_) | crate::Error::PasswordHash(_)) {
                        tracing::error!(error = %err, "credentials check failed");
                    }
                    Some(ServerFrame::error(request.id, err.code(), err.client_message()))
                }
            },
            Decision::Store(pending) => {
                let appending = match pending.op() {
                    StorageOp::Append(message) => Some(message.chat_id),
                    _ => None,
                };
                let lock = appending.map(|chat| self.chat_lock(chat));
                let _guard = match &lock {
                    Some(lock) => Some(lock.lock().await),
                    None => None,
                };
                let started = Instant::now();
                let result = execute(&*self.storage, pending.op()).await;
                self.metrics.storage_latency(started.elapsed());
                if let Err(err @ hellocode_core::Error::Database(_)) = &result {
                    tracing::error!(op = pending.op().name(), error = %err, "storage failed");
                }
                let output = session.complete(pending, result);
                if appending.is_some() && !output.publish.is_empty() {
                    self.metrics.message_stored();
                }
                let reply = self.finish(output).await;
                drop(_guard);
                if let (Some(chat), Some(lock)) = (appending, lock) {
                    self.release_chat_lock(chat, lock);
                }
                reply
            }
        }
    }

    async fn finish(&self, output: Output) -> Option<ServerFrame> {
        for publish in output.publish {
            self.broker.publish(BrokerEvent::Chat(publish)).await;
        }
        output.reply
    }

    fn chat_lock(&self, chat: ChatId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.chat_locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(chat).or_default().clone()
    }

    /// Forget a chat's lock when no one else holds or waits for it, so the map stays small.
    fn release_chat_lock(&self, chat: ChatId, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.chat_locks.lock().unwrap_or_else(|e| e.into_inner());
        // Two references: the map's and ours.
        if Arc::strong_count(&lock) == 2 {
            locks.remove(&chat);
        }
    }
}
