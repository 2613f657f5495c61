//! Just enough HTTP/1.1 to register users and read tokens (no client library needed).

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The password every generated user gets.
pub const PASSWORD: &str = "load generator passphrase";

/// POST a JSON body; returns status and JSON reply.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> anyhow::Result<(u16, Value)> {
    request(addr, "POST", path, token, &body.to_string()).await
}

/// GET `path`; returns status and JSON reply (`Null` if the reply is not JSON).
pub async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, Value)> {
    request(addr, "GET", path, None, "").await
}

/// One request on a fresh connection, closed after the reply.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> anyhow::Result<(u16, Value)> {
    let mut stream = TcpStream::connect(addr).await.context("connect for HTTP")?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: load\r\nConnection: close\r\nContent-Length: {}\r\n{auth}\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").context("no header end")?;
    let status = String::from_utf8_lossy(&response[..split])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status")?;
    let value = serde_json::from_slice(&response[split + 4..]).unwrap_or(Value::Null);
    Ok((status, value))
}

/// Register `username` (ignoring "taken") and log in; returns a token.
pub async fn user(addr: SocketAddr, username: &str) -> anyhow::Result<String> {
    let registration = json!({
        "username": username, "email": format!("{username}@load.test"),
        "password": PASSWORD, "password_confirmation": PASSWORD,
    });
    let (status, reply) = post(addr, "/api/register/", None, &registration).await?;
    if status != 201 && status != 422 {
        bail!("register {username}: {status} {reply}");
    }
    let (status, reply) =
        post(addr, "/api/login/", None, &json!({ "username": username, "password": PASSWORD }))
            .await?;
    if status != 200 {
        bail!("login {username}: {status} {reply}");
    }
    reply["token"].as_str().map(str::to_owned).context("no token")
}

/// Create a chat among `participants` (the token's user included); returns its id.
pub async fn chat(addr: SocketAddr, token: &str, participants: &[String]) -> anyhow::Result<i64> {
    let (status, reply) =
        post(addr, "/api/chat/create/", Some(token), &json!({ "participants": participants }))
            .await?;
    if status != 201 {
        bail!("create chat: {status} {reply}");
    }
    reply["id"].as_i64().context("no chat id")
}

/// Tokens kept from earlier runs against the same server data (`--token-cache FILE`), so a
/// rerun skips registering and logging in its users: argon2 for each, minutes for 10,000 users
/// on two cores. Setup only; nothing measured depends on it. A token stays valid while the server
/// keeps its data directory (the signing secret) and the token's lifetime (24 h by default).
#[derive(Debug, Default)]
pub struct TokenCache {
    path: Option<PathBuf>,
    known: HashMap<String, String>,
}

impl TokenCache {
    /// Tokens from `path` (one `username token` per line), if the file exists; new tokens are
    /// appended to it. `None`: remember nothing.
    pub fn open(path: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut known = HashMap::new();
        if let Some(path) = &path
            && path.exists()
        {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read token cache {}", path.display()))?;
            for line in text.lines() {
                if let Some((name, token)) = line.split_once(' ') {
                    known.insert(name.to_owned(), token.to_owned());
                }
            }
        }
        Ok(TokenCache { path, known })
    }

    fn remember(&mut self, fresh: Vec<(String, String)>) -> anyhow::Result<()> {
        if let Some(path) = &self.path {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("write token cache {}", path.display()))?;
            for (name, token) in &fresh {
                writeln!(file, "{name} {token}")?;
            }
        }
        self.known.extend(fresh);
        Ok(())
    }
}

/// Register (or log in) every one of `names` not in `cache`, at most eight at a time (argon2
/// runs on the server's cores); returns their tokens in order.
pub async fn users(
    addr: SocketAddr,
    names: &[String],
    cache: &mut TokenCache,
) -> anyhow::Result<Vec<String>> {
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::new();
    for name in names.iter().filter(|name| !cache.known.contains_key(*name)) {
        let (gate, name) = (gate.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let token = user(addr, &name).await?;
            anyhow::Ok((name, token))
        }));
    }
    let mut fresh = Vec::with_capacity(tasks.len());
    for task in tasks {
        fresh.push(task.await??);
    }
    cache.remember(fresh)?;
    names.iter().map(|name| cache.known.get(name).cloned().context("token lost")).collect()
}
