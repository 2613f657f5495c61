//! The `Client` object: every public operation of the Rust `hellocode_sdk::Client`, by the same
//! name (`close` is `shutdown` here: Kotlin objects already have a `close()`, which releases
//! the handle). The parity check in `bindings/conformance/tests/parity.rs` reads this file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use hellocode_sdk::{self as sdk, ChatId, Seq, WebSocketTransport};

use crate::HelloCodeError;
use crate::media::{self, Attachment, Download, TransferProgress};
use crate::push::{PushSettings, PusherSpec};
use crate::runtime::{call, spawn};
use crate::types::{
    BotToken, Chat, ClientConfig, ConnectionState, Credentials, Event, Invitation, InviteLink,
    IssuedBotToken, IssuedInviteLink, Language, Message, PendingSend, ProfileUpdate, ReadPosition,
    Role, User,
};

/// Connect to a server (`ws://host:port` or `wss://host`) and authenticate. Fails if the first
/// connection cannot be made or the credentials are refused; after that the client reconnects
/// by itself and resumes every chat where it stopped.
#[uniffi::export]
pub async fn connect(
    url: String,
    credentials: Credentials,
    config: ClientConfig,
) -> Result<Arc<Client>, HelloCodeError> {
    connect_through(WebSocketTransport::new(&url)?, credentials, config).await
}

/// Connect to one of several nodes of a deployment (`urls`, tried in order) and authenticate.
/// When the node dies the client reconnects to another and resumes every chat where it
/// stopped. Fails like `connect`, or with `InvalidInput` for an empty list.
#[uniffi::export]
pub async fn connect_any(
    urls: Vec<String>,
    credentials: Credentials,
    config: ClientConfig,
) -> Result<Arc<Client>, HelloCodeError> {
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    connect_through(sdk::Failover::websocket(&urls)?, credentials, config).await
}

async fn connect_through(
    transport: impl sdk::Transport,
    credentials: Credentials,
    config: ClientConfig,
) -> Result<Arc<Client>, HelloCodeError> {
    let connecting =
        sdk::Client::connect_with(transport, credentials.into(), sdk::ClientConfig::from(config));
    let inner = call(connecting).await?;
    Ok(Arc::new(Client { inner }))
}

/// A connection to a HelloCode server that survives disconnects. Every async method may be
/// called from any thread or coroutine; the work runs on the library's own threads. Call
/// `shutdown()` on logout; releasing the object (`close()` in Kotlin, the last reference in
/// Swift) closes the connection without waiting for queued messages.
///
/// Every operation that changes something is resent after a lost connection and applied once
/// (with an idempotency key, or because a repeat changes nothing), except `create_bot_token`,
/// `create_invite_link` and `delete_chat`, which fail with `connection_lost` when their reply
/// was lost.
#[derive(Debug, uniffi::Object)]
pub struct Client {
    pub(crate) inner: sdk::Client,
}

#[uniffi::export]
impl Client {
    /// The authenticated user.
    pub fn username(&self) -> String {
        self.inner.username().to_owned()
    }

    /// The newest token: save it to connect later with `Credentials.Token`.
    pub fn token(&self) -> Option<String> {
        self.inner.token()
    }

    /// The connection's current state.
    pub fn state(&self) -> ConnectionState {
        self.inner.state().into()
    }

    /// Every event from now on (and, for the first subscriber, every event since connecting),
    /// pulled with `next()`. Kotlin: `client.eventFlow()` wraps a listener as a `Flow`.
    pub fn events(&self) -> Arc<EventStream> {
        let events = self.inner.events();
        Arc::new(EventStream { events: Arc::new(tokio::sync::Mutex::new(events)) })
    }

    /// Call `listener.on_event` with every event, in order, on one of the library's threads
    /// (not the main thread). Keep it quick. The listener runs until `remove()` is called on the
    /// returned handle or the client closes.
    pub fn add_listener(&self, listener: Arc<dyn EventListener>) -> Arc<ListenerHandle> {
        let handle = self.inner.add_listener(move |event: sdk::Event| {
            if let Some(event) = Event::from_sdk(event) {
                listener.on_event(event);
            }
        });
        Arc::new(ListenerHandle { handle: Mutex::new(Some(handle)) })
    }

    /// Send a message and wait until the server has stored it. It goes through the send
    /// queue: if the connection is down it waits for the next one, and is never posted twice.
    pub async fn send(&self, chat_id: i64, text: String) -> Result<Message, HelloCodeError> {
        call(self.inner.send(ChatId(chat_id), text)).await.map(Message::from)
    }

    /// `send` under an idempotency key of the app's (1 to 128 bytes): however often it is
    /// called with the same key, the chat stores the message once.
    pub async fn send_with_client_id(
        &self,
        chat_id: i64,
        text: String,
        client_id: String,
    ) -> Result<Message, HelloCodeError> {
        let sending = self.inner.send_with_client_id(ChatId(chat_id), text, client_id);
        call(sending).await.map(Message::from)
    }

    /// Queue a message and return at once (local echo): its progress arrives as
    /// `Event.SendUpdated` with the returned `client_id`.
    pub fn enqueue(&self, chat_id: i64, text: String) -> Result<PendingSend, HelloCodeError> {
        Ok(self.inner.enqueue(ChatId(chat_id), text)?.into())
    }

    /// Queue a message under an idempotency key of the app's (for example one saved with an
    /// unsent draft across app restarts).
    pub fn enqueue_with_client_id(
        &self,
        chat_id: i64,
        text: String,
        client_id: String,
    ) -> Result<PendingSend, HelloCodeError> {
        Ok(self.inner.enqueue_with_client_id(ChatId(chat_id), text, client_id)?.into())
    }

    /// Messages queued and not yet acknowledged, oldest first.
    pub async fn pending_sends(&self) -> Result<Vec<PendingSend>, HelloCodeError> {
        let pending = call(self.inner.pending_sends()).await?;
        Ok(pending.into_iter().map(PendingSend::from).collect())
    }

    /// A page of history, newest first: `limit` messages (default 10, at most 100) below
    /// `before` (from the newest when `None`).
    pub async fn fetch_messages(
        &self,
        chat_id: i64,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<Message>, HelloCodeError> {
        let page = call(self.inner.fetch_messages(ChatId(chat_id), before.map(Seq), limit)).await?;
        Ok(page.into_iter().map(Message::from).collect())
    }

    /// A chat's whole history, newest first, fetched a page at a time as it is read.
    pub fn history(&self, chat_id: i64) -> Arc<History> {
        History::new(self.inner.history(ChatId(chat_id)))
    }

    /// The history below `seq`, newest first.
    pub fn history_before(&self, chat_id: i64, seq: i64) -> Arc<History> {
        History::new(self.inner.history_before(ChatId(chat_id), Seq(seq)))
    }

    /// Create a chat with these users (the caller is always in it).
    pub async fn create_chat(&self, participants: Vec<String>) -> Result<Chat, HelloCodeError> {
        call(self.inner.create_chat(participants)).await.map(Chat::from)
    }

    /// The chat with exactly these users (and the caller): the oldest such chat, or a new one.
    /// For one other person, their direct chat (never a group of the two).
    pub async fn chat_with(&self, usernames: Vec<String>) -> Result<Chat, HelloCodeError> {
        call(self.inner.chat_with(usernames)).await.map(Chat::from)
    }

    /// The caller's chats.
    pub async fn list_chats(&self) -> Result<Vec<Chat>, HelloCodeError> {
        Ok(call(self.inner.list_chats()).await?.into_iter().map(Chat::from).collect())
    }

    /// Add users to a group (an owner or admin); returns the chat. `invalid_field` for a
    /// direct chat: its two members never change.
    pub async fn add_participants(
        &self,
        chat_id: i64,
        usernames: Vec<String>,
    ) -> Result<Chat, HelloCodeError> {
        call(self.inner.add_participants(ChatId(chat_id), usernames)).await.map(Chat::from)
    }

    /// Create a group named `name` with these users; the caller owns it.
    pub async fn create_group(
        &self,
        name: String,
        participants: Vec<String>,
    ) -> Result<Chat, HelloCodeError> {
        call(self.inner.create_group(name, participants)).await.map(Chat::from)
    }

    /// One of the caller's chats as it now is (`forbidden` if not in it, `not_found`).
    pub async fn get_chat(&self, chat_id: i64) -> Result<Chat, HelloCodeError> {
        call(self.inner.get_chat(ChatId(chat_id))).await.map(Chat::from)
    }

    /// Remove a member from a group (an owner removes anyone, an admin plain members); returns
    /// the chat. The removed user's client forgets the chat.
    pub async fn remove_participant(
        &self,
        chat_id: i64,
        username: String,
    ) -> Result<Chat, HelloCodeError> {
        call(self.inner.remove_participant(ChatId(chat_id), username)).await.map(Chat::from)
    }

    /// Leave a chat (an owner's group passes to the oldest admin, else the oldest member); the
    /// client forgets it.
    pub async fn leave_chat(&self, chat_id: i64) -> Result<(), HelloCodeError> {
        call(self.inner.leave_chat(ChatId(chat_id))).await
    }

    /// Give a member of a group a role (the owner only; `Role.OWNER` hands ownership over).
    pub async fn set_role(
        &self,
        chat_id: i64,
        username: String,
        role: Role,
    ) -> Result<Chat, HelloCodeError> {
        call(self.inner.set_role(ChatId(chat_id), username, role.into())).await.map(Chat::from)
    }

    /// Rename a group and/or set its topic (an owner or admin): `None` leaves a field as it
    /// is, an empty string clears it.
    pub async fn update_chat(
        &self,
        chat_id: i64,
        name: Option<String>,
        topic: Option<String>,
    ) -> Result<Chat, HelloCodeError> {
        call(self.inner.update_chat(ChatId(chat_id), name, topic)).await.map(Chat::from)
    }

    /// Delete a chat and its history (either member of a direct chat, a group's owner). Not
    /// resent after a lost connection (`connection_lost`): a repeat would find no chat.
    pub async fn delete_chat(&self, chat_id: i64) -> Result<(), HelloCodeError> {
        call(self.inner.delete_chat(ChatId(chat_id))).await
    }

    /// Invite a user to a group (an owner or admin); returns the pending invitation (a pending
    /// one of the same user is returned as it is). The invitee gets `Event.Invitation`.
    /// Errors: `NotAllowed` (a plain member, an outsider), `NotFound`, `InvalidInput` (a
    /// direct chat, a member).
    pub async fn invite(
        &self,
        chat_id: i64,
        username: String,
    ) -> Result<Invitation, HelloCodeError> {
        call(self.inner.invite(ChatId(chat_id), username)).await.map(Invitation::from)
    }

    /// The caller's pending invitations, by id (every page).
    pub async fn invitations(&self) -> Result<Vec<Invitation>, HelloCodeError> {
        Ok(call(self.inner.invitations()).await?.into_iter().map(Invitation::from).collect())
    }

    /// Accept an invitation: join its group as a member; returns the chat (`ChatCreated`
    /// follows, and every member gets the join). Errors: `NotFound` (not the caller's,
    /// answered otherwise, cancelled, or of a deleted chat), `InvalidInput` (the chat is full).
    pub async fn accept_invitation(&self, invitation_id: i64) -> Result<Chat, HelloCodeError> {
        call(self.inner.accept_invitation(invitation_id)).await.map(Chat::from)
    }

    /// Decline an invitation; nobody is told. Errors: `NotFound`.
    pub async fn decline_invitation(&self, invitation_id: i64) -> Result<(), HelloCodeError> {
        call(self.inner.decline_invitation(invitation_id)).await
    }

    /// Withdraw a pending invitation (its inviter, an owner or an admin); the invitee gets
    /// `Event.Invitation` with state `Cancelled`. Errors: `NotAllowed` (a plain member),
    /// `NotFound` (also for a repeat of a cancellation that was applied).
    pub async fn cancel_invitation(&self, invitation_id: i64) -> Result<(), HelloCodeError> {
        call(self.inner.cancel_invitation(invitation_id)).await
    }

    /// Create an invite link to a group (an owner or admin): it joins whoever presents its
    /// token for `expires_in_ms` (default 7 days, at most 30; rounded up to whole seconds),
    /// at most `max_uses` times (default: no limit). The token is in the result only. Not
    /// resent after a lost connection (`connection_lost`): a second would be another link.
    pub async fn create_invite_link(
        &self,
        chat_id: i64,
        expires_in_ms: Option<u64>,
        max_uses: Option<u32>,
    ) -> Result<IssuedInviteLink, HelloCodeError> {
        let expires_in = expires_in_ms.map(Duration::from_millis);
        let creating = self.inner.create_invite_link(ChatId(chat_id), expires_in, max_uses);
        call(creating).await.map(IssuedInviteLink::from)
    }

    /// A group's invite links, by id (every page; revoked, expired and used-up ones included;
    /// never their tokens). For its owners and admins.
    pub async fn invite_links(&self, chat_id: i64) -> Result<Vec<InviteLink>, HelloCodeError> {
        let links = call(self.inner.invite_links(ChatId(chat_id))).await?;
        Ok(links.into_iter().map(InviteLink::from).collect())
    }

    /// Revoke an invite link of a group: it joins no one from then on.
    pub async fn revoke_invite_link(
        &self,
        chat_id: i64,
        link_id: i64,
    ) -> Result<(), HelloCodeError> {
        call(self.inner.revoke_invite_link(ChatId(chat_id), link_id)).await
    }

    /// Join the group of an invite link as a member; returns the chat. A member already in it
    /// gets the chat (no use counted). Errors: `NotFound` for an unknown, revoked, expired or
    /// used-up token alike (it says nothing of the chat).
    pub async fn join_by_link(&self, token: String) -> Result<Chat, HelloCodeError> {
        call(self.inner.join_by_link(token)).await.map(Chat::from)
    }

    /// The users who want to talk about `language`.
    pub async fn find_users(&self, language: String) -> Result<Vec<User>, HelloCodeError> {
        Ok(call(self.inner.find_users(language)).await?.into_iter().map(User::from).collect())
    }

    /// Tell the chat's other participants that this user is typing.
    pub async fn typing(&self, chat_id: i64) -> Result<(), HelloCodeError> {
        call(self.inner.typing(ChatId(chat_id))).await
    }

    /// Read receipt: this user has read the chat up to `seq`.
    pub async fn mark_read(&self, chat_id: i64, seq: i64) -> Result<(), HelloCodeError> {
        call(self.inner.mark_read(ChatId(chat_id), Seq(seq))).await
    }

    /// How far each member of a chat has read (this user included), by username.
    pub async fn read_positions(&self, chat_id: i64) -> Result<Vec<ReadPosition>, HelloCodeError> {
        let positions = call(self.inner.read_positions(ChatId(chat_id))).await?;
        Ok(positions.into_iter().map(ReadPosition::from).collect())
    }

    /// Replace the text of one of this user's messages.
    pub async fn edit_message(
        &self,
        chat_id: i64,
        seq: i64,
        text: String,
    ) -> Result<Message, HelloCodeError> {
        call(self.inner.edit_message(ChatId(chat_id), Seq(seq), text)).await.map(Message::from)
    }

    /// Delete one of this user's messages.
    pub async fn delete_message(&self, chat_id: i64, seq: i64) -> Result<(), HelloCodeError> {
        call(self.inner.delete_message(ChatId(chat_id), Seq(seq))).await
    }

    /// A round trip to the server; its duration in milliseconds.
    pub async fn ping(&self) -> Result<f64, HelloCodeError> {
        Ok(call(self.inner.ping()).await?.as_secs_f64() * 1000.0)
    }

    /// The last sequence number of every chat handed to the event subscribers, by chat id.
    /// Save it (once the app has handled its events) and pass it back as
    /// `ClientConfig.start_positions` to continue exactly there.
    pub async fn positions(&self) -> Result<HashMap<i64, i64>, HelloCodeError> {
        let positions = call(self.inner.positions()).await?;
        Ok(positions.into_iter().map(|(chat, seq)| (chat.0, seq.0)).collect())
    }

    /// A user's profile.
    pub async fn get_user(&self, username: String) -> Result<User, HelloCodeError> {
        call(self.inner.get_user(username)).await.map(User::from)
    }

    /// Change the caller's profile; returns it as it is now.
    pub async fn update_profile(&self, update: ProfileUpdate) -> Result<User, HelloCodeError> {
        call(self.inner.update_profile(update.into())).await.map(User::from)
    }

    /// Every language the server knows.
    pub async fn languages(&self) -> Result<Vec<Language>, HelloCodeError> {
        Ok(call(self.inner.languages()).await?.into_iter().map(Language::from).collect())
    }

    /// Add a language (or get the existing one of that name).
    pub async fn add_language(&self, name: String) -> Result<Language, HelloCodeError> {
        call(self.inner.add_language(name)).await.map(Language::from)
    }

    /// The caller's contacts, by username.
    pub async fn contacts(&self) -> Result<Vec<String>, HelloCodeError> {
        call(self.inner.contacts()).await
    }

    /// Add a contact; returns the contacts.
    pub async fn add_contact(&self, username: String) -> Result<Vec<String>, HelloCodeError> {
        call(self.inner.add_contact(username)).await
    }

    /// Remove a contact; returns the contacts.
    pub async fn remove_contact(&self, username: String) -> Result<Vec<String>, HelloCodeError> {
        call(self.inner.remove_contact(username)).await
    }

    /// A new token for a bot acting as this user; its secret is shown only here. Not resent
    /// after a lost connection (`connection_lost`): a second would be another token.
    pub async fn create_bot_token(&self, name: String) -> Result<IssuedBotToken, HelloCodeError> {
        call(self.inner.create_bot_token(name)).await.map(IssuedBotToken::from)
    }

    /// The caller's bot tokens (without secrets).
    pub async fn bot_tokens(&self) -> Result<Vec<BotToken>, HelloCodeError> {
        Ok(call(self.inner.bot_tokens()).await?.into_iter().map(BotToken::from).collect())
    }

    /// Revoke a bot token: connections it opened are closed.
    pub async fn revoke_bot_token(&self, id: i64) -> Result<(), HelloCodeError> {
        call(self.inner.revoke_bot_token(id)).await
    }

    /// Register this device's pusher (its FCM or APNs token at a push gateway), or change the
    /// one with the same app id and push key; returns the push settings. `invalid_field` for a
    /// URL that is not `http(s)://…/_matrix/push/v1/notify`, holds a user name or points at the
    /// server itself; for overlong fields; beyond 20 pushers.
    pub async fn set_pusher(&self, spec: PusherSpec) -> Result<PushSettings, HelloCodeError> {
        call(self.inner.set_pusher(spec.into())).await.map(PushSettings::from)
    }

    /// Remove one of the caller's pushers (removing one that is not there changes nothing).
    pub async fn remove_pusher(
        &self,
        app_id: String,
        pushkey: String,
    ) -> Result<PushSettings, HelloCodeError> {
        call(self.inner.remove_pusher(app_id, pushkey)).await.map(PushSettings::from)
    }

    /// The caller's pushers and muted chats.
    pub async fn push_settings(&self) -> Result<PushSettings, HelloCodeError> {
        call(self.inner.push_settings()).await.map(PushSettings::from)
    }

    /// Mute (or unmute) a chat's notifications on every device of the caller; `forbidden` for
    /// a chat the caller is not in, `not_found` for none.
    pub async fn mute_chat(
        &self,
        chat_id: i64,
        muted: bool,
    ) -> Result<PushSettings, HelloCodeError> {
        call(self.inner.mute_chat(ChatId(chat_id), muted)).await.map(PushSettings::from)
    }

    /// Send a message carrying files uploaded with `upload_attachment` (their ids, at most
    /// 10; the text may then be empty), through the send queue as `send`; the stored message's
    /// `attachments` describe them.
    pub async fn send_with_attachments(
        &self,
        chat_id: i64,
        text: String,
        attachments: Vec<String>,
    ) -> Result<Message, HelloCodeError> {
        let sending = self.inner.send_with_attachments(ChatId(chat_id), text, attachments);
        call(sending).await.map(Message::from)
    }

    /// Upload a file to a chat (the caller must be a member) over the server's HTTP routes;
    /// `progress` is told as the bytes are sent. The result's `id` goes to
    /// `send_with_attachments`. `NotAllowed` for a non-member, `InvalidInput` (`too_large`,
    /// `invalid_field`) for a refused file.
    pub async fn upload_attachment(
        &self,
        chat_id: i64,
        name: String,
        data: Vec<u8>,
        progress: Option<Arc<dyn TransferProgress>>,
    ) -> Result<Attachment, HelloCodeError> {
        let upload =
            self.inner.upload_attachment(ChatId(chat_id), name, data, media::progress(progress));
        call(upload).await.map(Attachment::from)
    }

    /// Upload the user's picture (JPEG, PNG, GIF or WebP); the profile's `avatar` becomes its
    /// address, `/api/media/<id>`.
    pub async fn upload_avatar(
        &self,
        name: String,
        data: Vec<u8>,
        progress: Option<Arc<dyn TransferProgress>>,
    ) -> Result<Attachment, HelloCodeError> {
        let upload = self.inner.upload_avatar(name, data, media::progress(progress));
        call(upload).await.map(Attachment::from)
    }

    /// Download a file by its id or its address on this server (`/api/media/<id>`, as a
    /// profile's `avatar`); anything else is `InvalidInput` before any request. `NotFound` for
    /// what does not exist or may not be read.
    pub async fn download(
        &self,
        media: String,
        progress: Option<Arc<dyn TransferProgress>>,
    ) -> Result<Download, HelloCodeError> {
        call(self.inner.download(media, media::progress(progress))).await.map(Download::from)
    }

    /// Download an image's thumbnail (fits 320 x 320), by the image's id or address.
    pub async fn download_thumbnail(
        &self,
        media: String,
        progress: Option<Arc<dyn TransferProgress>>,
    ) -> Result<Download, HelloCodeError> {
        let download = self.inner.download_thumbnail(media, media::progress(progress));
        call(download).await.map(Download::from)
    }

    /// The SDK's `close`: wait (up to `close_timeout_ms`) for queued messages, then close.
    /// Messages still queued fail with `closed`; event streams end after a final
    /// `ConnectionChanged(Closed)`. Call it on logout.
    pub async fn shutdown(&self) -> Result<(), HelloCodeError> {
        spawn(self.inner.close()).await
    }
}

/// Receives every event of a client (see `Client.add_listener`). Called on one of the
/// library's threads, never the main thread; must not throw.
#[uniffi::export(foreign)]
pub trait EventListener: Send + Sync {
    /// Called once per event, in order.
    fn on_event(&self, event: Event);
}

/// A listener added with `Client.add_listener`.
#[derive(Debug, uniffi::Object)]
pub struct ListenerHandle {
    handle: Mutex<Option<sdk::ListenerHandle>>,
}

#[uniffi::export]
impl ListenerHandle {
    /// Stop calling the listener (no event is delivered to it after this returns... except
    /// one already being delivered). Calling it again does nothing.
    pub fn remove(&self) {
        let handle = self.handle.lock().ok().and_then(|mut handle| handle.take());
        if let Some(handle) = handle {
            handle.remove();
        }
    }
}

/// A client's events, pulled one at a time.
#[derive(Debug, uniffi::Object)]
pub struct EventStream {
    events: Arc<tokio::sync::Mutex<sdk::Events>>,
}

#[uniffi::export]
impl EventStream {
    /// The next event; `None` once the client is closed.
    pub async fn next(&self) -> Result<Option<Event>, HelloCodeError> {
        let events = self.events.clone();
        let next = spawn(async move {
            let mut events = events.lock().await;
            loop {
                match events.recv().await {
                    Some(event) => match Event::from_sdk(event) {
                        Some(event) => return Some(event),
                        None => continue,
                    },
                    None => return None,
                }
            }
        })
        .await?;
        Ok(next)
    }
}

/// A chat's history, newest first, fetched page by page as it is read.
#[derive(Debug, uniffi::Object)]
pub struct History {
    pages: Arc<tokio::sync::Mutex<sdk::History>>,
}

impl History {
    fn new(history: sdk::History) -> Arc<Self> {
        Arc::new(History { pages: Arc::new(tokio::sync::Mutex::new(history)) })
    }
}

#[uniffi::export]
impl History {
    /// The next older message; `None` after the chat's first message.
    pub async fn next(&self) -> Result<Option<Message>, HelloCodeError> {
        let pages = self.pages.clone();
        let next = spawn(async move { pages.lock().await.next().await }).await?;
        next.transpose().map(|m| m.map(Message::from)).map_err(HelloCodeError::from)
    }
}
