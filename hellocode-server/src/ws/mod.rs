//! The WebSocket transport: `/ws` (every chat of the user) and `/ws/chat/<chatId>` (one chat, as
//! the original app), authenticated by `?token=`, an `Authorization: Bearer` header, or an `auth`
//! command first.
//!
//! warp's own WebSocket filter hides tungstenite's buffer settings (its 128 KiB read buffer is
//! allocated for every connection) and copies each text frame; so the upgrade is done here, on
//! hyper's upgraded connection, with a deliberately sized [`WebSocketConfig`].

mod connection;
mod local;
mod pipeline;

use std::sync::Arc;

use hellocode_core::model::ChatId;
use hellocode_core::protocol::ErrorCode;
use hellocode_core::session::{Scope, Session};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use warp::http::{StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::admission::Busy;
use crate::app::AppState;
use crate::log_fields::Peer;
use crate::rest::{ApiError, bearer_token};
use crate::serve::Connection;

pub use connection::{
    CLOSE_AUTH_TIMEOUT, CLOSE_SLOW_CONSUMER, CLOSE_TOO_MANY_CONNECTIONS, CheckedToken,
    run as run_connection,
};
pub use local::LocalEndpoint;
pub use pipeline::{PIPELINE_BYTES, PIPELINE_DEPTH};

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
    /// The protocol version the client speaks (`?protocol=2`).
    protocol: Option<u32>,
}

/// The WebSocket routes.
pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let all = warp::path!("ws").map(|| Scope::AllChats);
    let one = warp::path!("ws" / "chat" / String).and_then(|id: String| async move {
        match id.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Scope::Chat(ChatId(id))),
            _ => Err(warp::reject::not_found()),
        }
    });
    all.or(one)
        .unify()
        .and(warp::get())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::query::<TokenQuery>())
        .and(warp::header::optional::<String>("upgrade"))
        .and(warp::header::optional::<String>("sec-websocket-key"))
        .and(warp::ext::optional::<OnUpgrade>())
        .and(crate::serve::connection())
        .and(warp::any().map(move || state.clone()))
        .then(upgrade)
}

#[allow(clippy::too_many_arguments)] // the parts of one HTTP request
async fn upgrade(
    scope: Scope,
    authorization: Option<String>,
    query: TokenQuery,
    upgrade: Option<String>,
    key: Option<String>,
    on_upgrade: Option<OnUpgrade>,
    connection: Option<Connection>,
    state: Arc<AppState>,
) -> Response {
    let (Some(key), Some(on_upgrade), true) =
        (key, on_upgrade, upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")))
    else {
        return ApiError::bad_request("expected a WebSocket upgrade request").into_response();
    };
    let peer = connection.as_ref().map(|connection| connection.peer);
    let progress = connection.map(|connection| connection.progress);
    let token = bearer_token(authorization.as_deref()).or(query.token);
    let checked_token = match token {
        Some(token) => {
            // Before the check: a revocation heard since then may have slipped past it.
            let revocations_heard = state.hub.grants().heard();
            // Signature and expiry first: a token this server did not sign, or an expired one,
            // is refused at once. Its storage check is the first query that brings the
            // connection online: it waits for its turn (see `crate::admission`).
            let checked = match state.auth.verify_signature(&token) {
                Ok(verified) => match state.admission.enter().await {
                    Ok(turn) => state
                        .auth
                        .identity_of(verified)
                        .await
                        .map(|identity| CheckedToken { identity, turn, revocations_heard }),
                    Err(Busy) => {
                        tracing::info!(peer = %Peer(peer), "websocket refused: busy");
                        return ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            ErrorCode::Unavailable,
                            "the server is busy; reconnect shortly",
                        )
                        .with_retry_after(Some(1))
                        .into_response();
                    }
                },
                Err(err) => Err(err),
            };
            match checked {
                Ok(checked) => Some(checked),
                Err(err) => {
                    tracing::info!(peer = %Peer(peer), error = %err, "websocket refused: bad token");
                    return ApiError::from(err).into_response();
                }
            }
        }
        None => None,
    };
    let mut session = Session::new(scope, state.settings.limits);
    if let Some(version) = query.protocol {
        session.speak(version);
    }
    let config = websocket_config(&state);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                // A task of its own: this one's captures are not carried for the connection's
                // life.
                let connection =
                    run_connection(socket, state, session, checked_token, peer, progress);
                tokio::spawn(connection);
            }
            Err(err) => {
                tracing::debug!(peer = %Peer(peer), error = %err, "websocket upgrade failed")
            }
        }
    });
    let mut response = Response::default();
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, header::HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, header::HeaderValue::from_static("websocket"));
    if let Ok(accept) = header::HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// The read buffer: a client's frames are commands of a few hundred bytes; a larger one grows it.
const READ_BUFFER: usize = 1024;

/// Bytes of frames gathered before a write to the socket (a flush writes whatever is there).
const WRITE_BUFFER: usize = 16 * 1024;

/// Buffers sized for many mostly idle connections: a [`READ_BUFFER`] of 1 KiB (tungstenite's
/// default is 128 KiB, allocated up front; 4 KiB measured 9.9 KiB per idle connection, 2 KiB
/// 7.8 KiB, 1 KiB with the send queue of issue 18 7.6 KiB), and a hard cap on messages well
/// above the protocol's frame limit (frames between the two get a protocol error and the
/// connection goes on; beyond the cap the connection is closed).
///
/// Writes: the writer hands a batch of queued frames to tungstenite, then flushes; frames are
/// written to the socket when [`WRITE_BUFFER`] bytes have piled up or at the flush, so a
/// connection with several frames waiting gets them in one send. (With a write buffer of 0,
/// every frame was a send of its own.) The buffer grows only as far as a batch needs and keeps
/// that capacity (tungstenite does not shrink it): at most 16 KiB and a frame per connection
/// that has been busy, small beside the send queue's bound of bytes.
fn websocket_config(state: &AppState) -> WebSocketConfig {
    let hard_cap = state.settings.limits.max_frame_bytes.saturating_mul(4).max(64 * 1024);
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(hard_cap))
        .max_frame_size(Some(hard_cap))
}
