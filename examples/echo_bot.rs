//! Run with: cargo run --example echo_bot -- --user echobot --password '<password>'
//!
//! Answers `!echo <text>` (or `/echo <text>`) with `<text>` in any chat it is in, and `!help`
//! with its commands. Stops gracefully on Ctrl-C (replies in flight are still delivered).

use clap::Parser;
use hellocode_examples::{ConnectArgs, init_logging};
use hellocode_sdk::bot::Bot;

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    connect: ConnectArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let args = Args::parse();
    let client = args.connect.connect().await?;
    println!("echo bot running as {}", client.username());
    Bot::new(client)
        .command("echo", |ctx, text| async move {
            let reply = if text.is_empty() { "usage: !echo <text>".to_owned() } else { text };
            ctx.reply(reply).await?;
            Ok(())
        })
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    println!("echo bot stopped");
    Ok(())
}
