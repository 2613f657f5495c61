//! A connection whose writes never complete (a peer that stopped reading, a dead route): the
//! write timeout turns it into a lost connection, and `close` still ends.

use std::time::Duration;

use hellocode_sdk::{ChatId, Client, ClientConfig, ConnectionState, Credentials, Error, Event};

use crate::fake::{Fake, standard};
use crate::harness::{fast_config, next_matching};

fn config() -> ClientConfig {
    let mut config = fast_config();
    config.write_timeout = Duration::from_millis(200);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_on_a_stuck_socket() {
    let fake = Fake::new(|_, frame| standard(frame).into_iter().collect());
    let client = Client::connect_with(fake.clone(), Credentials::token("t0"), config())
        .await
        .expect("connects");
    fake.stall();
    let pending = client.enqueue(ChatId(1), "never written").expect("queued");
    tokio::time::timeout(Duration::from_secs(10), client.close())
        .await
        .expect("close ends although every write is stuck");
    assert!(matches!(client.state(), ConnectionState::Closed { .. }));
    assert!(!pending.client_id.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_write_is_a_lost_connection_and_the_send_goes_on_the_next() {
    let fake = Fake::new(|_, frame| standard(frame).into_iter().collect());
    let client = Client::connect_with(fake.clone(), Credentials::token("t0"), config())
        .await
        .expect("connects");
    let mut events = client.events();
    fake.stall();
    let sent = tokio::time::timeout(Duration::from_secs(10), client.send(ChatId(1), "hello"))
        .await
        .expect("the send completes on a new connection")
        .expect("stored");
    assert_eq!(sent.content, "hello");
    let error = next_matching(&mut events, |event| match event {
        Event::Connection(ConnectionState::Reconnecting { error, .. }) => Some(error),
        _ => None,
    })
    .await;
    assert_eq!(error, Error::Timeout(Duration::from_millis(200)));
    assert_eq!(fake.connections(), 2);
    client.close().await;
}
