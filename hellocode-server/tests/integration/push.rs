//! Push notifications through a fake push gateway on loopback that the test runs: who is
//! notified of a post (offline members, once per post and pusher, not the online, not where
//! muted), with what (Matrix gateway fields, previews off), retries while the gateway is down
//! that survive a server restart, a rejected push key removing its pusher, and bad pushers
//! refused with nothing stored.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::harness::{Backend, TestServer, group_among, test_settings};

on_backends!(push:
    offline_members_get_one_notification_per_post_online_and_muted_ones_none,
    a_gateway_that_is_down_gets_retries_and_the_notification_survives_a_restart,
    a_rejected_push_key_removes_its_pusher,
    bad_pushers_are_refused_and_nothing_is_stored,
);

const NOTIFY: &str = "/_matrix/push/v1/notify";
/// A hang guard, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(15);

/// A push gateway: answers every notification with `{"rejected": <the keys in reject>}` and
/// hands each request's body to the test.
struct Gateway {
    addr: SocketAddr,
    received: mpsc::UnboundedReceiver<Value>,
    reject: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    async fn start() -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind gateway");
        Gateway::serve(listener)
    }

    /// On `addr` (a port the test reserved earlier).
    async fn start_on(addr: SocketAddr) -> Gateway {
        let listener = TcpListener::bind(addr).await.expect("bind gateway again");
        Gateway::serve(listener)
    }

    fn serve(listener: TcpListener) -> Gateway {
        let addr = listener.local_addr().expect("addr");
        let (sender, received) = mpsc::unbounded_channel();
        let reject = Arc::new(Mutex::new(Vec::<String>::new()));
        let rejected = reject.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (sender, rejected) = (sender.clone(), rejected.clone());
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (sender, rejected) = (sender.clone(), rejected.clone());
                    async move {
                        assert_eq!(request.method(), "POST");
                        assert_eq!(request.uri().path(), NOTIFY);
                        let body = request.into_body().collect().await.expect("body").to_bytes();
                        let body: Value = serde_json::from_slice(&body).expect("json body");
                        let _ = sender.send(body);
                        let keys = rejected.lock().expect("lock").clone();
                        let answer = json!({ "rejected": keys }).to_string();
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(answer))))
                    }
                });
                tokio::spawn(async move {
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    let _ = connection.await;
                });
            }
        });
        Gateway { addr, received, reject, task }
    }

    fn url(&self) -> String {
        format!("http://{}{NOTIFY}", self.addr)
    }

    async fn next(&mut self) -> Value {
        tokio::time::timeout(PATIENCE, self.received.recv())
            .await
            .expect("a notification in time")
            .expect("gateway running")
    }

    /// Every notification received so far.
    fn drain(&mut self) -> Vec<Value> {
        std::iter::from_fn(|| self.received.try_recv().ok()).collect()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The server's push counters from `/metrics`, by outcome.
async fn pushes(server: &TestServer, outcome: &str) -> u64 {
    let (status, text) = server.http_text("/metrics").await;
    assert_eq!(status, 200);
    let line = format!("hellocode_push_notifications_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line} in /metrics"))
}

/// Wait until every queued notification has been settled (sent, rejected or given up).
async fn settled(server: &TestServer, queued: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let done = pushes(server, "sent").await
            + pushes(server, "rejected").await
            + pushes(server, "given_up").await;
        if pushes(server, "queued").await == queued && done == queued {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "notifications not settled in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Register a pusher over REST (the same command as the WebSocket's `set_pusher`).
async fn set_pusher(
    server: &TestServer,
    token: &str,
    key: &str,
    url: &str,
    previews: bool,
) -> Value {
    let body = json!({
        "appId": "org.example.chat", "pushkey": key, "url": url,
        "deviceName": format!("{key}'s phone"), "lang": "en", "previews": previews,
    });
    let (status, settings) = server.http("POST", "/api/pushers/", Some(token), Some(&body)).await;
    assert_eq!(status, 200, "{settings}");
    settings
}

fn key_of(notification: &Value) -> &str {
    notification["notification"]["devices"][0]["pushkey"].as_str().expect("pushkey")
}

async fn offline_members_get_one_notification_per_post_online_and_muted_ones_none(
    backend: Backend,
) {
    let Some(server) = TestServer::start(backend).await else { return };
    let mut gateway = Gateway::start().await;
    let names = ["alice", "bob", "carol", "dave"];
    let (tokens, chat) = group_among(&server, "rustaceans", &names).await;
    let url = gateway.url();
    for (name, token) in names.iter().zip(&tokens).skip(1) {
        let previews = *name != "dave";
        let settings = set_pusher(&server, token, &format!("{name}-key"), &url, previews).await;
        assert_eq!(settings["pushers"][0]["pushkey"], format!("{name}-key"), "{settings}");
        assert_eq!(settings["pushers"][0]["previews"], previews, "{settings}");
    }
    // Carol has the app open; bob and dave do not.
    let _carol = server.connect(&format!("/ws?token={}", tokens[2])).await;
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    alice.post(chat, "first", 10).await;
    alice.post(chat, "second", 11).await;
    settled(&server, 4).await;
    let mut got = gateway.drain();
    got.sort_by_key(|n| (key_of(n).to_owned(), n["notification"]["counts"]["unread"].as_u64()));
    let keys: Vec<&str> = got.iter().map(key_of).collect();
    assert_eq!(keys, ["bob-key", "bob-key", "dave-key", "dave-key"], "one per post and device");
    let bob = &got[1]["notification"];
    assert_eq!(bob["sender"], "alice");
    assert_eq!(bob["room_id"], chat.to_string());
    assert_eq!(bob["room_name"], "rustaceans");
    assert_eq!(bob["type"], "m.room.message");
    assert_eq!(bob["content"], json!({"msgtype": "m.text", "body": "second"}));
    assert_eq!(bob["counts"]["unread"], 2, "two unread posts");
    assert_eq!(bob["devices"][0]["app_id"], "org.example.chat");
    assert_eq!(got[0]["notification"]["counts"]["unread"], 1);
    let dave = &got[3]["notification"];
    assert!(dave.get("content").is_none(), "previews off: no text: {dave}");
    assert_eq!(dave["sender"], "alice");

    // Bob mutes the chat: the next post notifies dave only.
    let mute = json!({ "muted": true });
    let path = format!("/api/chat/{chat}/mute/");
    let (status, settings) = server.http("PUT", &path, Some(&tokens[1]), Some(&mute)).await;
    assert_eq!((status, &settings["mutedChats"]), (200, &json!([chat])), "{settings}");
    alice.post(chat, "third", 12).await;
    settled(&server, 5).await;
    let got = gateway.drain();
    assert_eq!(got.iter().map(key_of).collect::<Vec<_>>(), ["dave-key"], "muted: none for bob");

    // An edit notifies no one, nor does a post while everyone unmuted is online.
    let edit = json!({ "command": "edit_message", "chatId": chat, "seq": 3, "message": "3rd" });
    let (reply, _) = alice.call(edit, 13).await;
    assert_eq!(reply["command"], "ack", "{reply}");
    let mut dave_client = server.connect(&format!("/ws?token={}", tokens[3])).await;
    dave_client.post(chat, "from dave", 14).await;
    alice.expect("new_message").await;
    // A marker: bob unmutes, and a last post reaches him alone.
    let unmute = json!({ "muted": false });
    server.http("PUT", &path, Some(&tokens[1]), Some(&unmute)).await;
    alice.post(chat, "marker", 15).await;
    settled(&server, 6).await;
    let got = gateway.drain();
    assert_eq!(got.iter().map(key_of).collect::<Vec<_>>(), ["bob-key"], "only the marker");
    assert_eq!(got[0]["notification"]["content"]["body"], "marker");
    assert_eq!(pushes(&server, "dropped").await, 0);
}

async fn a_gateway_that_is_down_gets_retries_and_the_notification_survives_a_restart(
    backend: Backend,
) {
    let mut settings = test_settings();
    settings.push.first_retry = Duration::from_millis(100);
    settings.push.max_retry = Duration::from_millis(400);
    let Some(mut server) = TestServer::start_with(backend, settings).await else { return };
    // A port nobody listens on (yet): connections are refused.
    let reserved = TcpListener::bind("127.0.0.1:0").await.expect("reserve a port");
    let addr = reserved.local_addr().expect("addr");
    drop(reserved);
    let url = format!("http://{addr}{NOTIFY}");
    let (tokens, chat) = group_among(&server, "ops", &["alice", "bob"]).await;
    set_pusher(&server, &tokens[1], "bob-key", &url, true).await;
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    alice.post(chat, "are you there?", 2).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while pushes(&server, "retried").await < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no retries while the gateway is down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(alice);
    server.restart().await;
    let mut gateway = Gateway::start_on(addr).await;
    let notification = gateway.next().await;
    assert_eq!(key_of(&notification), "bob-key");
    assert_eq!(notification["notification"]["content"]["body"], "are you there?");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while pushes(&server, "sent").await < 1 {
        assert!(tokio::time::Instant::now() < deadline, "not settled in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gateway.drain().is_empty(), "delivered once");
}

async fn a_rejected_push_key_removes_its_pusher(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let mut gateway = Gateway::start().await;
    gateway.reject.lock().expect("lock").push("stale-key".into());
    let (tokens, chat) = group_among(&server, "phones", &["alice", "bob"]).await;
    set_pusher(&server, &tokens[1], "stale-key", &gateway.url(), true).await;
    let settings = set_pusher(&server, &tokens[1], "fresh-key", &gateway.url(), true).await;
    assert_eq!(settings["pushers"].as_array().map(Vec::len), Some(2), "{settings}");
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    alice.post(chat, "hello", 3).await;
    settled(&server, 2).await;
    assert_eq!(gateway.drain().len(), 2, "both devices were tried");
    assert_eq!(pushes(&server, "rejected").await, 1);
    let (status, settings) = server.http("GET", "/api/pushers/", Some(&tokens[1]), None).await;
    assert_eq!(status, 200, "{settings}");
    let keys: Vec<&Value> =
        settings["pushers"].as_array().expect("list").iter().map(|p| &p["pushkey"]).collect();
    assert_eq!(keys, [&json!("fresh-key")], "the rejected key's pusher is gone");
    alice.post(chat, "again", 4).await;
    settled(&server, 3).await;
    let got = gateway.drain();
    assert_eq!(got.iter().map(key_of).collect::<Vec<_>>(), ["fresh-key"]);
}

async fn bad_pushers_are_refused_and_nothing_is_stored(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "g", &["alice", "bob"]).await;
    let carol = server.user("carol").await;
    let own = format!("http://127.0.0.1:{}{NOTIFY}", server.addr.port());
    let own_by_name = format!("http://localhost:{}{NOTIFY}", server.addr.port());
    let long_key = "k".repeat(513);
    let bad = [
        json!({"appId": "app", "pushkey": "k", "url": "ftp://push.example.org/_matrix/push/v1/notify"}),
        json!({"appId": "app", "pushkey": "k", "url": "https://push.example.org/notify"}),
        json!({"appId": "app", "pushkey": "k", "url": "https://push.example.org/_matrix/push/v1/notify?x=1"}),
        json!({"appId": "app", "pushkey": "k", "url": "https://me:pw@push.example.org/_matrix/push/v1/notify"}),
        json!({"appId": "app", "pushkey": "k", "url": own}),
        json!({"appId": "app", "pushkey": "k", "url": own_by_name}),
        json!({"appId": "app", "pushkey": long_key, "url": "https://push.example.org/_matrix/push/v1/notify"}),
        json!({"appId": "", "pushkey": "k", "url": "https://push.example.org/_matrix/push/v1/notify"}),
        json!({"appId": "app", "pushkey": "k\u{0}", "url": "https://push.example.org/_matrix/push/v1/notify"}),
    ];
    let mut alice = server.connect(&format!("/ws?token={}", tokens[0])).await;
    for (n, body) in bad.iter().enumerate() {
        let mut frame = body.clone();
        frame["command"] = json!("set_pusher");
        let reply = alice.request(frame, n as i64 + 1).await;
        assert_eq!(reply["command"], "error", "{body} was accepted: {reply}");
        assert_eq!(reply["code"], "invalid_field", "{reply}");
        let (status, answer) =
            server.http("POST", "/api/pushers/", Some(&tokens[0]), Some(body)).await;
        assert_eq!((status, &answer["code"]), (400, &json!("invalid_field")), "{body}: {answer}");
    }
    let (status, settings) = server.http("GET", "/api/pushers/", Some(&tokens[0]), None).await;
    assert_eq!(
        (status, settings),
        (200, json!({"pushers": [], "mutedChats": []})),
        "nothing stored"
    );

    // Muting is for members; the REST form answers the settings.
    let (status, _) = server
        .http(
            "PUT",
            &format!("/api/chat/{chat}/mute/"),
            Some(&carol),
            Some(&json!({"muted": true})),
        )
        .await;
    assert_eq!(status, 403, "carol is no member");
    let (status, settings) = server
        .http(
            "PUT",
            &format!("/api/chat/{chat}/mute/"),
            Some(&tokens[1]),
            Some(&json!({"muted": true})),
        )
        .await;
    assert_eq!((status, &settings["mutedChats"]), (200, &json!([chat])), "{settings}");
    let good = json!({"appId": "app", "pushkey": "k", "url": "https://push.example.org/_matrix/push/v1/notify"});
    let (status, settings) =
        server.http("POST", "/api/pushers/", Some(&tokens[1]), Some(&good)).await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["pushers"][0]["previews"], true, "previews by default");
    let key = json!({"appId": "app", "pushkey": "k"});
    let (status, settings) =
        server.http("POST", "/api/pushers/remove/", Some(&tokens[1]), Some(&key)).await;
    assert_eq!((status, &settings["pushers"]), (200, &json!([])), "{settings}");
}
