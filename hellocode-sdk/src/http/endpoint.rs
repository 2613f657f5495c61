//! Where a server answers HTTP, and how to reach it (TCP, or TLS with rustls).

use std::sync::Arc;

use hyper::Uri;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::{Error, Result};

/// The HTTP address of a server (`http://host:port` or `https://host`), for the media routes,
/// and the TLS configuration `https://` uses. A [`Transport`](crate::Transport) gives one with
/// [`http_endpoint`](crate::Transport::http_endpoint).
///
/// ```
/// use hellocode_sdk::transport::HttpEndpoint;
///
/// let endpoint = HttpEndpoint::new("https://chat.example.org")?;
/// assert_eq!(endpoint.base(), "https://chat.example.org:443");
/// assert!(HttpEndpoint::new("ftp://chat.example.org").is_err());
/// # Ok::<(), hellocode_sdk::Error>(())
/// ```
#[derive(Clone)]
pub struct HttpEndpoint {
    secure: bool,
    /// The host as in a URL (an IPv6 address in brackets).
    host: String,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for HttpEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpEndpoint").field("base", &self.base()).finish_non_exhaustive()
    }
}

impl HttpEndpoint {
    /// The server at `url`: `http://` or `https://`, a host, an optional port; any path is
    /// ignored (the media routes are absolute).
    pub fn new(url: &str) -> Result<Self> {
        let invalid =
            |reason: &str| Error::InvalidUrl { url: url.to_owned(), reason: reason.into() };
        let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        let secure = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(invalid("the scheme must be http:// or https://")),
        };
        let host = uri.host().filter(|host| !host.is_empty()).ok_or_else(|| invalid("no host"))?;
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        Ok(HttpEndpoint { secure, host: host.to_owned(), port, tls: None })
    }

    /// Use this TLS configuration for `https://` (a private certificate authority, say).
    pub fn with_tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The address requests go to, with its port: `https://chat.example.org:443`.
    pub fn base(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}", self.authority())
    }

    /// `host:port`, as the `Host` header says it.
    pub(crate) fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Open a connection: TCP, then TLS for `https://`.
    pub(crate) async fn connect(&self) -> Result<Stream> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((host, self.port))
            .await
            .map_err(|err| Error::Transport(format!("{}: {err}", self.base())))?;
        // Small requests and replies: do not wait to fill a segment.
        let _ = tcp.set_nodelay(true);
        if !self.secure {
            return Ok(Stream::Plain(tcp));
        }
        let config = self.tls.clone().unwrap_or_else(crate::transport::default_tls);
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|err| Error::InvalidUrl { url: self.base(), reason: err.to_string() })?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|err| Error::Transport(format!("{}: TLS: {err}", self.base())))?;
        Ok(Stream::Tls(Box::new(tls)))
    }
}

/// A connection to an [`HttpEndpoint`], plain or TLS.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl tokio::io::AsyncRead for Stream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => std::pin::Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => std::pin::Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => std::pin::Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => std::pin::Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_their_default_port_and_lose_their_path() {
        let plain = HttpEndpoint::new("http://127.0.0.1:8080/ws").expect("http");
        assert_eq!(plain.base(), "http://127.0.0.1:8080");
        let secure = HttpEndpoint::new("https://example.org").expect("https");
        assert_eq!(secure.base(), "https://example.org:443");
        let v6 = HttpEndpoint::new("http://[::1]:9000").expect("IPv6");
        assert_eq!(v6.authority(), "[::1]:9000");
        for bad in ["ws://example.org", "example.org", "http://", "not a url"] {
            assert!(matches!(HttpEndpoint::new(bad), Err(Error::InvalidUrl { .. })), "{bad}");
        }
    }
}
