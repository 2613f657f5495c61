//! A connection's appends waiting for their commit, and the replies that must follow them.
//!
//! The reader starts an append (it takes its place in its chat's line and is handed to
//! storage) and reads on, instead of waiting for the commit. The appends then finish in the
//! order they were sent: commit, publication in the chat's turn, reply. The reader finishes
//! them while it waits for anything else: at once for another command; for the next append's
//! place in line, once a change of a chat holds a line waiting for earlier appends to publish
//! (the next append may wait behind that change, and the change for one of them).
//!
//! It fills, then drains: the connection reads more commands only while none of its appends
//! has finished yet; once one has, all finish before it reads again. Under load, a sender's
//! waiting messages so enter storage together, share a commit and publish back to back, and
//! each member of the chat gets them in one write. Refilling as each one finished ("one in,
//! one out") spread them over as many commits and writes as messages: measured on the
//! many-rooms benchmark, twice the server's CPU per delivery (BENCHMARKS.md, "Third pass").

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A connection's appends in flight at once, at most.
pub const PIPELINE_DEPTH: usize = 32;
/// The text of a connection's appends in flight, at most (bytes): with the depth, what one
/// connection can make the server hold for it.
pub const PIPELINE_BYTES: usize = 64 * 1024;

/// What finishing one entry comes to: its reply, serialized, if any.
pub(super) type Finishing<'a> = Pin<Box<dyn Future<Output = Option<Utf8Bytes>> + Send + 'a>>;

/// The appends in flight of one connection, in the order sent, with the replies after them.
pub(super) struct Pipeline<'a> {
    entries: VecDeque<(usize, Finishing<'a>)>,
    /// The text of the entries, in bytes.
    bytes: usize,
    /// Whether it reads on: set when empty, cleared when an entry finishes.
    filling: bool,
}

impl<'a> Pipeline<'a> {
    pub(super) fn new() -> Self {
        Pipeline { entries: VecDeque::new(), bytes: 0, filling: true }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the connection may read its next command now.
    pub(super) fn reads(&self) -> bool {
        self.filling && self.entries.len() < PIPELINE_DEPTH && self.bytes < PIPELINE_BYTES
    }

    /// Read no more until every entry has finished.
    pub(super) fn stop_filling(&mut self) {
        if !self.entries.is_empty() {
            self.filling = false;
        }
    }

    /// An append of `bytes` of text, finished by `finishing`.
    pub(super) fn push(&mut self, bytes: usize, finishing: Finishing<'a>) {
        self.bytes += bytes;
        self.entries.push_back((bytes, finishing));
    }

    /// A reply, to send once the entries before it have finished.
    pub(super) fn push_reply(&mut self, reply: Utf8Bytes) {
        self.push(0, Box::pin(std::future::ready(Some(reply))));
    }

    /// The first entry's reply once it has finished; never while there is none. Only the first
    /// is polled: the others' commits go on without it, and each publishes after the one
    /// before. Cancel-safe: an entry is removed only once finished.
    pub(super) async fn first_finished(&mut self) -> Option<Utf8Bytes> {
        let reply = self.finish_first().await;
        self.filling = self.entries.is_empty();
        reply
    }

    async fn finish_first(&mut self) -> Option<Utf8Bytes> {
        let Some((_, first)) = self.entries.front_mut() else {
            return std::future::pending().await;
        };
        let reply = first.await;
        if let Some((bytes, _)) = self.entries.pop_front() {
            self.bytes -= bytes;
        }
        reply
    }

    /// The next entry's reply once finished: `None` when there is none left.
    pub(super) async fn next_finished(&mut self) -> Option<Option<Utf8Bytes>> {
        if self.is_empty() {
            return None;
        }
        Some(self.first_finished().await)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;
    use tokio::sync::oneshot;

    use super::*;

    fn reply(text: &str) -> Utf8Bytes {
        Utf8Bytes::from(text.to_owned())
    }

    /// An entry that finishes with `text` when its sender is dropped or sent to.
    fn waiting(text: &'static str) -> (oneshot::Sender<()>, Finishing<'static>) {
        let (commit, committed) = oneshot::channel::<()>();
        (commit, Box::pin(async move { committed.await.ok().map(|()| reply(text)) }))
    }

    #[test]
    fn it_fills_until_an_entry_finishes_then_drains_before_reading_again() {
        let mut pipeline = Pipeline::new();
        let (first_commit, first) = waiting("first");
        let (second_commit, second) = waiting("second");
        pipeline.push(10, first);
        pipeline.push(10, second);
        assert!(pipeline.reads(), "nothing finished yet: it reads on");
        assert!(
            pipeline.first_finished().now_or_never().is_none(),
            "the first waits for its commit"
        );
        // The second commits first: still nothing to send, as the first comes first.
        second_commit.send(()).expect("waiting");
        assert!(pipeline.first_finished().now_or_never().is_none());
        assert!(pipeline.reads());
        first_commit.send(()).expect("waiting");
        assert_eq!(pipeline.first_finished().now_or_never(), Some(Some(reply("first"))));
        assert!(!pipeline.reads(), "one finished: the rest finish before it reads again");
        assert_eq!(pipeline.first_finished().now_or_never(), Some(Some(reply("second"))));
        assert!(pipeline.is_empty());
        assert!(pipeline.reads(), "empty: it reads again");
        assert!(pipeline.first_finished().now_or_never().is_none(), "nothing to finish");
        assert_eq!(pipeline.next_finished().now_or_never(), Some(None));
    }

    #[test]
    fn it_can_be_told_to_stop_filling() {
        let mut pipeline = Pipeline::new();
        pipeline.stop_filling();
        assert!(pipeline.reads(), "empty: nothing to finish first");
        let (commit, append) = waiting("ack");
        pipeline.push(3, append);
        pipeline.stop_filling();
        assert!(!pipeline.reads(), "it finishes what it holds first");
        commit.send(()).expect("waiting");
        assert_eq!(pipeline.first_finished().now_or_never(), Some(Some(reply("ack"))));
        assert!(pipeline.reads());
    }

    #[test]
    fn a_reply_after_appends_waits_for_them() {
        let mut pipeline = Pipeline::new();
        let (commit, append) = waiting("ack");
        pipeline.push(5, append);
        pipeline.push_reply(reply("pong"));
        assert!(pipeline.next_finished().now_or_never().is_none(), "the ack comes first");
        drop(commit); // given up: finished without a reply
        assert_eq!(pipeline.next_finished().now_or_never(), Some(Some(None)));
        assert_eq!(pipeline.next_finished().now_or_never(), Some(Some(Some(reply("pong")))));
        assert_eq!(pipeline.bytes, 0);
    }

    #[test]
    fn it_holds_at_most_its_depth_and_its_bytes() {
        let mut pipeline = Pipeline::new();
        for _ in 0..PIPELINE_DEPTH {
            assert!(pipeline.reads());
            pipeline.push(1, Box::pin(std::future::pending()));
        }
        assert!(!pipeline.reads(), "{PIPELINE_DEPTH} in flight");

        let mut pipeline = Pipeline::new();
        pipeline.push(PIPELINE_BYTES - 1, Box::pin(std::future::pending()));
        assert!(pipeline.reads());
        pipeline.push(1, Box::pin(std::future::pending()));
        assert!(!pipeline.reads(), "{PIPELINE_BYTES} bytes in flight");
    }
}
