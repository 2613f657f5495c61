//! Media over HTTP: uploading attachments and avatars, downloading files and thumbnails, with
//! progress. The WebSocket carries messages only; files go to the same server's HTTP routes
//! (see `docs/REST.md`), authenticated with the client's current token.

use std::future::Future;

use bytes::Bytes;
use hellocode_core::model::{Attachment, ChatId, Media};
use hellocode_core::session::MAX_ATTACHMENTS;
use hyper::Method;

use super::Client;
use crate::http::{self, HttpEndpoint, Limits, Progress, Request};
use crate::{Error, Result};

/// A downloaded file: its bytes and the type the server detected when it was uploaded.
///
/// ```no_run
/// # async fn run(client: hellocode_sdk::Client, id: String) -> hellocode_sdk::Result<()> {
/// let file = client.download(id, None).await?;
/// println!("{} bytes of {}", file.data.len(), file.content_type);
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Download {
    /// The media type, e.g. `image/png` or `text/plain`.
    pub content_type: String,
    /// The file's bytes.
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

impl Client {
    /// Upload a file to a chat (the caller must be a member); the result describes it as a
    /// message will, and its `id` is what [`send_with_attachments`](Client::send_with_attachments)
    /// takes. The server detects the type from the content; an image is re-encoded without its
    /// metadata and gets a thumbnail. `progress` is called as the bytes are sent.
    ///
    /// Errors: `forbidden` (not a member), `too_large` (beyond the server's upload limit),
    /// `invalid_field` (an empty file, a name that is a path, a type the content contradicts),
    /// `rate_limited`, `unsupported` (a transport without an HTTP address, such as the
    /// in-process one), `timeout` and `transport`.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// use std::sync::Arc;
    ///
    /// let bytes = std::fs::read("shot.png").expect("a file");
    /// let progress: hellocode_sdk::Progress = Arc::new(|done, total| println!("{done}/{total}"));
    /// let file = client.upload_attachment(chat, "shot.png", bytes, Some(progress)).await?;
    /// client.send_with_attachments(chat, "look", vec![file.id]).await?;
    /// # Ok(()) }
    /// ```
    pub fn upload_attachment(
        &self,
        chat: ChatId,
        name: impl Into<String>,
        data: Vec<u8>,
        progress: Option<Progress>,
    ) -> impl Future<Output = Result<Attachment>> + Send + 'static {
        let path = format!("/api/chat/{}/media/?name={}", chat.0, http::encode(&name.into()));
        self.upload(path, data, progress)
    }

    /// Upload the user's picture (a JPEG, PNG, GIF or WebP image): the profile's `avatar`
    /// becomes its address, `/api/media/<id>`, which any signed-in user may
    /// [`download`](Client::download). Errors as for
    /// [`upload_attachment`](Client::upload_attachment) (`invalid_field` for what is not an
    /// image).
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// let picture = std::fs::read("me.png").expect("a file");
    /// client.upload_avatar("me.png", picture, None).await?;
    /// let me = client.get_user(client.username()).await?;
    /// assert!(me.avatar.is_some_and(|avatar| avatar.starts_with("/api/media/")));
    /// # Ok(()) }
    /// ```
    pub fn upload_avatar(
        &self,
        name: impl Into<String>,
        data: Vec<u8>,
        progress: Option<Progress>,
    ) -> impl Future<Output = Result<Attachment>> + Send + 'static {
        let path = format!(
            "/api/users/{}/avatar/?name={}",
            http::encode(self.username()),
            http::encode(&name.into())
        );
        self.upload(path, data, progress)
    }

    /// Download a file: `media` is its id, or its address on this server — `/api/media/<id>`
    /// (a profile's `avatar`) or `/api/media/<id>/thumbnail`. Anything else (another host, a
    /// path elsewhere) is refused with `invalid_argument` before any request. `progress` is
    /// called as the bytes arrive. A file larger than `ClientConfig::max_download_bytes` fails
    /// with `too_large`.
    ///
    /// Errors: `not_found` for what does not exist *and* for what the user may not read (an
    /// attachment of a chat they are not in), `unsupported`, `timeout`, `transport`.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, message: hellocode_sdk::Message)
    /// # -> hellocode_sdk::Result<()> {
    /// for attachment in &message.attachments {
    ///     let file = client.download(attachment.id.clone(), None).await?;
    ///     std::fs::write(&attachment.name, &file.data).expect("written");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn download(
        &self,
        media: impl Into<String>,
        progress: Option<Progress>,
    ) -> impl Future<Output = Result<Download>> + Send + 'static {
        let path = media_path(&media.into());
        self.fetch(path, progress)
    }

    /// Download an image's thumbnail (fits 320 × 320; a JPEG, or a PNG for a PNG image):
    /// `media` is the image's id or its `/api/media/<id>` address. `not_found` for a file that
    /// has none.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, image: hellocode_sdk::Attachment)
    /// # -> hellocode_sdk::Result<()> {
    /// let small = client.download_thumbnail(image.id, None).await?;
    /// assert!(small.content_type.starts_with("image/"));
    /// # Ok(()) }
    /// ```
    pub fn download_thumbnail(
        &self,
        media: impl Into<String>,
        progress: Option<Progress>,
    ) -> impl Future<Output = Result<Download>> + Send + 'static {
        let path = media_path(&media.into()).map(|path| {
            if path.ends_with("/thumbnail") { path } else { format!("{path}/thumbnail") }
        });
        self.fetch(path, progress)
    }
}

impl Client {
    /// Where and how media requests go: the transport's HTTP address, the current token, the
    /// configured bounds.
    fn http(&self) -> Result<(HttpEndpoint, String, Limits)> {
        let endpoint = self.inner.transport.http_endpoint().ok_or_else(|| {
            Error::Unsupported(format!(
                "uploads and downloads need a transport with an HTTP address ({} has none)",
                self.inner.transport.describe()
            ))
        })?;
        let token = self.token().ok_or_else(|| {
            Error::Unsupported("the client has no token to authenticate over HTTP".into())
        })?;
        let config = &self.inner.config;
        let limits = Limits {
            connect: config.connect_timeout,
            idle: config.request_timeout,
            max_body: config.max_download_bytes,
        };
        Ok((endpoint, token, limits))
    }

    fn upload(
        &self,
        path: String,
        data: Vec<u8>,
        progress: Option<Progress>,
    ) -> impl Future<Output = Result<Attachment>> + Send + 'static {
        let http = self.http();
        async move {
            let (endpoint, token, limits) = http?;
            // The reply is the media object: small, whatever the download limit.
            let limits = Limits { max_body: 1024 * 1024, ..limits };
            let request = Request {
                method: Method::POST,
                path,
                token,
                body: Bytes::from(data),
                sending: progress,
                receiving: None,
            };
            let reply = http::send(&endpoint, limits, request).await?;
            let media: Media = serde_json::from_slice(&reply.body)
                .map_err(|err| Error::Protocol(format!("the upload's reply: {err}")))?;
            Ok(Attachment::from_media(&media))
        }
    }

    fn fetch(
        &self,
        path: Result<String>,
        progress: Option<Progress>,
    ) -> impl Future<Output = Result<Download>> + Send + 'static {
        let http = self.http();
        async move {
            let path = path?;
            let (endpoint, token, limits) = http?;
            let request = Request {
                method: Method::GET,
                path,
                token,
                body: Bytes::new(),
                sending: None,
                receiving: progress,
            };
            let reply = http::send(&endpoint, limits, request).await?;
            Ok(Download { content_type: reply.content_type, data: reply.body })
        }
    }
}

/// Whether `id` is a media id: 64 lowercase hex digits (the SHA-256 of the content).
fn is_media_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The path of a file to download: from its id, `/api/media/<id>` or
/// `/api/media/<id>/thumbnail`; nothing else.
fn media_path(media: &str) -> Result<String> {
    let refuse = || {
        Error::InvalidArgument(format!(
            "{media:?} is not a media id or an address /api/media/<id>[/thumbnail] of this server"
        ))
    };
    let (id, thumbnail) = match media.strip_prefix("/api/media/") {
        None => (media, false),
        Some(rest) => match rest.strip_suffix("/thumbnail") {
            Some(id) => (id, true),
            None => (rest, false),
        },
    };
    if !is_media_id(id) {
        return Err(refuse());
    }
    Ok(if thumbnail { format!("/api/media/{id}/thumbnail") } else { format!("/api/media/{id}") })
}

/// The attachments of a message: at most [`MAX_ATTACHMENTS`] media ids (checked before the
/// message is queued: the server would refuse it for good).
pub(super) fn check_attachments(ids: &[String]) -> Result<()> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(Error::InvalidArgument(format!(
            "{} attachments; the limit is {MAX_ATTACHMENTS}",
            ids.len()
        )));
    }
    match ids.iter().find(|id| !is_media_id(id)) {
        Some(id) => Err(Error::InvalidArgument(format!(
            "attachment {id:?} is not a media id (64 hex digits, from upload_attachment)"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_go_to_media_addresses_of_this_server_only() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(media_path(&id).expect("an id"), format!("/api/media/{id}"));
        let address = format!("/api/media/{id}");
        assert_eq!(media_path(&address).expect("an address"), address);
        let thumbnail = format!("/api/media/{id}/thumbnail");
        assert_eq!(media_path(&thumbnail).expect("a thumbnail"), thumbnail);
        for bad in [
            format!("https://elsewhere.example/api/media/{id}"),
            format!("/api/media/../{id}"),
            format!("/api/media/{id}/../../users"),
            format!("/api/chat/1/media/{id}"),
            id.to_uppercase(),
            "not-an-id".to_owned(),
            String::new(),
        ] {
            let error = media_path(&bad).expect_err(&bad);
            assert_eq!(error.code(), "invalid_argument", "{bad}");
        }
    }

    #[test]
    fn attachments_are_media_ids_at_most_ten() {
        let id = "ab".repeat(32);
        assert!(check_attachments(&[]).is_ok());
        assert!(check_attachments(&vec![id.clone(); MAX_ATTACHMENTS]).is_ok());
        assert!(check_attachments(&vec![id.clone(); MAX_ATTACHMENTS + 1]).is_err());
        let address = format!("/api/media/{id}");
        assert_eq!(check_attachments(&[address]).map_err(|e| e.code()), Err("invalid_argument"));
    }
}
