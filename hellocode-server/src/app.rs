//! Wiring: shared state, the routes, and a server that starts and shuts down gracefully.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hellocode_core::storage::{
    MediaStore, MemoryMediaStore, MemoryStorage, PoolConfig, PostgresStorage, SqliteStorage,
    Storage,
};
use rand::RngCore;
use tokio::sync::{mpsc, watch};
use warp::Filter;

use crate::admission::Admission;
use crate::auth::{Auth, Tokens};
use crate::broker::{Broker, LocalBroker, RedisBroker};
use crate::config::{Config, MediaStoreKind, Settings};
use crate::dispatch::Dispatcher;
use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::push::Push;
use crate::rate_limit::RateLimits;

/// Languages offered on a new server; users may add more.
const DEFAULT_LANGUAGES: &[&str] = &[
    "C",
    "C#",
    "C++",
    "Elixir",
    "Go",
    "Haskell",
    "Java",
    "JavaScript",
    "Kotlin",
    "PHP",
    "Python",
    "Ruby",
    "Rust",
    "Scala",
    "Swift",
    "TypeScript",
    "Zig",
];

/// Everything a request or connection handler needs.
pub struct AppState {
    /// Runtime settings.
    pub settings: Settings,
    /// Storage.
    pub storage: Arc<dyn Storage>,
    /// Uploaded media's bytes.
    pub media: Arc<dyn MediaStore>,
    /// Authentication.
    pub auth: Auth,
    /// This node's connections.
    pub hub: Arc<Hub>,
    /// Command execution.
    pub dispatcher: Arc<Dispatcher>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Rate limits of logins, registrations and REST requests.
    pub limits: Arc<RateLimits>,
    /// Turns for WebSockets coming online.
    pub admission: Admission,
    /// Becomes `true` when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Held by every connection; the server waits until all are dropped.
    pub alive: mpsc::Sender<()>,
}

/// A running server.
pub struct Server {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    alive: mpsc::Receiver<()>,
    storage: Arc<dyn Storage>,
    local: crate::ws::LocalEndpoint,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl Server {
    /// Open the configured storage and start listening.
    pub async fn start(config: &Config) -> Result<Server> {
        std::fs::create_dir_all(&config.data_dir)?;
        let settings = config.settings();
        let pool = PoolConfig {
            max_connections: config.db_pool.max(1),
            acquire_timeout: settings.db_timeout,
        };
        let (storage, database_media) =
            open_storage_with_media(&config.database_url(), pool).await?;
        let media = match (config.media_store, database_media) {
            (MediaStoreKind::Directory, _) => {
                Arc::new(crate::media::DirMediaStore::new(config.data_dir.join("media"))?) as _
            }
            (MediaStoreKind::Database, Some(media)) => media,
            (MediaStoreKind::Database, None) => {
                return Err(Error::Config("--media-store database needs a SQL database".into()));
            }
        };
        let secret = match &config.secret {
            Some(secret) if secret.len() >= 32 => secret.clone().into_bytes(),
            Some(_) => return Err(Error::Config("the secret must be at least 32 bytes".into())),
            None => load_or_create_secret(&config.data_dir)?,
        };
        let broker = config.broker.as_deref();
        Server::start_node_with_media(storage, media, &secret, settings, config.addr, broker).await
    }

    /// Start on `addr` (port 0 picks a free port) with the given storage and secret.
    pub async fn start_with(
        storage: Arc<dyn Storage>,
        secret: &[u8],
        settings: Settings,
        addr: SocketAddr,
    ) -> Result<Server> {
        Server::start_node(storage, secret, settings, addr, None).await
    }

    /// Start one node of a deployment: like [`Server::start_with`], and with `broker`
    /// (`redis://...`) its events reach the other nodes sharing the storage, and theirs this
    /// one (see [`RedisBroker`]). Uploaded media are kept in memory: see
    /// [`Server::start_node_with_media`].
    pub async fn start_node(
        storage: Arc<dyn Storage>,
        secret: &[u8],
        settings: Settings,
        addr: SocketAddr,
        broker: Option<&str>,
    ) -> Result<Server> {
        let media = Arc::new(MemoryMediaStore::default());
        Server::start_node_with_media(storage, media, secret, settings, addr, broker).await
    }

    /// [`Server::start_node`] keeping uploaded media in `media` (a directory,
    /// [`crate::media::DirMediaStore`]; the database, [`open_storage_with_media`]).
    pub async fn start_node_with_media(
        storage: Arc<dyn Storage>,
        media: Arc<dyn MediaStore>,
        secret: &[u8],
        settings: Settings,
        addr: SocketAddr,
        broker: Option<&str>,
    ) -> Result<Server> {
        for language in DEFAULT_LANGUAGES {
            storage.add_language(language).await?;
        }
        let metrics = Arc::new(Metrics::default());
        let hub = Arc::new(
            Hub::new(storage.clone(), metrics.clone())
                .with_max_per_user(settings.max_connections_per_user),
        );
        let auth = Auth::new(storage.clone(), Tokens::new(secret, settings.token_ttl))
            .with_hash_queue(settings.hash_queue, metrics.clone());
        let (stop, shutdown) = watch::channel(false);
        let broker: Arc<dyn Broker> = match broker {
            None => Arc::new(LocalBroker::new(hub.clone())),
            Some(url) => Arc::new(
                RedisBroker::start(url, hub.clone(), metrics.clone(), shutdown.clone())
                    .map_err(|err| Error::Config(format!("broker {url:?}: {err}")))?,
            ),
        };
        let limits = Arc::new(RateLimits::new(&settings));
        let listener = listen(addr, settings.socket_send_buffer)?;
        let local_addr = listener.local_addr()?;
        let mut dispatcher =
            Dispatcher::new(storage.clone(), auth.clone(), broker, metrics.clone(), limits.clone())
                .with_creation_limits(settings.creation)
                .with_own_address(local_addr);
        if settings.push.enabled {
            let push = Push::start(
                storage.clone(),
                hub.clone(),
                metrics.clone(),
                settings.push,
                shutdown.clone(),
            );
            dispatcher = dispatcher.with_push(push);
        }
        let dispatcher = Arc::new(dispatcher);
        let (alive_sender, alive) = mpsc::channel(1);
        let state = Arc::new(AppState {
            settings,
            storage: storage.clone(),
            media,
            auth,
            hub,
            dispatcher,
            metrics: metrics.clone(),
            limits,
            admission: Admission::new(
                settings.session_starts,
                settings.auth_timeout,
                metrics.clone(),
            ),
            shutdown: shutdown.clone(),
            alive: alive_sender,
        });
        let local = crate::ws::LocalEndpoint::new(&state, tokio::runtime::Handle::current());
        let routes = crate::ws::routes(state.clone())
            .or(crate::rest::routes(state))
            .unify()
            .or(crate::web::routes(settings.web))
            .unify()
            .recover(crate::rest::handle_rejection);
        let task = tokio::spawn(crate::serve::serve(listener, routes, settings, metrics, shutdown));
        tracing::info!(%local_addr, "hellocode server listening");
        Ok(Server { local_addr, stop, task, alive, storage, local })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Opens in-process connections to this server: the same protocol as `/ws`, over channels
    /// (for embedded bots, tests, and apps that host the server). See [`hellocode_core::local`].
    pub fn local_endpoint(&self) -> crate::ws::LocalEndpoint {
        self.local.clone()
    }

    /// Stop accepting, let in-flight commands finish, close every WebSocket with a close frame,
    /// then close storage.
    pub async fn shutdown(mut self) {
        tracing::info!("shutting down");
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if tokio::time::timeout(Duration::from_secs(10), self.alive.recv()).await.is_err() {
            tracing::warn!("connections still open after 10 s; closing anyway");
        }
        self.storage.close().await;
        tracing::info!("shut down");
    }
}

/// A listening socket; accepted connections inherit its send buffer size and `TCP_NODELAY`
/// (Linux copies both to accepted sockets). Without `TCP_NODELAY` a reply written while the
/// client's acknowledgement of the previous one is delayed waits for it (Nagle): about 40 ms
/// per acknowledged send for a client that sends one message at a time.
fn listen(addr: SocketAddr, send_buffer: Option<u32>) -> Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    if let Some(size) = send_buffer {
        socket.set_send_buffer_size(size)?;
    }
    socket.bind(addr)?;
    Ok(socket.listen(1024)?)
}

/// Storage from a URL: `memory`, `sqlite:…` or `postgres://…`, with at most `pool`
/// connections and the default acquire timeout.
pub async fn open_storage(url: &str, pool: u32) -> Result<Arc<dyn Storage>> {
    open_storage_with(url, PoolConfig { max_connections: pool.max(1), ..PoolConfig::default() })
        .await
}

/// [`open_storage`] with explicit pool settings.
pub async fn open_storage_with(url: &str, pool: PoolConfig) -> Result<Arc<dyn Storage>> {
    Ok(open_storage_with_media(url, pool).await?.0)
}

/// [`open_storage_with`], and for a SQL database its media store on the same pool (what
/// several nodes need: every node reads what any stored); `None` for `memory`.
pub async fn open_storage_with_media(
    url: &str,
    pool: PoolConfig,
) -> Result<(Arc<dyn Storage>, Option<Arc<dyn MediaStore>>)> {
    if url == "memory" {
        Ok((Arc::new(MemoryStorage::new()), None))
    } else if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        if let Some(parent) = Path::new(path.split('?').next().unwrap_or(path)).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let storage = SqliteStorage::open_with(url, pool).await?;
        let media = Arc::new(storage.media_store());
        Ok((Arc::new(storage), Some(media)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let storage = PostgresStorage::connect_with(url, pool).await?;
        let media = Arc::new(storage.media_store());
        Ok((Arc::new(storage), Some(media)))
    } else {
        Err(Error::Config(format!(
            "unsupported database URL {url:?}: use sqlite:PATH, postgres://… or memory"
        )))
    }
}

/// The signing secret kept in `dir/secret` (64 hex characters), created on first start.
fn load_or_create_secret(dir: &Path) -> Result<Vec<u8>> {
    let path = dir.join("secret");
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => {
            return Err(Error::Config(format!("{} is too short to be a secret", path.display())));
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err.into()),
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, secret.as_bytes())?;
    tracing::info!(path = %path.display(), "created a new signing secret");
    Ok(secret.into_bytes())
}
