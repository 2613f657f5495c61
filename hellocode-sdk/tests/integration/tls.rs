//! `wss://`: the WebSocket transport through a TLS-terminating proxy with a private certificate.

use std::sync::Arc;

use hellocode_sdk::{Client, WebSocketTransport};
use rcgen::{CertifiedKey, generate_simple_self_signed};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::harness::{Kind, TestServer, messages, register};

/// Terminate TLS on a random port and forward the plain bytes to `upstream`.
async fn tls_proxy(upstream: std::net::SocketAddr) -> (u16, CertificateDer<'static>) {
    let CertifiedKey { cert, signing_key } =
        generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert_der = cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert_der.clone()], key)
    .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else { return };
                let Ok(mut plain) = TcpStream::connect(upstream).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, cert_der)
}

fn trusting(cert: CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("root certificate");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_with_a_private_certificate_authority() {
    let server = TestServer::start().await;
    let bob = server.register(Kind::WebSocket, "bob").await;
    let mut bob_events = bob.events();
    let (port, cert) = tls_proxy(server.addr()).await;
    let url = format!("wss://localhost:{port}");

    // The public roots do not know this certificate: refused, with a clear error.
    let untrusted = WebSocketTransport::new(&url).expect("url");
    let error = Client::connect(untrusted, register("alice")).await.expect_err("untrusted");
    assert_eq!(error.code(), "transport");
    assert!(error.to_string().to_lowercase().contains("certificate"), "{error}");

    let transport = WebSocketTransport::new(&url).expect("url").with_tls(trusting(cert));
    let alice = Client::connect(transport, register("alice")).await.expect("connects over wss");
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    alice.send(chat.id, "over TLS").await.expect("sent");
    assert_eq!(messages(&mut bob_events, 1).await[0].content, "over TLS");
    // Files go over https:// to the same host and port, trusting the same private authority.
    let file = alice.upload_attachment(chat.id, "secret.txt", b"sealed".to_vec(), None).await;
    let file = file.expect("uploaded over https");
    let download = bob.download(file.id.clone(), None).await.expect("downloaded over ws");
    assert_eq!(download.data, b"sealed");
    let again = alice.download(file.id, None).await.expect("downloaded over https");
    assert_eq!(again.data, b"sealed");
    server.stop().await;
}
