//! A bot's handlers for what is not a command: a member joining one of its chats
//! ([`JoinHandler`]) and an invitation of the bot to a group ([`InviteHandler`], answered
//! through an [`InviteContext`]). Registered with `Bot.on_join` and `Bot.on_invite`.

use std::sync::Arc;

use hellocode_sdk::bot::{self, Context, HandlerError, Outcome};

use crate::HelloCodeError;
use crate::bot::BotContext;
use crate::client::Client;
use crate::runtime::{call, spawn};
use crate::types::{Chat, Invitation};

/// Handles a member joining a chat the bot is in; implemented in Kotlin or Swift.
///
/// `ctx` is the chat's `join` event: `ctx.member()` is who joined, `ctx.author()` who added
/// them. Joins are handled one after another in the order they happened, live or resumed
/// after a reconnect; not those from before the bot was in the chat, nor the bot's own joining.
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait JoinHandler: Send + Sync {
    /// Handle a join. The text returned (or `None` for nothing) is posted in the chat, once
    /// even if a restarted bot handles the join again. A thrown exception is logged.
    async fn handle(&self, ctx: Arc<BotContext>) -> Result<Option<String>, HelloCodeError>;
}

/// Handles an invitation of the bot to a group; implemented in Kotlin or Swift.
///
/// Invitations are handled one after another: each one made while the bot runs, and those
/// already pending when it starts or reconnects, once per run. Withdrawn ones do not come here.
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait InviteHandler: Send + Sync {
    /// Answer the invitation with `ctx.accept()` or `ctx.decline()` (doing neither leaves it
    /// pending). A text returned is posted in the group once the bot has accepted, and ignored
    /// otherwise. A thrown exception is logged.
    async fn handle(&self, ctx: Arc<InviteContext>) -> Result<Option<String>, HelloCodeError>;
}

/// What an [`InviteHandler`] gets: the invitation, and the ways to answer it.
#[derive(Debug, uniffi::Object)]
pub struct InviteContext {
    inner: bot::InviteContext,
}

#[uniffi::export]
impl InviteContext {
    /// The invitation (pending).
    pub fn invitation(&self) -> Invitation {
        self.inner.invitation().clone().into()
    }

    /// Who invited the bot.
    pub fn inviter(&self) -> String {
        self.inner.inviter().to_owned()
    }

    /// The group's id (the bot reads nothing of it before accepting).
    pub fn chat_id(&self) -> i64 {
        self.inner.chat_id().0
    }

    /// The group's name, if it has one.
    pub fn chat_name(&self) -> Option<String> {
        self.inner.chat_name().map(str::to_owned)
    }

    /// Accept: the bot joins the group as a member and answers commands there from then on.
    /// Returns the chat. Errors: `NotFound` (withdrawn meanwhile).
    pub async fn accept(&self) -> Result<Chat, HelloCodeError> {
        let ctx = self.inner.clone();
        call(async move { ctx.accept().await }).await.map(Chat::from)
    }

    /// Decline; nobody is told. Errors: `NotFound` (withdrawn meanwhile).
    pub async fn decline(&self) -> Result<(), HelloCodeError> {
        let ctx = self.inner.clone();
        call(async move { ctx.decline().await }).await
    }

    /// The chat, once this context has accepted the invitation.
    pub fn joined(&self) -> Option<Chat> {
        self.inner.joined().map(Chat::from)
    }

    /// The bot's username.
    pub fn bot_username(&self) -> String {
        self.inner.bot_username().to_owned()
    }

    /// The bot's client, for any other operation.
    pub fn client(&self) -> Arc<Client> {
        Arc::new(Client { inner: self.inner.client().clone() })
    }
}

/// Register `handler` for joins on `built`.
pub(crate) fn on_join(built: bot::Bot, handler: Arc<dyn JoinHandler>) -> bot::Bot {
    built.on_join(move |ctx: Context| {
        let handler = handler.clone();
        let ctx = Arc::new(BotContext::new(ctx));
        foreign(async move { handler.handle(ctx).await })
    })
}

/// Register `handler` for invitations on `built`.
pub(crate) fn on_invite(built: bot::Bot, handler: Arc<dyn InviteHandler>) -> bot::Bot {
    built.on_invite(move |ctx: bot::InviteContext| {
        let handler = handler.clone();
        let ctx = Arc::new(InviteContext { inner: ctx });
        foreign(async move { handler.handle(ctx).await })
    })
}

/// Run a foreign handler's call as a task of its own, so that a panic in it is an error here.
pub(crate) async fn foreign<F>(handling: F) -> Outcome
where
    F: Future<Output = Result<Option<String>, HelloCodeError>> + Send + 'static,
{
    let handled = spawn(handling).await;
    handled.and_then(|result| result).map_err(|error| Box::new(error) as HandlerError)
}
