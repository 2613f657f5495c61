//! A connection's send queue, bounded in frames and in bytes.
//!
//! Replies and events alike go through it; the frames are reference-counted, so the bytes
//! counted are those this queue keeps alive (an event shared by many queues counts in each).
//! A frame is refused when it would take the queue over its byte bound, unless the queue is
//! empty: a single large frame (a page of history) still goes through.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue holds its maximum of frames or bytes: the client does not keep up.
    Full,
    /// The connection is closing.
    Closed,
}

/// A queue of at most `frames` frames and about `bytes` bytes (see the module docs).
pub fn channel(frames: usize, bytes: usize) -> (QueueSender, QueueReceiver) {
    let (sender, receiver) = mpsc::channel(frames.max(1));
    let queued = Arc::new(AtomicUsize::new(0));
    (
        QueueSender { frames: sender, queued: queued.clone(), limit: bytes },
        QueueReceiver { frames: receiver, queued },
    )
}

/// The sending end; cheap to clone.
#[derive(Debug, Clone)]
pub struct QueueSender {
    frames: mpsc::Sender<Utf8Bytes>,
    queued: Arc<AtomicUsize>,
    limit: usize,
}

impl QueueSender {
    /// Queue `frame` now, or refuse it.
    pub fn try_send(&self, frame: Utf8Bytes) -> Result<(), Refused> {
        let len = frame.len();
        self.reserve(len)?;
        self.frames.try_send(frame).map_err(|err| {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            match err {
                mpsc::error::TrySendError::Full(_) => Refused::Full,
                mpsc::error::TrySendError::Closed(_) => Refused::Closed,
            }
        })
    }

    /// Queue `frame`, waiting for a free frame slot; refused at once over the byte bound.
    pub async fn send(&self, frame: Utf8Bytes) -> Result<(), Refused> {
        let len = frame.len();
        self.reserve(len)?;
        self.frames.send(frame).await.map_err(|_| {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            Refused::Closed
        })
    }

    fn reserve(&self, len: usize) -> Result<(), Refused> {
        self.queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |queued| {
                let total = queued.saturating_add(len);
                (queued == 0 || total <= self.limit).then_some(total)
            })
            .map(|_| ())
            .map_err(|_| Refused::Full)
    }
}

/// The receiving end.
#[derive(Debug)]
pub struct QueueReceiver {
    frames: mpsc::Receiver<Utf8Bytes>,
    queued: Arc<AtomicUsize>,
}

impl QueueReceiver {
    /// The next frame; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Utf8Bytes> {
        let frame = self.frames.recv().await?;
        self.queued.fetch_sub(frame.len(), Ordering::Relaxed);
        Some(frame)
    }

    /// The next frame if one is queued.
    pub fn try_recv(&mut self) -> Option<Utf8Bytes> {
        let frame = self.frames.try_recv().ok()?;
        self.queued.fetch_sub(frame.len(), Ordering::Relaxed);
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
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
        while receiver.try_recv().is_some() {}
        assert_eq!(sender.try_send(frame(500)), Ok(()), "a large frame goes to an empty queue");
        drop(receiver);
        assert_eq!(sender.try_send(frame(1)), Err(Refused::Full), "still counted");
    }

    #[tokio::test]
    async fn a_closed_queue_refuses_and_frees_its_reservation() {
        let (sender, receiver) = channel(3, 100);
        drop(receiver);
        assert_eq!(sender.send(frame(10)).await, Err(Refused::Closed));
        assert_eq!(sender.try_send(frame(100)), Err(Refused::Closed), "nothing is counted");
    }
}
