//! Each chat's appends in order without running them one at a time.
//!
//! An append enters storage while holding its chat's entry lock, so the store numbers a chat's
//! appends in the order they entered ([`Storage::start_append`]); then the lock is free for
//! the next one, and several appends of one chat can share a commit (group commit). Each append
//! publishes only after the one that entered before it has published (or given up), so
//! participants receive a chat's messages in sequence order.
//!
//! A change of a chat that numbers its events itself (an edit, a membership change) holds the
//! entry lock while it waits for the appends before it to publish. Whoever must publish those
//! appends may be about to enter the same line (a connection finishes its pipelined appends
//! in order, and may be starting the next one): [`ChatOrder::until_a_change_waits`] tells it to
//! finish what it holds meanwhile.
//!
//! [`Storage::start_append`]: hellocode_core::storage::Storage::start_append

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use hellocode_core::model::ChatId;
use tokio::sync::{oneshot, watch};

/// The lines of every chat with an append in flight.
#[derive(Debug)]
pub(crate) struct ChatOrder {
    chats: Mutex<HashMap<ChatId, Arc<Line>>>,
    /// How many changes hold their chat's entry lock while they wait for earlier appends.
    changes_waiting: watch::Sender<usize>,
}

impl Default for ChatOrder {
    fn default() -> Self {
        ChatOrder { chats: Mutex::default(), changes_waiting: watch::Sender::new(0) }
    }
}

/// Counts a change as waiting for as long as it lives (also when its future is dropped).
struct ChangeWaiting<'a>(&'a watch::Sender<usize>);

impl<'a> ChangeWaiting<'a> {
    fn new(count: &'a watch::Sender<usize>) -> Self {
        count.send_modify(|waiting| *waiting += 1);
        ChangeWaiting(count)
    }
}

impl Drop for ChangeWaiting<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|waiting| *waiting -= 1);
    }
}

/// One chat's line: the entry lock, holding the signal of the last append to enter.
#[derive(Debug, Default)]
struct Line {
    last: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

/// An append's place in its chat's line. Dropping it lets the next append publish.
#[derive(Debug)]
pub(crate) struct Place<'a> {
    order: &'a ChatOrder,
    chat: ChatId,
    line: Arc<Line>,
    previous: Option<oneshot::Receiver<()>>,
    /// Dropped (never sent) to tell the next append its turn has come.
    done: Option<oneshot::Sender<()>>,
}

impl ChatOrder {
    /// Run `enter` (which hands an append of `chat` to storage) after every earlier append of
    /// the chat has entered; returns its output and the append's place in line.
    pub(crate) async fn enter<F: Future>(&self, chat: ChatId, enter: F) -> (F::Output, Place<'_>) {
        self.enter_line(chat, false, enter).await
    }

    /// Run `write` — a change that numbers its events in a transaction of its own (an edit, a
    /// membership change), not in the append queue — once every earlier entrant of `chat` has
    /// published (so has been committed), while holding the entry lock (so no later append
    /// takes a number first). Its events then publish in sequence order with the appends'.
    pub(crate) async fn enter_alone<F: Future>(
        &self,
        chat: ChatId,
        write: F,
    ) -> (F::Output, Place<'_>) {
        self.enter_line(chat, true, write).await
    }

    async fn enter_line<F: Future>(
        &self,
        chat: ChatId,
        alone: bool,
        enter: F,
    ) -> (F::Output, Place<'_>) {
        let line = {
            let mut chats = self.chats.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(chats.entry(chat).or_default())
        };
        // From here on, `place`'s drop releases the line, even if this future is dropped.
        let mut place = Place { order: self, chat, line, previous: None, done: None };
        let line = Arc::clone(&place.line);
        let mut last = line.last.lock().await;
        if alone && let Some(previous) = last.take() {
            let _waiting = ChangeWaiting::new(&self.changes_waiting);
            // An error only means the earlier entrant is done without signalling.
            let _ = previous.await;
        }
        let output = enter.await;
        let (done, next) = oneshot::channel();
        place.previous = last.replace(next);
        place.done = Some(done);
        drop(last);
        (output, place)
    }

    /// Resolves while (or once) some change holds its chat's entry lock waiting for earlier
    /// appends to publish: an append waiting to enter may be waiting for it, and the appends it
    /// waits for may be the caller's to publish. Any chat's change counts: changes are rare, so
    /// a caller that finishes its appends early for another chat's loses little.
    pub(crate) fn until_a_change_waits(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut waiting = self.changes_waiting.subscribe();
        async move {
            if waiting.wait_for(|waiting| *waiting > 0).await.is_err() {
                // The order is gone (the server is stopping): nothing will wait again.
                std::future::pending::<()>().await;
            }
        }
    }

    /// How many chats have appends in flight.
    #[cfg(test)]
    fn chats_in_flight(&self) -> usize {
        self.chats.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Place<'_> {
    /// Wait until the append that entered before this one has published or given up.
    pub(crate) async fn turn(&mut self) {
        if let Some(previous) = self.previous.take() {
            // An error only means the earlier append is done without signalling: also a turn.
            let _ = previous.await;
        }
    }
}

impl Place<'_> {
    /// Run `publish` in this append's turn: after the earlier append has published, and
    /// before the next one may.
    pub(crate) async fn in_turn<F: Future>(mut self, publish: F) -> F::Output {
        self.turn().await;
        publish.await
        // `self` drops here, letting the next append publish.
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        drop(self.done.take());
        let mut chats = self.order.chats.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the chat when no other append holds or waits in its line (two references:
        // the map's and ours), so the map holds only chats with appends in flight.
        if Arc::strong_count(&self.line) == 2
            && chats.get(&self.chat).is_some_and(|line| Arc::ptr_eq(line, &self.line))
        {
            chats.remove(&self.chat);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::FutureExt;

    use super::*;

    #[tokio::test]
    async fn an_append_publishes_after_the_one_that_entered_before_it() {
        let order = ChatOrder::default();
        let (_, mut first) = order.enter(ChatId(1), async {}).await;
        let (_, mut second) = order.enter(ChatId(1), async {}).await;
        let (_, mut third) = order.enter(ChatId(1), async {}).await;
        // The first has no one before it; the later ones wait, even if they finished first.
        assert!(first.turn().now_or_never().is_some());
        assert!(third.turn().now_or_never().is_none(), "third waits for second");
        let mut second_turn = Box::pin(second.turn());
        assert!(second_turn.as_mut().now_or_never().is_none(), "second waits for first");
        drop(first);
        assert!(second_turn.now_or_never().is_some(), "first done: second's turn");
        drop(second);
        assert!(third.turn().now_or_never().is_some(), "second done: third's turn");
        drop(third);
        assert_eq!(order.chats_in_flight(), 0, "an idle chat is forgotten");
    }

    #[tokio::test]
    async fn a_write_alone_waits_for_earlier_appends_to_publish_and_holds_later_ones() {
        let order = Arc::new(ChatOrder::default());
        let (_, first) = order.enter(ChatId(1), async {}).await;
        let ran = Arc::new(AtomicUsize::new(0));
        let write = {
            let (order, ran) = (order.clone(), ran.clone());
            tokio::spawn(async move {
                let (_, place) = order
                    .enter_alone(ChatId(1), async {
                        ran.fetch_add(1, Ordering::SeqCst);
                    })
                    .await;
                place.in_turn(async {}).await;
            })
        };
        let mut told = Box::pin(order.until_a_change_waits());
        tokio::task::yield_now().await;
        assert_eq!(ran.load(Ordering::SeqCst), 0, "the append before it has not published");
        assert!(told.as_mut().now_or_never().is_some(), "those entering are told a change waits");
        // A later append cannot enter (and take a number) while the write waits.
        let later = order.enter(ChatId(1), async {});
        let mut later = Box::pin(later);
        assert!(later.as_mut().now_or_never().is_none(), "the later append waits at the door");
        drop(first);
        write.await.expect("the write ran");
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        let (_, mut after) = later.await;
        assert!(after.turn().now_or_never().is_some(), "the write has published");
        assert!(order.until_a_change_waits().now_or_never().is_none(), "no change waits any more");
    }

    #[tokio::test]
    async fn chats_do_not_wait_for_each_other() {
        let order = ChatOrder::default();
        let (_, _held) = order.enter(ChatId(1), async {}).await;
        let (_, mut other) = order.enter(ChatId(2), async {}).await;
        assert!(other.turn().now_or_never().is_some());
        assert_eq!(order.chats_in_flight(), 2);
    }

    #[tokio::test]
    async fn appends_enter_one_at_a_time() {
        let order = ChatOrder::default();
        let entered = AtomicUsize::new(0);
        let (release, held) = oneshot::channel::<()>();
        let mut first = Box::pin(order.enter(ChatId(1), async {
            entered.fetch_add(1, Ordering::SeqCst);
            let _ = held.await;
        }));
        assert!(first.as_mut().now_or_never().is_none(), "first is still entering");
        let mut second = Box::pin(order.enter(ChatId(1), async {
            entered.fetch_add(1, Ordering::SeqCst);
        }));
        assert!(second.as_mut().now_or_never().is_none(), "second waits at the entry");
        assert_eq!(entered.load(Ordering::SeqCst), 1);
        release.send(()).expect("first is waiting");
        let (_, first_place) = first.await;
        let (_, mut second_place) = second.await;
        assert_eq!(entered.load(Ordering::SeqCst), 2);
        assert!(second_place.turn().now_or_never().is_none(), "entered second, publishes second");
        drop(first_place);
        assert!(second_place.turn().now_or_never().is_some());
    }

    #[tokio::test]
    async fn an_abandoned_entry_leaves_the_line_usable() {
        let order = ChatOrder::default();
        let (_never_sent, held) = oneshot::channel::<()>();
        let mut stuck = Box::pin(order.enter(ChatId(1), async move {
            let _ = held.await;
        }));
        assert!(stuck.as_mut().now_or_never().is_none());
        drop(stuck);
        assert_eq!(order.chats_in_flight(), 0);
        let (_, mut next) = order.enter(ChatId(1), async {}).await;
        assert!(next.turn().now_or_never().is_some());
    }
}
