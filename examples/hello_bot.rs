//! Run with: cargo run --example hello_bot (the bot the README opens its SDK section with)
use hellocode_sdk::bot::{Bot, Command, Context, Rest};
use hellocode_sdk::{Credentials, WebSocketTransport};

async fn echo(_ctx: Context, text: Rest) -> String {
    text.0
}

#[tokio::main]
async fn main() -> hellocode_sdk::Result<()> {
    let url = std::env::var("HELLOCODE_SERVER").unwrap_or("ws://127.0.0.1:8080".into());
    let login = Credentials::register_or_login("hellobot", "bot@example.org", "bot password 8472");
    let bot = Bot::connect(WebSocketTransport::new(&url)?, login).await?;
    println!("running; say !echo hi to hellobot, Ctrl-C stops");
    bot.command(Command::new("echo", echo)).run_until_signal().await
}
