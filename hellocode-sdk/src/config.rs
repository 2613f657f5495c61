//! How a client authenticates, and its tunables.

use std::collections::HashMap;
use std::time::Duration;

use hellocode_core::model::{ChatId, Seq};

/// How the client proves who it is. After the first authentication the client keeps the token
/// the server returned and uses it on reconnect; with a password it logs in again if the token
/// has expired.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// Log in with a username and password.
    Password {
        /// Username.
        username: String,
        /// Password.
        password: String,
    },
    /// A token from an earlier login (a JWT) or a bot token.
    Token(String),
    /// Create the account, then stay logged in as it.
    Register {
        /// Wanted username.
        username: String,
        /// Email address.
        email: String,
        /// Password.
        password: String,
    },
    /// Log in; if there is no such account, register it first. See
    /// [`Credentials::register_or_login`].
    RegisterOrLogin {
        /// Username.
        username: String,
        /// Email address, used only if the account is created.
        email: String,
        /// Password.
        password: String,
    },
}

impl Credentials {
    /// Log in with a username and password.
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Password { username: username.into(), password: password.into() }
    }

    /// A JWT from an earlier login, or a bot token.
    pub fn token(token: impl Into<String>) -> Self {
        Credentials::Token(token.into())
    }

    /// Register a new account.
    pub fn register(
        username: impl Into<String>,
        email: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Credentials::Register {
            username: username.into(),
            email: email.into(),
            password: password.into(),
        }
    }
}

impl Credentials {
    /// Log in, or register the account if it does not exist yet: handy for bots and scripts
    /// that run anywhere. An account that exists with another password fails with
    /// `invalid_credentials`, and the account is never registered twice. Once connected, it
    /// behaves like [`Credentials::password`] (on reconnect too).
    ///
    /// When the account does not exist, registration's rules apply (a weak password or a bad
    /// email fails with `validation_failed`); since the server will not say whether a name is
    /// taken before checking them, a password registration would refuse gets
    /// `validation_failed` even when the account exists.
    ///
    /// ```no_run
    /// # async fn run() -> hellocode_sdk::Result<()> {
    /// use hellocode_sdk::{Client, Credentials, WebSocketTransport};
    /// let transport = WebSocketTransport::new("ws://127.0.0.1:8080")?;
    /// let credentials =
    ///     Credentials::register_or_login("echo-bot", "echo@example.org", "a long bot password");
    /// let client = Client::connect(transport, credentials).await?;
    /// # Ok(()) }
    /// ```
    pub fn register_or_login(
        username: impl Into<String>,
        email: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Credentials::RegisterOrLogin {
            username: username.into(),
            email: email.into(),
            password: password.into(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    // Never print secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password { username, .. } => {
                f.debug_struct("Password").field("username", username).finish_non_exhaustive()
            }
            Credentials::Token(_) => f.write_str("Token(..)"),
            Credentials::Register { username, .. } => {
                f.debug_struct("Register").field("username", username).finish_non_exhaustive()
            }
            Credentials::RegisterOrLogin { username, .. } => f
                .debug_struct("RegisterOrLogin")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

/// Exponential backoff with jitter between reconnection attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Growth per attempt.
    pub multiplier: f64,
    /// Fraction of each delay that is random (0 = none, 1 = anywhere from 0 to the delay), so
    /// that clients dropped together do not come back together.
    pub jitter: f64,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.5,
            max_attempts: None,
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (0-based), given a random number in `[0, 1)`.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let grown =
            self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(attempt.min(64) as i32);
        let capped = grown.min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0);
        // NaN or absurd settings give the longest delay rather than a panic.
        Duration::try_from_secs_f64(capped * (1.0 - jitter)).unwrap_or(self.max)
    }
}

/// Client settings; `ClientConfig::default()` suits interactive apps and bots.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// How long a command waits for its reply (including time spent reconnecting).
    pub request_timeout: Duration,
    /// How long one connection attempt (transport and authentication) may take.
    pub connect_timeout: Duration,
    /// Delays between reconnection attempts.
    pub reconnect: Backoff,
    /// Most messages waiting to be sent; beyond it `enqueue` fails with `QueueFull`.
    pub send_queue: usize,
    /// Most sends on the wire awaiting their acknowledgement at once, across chats. Within one
    /// chat messages go one at a time, so each chat stores them in the order they were queued
    /// (a message refused for now, say by the rate limit, is never overtaken).
    pub send_window: usize,
    /// A queued message not acknowledged within this time fails with `Expired` (`None`: keep
    /// trying as long as the client lives).
    pub send_expiry: Option<Duration>,
    /// Events kept for the first subscriber while nobody listens yet.
    pub event_backlog: usize,
    /// A silent connection is probed with a ping after this long; no answer within
    /// `request_timeout` counts as a lost connection.
    pub keepalive: Duration,
    /// How long `close` waits for queued messages to be acknowledged.
    pub close_timeout: Duration,
    /// How long one write to the connection (a batch of frames, a keepalive ping, the close
    /// frame) may take. A write still stuck after it counts as a lost connection: the client
    /// reconnects, and `close` ends within `close_timeout` plus this.
    pub write_timeout: Duration,
    /// Where to resume chats from (for example positions saved by an earlier run, see
    /// `Client::positions`). Chats not listed start at their newest message when the client
    /// first connects.
    pub start_positions: HashMap<ChatId, Seq>,
    /// The largest download (`Client::download`) accepted, in bytes; a larger file fails with
    /// `too_large` instead of filling memory.
    pub max_download_bytes: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
            reconnect: Backoff::default(),
            send_queue: 1_000,
            send_window: 32,
            send_expiry: None,
            event_backlog: 10_000,
            keepalive: Duration::from_secs(30),
            close_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            start_positions: HashMap::new(),
            max_download_bytes: 64 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_down() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(0, 0.0), Duration::from_millis(200));
        assert_eq!(backoff.delay(1, 0.0), Duration::from_millis(400));
        assert_eq!(backoff.delay(30, 0.0), Duration::from_secs(30));
        assert_eq!(backoff.delay(1, 1.0), Duration::from_millis(200));
        assert!(backoff.delay(3, 0.5) < backoff.delay(3, 0.0));
        let broken = Backoff { jitter: f64::NAN, multiplier: f64::INFINITY, ..Backoff::default() };
        assert!(broken.delay(5, 0.5) <= broken.max);
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let text = format!("{:?}", Credentials::password("alice", "hunter22"));
        assert!(text.contains("alice") && !text.contains("hunter22"));
        assert!(!format!("{:?}", Credentials::token("secret-token")).contains("secret"));
        let text = format!("{:?}", Credentials::register_or_login("bot", "b@x.org", "hunter22"));
        assert!(text.contains("bot") && !text.contains("hunter22"));
    }
}
