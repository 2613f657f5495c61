//! What every example shares: where the server is and who to be.

use clap::Parser;

/// The README's examples, compiled as doc tests so they cannot rot (this crate sees the SDK,
/// the core and the server).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
use hellocode_sdk::{Client, Credentials, WebSocketTransport};

/// Server address and credentials, from flags or `HELLOCODE_*` environment variables.
#[derive(Debug, Parser)]
pub struct ConnectArgs {
    /// Server WebSocket URL.
    #[arg(long, env = "HELLOCODE_SERVER", default_value = "ws://127.0.0.1:8080")]
    pub server: String,
    /// Username.
    #[arg(long, env = "HELLOCODE_USER")]
    pub user: Option<String>,
    /// Password (or set HELLOCODE_PASSWORD; the terminal chat asks when neither is given).
    #[arg(long, env = "HELLOCODE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// A token instead of a password: a JWT from a login, or a bot token.
    #[arg(long, env = "HELLOCODE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Create the account with this email address if it does not exist yet (else log in).
    #[arg(long)]
    pub register: Option<String>,
}

impl ConnectArgs {
    /// The credentials these arguments describe.
    pub fn credentials(&self) -> anyhow::Result<Credentials> {
        match (&self.token, &self.user, &self.password, &self.register) {
            (Some(token), _, _, _) => Ok(Credentials::token(token.clone())),
            (None, Some(user), Some(password), Some(email)) => {
                Ok(Credentials::register_or_login(user.clone(), email.clone(), password.clone()))
            }
            (None, Some(user), Some(password), None) => {
                Ok(Credentials::password(user.clone(), password.clone()))
            }
            _ => anyhow::bail!("give --token, or --user and --password (or HELLOCODE_* variables)"),
        }
    }

    /// Connect over WebSocket.
    pub async fn connect(&self) -> anyhow::Result<Client> {
        let transport = WebSocketTransport::new(&self.server)?;
        let client = Client::connect(transport, self.credentials()?).await?;
        Ok(client)
    }
}

/// Log to stderr, filtered by `RUST_LOG` (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Resolves on Ctrl-C (or at once if the signal cannot be listened to): a bot's shutdown signal.
pub async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}
