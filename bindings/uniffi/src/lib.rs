//! # hellocode-ffi
//!
//! The uniffi bindings of [`hellocode_sdk`] for Kotlin (Android, JVM) and Swift (iOS, macOS):
//! a thin layer in the manner of matrix-sdk-ffi. Exported objects hold the SDK's values
//! ([`Client`], [`Bot`]), records are converted from the SDK's types with `From`, and every
//! failure is one [`HelloCodeError`] carrying the SDK's stable `code`.
//!
//! - [`connect`] (or [`connect_any`], for several nodes) returns a [`Client`] with every public
//!   operation of the Rust client as an async method (Kotlin `suspend fun`, Swift
//!   `async throws`).
//! - Events come through a foreign [`EventListener`] (Kotlin: a `Flow` adapter in
//!   `kotlin/`), or are pulled from an [`EventStream`].
//! - Files go up and down with `upload_attachment`, `upload_avatar`, `download` and
//!   `download_thumbnail` (progress through a foreign [`TransferProgress`]); a message carries
//!   them by id (`send_with_attachments`) and describes each as an [`Attachment`].
//! - A device registers its FCM or APNs token for push notifications with `set_pusher` (a
//!   [`PusherSpec`]); every push operation answers with the [`PushSettings`].
//! - [`Bot`] runs the SDK's bot framework with foreign [`CommandHandler`]s, and a
//!   [`JoinHandler`] and an [`InviteHandler`] for members joining and invitations.
//!
//! Everything runs on the library's own tokio runtime; no tokio or rustls type crosses the FFI.
//! See `bindings/uniffi/README.md` for building Android and iOS apps with it.

#![warn(missing_docs)]

mod bot;
mod bot_events;
mod client;
mod diagnostics;
mod error;
mod media;
mod push;
mod runtime;
mod types;

pub use bot::{ArgKind, ArgSpec, Bot, BotCommand, BotContext, BotOptions, CommandHandler};
pub use bot_events::{InviteContext, InviteHandler, JoinHandler};
pub use client::{
    Client, EventListener, EventStream, History, ListenerHandle, connect, connect_any,
};
pub use diagnostics::measure_pings;
pub use error::{ErrorInfo, HelloCodeError};
pub use media::{Attachment, Download, TransferProgress};
pub use push::{PushSettings, Pusher, PusherSpec};
pub use types::{
    BotToken, Chat, ChatKind, ClientConfig, ConnectionState, Credentials, Event, EventKind,
    Invitation, InvitationState, InviteLink, IssuedBotToken, IssuedInviteLink, Language, Message,
    Participant, PendingSend, ProfileUpdate, Role, SendState, User,
};

uniffi::setup_scaffolding!("hellocode");
