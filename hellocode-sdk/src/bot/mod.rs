//! A bot framework: commands with typed arguments, checks and cooldowns, a generated `!help`,
//! hooks, visible errors, and no surprises on start.
//!
//! ```no_run
//! use hellocode_sdk::bot::{Bot, Command, Context, Rest};
//! use hellocode_sdk::{Credentials, WebSocketTransport};
//!
//! async fn echo(_ctx: Context, text: Rest) -> String {
//!     text.0
//! }
//!
//! # async fn run() -> hellocode_sdk::Result<()> {
//! let transport = WebSocketTransport::new("ws://127.0.0.1:8080")?;
//! let credentials = Credentials::token("<bot token>");
//! Bot::connect(transport, credentials)
//!     .await?
//!     .command(Command::new("echo", echo).description("Repeat your text"))
//!     .run_until_signal()
//!     .await
//! # }
//! ```
//!
//! What a bot does, and what it does not:
//!
//! - **Commands** are messages starting with `!name` or `/name` (see [`Bot::prefixes`]), or
//!   `@bot name` when [`Bot::mentions`] is on. A handler's parameters are its argument parser
//!   ([`Arg`]); text that does not fit gets a usage reply and the handler is not called.
//!   Unknown commands are ignored: they may be meant for another bot.
//! - **No backlog.** A bot answers only commands sent after it connected, or after it joined
//!   the chat: history is not replayed, unless [`Bot::replay_backlog`] asks for it. With
//!   [`Bot::persist`], a restarted bot handles what came while it was down, once.
//! - **Order.** Messages of one chat are handled one after another, in sequence order;
//!   different chats run concurrently. Event handlers see events in the order they came.
//! - **Errors are visible.** A failing handler, a refused check, a cooldown or a usage error
//!   goes to the error hook ([`Bot::on_error`]), whose default ([`report_error`]) answers the
//!   user in a short line and logs failures through `tracing` — and to stderr if no `tracing`
//!   subscriber is installed. Install one to control logging, for example with
//!   `tracing_subscriber::fmt().with_env_filter("info").init()`. A panicking handler is
//!   reported as a failure; the bot goes on.
//! - **Replies** go through the client's send queue: a `rate_limited` answer pauses and
//!   retries them, a reconnect loses nothing, and each reply is idempotent (see [`Context`]).
//! - The bot ignores its own messages (unless [`Bot::see_own_messages`]); it never runs a
//!   command from its own message.
//! - **Members joining** a chat the bot is in go to [`Bot::on_join`] handlers (not those who
//!   joined before the bot, nor the bot's own joining, which is an
//!   [`Event::ChatCreated`]).
//! - **Invitations** of the bot to a group go to [`Bot::on_invite`] handlers, which accept or
//!   decline them; without one they stay pending.

mod args;
mod command;
mod context;
mod handler;
mod help;
mod parse;
mod run;
mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use args::{Arg, ArgError, ArgInput, ArgSpec, Rest, User};
pub use command::{Check, Command, CommandError, checks};
pub use context::{Context, InviteContext};
pub use handler::{BoxFuture, Handler, HandlerError, IntoReply, Outcome};
pub use parse::{ParsedCommand, parse_command};
pub use run::{error_reply, report_error};
pub use store::{FileStore, MemoryStore, PositionStore};

use crate::{Client, ClientConfig, Credentials, Event, Result, Transport};

/// The default of [`Bot::with_chat_queue`].
pub const DEFAULT_CHAT_QUEUE: usize = 1_000;

type EventHandler = Arc<dyn Fn(Client, Event) -> BoxFuture<Outcome> + Send + Sync>;
type MessageHandler = Arc<dyn Fn(Context) -> BoxFuture<Outcome> + Send + Sync>;
type InviteHandler = Arc<dyn Fn(InviteContext) -> BoxFuture<Outcome> + Send + Sync>;
type BeforeHook = Arc<dyn Fn(&Context) + Send + Sync>;
type AfterHook = Arc<dyn Fn(&Context, &Result<(), CommandError>, Duration) + Send + Sync>;
type ErrorHook = Arc<dyn Fn(Context, CommandError) -> BoxFuture<()> + Send + Sync>;

/// A bot: a client plus commands, handlers and hooks. Build it, then [`run`](Bot::run) it.
pub struct Bot {
    client: Client,
    commands: Vec<Command>,
    checks: Vec<Arc<dyn Check>>,
    message_handlers: Vec<MessageHandler>,
    join_handlers: Vec<MessageHandler>,
    invite_handlers: Vec<InviteHandler>,
    event_handlers: Vec<EventHandler>,
    before: Vec<BeforeHook>,
    after: Vec<AfterHook>,
    on_error: ErrorHook,
    prefixes: Vec<String>,
    mentions: bool,
    help: bool,
    own_messages: bool,
    replay_backlog: bool,
    store: Option<Arc<dyn PositionStore>>,
    shutdown_timeout: Duration,
    chat_queue: usize,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("user", &self.client.username())
            .field("commands", &self.commands)
            .finish_non_exhaustive()
    }
}

impl Bot {
    /// A bot acting as `client`'s user, with the defaults: prefixes `!` and `/`, a generated
    /// `!help`, no mentions, no backlog, no persistence, the default error hook.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// use hellocode_sdk::bot::{Bot, Command, Context};
    ///
    /// Bot::new(client).command(Command::new("ping", |_: Context| async { "pong" })).run().await
    /// # }
    /// ```
    pub fn new(client: Client) -> Self {
        Bot {
            client,
            commands: Vec::new(),
            checks: Vec::new(),
            message_handlers: Vec::new(),
            join_handlers: Vec::new(),
            invite_handlers: Vec::new(),
            event_handlers: Vec::new(),
            before: Vec::new(),
            after: Vec::new(),
            on_error: Arc::new(|ctx, error| Box::pin(report_error(ctx, error))),
            prefixes: vec!["!".to_owned(), "/".to_owned()],
            mentions: false,
            help: true,
            own_messages: false,
            replay_backlog: false,
            store: None,
            shutdown_timeout: Duration::from_secs(10),
            chat_queue: DEFAULT_CHAT_QUEUE,
        }
    }

    /// Connect a client with the default configuration and make it a bot.
    ///
    /// ```no_run
    /// # async fn run() -> hellocode_sdk::Result<()> {
    /// use hellocode_sdk::bot::Bot;
    /// use hellocode_sdk::{Credentials, WebSocketTransport};
    ///
    /// let transport = WebSocketTransport::new("ws://127.0.0.1:8080")?;
    /// let bot = Bot::connect(transport, Credentials::token("<bot token>")).await?;
    /// # drop(bot); Ok(()) }
    /// ```
    pub async fn connect(transport: impl Transport, credentials: Credentials) -> Result<Bot> {
        Client::connect_with(transport, credentials, ClientConfig::default()).await.map(Bot::new)
    }

    /// Add a command (see [`Command`] for aliases, descriptions, checks and cooldowns). A
    /// later command with the same name or alias replaces the earlier one's routing.
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// use hellocode_sdk::bot::{Command, Context};
    ///
    /// async fn add(_ctx: Context, a: i64, b: i64) -> String {
    ///     (a + b).to_string()
    /// }
    /// bot.command(Command::new("add", add).description("Add two integers").arg_names(["a", "b"]))
    /// # }
    /// ```
    pub fn command(mut self, command: Command) -> Self {
        self.commands.push(command);
        self
    }

    /// A check every command must pass (before its own checks).
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// use hellocode_sdk::bot::checks;
    ///
    /// bot.check(checks::only_users(["alice", "bob"]))
    /// # }
    /// ```
    pub fn check(mut self, check: impl Check) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    /// Call `handler` with every message that is not one of the bot's commands (the bot's
    /// own messages only with [`see_own_messages`](Bot::see_own_messages)), in each chat's
    /// order. It returns like a command handler: a text it returns is sent as a reply.
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// use hellocode_sdk::bot::Context;
    ///
    /// bot.on_message(|ctx: Context| async move {
    ///     ctx.text().to_lowercase().contains("hello").then(|| format!("hello, {}!", ctx.author()))
    /// })
    /// # }
    /// ```
    pub fn on_message<F, Fut, R>(mut self, handler: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoReply,
    {
        let handler = Arc::new(handler);
        self.message_handlers.push(Arc::new(move |ctx| {
            let running = handler(ctx);
            Box::pin(async move { running.await.into_reply() })
        }));
        self
    }

    /// Call `handler` when a member joins a chat the bot is in (the chat's `join` event: added
    /// by an owner or admin, or by the group's creator). The handler's [`Context`] is that
    /// event: [`member`](Context::member) is who joined, [`author`](Context::author) who added
    /// them, [`chat_id`](Context::chat_id) and [`chat`](Context::chat) the chat; a text it
    /// returns (or [`Context::reply`]) is posted in the chat, once even if the bot is restarted
    /// and handles the join again.
    ///
    /// Joins are handled one after another in the order they happened, live or resumed after a
    /// reconnect; not those that happened before the bot was in the chat (whatever
    /// [`replay_backlog`](Bot::replay_backlog) says), nor the bot's own joining (that is an
    /// [`Event::ChatCreated`], for [`on_event`](Bot::on_event)), nor
    /// those made while the bot was not running.
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// use hellocode_sdk::bot::Context;
    ///
    /// bot.on_join(|ctx: Context| async move {
    ///     format!("Welcome, {}! {} added you. Try !help.", ctx.member().unwrap_or("you"), ctx.author())
    /// })
    /// # }
    /// ```
    pub fn on_join<F, Fut, R>(mut self, handler: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoReply,
    {
        let handler = Arc::new(handler);
        self.join_handlers.push(Arc::new(move |ctx| {
            let running = handler(ctx);
            Box::pin(async move { running.await.into_reply() })
        }));
        self
    }

    /// Call `handler` when the bot is invited to a group, with an [`InviteContext`] to accept
    /// or decline the invitation: [`accept`](InviteContext::accept) joins the group (the bot
    /// answers commands there from then on), [`decline`](InviteContext::decline) tells no one.
    /// A handler that does neither leaves the invitation pending. A text it returns is posted
    /// in the chat once it accepted (once, even if the handler runs again), and ignored
    /// otherwise; an error it returns is logged.
    ///
    /// Invitations are handled one after another: each one made while the bot runs, as it
    /// comes, and those already pending when the bot starts or reconnects (made while it was
    /// down or away), once per run. Withdrawn invitations do not come here (they are an
    /// [`Event::Invitation`] in state `cancelled`, for
    /// [`on_event`](Bot::on_event)).
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// use hellocode_sdk::bot::InviteContext;
    ///
    /// bot.on_invite(|ctx: InviteContext| async move {
    ///     if ctx.inviter() == "alice" {
    ///         ctx.accept().await?;
    ///         Ok(Some("Hello! Try !help."))
    ///     } else {
    ///         ctx.decline().await.map(|()| None)
    ///     }
    /// })
    /// # }
    /// ```
    pub fn on_invite<F, Fut, R>(mut self, handler: F) -> Self
    where
        F: Fn(InviteContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoReply,
    {
        let handler = Arc::new(handler);
        self.invite_handlers.push(Arc::new(move |ctx| {
            let running = handler(ctx);
            Box::pin(async move { running.await.into_reply() })
        }));
        self
    }

    /// Call `handler` with every event, in order: messages (not the bot's own, unless
    /// [`see_own_messages`](Bot::see_own_messages); no backlog), chat events (edits,
    /// deletions, members joining and leaving, renames, ...), changed and deleted chats,
    /// invitations, typing, receipts, presence, new chats, send updates and connection
    /// changes. A returned error is logged; a returned text is ignored (there is no message to
    /// reply to).
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// use hellocode_sdk::{Client, Event};
    ///
    /// bot.on_event(|client: Client, event: Event| async move {
    ///     if let Event::ChatCreated(chat) = event {
    ///         client.send(chat.id, "Hello! Try !help.").await?;
    ///     }
    ///     Ok::<(), hellocode_sdk::Error>(())
    /// })
    /// # }
    /// ```
    pub fn on_event<F, Fut, R>(mut self, handler: F) -> Self
    where
        F: Fn(Client, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoReply,
    {
        let handler = Arc::new(handler);
        self.event_handlers.push(Arc::new(move |client, event| {
            let running = handler(client, event);
            Box::pin(async move { running.await.into_reply() })
        }));
        self
    }

    /// Call `hook` before every command runs (after it was recognised), for logging or
    /// metrics.
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// bot.before(|ctx| println!("{} asked {:?}", ctx.author(), ctx.text()))
    /// # }
    /// ```
    pub fn before(mut self, hook: impl Fn(&Context) + Send + Sync + 'static) -> Self {
        self.before.push(Arc::new(hook));
        self
    }

    /// Call `hook` after every command with its outcome and how long it took (errors go to the
    /// error hook afterwards).
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// bot.after(|ctx, outcome, took| {
    ///     println!("!{} took {took:?}, ok: {}", ctx.command().unwrap_or("?"), outcome.is_ok())
    /// })
    /// # }
    /// ```
    pub fn after(
        mut self,
        hook: impl Fn(&Context, &Result<(), CommandError>, Duration) + Send + Sync + 'static,
    ) -> Self {
        self.after.push(Arc::new(hook));
        self
    }

    /// Replace the error hook, which gets every usage error, refusal, cooldown and failure.
    /// The default is [`report_error`]; a custom hook may call it for the cases it does not
    /// handle itself.
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// use hellocode_sdk::bot::{CommandError, report_error};
    ///
    /// bot.on_error(|ctx, error| async move {
    ///     match error {
    ///         CommandError::Failed(failure) => {
    ///             let _ = ctx.reply(format!("That went wrong: {failure}")).await;
    ///         }
    ///         other => report_error(ctx, other).await,
    ///     }
    /// })
    /// # }
    /// ```
    pub fn on_error<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Context, CommandError) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_error = Arc::new(move |ctx, error| Box::pin(hook(ctx, error)));
        self
    }

    /// The prefixes that start a command (default `!` and `/`). Usage lines and `!help` show
    /// the first.
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// bot.prefixes(["?"])
    /// # }
    /// ```
    pub fn prefixes<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.prefixes = prefixes.into_iter().map(Into::into).filter(|p| !p.is_empty()).collect();
        self
    }

    /// Also take `@botname command args` (and `@botname: !command args`) as a command.
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// bot.mentions(true)
    /// # }
    /// ```
    pub fn mentions(mut self, enabled: bool) -> Self {
        self.mentions = enabled;
        self
    }

    /// Do not answer `!help` by itself (a `help` command of your own replaces it anyway).
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// bot.without_help()
    /// # }
    /// ```
    pub fn without_help(mut self) -> Self {
        self.help = false;
        self
    }

    /// Give message and event handlers the bot's own messages too (commands never run from
    /// them).
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// bot.see_own_messages(true)
    /// # }
    /// ```
    pub fn see_own_messages(mut self, enabled: bool) -> Self {
        self.own_messages = enabled;
        self
    }

    /// Handle the messages a chat already had when the bot joined it (off by default: a bot
    /// added to a chat does not answer old commands).
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// bot.replay_backlog(true)
    /// # }
    /// ```
    pub fn replay_backlog(mut self, enabled: bool) -> Self {
        self.replay_backlog = enabled;
        self
    }

    /// Save how far each chat was handled in `store`, and on start handle what came while the
    /// bot was down: a restarted bot neither answers a command twice nor misses one. Positions
    /// are saved after every command, every second while messages come, and at shutdown.
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// use hellocode_sdk::bot::FileStore;
    ///
    /// bot.persist(FileStore::new("echo-bot.positions.json"))
    /// # }
    /// ```
    pub fn persist(mut self, store: impl PositionStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// How long handlers already running may take to finish at shutdown (default 10 s); the
    /// ones still running then are cancelled.
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// bot.with_shutdown_timeout(std::time::Duration::from_secs(30))
    /// # }
    /// ```
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Most messages waiting per chat for its worker (default 1,000; at least 1). A chat whose
    /// handlers fall further behind is not queued further: once its worker catches up it fetches
    /// the messages it skipped from the server (`fetch_messages`), so none is lost and the
    /// bot's memory stays bounded however busy a chat is.
    ///
    /// ```no_run
    /// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
    /// bot.with_chat_queue(100)
    /// # }
    /// ```
    pub fn with_chat_queue(mut self, capacity: usize) -> Self {
        self.chat_queue = capacity.max(1);
        self
    }

    /// The bot's client.
    ///
    /// ```no_run
    /// # fn show(bot: &hellocode_sdk::bot::Bot) {
    /// println!("running as {}", bot.client().username());
    /// # }
    /// ```
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Run until the client is closed. Fails only if the position store cannot be read at
    /// start or the client is already closed.
    ///
    /// ```no_run
    /// # async fn run(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::Result<()> {
    /// let client = bot.client().clone();
    /// let running = tokio::spawn(bot.run());
    /// // ... later, from anywhere:
    /// client.close().await;
    /// running.await.expect("no panic")?;
    /// # Ok(()) }
    /// ```
    pub async fn run(self) -> Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Run until Ctrl-C (or SIGTERM on Unix), then stop gracefully as
    /// [`run_until`](Bot::run_until) does.
    ///
    /// ```no_run
    /// # async fn run(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::Result<()> {
    /// bot.run_until_signal().await
    /// # }
    /// ```
    pub async fn run_until_signal(self) -> Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Run until `shutdown` resolves (or the client is closed), then stop gracefully: no new
    /// handler starts, handlers already running get the shutdown timeout to finish, their
    /// replies are flushed (within the client's `close_timeout`), positions are saved, and the
    /// client is closed.
    ///
    /// ```no_run
    /// # async fn run(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::Result<()> {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let running = tokio::spawn(bot.run_until(async move {
    ///     let _ = stopped.await;
    /// }));
    /// // ... when it is time:
    /// let _ = stop.send(());
    /// running.await.expect("no panic")?;
    /// # Ok(()) }
    /// ```
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        run::run(self, shutdown).await
    }
}

/// Ctrl-C, or SIGTERM on Unix (what service managers send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
