//! HTTP/1.1 requests to the server's media routes (uploads and downloads): one connection per
//! request through hyper's client connection, over TCP or rustls, with the client's token.
//!
//! Bounded: connecting (TCP, TLS, handshake) within `connect_timeout`; after that the transfer
//! fails once nothing moved for `request_timeout` (so a large file on a slow link is fine, a
//! stalled server is not); a download's body is refused beyond `max_download_bytes`.

mod body;
mod endpoint;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hellocode_core::protocol::ErrorCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, EXPECT, HOST, USER_AGENT};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::time::{Instant, timeout, timeout_at};

use body::{Activity, Gate, Upload};
pub use endpoint::HttpEndpoint;

use crate::{Error, Result};

/// A transfer's progress: called with the bytes done and the total (`0` when the server did not
/// say how long a download is), as each chunk of an upload is handed to the connection and as
/// each part of a download arrives; the last call has `done == total`. Called on the runtime's
/// threads: keep it quick.
///
/// ```
/// use std::sync::Arc;
/// use hellocode_sdk::Progress;
///
/// let progress: Progress = Arc::new(|done, total| println!("{done} of {total} bytes"));
/// progress(10, 20);
/// ```
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Most bytes of an error reply read (its JSON explanation).
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// How long an upload waits for `100 Continue` before sending its body anyway (curl's figure).
const EXPECT_CONTINUE_WAIT: Duration = Duration::from_secs(1);

/// What bounds one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connecting: TCP, TLS and the HTTP handshake.
    pub(crate) connect: Duration,
    /// The longest time nothing moves once connected.
    pub(crate) idle: Duration,
    /// The largest body accepted.
    pub(crate) max_body: u64,
}

/// One request.
pub(crate) struct Request {
    pub(crate) method: Method,
    /// Path and query, already encoded.
    pub(crate) path: String,
    pub(crate) token: String,
    /// The body (empty for a download).
    pub(crate) body: Bytes,
    /// Progress of the body sent.
    pub(crate) sending: Option<Progress>,
    /// Progress of the body received.
    pub(crate) receiving: Option<Progress>,
}

/// A successful reply.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) content_type: String,
    pub(crate) body: Vec<u8>,
}

/// Send `request` to `endpoint`; a reply that is not a success is the error it describes.
pub(crate) async fn send(
    endpoint: &HttpEndpoint,
    limits: Limits,
    request: Request,
) -> Result<Reply> {
    let connecting = async {
        let stream = endpoint.connect().await?;
        hyper::client::conn::http1::handshake::<_, Upload>(TokioIo::new(stream))
            .await
            .map_err(|err| Error::Transport(format!("{}: {err}", endpoint.base())))
    };
    let (mut sender, connection) =
        timeout(limits.connect, connecting).await.map_err(|_| Error::Timeout(limits.connect))??;
    // The connection's task ends with this request (dropped: aborted).
    let _connection = AbortOnDrop(tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "media connection ended");
        }
    }));
    let activity = Activity::new();
    let length = request.body.len();
    let mut body = Upload::new(request.body, request.sending, activity.clone());
    let mut builder = hyper::Request::builder()
        .method(request.method.clone())
        .uri(request.path.as_str())
        .header(HOST, endpoint.authority())
        .header(AUTHORIZATION, format!("Bearer {}", request.token))
        .header(USER_AGENT, concat!("hellocode-sdk/", env!("CARGO_PKG_VERSION")))
        .header(CONTENT_LENGTH, length);
    // An upload asks first: refused from its headers (too large, not signed in), it is never
    // sent, and the refusal arrives instead of a broken connection.
    let mut opener = None;
    if length > 0 {
        let (gate, open) = Gate::new(EXPECT_CONTINUE_WAIT);
        body = body.gated(gate);
        opener = Some(Mutex::new(Some(open)));
        builder =
            builder.header(CONTENT_TYPE, "application/octet-stream").header(EXPECT, "100-continue");
    }
    let mut http_request = builder
        .body(body)
        .map_err(|err| Error::InvalidArgument(format!("request {}: {err}", request.path)))?;
    if let Some(opener) = opener {
        hyper::ext::on_informational(&mut http_request, move |response| {
            let continues = response.status() == StatusCode::CONTINUE;
            if let Some(open) = opener.lock().ok().and_then(|mut open| open.take_if(|_| continues))
            {
                let _ = open.send(());
            }
        });
    }
    let response = idle_bounded(&activity, limits.idle, sender.send_request(http_request))
        .await?
        .map_err(|err| Error::Transport(format!("{}: {err}", endpoint.base())))?;
    let status = response.status();
    tracing::debug!(method = %request.method, path = %request.path, %status, "media request");
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if !status.is_success() {
        let limits = Limits { max_body: MAX_ERROR_BODY, ..limits };
        // The explanation is a courtesy: a reply cut short still has its status.
        let body = read_body(response.into_body(), limits, &activity, None, None, true)
            .await
            .unwrap_or_default();
        return Err(refusal(status, &body));
    }
    if let Some(length) = declared.filter(|&length| length > limits.max_body) {
        return Err(too_large(length, limits.max_body));
    }
    let body =
        read_body(response.into_body(), limits, &activity, declared, request.receiving, false)
            .await?;
    Ok(Reply { content_type, body })
}

/// Read a body of at most `limits.max_body` bytes (`truncate`: keep that much and stop; else
/// refuse more), each part within `limits.idle`.
async fn read_body(
    mut body: Incoming,
    limits: Limits,
    activity: &Activity,
    declared: Option<u64>,
    progress: Option<Progress>,
    truncate: bool,
) -> Result<Vec<u8>> {
    let total = declared.unwrap_or(0);
    let mut data = Vec::with_capacity(declared.unwrap_or(0).min(limits.max_body) as usize);
    while let Some(frame) = idle_bounded(activity, limits.idle, body.frame()).await? {
        let frame = frame.map_err(|err| Error::Transport(format!("reading the reply: {err}")))?;
        let Ok(chunk) = frame.into_data() else { continue }; // trailers
        activity.touch();
        let room = (limits.max_body as usize).saturating_sub(data.len());
        if chunk.len() > room {
            if truncate {
                data.extend_from_slice(&chunk[..room]);
                break;
            }
            return Err(too_large((data.len() + chunk.len()) as u64, limits.max_body));
        }
        data.extend_from_slice(&chunk);
        if let Some(progress) = &progress {
            progress(data.len() as u64, total);
        }
    }
    // The last call says it is done, with the total it turned out to be.
    if let Some(progress) = progress.filter(|_| declared.is_none() || data.is_empty()) {
        progress(data.len() as u64, data.len() as u64);
    }
    Ok(data)
}

/// Await `future`, failing with `Timeout` once nothing has moved for `idle`.
async fn idle_bounded<F: std::future::Future>(
    activity: &Activity,
    idle: Duration,
    future: F,
) -> Result<F::Output> {
    tokio::pin!(future);
    loop {
        let deadline = activity.last() + idle;
        match timeout_at(deadline, &mut future).await {
            Ok(output) => return Ok(output),
            Err(_) if activity.last() + idle > Instant::now() => continue,
            Err(_) => return Err(Error::Timeout(idle)),
        }
    }
}

fn too_large(length: u64, limit: u64) -> Error {
    Error::TooLarge(format!("{length} bytes; the limit is {limit}"))
}

/// The error an HTTP refusal describes: the server's code from its JSON body (`{code,
/// message}`), except that a 413 is always `too_large`; the status decides when the body says
/// nothing usable.
fn refusal(status: StatusCode, body: &[u8]) -> Error {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let message = json["message"]
        .as_str()
        .map(str::to_owned)
        // A 422 of the original app's shape: {field: [messages]}.
        .or_else(|| json.as_object().filter(|o| !o.is_empty()).map(|_| json.to_string()))
        .unwrap_or_else(|| format!("HTTP {status}"));
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return Error::TooLarge(message);
    }
    let code = json["code"]
        .as_str()
        .and_then(|code| serde_json::from_value::<ErrorCode>(code.into()).ok())
        .unwrap_or(match status {
            StatusCode::UNAUTHORIZED => ErrorCode::InvalidToken,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::ValidationFailed,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
            status if status.is_server_error() => ErrorCode::Internal,
            _ => ErrorCode::InvalidField,
        });
    Error::Server { code, message }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `text` percent-encoded for a query value or a path segment: everything but the unreserved
/// characters of RFC 3986.
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_servers_code_and_a_413_is_too_large() {
        let body = br#"{"code":"forbidden","message":"not a participant"}"#;
        let error = refusal(StatusCode::FORBIDDEN, body);
        assert_eq!(error.code(), "forbidden");
        assert!(error.to_string().contains("not a participant"));
        let body = br#"{"code":"invalid_field","message":"10485760 bytes at most"}"#;
        assert_eq!(refusal(StatusCode::PAYLOAD_TOO_LARGE, body).code(), "too_large");
        assert_eq!(refusal(StatusCode::NOT_FOUND, b"").code(), "not_found");
        assert_eq!(refusal(StatusCode::UNAUTHORIZED, b"<html>").code(), "invalid_token");
        assert_eq!(refusal(StatusCode::BAD_GATEWAY, b"").code(), "internal");
        let body = br#"{"code":"rate_limited","message":"too many uploads"}"#;
        assert_eq!(refusal(StatusCode::TOO_MANY_REQUESTS, body).code(), "rate_limited");
        let body = br#"{"code":"something_newer","message":"?"}"#;
        assert_eq!(refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, body).code(), "invalid_field");
    }

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(encode("notes.txt"), "notes.txt");
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
