//! A small bot framework: route `!command args` (or `/command args`) messages to handlers,
//! react to any event, reply, and shut down gracefully.
//!
//! Handlers of one chat run one after another, in message order; different chats run
//! concurrently. Replies go through the client's send queue, so a server's `rate_limited`
//! answer pauses and retries them instead of losing them, and a reconnect loses nothing.
//! The bot ignores its own messages.
//!
//! ```no_run
//! # async fn run() -> hellocode_sdk::Result<()> {
//! use hellocode_sdk::bot::Bot;
//! use hellocode_sdk::{Client, Credentials, WebSocketTransport};
//!
//! let transport = WebSocketTransport::new("ws://127.0.0.1:8080")?;
//! let client = Client::connect(transport, Credentials::token("<bot token>")).await?;
//! Bot::new(client)
//!     .command("echo", |ctx, args| async move {
//!         ctx.reply(args).await?;
//!         Ok(())
//!     })
//!     .run_until(async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await;
//! # Ok(()) }
//! ```

mod command;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hellocode_core::model::{ChatId, Message};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use command::{ParsedCommand, parse_command};

use crate::{Client, Event, Result};

type BoxFuture = Pin<Box<dyn Future<Output = Result<()>> + Send>>;
type CommandHandler = Arc<dyn Fn(Context, String) -> BoxFuture + Send + Sync>;
type EventHandler = Arc<dyn Fn(Client, Event) -> BoxFuture + Send + Sync>;

/// What a command handler gets: the message that invoked it and a way to answer.
#[derive(Debug, Clone)]
pub struct Context {
    client: Client,
    message: Message,
    command: String,
}

impl Context {
    /// Send `text` to the chat the command came from; resolves once the server has stored it.
    pub async fn reply(&self, text: impl Into<String>) -> Result<Message> {
        self.client.send(self.message.chat_id, text).await
    }

    /// The message that invoked the command.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Its chat.
    pub fn chat_id(&self) -> ChatId {
        self.message.chat_id
    }

    /// Who sent it.
    pub fn author(&self) -> &str {
        &self.message.author
    }

    /// The command's name, without prefix, lowercase.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The bot's client, for anything beyond a reply.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// A bot: a client plus handlers. Build it with [`command`](Bot::command) and
/// [`on_event`](Bot::on_event), then [`run`](Bot::run) it.
pub struct Bot {
    client: Client,
    commands: BTreeMap<String, CommandHandler>,
    event_handlers: Vec<EventHandler>,
    help: bool,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("user", &self.client.username())
            .field("commands", &self.commands.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Bot {
    /// A bot acting as `client`'s user. It answers `!help` with its command list unless a
    /// `help` command is registered.
    pub fn new(client: Client) -> Self {
        Bot {
            client,
            commands: BTreeMap::new(),
            event_handlers: Vec::new(),
            help: true,
            shutdown_timeout: Duration::from_secs(10),
        }
    }

    /// Handle `!name args` and `/name args` (name matched case-insensitively); the handler
    /// gets the text after the name, trimmed.
    pub fn command<F, Fut>(mut self, name: &str, handler: F) -> Self
    where
        F: Fn(Context, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let handler: CommandHandler = Arc::new(move |ctx, args| Box::pin(handler(ctx, args)));
        self.commands.insert(name.to_lowercase(), handler);
        self
    }

    /// Call `handler` with every event (messages included, the bot's own excepted), in order.
    pub fn on_event<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Client, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.event_handlers.push(Arc::new(move |client, event| Box::pin(handler(client, event))));
        self
    }

    /// Do not answer `!help` by itself.
    pub fn without_help(mut self) -> Self {
        self.help = false;
        self
    }

    /// How long handlers already running may take to finish at shutdown (default 10 s); the
    /// ones still running then are cancelled.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The bot's client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Run until the client is closed.
    pub async fn run(self) {
        self.run_until(std::future::pending()).await;
    }

    /// Run until `shutdown` resolves (or the client is closed), then stop gracefully: no new
    /// handler starts, handlers already running get the shutdown timeout to finish, their
    /// replies are flushed (within the client's `close_timeout`), and the client is closed.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) {
        let mut events = self.client.events();
        let router = Arc::new(Router {
            commands: self.commands,
            help: self.help,
            username: self.client.username().to_owned(),
            stopping: AtomicBool::new(false),
        });
        let mut workers = JoinSet::new();
        let mut chats: HashMap<ChatId, mpsc::UnboundedSender<(Message, ParsedCommand)>> =
            HashMap::new();
        let (event_sender, event_jobs) = mpsc::unbounded_channel::<Event>();
        let handlers = self.event_handlers;
        let client = self.client.clone();
        workers.spawn(async move { run_event_handlers(client, handlers, event_jobs).await });
        tokio::pin!(shutdown);
        loop {
            let event = tokio::select! {
                () = &mut shutdown => break,
                event = events.recv() => match event {
                    Some(event) => event,
                    None => break,
                },
            };
            if let Event::Message(message) = &event
                && message.author != router.username
            {
                if let Some(parsed) = parse_command(&message.content) {
                    let worker = chats.entry(message.chat_id).or_insert_with(|| {
                        let (sender, jobs) = mpsc::unbounded_channel();
                        workers.spawn(run_chat(self.client.clone(), router.clone(), jobs));
                        sender
                    });
                    let _ = worker.send((message.clone(), parsed));
                }
                let _ = event_sender.send(event);
            } else if !matches!(&event, Event::Message(_)) {
                let _ = event_sender.send(event);
            }
        }
        tracing::info!(bot = %router.username, "bot stopping");
        router.stopping.store(true, Ordering::SeqCst);
        drop(chats);
        drop(event_sender);
        let finished = tokio::time::timeout(self.shutdown_timeout, async {
            while workers.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(bot = %router.username, "handlers still running at shutdown; cancelled");
            workers.shutdown().await;
        }
        self.client.close().await;
    }
}

/// Command lookup shared by the per-chat workers.
struct Router {
    commands: BTreeMap<String, CommandHandler>,
    help: bool,
    username: String,
    /// Set at shutdown: queued jobs are skipped.
    stopping: AtomicBool,
}

impl Router {
    async fn handle(&self, client: &Client, message: Message, parsed: ParsedCommand) {
        let (name, args) = (parsed.name, parsed.args);
        let handler = self.commands.get(&name).cloned();
        let outcome = match handler {
            Some(handler) => {
                let ctx = Context { client: client.clone(), message, command: name.clone() };
                handler(ctx, args).await
            }
            None if self.help && name == "help" => {
                let names: Vec<String> =
                    self.commands.keys().map(|name| format!("!{name}")).collect();
                let text = if names.is_empty() {
                    "I have no commands.".to_owned()
                } else {
                    format!("Commands: {}", names.join(", "))
                };
                client.send(message.chat_id, text).await.map(drop)
            }
            None => Ok(()), // not addressed to this bot
        };
        if let Err(error) = outcome {
            tracing::warn!(command = %name, %error, "bot command failed");
        }
    }
}

async fn run_chat(
    client: Client,
    router: Arc<Router>,
    mut jobs: mpsc::UnboundedReceiver<(Message, ParsedCommand)>,
) {
    while let Some((message, parsed)) = jobs.recv().await {
        if router.stopping.load(Ordering::SeqCst) {
            break;
        }
        router.handle(&client, message, parsed).await;
    }
}

async fn run_event_handlers(
    client: Client,
    handlers: Vec<EventHandler>,
    mut events: mpsc::UnboundedReceiver<Event>,
) {
    while let Some(event) = events.recv().await {
        for handler in &handlers {
            if let Err(error) = handler(client.clone(), event.clone()).await {
                tracing::warn!(%error, "bot event handler failed");
            }
        }
    }
}
