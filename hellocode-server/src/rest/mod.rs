//! The REST transport: the original app's API, with the authorization it lacked.
//!
//! Commands of the protocol (chats, history, posting, users, contacts, languages, bot tokens,
//! invitations and invite links) go through the same
//! [`Dispatcher`](crate::dispatch::Dispatcher) as the WebSocket; the rest (registration and
//! login forms, account changes with email or password, the user list) are reads and writes of
//! storage with an ownership check. Every error is JSON: `{code, message}`, or for invalid
//! input a 422 with `{field: [messages]}` as in the original app.

mod accounts;
mod chats;
mod invitations;
mod media;
mod members;
mod pushers;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hellocode_core::protocol::{ClientFrame, Command, ErrorCode, ServerFrame};
use hellocode_core::session::{Identity, Scope, Session};
use serde::Serialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::app::AppState;
use crate::error::FieldErrors;

/// Largest accepted JSON body.
const MAX_BODY: u64 = 64 * 1024;

/// An error response; also a rejection, so filters can fail with it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
    /// Seconds for a `Retry-After` header (429 answers).
    retry_after: Option<u64>,
}

impl warp::reject::Reject for ApiError {}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "code": code, "message": message.into() }),
            retry_after: None,
        }
    }

    /// The same error with a `Retry-After` header, when `seconds` is given.
    pub fn with_retry_after(mut self, seconds: Option<u64>) -> Self {
        self.retry_after = seconds;
        self
    }

    /// 400 for a request that is not what the route expects.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidField, message)
    }

    /// 422 with per-field messages.
    pub fn validation(fields: FieldErrors) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!(fields),
            retry_after: None,
        }
    }

    /// An error frame of the protocol as an HTTP error.
    pub fn from_frame(code: ErrorCode, message: String) -> Self {
        ApiError::new(status_for(code), code, message)
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            warp::reply::with_status(warp::reply::json(&self.body), self.status).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(warp::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<crate::Error> for ApiError {
    fn from(err: crate::Error) -> Self {
        match err {
            crate::Error::Validation(fields) => ApiError::validation(fields),
            crate::Error::Storage(hellocode_core::Error::LanguageNotFound(name)) => {
                ApiError::validation(FieldErrors::from([(
                    "languages".to_owned(),
                    vec![format!("Unknown language {name:?}.")],
                )]))
            }
            other => {
                match other.code() {
                    ErrorCode::Internal => tracing::error!(error = %other, "request failed"),
                    ErrorCode::Unavailable => tracing::warn!(error = %other, "request failed"),
                    _ => tracing::debug!(error = %other, "request refused"),
                }
                let mut error = ApiError::from_frame(other.code(), other.client_message());
                error.retry_after = other.retry_after();
                error
            }
        }
    }
}

impl From<hellocode_core::Error> for ApiError {
    fn from(err: hellocode_core::Error) -> Self {
        ApiError::from(crate::Error::from(err))
    }
}

/// The HTTP status for a protocol error code.
pub fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NotAuthenticated | ErrorCode::InvalidCredentials | ErrorCode::InvalidToken => {
            StatusCode::UNAUTHORIZED
        }
        ErrorCode::Forbidden | ErrorCode::Impersonation => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::ValidationFailed | ErrorCode::UsernameTaken => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::FrameTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(header: Option<&str>) -> Option<String> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

/// A handler's result as a response: errors become their JSON error responses.
pub(crate) fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(Reply::into_response)
}

/// JSON with a status.
pub(crate) fn json_reply<T: Serialize>(status: StatusCode, value: &T) -> Response {
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}

/// Extracts the caller's identity from the Bearer token, or rejects with 401.
pub(crate) fn authenticated(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Identity,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization").and_then(move |header: Option<String>| {
        let state = state.clone();
        async move {
            let Some(token) = bearer_token(header.as_deref()) else {
                return Err(warp::reject::custom(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::NotAuthenticated,
                    "send Authorization: Bearer <token>",
                )));
            };
            state
                .auth
                .verify_token(&token)
                .await
                .map_err(|err| warp::reject::custom(ApiError::from(err)))
        }
    })
}

/// A JSON body of at most [`MAX_BODY`] bytes, whatever its declared content type (so that
/// `curl -d '{...}'` works as well as a browser's `fetch`). A string holding U+0000 anywhere
/// in it is refused (400 `invalid_field`, naming the field): the text rule of
/// [`hellocode_core::text`], for every route at once.
pub(crate) fn json_body<T: serde::de::DeserializeOwned + Send>()
-> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(MAX_BODY).and(warp::body::bytes()).and_then(
        |bytes: bytes::Bytes| async move {
            let body = serde_json::from_slice::<T>(&bytes).map_err(|err| {
                let err = plain_json_error(&err);
                warp::reject::custom(ApiError::bad_request(format!("invalid JSON body: {err}")))
            })?;
            refuse_nul(&bytes).map_err(warp::reject::custom)?;
            Ok::<T, Rejection>(body)
        },
    )
}

/// A JSON error as a client should read it: serde names the Rust type it expected
/// (`expected struct ProfileChange`), which says nothing to a client; it expected an object.
fn plain_json_error(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let Some(at) = text.find("expected struct ") else { return text };
    let rest = &text[at + "expected struct ".len()..];
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    format!("{}expected a JSON object{}", &text[..at], &rest[end..])
}

/// [`hellocode_core::text::check_json`] on a body already known to be JSON. JSON can only
/// spell U+0000 as an escape, so a body without `u0000` is skipped without a second parse.
fn refuse_nul(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(5).any(|window| window.eq_ignore_ascii_case(b"u0000")) {
        return Ok(());
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|err| ApiError::bad_request(format!("invalid JSON body: {err}")))?;
    hellocode_core::text::check_json(&value).map_err(|err| ApiError::bad_request(err.to_string()))
}

/// Pass the shared state to a handler.
pub(crate) fn with_state(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Arc<AppState>,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// The `Idempotency-Key` header of a request that changes something: the command's `clientId`,
/// so that a request retried with the same key applies once and is answered as the first time.
pub(crate) fn idempotency_key()
-> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone {
    warp::header::optional::<String>("idempotency-key")
}

/// Run one protocol command for `identity` through the dispatcher, as the WebSocket does.
pub(crate) async fn dispatch(
    state: &AppState,
    identity: Identity,
    command: Command,
) -> Result<ServerFrame, ApiError> {
    let mut session = Session::new(Scope::AllChats, state.settings.limits);
    session.authenticate(identity);
    // An id makes the session reply with the stored result (acks are sent only to ids).
    let frame = ClientFrame::with_id(0, command);
    // In a task of its own: a client that hangs up drops this future, but a write that reached
    // storage must still be published to the chat's participants.
    let dispatcher = state.dispatcher.clone();
    let task = tokio::spawn(async move { dispatcher.handle(&mut session, frame).await });
    match task.await {
        Ok(Some(ServerFrame::Error { code, message, retry_after, .. })) => {
            Err(ApiError::from_frame(code, message).with_retry_after(retry_after))
        }
        Ok(Some(reply)) => Ok(reply),
        Ok(None) => {
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "no reply"))
        }
        Err(err) => {
            tracing::error!(error = %err, "a command's task failed");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "internal error",
            ))
        }
    }
}

/// The error for a reply of the wrong kind (a bug, not the client's fault).
pub(crate) fn unexpected(frame: &ServerFrame) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        format!("unexpected reply {}", frame.name()),
    )
}

/// Every REST route, `/healthz` and `/metrics`.
pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let health =
        warp::path!("healthz").and(warp::get()).and(with_state(state.clone())).then(health);
    let metrics = warp::path!("metrics").and(warp::get()).and(with_state(state.clone())).map(
        |state: Arc<AppState>| {
            warp::reply::with_header(
                state.metrics.render(),
                "content-type",
                "text/plain; version=0.0.4",
            )
            .into_response()
        },
    );
    // Each group of routes is boxed: as one nested filter type, the whole API overflows the
    // compiler's recursion limit in release builds.
    let api = rate_limited(state.clone()).and(
        accounts::routes(state.clone())
            .boxed()
            .or(chats::routes(state.clone()).boxed())
            .unify()
            .or(members::routes(state.clone()).boxed())
            .unify()
            .or(invitations::routes(state.clone()).boxed())
            .unify()
            .or(media::routes(state.clone()).boxed())
            .unify()
            .or(pushers::routes(state).boxed())
            .unify(),
    );
    health.or(metrics).unify().or(api).unify()
}

/// The general per-address limit of the `/api/` routes: passes, or rejects with 429. Other
/// paths pass untouched (and uncounted).
fn rate_limited(state: Arc<AppState>) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::path::full()
        .and(crate::serve::remote())
        .and_then(move |path: warp::path::FullPath, peer: Option<SocketAddr>| {
            let state = state.clone();
            async move {
                if !path.as_str().starts_with("/api/") {
                    return Ok(());
                }
                state
                    .limits
                    .rest_request(peer.map(|peer| peer.ip()))
                    .map_err(|err| warp::reject::custom(ApiError::from(err)))
            }
        })
        .untuple_one()
}

/// `/healthz`: 200 when the database answers a read in time and writes are not failing, else
/// 503; the body says which check failed. Answers within the database timeout.
async fn health(state: Arc<AppState>) -> Response {
    let database =
        match tokio::time::timeout(state.settings.db_timeout, state.storage.languages()).await {
            Ok(Ok(_)) => "ok",
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "health check: the database read failed");
                "failing"
            }
            Err(_) => {
                tracing::warn!("health check: the database did not answer in time");
                "timeout"
            }
        };
    let writes = if state.metrics.writes_failing() { "failing" } else { "ok" };
    let healthy = database == "ok" && writes == "ok";
    // Without the broker the node still serves its own clients: it stays in the load
    // balancer's pool (200), and says it is degraded.
    let broker = state.metrics.broker_state().map(|up| if up { "ok" } else { "down" });
    let (status, word) = match (healthy, broker) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        (true, Some("down")) => (StatusCode::OK, "degraded"),
        (true, _) => (StatusCode::OK, "ok"),
    };
    let mut checks = json!({ "database": database, "writes": writes });
    if let Some(broker) = broker {
        checks["broker"] = json!(broker);
    }
    json_reply(status, &json!({ "status": word, "checks": checks }))
}

/// Turn every rejection into a JSON error.
pub async fn handle_rejection(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if let Some(api) = rejection.find::<ApiError>() {
        ApiError { status: api.status, body: api.body.clone(), retry_after: api.retry_after }
    } else if rejection.is_not_found() {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route")
    } else if let Some(err) = rejection.find::<warp::filters::body::BodyDeserializeError>() {
        ApiError::bad_request(format!("invalid JSON body: {err}"))
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::FrameTooLarge,
            format!("bodies are limited to {MAX_BODY} bytes"),
        )
    } else if rejection.find::<warp::reject::UnsupportedMediaType>().is_some() {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidField,
            "send JSON (content-type: application/json)",
        )
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        ApiError::bad_request("invalid query string")
    } else if let Some(err) = rejection.find::<warp::reject::InvalidHeader>() {
        // A header value that is not visible ASCII (found by the rest_bodies fuzz target).
        ApiError::bad_request(format!("invalid header {}", err.name()))
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::InvalidField, "method not allowed")
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::new(StatusCode::LENGTH_REQUIRED, ErrorCode::InvalidField, "send a content-length")
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "internal error")
    };
    Ok(error.into_response())
}
