//! Run with: cargo run --example echo_bot -- --user echobot --password '<password>' --register echobot@example.org
//!
//! Answers `!echo <text>` (or `/echo`, or `!say`) with `<text>` in any chat it is in, and
//! `!help` with its commands. Only commands sent after it started are answered. Stops
//! gracefully on Ctrl-C or SIGTERM (replies in flight are still delivered).

use clap::Parser;
use hellocode_examples::{ConnectArgs, init_logging};
use hellocode_sdk::bot::{Bot, Command, Context, Rest};

async fn echo(_ctx: Context, text: Rest) -> String {
    text.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let client = ConnectArgs::parse().connect().await?;
    println!("echo bot running as {}", client.username());
    let echo = Command::new("echo", echo).alias("say").description("Repeat your text");
    Bot::new(client).command(echo).run_until_signal().await?;
    println!("echo bot stopped");
    Ok(())
}
