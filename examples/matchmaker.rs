//! Run with: cargo run --example matchmaker -- --user matchmaker --password '<password>' --register mm@example.org
//!
//! The original app's purpose as a bot: `!find rust` lists the other users who want to talk about
//! Rust (set yours with `/languages rust go` in the `chat` example), to start a chat with them.

use clap::Parser;
use hellocode_examples::{ConnectArgs, init_logging};
use hellocode_sdk::Result;
use hellocode_sdk::bot::{Bot, Command, Context};

async fn find(ctx: Context, language: String) -> Result<String> {
    let users = ctx.client().find_users(language.as_str()).await?;
    let others: Vec<&str> = (users.iter().map(|user| user.username.as_str()))
        .filter(|name| *name != ctx.author() && *name != ctx.bot_username())
        .collect();
    Ok(if others.is_empty() {
        format!(
            "Nobody else wants to talk about {language} yet. Add it to your profile so others \
             find you (terminal chat: /languages {language})."
        )
    } else {
        format!("Want to talk about {language}: {}.", others.join(", "))
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let client = ConnectArgs::parse().connect().await?;
    println!("matchmaker running as {}", client.username());
    let find = Command::new("find", find).arg_names(["language"]).description("Who talks about it");
    Bot::new(client).command(find).run_until_signal().await?;
    println!("matchmaker stopped");
    Ok(())
}
