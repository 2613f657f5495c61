//! One request to a push gateway over HTTP/1.1 (hyper's client connection; TLS by rustls with
//! the web's roots for `https`), and what its answer means for the queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hellocode_core::model::{PushUrl, check_push_url};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A gateway's answer is small (`{"rejected":[...]}`); more is not read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What became of one notification.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The gateway took it; it names the push keys it rejected (devices that are gone).
    Accepted {
        /// Rejected push keys.
        rejected: Vec<String>,
    },
    /// Down, busy or failing (connection refused, timeout, 5xx, 429): try again later.
    Retry(String),
    /// The gateway refused the request itself (4xx): trying again would not help.
    GiveUp(String),
}

/// POST `body` to the gateway at `url` within `timeout`.
pub(super) async fn notify(url: &str, body: String, timeout: Duration) -> Outcome {
    match tokio::time::timeout(timeout, exchange(url, body)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Retry(format!("no answer within {} s", timeout.as_secs())),
    }
}

async fn exchange(url: &str, body: String) -> Outcome {
    // Checked when the pusher was set; a stored URL that no longer passes is given up.
    let parsed = match check_push_url(url) {
        Ok(parsed) => parsed,
        Err(err) => return Outcome::GiveUp(err),
    };
    let authority = if parsed.host.contains(':') {
        format!("[{}]:{}", parsed.host, parsed.port)
    } else {
        format!("{}:{}", parsed.host, parsed.port)
    };
    let request = Request::post(url)
        .header(header::HOST, &authority)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, concat!("hellocode-server/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::from(body)));
    let request = match request {
        Ok(request) => request,
        Err(err) => return Outcome::GiveUp(format!("bad request: {err}")),
    };
    let key = format!("{}://{authority}", parsed.scheme);
    let mut sender = match idle().take(&key) {
        Some(sender) => sender,
        None => match connect(&parsed, &authority).await {
            Ok(sender) => sender,
            Err(outcome) => return outcome,
        },
    };
    let response = match sender.send_request(request).await {
        Ok(response) => response,
        Err(err) => return Outcome::Retry(format!("request failed: {err}")),
    };
    let status = response.status();
    let answer = Limited::new(response.into_body(), MAX_ANSWER_BYTES).collect().await;
    let Ok(answer) = answer.map(|body| body.to_bytes()) else {
        return Outcome::Retry("the answer was cut short".to_owned());
    };
    // The answer is read whole: the connection may carry the next notification.
    idle().put(key, sender);
    judge(status, &answer)
}

/// A new HTTP/1.1 connection to the gateway (TLS for `https`).
async fn connect(parsed: &PushUrl<'_>, authority: &str) -> Result<Sender, Outcome> {
    let tcp = TcpStream::connect((parsed.host, parsed.port))
        .await
        .map_err(|err| Outcome::Retry(format!("cannot connect to {authority}: {err}")))?;
    let _ = tcp.set_nodelay(true);
    if parsed.scheme != "https" {
        return handshake(tcp).await;
    }
    let name = rustls::pki_types::ServerName::try_from(parsed.host.to_owned())
        .map_err(|err| Outcome::GiveUp(format!("bad host name: {err}")))?;
    let connector = tokio_rustls::TlsConnector::from(tls_config().map_err(Outcome::Retry)?);
    match connector.connect(name, tcp).await {
        Ok(tls) => handshake(tls).await,
        Err(err) => Err(Outcome::Retry(format!("TLS with {authority} failed: {err}"))),
    }
}

async fn handshake<S>(stream: S) -> Result<Sender, Outcome>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| Outcome::Retry(format!("HTTP handshake failed: {err}")))?;
    // The connection runs while a sender for it is held (in use, or idle in the pool).
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "push gateway connection ended");
        }
    });
    Ok(sender)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Idle keep-alive connections by gateway (`scheme://host:port`): a burst of notifications to
/// one gateway reuses its connections instead of opening one per request. Bounded per gateway,
/// in all (any user may name a gateway) and in time.
#[derive(Default)]
struct Idle {
    senders: Mutex<HashMap<String, Vec<(Instant, Sender)>>>,
}

/// Idle connections kept per gateway at most (the sender's concurrency is 16 by default).
const IDLE_PER_GATEWAY: usize = 32;
/// Idle connections kept in all at most.
const IDLE_IN_ALL: usize = 256;
/// How long a connection may stay idle before it is closed.
const IDLE_FOR: Duration = Duration::from_secs(30);

impl Idle {
    fn take(&self, key: &str) -> Option<Sender> {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        let list = senders.get_mut(key)?;
        // A connection the gateway closed, or idle too long, is dropped here.
        while let Some((since, sender)) = list.pop() {
            if !sender.is_closed() && since.elapsed() < IDLE_FOR {
                return Some(sender);
            }
        }
        None
    }

    fn put(&self, key: String, sender: Sender) {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        let mut total = 0;
        senders.retain(|_, list| {
            list.retain(|(since, sender)| !sender.is_closed() && since.elapsed() < IDLE_FOR);
            total += list.len();
            !list.is_empty()
        });
        let list = senders.entry(key).or_default();
        if list.len() < IDLE_PER_GATEWAY && total < IDLE_IN_ALL && !sender.is_closed() {
            list.push((Instant::now(), sender));
        }
    }
}

fn idle() -> &'static Idle {
    static IDLE: OnceLock<Idle> = OnceLock::new();
    IDLE.get_or_init(Idle::default)
}

/// What an answer means (see the Matrix push gateway API).
fn judge(status: StatusCode, answer: &[u8]) -> Outcome {
    if status.is_success() {
        let rejected = serde_json::from_slice::<serde_json::Value>(answer)
            .ok()
            .and_then(|answer| {
                let keys = answer.get("rejected")?.as_array()?;
                Some(keys.iter().filter_map(|key| key.as_str().map(str::to_owned)).collect())
            })
            .unwrap_or_default();
        Outcome::Accepted { rejected }
    } else if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        Outcome::Retry(format!("gateway answered {status}"))
    } else {
        Outcome::GiveUp(format!("gateway answered {status}"))
    }
}

/// One client configuration for every gateway: the web's roots, ring as the provider.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|builder| {
                    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
                })
                .map_err(|err| format!("no TLS configuration: {err}"))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_judged_as_the_gateway_api_says() {
        let accepted = judge(StatusCode::OK, br#"{"rejected":["gone"]}"#);
        assert_eq!(accepted, Outcome::Accepted { rejected: vec!["gone".into()] });
        assert_eq!(judge(StatusCode::OK, b"not json"), Outcome::Accepted { rejected: vec![] });
        assert!(matches!(judge(StatusCode::BAD_GATEWAY, b""), Outcome::Retry(_)));
        assert!(matches!(judge(StatusCode::TOO_MANY_REQUESTS, b""), Outcome::Retry(_)));
        assert!(matches!(judge(StatusCode::BAD_REQUEST, b""), Outcome::GiveUp(_)));
        assert!(matches!(judge(StatusCode::NOT_FOUND, b""), Outcome::GiveUp(_)));
    }
}
