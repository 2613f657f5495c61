//! The sender: claims due notifications from the queue, posts them to their gateways a few at
//! a time, and settles each (sent, retried later with backoff, pusher removed, given up).
//! Claims are leases: a notification whose sender died (a crash, a restart) is due again when
//! its lease ends, so none is lost; several nodes share the queue without sending one twice
//! while a lease holds.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hellocode_core::model::{QueuedPush, Timestamp};
use hellocode_core::storage::Storage;
use tokio::sync::{Notify, watch};

use super::PushSettings;
use super::gateway::{self, Outcome};
use crate::metrics::{Metrics, PushOutcome};

/// Notifications claimed at once.
const CLAIM: u32 = 64;
/// How often the queue is looked at when nothing wakes the sender (retries falling due, other
/// nodes' notifications).
const POLL: Duration = Duration::from_secs(1);

/// The delay before retry number `attempts` (1 for the first retry): `first`, doubling, at most
/// `max`.
pub(super) fn backoff(settings: &PushSettings, attempts: u32) -> Duration {
    let doubled = settings.first_retry.saturating_mul(1 << attempts.saturating_sub(1).min(20));
    doubled.min(settings.max_retry)
}

/// Whether a notification that failed `attempts` times has been tried for longer than
/// `give_up_after` (the sum of its delays so far).
fn exhausted(settings: &PushSettings, attempts: u32) -> bool {
    let waited: Duration = (1..attempts).map(|n| backoff(settings, n)).sum();
    waited >= settings.give_up_after
}

pub(super) async fn run(
    storage: Arc<dyn Storage>,
    metrics: Arc<Metrics>,
    settings: PushSettings,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    // A lease outlasts the slowest batch (every send of it timing out, `concurrency` at a
    // time), so that nobody else takes a notification this sender still holds.
    let rounds = CLAIM.div_ceil(settings.concurrency.max(1) as u32) + 1;
    let lease = settings.request_timeout * rounds;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = Timestamp::now();
        let until = later(now, lease);
        let claimed = match storage.claim_pushes(now, until, CLAIM).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the push queue");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        // Each is sent, then the batch's finished ones leave the queue in one statement.
        let finished: Vec<Option<(i64, PushOutcome)>> = futures_util::stream::iter(claimed)
            .map(|push| settle(&*storage, &metrics, &settings, push))
            .buffer_unordered(settings.concurrency)
            .collect()
            .await;
        let finished: Vec<(i64, PushOutcome)> = finished.into_iter().flatten().collect();
        let ids: Vec<i64> = finished.iter().map(|(id, _)| *id).collect();
        match storage.push_sent(&ids).await {
            Ok(()) => {
                for (_, outcome) in finished {
                    metrics.pushes(outcome, 1);
                }
            }
            // Their leases end and they are sent again: twice at worst.
            Err(err) => {
                tracing::warn!(count = ids.len(), error = %err, "cannot settle push notifications");
            }
        }
    }
}

/// Send one notification and record what became of it; `Some(id, outcome)` when it is
/// finished (sent or given up) and leaves the queue with its batch (and is counted then).
async fn settle(
    storage: &dyn Storage,
    metrics: &Metrics,
    settings: &PushSettings,
    push: QueuedPush,
) -> Option<(i64, PushOutcome)> {
    let outcome = gateway::notify(&push.url, push.body, settings.request_timeout).await;
    let settled = match outcome {
        Outcome::Accepted { rejected } if rejected.contains(&push.pushkey) => {
            tracing::info!(app = %push.app_id, "push key rejected by its gateway: pusher removed");
            // Removing the pusher removes its queue, this notification included.
            let removed = storage.reject_pushkey(&push.app_id, &push.pushkey).await;
            removed.map(|()| metrics.pushes(PushOutcome::Rejected, 1))
        }
        Outcome::Accepted { .. } => return Some((push.id, PushOutcome::Sent)),
        Outcome::Retry(reason) if !exhausted(settings, push.attempts + 1) => {
            let attempts = push.attempts + 1;
            let delay = backoff(settings, attempts);
            tracing::debug!(push = push.id, attempts, %reason, "push gateway failed; retrying");
            let due = later(Timestamp::now(), delay);
            let failed = storage.push_failed(push.id, attempts, due).await;
            failed.map(|()| metrics.pushes(PushOutcome::Retried, 1))
        }
        Outcome::Retry(reason) | Outcome::GiveUp(reason) => {
            tracing::warn!(push = push.id, app = %push.app_id, %reason, "push notification given up");
            return Some((push.id, PushOutcome::GivenUp));
        }
    };
    if let Err(err) = settled {
        // The lease ends and the notification is tried again: sent twice at worst.
        tracing::warn!(push = push.id, error = %err, "cannot settle a push notification");
    }
    None
}

fn later(now: Timestamp, delay: Duration) -> Timestamp {
    let millis = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    Timestamp::from_unix_millis(now.unix_millis().saturating_add(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_to_a_cap_and_give_up_after_a_day() {
        let settings = PushSettings::default();
        let delays: Vec<u64> = (1..=12).map(|n| backoff(&settings, n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert!(!exhausted(&settings, 1));
        assert!(!exhausted(&settings, 100));
        let day = (1..).find(|n| exhausted(&settings, *n)).expect("gives up");
        let waited: u64 = (1..day).map(|n| backoff(&settings, n).as_secs()).sum();
        assert!((86_400..86_400 + 600).contains(&waited), "gave up after {waited} s");
    }
}
