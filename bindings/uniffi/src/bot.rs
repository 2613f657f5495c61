//! The SDK's bot framework with command handlers written in Kotlin or Swift.
//!
//! A command is a [`BotCommand`] record (name, aliases, description, argument specs, checks,
//! cooldown) and a foreign [`CommandHandler`]. The SDK parses the arguments against the specs
//! (a usage reply when they do not fit; the handler is not called), runs checks and cooldowns,
//! and calls the handler with a [`BotContext`] and the arguments; what it returns is the reply.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hellocode_sdk::bot::{
    self, Arg, ArgError, ArgInput, BoxFuture, Context, FileStore, Handler, Outcome, Rest, checks,
};
use tokio::sync::oneshot;

use crate::HelloCodeError;
use crate::bot_events::{self, InviteHandler, JoinHandler, foreign};
use crate::client::Client;
use crate::runtime::call;
use crate::types::{Chat, Message};

/// The kind of one command argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ArgKind {
    /// One word (or a quoted phrase).
    Word,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// A username, with or without `@`.
    User,
    /// Everything left (only last).
    Text,
}

impl ArgKind {
    /// Parse one argument of this kind; its text (a number as written, a user without `@`).
    fn parse(self, input: &mut ArgInput<'_>, optional: bool) -> Result<Option<String>, ArgError> {
        fn take<T: Arg>(
            input: &mut ArgInput<'_>,
            optional: bool,
            text: impl Fn(T) -> String,
        ) -> Result<Option<String>, ArgError> {
            if optional {
                Ok(Option::<T>::parse(input)?.map(text))
            } else {
                T::parse(input).map(|value| Some(text(value)))
            }
        }
        match self {
            ArgKind::Word => take::<String>(input, optional, |word| word),
            ArgKind::Integer => take::<i64>(input, optional, |n| n.to_string()),
            ArgKind::Number => take::<f64>(input, optional, |n| n.to_string()),
            ArgKind::User => take::<bot::User>(input, optional, |user| user.0),
            ArgKind::Text => take::<Rest>(input, optional, |rest| rest.0),
        }
    }

    fn name(self) -> &'static str {
        match self {
            ArgKind::Word => "word",
            ArgKind::Integer => "integer",
            ArgKind::Number => "number",
            ArgKind::User => "user",
            ArgKind::Text => "text",
        }
    }
}

/// One argument of a command, for parsing, usage lines and `!help`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ArgSpec {
    /// Its name in usage lines.
    pub name: String,
    /// What it must be.
    pub kind: ArgKind,
    /// Whether it may be left out (only trailing arguments).
    #[uniffi(default = false)]
    pub optional: bool,
}

/// A command: `!name args` or `/name args` in a chat the bot is in.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BotCommand {
    /// Its name (matched case-insensitively).
    pub name: String,
    /// Other names for it.
    #[uniffi(default = [])]
    pub aliases: Vec<String>,
    /// One line for `!help`.
    #[uniffi(default = "")]
    pub description: String,
    /// Its arguments, in order.
    #[uniffi(default = [])]
    pub args: Vec<ArgSpec>,
    /// Only in a direct chat with the bot.
    #[uniffi(default = false)]
    pub direct_only: bool,
    /// Only these users may use it (`None`: everyone).
    #[uniffi(default)]
    pub allowed_users: Option<Vec<String>>,
    /// Per-user cooldown between uses.
    #[uniffi(default)]
    pub cooldown_ms: Option<u64>,
}

/// How the bot behaves; the defaults are the SDK's.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BotOptions {
    /// Command prefixes (`None`: `!` and `/`).
    #[uniffi(default)]
    pub prefixes: Option<Vec<String>>,
    /// Also answer `@bot command`.
    #[uniffi(default = false)]
    pub mentions: bool,
    /// Answer `!help` with the commands and their usage.
    #[uniffi(default = true)]
    pub help: bool,
    /// Handle the bot's own messages too.
    #[uniffi(default = false)]
    pub own_messages: bool,
    /// Handle messages sent before the bot started (normally skipped).
    #[uniffi(default = false)]
    pub replay_backlog: bool,
    /// A JSON file for the bot's position in each chat: after a restart it answers what it
    /// missed, once.
    #[uniffi(default)]
    pub position_file: Option<String>,
    /// Most messages waiting per chat; a chat further behind fetches what it skipped.
    #[uniffi(default = 1000)]
    pub chat_queue: u32,
}

/// Handles one command; implemented in Kotlin or Swift. Called on one of the library's
/// threads (Kotlin: a suspend function; Swift: an async function).
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait CommandHandler: Send + Sync {
    /// Handle a command. `raw_args` is the text after the command's name; `args` are the
    /// arguments parsed by the command's specs (an optional one left out is absent from the
    /// end). Return the reply text, or `None` to say nothing (or reply with `ctx.reply`).
    /// A thrown `HelloCodeException` (or any exception) gets the user a short error reply.
    async fn handle(
        &self,
        ctx: Arc<BotContext>,
        raw_args: String,
        args: Vec<String>,
    ) -> Result<Option<String>, HelloCodeError>;
}

/// What a command handler knows about the message it answers (a join handler: about the
/// join).
#[derive(Debug, uniffi::Object)]
pub struct BotContext {
    inner: Context,
}

impl BotContext {
    pub(crate) fn new(inner: Context) -> Self {
        BotContext { inner }
    }
}

#[uniffi::export]
impl BotContext {
    /// Reply in the command's chat (idempotent: a restarted bot never posts it twice).
    pub async fn reply(&self, text: String) -> Result<Message, HelloCodeError> {
        let ctx = self.inner.clone();
        call(async move { ctx.reply(text).await }).await.map(Message::from)
    }

    /// Show the bot as typing in the command's chat.
    pub async fn typing(&self) -> Result<(), HelloCodeError> {
        let ctx = self.inner.clone();
        call(async move { ctx.typing().await }).await
    }

    /// The message with the command.
    pub fn message(&self) -> Message {
        self.inner.message().clone().into()
    }

    /// The message's text.
    pub fn text(&self) -> String {
        self.inner.text().to_owned()
    }

    /// The chat's id.
    pub fn chat_id(&self) -> i64 {
        self.inner.chat_id().0
    }

    /// The chat, if the bot knows it.
    pub fn chat(&self) -> Option<Chat> {
        self.inner.chat().cloned().map(Chat::from)
    }

    /// Whether the chat is a direct chat: the bot and one other user (not a group).
    pub fn is_direct(&self) -> bool {
        self.inner.is_direct()
    }

    /// Who sent the command; for a join, who added the member.
    pub fn author(&self) -> String {
        self.inner.author().to_owned()
    }

    /// For a join: who joined. `None` for a message.
    pub fn member(&self) -> Option<String> {
        self.inner.member().map(str::to_owned)
    }

    /// The command's name as typed (`None` for a plain message).
    pub fn command(&self) -> Option<String> {
        self.inner.command().map(str::to_owned)
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

/// A bot: the SDK's bot framework over a connected client. Add commands, then `run()` (it
/// returns when `stop()` is called or the client closes).
#[derive(uniffi::Object)]
pub struct Bot {
    client: hellocode_sdk::Client,
    options: BotOptions,
    commands: Mutex<Vec<(BotCommand, Arc<dyn CommandHandler>)>>,
    joins: Mutex<Vec<Arc<dyn JoinHandler>>>,
    invites: Mutex<Vec<Arc<dyn InviteHandler>>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot").field("user", &self.client.username()).finish_non_exhaustive()
    }
}

#[uniffi::export]
impl Bot {
    /// A bot acting as the client's user.
    #[uniffi::constructor]
    pub fn new(client: Arc<Client>, options: BotOptions) -> Arc<Self> {
        Arc::new(Bot {
            client: client.inner.clone(),
            options,
            commands: Mutex::new(Vec::new()),
            joins: Mutex::new(Vec::new()),
            invites: Mutex::new(Vec::new()),
            stop: Mutex::new(None),
        })
    }

    /// Add a command (before `run`).
    pub fn add_command(&self, command: BotCommand, handler: Arc<dyn CommandHandler>) {
        if let Ok(mut commands) = self.commands.lock() {
            commands.push((command, handler));
        }
    }

    /// Call `handler` when a member joins a chat the bot is in (before `run`); see
    /// [`JoinHandler`].
    pub fn on_join(&self, handler: Arc<dyn JoinHandler>) {
        if let Ok(mut joins) = self.joins.lock() {
            joins.push(handler);
        }
    }

    /// Call `handler` when the bot is invited to a group (before `run`); see
    /// [`InviteHandler`].
    pub fn on_invite(&self, handler: Arc<dyn InviteHandler>) {
        if let Ok(mut invites) = self.invites.lock() {
            invites.push(handler);
        }
    }

    /// Run until `stop()` is called or the client closes.
    pub async fn run(&self) -> Result<(), HelloCodeError> {
        let (stop, stopped) = oneshot::channel::<()>();
        if let Ok(mut slot) = self.stop.lock() {
            *slot = Some(stop);
        }
        let bot = self.build();
        call(async move {
            bot.run_until(async move {
                let _ = stopped.await;
            })
            .await
        })
        .await
    }

    /// Stop a running bot (it finishes the commands it is handling first).
    pub fn stop(&self) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut slot| slot.take()) {
            let _ = stop.send(());
        }
    }
}

impl Bot {
    fn build(&self) -> bot::Bot {
        let options = &self.options;
        let mut built = bot::Bot::new(self.client.clone())
            .mentions(options.mentions)
            .see_own_messages(options.own_messages)
            .replay_backlog(options.replay_backlog)
            .with_chat_queue(options.chat_queue as usize);
        if let Some(prefixes) = &options.prefixes {
            built = built.prefixes(prefixes.clone());
        }
        if !options.help {
            built = built.without_help();
        }
        if let Some(path) = &options.position_file {
            built = built.persist(FileStore::new(path));
        }
        let commands = self.commands.lock().map(|c| c.clone()).unwrap_or_default();
        for (command, handler) in commands {
            built = built.command(sdk_command(command, handler));
        }
        for handler in self.joins.lock().map(|joins| joins.clone()).unwrap_or_default() {
            built = bot_events::on_join(built, handler);
        }
        for handler in self.invites.lock().map(|invites| invites.clone()).unwrap_or_default() {
            built = bot_events::on_invite(built, handler);
        }
        built
    }
}

fn sdk_command(command: BotCommand, handler: Arc<dyn CommandHandler>) -> bot::Command {
    let names: Vec<String> = command.args.iter().map(|spec| spec.name.clone()).collect();
    let foreign = ForeignCommand { specs: command.args.clone(), handler };
    let mut built =
        bot::Command::new(&command.name, foreign).description(command.description).arg_names(names);
    for alias in &command.aliases {
        built = built.alias(alias);
    }
    if command.direct_only {
        built = built.check(checks::direct_only());
    }
    if let Some(users) = command.allowed_users {
        built = built.check(checks::only_users(users));
    }
    if let Some(ms) = command.cooldown_ms {
        built = built.cooldown(Duration::from_millis(ms));
    }
    built
}

/// Marks [`ForeignCommand`]'s `Handler` implementation (parameters known at run time).
#[derive(Debug)]
pub(crate) struct ForeignArgs;

struct ForeignCommand {
    specs: Vec<ArgSpec>,
    handler: Arc<dyn CommandHandler>,
}

impl Handler<ForeignArgs> for ForeignCommand {
    fn specs(&self) -> Vec<bot::ArgSpec> {
        self.specs
            .iter()
            .map(|spec| bot::ArgSpec { kind: spec.kind.name(), optional: spec.optional })
            .collect()
    }

    fn call(&self, ctx: Context, input: &str) -> Result<BoxFuture<Outcome>, ArgError> {
        let mut parsing = ArgInput::new(input);
        let mut args = Vec::new();
        for spec in &self.specs {
            if let Some(value) = spec.kind.parse(&mut parsing, spec.optional)? {
                args.push(value);
            }
        }
        parsing.finish()?;
        let raw_args = input.trim().to_owned();
        let handler = self.handler.clone();
        let ctx = Arc::new(BotContext::new(ctx));
        Ok(Box::pin(foreign(async move { handler.handle(ctx, raw_args, args).await })))
    }
}
