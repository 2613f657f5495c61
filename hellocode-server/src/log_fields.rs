//! Display forms for log fields, so that logs read `peer=127.0.0.4:60965 scope=chat 906`
//! rather than Rust's debug forms (`peer=Some(127.0.0.4:60965)`, `scope=Chat(ChatId(906))`).

use std::fmt;
use std::net::SocketAddr;

use hellocode_core::session::Scope;

/// A peer address that may be unknown (in-process connections): the address, or `-`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) Option<SocketAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// A connection's scope: `all` or `chat <id>`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScopeName(pub(crate) Scope);

impl fmt::Display for ScopeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Scope::AllChats => f.write_str("all"),
            Scope::Chat(chat) => write!(f, "chat {chat}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use hellocode_core::model::ChatId;

    use super::*;

    #[test]
    fn fields_read_as_plain_values() {
        let addr: SocketAddr = ([127, 0, 0, 4], 60965).into();
        assert_eq!(Peer(Some(addr)).to_string(), "127.0.0.4:60965");
        assert_eq!(Peer(None).to_string(), "-");
        assert_eq!(ScopeName(Scope::Chat(ChatId(906))).to_string(), "chat 906");
        assert_eq!(ScopeName(Scope::AllChats).to_string(), "all");
    }
}
