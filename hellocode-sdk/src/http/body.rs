//! A request body handed to the connection in chunks, reporting progress as it goes; the wait
//! for the server's `100 Continue` before the first chunk; and the clock that tells a stalled
//! transfer from a slow one.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Progress;

/// How much of a body is handed to the connection at a time (and so, how often progress is
/// reported).
pub(crate) const CHUNK: usize = 64 * 1024;

/// When a transfer last moved: each chunk sent or received touches it.
#[derive(Debug, Clone)]
pub(crate) struct Activity(Arc<Mutex<Instant>>);

impl Activity {
    pub(crate) fn new() -> Self {
        Activity(Arc::new(Mutex::new(Instant::now())))
    }

    pub(crate) fn touch(&self) {
        if let Ok(mut last) = self.0.lock() {
            *last = Instant::now();
        }
    }

    pub(crate) fn last(&self) -> Instant {
        self.0.lock().map_or_else(|_| Instant::now(), |last| *last)
    }
}

/// Holds a body back until the server says `100 Continue` (or a short while passes: a server
/// need not answer `Expect: 100-continue`). A server that refuses the request from its headers
/// alone (413: the length is over its limit) answers without reading the body; sent anyway, the
/// body would run into the closed connection and the refusal would be lost.
pub(crate) struct Gate(Pin<Box<dyn Future<Output = ()> + Send>>);

/// The other end of a [`Gate`]: opens it.
pub(crate) type Opener = oneshot::Sender<()>;

impl Gate {
    /// A closed gate that opens when told or after `wait`.
    pub(crate) fn new(wait: Duration) -> (Gate, Opener) {
        let (open, opened) = oneshot::channel();
        let waiting = async move {
            let _ = tokio::time::timeout(wait, opened).await;
        };
        (Gate(Box::pin(waiting)), open)
    }
}

/// The bytes of an upload (or nothing, for a download), of a known length: hyper sends it with
/// a `Content-Length`, which the server requires.
pub(crate) struct Upload {
    data: Bytes,
    sent: usize,
    progress: Option<Progress>,
    activity: Activity,
    gate: Option<Gate>,
}

impl Upload {
    pub(crate) fn new(data: Bytes, progress: Option<Progress>, activity: Activity) -> Self {
        Upload { data, sent: 0, progress, activity, gate: None }
    }

    /// The same body, held back until `gate` opens.
    pub(crate) fn gated(mut self, gate: Gate) -> Self {
        self.gate = Some(gate);
        self
    }
}

impl Body for Upload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.sent >= this.data.len() {
            return Poll::Ready(None);
        }
        if let Some(gate) = &mut this.gate {
            if gate.0.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.gate = None;
        }
        // Asked for the next chunk: the connection has taken the previous ones.
        let end = this.data.len().min(this.sent + CHUNK);
        let chunk = this.data.slice(this.sent..end);
        this.sent = end;
        this.activity.touch();
        if let Some(progress) = &this.progress {
            progress(end as u64, this.data.len() as u64);
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= self.data.len()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact((self.data.len() - self.sent) as u64)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn a_body_comes_in_chunks_with_increasing_progress_ending_at_its_length() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let progress: Progress = Arc::new(move |done, total| {
            seen.lock().expect("calls").push((done, total));
        });
        let data = Bytes::from(vec![7u8; 2 * CHUNK + 10]);
        let mut body = Upload::new(data.clone(), Some(progress), Activity::new());
        assert_eq!(body.size_hint().exact(), Some(data.len() as u64));
        let mut collected = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("infallible");
            collected.extend_from_slice(frame.data_ref().expect("data"));
        }
        assert_eq!(collected, data);
        let total = data.len() as u64;
        let expected = vec![(CHUNK as u64, total), (2 * CHUNK as u64, total), (total, total)];
        assert_eq!(*calls.lock().expect("calls"), expected);
        assert!(body.is_end_stream());
    }

    #[tokio::test(start_paused = true)]
    async fn a_gated_body_waits_to_be_told_or_for_its_time() {
        let (gate, open) = Gate::new(Duration::from_secs(1));
        let mut body = Upload::new(Bytes::from_static(b"abc"), None, Activity::new()).gated(gate);
        let early = tokio::time::timeout(Duration::from_millis(500), body.frame()).await;
        assert!(early.is_err(), "held back");
        open.send(()).expect("the gate listens");
        assert!(body.frame().await.is_some(), "opened");

        let (gate, _open) = Gate::new(Duration::from_secs(1));
        let mut body = Upload::new(Bytes::from_static(b"abc"), None, Activity::new()).gated(gate);
        let started = Instant::now();
        assert!(body.frame().await.is_some(), "opened by its time");
        assert!(started.elapsed() >= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn an_empty_body_ends_at_once() {
        let mut body = Upload::new(Bytes::new(), None, Activity::new());
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());
    }
}
