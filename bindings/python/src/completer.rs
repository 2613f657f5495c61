//! Awaitables whose results reach the asyncio loop without a runtime thread taking the GIL.
//!
//! Each asyncio loop gets one [`Completer`] (kept as the loop's `_hellocode_completer`
//! attribute): a queue of finished results and a non-blocking socket pair whose read end is
//! registered once with `loop.add_reader`. An awaitable is a `loop.create_future()` plus a task on
//! the module's runtime; when the task's future finishes, the task pushes the result, still a
//! Rust value, into the loop's queue and writes one byte to the socket if the queue was empty.
//! `drain`, on the loop's thread with the GIL, takes the whole queue, converts each result to
//! Python and sets it on its future. So runtime threads never wait for the GIL (the loop's thread
//! holds it while it runs coroutines), many completions cost one wake-up, and no runtime thread
//! is inside Python when the interpreter shuts down.
//!
//! Python objects stay on the loop's thread: the tasks carry an id, the futures wait in the
//! completer's table. Cancelling a future aborts its task (a done callback).
//!
//! Loops without `add_reader` (Windows' proactor loop) or without attributes, and calls outside
//! a running loop, use `pyo3_async_runtimes` (`call_soon_threadsafe` from a runtime thread).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tokio::task::AbortHandle;

/// A finished operation's result, turned into Python on the loop's thread.
pub(crate) type Deliver = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// The attribute of an asyncio loop that holds its completer (None: the loop cannot have one).
const ATTRIBUTE: &str = "_hellocode_completer";

/// What the runtime's tasks share with a loop's completer: no Python objects.
struct Queue {
    finished: Mutex<Vec<(u64, Deliver)>>,
    /// Set when the completer is gone: results are dropped.
    closed: AtomicBool,
    #[cfg(unix)]
    wake: std::os::unix::net::UnixStream,
    #[cfg(unix)]
    woken: std::os::unix::net::UnixStream,
}

impl Queue {
    /// On a runtime thread: hand a result to the loop.
    fn push(&self, id: u64, deliver: Deliver) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let first = {
            let mut finished = lock(&self.finished);
            finished.push((id, deliver));
            finished.len() == 1
        };
        if first {
            // The queue was empty, so no wake-up is pending for it. A full socket means
            // wake-ups are pending already.
            #[cfg(unix)]
            let _ = std::io::Write::write(&mut &self.wake, &[1]);
        }
    }
}

/// Futures waiting for their results, by id; only touched on the loop's thread.
#[derive(Default)]
struct Waiting {
    futures: HashMap<u64, Py<PyAny>>,
    next: u64,
}

/// One asyncio loop's completion queue; see the module documentation.
#[pyclass(module = "hellocode", frozen)]
pub(crate) struct Completer {
    queue: Arc<Queue>,
    waiting: Arc<Mutex<Waiting>>,
}

impl Drop for Completer {
    fn drop(&mut self) {
        self.queue.closed.store(true, Ordering::Release);
        lock(&self.queue.finished).clear();
    }
}

#[pymethods]
impl Completer {
    /// The loop's reader callback: set every finished result on its future.
    fn _drain(&self, py: Python<'_>) {
        // Read the wake-ups before taking the queue: a result pushed after the take finds the
        // queue empty and writes a new one.
        #[cfg(unix)]
        {
            let mut buffer = [0u8; 256];
            while let Ok(read) = std::io::Read::read(&mut &self.queue.woken, &mut buffer) {
                if read < buffer.len() {
                    break;
                }
            }
        }
        let finished = std::mem::take(&mut *lock(&self.queue.finished));
        for (id, deliver) in finished {
            let Some(future) = lock(&self.waiting).futures.remove(&id) else { continue };
            if let Err(error) = set(py, future.bind(py), deliver) {
                error.write_unraisable(py, Some(future.bind(py)));
            }
        }
    }
}

/// Set `deliver`'s result (or exception) on `future`, unless the future is done (cancelled).
fn set(py: Python<'_>, future: &Bound<'_, PyAny>, deliver: Deliver) -> PyResult<()> {
    if future.call_method0(intern!(py, "done"))?.is_truthy()? {
        return Ok(());
    }
    match deliver(py) {
        Ok(value) => future.call_method1(intern!(py, "set_result"), (value,))?,
        Err(error) => future.call_method1(intern!(py, "set_exception"), (error.into_value(py),))?,
    };
    Ok(())
}

/// A future's done callback: if it was cancelled, abort its task and forget the future.
#[pyclass(module = "hellocode", frozen)]
struct AbortOnCancel {
    waiting: Weak<Mutex<Waiting>>,
    id: u64,
    task: AbortHandle,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, py: Python<'_>, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
            self.task.abort();
            if let Some(waiting) = self.waiting.upgrade() {
                let removed = lock(&waiting).futures.remove(&self.id);
                drop(removed);
            }
        }
        Ok(())
    }
}

/// The running loop and its completer; None if there is no running loop or it cannot have one.
fn completer<'py>(py: Python<'py>) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, Completer>)>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let get_running_loop = GET_RUNNING_LOOP.get_or_try_init(py, || {
        py.import("asyncio")?.getattr("get_running_loop").map(Bound::unbind)
    })?;
    let Ok(event_loop) = get_running_loop.bind(py).call0() else { return Ok(None) };
    let name = intern!(py, ATTRIBUTE);
    if let Ok(existing) = event_loop.getattr(name) {
        return Ok(existing.cast_into::<Completer>().ok().map(|completer| (event_loop, completer)));
    }
    // Mark the loop first: a loop that cannot be marked, or cannot watch the socket, is asked
    // once per call, or never again.
    if event_loop.setattr(name, py.None()).is_err() {
        return Ok(None);
    }
    let Some(completer) = new_completer(py, &event_loop)? else { return Ok(None) };
    event_loop.setattr(name, &completer)?;
    Ok(Some((event_loop, completer)))
}

/// A completer registered with `event_loop`, or None if the loop has no `add_reader`.
#[cfg(unix)]
fn new_completer<'py>(
    py: Python<'py>,
    event_loop: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, Completer>>> {
    use std::os::fd::AsRawFd;
    let (wake, woken) = std::os::unix::net::UnixStream::pair()?;
    wake.set_nonblocking(true)?;
    woken.set_nonblocking(true)?;
    let fd = woken.as_raw_fd();
    let queue =
        Arc::new(Queue { finished: Mutex::default(), closed: AtomicBool::new(false), wake, woken });
    let completer = Bound::new(py, Completer { queue, waiting: Arc::default() })?;
    let drain = completer.getattr(intern!(py, "_drain"))?;
    match event_loop.call_method1(intern!(py, "add_reader"), (fd, drain)) {
        Ok(_) => Ok(Some(completer)),
        Err(error) if error.is_instance_of::<pyo3::exceptions::PyNotImplementedError>(py) => {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

#[cfg(not(unix))]
fn new_completer<'py>(
    _py: Python<'py>,
    _event_loop: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, Completer>>> {
    Ok(None)
}

/// An awaitable for `future`, run on the module's runtime; its result is made Python on the
/// loop's thread.
pub(crate) fn deliver_awaitable<'py>(
    py: Python<'py>,
    future: impl Future<Output = Deliver> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>> {
    let Some((event_loop, completer)) = completer(py)? else {
        return pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let deliver = future.await;
            Python::attach(deliver)
        });
    };
    let py_future = event_loop.call_method0(intern!(py, "create_future"))?;
    let completer = completer.get();
    let id = {
        let mut waiting = lock(&completer.waiting);
        let id = waiting.next;
        waiting.next += 1;
        waiting.futures.insert(id, py_future.clone().unbind());
        id
    };
    let queue = completer.queue.clone();
    let task = crate::runtime().spawn(async move {
        let deliver = future.await;
        queue.push(id, deliver);
    });
    let abort = AbortOnCancel {
        waiting: Arc::downgrade(&completer.waiting),
        id,
        task: task.abort_handle(),
    };
    py_future.call_method1(intern!(py, "add_done_callback"), (abort,))?;
    Ok(py_future)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
