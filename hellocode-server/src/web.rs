//! The web app: the chat page at `/` and its assets, embedded in the binary so that the server
//! needs no other file, no build step and no network to serve it.
//!
//! The page's files come from `hellocode-server/web/`, the browser client module it imports from
//! `bindings/web/`. Every response carries an `ETag` and `Cache-Control: no-cache` (the browser
//! keeps a copy and revalidates it: a new binary's page is picked up at once, an unchanged one
//! costs a 304), and the headers of [`SECURITY_HEADERS`]: a Content-Security-Policy that allows
//! only this origin's scripts, styles and connections, and no inline code at all. A browser that
//! accepts gzip gets each text file gzipped (compressed once, on first use: 67,850 of 223,299
//! bytes), with an ETag of its own and `Vary: Accept-Encoding`.
//!
//! ```
//! let page = hellocode_server::web::asset("/").expect("the page is embedded");
//! assert_eq!(page.content_type, "text/html; charset=utf-8");
//! ```

use std::io::Write;
use std::sync::OnceLock;

use flate2::Compression;
use flate2::write::GzEncoder;

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

/// An asset's gzipped copy.
struct Gzipped {
    body: Vec<u8>,
    /// Its strong ETag: another representation, so another tag than the plain file's.
    etag: String,
}

/// Each asset gzipped, in the order of [`ASSETS`]; `None` where gzip would not be smaller (an
/// image format that is compressed already). Computed once.
fn gzipped() -> &'static [Option<Gzipped>] {
    static GZIPPED: OnceLock<Vec<Option<Gzipped>>> = OnceLock::new();
    GZIPPED.get_or_init(|| {
        ASSETS
            .iter()
            .zip(etags())
            .map(|(asset, etag)| {
                let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
                encoder.write_all(asset.body).ok()?;
                let body = encoder.finish().ok()?;
                let etag = format!("{}-gzip\"", etag.trim_end_matches('"'));
                (body.len() < asset.body.len()).then_some(Gzipped { body, etag })
            })
            .collect()
    })
}

/// Whether an `Accept-Encoding` header accepts gzip (RFC 9110 §12.5.3: listed, or `*`, with a
/// quality above zero).
fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|parameter| {
            parameter
                .strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
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
        .and(warp::header::optional::<String>("accept-encoding"))
        .map(|index: usize, if_none_match: Option<String>, accept_encoding: Option<String>| {
            let gzip = accept_encoding.as_deref().is_some_and(accepts_gzip);
            respond(index, if_none_match.as_deref(), gzip)
        })
}

/// The asset at `index` (gzipped if `gzip` and smaller so), or 304 when the client's copy is
/// current. (For `HEAD`, hyper drops the body and keeps the length.)
fn respond(index: usize, if_none_match: Option<&str>, gzip: bool) -> Response {
    let asset = &ASSETS[index];
    let compressible = gzipped()[index].as_ref();
    let sent_gzipped = compressible.filter(|_| gzip);
    let (body, etag) = match sent_gzipped {
        Some(gzipped) => (gzipped.body.as_slice(), &gzipped.etag),
        None => (asset.body, &etags()[index]),
    };
    let current = if_none_match
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut response = if current {
        let mut response = Response::default();
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(body.into());
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        if sent_gzipped.is_some() {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    if compressible.is_some() {
        // Caches must key this path's answers on the request's encodings.
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
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

    #[test]
    fn gzip_is_accepted_when_listed_or_starred_with_a_quality_above_zero() {
        assert!(accepts_gzip("gzip, deflate, br, zstd"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip; q=0.0, br"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
    }

    fn header(response: &Response, name: header::HeaderName) -> Option<&str> {
        response.headers().get(name).and_then(|value| value.to_str().ok())
    }

    #[tokio::test]
    async fn a_browser_that_accepts_gzip_gets_the_same_bytes_gzipped_under_their_own_etag() {
        use http_body_util::BodyExt;
        use std::io::Read;
        let index = ASSETS.iter().position(|asset| asset.path == "/").expect("the page");
        let plain = respond(index, None, false);
        let zipped = respond(index, None, true);
        assert_eq!(header(&plain, header::CONTENT_ENCODING), None);
        assert_eq!(header(&zipped, header::CONTENT_ENCODING), Some("gzip"));
        for response in [&plain, &zipped] {
            assert_eq!(header(response, header::VARY), Some("accept-encoding"));
            assert_eq!(header(response, header::CONTENT_TYPE), Some(HTML));
        }
        let (plain_tag, zipped_tag) = (
            header(&plain, header::ETAG).expect("etag").to_owned(),
            header(&zipped, header::ETAG).expect("etag").to_owned(),
        );
        assert_ne!(plain_tag, zipped_tag);
        let body = zipped.into_body().collect().await.expect("body").to_bytes();
        assert!(body.len() < ASSETS[index].body.len());
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut unzipped).expect("gzip");
        assert_eq!(unzipped, ASSETS[index].body);
        // Each representation revalidates with its own tag.
        assert_eq!(respond(index, Some(&zipped_tag), true).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(respond(index, Some(&plain_tag), false).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(respond(index, Some(&plain_tag), true).status(), StatusCode::OK);
    }

    #[test]
    fn every_text_file_is_smaller_gzipped() {
        for (asset, gzipped) in ASSETS.iter().zip(gzipped()) {
            if asset.content_type != SVG {
                assert!(gzipped.is_some(), "{} gzipped", asset.path);
            }
        }
    }
}
