//! Admission of connections coming online: at most so many at once check their credential,
//! register, and load their presence snapshot; the rest wait their turn, in arrival order.
//!
//! Why: bringing a connection online takes several queries in turn (the token's account, the
//! chats for the presence snapshot, the revocation recheck). When thousands reconnect at once
//! (a node restarts, a network blip) and all of them ask the database pool together, every
//! query waits behind every other connection's, and past the pool's acquire timeout they fail
//! together: each client backs off and comes back, and the storm lasts for minutes. Admitted a
//! few at a time, each connection's queries wait only behind the few others admitted with it,
//! and the same work is done once. A connection that waits longer than the authentication
//! deadline is told that the server is busy (`unavailable`), and reconnects later.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Turns for connections coming online.
#[derive(Debug)]
pub struct Admission {
    turns: Arc<Semaphore>,
    wait: Duration,
}

/// A connection's turn to come online; the next waiting connection goes when it is dropped.
#[derive(Debug)]
pub struct Admitted {
    _turn: OwnedSemaphorePermit,
}

/// No turn came within the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl Admission {
    /// `at_once` connections come online together (at least one); another waits at most `wait`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// use hellocode_server::admission::Admission;
    ///
    /// let admission = Admission::new(1, Duration::from_millis(10));
    /// let first = admission.enter().await.expect("a free turn");
    /// assert!(admission.enter().await.is_err(), "busy while the first holds its turn");
    /// drop(first);
    /// assert!(admission.enter().await.is_ok());
    /// # });
    /// ```
    pub fn new(at_once: usize, wait: Duration) -> Self {
        Admission { turns: Arc::new(Semaphore::new(at_once.max(1))), wait }
    }

    /// Wait for a turn, in arrival order, for at most the configured wait.
    pub async fn enter(&self) -> Result<Admitted, Busy> {
        match tokio::time::timeout(self.wait, self.turns.clone().acquire_owned()).await {
            Ok(Ok(turn)) => Ok(Admitted { _turn: turn }),
            // The semaphore is never closed; a timeout is the only way to be refused.
            Ok(Err(_)) | Err(_) => Err(Busy),
        }
    }

    /// Connections waiting or coming online beyond the free turns: none when idle.
    pub fn free_turns(&self) -> usize {
        self.turns.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn turns_are_given_in_arrival_order_and_come_back_when_dropped() {
        let admission = Arc::new(Admission::new(2, Duration::from_secs(10)));
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
        drop(first);
        drop(second);
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
        assert_eq!(admission.free_turns(), 2, "every turn given back");
    }

    #[tokio::test]
    async fn a_connection_that_waits_too_long_is_refused() {
        let wait = Duration::from_millis(50);
        let admission = Admission::new(1, wait);
        let held = admission.enter().await.expect("free");
        let started = tokio::time::Instant::now();
        assert_eq!(admission.enter().await.unwrap_err(), Busy);
        assert!(started.elapsed() >= wait, "refused after the wait, not before");
        drop(held);
        assert!(admission.enter().await.is_ok());
    }
}
