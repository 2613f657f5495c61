//! The REST routes of hellocode-server, driven in process: a real `Server` on a loopback port with
//! a `MemoryStorage`, and arbitrary requests (method, path, query, headers, body: see
//! `hellocode_fuzz::rest_input`) sent over one kept-alive HTTP/1.1 connection.
//!
//! Checked for every request: it is answered (within a hang guard), never with a 5xx (a 500 for
//! client input is a bug), and every error has a JSON object body. A panic anywhere in the
//! server aborts the process, which the fuzzer reports as a crash.
//!
//! The server and its accounts are built once and rebuilt every [`REBUILD_EVERY`] inputs, and
//! after any input that could have removed an account or changed its credentials, so that the
//! tokens the inputs use stay valid and memory stays bounded.

#![no_main]
// The server's warp filter (every route, `or`-ed together) is a deep type: proving its future
// `Unpin` when this crate instantiates it, in the release build cargo-fuzz makes, passes the
// default limit of 128.
#![recursion_limit = "256"]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use hellocode_core::model::{NewChat, NewUser, Timestamp};
use hellocode_core::storage::{MemoryStorage, Storage};
use hellocode_fuzz::rest_input::{Auth, Known, Request};
use hellocode_server::auth::{Tokens, password};
use hellocode_server::{Server, Settings};
use http::{HeaderName, HeaderValue, Method};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const SECRET: &[u8] = b"fuzz-secret-of-at-least-32-bytes!";
const PASSWORD: &str = "correct horse battery";
const USERS: [&str; 3] = ["alice", "bob", "carol"];
const REBUILD_EVERY: u32 = 256;
const MAX_REQUESTS: usize = 4;
/// A hang guard, not a timing assertion: every request must be answered.
const PATIENCE: Duration = Duration::from_secs(20);

/// Headers that would change the framing of the connection or switch protocols: the target
/// checks the routes, not hyper's HTTP/1 parser.
const FRAMING: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "host",
    "expect",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
];

struct Harness {
    runtime: tokio::runtime::Runtime,
    /// An argon2 hash of [`PASSWORD`], computed once: logins with it succeed.
    hash: String,
    world: Option<World>,
}

struct World {
    server: Server,
    sender: Option<SendRequest<Full<Bytes>>>,
    tokens: Vec<String>,
    known: Known,
    inputs: u32,
}

static HARNESS: OnceLock<Mutex<Harness>> = OnceLock::new();

fuzz_target!(|requests: Vec<Request>| {
    let harness = HARNESS.get_or_init(|| {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let hash = password::hash(PASSWORD).expect("hash");
        Mutex::new(Harness { runtime, hash, world: None })
    });
    let mut harness = harness.lock().unwrap_or_else(PoisonError::into_inner);
    let Harness { runtime, hash, world } = &mut *harness;
    runtime.block_on(async {
        let mut current = match world.take() {
            Some(current) if current.inputs < REBUILD_EVERY => current,
            Some(old) => {
                old.shut_down().await;
                World::build(hash).await
            }
            None => World::build(hash).await,
        };
        current.inputs += 1;
        let mut destructive = false;
        for request in requests.iter().take(MAX_REQUESTS) {
            destructive |= current.send(request).await;
        }
        if destructive {
            current.shut_down().await;
        } else {
            *world = Some(current);
        }
    });
});

impl World {
    async fn build(hash: &str) -> World {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let tokens = Tokens::new(SECRET, Duration::from_secs(3600));
        let mut known = Known { users: Vec::new(), chats: Vec::new() };
        let mut issued = Vec::new();
        for name in USERS {
            let user = NewUser::new(name, format!("{name}@example.org"), hash);
            let user = storage.create_user(user).await.expect("create user");
            let account = storage.account(name).await.expect("read").expect("the new account");
            let token = tokens.issue(user.id, account.token_generation).expect("issue token");
            issued.push(token);
            known.users.push(name.to_owned());
        }
        // A direct chat and a group (alice owns it, bob is a member), so that the group routes
        // (members, roles, invitations, links) reach their rules.
        let now = Timestamp::now();
        let chats = [
            NewChat::direct(USERS[0], USERS[1], now),
            NewChat {
                name: Some("Crabs".to_owned()),
                ..NewChat::group(USERS[0], &[USERS[1]], now)
            },
        ];
        for chat in chats {
            let created = storage.create_chat(chat).await.expect("create chat");
            known.chats.push(created.chat.id.0);
        }
        // Rate limits are the rate-limit tests' business: here they would hide the routes.
        let settings = Settings {
            rate_per_second: 1_000_000,
            rate_burst: 1_000_000,
            ..Settings::without_abuse_limits()
        };
        let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
        let server = Server::start_with(storage, SECRET, settings, addr).await.expect("server");
        World { server, sender: None, tokens: issued, known, inputs: 0 }
    }

    async fn shut_down(self) {
        drop(self.sender);
        let _ = tokio::time::timeout(PATIENCE, self.server.shutdown()).await;
    }

    async fn connection(&mut self) -> &mut SendRequest<Full<Bytes>> {
        if let Some(sender) = &mut self.sender
            && sender.ready().await.is_ok()
        {
            return self.sender.as_mut().expect("just checked");
        }
        let stream =
            tokio::net::TcpStream::connect(self.server.local_addr()).await.expect("connect");
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(connection);
        self.sender.insert(sender)
    }

    /// Send one request and check its answer. Returns whether it may have removed an account
    /// or changed credentials.
    async fn send(&mut self, input: &Request) -> bool {
        let method = input.method();
        let uri = input.uri(&self.known);
        let Some(request) = self.request(input, &method, &uri) else { return false };
        let destructive = matches!(method.as_str(), "DELETE" | "PATCH" | "PUT")
            && (uri.starts_with("/api/users") || uri.starts_with("/api/bot-tokens"));
        let is_head = request.method() == Method::HEAD;
        let sender = self.connection().await;
        let response = match tokio::time::timeout(PATIENCE, sender.send_request(request)).await {
            Ok(Ok(response)) => response,
            // The server closed the connection (say, after refusing a request it could not
            // read): not an answer to check. The next request reconnects.
            Ok(Err(_)) => {
                self.sender = None;
                return destructive;
            }
            Err(_) => panic!("{method} {uri}: no answer within {PATIENCE:?}"),
        };
        let status = response.status();
        let json_type = response
            .headers()
            .get("content-type")
            .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
        let body = match tokio::time::timeout(PATIENCE, response.into_body().collect()).await {
            Ok(Ok(body)) => body.to_bytes(),
            Ok(Err(_)) => {
                self.sender = None;
                return destructive;
            }
            Err(_) => panic!("{method} {uri}: body not finished within {PATIENCE:?}"),
        };
        let text = String::from_utf8_lossy(&body);
        assert!(!status.is_server_error(), "{method} {uri} answered {status}: {text}");
        assert_ne!(status.as_u16(), 101, "{method} {uri} switched protocols without asking");
        // 431 comes from the HTTP layer (the header size cap, `--http-max-header-bytes`) before
        // any route runs, as hyper writes it: no body. Every other error is the server's own.
        let from_http_layer = status == hyper::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
        if status.is_client_error() && !is_head && !from_http_layer {
            assert!(json_type, "{method} {uri}: error {status} is not JSON: {text}");
            let value: Value = serde_json::from_slice(&body)
                .unwrap_or_else(|err| panic!("{method} {uri}: error {status} body {text}: {err}"));
            assert!(value.is_object(), "{method} {uri}: error {status} body {text}");
        }
        if json_type && !body.is_empty() {
            serde_json::from_slice::<Value>(&body).unwrap_or_else(|err| {
                panic!("{method} {uri}: {status} invalid JSON {text}: {err}")
            });
        }
        destructive
    }

    /// The HTTP request, or `None` when the input is not a request hyper can send (an invalid
    /// method or URI): those never reach the routes.
    fn request(
        &self,
        input: &Request,
        method: &str,
        uri: &str,
    ) -> Option<http::Request<Full<Bytes>>> {
        let method = Method::from_bytes(method.as_bytes()).ok()?;
        let mut request =
            http::Request::builder().method(method).uri(uri).header("host", "localhost");
        let token = |i: &u8| self.tokens[usize::from(*i) % self.tokens.len()].clone();
        let authorization = match &input.auth {
            Auth::None => None,
            Auth::User(i) => Some(format!("Bearer {}", token(i)).into_bytes()),
            Auth::Scheme(scheme, i) => Some(format!("{scheme} {}", token(i)).into_bytes()),
            Auth::Raw(raw) => Some(raw.clone()),
        };
        if let Some(value) = authorization {
            request = request.header("authorization", HeaderValue::from_bytes(&value).ok()?);
        }
        for (name, value) in input.headers(&self.known) {
            if FRAMING.contains(&name.as_str()) || name.starts_with("sec-websocket") {
                continue;
            }
            let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(&value))
            else {
                continue;
            };
            request = request.header(name, value);
        }
        request.body(Full::new(Bytes::from(input.body(&self.known)))).ok()
    }
}
