//! Reconnection, resume and the send queue, through a proxy that refuses and cuts connections.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hellocode_sdk::{
    ChatId, Client, ConnectionState, Event, Message, SendState, Seq, WebSocketTransport,
};

use crate::harness::{Kind, TestServer, fast_config, messages, next_matching, password};
use crate::proxy::Proxy;

async fn via_proxy(proxy: &Proxy, name: &str, config: hellocode_sdk::ClientConfig) -> Client {
    let transport = WebSocketTransport::new(&proxy.ws_url()).expect("url");
    Client::connect_with(transport, password(name), config).await.expect("connects via proxy")
}

/// Take the proxy down and wait until `client` noticed.
async fn cut_off(proxy: &Proxy, client: &Client) {
    proxy.set_down(true);
    wait_for_state(client, |state| matches!(state, ConnectionState::Reconnecting { .. })).await;
}

async fn wait_for_state(client: &Client, want: fn(&ConnectionState) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !want(&client.state()) {
        assert!(tokio::time::Instant::now() < deadline, "state: {:?}", client.state());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_made_while_down_are_delivered_once_after_reconnect() {
    let server = TestServer::start().await;
    server.register(Kind::WebSocket, "alice").await.close().await;
    let bob = server.register(Kind::WebSocket, "bob").await;
    let proxy = Proxy::start(server.addr()).await;
    let alice = via_proxy(&proxy, "alice", fast_config()).await;
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    let mut bob_events = bob.events();

    cut_off(&proxy, &alice).await;
    let queued: Vec<_> =
        (0..5).map(|n| alice.enqueue(chat.id, format!("offline {n}")).expect("queued")).collect();
    let pending = alice.pending_sends().await.expect("snapshot");
    assert_eq!(pending, queued, "all five wait in order");
    assert!(server.stored(chat.id, "bob").await.is_empty(), "nothing reached the server");

    proxy.set_down(false);
    let got: Vec<String> =
        messages(&mut bob_events, 5).await.into_iter().map(|m| m.content).collect();
    assert_eq!(got, (0..5).map(|n| format!("offline {n}")).collect::<Vec<_>>());
    // A marker sent after them is the next thing bob sees: nothing was delivered twice.
    alice.send(chat.id, "marker").await.expect("sent");
    assert_eq!(messages(&mut bob_events, 1).await[0].content, "marker");
    let stored = server.stored(chat.id, "bob").await;
    assert_eq!(stored.len(), 6, "each offline send stored once, and the marker");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_queue_is_bounded() {
    let server = TestServer::start().await;
    server.register(Kind::WebSocket, "alice").await.close().await;
    server.register(Kind::WebSocket, "bob").await.close().await;
    let proxy = Proxy::start(server.addr()).await;
    let mut config = fast_config();
    config.send_queue = 3;
    config.send_expiry = Some(Duration::from_millis(300));
    let alice = via_proxy(&proxy, "alice", config).await;
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    let mut events = alice.events();
    cut_off(&proxy, &alice).await;
    for n in 0..3 {
        alice.enqueue(chat.id, format!("{n}")).expect("room for three");
    }
    let full = alice.enqueue(chat.id, "four").expect_err("full");
    assert_eq!(full.code(), "queue_full");

    // Unsent messages expire, which makes room again.
    let expired = next_matching(&mut events, |event| match event {
        Event::Send(update) => match update.state {
            SendState::Failed(error) => Some(error),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(expired.code(), "expired");
    wait_until(|| alice.enqueue(chat.id, "later").is_ok()).await;
    server.stop().await;
}

async fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "condition not met in 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_missed_while_away_arrive_once_in_order() {
    let server = TestServer::start().await;
    let alice = server.register(Kind::WebSocket, "alice").await;
    server.register(Kind::WebSocket, "bob").await.close().await;
    let proxy = Proxy::start(server.addr()).await;
    let bob = via_proxy(&proxy, "bob", fast_config()).await;
    let mut bob_events = bob.events();
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    alice.send(chat.id, "before").await.expect("sent");
    assert_eq!(messages(&mut bob_events, 1).await[0].content, "before");

    for round in 0..3 {
        cut_off(&proxy, &bob).await;
        for n in 0..150 {
            alice.enqueue(chat.id, format!("{round}:{n}")).expect("queued");
        }
        // 150 > one resume page (100): the client must ask for more.
        alice.send(chat.id, format!("{round}:end")).await.expect("sent");
        proxy.set_down(false);
        let got = messages(&mut bob_events, 151).await;
        let seqs: Vec<i64> = got.iter().map(|m| m.seq.0).collect();
        let first = 2 + round * 151;
        assert_eq!(seqs, (first..first + 151).collect::<Vec<_>>(), "round {round}");
        assert_eq!(got[150].content, format!("{round}:end"));
    }
    alice.send(chat.id, "marker").await.expect("sent");
    assert_eq!(messages(&mut bob_events, 1).await[0].content, "marker", "nothing came twice");
    server.stop().await;
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    messages: BTreeMap<ChatId, Vec<Message>>,
    sent: usize,
    failed: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_cuts_lose_and_duplicate_nothing() {
    const SEED: u64 = 0x5eed_c0de;
    const MIN_CUTS: usize = 50;
    const CLIENTS: usize = 4;
    let server = TestServer::start().await;
    let names: Vec<String> = (0..CLIENTS).map(|n| format!("user{n}")).collect();
    for name in &names {
        server.register(Kind::WebSocket, name).await.close().await;
    }
    let proxy = Proxy::with_chaos(server.addr(), SEED, 200, 200..6_000).await;
    let mut clients = Vec::new();
    let mut seen = Vec::new();
    for name in &names {
        let client = via_proxy(&proxy, name, fast_config()).await;
        let log = Arc::new(Mutex::new(Seen::default()));
        let mut events = client.events();
        let sink = log.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let mut seen = sink.lock().expect("log");
                match event {
                    Event::Message(message) => {
                        seen.messages.entry(message.chat_id).or_default().push(message)
                    }
                    Event::Send(update) => match update.state {
                        SendState::Sent(_) => seen.sent += 1,
                        SendState::Failed(error) => seen.failed.push(error.to_string()),
                        _ => {}
                    },
                    _ => {}
                }
            }
        });
        clients.push(client);
        seen.push(log);
    }
    // Everyone in one chat; the first two also in a second one.
    let everyone = clients[0].create_chat(names[1..].to_vec()).await.expect("chat");
    let pair = clients[0].create_chat(vec![names[1].clone()]).await.expect("chat");
    let members: HashMap<ChatId, Vec<usize>> =
        HashMap::from([(everyone.id, (0..CLIENTS).collect()), (pair.id, vec![0, 1])]);
    // Make sure every client knows both chats before the cuts start.
    for (index, client) in clients.iter().enumerate() {
        let chats = client.list_chats().await.expect("chats");
        let expected = members.values().filter(|users| users.contains(&index)).count();
        assert_eq!(chats.len(), expected, "client {index}");
    }
    proxy.set_chaos(true);

    let mut sent: HashMap<ChatId, usize> = HashMap::new();
    let mut rounds = 0;
    let started = tokio::time::Instant::now();
    while (proxy.cuts() < MIN_CUTS || rounds < 5) && rounds < 60 {
        assert!(started.elapsed() < Duration::from_secs(120), "cuts so far: {}", proxy.cuts());
        for (index, client) in clients.iter().enumerate() {
            for n in 0..5 {
                let chat = if index < 2 && n % 2 == 1 { pair.id } else { everyone.id };
                client.enqueue(chat, format!("{index}:{rounds}:{n}")).expect("queued");
                *sent.entry(chat).or_default() += 1;
            }
        }
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cuts = proxy.cuts();
    let total: usize = sent.values().sum();

    // Every client sees every message of its chats.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let complete = seen.iter().enumerate().all(|(index, log)| {
            let log = log.lock().expect("log");
            members
                .iter()
                .filter(|(_, users)| users.contains(&index))
                .all(|(chat, _)| log.messages.get(chat).map_or(0, Vec::len) >= sent[chat])
                && log.sent == 5 * rounds
        });
        if complete {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not complete after 120 s; cuts {cuts}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.set_chaos(false);
    // A connection's commands run in order: once each client's ping is answered, every resend
    // it had in flight has been stored (or refused as a duplicate).
    for client in &clients {
        client.ping().await.expect("pong");
    }

    for (chat, count) in &sent {
        let stored = server.stored(*chat, &names[0]).await;
        assert_eq!(stored.len(), *count, "chat {chat}: each send stored exactly once");
        let keys: BTreeSet<_> = stored.iter().map(|m| m.client_id.clone()).collect();
        assert_eq!(keys.len(), *count, "distinct client ids");
        let texts: BTreeSet<_> = stored.iter().map(|m| m.content.clone()).collect();
        assert_eq!(texts.len(), *count, "no text stored twice");
        for index in &members[chat] {
            // Each sender's messages are stored in the order it queued them.
            let own: Vec<(usize, usize)> = stored
                .iter()
                .filter_map(|m| {
                    let mut parts = m.content.split(':');
                    (parts.next()? == index.to_string())
                        .then(|| Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?)))
                        .flatten()
                })
                .collect();
            assert!(own.windows(2).all(|w| w[0] < w[1]), "client {index} in chat {chat}: {own:?}");
        }
        for (index, log) in seen.iter().enumerate() {
            if !members[chat].contains(&index) {
                continue;
            }
            let log = log.lock().expect("log");
            let got: Vec<Seq> = log.messages[chat].iter().map(|m| m.seq).collect();
            let want: Vec<Seq> = stored.iter().map(|m| m.seq).collect();
            assert_eq!(got, want, "client {index}, chat {chat}: every message once, in order");
            assert!(log.failed.is_empty(), "client {index}: {:?}", log.failed);
        }
    }
    assert!(cuts >= MIN_CUTS, "only {cuts} cuts");
    eprintln!("{total} messages, {cuts} cuts, {rounds} rounds, seed {SEED:#x}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_created_while_away_is_announced_and_delivered_from_its_start() {
    let server = TestServer::start().await;
    let alice = server.register(Kind::WebSocket, "alice").await;
    server.register(Kind::WebSocket, "bob").await.close().await;
    let proxy = Proxy::start(server.addr()).await;
    let bob = via_proxy(&proxy, "bob", fast_config()).await;
    let mut bob_events = bob.events();
    cut_off(&proxy, &bob).await;
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    for text in ["one", "two"] {
        alice.send(chat.id, text).await.expect("sent");
    }
    proxy.set_down(false);
    let announced = next_matching(&mut bob_events, |event| match event {
        Event::ChatCreated(created) => Some(created.id),
        _ => None,
    })
    .await;
    assert_eq!(announced, chat.id);
    let got: Vec<String> =
        messages(&mut bob_events, 2).await.into_iter().map(|m| m.content).collect();
    assert_eq!(got, ["one", "two"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_returns_while_the_server_is_unreachable() {
    let server = TestServer::start().await;
    server.register(Kind::WebSocket, "alice").await.close().await;
    server.register(Kind::WebSocket, "bob").await.close().await;
    let proxy = Proxy::start(server.addr()).await;
    let mut config = fast_config();
    config.close_timeout = Duration::from_millis(200);
    let alice = via_proxy(&proxy, "alice", config).await;
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    let mut events = alice.events();
    cut_off(&proxy, &alice).await;
    let pending = alice.enqueue(chat.id, "never sent").expect("queued");
    tokio::time::timeout(Duration::from_secs(5), alice.close()).await.expect("close returns");
    let failed = next_matching(&mut events, |event| match event {
        Event::Send(update) if update.client_id == pending.client_id => match update.state {
            SendState::Failed(error) => Some(error),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(failed.code(), "closed");
    assert!(matches!(alice.state(), ConnectionState::Closed { error: None }));
    server.stop().await;
}
