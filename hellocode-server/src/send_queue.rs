//! A connection's send queue, bounded in frames and in bytes.
//!
//! Replies and events alike go through it; the frames are reference-counted, so the bytes
//! counted are those this queue keeps alive (an event shared by many queues counts in each).
//! A frame is refused when it would take the queue over its byte bound, unless the queue is
//! empty: a single large frame (a page of history) still goes through.
//!
//! Its own small queue rather than a tokio channel: an idle connection's queue holds no frame
//! storage (a tokio channel allocates a block of 32 slots up front, 1.4 KiB with its state per
//! connection, measured with heaptrack), the byte count lives under the same lock as the frames,
//! and a writer busy writing is not woken again by the frames queued meanwhile (the writer's
//! waker is taken by the first of them).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue holds its maximum of frames or bytes: the client does not keep up.
    Full,
    /// The connection is closing.
    Closed,
}

/// An emptied queue keeps at most this many frame slots (a burst's storage is given back).
const KEPT_CAPACITY: usize = 64;

/// A queue of at most `frames` frames and about `bytes` bytes (see the module docs).
pub fn channel(frames: usize, bytes: usize) -> (QueueSender, QueueReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            frames: VecDeque::new(),
            bytes: 0,
            senders: 1,
            receiver_gone: false,
            receiver: None,
        }),
        room: Notify::new(),
        max_frames: frames.max(1),
        max_bytes: bytes,
    });
    (QueueSender { shared: shared.clone() }, QueueReceiver { shared })
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Notified when a full queue (in frames) gets room, or the receiver goes.
    room: Notify,
    max_frames: usize,
    max_bytes: usize,
}

#[derive(Debug)]
struct State {
    frames: VecDeque<Utf8Bytes>,
    /// Bytes of the frames queued.
    bytes: usize,
    /// Live senders; at 0 the receiver ends once the queue is empty.
    senders: usize,
    receiver_gone: bool,
    /// The receiver, waiting for a frame.
    receiver: Option<Waker>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `frame` if there is room. `Err(Ok(frame))`: no free frame slot (the caller may
    /// wait for one); `Err(Err(refused))`: refused.
    fn push(&self, frame: Utf8Bytes) -> Result<(), Result<Utf8Bytes, Refused>> {
        let mut state = self.lock();
        if state.receiver_gone {
            return Err(Err(Refused::Closed));
        }
        let total = state.bytes.saturating_add(frame.len());
        if !state.frames.is_empty() && total > self.max_bytes {
            return Err(Err(Refused::Full));
        }
        if state.frames.len() >= self.max_frames {
            return Err(Ok(frame));
        }
        state.bytes = total;
        state.frames.push_back(frame);
        let waiting = state.receiver.take();
        drop(state);
        if let Some(receiver) = waiting {
            receiver.wake();
        }
        Ok(())
    }
}

/// The sending end; cheap to clone.
#[derive(Debug)]
pub struct QueueSender {
    shared: Arc<Shared>,
}

impl Clone for QueueSender {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        QueueSender { shared: self.shared.clone() }
    }
}

impl Drop for QueueSender {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.senders -= 1;
        let waiting = if state.senders == 0 { state.receiver.take() } else { None };
        drop(state);
        if let Some(receiver) = waiting {
            receiver.wake();
        }
    }
}

impl QueueSender {
    /// Queue `frame` now, or refuse it.
    pub fn try_send(&self, frame: Utf8Bytes) -> Result<(), Refused> {
        self.shared.push(frame).map_err(|refused| refused.err().unwrap_or(Refused::Full))
    }

    /// Queue `frame`, waiting for a free frame slot; refused at once over the byte bound.
    pub async fn send(&self, frame: Utf8Bytes) -> Result<(), Refused> {
        let mut frame = frame;
        loop {
            let room = self.shared.room.notified();
            let mut room = std::pin::pin!(room);
            // Registered before looking, so that room made after the look is not missed.
            room.as_mut().enable();
            match self.shared.push(frame) {
                Ok(()) => return Ok(()),
                Err(Err(refused)) => return Err(refused),
                Err(Ok(back)) => frame = back,
            }
            room.await;
        }
    }
}

/// The receiving end.
#[derive(Debug)]
pub struct QueueReceiver {
    shared: Arc<Shared>,
}

impl QueueReceiver {
    /// The next frame; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Utf8Bytes> {
        poll_fn(|cx| {
            let mut state = self.shared.lock();
            if let Some(frame) = self.take(&mut state) {
                return Poll::Ready(Some(frame));
            }
            if state.senders == 0 {
                return Poll::Ready(None);
            }
            match &mut state.receiver {
                Some(waker) => waker.clone_from(cx.waker()),
                None => state.receiver = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }

    /// The next frame if one is queued.
    pub fn try_recv(&mut self) -> Option<Utf8Bytes> {
        let mut state = self.shared.lock();
        self.take(&mut state)
    }

    fn take(&self, state: &mut State) -> Option<Utf8Bytes> {
        let was_full = state.frames.len() >= self.shared.max_frames;
        let frame = state.frames.pop_front()?;
        state.bytes -= frame.len();
        if state.frames.is_empty() && state.frames.capacity() > KEPT_CAPACITY {
            state.frames = VecDeque::new();
        }
        if was_full {
            self.shared.room.notify_waiters();
        }
        Some(frame)
    }
}

impl Drop for QueueReceiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_gone = true;
        let dropped = std::mem::take(&mut state.frames);
        state.bytes = 0;
        drop(state);
        drop(dropped);
        self.shared.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn frame(len: usize) -> Utf8Bytes {
        Utf8Bytes::from("x".repeat(len))
    }

    #[test]
    fn bounded_in_bytes_and_in_frames() {
        let (sender, mut receiver) = channel(3, 100);
        assert_eq!(sender.try_send(frame(60)), Ok(()));
        assert_eq!(sender.try_send(frame(60)), Err(Refused::Full), "over the byte bound");
        assert_eq!(sender.try_send(frame(40)), Ok(()), "exactly the bound");
        assert_eq!(receiver.try_recv().map(|f| f.len()), Some(60));
        assert_eq!(sender.try_send(frame(10)), Ok(()));
        assert_eq!(sender.try_send(frame(10)), Ok(()));
        assert_eq!(sender.try_send(frame(1)), Err(Refused::Full), "over the frame bound");
        let lengths: Vec<usize> =
            std::iter::from_fn(|| receiver.try_recv()).map(|f| f.len()).collect();
        assert_eq!(lengths, [40, 10, 10], "in order");
        assert_eq!(sender.try_send(frame(500)), Ok(()), "a large frame goes to an empty queue");
        drop(receiver);
        assert_eq!(sender.try_send(frame(1)), Err(Refused::Closed), "the receiver is gone");
    }

    #[tokio::test]
    async fn a_closed_queue_refuses() {
        let (sender, receiver) = channel(3, 100);
        drop(receiver);
        assert_eq!(sender.send(frame(10)).await, Err(Refused::Closed));
        assert_eq!(sender.try_send(frame(100)), Err(Refused::Closed));
    }

    #[tokio::test]
    async fn the_receiver_waits_for_frames_and_ends_with_the_last_sender() {
        let (sender, mut receiver) = channel(4, 1000);
        let other = sender.clone();
        let received = tokio::spawn(async move {
            let mut all = Vec::new();
            while let Some(frame) = receiver.recv().await {
                all.push(frame.to_string());
            }
            all
        });
        tokio::time::sleep(Duration::from_millis(10)).await; // the receiver waits
        sender.try_send(Utf8Bytes::from("a")).expect("queued");
        other.try_send(Utf8Bytes::from("b")).expect("queued");
        drop(sender);
        tokio::time::sleep(Duration::from_millis(10)).await;
        other.try_send(Utf8Bytes::from("c")).expect("queued");
        drop(other);
        let all = tokio::time::timeout(Duration::from_secs(5), received).await.expect("ended");
        assert_eq!(all.expect("task"), ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn send_waits_for_a_free_slot_and_gives_up_when_the_receiver_goes() {
        let (sender, mut receiver) = channel(1, 1000);
        sender.try_send(Utf8Bytes::from("first")).expect("queued");
        let waiting = tokio::spawn({
            let sender = sender.clone();
            async move { sender.send(Utf8Bytes::from("second")).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiting.is_finished(), "no free slot yet");
        assert_eq!(receiver.recv().await.as_deref(), Some("first"));
        let sent = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken");
        assert_eq!(sent.expect("task"), Ok(()));
        assert_eq!(receiver.recv().await.as_deref(), Some("second"));

        sender.try_send(Utf8Bytes::from("third")).expect("queued");
        let waiting = tokio::spawn({
            let sender = sender.clone();
            async move { sender.send(Utf8Bytes::from("fourth")).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(receiver);
        let sent = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken");
        assert_eq!(sent.expect("task"), Err(Refused::Closed));
    }

    #[test]
    fn an_emptied_queue_gives_back_a_burst_of_storage() {
        let (sender, mut receiver) = channel(1024, 1 << 20);
        for _ in 0..500 {
            sender.try_send(frame(1)).expect("queued");
        }
        while receiver.try_recv().is_some() {}
        assert!(receiver.shared.lock().frames.capacity() <= KEPT_CAPACITY);
        assert_eq!(receiver.shared.lock().bytes, 0);
    }
}
