//! Configuration: command-line flags, each also readable from a `HELLOCODE_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use hellocode_core::protocol::Limits;

use crate::creation::CreationLimits;
use crate::push::PushSettings;
use crate::rate_limit::Rate;

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

    /// Bytes queued per connection before a slow client is disconnected (it then resumes); a
    /// single larger frame still goes to an otherwise empty queue.
    #[arg(long, env = "HELLOCODE_SEND_QUEUE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub send_queue_bytes: usize,

    /// Seconds a client has to send a complete HTTP request header, counted from the moment
    /// the connection opens or its previous response was sent: also how long an idle
    /// keep-alive connection stays open. Slower clients are disconnected.
    #[arg(long, env = "HELLOCODE_HTTP_HEADER_TIMEOUT", default_value_t = 10)]
    pub http_header_timeout: u64,

    /// Seconds a REST request may take once its header is in: its body must arrive, and its
    /// answer be ready, within it (else 408 and the connection closes). Slow bodies hold a
    /// connection no longer than this.
    #[arg(long, env = "HELLOCODE_HTTP_REQUEST_TIMEOUT", default_value_t = 30)]
    pub http_request_timeout: u64,

    /// Largest HTTP request header, in bytes (at least 8192); larger ones get 431.
    #[arg(long, env = "HELLOCODE_HTTP_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub http_max_header_bytes: usize,

    /// Open TCP connections (HTTP and WebSocket) at most; beyond, new ones are closed at once.
    #[arg(long, env = "HELLOCODE_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Open TCP connections per client address (IPv6: per /64) at most; beyond, new ones from
    /// that address are closed at once.
    #[arg(long, env = "HELLOCODE_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    pub max_connections_per_address: usize,

    /// Open WebSockets per user at most; a new one beyond is closed with code 4029.
    #[arg(long, env = "HELLOCODE_MAX_CONNECTIONS_PER_USER", default_value_t = 32)]
    pub max_connections_per_user: usize,

    /// Seconds a WebSocket has to authenticate after it opens; then it is closed with code 4003.
    #[arg(long, env = "HELLOCODE_AUTH_TIMEOUT", default_value_t = 10)]
    pub auth_timeout: u64,

    /// Seconds a write to a socket may make no progress before the connection is dropped.
    #[arg(long, env = "HELLOCODE_WRITE_TIMEOUT", default_value_t = 30)]
    pub write_timeout: u64,

    /// Languages one user may add per hour (a burst of as many, then evenly spread).
    #[arg(long, env = "HELLOCODE_LANGUAGES_PER_HOUR", default_value_t = 10)]
    pub languages_per_hour: u32,

    /// Chats one user may create per minute.
    #[arg(long, env = "HELLOCODE_CHATS_PER_MINUTE", default_value_t = 30)]
    pub chats_per_minute: u32,

    /// Commands adding participants to existing chats one user may send per minute.
    #[arg(long, env = "HELLOCODE_PARTICIPANT_ADDITIONS_PER_MINUTE", default_value_t = 60)]
    pub participant_additions_per_minute: u32,

    /// Invitations (`invite`) one user may send per minute.
    #[arg(long, env = "HELLOCODE_INVITATIONS_PER_MINUTE", default_value_t = 60)]
    pub invitations_per_minute: u32,

    /// Invite links one user may create per minute.
    #[arg(long, env = "HELLOCODE_INVITE_LINKS_PER_MINUTE", default_value_t = 30)]
    pub invite_links_per_minute: u32,

    /// Uploads (avatars and attachments) one user may make per minute.
    #[arg(long, env = "HELLOCODE_UPLOADS_PER_MINUTE", default_value_t = 30)]
    pub uploads_per_minute: u32,

    /// Largest upload (an avatar or an attachment), in bytes; beyond: 413.
    #[arg(long, env = "HELLOCODE_MAX_UPLOAD_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_upload_bytes: u64,

    /// Where uploaded media are kept: `directory` (`<data dir>/media`, one node) or
    /// `database` (the database's `media_blobs` table: what several nodes need).
    #[arg(long, env = "HELLOCODE_MEDIA_STORE", value_enum, default_value_t = MediaStoreKind::Directory)]
    pub media_store: MediaStoreKind,

    /// Login and registration attempts per client address per minute (also the burst);
    /// beyond it: 429 with `Retry-After`, or `rate_limited` with `retryAfter` on a socket.
    #[arg(long, env = "HELLOCODE_LOGIN_RATE_PER_ADDRESS", default_value_t = 30)]
    pub login_rate_per_address: u32,

    /// Login and registration attempts per username per minute (also the burst).
    #[arg(long, env = "HELLOCODE_LOGIN_RATE_PER_USER", default_value_t = 10)]
    pub login_rate_per_user: u32,

    /// Other REST requests per client address per second, sustained (`/healthz` and
    /// `/metrics` are not limited).
    #[arg(long, env = "HELLOCODE_REST_RATE", default_value_t = 20)]
    pub rest_rate: u32,

    /// Other REST requests per client address allowed in a burst.
    #[arg(long, env = "HELLOCODE_REST_BURST", default_value_t = 100)]
    pub rest_burst: u32,

    /// Password hashes (logins, registrations, password changes) waiting at most; when full,
    /// new ones are refused at once with 429 / `rate_limited`.
    #[arg(long, env = "HELLOCODE_HASH_QUEUE", default_value_t = 32)]
    pub hash_queue: usize,

    /// WebSockets coming online at once (checking a token, registering, loading the presence
    /// snapshot); more wait their turn, up to the authentication timeout, then are told the
    /// server is busy. Keeps a reconnection storm from queueing every query at the database
    /// pool at once (see OPERATIONS.md).
    #[arg(long, env = "HELLOCODE_SESSION_STARTS", default_value_t = 16)]
    pub session_starts: usize,

    /// Seconds a request waits for a database connection (including connecting) before it
    /// fails with `unavailable` (503); also the time `/healthz` gives each check.
    #[arg(long, env = "HELLOCODE_DB_TIMEOUT", default_value_t = 2)]
    pub db_timeout: u64,

    /// The broker between the nodes of a deployment: `redis://HOST:PORT` (every node of one
    /// deployment names the same Redis and the same database). Default: none, one node.
    #[arg(long, env = "HELLOCODE_BROKER")]
    pub broker: Option<String>,

    /// Send no push notifications: posts notify no offline member's devices (pushers may
    /// still be registered; what is queued waits).
    #[arg(long, env = "HELLOCODE_NO_PUSH")]
    pub no_push: bool,

    /// Requests to push gateways in flight at once.
    #[arg(long, env = "HELLOCODE_PUSH_CONCURRENCY", default_value_t = 16)]
    pub push_concurrency: usize,

    /// Do not serve the web app (the chat page at `/` and its assets); the API and the
    /// WebSocket are served as ever.
    #[arg(long, env = "HELLOCODE_NO_WEB")]
    pub no_web: bool,

    /// Log format: `auto` (coloured text on a terminal, plain text otherwise), `text` (plain
    /// text) or `json` (one JSON object per line). Levels: `RUST_LOG` (default `info`).
    #[arg(long, env = "HELLOCODE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
}

/// How the binary writes its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Coloured text on a terminal, plain text otherwise.
    Auto,
    /// Plain text, never colour codes.
    Text,
    /// One JSON object per line.
    Json,
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
            send_queue_bytes: self.send_queue_bytes.max(1),
            http_header_timeout: Duration::from_secs(self.http_header_timeout.max(1)),
            http_request_timeout: Duration::from_secs(self.http_request_timeout.max(1)),
            http_max_header_bytes: self.http_max_header_bytes.max(MIN_HEADER_BYTES),
            max_connections: self.max_connections.max(1),
            max_connections_per_address: self.max_connections_per_address.max(1),
            max_connections_per_user: self.max_connections_per_user.max(1),
            auth_timeout: Duration::from_secs(self.auth_timeout.max(1)),
            write_timeout: Duration::from_secs(self.write_timeout.max(1)),
            creation: CreationLimits {
                languages_per_hour: self.languages_per_hour.max(1),
                chats_per_minute: self.chats_per_minute.max(1),
                participant_additions_per_minute: self.participant_additions_per_minute.max(1),
                invitations_per_minute: self.invitations_per_minute.max(1),
                invite_links_per_minute: self.invite_links_per_minute.max(1),
                uploads_per_minute: self.uploads_per_minute.max(1),
            },
            max_upload_bytes: self.max_upload_bytes.max(1),
            auth_rate_per_address: per_minute(self.login_rate_per_address),
            auth_rate_per_username: per_minute(self.login_rate_per_user),
            rest_rate_per_address: Rate {
                burst: self.rest_burst.max(1),
                per_second: f64::from(self.rest_rate.max(1)),
            },
            hash_queue: self.hash_queue.max(1),
            session_starts: self.session_starts.max(1),
            db_timeout: Duration::from_secs(self.db_timeout.max(1)),
            web: !self.no_web,
            push: PushSettings {
                enabled: !self.no_push,
                concurrency: self.push_concurrency.max(1),
                ..PushSettings::default()
            },
        }
    }
}

/// `n` attempts per minute, all of them at once if wanted.
fn per_minute(n: u32) -> Rate {
    Rate { burst: n.max(1), per_second: f64::from(n.max(1)) / 60.0 }
}

/// Where uploaded media are kept (`--media-store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MediaStoreKind {
    /// Files under `<data dir>/media`: one node.
    Directory,
    /// The database: every node of a deployment reads what any node stored.
    Database,
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
    /// Per-connection send queue size in bytes.
    pub send_queue_bytes: usize,
    /// Time allowed for a complete HTTP request header; also the keep-alive idle timeout.
    pub http_header_timeout: Duration,
    /// Time allowed for a REST request's body and answer, once its header is in.
    pub http_request_timeout: Duration,
    /// Largest HTTP request header in bytes (at least [`MIN_HEADER_BYTES`]).
    pub http_max_header_bytes: usize,
    /// Open TCP connections at most.
    pub max_connections: usize,
    /// Open TCP connections per client address at most.
    pub max_connections_per_address: usize,
    /// Open WebSockets per user at most.
    pub max_connections_per_user: usize,
    /// Time a WebSocket has to authenticate.
    pub auth_timeout: Duration,
    /// Time a socket write may make no progress.
    pub write_timeout: Duration,
    /// Per-account creation limits.
    pub creation: CreationLimits,
    /// Largest upload, in bytes.
    pub max_upload_bytes: u64,
    /// Login and registration attempts per client address.
    pub auth_rate_per_address: Rate,
    /// Login and registration attempts per username.
    pub auth_rate_per_username: Rate,
    /// Other REST requests per client address.
    pub rest_rate_per_address: Rate,
    /// Password hashes waiting at most.
    pub hash_queue: usize,
    /// WebSockets coming online at once (see [`crate::admission`]).
    pub session_starts: usize,
    /// How long a request waits for a database connection; also each health check's budget.
    pub db_timeout: Duration,
    /// Whether the web app is served at `/` (see [`crate::web`]).
    pub web: bool,
    /// Push notifications (see [`crate::push`]).
    pub push: PushSettings,
}

/// The smallest header cap hyper accepts (its minimum read buffer).
pub const MIN_HEADER_BYTES: usize = 8192;

impl Settings {
    /// The defaults with the abuse limits lifted: the per-address and per-user rates of
    /// logins, REST requests and creations, and the connections per address and per user.
    /// For tests and benchmarks whose clients all come from one loopback address as a few
    /// users. Frame size, queues, timeouts, page sizes and the per-connection command rate stay
    /// as they are.
    ///
    /// ```
    /// let settings = hellocode_server::Settings::without_abuse_limits();
    /// assert!(settings.max_connections_per_address > 10_000);
    /// ```
    pub fn without_abuse_limits() -> Self {
        const MANY: u32 = 1_000_000;
        let unlimited = Rate { burst: MANY, per_second: f64::from(MANY) };
        Settings {
            auth_rate_per_address: unlimited,
            auth_rate_per_username: unlimited,
            rest_rate_per_address: unlimited,
            creation: CreationLimits {
                languages_per_hour: MANY,
                chats_per_minute: MANY,
                participant_additions_per_minute: MANY,
                invitations_per_minute: MANY,
                invite_links_per_minute: MANY,
                uploads_per_minute: MANY,
            },
            max_connections_per_address: MANY as usize,
            max_connections_per_user: MANY as usize,
            ..Settings::default()
        }
    }
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
            send_queue_bytes: 4 * 1024 * 1024,
            http_header_timeout: Duration::from_secs(10),
            http_request_timeout: Duration::from_secs(30),
            http_max_header_bytes: 16 * 1024,
            max_connections: 10_000,
            max_connections_per_address: 256,
            max_connections_per_user: 32,
            auth_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            creation: CreationLimits::default(),
            max_upload_bytes: 10 * 1024 * 1024,
            auth_rate_per_address: per_minute(30),
            auth_rate_per_username: per_minute(10),
            rest_rate_per_address: Rate { burst: 100, per_second: 20.0 },
            hash_queue: 32,
            session_starts: 16,
            db_timeout: Duration::from_secs(2),
            web: true,
            push: PushSettings::default(),
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
