//! Configuration: command-line flags, each also readable from a `HELLOCODE_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use hellocode_core::protocol::Limits;

use crate::creation::CreationLimits;

/// The HelloCode chat server: WebSocket and REST on one port.
#[derive(Debug, Clone, Parser)]
#[command(name = "hellocode-server", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HELLOCODE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Directory for the SQLite database and the signing secret; created if missing.
    #[arg(long, env = "HELLOCODE_DATA_DIR", default_value = "hellocode-data")]
    pub data_dir: PathBuf,

    /// Database: `sqlite:PATH`, `postgres://USER@HOST:PORT/DB`, or `memory` (lost on exit).
    /// Default: `sqlite:<data-dir>/hellocode.db`.
    #[arg(long, env = "HELLOCODE_DATABASE_URL")]
    pub database: Option<String>,

    /// Secret that signs tokens (at least 32 bytes). Default: a random secret kept in
    /// `<data-dir>/secret`, so tokens stay valid across restarts.
    #[arg(long, env = "HELLOCODE_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// Lifetime of login tokens, in seconds.
    #[arg(long, env = "HELLOCODE_TOKEN_TTL", default_value_t = 24 * 3600)]
    pub token_ttl: u64,

    /// Largest accepted frame, in bytes; larger frames get a `frame_too_large` error.
    #[arg(long, env = "HELLOCODE_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,

    /// Frames queued per connection before a slow client is disconnected (it then resumes).
    #[arg(long, env = "HELLOCODE_SEND_QUEUE", default_value_t = 1024)]
    pub send_queue: usize,

    /// Kernel send buffer per connection, in bytes (0: the OS default, which grows up to
    /// several MiB for a client that stops reading). Bounds the memory a slow client holds.
    #[arg(long, env = "HELLOCODE_SOCKET_SEND_BUFFER", default_value_t = 0)]
    pub socket_send_buffer: u32,

    /// Database connections at most.
    #[arg(long, env = "HELLOCODE_DB_POOL", default_value_t = 8)]
    pub db_pool: u32,

    /// Seconds between pings to each connection; one silent for two intervals is closed.
    #[arg(long, env = "HELLOCODE_PING_INTERVAL", default_value_t = 30)]
    pub ping_interval: u64,

    /// Commands per second allowed per connection, sustained.
    #[arg(long, env = "HELLOCODE_RATE", default_value_t = 50)]
    pub rate: u32,

    /// Commands per connection allowed in a burst.
    #[arg(long, env = "HELLOCODE_RATE_BURST", default_value_t = 200)]
    pub rate_burst: u32,

    /// Languages one user may add per hour (a burst of as many, then evenly spread).
    #[arg(long, env = "HELLOCODE_LANGUAGES_PER_HOUR", default_value_t = 10)]
    pub languages_per_hour: u32,

    /// Chats one user may create per minute.
    #[arg(long, env = "HELLOCODE_CHATS_PER_MINUTE", default_value_t = 30)]
    pub chats_per_minute: u32,

    /// Commands adding participants to existing chats one user may send per minute.
    #[arg(long, env = "HELLOCODE_PARTICIPANT_ADDITIONS_PER_MINUTE", default_value_t = 60)]
    pub participant_additions_per_minute: u32,
}

impl Config {
    /// The database URL, with the default applied.
    pub fn database_url(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("hellocode.db").display()))
    }

    /// Runtime settings derived from the flags.
    pub fn settings(&self) -> Settings {
        Settings {
            limits: Limits { max_frame_bytes: self.max_frame_bytes, ..Limits::default() },
            send_queue: self.send_queue.max(1),
            ping_interval: Duration::from_secs(self.ping_interval.max(1)),
            rate_per_second: self.rate.max(1),
            rate_burst: self.rate_burst.max(1),
            token_ttl: Duration::from_secs(self.token_ttl.max(1)),
            socket_send_buffer: (self.socket_send_buffer > 0).then_some(self.socket_send_buffer),
            creation: CreationLimits {
                languages_per_hour: self.languages_per_hour.max(1),
                chats_per_minute: self.chats_per_minute.max(1),
                participant_additions_per_minute: self.participant_additions_per_minute.max(1),
            },
        }
    }
}

/// What the transports need to know at run time.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Protocol limits.
    pub limits: Limits,
    /// Per-connection send queue length.
    pub send_queue: usize,
    /// Ping interval.
    pub ping_interval: Duration,
    /// Sustained commands per second per connection.
    pub rate_per_second: u32,
    /// Burst of commands per connection.
    pub rate_burst: u32,
    /// Lifetime of login tokens.
    pub token_ttl: Duration,
    /// Kernel send buffer per connection (`None`: the OS default).
    pub socket_send_buffer: Option<u32>,
    /// Per-account creation limits.
    pub creation: CreationLimits,
}

impl Default for Settings {
    /// The same values as the command line's defaults, without reading the environment.
    fn default() -> Self {
        Settings {
            limits: Limits::default(),
            send_queue: 1024,
            ping_interval: Duration::from_secs(30),
            rate_per_second: 50,
            rate_burst: 200,
            token_ttl: Duration::from_secs(24 * 3600),
            socket_send_buffer: None,
            creation: CreationLimits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn settings_default_matches_the_command_line_defaults() {
        let parsed =
            Config::try_parse_from(["hellocode-server"]).expect("defaults parse").settings();
        let default = Settings::default();
        assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
    }
}
