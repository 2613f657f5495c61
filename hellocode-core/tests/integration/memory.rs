//! The conformance suite on the in-memory backend.

use std::sync::Arc;

use hellocode_core::storage::{MemoryMediaStore, MemoryStorage, Storage};

pub struct Fixture(Arc<dyn Storage>);

impl Fixture {
    pub fn storage(&self) -> Arc<dyn Storage> {
        self.0.clone()
    }

    pub async fn finish(self) {}
}

async fn get_store() -> Option<Fixture> {
    Some(Fixture(Arc::new(MemoryStorage::new())))
}

storage_conformance_tests!(get_store);

#[tokio::test]
async fn media_store_keeps_bytes_by_address() {
    crate::conformance::media_stores_keep_bytes_by_address(&MemoryMediaStore::default()).await;
}
