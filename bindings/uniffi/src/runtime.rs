//! The library's own tokio runtime: every client's connection task, every listener and every
//! async call runs on it, whatever thread or coroutine dispatcher the app calls from. No tokio
//! type crosses the FFI: the foreign side polls a plain future that waits for the task.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::HelloCodeError;

/// Worker threads: the library mostly waits on sockets; two keep one busy callback from
/// stalling the others.
const WORKERS: usize = 2;

pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name("hellocode")
            .enable_all()
            .build()
            .unwrap_or_else(|error| panic!("cannot start the hellocode runtime: {error}"))
    })
}

/// Run `future` on the library's runtime; the result, or `Other { code: "panic" }` if it
/// panicked. Dropping the returned future (a cancelled coroutine or Swift task) aborts the task.
pub(crate) fn spawn<T, F>(future: F) -> Spawned<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    Spawned(runtime().spawn(future))
}

/// Run an SDK operation on the library's runtime, converting its error.
pub(crate) async fn call<T, F>(future: F) -> Result<T, HelloCodeError>
where
    F: Future<Output = hellocode_sdk::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    spawn(future).await?.map_err(HelloCodeError::from)
}

/// A task of the library's runtime, aborted when dropped before it finishes.
pub(crate) struct Spawned<T>(JoinHandle<T>);

impl<T> Future for Spawned<T> {
    type Output = Result<T, HelloCodeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| {
            joined.map_err(|error| HelloCodeError::Other {
                code: "panic".to_owned(),
                detail: format!("the library's task failed: {error}"),
            })
        })
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
