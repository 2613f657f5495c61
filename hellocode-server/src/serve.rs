//! Serving HTTP/1.1 (and WebSocket upgrades) on a TCP listener, with the bounds that
//! `warp::serve` does not offer: a header-read timeout (which is also the keep-alive idle
//! timeout), a header size cap, and caps on open connections per client address and in total.
//!
//! A refused connection is closed right after `accept`, before anything is read: it costs a
//! file descriptor for a moment and nothing else. An admitted connection holds a
//! [`limits::Permit`] inside its socket wrapper (`io::Tracked`), so a connection upgraded to a
//! WebSocket stays counted until the WebSocket closes.
//!
//! `warp::addr::remote()` yields `None` here (warp sets it only in its own server): routes read
//! the peer with [`remote`] instead.

mod io;
pub mod limits;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use warp::{Filter, Reply};

use io::Tracked;
pub use io::WriteProgress;
use limits::ConnectionLimits;

use crate::config::{MIN_HEADER_BYTES, Settings};
use crate::metrics::Metrics;

/// What a request knows of its connection (a request extension; see [`remote`]).
#[derive(Debug, Clone)]
pub struct Connection {
    /// The client's address.
    pub peer: SocketAddr,
    /// When the socket last accepted written bytes (the WebSocket's write timeout reads it).
    pub progress: Arc<WriteProgress>,
}

/// The client's address, for routes (`warp::addr::remote()` does not work with this server).
pub fn remote() -> impl Filter<Extract = (Option<SocketAddr>,), Error = Infallible> + Clone {
    connection().map(|connection: Option<Connection>| connection.map(|c| c.peer))
}

/// The request's [`Connection`] (`None` for requests that did not come through this module's
/// accept loop).
pub fn connection() -> impl Filter<Extract = (Option<Connection>,), Error = Infallible> + Clone {
    warp::ext::optional::<Connection>()
}

/// Accept connections on `listener` and serve `routes` on them until `shutdown` becomes true;
/// then stop accepting and wait for the HTTP connections in flight (upgraded WebSockets are
/// closed by their own shutdown path).
pub(crate) async fn serve<F, R>(
    listener: TcpListener,
    routes: F,
    settings: Settings,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) where
    F: Filter<Extract = (R,), Error = Infallible> + Clone + Send + Sync + 'static,
    R: Reply,
{
    let limits =
        ConnectionLimits::new(settings.max_connections, settings.max_connections_per_address);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.http_header_timeout)
        .max_buf_size(settings.http_max_header_bytes.max(MIN_HEADER_BYTES))
        .keep_alive(true);
    // Every connection task holds a sender; shutdown waits until all are gone.
    let (in_flight, mut all_done) = mpsc::channel::<()>(1);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopping(&mut shutdown) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors (or similar): let connections close before retrying.
                tracing::warn!(error = %err, "accept failed");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    () = stopping(&mut shutdown) => break,
                }
            }
        };
        let permit = match limits.admit(peer.ip()) {
            Ok(permit) => permit,
            Err(refusal) => {
                metrics.connection_refused();
                tracing::debug!(peer = %peer, %refusal, "connection refused");
                drop(stream);
                continue;
            }
        };
        // Linux copies TCP_NODELAY from the listener; set it anyway where it does not.
        let _ = stream.set_nodelay(true);
        let progress = Arc::new(WriteProgress::new());
        let io = TokioIo::new(Tracked::new(stream, permit, progress.clone()));
        let service = WithConnection {
            inner: TowerToHyperService::new(warp::service(routes.clone())),
            connection: Connection { peer, progress },
            deadline: settings.http_request_timeout,
        };
        let connection = http.serve_connection(io, service).with_upgrades();
        let (in_flight, mut shutdown) = (in_flight.clone(), shutdown.clone());
        tokio::spawn(async move {
            let _in_flight = in_flight;
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopping(&mut shutdown) => {
                    // Finish the request in progress, then close (an idle one closes at once).
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = result {
                // Timeouts, oversized headers, resets: the client's doing, not the server's.
                tracing::debug!(peer = %peer, error = %err, "http connection ended with an error");
            }
        });
    }
    drop(listener);
    drop(in_flight);
    let _ = all_done.recv().await;
}

/// Resolves once the server is shutting down (or its state is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here, not in a select's output.
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

/// Adds the [`Connection`] extension to every request of one connection.
struct WithConnection<S> {
    inner: S,
    connection: Connection,
    /// How long a request may take once its header is in (a slow body included).
    deadline: Duration,
}

impl<S, B> hyper::service::Service<hyper::Request<Incoming>> for WithConnection<S>
where
    S: hyper::service::Service<hyper::Request<Incoming>, Response = hyper::Response<B>>,
    S::Future: Send + 'static,
    B: From<String>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(self.connection.clone());
        let answer = self.inner.call(request);
        let (deadline, peer) = (self.deadline, self.connection.peer);
        Box::pin(async move {
            match tokio::time::timeout(deadline, answer).await {
                Ok(answer) => answer,
                Err(_) => {
                    // A body trickling in (or an answer stuck): the request is given up, and
                    // the connection with it. A WebSocket upgrade answers at once and is
                    // not concerned.
                    tracing::debug!(peer = %peer, "request timed out");
                    Ok(request_timeout(deadline))
                }
            }
        })
    }
}

/// 408, closing the connection (a body may be half read).
fn request_timeout<B: From<String>>(deadline: Duration) -> hyper::Response<B> {
    let body = serde_json::json!({
        "code": "request_timeout",
        "message": format!("the request did not complete within {} s", deadline.as_secs()),
    });
    let mut response = hyper::Response::new(B::from(body.to_string()));
    *response.status_mut() = hyper::StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    headers.insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
    response
}
