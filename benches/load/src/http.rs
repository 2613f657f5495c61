//! Just enough HTTP/1.1 to register users and read tokens (no client library needed).

use std::net::SocketAddr;

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
    let mut stream = TcpStream::connect(addr).await.context("connect for HTTP")?;
    let body = body.to_string();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: load\r\nConnection: close\r\nContent-Length: {}\r\n{auth}\r\n{body}",
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

/// Register (or log in) every one of `names`, at most eight at a time (argon2 runs on the
/// server's cores); returns their tokens in order.
pub async fn users(addr: SocketAddr, names: &[String]) -> anyhow::Result<Vec<String>> {
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::with_capacity(names.len());
    for name in names {
        let (gate, name) = (gate.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            user(addr, &name).await
        }));
    }
    let mut tokens = Vec::with_capacity(names.len());
    for task in tasks {
        tokens.push(task.await??);
    }
    Ok(tokens)
}
