//! The `hellocode-server` binary. Run with: `cargo run --release -p hellocode-server`.

use clap::Parser;
use hellocode_server::{Config, Server};
use tracing_subscriber::EnvFilter;

/// Password hashing allocates 19 MiB per hash; glibc's allocator keeps such blocks in per-thread
/// arenas (282 MiB resident after five logins, measured), mimalloc gives them back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let server = match Server::start(&config).await {
        Ok(server) => server,
        Err(err) => {
            tracing::error!(error = %err, "cannot start");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("HelloCode listening on http://{}", server.local_addr());
    wait_for_signal().await;
    server.shutdown().await;
    std::process::ExitCode::SUCCESS
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
