//! The web app: the chat page at `/` and its assets, embedded in the binary so that the server
//! needs no other file, no build step and no network to serve it.
//!
//! The page's files come from `hellocode-server/web/`, the browser client module it imports from
//! `bindings/web/`. Every response carries an `ETag` and `Cache-Control: no-cache` (the browser
//! keeps a copy and revalidates it: a new binary's page is picked up at once, an unchanged one
//! costs a 304), and the headers of [`SECURITY_HEADERS`]: a Content-Security-Policy that allows
//! only this origin's scripts, styles and connections, and no inline code at all.
//!
//! ```
//! let page = hellocode_server::web::asset("/").expect("the page is embedded");
//! assert_eq!(page.content_type, "text/html; charset=utf-8");
//! ```

use std::sync::OnceLock;

use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection};

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its URL path.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// An asset at `path`, its bytes from a file relative to this source file.
macro_rules! asset {
    ($path:literal, $type:expr, $file:literal) => {
        Asset { path: $path, content_type: $type, body: include_bytes!($file) }
    };
}

/// Every file the page loads. A module the page or the client module imports must be listed
/// here (the unit test below checks every `import` against this list).
pub const ASSETS: &[Asset] = &[
    asset!("/", HTML, "../web/index.html"),
    asset!("/app.css", CSS, "../web/app.css"),
    asset!("/favicon.svg", SVG, "../web/favicon.svg"),
    asset!("/app.js", JS, "../web/app.js"),
    asset!("/dom.js", JS, "../web/dom.js"),
    asset!("/session.js", JS, "../web/session.js"),
    asset!("/sign-in.js", JS, "../web/sign-in.js"),
    asset!("/chat-list.js", JS, "../web/chat-list.js"),
    asset!("/chat-view.js", JS, "../web/chat-view.js"),
    asset!("/people.js", JS, "../web/people.js"),
    asset!("/profile.js", JS, "../web/profile.js"),
    asset!("/files.js", JS, "../web/files.js"),
    asset!("/hellocode.js", JS, "../../bindings/web/hellocode.js"),
    asset!("/src/chats.js", JS, "../../bindings/web/src/chats.js"),
    asset!("/src/client.js", JS, "../../bindings/web/src/client.js"),
    asset!("/src/config.js", JS, "../../bindings/web/src/config.js"),
    asset!("/src/errors.js", JS, "../../bindings/web/src/errors.js"),
    asset!("/src/events.js", JS, "../../bindings/web/src/events.js"),
    asset!("/src/handshake.js", JS, "../../bindings/web/src/handshake.js"),
    asset!("/src/media.js", JS, "../../bindings/web/src/media.js"),
    asset!("/src/outbox.js", JS, "../../bindings/web/src/outbox.js"),
    asset!("/src/persist.js", JS, "../../bindings/web/src/persist.js"),
    asset!("/src/replies.js", JS, "../../bindings/web/src/replies.js"),
    asset!("/src/session.js", JS, "../../bindings/web/src/session.js"),
];

/// The Content-Security-Policy of every page and asset response: scripts, styles, images and
/// connections (`fetch`, and the WebSocket: `'self'` covers `ws:`/`wss:` to this origin) from
/// this origin only, and images also from `blob:` (avatars and attachments: downloaded with the
/// token, shown through object URLs the page makes); no inline script or style, no `eval`, no
/// plugins, no frames, no `<base>`; and Trusted Types required, so that no string can reach an
/// HTML sink such as `innerHTML`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'; require-trusted-types-for 'script'; \
     trusted-types 'none'";

/// The security headers of every page and asset response (the policy included).
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    // Every powerful feature the page does not use (names Chromium knows: an unknown one is
    // reported on the console).
    (
        "permissions-policy",
        "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), \
         magnetometer=(), microphone=(), midi=(), payment=(), usb=(), serial=(), hid=()",
    ),
];

/// The embedded asset served at `path`, if any.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

/// The strong ETag of each asset, in the order of [`ASSETS`]: a hash of its bytes, computed
/// once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS.iter().map(|asset| format!("\"{:016x}\"", fnv1a(asset.body))).collect()
    })
}

/// FNV-1a, 64 bits: enough to tell versions of a file apart, and stable across builds.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The page and its assets, for `GET` and `HEAD` (other methods: 405); any other path is
/// rejected as not found, so that the API's routes and its JSON 404 answer it. With `enabled`
/// false (`--no-web`) every path is.
pub fn routes(enabled: bool) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path::full()
        .and_then(move |path: warp::path::FullPath| async move {
            ASSETS
                .iter()
                .position(|asset| enabled && asset.path == path.as_str())
                .ok_or_else(warp::reject::not_found)
        })
        .and(warp::get().or(warp::head()).unify())
        .and(warp::header::optional::<String>("if-none-match"))
        .map(|index: usize, if_none_match: Option<String>| respond(index, if_none_match.as_deref()))
}

/// The asset at `index`, or 304 when the client's copy is current. (For `HEAD`, hyper drops
/// the body and keeps the length.)
fn respond(index: usize, if_none_match: Option<&str>) -> Response {
    let asset = &ASSETS[index];
    let etag = &etags()[index];
    let current = if_none_match
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut response = if current {
        let mut response = Response::default();
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(asset.body.into());
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    for (name, value) in SECURITY_HEADERS {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The relative URLs a file refers to: `src="…"` and `href="…"` in HTML, `from '…'` and
    /// `import '…'` in JavaScript.
    fn references(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        for marker in ["src=\"", "href=\"", "from '", "from \"", "import '", "import \""] {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                let end = rest.find(['"', '\'']).unwrap_or(rest.len());
                let target = &rest[..end];
                if target.starts_with("./") || target.starts_with("../") || target.starts_with('/')
                {
                    found.push(target.to_owned());
                }
            }
        }
        found
    }

    /// `target` as an absolute path, relative to the file at `from`.
    fn resolve(from: &str, target: &str) -> String {
        if target.starts_with('/') {
            return target.to_owned();
        }
        let mut parts: Vec<&str> = from.split('/').collect();
        parts.pop(); // the file's own name
        for part in target.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                part => parts.push(part),
            }
        }
        parts.join("/")
    }

    #[test]
    fn every_file_the_page_loads_is_embedded() {
        assert_eq!(resolve("/src/a.js", "../b.js"), "/b.js");
        assert_eq!(resolve("/src/a.js", "./c.js"), "/src/c.js");
        for asset in ASSETS {
            let text = String::from_utf8_lossy(asset.body);
            for target in references(&text) {
                let target = resolve(asset.path, &target);
                assert!(
                    super::asset(&target).is_some(),
                    "{} refers to {target}, which is not embedded",
                    asset.path
                );
            }
        }
    }

    #[test]
    fn the_policy_allows_no_inline_code() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "img-src 'self' data: blob:;",
            "connect-src 'self';",
        ] {
            assert!(CONTENT_SECURITY_POLICY.contains(directive), "{directive}");
        }
    }

    #[test]
    fn etags_differ_with_content_and_are_stable() {
        assert_eq!(fnv1a(b"hello"), fnv1a(b"hello"));
        assert_ne!(fnv1a(b"hello"), fnv1a(b"hellp"));
        let tags = etags();
        assert_eq!(tags.len(), ASSETS.len());
        assert!(tags.iter().all(|tag| tag.len() == 18 && tag.starts_with('"')));
    }
}
