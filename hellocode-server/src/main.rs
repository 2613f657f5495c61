//! The `hellocode-server` binary. Run with: `cargo run --release -p hellocode-server`.

use std::io::IsTerminal;

use clap::Parser;
use hellocode_server::{Config, LogFormat, Server};
use tracing_subscriber::EnvFilter;

/// Password hashing allocates 19 MiB per hash; glibc's allocator keeps such blocks in per-thread
/// arenas (282 MiB resident after five logins, measured), mimalloc gives them back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    init_logging(config.log_format);
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

/// How the log is written, once `auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// Text with ANSI colours, for a person at a terminal.
    Coloured,
    /// Text without escape codes, for files and log collectors.
    Plain,
    /// One JSON object per line.
    Json,
}

/// `auto` means colour only when the log goes to a terminal.
fn output(format: LogFormat, terminal: bool) -> Output {
    match format {
        LogFormat::Auto if terminal => Output::Coloured,
        LogFormat::Auto | LogFormat::Text => Output::Plain,
        LogFormat::Json => Output::Json,
    }
}

/// The log goes to standard output, at the levels of `RUST_LOG` (default `info`).
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match output(format, std::io::stdout().is_terminal()) {
        Output::Coloured => builder.with_ansi(true).init(),
        Output::Plain => builder.with_ansi(false).init(),
        Output::Json => builder.json().with_current_span(false).init(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_unless_asked_otherwise() {
        assert_eq!(output(LogFormat::Auto, true), Output::Coloured);
        assert_eq!(output(LogFormat::Auto, false), Output::Plain);
        assert_eq!(output(LogFormat::Text, true), Output::Plain);
        assert_eq!(output(LogFormat::Json, true), Output::Json);
        assert_eq!(output(LogFormat::Json, false), Output::Json);
    }

    #[test]
    fn the_flag_parses() {
        let config =
            Config::try_parse_from(["hellocode-server", "--log-format", "json"]).expect("parses");
        assert_eq!(config.log_format, LogFormat::Json);
        let config = Config::try_parse_from(["hellocode-server"]).expect("parses");
        assert_eq!(config.log_format, LogFormat::Auto);
    }
}
