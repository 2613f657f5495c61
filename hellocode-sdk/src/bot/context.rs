//! What a handler gets: the message, its chat and author, and ways to answer.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use hellocode_core::model::{Chat, ChatId, ChatKind, Invitation, Message};

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

/// What an [`on_invite`](super::Bot::on_invite) handler gets: an invitation of the bot to a
/// group, and the ways to answer it.
///
/// ```no_run
/// use hellocode_sdk::bot::InviteContext;
///
/// async fn only_from_alice(ctx: InviteContext) -> hellocode_sdk::Result<Option<String>> {
///     if ctx.inviter() == "alice" {
///         let chat = ctx.accept().await?;
///         Ok(Some(format!("Hello, {}! Try !help.", chat.name.as_deref().unwrap_or("everyone"))))
///     } else {
///         ctx.decline().await?;
///         Ok(None)
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct InviteContext {
    client: Client,
    invitation: Invitation,
    /// The chat, once this context accepted the invitation.
    joined: Arc<Mutex<Option<Chat>>>,
}

impl InviteContext {
    pub(crate) fn new(client: Client, invitation: Invitation) -> Self {
        InviteContext { client, invitation, joined: Arc::default() }
    }

    /// The invitation (pending).
    pub fn invitation(&self) -> &Invitation {
        &self.invitation
    }

    /// Who invited the bot.
    pub fn inviter(&self) -> &str {
        &self.invitation.inviter
    }

    /// The chat the bot is invited to (it reads nothing of it before accepting).
    pub fn chat_id(&self) -> ChatId {
        self.invitation.chat_id
    }

    /// The chat's name, if it has one.
    pub fn chat_name(&self) -> Option<&str> {
        self.invitation.name.as_deref()
    }

    /// Accept: the bot joins the group as a member (see
    /// [`Client::accept_invitation`](crate::Client::accept_invitation)); returns the chat.
    /// From then on the bot answers commands there.
    pub async fn accept(&self) -> Result<Chat> {
        let chat = self.client.accept_invitation(self.invitation.id).await?;
        *self.joined.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(chat.clone());
        Ok(chat)
    }

    /// Decline (see [`Client::decline_invitation`](crate::Client::decline_invitation)); nobody
    /// is told.
    pub async fn decline(&self) -> Result<()> {
        self.client.decline_invitation(self.invitation.id).await
    }

    /// The chat, if this context accepted the invitation.
    pub fn joined(&self) -> Option<Chat> {
        self.joined.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The bot's client, for anything beyond an answer.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bot's own username.
    pub fn bot_username(&self) -> &str {
        self.client.username()
    }
}
