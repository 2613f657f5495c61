//! The hub's caches of chat memberships: the participants of each chat, and each connected
//! user's chat partners (for presence).
//!
//! A miss loads the participants from storage, and a membership change can land while that load
//! is in flight: the loaded list may then predate the change. Every invalidation bumps a
//! generation; a load caches its result only if no invalidation happened since it started, so a
//! removed participant cannot linger in the cache (the event that caused the load is still
//! delivered with what was loaded).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

use hellocode_core::model::ChatId;

/// Lists of usernames by key: participants by chat ([`ChatId`]), partners by user (`String`).
#[derive(Debug)]
pub(super) struct MemberCache<K = ChatId> {
    inner: RwLock<Inner<K>>,
}

impl<K> Default for MemberCache<K> {
    fn default() -> Self {
        MemberCache { inner: RwLock::new(Inner { generation: 0, lists: HashMap::new() }) }
    }
}

#[derive(Debug)]
struct Inner<K> {
    /// Bumped by every invalidation.
    generation: u64,
    lists: HashMap<K, Arc<[String]>>,
}

impl<K: Eq + Hash> MemberCache<K> {
    /// The list of `key`, from the cache or from `load` (`Ok(None)`: no such chat).
    pub(super) async fn get_or_load<E>(
        &self,
        key: K,
        load: impl Future<Output = Result<Option<Vec<String>>, E>>,
    ) -> Result<Option<Arc<[String]>>, E> {
        self.get_or_load_if(key, load, || true).await
    }

    /// [`get_or_load`](Self::get_or_load), caching what was loaded only if `keep` says so
    /// when it is stored (with the cache locked, so that a [`forget`](Self::forget) after
    /// `keep` said no longer cannot be overtaken).
    pub(super) async fn get_or_load_if<E>(
        &self,
        key: K,
        load: impl Future<Output = Result<Option<Vec<String>>, E>>,
        keep: impl FnOnce() -> bool,
    ) -> Result<Option<Arc<[String]>>, E> {
        let generation = {
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            if let Some(list) = inner.lists.get(&key) {
                return Ok(Some(list.clone()));
            }
            inner.generation
        };
        let Some(loaded) = load.await? else { return Ok(None) };
        let list: Arc<[String]> = loaded.into();
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.generation == generation && keep() {
            inner.lists.insert(key, list.clone());
        }
        Ok(Some(list))
    }

    /// Forget `key`'s list (it changed, or the chat is gone).
    pub(super) fn invalidate(&self, key: &K) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.lists.remove(key);
    }

    /// Drop `key`'s list to save its memory: it is still valid, so loads in flight may cache
    /// theirs.
    pub(super) fn forget(&self, key: &K) {
        self.inner.write().unwrap_or_else(|e| e.into_inner()).lists.remove(key);
    }

    /// Forget everything.
    pub(super) fn clear(&self) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.lists.clear();
    }

    #[cfg(test)]
    fn cached(&self, key: K) -> Option<Arc<[String]>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).lists.get(&key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tokio::sync::oneshot;

    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    /// The race, made deterministic: the load blocks until membership has changed (and been
    /// invalidated), then returns the list it read before the change.
    #[tokio::test]
    async fn a_load_overtaken_by_a_membership_change_is_not_cached() {
        let cache = Arc::new(MemberCache::default());
        let chat = ChatId(7);
        let (entered, loading) = oneshot::channel::<()>();
        let (release, released) = oneshot::channel::<()>();
        let task = tokio::spawn({
            let cache = cache.clone();
            async move {
                cache
                    .get_or_load(chat, async move {
                        let stale = names(&["alice", "bob"]); // read before bob was removed
                        let _ = entered.send(());
                        let _ = released.await;
                        Ok::<_, Infallible>(Some(stale))
                    })
                    .await
            }
        });
        loading.await.expect("the load started");
        // Bob is removed and MembersChanged is delivered while the load is in flight.
        cache.invalidate(&chat);
        release.send(()).expect("the load waits");
        let delivered = task.await.expect("no panic").expect("loaded");
        assert_eq!(delivered.as_deref().map(<[String]>::len), Some(2), "this event used it");
        assert_eq!(cache.cached(chat), None, "the stale list was not cached");
        // The next event loads the current list and caches it.
        let current = cache
            .get_or_load(chat, async { Ok::<_, Infallible>(Some(names(&["alice"]))) })
            .await
            .expect("loaded");
        assert_eq!(current.as_deref(), Some(&names(&["alice"])[..]));
        assert_eq!(cache.cached(chat).as_deref(), Some(&names(&["alice"])[..]));
    }

    /// A list loaded for a key no longer wanted (the partners of a user whose last connection
    /// closed meanwhile) is answered but not cached; forgetting a list leaves later loads free
    /// to cache theirs.
    #[tokio::test]
    async fn a_list_not_kept_is_not_cached() {
        let cache = MemberCache::<String>::default();
        let ada = || "ada".to_owned();
        let load = || async { Ok::<_, Infallible>(Some(names(&["bob"]))) };
        let answered = cache.get_or_load_if(ada(), load(), || false).await.expect("loaded");
        assert_eq!(answered.as_deref(), Some(&names(&["bob"])[..]));
        assert_eq!(cache.cached(ada()), None, "not kept");
        cache.get_or_load_if(ada(), load(), || true).await.expect("loaded");
        assert!(cache.cached(ada()).is_some(), "kept");
        cache.forget(&ada());
        assert_eq!(cache.cached(ada()), None);
        cache.get_or_load(ada(), load()).await.expect("loaded");
        assert!(cache.cached(ada()).is_some(), "forgetting invalidates no load");
    }

    #[tokio::test]
    async fn hits_do_not_load_and_clear_forgets_everything() {
        let cache = MemberCache::default();
        let load =
            |list: &'static [&'static str]| async move { Ok::<_, Infallible>(Some(names(list))) };
        cache.get_or_load(ChatId(1), load(&["a"])).await.expect("loaded");
        let hit = cache.get_or_load(ChatId(1), load(&["b"])).await.expect("hit");
        assert_eq!(hit.as_deref(), Some(&names(&["a"])[..]), "served from the cache");
        cache.clear();
        assert_eq!(cache.cached(ChatId(1)), None);
        let none = cache
            .get_or_load(ChatId(2), async { Ok::<_, Infallible>(None) })
            .await
            .expect("loaded");
        assert_eq!(none, None, "no such chat");
    }
}
