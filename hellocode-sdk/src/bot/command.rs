//! A command: its name, aliases, description, checks, cooldown and handler.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Context;
use super::args::{ArgError, ArgSpec};
use super::handler::{BoxFuture, Handler, HandlerError, Outcome};

type ErasedHandler =
    Arc<dyn Fn(Context, &str) -> Result<BoxFuture<Outcome>, ArgError> + Send + Sync>;

/// A condition a command's invocation must meet; `Err` carries the short refusal the user
/// is told. Implemented for closures `Fn(&Context) -> Result<(), String>`; the [`checks`]
/// module has the common ones.
///
/// ```
/// use hellocode_sdk::bot::{Command, Context};
///
/// let command = Command::new("secret", |_ctx: Context| async { "42" })
///     .check(|ctx: &Context| {
///         if ctx.author().starts_with("admin") { Ok(()) } else { Err("Admins only.".into()) }
///     });
/// # drop(command);
/// ```
pub trait Check: Send + Sync + 'static {
    /// `Ok` to let the command run, `Err(reason)` to refuse it.
    fn check(&self, ctx: &Context) -> Result<(), String>;
}

impl<F> Check for F
where
    F: Fn(&Context) -> Result<(), String> + Send + Sync + 'static,
{
    fn check(&self, ctx: &Context) -> Result<(), String> {
        self(ctx)
    }
}

/// Common checks.
pub mod checks {
    use super::{Check, Context};

    /// Only in a direct chat between the bot and one other person (not in a group, even one
    /// of two).
    ///
    /// ```
    /// use hellocode_sdk::bot::{Command, Context, checks};
    ///
    /// let command = Command::new("token", |_ctx: Context| async { "..." }).check(checks::direct_only());
    /// # drop(command);
    /// ```
    pub fn direct_only() -> impl Check {
        |ctx: &Context| {
            if ctx.is_direct() {
                Ok(())
            } else {
                Err(format!("Ask me that in a direct chat with {}.", ctx.bot_username()))
            }
        }
    }

    /// Only for these users.
    ///
    /// ```
    /// use hellocode_sdk::bot::{Command, Context, checks};
    ///
    /// let command = Command::new("stop", |_ctx: Context| async {}).check(checks::only_users(["alice"]));
    /// # drop(command);
    /// ```
    pub fn only_users<I, S>(users: I) -> impl Check
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let users: Vec<String> = users.into_iter().map(Into::into).collect();
        move |ctx: &Context| {
            if users.iter().any(|user| user == ctx.author()) {
                Ok(())
            } else {
                Err("You may not use this command.".to_owned())
            }
        }
    }
}

/// Why a command did not run, or failed: what an error hook (see
/// [`Bot::on_error`](super::Bot::on_error)) gets.
///
/// ```
/// use hellocode_sdk::bot::CommandError;
///
/// fn is_the_users_fault(error: &CommandError) -> bool {
///     matches!(error, CommandError::Usage { .. } | CommandError::Refused(_) | CommandError::Cooldown { .. })
/// }
/// assert!(is_the_users_fault(&CommandError::Refused("Admins only.".into())));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The text after the command does not fit its parameters.
    #[error("{error}; usage: {usage}")]
    Usage {
        /// The usage line, such as `!roll <sides: integer>`.
        usage: String,
        /// What did not fit.
        error: ArgError,
    },
    /// A check refused the invocation.
    #[error("refused: {0}")]
    Refused(String),
    /// The same user used the command too recently.
    #[error("on cooldown for another {remaining:?}")]
    Cooldown {
        /// How long until it may be used again.
        remaining: Duration,
    },
    /// The handler returned an error.
    #[error("the handler failed: {0}")]
    Failed(HandlerError),
    /// The handler's reply could not be sent.
    #[error("the reply could not be sent: {0}")]
    Reply(crate::Error),
}

/// A command of a [`Bot`](super::Bot): built from a name and a [`Handler`], then described.
///
/// ```
/// use std::time::Duration;
/// use hellocode_sdk::bot::{Command, Context, checks};
///
/// async fn roll(_ctx: Context, sides: u32) -> String {
///     format!("rolled {}", sides / 2 + 1) // a fair die, chosen by fair dice roll
/// }
///
/// let command = Command::new("roll", roll)
///     .alias("r")
///     .description("Roll a die")
///     .arg_names(["sides"])
///     .cooldown(Duration::from_secs(5))
///     .check(checks::direct_only());
/// assert_eq!(command.usage(), "!roll <sides: integer>");
/// ```
pub struct Command {
    pub(crate) name: String,
    pub(crate) aliases: Vec<String>,
    pub(crate) description: String,
    arg_names: Vec<String>,
    specs: Vec<ArgSpec>,
    pub(crate) checks: Vec<Arc<dyn Check>>,
    cooldown: Option<Cooldown>,
    handler: ErasedHandler,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("name", &self.name)
            .field("aliases", &self.aliases)
            .field("usage", &self.usage())
            .finish_non_exhaustive()
    }
}

impl Command {
    /// A command answering `!name`: `handler` takes a [`Context`] and its typed arguments.
    /// Names are matched case-insensitively.
    pub fn new<H, Args>(name: &str, handler: H) -> Command
    where
        H: Handler<Args>,
    {
        let specs = handler.specs();
        let handler: ErasedHandler = Arc::new(move |ctx, input| handler.call(ctx, input));
        Command {
            name: name.to_lowercase(),
            aliases: Vec::new(),
            description: String::new(),
            arg_names: Vec::new(),
            specs,
            checks: Vec::new(),
            cooldown: None,
            handler,
        }
    }

    /// Another name it answers to.
    pub fn alias(mut self, alias: &str) -> Self {
        self.aliases.push(alias.to_lowercase());
        self
    }

    /// One line for `!help`.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Names for the parameters in usage lines, in order: `!roll <sides: integer>`.
    pub fn arg_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.arg_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Refuse the command unless `check` passes (all checks must pass, in the order added).
    pub fn check(mut self, check: impl Check) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    /// Each user may use the command once per `period`; sooner gets a "wait" reply.
    pub fn cooldown(mut self, period: Duration) -> Self {
        self.cooldown = Some(Cooldown { period, last: Arc::new(Mutex::new(HashMap::new())) });
        self
    }

    /// The command's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its usage line with the default prefix, such as `!roll <sides: integer>`.
    pub fn usage(&self) -> String {
        self.usage_with("!")
    }

    pub(crate) fn usage_with(&self, prefix: &str) -> String {
        super::args::usage(prefix, &self.name, &self.specs, &self.arg_names)
    }

    /// Run the checks, parse the arguments, apply the cooldown, then the handler. The reply
    /// text the handler returned, if any, is what this resolves to.
    pub(crate) async fn invoke(
        &self,
        ctx: Context,
        args: &str,
        bot_checks: &[Arc<dyn Check>],
        prefix: &str,
    ) -> Result<Option<String>, CommandError> {
        for check in bot_checks.iter().chain(&self.checks) {
            check.check(&ctx).map_err(CommandError::Refused)?;
        }
        let author = ctx.author().to_owned();
        let running = (self.handler)(ctx, args)
            .map_err(|error| CommandError::Usage { usage: self.usage_with(prefix), error })?;
        if let Some(cooldown) = &self.cooldown {
            cooldown.take(&author)?;
        }
        running.await.map_err(CommandError::Failed)
    }
}

/// When each user last used a command.
#[derive(Clone)]
struct Cooldown {
    period: Duration,
    last: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Cooldown {
    fn take(&self, user: &str) -> Result<(), CommandError> {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(used) = last.get(user) {
            let since = now.saturating_duration_since(*used);
            if since < self.period {
                return Err(CommandError::Cooldown { remaining: self.period - since });
            }
        }
        // Forget users whose cooldown is over, so the map stays as small as the active users.
        let period = self.period;
        last.retain(|_, used| now.saturating_duration_since(*used) < period);
        last.insert(user.to_owned(), now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldown_is_per_user_and_expires() {
        let cooldown = Cooldown {
            period: Duration::from_millis(50),
            last: Arc::new(Mutex::new(HashMap::new())),
        };
        assert!(cooldown.take("alice").is_ok());
        assert!(matches!(cooldown.take("alice"), Err(CommandError::Cooldown { .. })));
        assert!(cooldown.take("bob").is_ok());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cooldown.take("alice").is_ok());
    }
}
