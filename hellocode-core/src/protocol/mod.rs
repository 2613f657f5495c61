//! Wire protocol v1: the JSON frames exchanged over every transport.
//!
//! A client sends [`ClientFrame`]s (a [`Command`] plus an optional request id); the server answers
//! with [`ServerFrame`]s: a direct reply carrying the same id, pushed events, or an error frame with
//! an [`ErrorCode`]. [`decode`] turns untrusted text into a frame or a typed [`DecodeError`], never
//! panicking. `docs/PROTOCOL.md` documents every frame, with examples that a test decodes.
//!
//! ```
//! use hellocode_core::protocol::{self, Command, Limits};
//!
//! let frame = protocol::decode(r#"{"command":"fetch_messages","chatId":"7"}"#, &Limits::default())?;
//! assert!(matches!(frame.command, Command::FetchMessages { .. }));
//! # Ok::<(), hellocode_core::protocol::DecodeError>(())
//! ```

mod check;
mod client;
mod decode;
mod error_code;
mod server;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use client::{ClientFrame, Command};
pub use decode::{DecodeError, decode};
pub use error_code::ErrorCode;
pub use server::ServerFrame;

/// The `id` a client may attach to a command; its reply carries the same value back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// A numeric id.
    Number(i64),
    /// A textual id.
    Text(String),
}

impl From<i64> for RequestId {
    fn from(n: i64) -> Self {
        RequestId::Number(n)
    }
}

impl From<&str> for RequestId {
    fn from(s: &str) -> Self {
        RequestId::Text(s.to_owned())
    }
}

impl From<String> for RequestId {
    fn from(s: String) -> Self {
        RequestId::Text(s)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => n.fmt(f),
            RequestId::Text(s) => s.fmt(f),
        }
    }
}

/// The newest protocol version this crate speaks.
///
/// - 1: the original protocol. `resume` returns posts only.
/// - 2: a chat's items include events (edits, deletions, membership changes, renames) with their
///   own sequence numbers, and `resume` returns them between the posts. A client declares the
///   version it speaks in `auth`, `login` or `register` (`"protocol":2`) or in the WebSocket URL
///   (`?protocol=2`); the server answers with the version it will speak in `authenticated`.
pub const PROTOCOL_VERSION: u32 = 2;

/// Largest (and default) page of `list_chats`, `list_languages` and `find_users`.
pub const MAX_LIST_PAGE: u32 = 500;

/// Size limits applied to incoming frames and their contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted frame, in bytes.
    pub max_frame_bytes: usize,
    /// Largest accepted message text, in characters.
    pub max_message_chars: usize,
    /// Page size when a command gives none.
    pub default_page: u32,
    /// Largest page a command may ask for.
    pub max_page: u32,
    /// Largest number of participants in one chat.
    pub max_participants: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 64 * 1024,
            max_message_chars: 8 * 1024,
            default_page: 10,
            max_page: 100,
            max_participants: 1_000,
        }
    }
}
