//! The socket of an admitted connection: it holds the connection's [`Permit`] (released when the
//! socket is dropped, also after a WebSocket upgrade) and stamps the time of every write that
//! made progress, so that a stalled write can be told from a slow one.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::limits::Permit;

/// When a socket last accepted written bytes.
#[derive(Debug)]
pub struct WriteProgress {
    start: Instant,
    /// Milliseconds since `start` of the last write that accepted bytes.
    last: AtomicU64,
}

impl WriteProgress {
    /// Progress as of now.
    pub fn new() -> Self {
        WriteProgress { start: Instant::now(), last: AtomicU64::new(0) }
    }

    /// Record that a write accepted bytes.
    pub fn record(&self) {
        self.last.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// When a write last accepted bytes (or when this was created, if none has).
    pub fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }
}

impl Default for WriteProgress {
    fn default() -> Self {
        WriteProgress::new()
    }
}

/// A TCP stream with its connection permit and write progress.
#[derive(Debug)]
pub(super) struct Tracked {
    stream: TcpStream,
    _permit: Permit,
    progress: std::sync::Arc<WriteProgress>,
}

impl Tracked {
    pub(super) fn new(
        stream: TcpStream,
        permit: Permit,
        progress: std::sync::Arc<WriteProgress>,
    ) -> Self {
        Tracked { stream, _permit: permit, progress }
    }

    fn record(&self, result: &Poll<std::io::Result<usize>>) {
        if matches!(result, Poll::Ready(Ok(written)) if *written > 0) {
            self.progress.record();
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.record(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.record(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
