//! The hub's cache of chat memberships.
//!
//! A miss loads the participants from storage, and a membership change can land while that load
//! is in flight: the loaded list may then predate the change. Every invalidation bumps a
//! generation; a load caches its result only if no invalidation happened since it started, so a
//! removed participant cannot linger in the cache (the event that caused the load is still
//! delivered with what was loaded).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use hellocode_core::model::ChatId;

/// Participants by chat.
#[derive(Debug, Default)]
pub(super) struct MemberCache {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Bumped by every invalidation.
    generation: u64,
    chats: HashMap<ChatId, Arc<[String]>>,
}

impl MemberCache {
    /// The participants of `chat`, from the cache or from `load` (`Ok(None)`: no such chat).
    pub(super) async fn get_or_load<E>(
        &self,
        chat: ChatId,
        load: impl Future<Output = Result<Option<Vec<String>>, E>>,
    ) -> Result<Option<Arc<[String]>>, E> {
        let generation = {
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            if let Some(members) = inner.chats.get(&chat) {
                return Ok(Some(members.clone()));
            }
            inner.generation
        };
        let Some(loaded) = load.await? else { return Ok(None) };
        let members: Arc<[String]> = loaded.into();
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.generation == generation {
            inner.chats.insert(chat, members.clone());
        }
        Ok(Some(members))
    }

    /// Forget `chat`'s participants (they changed, or the chat is gone).
    pub(super) fn invalidate(&self, chat: ChatId) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.chats.remove(&chat);
    }

    /// Forget everything.
    pub(super) fn clear(&self) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.chats.clear();
    }

    #[cfg(test)]
    fn cached(&self, chat: ChatId) -> Option<Arc<[String]>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).chats.get(&chat).cloned()
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
        cache.invalidate(chat);
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
