//! Run with: cargo run --example echo_bot -- --user echobot --password '<password>'
//!
//! Answers `!echo <text>` (or `/echo <text>`) with `<text>` in any chat it is in, and `!help`
//! with its commands. Stops gracefully on Ctrl-C (replies in flight are still delivered).

use clap::Parser;
use hellocode_examples::{ConnectArgs, ctrl_c, init_logging};
use hellocode_sdk::bot::Bot;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let client = ConnectArgs::parse().connect().await?;
    println!("echo bot running as {}", client.username());
    Bot::new(client)
        .command("echo", |ctx, text| async move {
            let reply = if text.is_empty() { "usage: !echo <text>".to_owned() } else { text };
            ctx.reply(reply).await?;
            Ok(())
        })
        .run_until(ctrl_c())
        .await;
    println!("echo bot stopped");
    Ok(())
}
