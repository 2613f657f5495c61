//! Refused sends: a permanent refusal fails that send and the queue goes on; a transient one
//! is retried, a bounded number of times, and after the server's `retryAfter`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hellocode_sdk::{ChatId, Client, Credentials, ErrorCode};
use serde_json::json;
use tokio::time::Instant;

use crate::fake::{Fake, ack, standard};
use crate::harness::fast_config;

/// Refuses `bad` with `invalid_field` and `boom` with `internal`, every time.
fn refusing() -> Fake {
    Fake::new(|_, frame| {
        let refusal = match frame["message"].as_str() {
            Some("bad") => Some(("invalid_field", "the message contains U+0000")),
            Some("boom") => Some(("internal", "the store failed")),
            _ => None,
        };
        match refusal {
            Some((code, text)) => vec![json!({
                "command": "error", "id": frame["id"], "code": code, "message": text,
            })],
            None => standard(frame).into_iter().collect(),
        }
    })
}

async fn connect(fake: &Fake) -> Client {
    Client::connect_with(fake.clone(), Credentials::token("t0"), fast_config())
        .await
        .expect("connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_fails_and_the_next_in_its_chat_is_delivered() {
    let fake = refusing();
    let client = connect(&fake).await;
    let bad = client.send(ChatId(1), "bad");
    let good = client.send(ChatId(1), "good");
    let (bad, good) =
        tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(bad, good) })
            .await
            .expect("both settle");
    assert_eq!(bad.expect_err("refused").server_code(), Some(ErrorCode::InvalidField));
    assert_eq!(good.expect("delivered").content, "good");
    let attempts = fake.received().iter().filter(|(_, f)| f["message"] == "bad").count();
    assert_eq!(attempts, 1, "a permanent refusal is not retried");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_failing_with_internal_is_retried_a_bounded_number_of_times() {
    let fake = refusing();
    let client = connect(&fake).await;
    let boom = client.send(ChatId(1), "boom");
    let good = client.send(ChatId(1), "good");
    let (boom, good) =
        tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(boom, good) })
            .await
            .expect("the failing send gives up");
    assert_eq!(boom.expect_err("refused").server_code(), Some(ErrorCode::Internal));
    assert_eq!(good.expect("delivered after it").content, "good");
    let attempts = fake.received().iter().filter(|(_, f)| f["message"] == "boom").count();
    assert!((2..=5).contains(&attempts), "retried, but not forever: {attempts} attempts");
    client.close().await;
}

/// On a paused clock (virtual time, deterministic): the resend waits the `retryAfter` the
/// server asked for.
#[tokio::test(start_paused = true)]
async fn rate_limited_sends_wait_the_retry_after_the_server_gives() {
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let log = seen.clone();
    let fake = Fake::new(move |_, frame| {
        if frame["command"] != "new_message" {
            return standard(frame).into_iter().collect();
        }
        let mut seen = log.lock().expect("log");
        seen.push(Instant::now());
        if seen.len() == 1 {
            vec![json!({
                "command": "error", "id": frame["id"], "code": "rate_limited",
                "message": "slow down", "retryAfter": 7,
            })]
        } else {
            vec![ack(frame, 1)]
        }
    });
    let client = connect(&fake).await;
    client.send(ChatId(1), "hello").await.expect("delivered on the second attempt");
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 2);
    assert!(seen[1] - seen[0] >= Duration::from_secs(7), "waited {:?}", seen[1] - seen[0]);
    client.close().await;
}

/// On a paused clock: a database outage (`unavailable`) outlasting the five attempts a failing
/// server gets is waited out, and the send is delivered once the database is back.
#[tokio::test(start_paused = true)]
async fn a_send_refused_as_unavailable_is_retried_until_the_database_is_back() {
    let attempts: Arc<Mutex<usize>> = Arc::default();
    let count = attempts.clone();
    let fake = Fake::new(move |_, frame| {
        if frame["command"] != "new_message" {
            return standard(frame).into_iter().collect();
        }
        let mut attempts = count.lock().expect("count");
        *attempts += 1;
        if *attempts <= 8 {
            vec![json!({
                "command": "error", "id": frame["id"], "code": "unavailable",
                "message": "the database cannot be reached",
            })]
        } else {
            vec![ack(frame, 1)]
        }
    });
    let client = connect(&fake).await;
    let sent = client.send(ChatId(1), "hello").await.expect("delivered once the database is back");
    assert_eq!(sent.content, "hello");
    assert_eq!(*attempts.lock().expect("count"), 9, "eight refusals, then the ack");
    client.close().await;
}
