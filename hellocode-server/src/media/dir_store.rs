//! Media in a directory: each file under its content address, written to a temporary name
//! first and renamed, so that a reader never sees half a file.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use hellocode_core::storage::MediaStore;

use super::process::is_content_id;

/// Media in a directory (the default: `<data dir>/media`). One node only: several nodes use
/// the database's store.
#[derive(Debug, Clone)]
pub struct DirMediaStore {
    dir: PathBuf,
}

impl DirMediaStore {
    /// A store in `dir`, created if missing.
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(DirMediaStore { dir })
    }

    /// Where `id` lives: `ab/abcdef...` (two levels keep directories small).
    fn path(&self, id: &str) -> Option<PathBuf> {
        is_content_id(id).then(|| self.dir.join(&id[..2]).join(id))
    }
}

fn io_error(err: std::io::Error) -> hellocode_core::Error {
    hellocode_core::Error::Database(Box::new(err))
}

#[async_trait]
impl MediaStore for DirMediaStore {
    async fn put(&self, id: &str, bytes: Arc<[u8]>) -> hellocode_core::Result<()> {
        let Some(path) = self.path(id) else {
            let why = format!("not a content address: {id:?}");
            return Err(hellocode_core::Error::Database(why.into()));
        };
        if tokio::fs::try_exists(&path).await.map_err(io_error)? {
            return Ok(()); // the same bytes, by their address
        }
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
        }
        let partial = path.with_extension(format!("part{:016x}", rand::random::<u64>()));
        tokio::fs::write(&partial, &bytes).await.map_err(io_error)?;
        tokio::fs::rename(&partial, &path).await.map_err(io_error)
    }

    async fn get(&self, id: &str) -> hellocode_core::Result<Option<Arc<[u8]>>> {
        let Some(path) = self.path(id) else { return Ok(None) };
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes.into())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(io_error(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use hellocode_core::testing::TempDir;

    use super::*;
    use crate::media::process::content_id;

    #[tokio::test]
    async fn files_are_kept_under_their_address_and_read_back() {
        let dir = TempDir::new();
        let store = DirMediaStore::new(dir.0.join("media")).expect("store");
        let id = content_id(b"hello");
        store.put(&id, Arc::from(&b"hello"[..])).await.expect("put");
        store.put(&id, Arc::from(&b"hello"[..])).await.expect("put again");
        assert_eq!(store.get(&id).await.expect("get").as_deref(), Some(&b"hello"[..]));
        assert!(dir.0.join("media").join(&id[..2]).join(&id).is_file());
        assert_eq!(store.get(&content_id(b"other")).await.expect("get"), None);
        // Not an address: nothing outside the directory is ever touched.
        assert_eq!(store.get("../../etc/passwd").await.expect("get"), None);
        assert!(store.put("../x", Arc::from(&b"x"[..])).await.is_err());
    }
}
