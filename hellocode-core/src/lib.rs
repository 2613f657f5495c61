//! # hellocode-core
//!
//! The part of HelloCode that knows no sockets: the wire protocol v1 ([`protocol`]), the domain
//! model ([`model`]), the per-connection session state machine ([`session`]) and the storage trait
//! with its backends ([`storage`]: in-memory always; SQLite and Postgres behind the `sqlite` and
//! `postgres` features, so that clients of the protocol pull in no database code).
//!
//! A transport decodes a frame, hands it to a [`session::Session`], runs the storage operation it
//! asks for, and sends the reply and events it returns:
//!
//! ```
//! use hellocode_core::model::{NewChat, NewUser, Timestamp};
//! use hellocode_core::protocol::{decode, Limits, ServerFrame};
//! use hellocode_core::session::{execute, Decision, Identity, Scope, Session};
//! use hellocode_core::storage::{MemoryStorage, Storage};
//! # tokio_test_block_on(async {
//! let storage = MemoryStorage::new();
//! for name in ["alice", "bob"] {
//!     storage.create_user(NewUser::new(name, format!("{name}@example.org"), "<argon2 hash>")).await?;
//! }
//! let chat = storage.create_chat(NewChat::direct("alice", "bob", Timestamp::now())).await?.chat;
//!
//! let limits = Limits::default();
//! let mut session = Session::new(Scope::AllChats, limits);
//! session.authenticate(Identity::new("alice"));
//!
//! let text = format!(r#"{{"command":"new_message","id":1,"chatId":"{}","message":"hi"}}"#, chat.id);
//! let Decision::Store(pending) = session.handle(decode(&text, &limits)?, Timestamp::now()) else {
//!     unreachable!("an authenticated participant's send goes to storage")
//! };
//! let result = execute(&storage, pending.op()).await;
//! let output = session.complete(pending, result);
//! assert!(matches!(output.reply, Some(ServerFrame::Ack { .. })));
//! assert!(matches!(output.publish[0].frame, ServerFrame::NewMessage { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

mod error;
pub mod local;
pub mod model;
pub mod protocol;
pub mod session;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;

pub use error::{Error, Result};
