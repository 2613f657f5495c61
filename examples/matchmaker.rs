//! Run with: cargo run --example matchmaker -- --user matchmaker --password '<password>'
//!
//! The original app's purpose as a bot: asked `!find rust`, it lists the other users who want to
//! talk about Rust (the languages in their profiles), so you can start a chat with them.

use clap::Parser;
use hellocode_examples::{ConnectArgs, ctrl_c, init_logging};
use hellocode_sdk::bot::Bot;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let client = ConnectArgs::parse().connect().await?;
    println!("matchmaker running as {}", client.username());
    Bot::new(client)
        .command("find", |ctx, language| async move {
            if language.is_empty() {
                ctx.reply("usage: !find <language>, e.g. !find rust").await?;
                return Ok(());
            }
            let me = ctx.client().username().to_owned();
            let users = ctx.client().find_users(language.as_str()).await?;
            let names: Vec<&str> = users
                .iter()
                .map(|user| user.username.as_str())
                .filter(|name| *name != ctx.author() && *name != me)
                .collect();
            let reply = match names.as_slice() {
                [] => format!("Nobody else wants to talk about {language} yet."),
                [one] => format!("{one} wants to talk about {language}."),
                many => format!("{} want to talk about {language}.", many.join(", ")),
            };
            ctx.reply(reply).await?;
            Ok(())
        })
        .run_until(ctrl_c())
        .await;
    println!("matchmaker stopped");
    Ok(())
}
