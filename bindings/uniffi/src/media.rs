//! Files: what an upload answers (`Attachment`, also what a message carries), a downloaded file
//! (`Download`), and the foreign progress callback (`TransferProgress`). The operations are
//! `Client` methods (`client.rs`).

use std::sync::Arc;

use hellocode_sdk as sdk;

/// A file a message carries, or that an upload answers with: an attachment of a chat (or an
/// avatar). Download it with `Client.download(id)`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Attachment {
    /// Its id (64 hex digits, the SHA-256 of the content): what `send_with_attachments` takes.
    pub id: String,
    /// The file name to offer.
    pub name: String,
    /// The type the server detected from the content, e.g. `image/png`.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// An image's width in pixels.
    pub width: Option<u32>,
    /// An image's height in pixels.
    pub height: Option<u32>,
    /// An image's thumbnail's id (`Client.download_thumbnail` fetches it by the image's id).
    pub thumbnail: Option<String>,
}

impl From<sdk::Attachment> for Attachment {
    fn from(a: sdk::Attachment) -> Self {
        Attachment {
            id: a.id,
            name: a.name,
            content_type: a.content_type,
            size: a.size,
            width: a.width,
            height: a.height,
            thumbnail: a.thumbnail,
        }
    }
}

/// A downloaded file.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct Download {
    /// The media type, e.g. `image/png` or `text/plain`.
    pub content_type: String,
    /// The bytes (Kotlin `ByteArray`, Swift `Data`).
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("content_type", &self.content_type)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl From<sdk::Download> for Download {
    fn from(d: sdk::Download) -> Self {
        Download { content_type: d.content_type, data: d.data }
    }
}

/// Told how far an upload or a download is. Called on one of the library's threads (not the
/// main thread), as each chunk is sent or received; keep it quick and do not throw.
#[uniffi::export(foreign)]
pub trait TransferProgress: Send + Sync {
    /// `done` bytes of `total` (`0` when a download's length is not known); the last call
    /// has `done == total`.
    fn on_progress(&self, done: u64, total: u64);
}

/// The foreign callback as the SDK's.
pub(crate) fn progress(callback: Option<Arc<dyn TransferProgress>>) -> Option<sdk::Progress> {
    let callback = callback?;
    Some(Arc::new(move |done, total| callback.on_progress(done, total)))
}
