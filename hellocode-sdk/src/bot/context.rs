//! What a handler gets: the message, its chat and author, and ways to answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use hellocode_core::model::{Chat, ChatId, ChatKind, Message};

use crate::{Client, Result};

/// The message a handler runs for (for [`Bot::on_join`](super::Bot::on_join), the `join`
/// event), and the bot's client.
///
/// Replies are idempotent: the `n`-th reply to a message carries a client id made of the chat,
/// the message's sequence number and `n`, so a bot restarted with persistence (see
/// [`Bot::persist`](super::Bot::persist)) that handles a command again never posts its answer
/// twice.
///
/// ```no_run
/// use hellocode_sdk::bot::Context;
///
/// async fn whoami(ctx: Context) -> hellocode_sdk::Result<()> {
///     ctx.typing().await?;
///     let text = format!("you are {} in chat {}", ctx.author(), ctx.chat_id());
///     ctx.reply(text).await?;
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Context {
    client: Client,
    message: Message,
    chat: Option<Chat>,
    command: Option<String>,
    pub(crate) prefix: String,
    replies: Arc<AtomicU32>,
}

impl Context {
    pub(crate) fn new(
        client: Client,
        message: Message,
        chat: Option<Chat>,
        command: Option<String>,
    ) -> Self {
        let replies = Arc::new(AtomicU32::new(0));
        Context { client, message, chat, command, prefix: "!".to_owned(), replies }
    }

    /// Send `text` to the chat the message came from; resolves with the stored message.
    pub async fn reply(&self, text: impl Into<String>) -> Result<Message> {
        let n = self.replies.fetch_add(1, Ordering::Relaxed);
        let key = format!("bot-reply:{}:{}:{n}", self.message.chat_id, self.message.seq);
        self.client.send_with_client_id(self.message.chat_id, text, key).await
    }

    /// Show the chat that the bot is typing (before a slow answer).
    pub async fn typing(&self) -> Result<()> {
        self.client.typing(self.message.chat_id).await
    }

    /// The message the handler runs for.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Its text.
    pub fn text(&self) -> &str {
        &self.message.content
    }

    /// Its chat's id.
    pub fn chat_id(&self) -> ChatId {
        self.message.chat_id
    }

    /// Its chat as the bot last saw it (participants), when known.
    pub fn chat(&self) -> Option<&Chat> {
        self.chat.as_ref()
    }

    /// Whether the chat is a direct chat: the bot and one other person (not a group, whatever
    /// its size).
    pub fn is_direct(&self) -> bool {
        self.chat.as_ref().is_some_and(|chat| chat.kind == ChatKind::Direct)
    }

    /// Who sent the message; for an event, who made the change (for a join, who added the
    /// member).
    pub fn author(&self) -> &str {
        &self.message.author
    }

    /// For a membership event (a join, in [`Bot::on_join`](super::Bot::on_join)): whose
    /// membership changed. `None` for a message.
    pub fn member(&self) -> Option<&str> {
        self.message.member.as_deref()
    }

    /// The command's name as registered (aliases resolved), for a command handler.
    pub fn command(&self) -> Option<&str> {
        self.command.as_deref()
    }

    /// The bot's client, for anything beyond a reply.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bot's own username.
    pub fn bot_username(&self) -> &str {
        self.client.username()
    }
}
