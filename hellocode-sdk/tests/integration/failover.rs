//! A client given several nodes of one deployment: when its node dies it reconnects to another
//! and resumes exactly where it left off.

use hellocode_sdk::{Client, Event, Failover, Seq};

use crate::harness::{Kind, TestServer, fast_config, messages, next_matching, password};
use crate::proxy::Proxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_fails_over_to_another_node_and_resumes_with_nothing_lost_or_repeated() {
    let node_a = TestServer::start().await;
    let node_b = node_a.another_node().await;
    // Node A is reached through a proxy, so that it can die without a word (no close frame).
    let path_to_a = Proxy::start(node_a.addr()).await;
    node_b.register(Kind::WebSocket, "alice").await.close().await;
    let bob = node_b.register(Kind::WebSocket, "bob").await;
    let mut bob_events = bob.events();
    let chat = bob.create_chat(vec!["alice".into()]).await.expect("chat");

    let nodes = Failover::websocket(&[&path_to_a.ws_url(), &node_b.ws_url()]).expect("urls");
    let alice = Client::connect_with(nodes, password("alice"), fast_config()).await.expect("on A");
    let mut alice_events = alice.events();
    alice.send(chat.id, "written on node A").await.expect("stored");

    path_to_a.set_down(true); // node A dies
    for i in 0..3 {
        bob.send(chat.id, format!("written on node B {i}")).await.expect("stored");
    }
    // Alice reconnects to node B and resumes: every message once, in order.
    let got = messages(&mut alice_events, 4).await;
    let seen: Vec<(Seq, &str)> = got.iter().map(|m| (m.seq, m.content.as_str())).collect();
    assert_eq!(
        seen,
        [
            (Seq(1), "written on node A"),
            (Seq(2), "written on node B 0"),
            (Seq(3), "written on node B 1"),
            (Seq(4), "written on node B 2"),
        ]
    );
    // On node B with bob now: what she writes reaches him live.
    alice.send(chat.id, "back, on node B").await.expect("stored");
    let live = next_matching(&mut bob_events, |event| match event {
        // Bob also gets alice's message written on node A: his client fills the gap before
        // his own first message from storage.
        Event::Message(message) if message.seq == Seq(5) => Some(message),
        _ => None,
    })
    .await;
    assert_eq!((live.seq, live.content.as_str()), (Seq(5), "back, on node B"));
    let more = messages(&mut alice_events, 1).await;
    assert_eq!(more[0].seq, Seq(5), "nothing repeated before it");
    assert_eq!(alice.positions().await.expect("positions")[&chat.id], Seq(5));

    alice.close().await;
    bob.close().await;
    node_b.stop().await;
    node_a.stop().await;
}

#[tokio::test]
async fn with_every_node_down_the_first_connection_fails_naming_each() {
    let node = TestServer::start().await;
    let down = Proxy::start(node.addr()).await;
    down.set_down(true);
    let also_down = Proxy::start(node.addr()).await;
    also_down.set_down(true);
    let nodes = Failover::websocket(&[&down.ws_url(), &also_down.ws_url()]).expect("urls");
    let error = Client::connect_with(nodes, password("nobody"), fast_config())
        .await
        .expect_err("no node answers");
    let text = error.to_string();
    assert!(text.contains(&down.ws_url()) && text.contains(&also_down.ws_url()), "{text}");
    node.stop().await;
}
