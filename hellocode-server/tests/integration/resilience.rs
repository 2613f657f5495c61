//! Rate limits of logins and REST requests, failing fast and honest health during a database
//! outage, and publication of a REST write whose client hung up (issue 13, defects 4 and 6).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hellocode_core::storage::PoolConfig;
use hellocode_core::testing::PgDatabase;
use hellocode_server::rate_limit::Rate;
use hellocode_server::{Server, Settings, open_storage_with};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{Backend, PASSWORD, SECRET, TestServer, chat_among, test_settings};

/// A hang guard for reads; also the bound a request must fail within during an outage (the
/// pool's acquire timeout is 2 s; before the fix requests hung 10 s).
const BOUND: Duration = Duration::from_secs(6);

/// One HTTP/1.1 request; returns the status, the `Retry-After` header and the JSON body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Option<u64>, Value) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n{auth}\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send request");
    let mut response = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut response))
        .await
        .expect("response within the bound")
        .expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    let retry_after = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after").then(|| value.trim().parse().ok())?
    });
    (status, retry_after, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn login(username: &str, password: &str) -> Value {
    json!({ "username": username, "password": password })
}

async fn limited_server(settings: Settings) -> TestServer {
    TestServer::start_with(Backend::Sqlite, settings).await.expect("sqlite needs no service")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_for_one_username_are_limited_with_retry_after() {
    let settings =
        Settings { auth_rate_per_username: Rate { burst: 3, per_second: 0.1 }, ..test_settings() };
    let server = limited_server(settings).await;
    server.user("carol").await; // registration and login: two attempts of carol's three
    let (status, _, _) =
        http(server.addr, "POST", "/api/login/", None, Some(&login("carol", "wrong!"))).await;
    assert_eq!(status, 401);
    let (status, retry_after, body) =
        http(server.addr, "POST", "/api/login/", None, Some(&login("CAROL", "wrong!"))).await;
    assert_eq!((status, &body["code"]), (429, &json!("rate_limited")), "{body}");
    assert_eq!(retry_after, Some(10), "one attempt per 10 s: wait 10 s");
    // Another user is not affected.
    server.user("dave").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_from_one_address_are_limited_on_rest_and_websocket_alike() {
    let settings =
        Settings { auth_rate_per_address: Rate { burst: 2, per_second: 0.5 }, ..test_settings() };
    let server = limited_server(settings).await;
    let (status, _, _) =
        http(server.addr, "POST", "/api/login/", None, Some(&login("x", "whatever1"))).await;
    assert_eq!(status, 401);
    let mut socket = server.connect("/ws").await;
    let reply = socket
        .request(json!({ "command": "login", "username": "y", "password": "whatever2" }), 1)
        .await;
    assert_eq!(reply["code"], "invalid_credentials", "{reply}");
    let reply = socket
        .request(json!({ "command": "login", "username": "z", "password": "whatever3" }), 2)
        .await;
    assert_eq!((&reply["code"], &reply["retryAfter"]), (&json!("rate_limited"), &json!(2)));
    let (status, retry_after, _) = http(
        server.addr,
        "POST",
        "/api/register/",
        None,
        Some(&json!({ "username": "w", "email": "w@example.org", "password": PASSWORD,
                      "password_confirmation": PASSWORD })),
    )
    .await;
    assert_eq!((status, retry_after), (429, Some(2)), "registration counts too");
    // The socket stays usable.
    socket.expect_nothing_pending().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_requests_from_one_address_are_limited_but_health_is_not() {
    let settings =
        Settings { rest_rate_per_address: Rate { burst: 3, per_second: 0.5 }, ..test_settings() };
    let server = limited_server(settings).await;
    for _ in 0..3 {
        let (status, _, _) = http(server.addr, "GET", "/api/languages/", None, None).await;
        assert_eq!(status, 200);
    }
    let (status, retry_after, body) = http(server.addr, "GET", "/api/languages/", None, None).await;
    assert_eq!((status, retry_after, &body["code"]), (429, Some(2), &json!("rate_limited")));
    let (status, _, _) = http(server.addr, "GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
}

/// A TCP proxy to the local Postgres that can be taken down (every connection cut, new ones
/// closed at once) and brought back: a database outage on demand.
struct Proxy {
    addr: SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let (up, links) = (up.clone(), links.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(std::sync::atomic::Ordering::SeqCst) {
                        continue; // dropped: closed at once
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect("127.0.0.1:5432").await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    links.lock().expect("links").push(link.abort_handle());
                }
            }
        });
        Proxy { addr, up, links, accept }
    }

    fn down(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    fn back_up(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.down();
        self.accept.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_fast_with_unavailable_and_health_says_so() {
    let Some(database) = PgDatabase::create().await else { return };
    let proxy = Proxy::start().await;
    let url = database.url.replace("127.0.0.1:5432", &proxy.addr.to_string());
    let storage =
        open_storage_with(&url, PoolConfig { max_connections: 4, ..PoolConfig::default() })
            .await
            .expect("open storage through the proxy");
    let server = Server::start_with(storage, SECRET, test_settings(), ([127, 0, 0, 1], 0).into())
        .await
        .expect("start server");
    let addr = server.local_addr();
    let register = json!({ "username": "erin", "email": "erin@example.org", "password": PASSWORD,
                           "password_confirmation": PASSWORD });
    let (status, _, body) = http(addr, "POST", "/api/register/", None, Some(&register)).await;
    assert_eq!(status, 201, "{body}");
    let (_, _, body) =
        http(addr, "POST", "/api/login/", None, Some(&login("erin", PASSWORD))).await;
    let token = body["token"].as_str().expect("token").to_owned();
    let (status, _, body) = http(addr, "GET", "/healthz", None, None).await;
    assert_eq!((status, &body["checks"]["database"]), (200, &json!("ok")), "{body}");

    proxy.down();
    // Within the bound (the `http` helper's read timeout), and as `unavailable`, not `internal`.
    let (status, _, body) = http(addr, "GET", "/api/languages/", Some(&token), None).await;
    assert_eq!((status, &body["code"]), (503, &json!("unavailable")), "{body}");
    let (status, _, body) = http(addr, "GET", "/healthz", None, None).await;
    assert_eq!(status, 503, "{body}");
    assert_ne!(body["checks"]["database"], "ok", "{body}");

    proxy.back_up();
    // The pool reconnects on demand: a few bounded attempts, each answering within the bound.
    let mut healthy = None;
    for _ in 0..5 {
        let (status, _, body) = http(addr, "GET", "/healthz", None, None).await;
        if status == 200 {
            healthy = Some(body);
            break;
        }
    }
    assert!(healthy.is_some(), "health recovered after the database came back");
    let (status, _, body) = http(addr, "GET", "/api/languages/", Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_failing_writes_while_reads_still_work() {
    let Some(server) = TestServer::start(Backend::Postgres).await else { return };
    let (tokens, chat) = chat_among(&server, &["fay", "gus"]).await;
    let url = server.database_url().to_owned();
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
    // Every new message now fails in the database, as on a full disk; reads still work.
    sqlx::raw_sql("ALTER TABLE messages ADD CONSTRAINT no_writes CHECK (false) NOT VALID")
        .execute(&mut admin)
        .await
        .expect("add constraint");
    let post = json!({ "message": "hello" });
    let path = format!("/api/chat/{chat}/messages/");
    let (status, _, _) = http(server.addr, "POST", &path, Some(&tokens[0]), Some(&post)).await;
    assert_eq!(status, 500);
    let (status, _, body) = http(server.addr, "GET", "/healthz", None, None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"], json!({ "database": "ok", "writes": "failing" }));

    sqlx::raw_sql("ALTER TABLE messages DROP CONSTRAINT no_writes")
        .execute(&mut admin)
        .await
        .expect("drop constraint");
    let (status, _, _) = http(server.addr, "POST", &path, Some(&tokens[0]), Some(&post)).await;
    assert_eq!(status, 201);
    let (status, _, body) = http(server.addr, "GET", "/healthz", None, None).await;
    assert_eq!((status, &body["checks"]["writes"]), (200, &json!("ok")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_post_whose_client_hung_up_is_still_published() {
    let Some(server) = TestServer::start(Backend::Postgres).await else { return };
    let (tokens, chat) = chat_among(&server, &["hal", "ida"]).await;
    let mut ida = server.connect(&format!("/ws?token={}", tokens[1])).await;
    ida.expect_nothing_pending().await;

    // Hold the chat's row lock: the append enters storage and then waits for it.
    let url = server.database_url().to_owned();
    let mut blocker = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "BEGIN; SELECT id FROM chats WHERE id = {chat} FOR UPDATE"
    )))
    .execute(&mut blocker)
    .await
    .expect("lock the chat");

    let body = json!({ "message": "sent, then hung up" }).to_string();
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    let request = format!(
        "POST /api/chat/{chat}/messages/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n{body}",
        tokens[0],
        body.len()
    );
    client.write_all(request.as_bytes()).await.expect("send");

    // Wait until the append is in the database, blocked on the lock (bounded polling of a
    // condition, not a sleep for synchronization).
    let mut observer = sqlx::PgConnection::connect(&url).await.expect("connect");
    let database = url.rsplit('/').next().expect("database name").to_owned();
    let mut waiting = false;
    for _ in 0..200 {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&database)
        .fetch_one(&mut observer)
        .await
        .expect("pg_stat_activity");
        if count > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(waiting, "the append reached the database");

    // Hang up, and wait until the server has dropped the request (it closes the connection
    // without an answer).
    client.shutdown().await.expect("half-close");
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, client.read_to_end(&mut answer))
        .await
        .expect("the server closes the abandoned connection")
        .expect("read");
    assert!(answer.is_empty(), "no answer to a client that hung up");

    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.expect("release the chat");
    let event = ida.expect("new_message").await;
    assert_eq!(event["message"]["content"], "sent, then hung up");
}
