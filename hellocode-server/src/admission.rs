//! Admission of connections coming online: at most so many at once check their credential,
//! register, and load their presence snapshot; the rest wait their turn, in arrival order.
//!
//! Why: bringing a connection online takes several queries in turn (the token's account, the
//! chats for the presence snapshot, a revocation recheck). When thousands reconnect at once
//! (a node restarts, a network blip) and all of them ask the database pool together, every
//! query waits behind every other connection's, and past the pool's acquire timeout they fail
//! together: each client backs off and comes back, and the storm lasts for minutes. Admitted a
//! few at a time, each connection's queries wait only behind the few others admitted with it,
//! and the same work is done once. A connection that gets no turn by its authentication
//! deadline is told that the server is busy, and reconnects later.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::metrics::Metrics;

/// Turns for connections coming online.
#[derive(Debug)]
pub struct Admission {
    turns: Arc<Semaphore>,
    wait: Duration,
    metrics: Arc<Metrics>,
}

/// A connection's turn to come online; the next waiting connection goes when it is dropped.
#[derive(Debug)]
pub struct Admitted {
    _turn: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.metrics.coming_online(-1);
    }
}

/// No turn came within the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl Admission {
    /// `at_once` connections come online together (at least one); another waits at most `wait`
    /// (or until its own deadline, see [`enter_by`](Self::enter_by)). `metrics` counts those
    /// coming online, those waiting, and those refused.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use hellocode_server::admission::Admission;
    /// use hellocode_server::metrics::Metrics;
    ///
    /// let admission = Admission::new(1, Duration::from_millis(10), Arc::new(Metrics::default()));
    /// let first = admission.enter().await.expect("a free turn");
    /// assert!(admission.enter().await.is_err(), "busy while the first holds its turn");
    /// drop(first);
    /// assert!(admission.enter().await.is_ok());
    /// # });
    /// ```
    pub fn new(at_once: usize, wait: Duration, metrics: Arc<Metrics>) -> Self {
        Admission { turns: Arc::new(Semaphore::new(at_once.max(1))), wait, metrics }
    }

    /// Wait for a turn, in arrival order, for at most the configured wait.
    pub async fn enter(&self) -> Result<Admitted, Busy> {
        self.enter_by(None).await
    }

    /// Wait for a turn, in arrival order, until `deadline` at the latest (a connection's
    /// authentication deadline: waiting past it is pointless) or the configured wait, whichever
    /// comes first. Dropping the future leaves the line.
    pub async fn enter_by(&self, deadline: Option<Instant>) -> Result<Admitted, Busy> {
        let most = Instant::now() + self.wait;
        let deadline = deadline.map_or(most, |deadline| deadline.min(most));
        let _waiting = Waiting::new(&self.metrics);
        match tokio::time::timeout_at(deadline, self.turns.clone().acquire_owned()).await {
            Ok(Ok(turn)) => {
                self.metrics.coming_online(1);
                Ok(Admitted { _turn: turn, metrics: self.metrics.clone() })
            }
            // The semaphore is never closed; the wait running out is the only refusal.
            Ok(Err(_)) | Err(_) => {
                self.metrics.admission_busy();
                Err(Busy)
            }
        }
    }

    /// Turns free now: all of them when no connection is coming online.
    pub fn free_turns(&self) -> usize {
        self.turns.available_permits()
    }
}

/// Counts one connection in line for a turn while it lives (also when its wait is dropped).
struct Waiting<'a>(&'a Metrics);

impl<'a> Waiting<'a> {
    fn new(metrics: &'a Metrics) -> Self {
        metrics.waiting_to_come_online(1);
        Waiting(metrics)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting_to_come_online(-1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(at_once: usize, wait: Duration) -> (Admission, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::default());
        (Admission::new(at_once, wait, metrics.clone()), metrics)
    }

    #[tokio::test]
    async fn turns_are_given_in_arrival_order_and_come_back_when_dropped() {
        let (admission, metrics) = admission(2, Duration::from_secs(10));
        let admission = Arc::new(admission);
        let first = admission.enter().await.expect("free");
        let second = admission.enter().await.expect("free");
        assert_eq!(admission.free_turns(), 0);
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for n in 0..3 {
            let (admission, order) = (admission.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let turn = admission.enter().await.expect("a turn within the wait");
                order.lock().unwrap().push(n);
                tokio::time::sleep(Duration::from_millis(1)).await;
                drop(turn);
            }));
            // Queue them one after the other.
            tokio::task::yield_now().await;
        }
        assert_eq!((metrics.coming_online_now(), metrics.waiting_to_come_online_now()), (2, 3));
        drop(first);
        drop(second);
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
        assert_eq!(admission.free_turns(), 2, "every turn given back");
        assert_eq!((metrics.coming_online_now(), metrics.waiting_to_come_online_now()), (0, 0));
    }

    #[tokio::test]
    async fn a_connection_that_waits_past_its_deadline_is_refused() {
        let (admission, metrics) = admission(1, Duration::from_secs(30));
        let held = admission.enter().await.expect("free");
        let deadline = Instant::now() + Duration::from_millis(50);
        assert_eq!(admission.enter_by(Some(deadline)).await.unwrap_err(), Busy);
        assert!(Instant::now() >= deadline, "refused at the deadline, not before");
        assert_eq!(metrics.waiting_to_come_online_now(), 0, "out of the line");
        drop(held);
        assert!(admission.enter_by(Some(deadline)).await.is_ok(), "a free turn needs no wait");
    }

    #[tokio::test]
    async fn a_wait_given_up_leaves_the_line() {
        let (admission, metrics) = admission(1, Duration::from_secs(30));
        let held = admission.enter().await.expect("free");
        let given_up = tokio::time::timeout(Duration::from_millis(10), admission.enter()).await;
        assert!(given_up.is_err(), "still waiting when given up");
        assert_eq!(metrics.waiting_to_come_online_now(), 0);
        drop(held);
        let next = admission.enter().await.expect("the turn is not kept for the one that left");
        assert_eq!(metrics.coming_online_now(), 1);
        drop(next);
        assert_eq!(metrics.coming_online_now(), 0);
    }
}
