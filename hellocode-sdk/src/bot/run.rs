//! The running bot: one loop reading events, one worker per chat, positions kept and saved.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use hellocode_core::model::{Chat, ChatId, EventKind, Invitation, InvitationState, Message, Seq};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::command::{Check, Command, CommandError};
use super::handler::Outcome;
use super::parse::{ParsedCommand, parse_mention, parse_with_prefixes};
use super::{
    AfterHook, BeforeHook, Bot, Context, ErrorHook, EventHandler, InviteContext, InviteHandler,
    MessageHandler, PositionStore, help,
};
use crate::{Client, ConnectionState, Event, Result};

/// How often positions are saved while plain messages come (commands save at once).
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// The page size of the catch-up after a restart (the server's largest).
const CATCH_UP_PAGE: u32 = 100;

/// What the per-chat workers share.
struct Router {
    client: Client,
    username: String,
    commands: Vec<Command>,
    lookup: HashMap<String, usize>,
    checks: Vec<Arc<dyn Check>>,
    message_handlers: Vec<MessageHandler>,
    before: Vec<BeforeHook>,
    after: Vec<AfterHook>,
    on_error: ErrorHook,
    prefixes: Vec<String>,
    mentions: bool,
    help: bool,
    own_messages: bool,
    chats: Mutex<HashMap<ChatId, Chat>>,
    positions: Positions,
    /// Set at shutdown: queued messages are left for the next run.
    stopping: AtomicBool,
}

pub(super) async fn run(bot: Bot, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
    let client = bot.client.clone();
    // Subscribe first: every event from connect on is in this stream.
    let mut events = client.events();
    let start = client.positions().await?;
    let chats = match client.list_chats().await {
        Ok(chats) => chats.into_iter().map(|chat| (chat.id, chat)).collect(),
        Err(error) => {
            tracing::warn!(%error, "bot could not list its chats; direct-chat checks may refuse");
            HashMap::new()
        }
    };
    let saved = match &bot.store {
        Some(store) => Some(store.load().await?),
        None => None,
    };
    let mut lookup = HashMap::new();
    for (index, command) in bot.commands.iter().enumerate() {
        for name in std::iter::once(&command.name).chain(&command.aliases) {
            lookup.insert(name.clone(), index);
        }
    }
    let mut handled = start.clone();
    if let Some(saved) = &saved {
        handled.extend(saved.iter().filter(|(chat, _)| start.contains_key(chat)));
    }
    let router = Arc::new(Router {
        username: client.username().to_owned(),
        client: client.clone(),
        commands: bot.commands,
        lookup,
        checks: bot.checks,
        message_handlers: bot.message_handlers,
        before: bot.before,
        after: bot.after,
        on_error: bot.on_error,
        prefixes: bot.prefixes,
        mentions: bot.mentions,
        help: bot.help,
        own_messages: bot.own_messages,
        chats: Mutex::new(chats),
        positions: Positions::new(bot.store, handled),
        stopping: AtomicBool::new(false),
    });
    router.positions.save().await;

    let mut workers = JoinSet::new();
    let mut chat_workers: HashMap<ChatId, Lane> = HashMap::new();
    let capacity = bot.chat_queue.max(1);
    let mut dispatch = |message: Message, workers: &mut JoinSet<()>| {
        let lane = chat_workers.entry(message.chat_id).or_insert_with(|| {
            let (sender, jobs) = mpsc::channel(capacity);
            let skipped = Arc::new(Mutex::new(None));
            workers.spawn(run_chat(router.clone(), message.chat_id, jobs, skipped.clone()));
            Lane { sender, skipped }
        });
        lane.push(message);
    };
    // Newest sequence number taken per chat: later copies (and the backlog) are skipped.
    let mut taken: HashMap<ChatId, Seq> = HashMap::new();
    if let Some(saved) = saved {
        for (chat, since) in saved {
            let Some(&until) = start.get(&chat) else { continue };
            for message in catch_up(&client, chat, since, until).await {
                dispatch(message, &mut workers);
            }
            taken.insert(chat, until);
        }
    }

    let (event_sender, event_jobs) = mpsc::unbounded_channel::<Event>();
    workers.spawn(run_event_handlers(client.clone(), bot.event_handlers, event_jobs));
    let (join_sender, join_jobs) = mpsc::unbounded_channel::<Message>();
    if !bot.join_handlers.is_empty() {
        workers.spawn(run_join_handlers(router.clone(), bot.join_handlers, join_jobs));
    }
    let (invite_sender, invite_jobs) = mpsc::unbounded_channel::<InviteJob>();
    if !bot.invite_handlers.is_empty() {
        workers.spawn(run_invite_handlers(router.clone(), bot.invite_handlers, invite_jobs));
        // Invitations made while the bot was down.
        let _ = invite_sender.send(InviteJob::Sweep);
    }
    // The connection was lost since the last sweep: invitations made meanwhile came as no
    // event, so the pending ones are listed again once it is back.
    let mut away = false;
    // Per chat, the last item it had when the bot joined: joins up to there are history.
    let mut joined_at: HashMap<ChatId, Seq> = HashMap::new();
    let mut save_timer = tokio::time::interval(SAVE_EVERY);
    tokio::pin!(shutdown);
    loop {
        let event = tokio::select! {
            () = &mut shutdown => break,
            _ = save_timer.tick() => {
                router.positions.save_if_changed().await;
                continue;
            }
            event = events.recv() => match event {
                Some(event) => event,
                None => break,
            },
        };
        match &event {
            Event::Message(message) => {
                let seen = taken.entry(message.chat_id).or_insert(Seq(0));
                if message.seq <= *seen {
                    continue; // handled by the catch-up, or before the bot joined
                }
                *seen = message.seq;
                let own = message.author == router.username;
                if !own || router.own_messages {
                    let _ = event_sender.send(event.clone());
                }
                dispatch(message.clone(), &mut workers);
                continue;
            }
            Event::ChatCreated(chat) => {
                lock(&router.chats).insert(chat.id, chat.clone());
                let before = joined_at.entry(chat.id).or_insert(Seq(0));
                *before = (*before).max(chat.last_seq);
                if !bot.replay_backlog {
                    // What the chat had when the bot joined is history, not commands to it.
                    let seen = taken.entry(chat.id).or_insert(Seq(0));
                    *seen = (*seen).max(chat.last_seq);
                    router.positions.advance(chat.id, chat.last_seq);
                }
            }
            Event::ChatEvent(item) => {
                let gone = matches!(item.kind, EventKind::Leave | EventKind::Remove)
                    && item.member.as_deref() == Some(router.username.as_str());
                if gone {
                    lock(&router.chats).remove(&item.chat_id);
                }
                let history = joined_at.get(&item.chat_id).is_some_and(|seq| item.seq <= *seq);
                let someone_else = item.member.as_deref() != Some(router.username.as_str());
                if item.kind == EventKind::Join && !history && someone_else {
                    let _ = join_sender.send(item.clone());
                }
            }
            Event::ChatChanged(chat) => {
                let mut chats = lock(&router.chats);
                if chat.has_participant(&router.username) {
                    chats.insert(chat.id, chat.clone());
                } else {
                    chats.remove(&chat.id);
                }
            }
            Event::ChatDeleted { chat_id, .. } => {
                lock(&router.chats).remove(chat_id);
            }
            Event::Invitation(invitation) if invitation.state == InvitationState::Pending => {
                let _ = invite_sender.send(InviteJob::Offered(invitation.clone()));
            }
            Event::Connection(ConnectionState::Reconnecting { .. }) => away = true,
            Event::Connection(ConnectionState::Connected { .. }) if away => {
                away = false;
                let _ = invite_sender.send(InviteJob::Sweep);
            }
            _ => {}
        }
        let _ = event_sender.send(event);
    }

    tracing::info!(bot = %router.username, "bot stopping");
    router.stopping.store(true, Ordering::SeqCst);
    drop(chat_workers);
    drop(event_sender);
    drop(join_sender);
    drop(invite_sender);
    let finished = tokio::time::timeout(bot.shutdown_timeout, async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(bot = %router.username, "handlers still running at shutdown; cancelled");
        workers.shutdown().await;
    }
    client.close().await;
    router.positions.save().await;
    Ok(())
}

/// The messages of `chat` after `since` up to `until`, oldest first (what came while the bot
/// was down).
async fn catch_up(client: &Client, chat: ChatId, since: Seq, until: Seq) -> Vec<Message> {
    let mut missed = Vec::new();
    let mut before = Seq(until.0.saturating_add(1));
    while before.0 > since.0 + 1 {
        let page = match client.fetch_messages(chat, Some(before), Some(CATCH_UP_PAGE)).await {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(%chat, %error, "bot could not catch up on a chat");
                break;
            }
        };
        let Some(oldest) = page.last().map(|message| message.seq) else { break };
        missed.extend(page.into_iter().filter(|message| message.seq > since));
        before = oldest;
    }
    missed.reverse();
    missed
}

/// The dispatcher's end of one chat's worker: a bounded queue, and the newest message not
/// queued because the queue was full (shared with the worker, which fetches what was skipped).
struct Lane {
    sender: mpsc::Sender<Message>,
    skipped: Arc<Mutex<Option<Seq>>>,
}

impl Lane {
    fn push(&self, message: Message) {
        let mut skipped = lock(&self.skipped);
        if skipped.is_some() {
            // Behind already: queueing this one would overtake the skipped ones.
            *skipped = Some(message.seq);
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(message)) = self.sender.try_send(message) {
            tracing::debug!(chat = %message.chat_id, seq = %message.seq, "bot chat queue full; the worker will fetch from here");
            *skipped = Some(message.seq);
        }
    }
}

async fn run_chat(
    router: Arc<Router>,
    chat: ChatId,
    mut jobs: mpsc::Receiver<Message>,
    skipped: Arc<Mutex<Option<Seq>>>,
) {
    while let Some(message) = jobs.recv().await {
        if router.stopping.load(Ordering::SeqCst) {
            break;
        }
        let handled = message.seq;
        router.work(message).await;
        if jobs.is_empty() {
            // Once the queue is drained, what did not fit in it is fetched.
            catch_up_skipped(&router, chat, handled, &skipped).await;
        }
    }
}

/// Fetch and handle, a page at a time, the messages of `chat` after `handled` that were not
/// queued, until none is left.
async fn catch_up_skipped(
    router: &Router,
    chat: ChatId,
    mut handled: Seq,
    skipped: &Mutex<Option<Seq>>,
) {
    loop {
        let until = {
            let mut newest = lock(skipped);
            match *newest {
                Some(until) if until > handled => until,
                _ => {
                    // Caught up: the dispatcher queues again (under the same lock, so nothing
                    // falls between).
                    *newest = None;
                    return;
                }
            }
        };
        if router.stopping.load(Ordering::SeqCst) {
            return;
        }
        // Sequence numbers are gap-free: `(handled, end]` holds at most PAGE items, posts and
        // events, so the page of posts before `end + 1` has every post of it.
        let end = Seq(handled.0.saturating_add(i64::from(CATCH_UP_PAGE)).min(until.0));
        let before = Some(Seq(end.0.saturating_add(1)));
        let page = match router.client.fetch_messages(chat, before, Some(CATCH_UP_PAGE)).await {
            Ok(page) => page,
            Err(error) => {
                log_failure(&format!("bot could not fetch the messages it skipped: {error}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let from = handled;
        for message in page.into_iter().rev().filter(|m| m.seq > from && m.seq <= end) {
            handled = message.seq;
            router.work(message).await;
        }
        handled = handled.max(end);
    }
}

impl Router {
    /// Handle one message of a chat's worker and record it as handled. A panic anywhere in it
    /// (handlers, hooks, checks, the error hook) is reported and the worker goes on.
    async fn work(&self, message: Message) {
        let (chat, seq) = (message.chat_id, message.seq);
        let was_command = match AssertUnwindSafe(self.handle(message)).catch_unwind().await {
            Ok(was_command) => was_command,
            Err(panic) => {
                log_failure(&format!(
                    "bot: handling message {seq} of chat {chat} {}",
                    panic_message(&panic)
                ));
                false
            }
        };
        self.positions.advance(chat, seq);
        if was_command {
            self.positions.save().await;
        }
    }
}

impl Router {
    /// Handle one message; whether it was one of the bot's commands.
    async fn handle(&self, message: Message) -> bool {
        let own = message.author == self.username;
        if message.deleted || (own && !self.own_messages) {
            return false;
        }
        let invocation = if own { None } else { self.parse(&message.content) };
        let chat = lock(&self.chats).get(&message.chat_id).cloned();
        if let Some(parsed) = invocation {
            if let Some(&index) = self.lookup.get(&parsed.name) {
                let command = &self.commands[index];
                let mut ctx =
                    Context::new(self.client.clone(), message, chat, Some(command.name.clone()));
                ctx.prefix = self.prefix().to_owned();
                self.run_command(command, ctx, &parsed.args).await;
                return true;
            }
            if self.help && parsed.name == "help" {
                let ctx = Context::new(self.client.clone(), message, chat, Some("help".into()));
                self.answer_help(ctx, &parsed.args).await;
                return true;
            }
        }
        for handler in &self.message_handlers {
            let ctx = Context::new(self.client.clone(), message.clone(), chat.clone(), None);
            let outcome = guarded(handler(ctx.clone())).await;
            if let Err(error) = self.send_reply(&ctx, outcome).await {
                log_failure(&format!("bot message handler failed: {error}"));
            }
        }
        false
    }

    fn parse(&self, text: &str) -> Option<ParsedCommand> {
        parse_with_prefixes(text, &self.prefixes).or_else(|| {
            if self.mentions { parse_mention(text, &self.username, &self.prefixes) } else { None }
        })
    }

    fn prefix(&self) -> &str {
        self.prefixes.first().map_or("!", String::as_str)
    }

    async fn run_command(&self, command: &Command, ctx: Context, args: &str) {
        for hook in &self.before {
            hook(&ctx);
        }
        let started = Instant::now();
        let invoked =
            AssertUnwindSafe(command.invoke(ctx.clone(), args, &self.checks, self.prefix()))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Err(CommandError::Failed(panic_message(&panic).into())));
        let result = match invoked {
            Ok(reply) => self.send_reply(&ctx, Ok(reply)).await,
            Err(error) => Err(error),
        };
        let took = started.elapsed();
        for hook in &self.after {
            hook(&ctx, &result, took);
        }
        if let Err(error) = result {
            (self.on_error)(ctx, error).await;
        }
    }

    async fn send_reply(&self, ctx: &Context, outcome: Outcome) -> Result<(), CommandError> {
        match outcome {
            Ok(Some(text)) => ctx.reply(text).await.map(drop).map_err(CommandError::Reply),
            Ok(None) => Ok(()),
            Err(error) => Err(CommandError::Failed(error)),
        }
    }

    async fn answer_help(&self, ctx: Context, args: &str) {
        let prefix = self.prefix();
        let asked = args.split_whitespace().next().map(|name| {
            let name = name.trim_start_matches(|c| self.prefixes.iter().any(|p| p.starts_with(c)));
            name.to_lowercase()
        });
        let text = match asked {
            None => help::overview(&self.commands, prefix),
            Some(name) => {
                let command = self.lookup.get(&name).map(|&index| &self.commands[index]);
                help::about(command, &name, prefix)
            }
        };
        if let Err(error) = ctx.reply(text).await {
            log_failure(&format!("bot could not answer !help: {error}"));
        }
    }
}

async fn run_event_handlers(
    client: Client,
    handlers: Vec<EventHandler>,
    mut events: mpsc::UnboundedReceiver<Event>,
) {
    while let Some(event) = events.recv().await {
        for handler in &handlers {
            if let Err(error) = guarded(handler(client.clone(), event.clone())).await {
                log_failure(&format!("bot event handler failed: {error}"));
            }
        }
    }
}

/// Call the join handlers with each join, in order; a text one returns is posted in the chat.
async fn run_join_handlers(
    router: Arc<Router>,
    handlers: Vec<MessageHandler>,
    mut joins: mpsc::UnboundedReceiver<Message>,
) {
    while let Some(join) = joins.recv().await {
        if router.stopping.load(Ordering::SeqCst) {
            break;
        }
        let chat = lock(&router.chats).get(&join.chat_id).cloned();
        for handler in &handlers {
            let ctx = Context::new(router.client.clone(), join.clone(), chat.clone(), None);
            let outcome = guarded(handler(ctx.clone())).await;
            if let Err(error) = router.send_reply(&ctx, outcome).await {
                log_failure(&format!("bot join handler failed: {error}"));
            }
        }
    }
}

/// What the invitation worker is asked to do.
enum InviteJob {
    /// An invitation that came as an event.
    Offered(Invitation),
    /// List the pending invitations (at start, and after a reconnection).
    Sweep,
}

/// Call the invite handlers with each pending invitation, once per run, in order; a text one
/// returns is posted in the chat if the handler accepted the invitation.
async fn run_invite_handlers(
    router: Arc<Router>,
    handlers: Vec<InviteHandler>,
    mut jobs: mpsc::UnboundedReceiver<InviteJob>,
) {
    // Every invitation handed to the handlers in this run (an invitation comes as an event and
    // in a sweep alike).
    let mut offered = HashSet::new();
    while let Some(job) = jobs.recv().await {
        if router.stopping.load(Ordering::SeqCst) {
            break;
        }
        let invitations = match job {
            InviteJob::Offered(invitation) => vec![invitation],
            InviteJob::Sweep => match router.client.invitations().await {
                Ok(pending) => pending,
                Err(error) => {
                    log_failure(&format!("bot could not list its invitations: {error}"));
                    continue;
                }
            },
        };
        for invitation in invitations {
            if invitation.state != InvitationState::Pending || !offered.insert(invitation.id) {
                continue;
            }
            for handler in &handlers {
                let ctx = InviteContext::new(router.client.clone(), invitation.clone());
                match guarded(handler(ctx.clone())).await {
                    Ok(Some(text)) => greet(&ctx, text).await,
                    Ok(None) => {}
                    Err(error) => log_failure(&format!(
                        "bot invite handler failed for invitation {} to chat {}: {error}",
                        invitation.id, invitation.chat_id
                    )),
                }
            }
        }
    }
}

/// Post an invite handler's text in the chat it accepted (once: the key is the invitation's).
async fn greet(ctx: &InviteContext, text: String) {
    let Some(chat) = ctx.joined() else {
        tracing::debug!(
            invitation = ctx.invitation().id,
            "an invite handler returned a text without accepting; not posted"
        );
        return;
    };
    let key = format!("bot-invite:{}", ctx.invitation().id);
    if let Err(error) = ctx.client().send_with_client_id(chat.id, text, key).await {
        log_failure(&format!("bot could not greet chat {}: {error}", chat.id));
    }
}

/// Run a handler's future, turning a panic into an error.
async fn guarded(running: impl Future<Output = Outcome>) -> Outcome {
    AssertUnwindSafe(running)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(panic_message(&panic).into()))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned());
    format!("panicked: {text}")
}

/// The default error hook: answer the user in one short line ([`error_reply`]), and log
/// failures.
///
/// Failures (a handler's error, a reply that could not be sent) are logged with `tracing` at
/// error level, and printed to stderr when no `tracing` subscriber is installed, so they are
/// never silent.
///
/// ```no_run
/// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
/// use hellocode_sdk::bot::report_error;
///
/// bot.on_error(|ctx, error| async move {
///     println!("{} hit {error}", ctx.author());
///     report_error(ctx, error).await
/// })
/// # }
/// ```
pub async fn report_error(ctx: Context, error: CommandError) {
    let name = format!("{}{}", ctx.prefix, ctx.command().unwrap_or("command"));
    match &error {
        CommandError::Failed(failure) => {
            log_failure(&format!("bot command {name} failed for {}: {failure}", ctx.author()))
        }
        CommandError::Reply(failure) => {
            log_failure(&format!("bot command {name}: the reply could not be sent: {failure}"))
        }
        _ => {}
    }
    if let Some(reply) = error_reply(&ctx, &error)
        && let Err(failure) = ctx.reply(reply).await
    {
        log_failure(&format!("bot could not report an error of {name}: {failure}"));
    }
}

/// The short line the default error hook answers the user with, if any:
///
/// - a usage error: what did not fit, and the usage line;
/// - a refused check: the check's reason;
/// - a cooldown: how long to wait;
/// - a failed handler: "Sorry, !name failed." (the details go to the log, not to the chat);
/// - a reply that could not be sent: nothing.
///
/// ```no_run
/// # fn build(bot: hellocode_sdk::bot::Bot) -> hellocode_sdk::bot::Bot {
/// use hellocode_sdk::bot::error_reply;
///
/// bot.on_error(|ctx, error| async move {
///     if let Some(text) = error_reply(&ctx, &error) {
///         let _ = ctx.reply(format!("🤖 {text}")).await;
///     }
/// })
/// # }
/// ```
pub fn error_reply(ctx: &Context, error: &CommandError) -> Option<String> {
    let name = format!("{}{}", ctx.prefix, ctx.command().unwrap_or("command"));
    Some(match error {
        CommandError::Usage { usage, error } => format!("{}. Usage: {usage}", capitalize(error)),
        CommandError::Refused(reason) => reason.clone(),
        CommandError::Cooldown { remaining } => {
            let seconds = remaining.as_secs_f64().ceil().max(1.0);
            format!("Slow down: you can use {name} again in {seconds} s.")
        }
        CommandError::Failed(_) => format!("Sorry, {name} failed."),
        CommandError::Reply(_) => return None,
    })
}

fn capitalize(text: &impl std::fmt::Display) -> String {
    let text = text.to_string();
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Log at error level; print to stderr when nobody installed a `tracing` subscriber.
fn log_failure(text: &str) {
    if tracing::dispatcher::has_been_set() {
        tracing::error!("{text}");
    } else {
        eprintln!("hellocode bot: {text}");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How far each chat was handled, and the store it is saved to.
struct Positions {
    store: Option<Arc<dyn PositionStore>>,
    handled: Mutex<(HashMap<ChatId, Seq>, bool)>,
    /// One save at a time, so an older snapshot never overwrites a newer one.
    saving: tokio::sync::Mutex<()>,
}

impl Positions {
    fn new(store: Option<Arc<dyn PositionStore>>, handled: HashMap<ChatId, Seq>) -> Self {
        Positions { store, handled: Mutex::new((handled, true)), saving: Default::default() }
    }

    fn advance(&self, chat: ChatId, seq: Seq) {
        let mut handled = lock(&self.handled);
        let position = handled.0.entry(chat).or_insert(Seq(0));
        if seq > *position {
            *position = seq;
            handled.1 = true;
        }
    }

    async fn save_if_changed(&self) {
        if lock(&self.handled).1 {
            self.save().await;
        }
    }

    async fn save(&self) {
        let Some(store) = &self.store else { return };
        let _turn = self.saving.lock().await;
        let snapshot = {
            let mut handled = lock(&self.handled);
            handled.1 = false;
            handled.0.clone()
        };
        if let Err(error) = store.save(&snapshot).await {
            lock(&self.handled).1 = true;
            log_failure(&format!("bot could not save its positions: {error}"));
        }
    }
}
