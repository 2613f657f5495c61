//! The dispatcher: runs a session's decisions — credential checks, storage operations, event
//! publication. Every transport (WebSocket, REST) calls [`Dispatcher::handle`]; there is no
//! second implementation of any command.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use hellocode_core::model::Timestamp;
use hellocode_core::model::{Attachment, ChatId};
use hellocode_core::protocol::{ClientFrame, ErrorCode, RequestId, ServerFrame};
use hellocode_core::session::{
    Credentials, Decision, Output, Pending, Session, StorageOp, StorageOutcome, execute,
};
use hellocode_core::storage::{AppendTicket, Storage};

use crate::auth::Auth;
use crate::auth::tokens::invite_link_token;
use crate::broker::{Broker, BrokerEvent};
use crate::chat_order::{ChatOrder, Place};
use crate::creation::{self, CreationLimiter, CreationLimits};
use crate::metrics::Metrics;
use crate::push::Push;
use crate::rate_limit::{RateLimits, retry_after_secs};
use crate::revocation::Revocation;

/// Runs commands for sessions.
pub struct Dispatcher {
    storage: Arc<dyn Storage>,
    auth: Auth,
    broker: Arc<dyn Broker>,
    metrics: Arc<Metrics>,
    /// Login and registration limits.
    limits: Arc<RateLimits>,
    /// A chat's appends enter storage in turn and publish in that order, but commit together.
    chat_order: ChatOrder,
    /// Per-account limits on creating languages, chats and memberships.
    creation: CreationLimiter,
    /// Notifies offline members of stored posts (none: push is off).
    push: Option<Push>,
    /// The address this server listens on: a pusher may not point at it.
    own_addr: Option<SocketAddr>,
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
        limits: Arc<RateLimits>,
    ) -> Self {
        Dispatcher {
            storage,
            auth,
            broker,
            metrics,
            limits,
            chat_order: ChatOrder::default(),
            creation: CreationLimiter::new(CreationLimits::default()),
            push: None,
            own_addr: None,
        }
    }

    /// The same dispatcher notifying offline members of stored posts through `push`.
    pub fn with_push(mut self, push: Push) -> Self {
        self.push = Some(push);
        self
    }

    /// The same dispatcher refusing pushers that point at `addr`, where this server listens.
    pub fn with_own_address(mut self, addr: SocketAddr) -> Self {
        self.own_addr = Some(addr);
        self
    }

    /// A pusher pointing at this server itself is refused: it would post notifications to
    /// its own API.
    fn pusher_refusal(&self, pending: &Pending) -> Option<ServerFrame> {
        let (StorageOp::SetPusher { pusher, .. }, Some(own)) = (pending.op(), self.own_addr) else {
            return None;
        };
        let url = hellocode_core::model::check_push_url(&pusher.url).ok()?;
        crate::push::points_at(&url, own).then(|| {
            ServerFrame::error(
                pending.request_id().cloned(),
                ErrorCode::InvalidField,
                "url must not point at this server",
            )
        })
    }

    /// The same dispatcher with these creation limits.
    pub fn with_creation_limits(mut self, limits: CreationLimits) -> Self {
        self.creation = CreationLimiter::new(limits);
        self
    }

    /// The per-account creation limiter (REST routes that write storage directly use it).
    pub fn creation(&self) -> &CreationLimiter {
        &self.creation
    }

    /// The broker events go through.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    /// Resolves while (or once) a change of some chat waits for earlier appends to publish,
    /// holding its chat's line: an append [`start_from`](Self::start_from) waits on may then
    /// wait for appends the caller has started and not finished.
    pub(crate) fn until_a_change_waits(&self) -> impl Future<Output = ()> + Send + 'static {
        self.chat_order.until_a_change_waits()
    }

    /// Handle one command of `session`; returns the direct reply, if any. Events are published
    /// before this returns.
    pub async fn handle(&self, session: &mut Session, frame: ClientFrame) -> Option<ServerFrame> {
        self.handle_from(None, session, frame).await
    }

    /// [`handle`](Self::handle) for a connection from `peer`, whose logins and registrations
    /// count against that address's limit.
    pub async fn handle_from(
        &self,
        peer: Option<IpAddr>,
        session: &mut Session,
        frame: ClientFrame,
    ) -> Option<ServerFrame> {
        match self.start_from(peer, session, frame).await {
            Started::Done(reply) => reply,
            Started::Committing(append) => append.finish().await,
        }
    }

    /// [`handle_from`](Self::handle_from), except that an append returns once it has its
    /// place in its chat's line: the wait for its commit, its publication and its reply are
    /// left to [`Committing::finish`], which needs no session. A connection can so read its
    /// next command while an append commits, and an overloaded chat's appends share commits
    /// and publish back to back.
    pub async fn start_from(
        &self,
        peer: Option<IpAddr>,
        session: &mut Session,
        frame: ClientFrame,
    ) -> Started<'_> {
        self.metrics.command(Some(frame.command.name()));
        let reply = match session.handle(frame, Timestamp::now()) {
            Decision::Reply(output) => self.finish(output).await,
            Decision::Authenticate(request) => {
                let checked = match &request.credentials {
                    Credentials::Password { username, .. }
                    | Credentials::Register { username, .. } => {
                        self.limits.auth_attempt(peer, username, &*self.broker).await
                    }
                    _ => Ok(()),
                };
                let checked = match checked {
                    Ok(()) => self.auth.check(&request.credentials).await,
                    Err(err) => Err(err),
                };
                match checked {
                    Ok((identity, token)) => session.authenticated(request, identity, token).reply,
                    Err(err) => {
                        log_failure(&err, "credentials check failed");
                        Some(err.to_frame(request.id))
                    }
                }
            }
            Decision::IssueBotToken(request) => {
                match self.auth.create_bot_token(&request.owner, &request.name).await {
                    Ok((token_id, token)) => {
                        tracing::info!(user = %request.owner, token = token_id, "bot token created");
                        session.bot_token_issued(request, token_id, token).reply
                    }
                    Err(err) => {
                        log_failure(&err, "bot token creation failed");
                        Some(err.to_frame(request.id))
                    }
                }
            }
            Decision::IssueInviteLink(request) => {
                // The link's secret is drawn here, where the randomness is; recording the link
                // is then a write like any other (its creation limit included).
                let pending = session.invite_link_token(request, invite_link_token());
                return self.store(session, pending).await;
            }
            Decision::Store(pending) => return self.store(session, pending).await,
        };
        Started::Done(reply)
    }

    /// Describe each attachment an append names from the record of its upload: it must be an
    /// attachment of the message's chat (an avatar, another chat's file or a made-up address
    /// is refused, `not_found`, as a download of it would be).
    async fn describe_attachments(&self, pending: &mut Pending) -> Option<ServerFrame> {
        let (chat, author) = match pending.op() {
            StorageOp::Append(message) if !message.attachments.is_empty() => {
                (message.chat_id, message.author.clone())
            }
            _ => return None,
        };
        let id = pending.request_id().cloned();
        let attachments = pending.attachments_mut()?;
        for attachment in attachments.iter_mut().filter(|a| a.is_unresolved()) {
            let found = self.storage.readable_media(&attachment.id, &author, Some(chat));
            let media = match found.await {
                Ok(media) => media,
                Err(err) => return Some(crate::Error::from(err).to_frame(id)),
            };
            match media {
                Some(media) => *attachment = Attachment::from_media(&media),
                None => {
                    let message = format!("no attachment {} in chat {chat}", attachment.id);
                    return Some(ServerFrame::error(id, ErrorCode::NotFound, message));
                }
            }
        }
        None
    }

    /// Take a creation of `kind` from `user`'s allowance: from the bucket the deployment's nodes
    /// share, or this node's own when there is none; `Err(seconds)` until the next is allowed.
    pub async fn take_creation(&self, user: &str, kind: creation::Kind) -> Result<(), u64> {
        let key = format!("creation:{}:{user}", kind.what());
        match self.broker.take(&key, self.creation.rate(kind)).await {
            Some(taken) => taken.map_err(retry_after_secs),
            None => self.creation.take(user, kind, Instant::now()),
        }
    }

    /// [`take_creation`](Self::take_creation), as the refusal to answer when it is spent.
    async fn creation_refusal(
        &self,
        user: &str,
        kind: creation::Kind,
        id: Option<&RequestId>,
    ) -> Option<ServerFrame> {
        let retry_after = self.take_creation(user, kind).await.err()?;
        Some(creation::refused(user, kind, retry_after, id))
    }

    /// Run a storage operation of `session` (creation limits, the chat's line for a write that
    /// numbers its events, publication) and return the reply; an append returns once it has
    /// its place in its chat's line.
    async fn store(&self, session: &mut Session, mut pending: Pending) -> Started<'_> {
        if let Some(user) = session.identity().map(|identity| identity.username.as_str())
            && let Some(kind) = creation::kind_of(pending.op())
            && let Some(refusal) = self.creation_refusal(user, kind, pending.request_id()).await
        {
            return Started::Done(Some(refusal));
        }
        if let Some(refusal) = self.describe_attachments(&mut pending).await {
            return Started::Done(Some(refusal));
        }
        if let Some(refusal) = self.pusher_refusal(&pending) {
            return Started::Done(Some(refusal));
        }
        let started = Instant::now();
        // An append takes its place in its chat's line; so does every other write that
        // takes the chat's sequence numbers, alone; other operations just run.
        let (result, place) = match pending.op() {
            StorageOp::Append(message) => {
                let (ticket, place) = self
                    .chat_order
                    .enter(message.chat_id, self.storage.start_append(message.clone()))
                    .await;
                return Started::Committing(Committing {
                    dispatcher: self,
                    pending,
                    ticket,
                    place,
                    started,
                });
            }
            op @ (StorageOp::Edit { chat, .. }
            | StorageOp::Delete { chat, .. }
            | StorageOp::ChangeChat { chat, .. }) => {
                let write = execute(&*self.storage, op);
                let (result, place) = self.chat_order.enter_alone(*chat, write).await;
                (result, Some(place))
            }
            // A join by invitation or link names no chat: its chat is looked up first (it
            // never changes), then the join takes the chat's line as any other change of it.
            // Without a chat (no such invitation or link) storage gives the refusal.
            op @ (StorageOp::AcceptInvitation { .. } | StorageOp::JoinByLink { .. }) => {
                match self.chat_of(op).await {
                    Some(chat) => {
                        let write = execute(&*self.storage, op);
                        let (result, place) = self.chat_order.enter_alone(chat, write).await;
                        (result, Some(place))
                    }
                    None => (execute(&*self.storage, op).await, None),
                }
            }
            op => (execute(&*self.storage, op).await, None),
        };
        self.record(pending.op(), &result, started);
        // Memberships changed: every node forgets what it cached, before the added
        // users are told (their chat_created caches the chat's new participants).
        let members_changed = match (pending.op(), &result) {
            (StorageOp::ChangeChat { chat, .. } | StorageOp::DeleteChat { chat, .. }, Ok(_)) => {
                Some(*chat)
            }
            (
                StorageOp::AcceptInvitation { .. } | StorageOp::JoinByLink { .. },
                Ok(StorageOutcome::Changed(changed)),
            ) => Some(changed.chat.id),
            _ => None,
        };
        // A revoked bot token closes the connections it opened, on every node.
        let revoked = match (pending.op(), session.identity()) {
            (StorageOp::RevokeBotToken { token, .. }, Some(identity)) if result.is_ok() => identity
                .account_id
                .map(|account| Revocation::BotTokenRevoked { account, token_id: *token }),
            _ => None,
        };
        let output = session.complete(pending, result);
        if let Some(chat) = members_changed {
            self.broker.publish(BrokerEvent::MembersChanged(chat)).await;
        }
        if let Some(revocation) = revoked {
            self.broker.publish(BrokerEvent::Revoke(revocation)).await;
        }
        let reply = match place {
            Some(place) => place.in_turn(self.finish(output)).await,
            None => self.finish(output).await,
        };
        Started::Done(reply)
    }

    /// Count and log a storage operation's outcome.
    fn record(
        &self,
        op: &StorageOp,
        result: &Result<StorageOutcome, hellocode_core::Error>,
        started: Instant,
    ) {
        self.metrics.storage_latency(started.elapsed());
        match result {
            Err(err @ hellocode_core::Error::Database(_)) => {
                tracing::error!(op = op.name(), error = %err, "storage failed");
            }
            Err(err @ hellocode_core::Error::Unavailable(_)) => {
                tracing::warn!(op = op.name(), error = %err, "storage unavailable");
            }
            _ => {}
        }
        self.metrics.storage_outcome(is_write(op), result);
    }

    /// The chat a join by invitation or link would join, if there is one.
    async fn chat_of(&self, op: &StorageOp) -> Option<ChatId> {
        let found = match op {
            StorageOp::AcceptInvitation { invitation, .. } => {
                self.storage.invitation(*invitation).await.map(|found| found.map(|i| i.chat_id))
            }
            StorageOp::JoinByLink { token_hash, .. } => {
                self.storage.invite_link_chat(token_hash).await
            }
            _ => Ok(None),
        };
        // A failed look-up leaves the refusal (or the same failure) to the write itself.
        found.ok().flatten()
    }

    async fn finish(&self, output: Output) -> Option<ServerFrame> {
        for publish in output.publish {
            self.broker.publish(BrokerEvent::Chat(Box::new(publish))).await;
        }
        output.reply
    }
}

/// How far [`Dispatcher::start_from`] ran a command.
#[derive(Debug)]
pub enum Started<'a> {
    /// It ran to the end: the reply, if any.
    Done(Option<ServerFrame>),
    /// An append in its chat's line, waiting for its commit.
    Committing(Committing<'a>),
}

/// An append handed to storage, with its place in its chat's line. Finish it
/// ([`finish`](Self::finish)) for its publication and reply; dropped unfinished, it is still
/// stored (it may already be committed) but not published, and the chat's next append
/// publishes in its stead. Appends of a chat must be finished in the order they were started.
#[must_use = "an append is published and acknowledged only when finished"]
pub struct Committing<'a> {
    dispatcher: &'a Dispatcher,
    pending: Pending,
    ticket: AppendTicket,
    place: Place<'a>,
    started: Instant,
}

impl std::fmt::Debug for Committing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committing").field("pending", &self.pending).finish_non_exhaustive()
    }
}

impl Committing<'_> {
    /// Wait for the append's commit, then publish it in its turn (after the chat's earlier
    /// appends) and return the acknowledgement (or the refusal).
    pub async fn finish(self) -> Option<ServerFrame> {
        let Committing { dispatcher, pending, ticket, place, started } = self;
        let result = ticket.await.map(StorageOutcome::Appended);
        dispatcher.record(pending.op(), &result, started);
        if let (Some(push), Ok(StorageOutcome::Appended(appended))) = (&dispatcher.push, &result)
            && appended.created
        {
            push.post_stored(&appended.message).await;
        }
        let output = pending.respond(result);
        if !output.publish.is_empty() {
            dispatcher.metrics.message_stored();
        }
        place.in_turn(dispatcher.finish(output)).await
    }
}

/// Server faults at ERROR, an unreachable database at WARN, the client's own mistakes at DEBUG.
fn log_failure(err: &crate::Error, what: &str) {
    match err.code() {
        hellocode_core::protocol::ErrorCode::Internal => tracing::error!(error = %err, "{what}"),
        hellocode_core::protocol::ErrorCode::Unavailable => tracing::warn!(error = %err, "{what}"),
        _ => tracing::debug!(error = %err, "{what}"),
    }
}

/// Whether an operation changes stored data (its failures say the database cannot write).
fn is_write(op: &StorageOp) -> bool {
    !matches!(
        op.name(),
        "fetch_messages"
            | "resume"
            | "list_chats"
            | "get_chat"
            | "get_read_positions"
            | "find_users"
            | "typing"
            | "get_user"
            | "list_languages"
            | "list_contacts"
            | "list_bot_tokens"
            | "list_invitations"
            | "list_invite_links"
            | "get_push_settings"
    )
}
