//! Requests found by the `rest_bodies` fuzz target (`fuzz/`) that the server answered wrongly.
//! Each is a client's mistake: a 4xx with a JSON error body, never a 500.

use crate::harness::{Backend, TestServer};

/// Header values that are not visible ASCII (here UTF-8 `é`) made warp reject the request with
/// `InvalidHeader`, which no branch of the rejection handler knew: 500 "internal error".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_ascii_authorization_header_is_a_client_error() {
    let Some(server) = TestServer::start(Backend::Sqlite).await else { return };
    for path in ["/api/users/", "/api/chat/", "/ws"] {
        let (status, body) = server.http("GET", path, Some("caf\u{e9}"), None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["code"], "invalid_field", "{path}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| m.contains("authorization")), "{body}");
    }
}
