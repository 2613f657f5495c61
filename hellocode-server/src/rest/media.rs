//! Media over HTTP: upload an avatar or a chat attachment (the raw bytes as the body, the file
//! name in `?name=`), download what you may read, with its type, a `Content-Disposition`,
//! caching headers (the address never changes its bytes) and byte ranges.

use std::sync::Arc;

use bytes::Bytes;
use hellocode_core::model::{ChatId, Media, MediaKind, NewMedia, Timestamp, UserUpdate};
use hellocode_core::protocol::ErrorCode;
use hellocode_core::session::Identity;
use serde::Deserialize;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{ApiError, authenticated, json_reply, respond, with_state};
use crate::app::AppState;
use crate::creation::Kind;
use crate::media::process::{self, Refusal, is_content_id};

/// `?name=` of an upload.
#[derive(Debug, Deserialize)]
struct Upload {
    name: Option<String>,
}

pub(super) fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // What every upload takes: the caller, the file's name and claimed type, its bytes.
    let limit = state.settings.max_upload_bytes;
    let upload = warp::post()
        .and(authenticated(state.clone()))
        .and(warp::query::<Upload>())
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::body::content_length_limit(limit).and(warp::body::bytes()))
        .and(with_state(state.clone()));
    let avatar =
        warp::path!("api" / "users" / String / "avatar").and(upload.clone()).then(upload_avatar);
    let attachment =
        warp::path!("api" / "chat" / i64 / "media").and(upload).then(upload_attachment);
    // What every download takes: the caller, its range and cached version, GET or HEAD.
    let read = warp::get()
        .or(warp::head())
        .unify()
        .and(authenticated(state.clone()))
        .and(warp::header::optional::<String>("range"))
        .and(warp::header::optional::<String>("if-none-match"))
        .and(warp::method())
        .and(with_state(state));
    let original = warp::path!("api" / "media" / String).and(read.clone()).then(
        |id, identity, range, etag, method, state| {
            download(Download { id, thumbnail: false, identity, range, etag, method }, state)
        },
    );
    let thumbnail = warp::path!("api" / "media" / String / "thumbnail").and(read).then(
        |id, identity, range, etag, method, state| {
            download(Download { id, thumbnail: true, identity, range, etag, method }, state)
        },
    );
    avatar.or(attachment).unify().or(original).unify().or(thumbnail).unify()
}

async fn upload_avatar(
    username: String,
    identity: Identity,
    upload: Upload,
    claimed: Option<String>,
    bytes: Bytes,
    state: Arc<AppState>,
) -> Response {
    respond(
        async {
            if identity.username != username {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    ErrorCode::Forbidden,
                    "you may only change your own avatar",
                ));
            }
            let name = upload.name.unwrap_or_else(|| "avatar".to_owned());
            let media =
                store(&state, &identity, MediaKind::Avatar, None, &name, claimed, bytes).await?;
            let avatar = format!("/api/media/{}", media.id);
            let update = UserUpdate { avatar: Some(Some(avatar)), ..UserUpdate::default() };
            state.storage.update_user(&username, update).await?;
            tracing::info!(user = %username, media = %media.id, "avatar uploaded");
            Ok(json_reply(StatusCode::CREATED, &media))
        }
        .await,
    )
}

async fn upload_attachment(
    chat: i64,
    identity: Identity,
    upload: Upload,
    claimed: Option<String>,
    bytes: Bytes,
    state: Arc<AppState>,
) -> Response {
    respond(
        async {
            let name = upload.name.unwrap_or_else(|| "file".to_owned());
            let chat = Some(ChatId(chat));
            let kind = MediaKind::Attachment;
            let media = store(&state, &identity, kind, chat, &name, claimed, bytes).await?;
            tracing::info!(user = %identity.username, media = %media.id, "attachment uploaded");
            Ok(json_reply(StatusCode::CREATED, &media))
        }
        .await,
    )
}

/// Check the upload, store its bytes (and thumbnail) and record it. An attachment's chat is
/// checked before anything is stored; a refused upload stores nothing.
async fn store(
    state: &AppState,
    identity: &Identity,
    kind: MediaKind,
    chat: Option<ChatId>,
    name: &str,
    claimed: Option<String>,
    bytes: Bytes,
) -> Result<Media, ApiError> {
    let user = identity.username.as_str();
    if let Some(chat) = chat {
        state.storage.require_participant(chat, user).await?;
    }
    if let Err(retry_after) = state.dispatcher.take_creation(user, Kind::Upload).await {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("too many uploads; retry in {retry_after} s"),
        )
        .with_retry_after(Some(retry_after)));
    }
    // Decoding an image is CPU work: off the async threads.
    let name_owned = name.to_owned();
    let processed = tokio::task::spawn_blocking(move || {
        process::process(&bytes, claimed.as_deref(), &name_owned, kind)
    })
    .await
    .map_err(|err| {
        tracing::error!(error = %err, "an upload's processing failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "internal error")
    })?
    .map_err(refused)?;
    if let Some((id, thumbnail)) = &processed.thumbnail {
        state.media.put(id, Arc::from(thumbnail.as_slice())).await?;
    }
    let size = processed.bytes.len() as u64;
    state.media.put(&processed.id, Arc::from(processed.bytes)).await?;
    let (width, height) = processed.dimensions.unzip();
    let record = NewMedia {
        id: processed.id,
        kind,
        owner: user.to_owned(),
        chat,
        name: processed.name,
        content_type: processed.content_type,
        size,
        width,
        height,
        thumbnail: processed.thumbnail.map(|(id, _)| id),
        at: Timestamp::now(),
    };
    Ok(state.storage.add_media(record).await?)
}

/// The HTTP answer to a refused upload.
fn refused(refusal: Refusal) -> ApiError {
    let status = match refusal {
        Refusal::WrongType { .. }
        | Refusal::NotAnImage(_)
        | Refusal::Corrupt(_)
        | Refusal::Multipart => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Refusal::ImageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Refusal::BadName(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Refusal::Empty => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, ErrorCode::InvalidField, refusal.to_string())
}

/// A download request.
struct Download {
    id: String,
    thumbnail: bool,
    identity: Identity,
    range: Option<String>,
    etag: Option<String>,
    method: warp::http::Method,
}

async fn download(request: Download, state: Arc<AppState>) -> Response {
    respond(
        async {
            let not_found =
                || ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such media");
            if !is_content_id(&request.id) {
                return Err(not_found());
            }
            // Not readable and not there answer the same.
            let media = state
                .storage
                .readable_media(&request.id, &request.identity.username, None)
                .await?
                .ok_or_else(not_found)?;
            // A thumbnail has its image's format.
            let address = if request.thumbnail {
                media.thumbnail.clone().ok_or_else(not_found)?
            } else {
                media.id.clone()
            };
            let etag = format!("\"{address}\"");
            let bytes = state.media.get(&address).await?.ok_or_else(|| {
                tracing::error!(media = %address, "a recorded media's bytes are missing");
                not_found()
            })?;
            let mut response = if request.etag.as_deref().is_some_and(|tags| matches(tags, &etag)) {
                let mut response = Response::new(Vec::new().into());
                *response.status_mut() = StatusCode::NOT_MODIFIED;
                response
            } else {
                ranged(&bytes, request.range.as_deref(), request.method == warp::http::Method::HEAD)
            };
            let headers = response.headers_mut();
            let value = |text: &str| HeaderValue::from_str(text).ok();
            if let Some(value) = value(&media.content_type) {
                headers.insert(header::CONTENT_TYPE, value);
            }
            if let Some(value) = value(&disposition(&media, request.thumbnail)) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            if let Some(value) = value(&etag) {
                headers.insert(header::ETAG, value);
            }
            // The address never changes its bytes; private: only some users may read them.
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=31536000, immutable"),
            );
            headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
            // Opened directly, an uploaded file runs nothing and loads nothing.
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            Ok(response)
        }
        .await,
    )
}

/// Whether an `If-None-Match` list names `etag`.
fn matches(tags: &str, etag: &str) -> bool {
    tags.split(',').map(str::trim).any(|tag| tag == etag || tag == "*")
}

/// `inline` for images (shown in place), `attachment` for anything else (saved, never
/// rendered by the browser), with the name in both the plain and the RFC 5987 form.
fn disposition(media: &Media, thumbnail: bool) -> String {
    let inline = thumbnail || media.content_type.starts_with("image/");
    let plain: String = media
        .name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let encoded: String = media
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{plain}\"; filename*=UTF-8''{encoded}")
}

/// What part of a body of `len` bytes a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum Selection {
    /// All of it (no range, another unit, several ranges, or one that does not parse: a
    /// server may ignore `Range`).
    Whole,
    /// Bytes `start..=end` (206).
    Part(u64, u64),
    /// Nothing it has (416).
    Unsatisfiable,
}

fn select(len: u64, range: Option<&str>) -> Selection {
    let Some(spec) = range.and_then(|range| range.trim().strip_prefix("bytes=")) else {
        return Selection::Whole;
    };
    let Some((start, end)) = spec.split_once('-').filter(|_| !spec.contains(',')) else {
        return Selection::Whole;
    };
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => match suffix.parse::<u64>() {
            Ok(n) if n > 0 => (len.saturating_sub(n), len.saturating_sub(1)),
            _ => return Selection::Unsatisfiable,
        },
        (start, "") => match start.parse::<u64>() {
            Ok(start) => (start, len.saturating_sub(1)),
            Err(_) => return Selection::Whole,
        },
        (start, end) => match (start.parse::<u64>(), end.parse::<u64>()) {
            (Ok(start), Ok(end)) if start <= end => (start, end.min(len.saturating_sub(1))),
            _ => return Selection::Whole,
        },
    };
    if len == 0 || start >= len { Selection::Unsatisfiable } else { Selection::Part(start, end) }
}

/// The whole body (200), the one range asked for (206), or 416; no body for `HEAD`.
fn ranged(bytes: &[u8], range: Option<&str>, head: bool) -> Response {
    let len = bytes.len() as u64;
    let (status, part, content_range) = match select(len, range) {
        Selection::Whole => (StatusCode::OK, bytes, None),
        Selection::Part(start, end) => (
            StatusCode::PARTIAL_CONTENT,
            &bytes[start as usize..=end as usize],
            Some(format!("bytes {start}-{end}/{len}")),
        ),
        Selection::Unsatisfiable => {
            (StatusCode::RANGE_NOT_SATISFIABLE, &bytes[..0], Some(format!("bytes */{len}")))
        }
    };
    let body = if head { Vec::new() } else { part.to_vec() };
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, (part.len() as u64).into());
    if let Some(value) = content_range.and_then(|text| HeaderValue::from_str(&text).ok()) {
        headers.insert(header::CONTENT_RANGE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges() {
        use Selection::{Part, Unsatisfiable, Whole};
        let cases = [
            (None, Whole),
            (Some("bytes=2-4"), Part(2, 4)),
            (Some("bytes=7-"), Part(7, 9)),
            (Some("bytes=-3"), Part(7, 9)),
            (Some("bytes=-30"), Part(0, 9)),
            (Some("bytes=5-100"), Part(5, 9)),
            (Some("bytes=10-"), Unsatisfiable),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=0-1,4-5"), Whole),
            (Some("items=0-1"), Whole),
            (Some("bytes=4-2"), Whole),
        ];
        for (range, expected) in cases {
            assert_eq!(select(10, range), expected, "{range:?}");
        }
        let partial = ranged(b"0123456789", Some("bytes=2-4"), false);
        assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(partial.headers()[header::CONTENT_RANGE], "bytes 2-4/10");
        assert_eq!(partial.headers()[header::CONTENT_LENGTH], "3");
        let refused = ranged(b"0123456789", Some("bytes=10-"), false);
        assert_eq!(refused.headers()[header::CONTENT_RANGE], "bytes */10");
    }

    #[test]
    fn disposition_names_are_quoted_safely() {
        let media = Media {
            id: "a".repeat(64),
            kind: MediaKind::Attachment,
            owner: "ada".into(),
            chat: Some(ChatId(1)),
            name: "rapport \"final\" é.pdf".into(),
            content_type: "application/pdf".into(),
            size: 1,
            width: None,
            height: None,
            thumbnail: None,
            created_at: Timestamp::from_unix_millis(0),
        };
        assert_eq!(
            disposition(&media, false),
            "attachment; filename=\"rapport _final_ _.pdf\"; \
             filename*=UTF-8''rapport%20%22final%22%20%C3%A9.pdf"
        );
    }
}
