//! # hellocode-sdk
//!
//! The async Rust client of HelloCode, and the base of its Python and Kotlin/Swift bindings.
//!
//! A [`Client`] connects over a [`Transport`] — WebSocket ([`WebSocketTransport`], `ws://` and
//! `wss://`) or in-process ([`InProcessTransport`], a server in the same process) — and offers
//! every protocol command as a typed async method. The connection is the client's problem, not
//! the application's:
//!
//! - **Reconnect and resume.** A lost connection is re-established with exponential backoff and
//!   jitter, re-authenticated (with the token the server issued; with the password again if it
//!   expired), and every chat is resumed from the last sequence number delivered: the
//!   application sees every message exactly once and in order per chat, across any number of
//!   disconnects.
//! - **Send queue.** [`Client::send`] and [`Client::enqueue`] put messages in a bounded queue
//!   that survives disconnects. Each carries a client id, so resending one whose
//!   acknowledgement was lost never posts it twice; [`Event::Send`] reports each message's
//!   state (pending, sent, failed) for local echo.
//! - **Events** as a [`Stream`](futures_util::Stream) ([`Client::events`]) or through a
//!   listener callback ([`Client::add_listener`]).
//! - **Files**: [`Client::upload_attachment`] and [`Client::send_with_attachments`] share a
//!   file in a chat, [`Client::download`] fetches one, [`Client::upload_avatar`] sets the
//!   user's picture — over the server's HTTP routes, with progress ([`Progress`]).
//! - **Bots**: [`bot::Bot`] routes `!command` and `/command` messages to handlers.
//!
//! Errors are one enum, [`Error`], with a stable [`Error::code`]. Everything returned is owned
//! and every future is `Send + 'static`, which is what the bindings need.
//!
//! ```
//! use hellocode_sdk::{Client, Credentials, Event, InProcessTransport};
//! # use std::sync::Arc;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let storage = Arc::new(hellocode_core::storage::MemoryStorage::new());
//! # let settings = hellocode_server::Settings::default();
//! # let server = hellocode_server::Server::start_with(
//! #     storage, &[7; 32], settings, "127.0.0.1:0".parse()?).await?;
//! // A server in this process (`server` is a running `hellocode_server::Server`); over the
//! // network, use `WebSocketTransport::new("ws://host:port")?` instead.
//! let transport = InProcessTransport::new(server.local_endpoint());
//!
//! let alice = Client::connect(
//!     transport.clone(),
//!     Credentials::register("alice", "alice@example.org", "correct horse battery"),
//! )
//! .await?;
//! let bob = Client::connect(
//!     transport,
//!     Credentials::register("bob", "bob@example.org", "tr0ub4dor&3 staple"),
//! )
//! .await?;
//! let mut bob_events = bob.events();
//!
//! let chat = alice.create_chat(vec!["bob".into()]).await?;
//! let sent = alice.send(chat.id, "hello, bob").await?;
//!
//! while let Some(event) = bob_events.recv().await {
//!     if let Event::Message(message) = event {
//!         assert_eq!((message.seq, message.content.as_str()), (sent.seq, "hello, bob"));
//!         break;
//!     }
//! }
//! # alice.close().await;
//! # bob.close().await;
//! # server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! To add a transport, implement [`Transport`]; see the [`transport`] module. For a deployment
//! of several server nodes, [`Failover`] connects to the first node that answers, and when its
//! node dies the client reconnects to another and resumes where it left off.
//!
//! # Guarantees and limits
//!
//! - The items of every chat — its messages ([`Event::Message`]) and its events
//!   ([`Event::ChatEvent`]: edits, deletions, members joining, leaving or removed, role changes,
//!   renames and topics) — arrive exactly once and in sequence order, from the chat's newest
//!   item at connect time (or from `ClientConfig::start_positions`), and from the start of any
//!   chat the user joins later, across any number of reconnects. The client speaks protocol
//!   version 2, in which every change is a sequenced item of its chat, so a resume after a
//!   reconnect returns exactly what was missed, edits and membership changes included.
//! - Each queued message is stored by the server at most once and is reported `Sent` once
//!   stored; a client's messages to one chat are stored in the order they were queued.
//! - Presence: after each (re)connection, [`Event::Online`] names who of those sharing a chat
//!   with the user is online (everyone else is offline), then [`Event::Presence`] tells each
//!   change. Read positions as stored: [`Client::read_positions`].
//! - Not replayed after a disconnect: typing, read receipts and presence (ephemeral), and the
//!   live conveniences [`Event::Edited`], [`Event::Deleted`], [`Event::ChatChanged`] and
//!   [`Event::ChatDeleted`] (what they report is in the resumed `ChatEvent`s, except a deletion
//!   of the whole chat), and [`Event::Invitation`] (pending invitations are listed by
//!   [`Client::invitations`]).
//! - A chat the user left, was removed from, or that was deleted is forgotten: it is not
//!   resumed after a reconnect, and no position is kept for it.
//! - Every command that changes something is resent after a lost connection and applied once.
//!   Messages, edits, deletions, chat creation and every group change carry an idempotency key
//!   (`clientId`): the server answers a repeat as the first time. The others need none, a
//!   repeat changing nothing: the profile, languages, contacts, revoking a bot token, and the
//!   invitations and invite links (`invite` answers with the pending invitation, an answer to
//!   an invitation given again is answered as the first time, a member's repeated
//!   `join_by_link` with the chat; a repeated `cancel_invitation` is refused with `not_found`,
//!   the invitation being withdrawn already). Three are not resent, and fail with
//!   `connection_lost` when their reply was lost: `create_bot_token` and `create_invite_link`
//!   (a second would be another token, another link) and `delete_chat` (a repeat finds no
//!   chat, which cannot be told from one that never was).
//! - Event queues are unbounded so the client never stops reading the server; read them.
//! - Every write to the connection is bounded by `ClientConfig::write_timeout`: a stuck write
//!   is a lost connection, and `close` ends even on a stuck socket.
//! - A send the server refuses for good (`invalid_field`, `forbidden`, `frame_too_large`, ...)
//!   fails at once and its chat's queue goes on; `rate_limited` is waited out (at least the
//!   error's `retryAfter`), and a failure of the server (`internal`, or a code newer than this
//!   SDK) is retried at most 5 times.
//! - A connection closed with code 4001 (`unauthorized: ...`) is never resumed with the same
//!   token: the client logs in again with its password, or stops with `invalid_token`.
//! - The chat list, `list_chats`, `languages`, `find_users`, `invitations` and `invite_links`
//!   follow the server's pages (500 a page).

pub mod bot;
mod client;
mod config;
mod driver;
mod error;
mod event;
mod http;
pub mod transport;

pub use client::{
    Client, Download, EventListener, Events, History, IssuedBotToken, IssuedInviteLink,
    ListenerHandle, MAX_MESSAGE_CHARS, ProfileUpdate, PusherSpec,
};
pub use config::{Backoff, ClientConfig, Credentials};
pub use error::{Error, Result};
pub use event::{ConnectionState, Event, PendingSend, SendState, SendUpdate};
pub use hellocode_core::model::{
    Attachment, BotToken, Chat, ChatId, ChatKind, EventKind, Invitation, InvitationState,
    InviteLink, Language, Message, Participant, PushSettings, Pusher, ReadPosition, Role, Seq,
    Timestamp, User,
};
pub use hellocode_core::protocol::ErrorCode;
pub use http::Progress;
pub use transport::{Failover, InProcessTransport, Transport, WebSocketTransport};
