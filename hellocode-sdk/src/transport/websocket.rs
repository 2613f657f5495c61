//! The WebSocket transport: tokio-tungstenite, `ws://` and `wss://` (rustls).

use std::sync::{Arc, OnceLock};

use futures_util::{SinkExt, StreamExt, future};
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{Connector, connect_async_tls_with_config};

use super::{Connection, HttpEndpoint, Transport};
use crate::{Error, Result};

/// Connects over WebSocket to a server's `/ws` endpoint.
///
/// `wss://` uses rustls (ring) with the Mozilla root certificates (webpki-roots), the same on
/// every platform; give your own `rustls::ClientConfig` with [`with_tls`](Self::with_tls) for a
/// private certificate authority.
///
/// ```
/// use hellocode_sdk::WebSocketTransport;
///
/// // A bare server address gets the `/ws` path.
/// let transport = WebSocketTransport::new("ws://127.0.0.1:8080")?;
/// assert_eq!(transport.url(), "ws://127.0.0.1:8080/ws");
/// // Media go over HTTP to the same server.
/// use hellocode_sdk::Transport;
/// let http = transport.http_endpoint().expect("an HTTP address");
/// assert_eq!(http.base(), "http://127.0.0.1:8080");
/// assert!(WebSocketTransport::new("http://example.org").is_err());
/// # Ok::<(), hellocode_sdk::Error>(())
/// ```
#[derive(Clone)]
pub struct WebSocketTransport {
    url: String,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for WebSocketTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketTransport").field("url", &self.url).finish_non_exhaustive()
    }
}

impl WebSocketTransport {
    /// A transport to `url`: `ws://host:port` or `wss://host`, with or without the `/ws` path.
    pub fn new(url: &str) -> Result<Self> {
        let invalid =
            |reason: &str| Error::InvalidUrl { url: url.to_owned(), reason: reason.into() };
        let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        match uri.scheme_str() {
            Some("ws" | "wss") => {}
            _ => return Err(invalid("the scheme must be ws:// or wss://")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        let url = if matches!(uri.path(), "" | "/") && uri.query().is_none() {
            format!("{}/ws", url.trim_end_matches('/'))
        } else {
            url.to_owned()
        };
        Ok(WebSocketTransport { url, tls: None })
    }

    /// Use this TLS configuration for `wss://` (for example with a private root certificate).
    pub fn with_tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The URL connected to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait::async_trait]
impl Transport for WebSocketTransport {
    async fn connect(&self) -> Result<Connection> {
        let tls = self.tls.clone().unwrap_or_else(default_tls);
        let connector = Some(Connector::Rustls(tls));
        let config = WebSocketConfig::default().max_message_size(Some(16 << 20));
        let (socket, _response) =
            connect_async_tls_with_config(self.url.as_str(), Some(config), true, connector)
                .await
                .map_err(|err| Error::Transport(describe(&err)))?;
        let (sink, stream) = socket.split();
        let sink = sink
            .sink_map_err(|err| Error::Transport(describe(&err)))
            .with(|text: String| future::ready(Ok::<_, Error>(Message::text(text))));
        let stream = stream.filter_map(|message| {
            future::ready(match message {
                Ok(Message::Text(text)) => Some(Ok(text.as_str().to_owned())),
                Ok(Message::Close(Some(frame))) => {
                    Some(Err(super::closed_by_server(u16::from(frame.code), &frame.reason)))
                }
                Ok(Message::Close(None)) => {
                    Some(Err(Error::Transport("closed by the server".into())))
                }
                // tungstenite answers pings itself; the server sends no binary frames.
                Ok(_) => None,
                Err(err) => Some(Err(Error::Transport(describe(&err)))),
            })
        });
        Ok(Connection::new(sink, stream))
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    /// `http://` for `ws://`, `https://` for `wss://` (with this transport's TLS
    /// configuration), same host and port.
    fn http_endpoint(&self) -> Option<HttpEndpoint> {
        let uri: Uri = self.url.parse().ok()?;
        let scheme = if uri.scheme_str() == Some("wss") { "https" } else { "http" };
        let endpoint = HttpEndpoint::new(&format!("{scheme}://{}", uri.authority()?)).ok()?;
        Some(match &self.tls {
            Some(tls) => endpoint.with_tls(tls.clone()),
            None => endpoint,
        })
    }
}

/// rustls with ring and the Mozilla roots, built here rather than by tokio-tungstenite: its own
/// default asks rustls for the process-wide crypto provider, which panics when an application
/// also links another provider (aws-lc-rs).
pub(crate) fn default_tls() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
                // ring supports the default protocol versions; if that ever changed, fall back
                // to rustls's own defaults rather than fail every connection.
                .unwrap_or_else(|_| {
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                });
            Arc::new(config)
        })
        .clone()
}

fn describe(err: &WsError) -> String {
    match err {
        WsError::Http(response) => format!("the server answered HTTP {}", response.status()),
        other => other.to_string(),
    }
}
