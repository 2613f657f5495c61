//! The `hellocode._hellocode` extension module: Python classes over `hellocode-sdk`.
//!
//! One tokio runtime per process (module-global, not tied to an asyncio loop) runs every
//! client's driver task. Async methods spawn owned SDK futures there and get their results back
//! on the asyncio loop's thread through the loop's completer (the `completer` module); blocking
//! methods wait for them with the GIL released (see the `blocking` module).

use std::sync::OnceLock;

use pyo3::prelude::*;

mod blocking;
mod bot;
mod bot_args;
mod bot_context;
mod client;
mod completer;
mod errors;
mod media;
mod ops;
mod types;

/// The module's runtime: small (two workers), since it mostly waits on sockets.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hellocode")
            .enable_all()
            .build()
            .expect("cannot start the hellocode tokio runtime")
    })
}

/// The compiled part of the `hellocode` package; import `hellocode` instead.
#[pymodule]
fn _hellocode(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Already set only if the module is initialised twice in one process; the runtime is the same.
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime());
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_MESSAGE_CHARS", hellocode_sdk::MAX_MESSAGE_CHARS)?;
    errors::register(m)?;
    types::register(m)?;
    client::register(m)?;
    blocking::register(m)?;
    media::register(m)?;
    bot::register(m)?;
    Ok(())
}
