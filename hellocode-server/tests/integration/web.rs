//! The web app's routes: the page and its assets, their types, caching and security headers,
//! and `--no-web`. (The page itself is tested in Chromium: `bindings/web/run-tests.sh`.)

use hellocode_server::Settings;
use hellocode_server::web::{ASSETS, CONTENT_SECURITY_POLICY};

use crate::harness::{Backend, Fetched, TestServer, test_settings};

/// Headers every page and asset response must carry.
fn assert_secured(response: &Fetched, path: &str) {
    let csp = response.header("content-security-policy").unwrap_or_default();
    assert_eq!(csp, CONTENT_SECURITY_POLICY, "{path}");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{path}: {directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{path}: {csp}");
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cache-control", "no-cache"),
    ] {
        assert_eq!(response.header(name), Some(value), "{path}: {name}");
    }
    let permissions = response.header("permissions-policy").unwrap_or_default();
    for feature in ["camera=()", "microphone=()", "geolocation=()"] {
        assert!(permissions.contains(feature), "{path}: {feature} in {permissions}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_served_with_types_and_security_headers() {
    let Some(server) = TestServer::start(Backend::Sqlite).await else { return };
    let page = server.fetch("GET", "/", &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("<script type=\"module\" src=\"/app.js\"></script>"), "{html}");
    assert_secured(&page, "/");
    for (path, content_type) in [
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/app.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
        ("/hellocode.js", "text/javascript; charset=utf-8"),
    ] {
        let response = server.fetch("GET", path, &[]).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.header("content-type"), Some(content_type), "{path}");
        assert_secured(&response, path);
    }
    for asset in ASSETS {
        let response = server.fetch("GET", asset.path, &[]).await;
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, asset.body),
            "{}",
            asset.path
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_current_copy_is_revalidated_with_its_etag() {
    let Some(server) = TestServer::start(Backend::Sqlite).await else { return };
    let first = server.fetch("GET", "/app.js", &[]).await;
    let etag = first.header("etag").expect("an etag").to_owned();
    let again = server.fetch("GET", "/app.js", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert_secured(&again, "/app.js (304)");
    let stale = server.fetch("GET", "/app.js", &[("If-None-Match", "\"0000000000000000\"")]).await;
    assert_eq!(stale.status, 200);
    let other = server.fetch("GET", "/app.css", &[]).await;
    assert_ne!(other.header("etag"), Some(etag.as_str()), "each file has its own tag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_is_answered_and_other_methods_and_paths_are_not() {
    let Some(server) = TestServer::start(Backend::Sqlite).await else { return };
    let head = server.fetch("HEAD", "/", &[]).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let length: usize = head.header("content-length").and_then(|n| n.parse().ok()).expect("length");
    assert_eq!(length, ASSETS[0].body.len());
    let post = server.fetch("POST", "/", &[("Content-Length", "0")]).await;
    assert_eq!(post.status, 405);
    let missing = server.fetch("GET", "/nothing.js", &[]).await;
    assert_eq!(missing.status, 404);
    let body: serde_json::Value = serde_json::from_slice(&missing.body).expect("JSON");
    assert_eq!(body["code"], "not_found");
    // The API is untouched: its unknown routes are still its JSON 404, its routes still work.
    let (status, _) = server.http("POST", "/api/nothing/", None, None).await;
    assert_eq!(status, 404);
    let (status, languages) = server.http("GET", "/api/languages/", None, None).await;
    assert_eq!(status, 200, "{languages}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_web_serves_no_page_and_the_api_as_ever() {
    let settings = Settings { web: false, ..test_settings() };
    let Some(server) = TestServer::start_with(Backend::Sqlite, settings).await else { return };
    for path in ["/", "/app.js", "/hellocode.js"] {
        let response = server.fetch("GET", path, &[]).await;
        assert_eq!(response.status, 404, "{path}");
        assert!(response.header("content-security-policy").is_none(), "{path}");
    }
    let (status, _) = server.http("GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
}

#[test]
fn the_flag_turns_the_page_off() {
    use clap::Parser;
    let on = hellocode_server::Config::try_parse_from(["hellocode-server"]).expect("parses");
    assert!(on.settings().web);
    let off =
        hellocode_server::Config::try_parse_from(["hellocode-server", "--no-web"]).expect("parses");
    assert!(!off.settings().web);
}
