//! Measurements for comparing a call from Kotlin or Swift with the same call made in Rust.

use std::sync::Arc;
use std::time::Instant;

use crate::runtime::call;
use crate::{Client, HelloCodeError};

/// Ping the server `count` times in a row from Rust, inside the library; the total time in
/// milliseconds. The same loop written in Kotlin or Swift over `Client.ping()` costs the FFI
/// calls on top (see BENCHMARKS.md).
#[uniffi::export]
pub async fn measure_pings(client: Arc<Client>, count: u32) -> Result<f64, HelloCodeError> {
    let inner = client.inner.clone();
    let total = call(async move {
        let started = Instant::now();
        for _ in 0..count {
            inner.ping().await?;
        }
        Ok(started.elapsed())
    })
    .await?;
    Ok(total.as_secs_f64() * 1000.0)
}
