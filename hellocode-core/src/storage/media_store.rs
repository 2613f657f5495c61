//! Where uploaded bytes live, by content address (see [`crate::model::Media::id`]): a
//! directory on one node (the server's), the database for several nodes, memory for tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::Result;

/// Bytes by content address. `put` of an address already stored is a no-op (the bytes are the
/// same, by construction), so uploads of one file race harmlessly.
///
/// ```
/// use hellocode_core::storage::{MediaStore, MemoryMediaStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryMediaStore::default();
/// store.put("ab12", b"hello".to_vec().into()).await?;
/// assert_eq!(store.get("ab12").await?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(store.get("cd34").await?, None);
/// # Ok::<(), hellocode_core::Error>(()) }).unwrap();
/// ```
#[async_trait]
pub trait MediaStore: Send + Sync + 'static {
    /// Keep `bytes` under `id`.
    async fn put(&self, id: &str, bytes: Arc<[u8]>) -> Result<()>;
    /// The bytes under `id`, if stored.
    async fn get(&self, id: &str) -> Result<Option<Arc<[u8]>>>;
}

/// Media kept in memory (tests, ephemeral servers).
#[derive(Debug, Default)]
pub struct MemoryMediaStore {
    blobs: Mutex<HashMap<String, Arc<[u8]>>>,
}

#[async_trait]
impl MediaStore for MemoryMediaStore {
    async fn put(&self, id: &str, bytes: Arc<[u8]>) -> Result<()> {
        let mut blobs = self.blobs.lock().unwrap_or_else(|e| e.into_inner());
        blobs.entry(id.to_owned()).or_insert(bytes);
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Arc<[u8]>>> {
        Ok(self.blobs.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned())
    }
}
