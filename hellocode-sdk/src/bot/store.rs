//! Where a bot keeps how far it has handled each chat, across restarts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use hellocode_core::model::{ChatId, Seq};

use crate::{Error, Result};

/// How far a bot has handled each chat: the sequence number of the last message it
/// processed. A bot given a store (see [`Bot::persist`](super::Bot::persist)) loads it at start,
/// handles what came while it was down, and saves it after every command.
///
/// Implement it to keep positions elsewhere (a database, a key-value store):
///
/// ```
/// use std::collections::HashMap;
/// use hellocode_sdk::bot::PositionStore;
/// use hellocode_sdk::{ChatId, Seq};
///
/// struct Nowhere;
///
/// #[async_trait::async_trait]
/// impl PositionStore for Nowhere {
///     async fn load(&self) -> hellocode_sdk::Result<HashMap<ChatId, Seq>> {
///         Ok(HashMap::new())
///     }
///     async fn save(&self, _positions: &HashMap<ChatId, Seq>) -> hellocode_sdk::Result<()> {
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait PositionStore: Send + Sync + 'static {
    /// The positions saved last (empty on the first run).
    async fn load(&self) -> Result<HashMap<ChatId, Seq>>;
    /// Replace the saved positions.
    async fn save(&self, positions: &HashMap<ChatId, Seq>) -> Result<()>;
}

/// Positions in a small JSON file, replaced atomically (written beside it, then renamed), so a
/// crash never leaves half a file.
///
/// ```no_run
/// use hellocode_sdk::bot::FileStore;
///
/// let store = FileStore::new("echo-bot.positions.json");
/// # drop(store);
/// ```
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// Keep positions in `path` (created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore { path: path.into() }
    }
}

fn store_error(path: &std::path::Path, error: impl std::fmt::Display) -> Error {
    Error::Persistence(format!("{}: {error}", path.display()))
}

#[async_trait]
impl PositionStore for FileStore {
    async fn load(&self) -> Result<HashMap<ChatId, Seq>> {
        let path = self.path.clone();
        let read = tokio::task::spawn_blocking(move || match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str::<HashMap<String, i64>>(&text)
                .map_err(|error| store_error(&path, error))?
                .into_iter()
                .map(|(chat, seq)| {
                    chat.parse()
                        .map(|chat| (ChatId(chat), Seq(seq)))
                        .map_err(|error| store_error(&path, error))
                })
                .collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
            Err(error) => Err(store_error(&path, error)),
        });
        read.await.map_err(|error| Error::Persistence(error.to_string()))?
    }

    async fn save(&self, positions: &HashMap<ChatId, Seq>) -> Result<()> {
        let path = self.path.clone();
        let text = serde_json::to_string_pretty(
            &positions
                .iter()
                .map(|(chat, seq)| (chat.0.to_string(), seq.0))
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
        .map_err(|error| store_error(&path, error))?;
        let write = tokio::task::spawn_blocking(move || {
            let mut temporary = path.clone().into_os_string();
            temporary.push(".tmp");
            std::fs::write(&temporary, text).map_err(|error| store_error(&path, error))?;
            std::fs::rename(&temporary, &path).map_err(|error| store_error(&path, error))
        });
        write.await.map_err(|error| Error::Persistence(error.to_string()))?
    }
}

/// Positions in memory: survives a restart of the bot, not of the process (tests, or a bot
/// that is restarted in place).
///
/// ```no_run
/// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
/// use std::sync::Arc;
/// use hellocode_sdk::bot::MemoryStore;
///
/// let store = Arc::new(MemoryStore::new()); // keep a handle to give the next bot
/// bot.persist(store.clone())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    positions: Mutex<HashMap<ChatId, Seq>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

#[async_trait]
impl PositionStore for MemoryStore {
    async fn load(&self) -> Result<HashMap<ChatId, Seq>> {
        Ok(self.positions.lock().map_err(|error| Error::Persistence(error.to_string()))?.clone())
    }

    async fn save(&self, positions: &HashMap<ChatId, Seq>) -> Result<()> {
        *self.positions.lock().map_err(|error| Error::Persistence(error.to_string()))? =
            positions.clone();
        Ok(())
    }
}

#[async_trait]
impl<T: PositionStore> PositionStore for std::sync::Arc<T> {
    async fn load(&self) -> Result<HashMap<ChatId, Seq>> {
        (**self).load().await
    }

    async fn save(&self, positions: &HashMap<ChatId, Seq>) -> Result<()> {
        (**self).save(positions).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn file_store_round_trips_and_reports_corruption() {
        let dir = std::env::temp_dir().join(format!("hellocode-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = FileStore::new(dir.join("positions.json"));
        assert!(store.load().await.expect("missing file is empty").is_empty());
        let positions = HashMap::from([(ChatId(1), Seq(7)), (ChatId(22), Seq(3))]);
        store.save(&positions).await.expect("saved");
        assert_eq!(store.load().await.expect("loaded"), positions);
        std::fs::write(dir.join("positions.json"), "{not json").expect("write");
        let error = store.load().await.expect_err("corrupt file");
        assert_eq!(error.code(), "persistence");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
