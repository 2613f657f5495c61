//! A push gateway that accepts every notification at once (`{"rejected":[]}`) and counts them:
//! the far end of the push benchmark (`scripts/bench-push`), standing in for Sygnal.
//!
//! `hellocode-push-sink --addr 127.0.0.1:5000` serves `POST /_matrix/push/v1/notify`; any
//! `GET` answers the number of notifications received so far, as text.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[derive(Debug, Parser)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:5000")]
    addr: SocketAddr,
}

async fn answer(
    request: Request<hyper::body::Incoming>,
    received: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    };
    if request.method() == Method::GET {
        return Ok(reply(StatusCode::OK, received.load(Ordering::Relaxed).to_string()));
    }
    if request.uri().path() != "/_matrix/push/v1/notify" {
        return Ok(reply(StatusCode::NOT_FOUND, String::new()));
    }
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, String::new())),
    };
    if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return Ok(reply(StatusCode::BAD_REQUEST, String::new()));
    }
    received.fetch_add(1, Ordering::Relaxed);
    Ok(reply(StatusCode::OK, r#"{"rejected":[]}"#.to_owned()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.addr).await?;
    let received = Arc::new(AtomicU64::new(0));
    eprintln!("push sink listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let received = received.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, received.clone()));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            let _ = connection.await;
        });
    }
}
