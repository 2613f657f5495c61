//! The Python bot framework is the Rust one (`hellocode_sdk::bot`): `hellocode.Bot` (Python)
//! reads its handlers' signatures and hands them here, where each becomes a Rust [`Command`]
//! whose [`Handler`] parses the arguments with the Rust [`Arg`](hellocode_sdk::bot::Arg)
//! implementations and then runs the Python handler on the asyncio loop that started the bot.
//!
//! Threads: the bot runs on the module's tokio runtime; every call into Python takes the GIL
//! briefly (outside tokio's cooperative scheduling, with `block_in_place`) to start a coroutine,
//! which `pyo3_async_runtimes` schedules on the bot's loop; its result is awaited without the
//! GIL.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use hellocode_sdk::bot::{
    ArgError, Bot, BoxFuture, Check, Command, CommandError, Context, FileStore, Handler,
    HandlerError, InviteContext, Outcome,
};
use hellocode_sdk::{Client, Event};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use tokio::sync::watch;

use crate::bot_args::{Param, parse_params};
use crate::bot_context::{self, PyContext, PyInviteContext, PyNativeCheck, args_of};
use crate::client::PyClient;
use crate::errors::{invalid_argument, sdk_err};
use crate::types::{PyEvent, PyMessage};

/// What every handler of one running bot shares.
struct Shared {
    /// The asyncio loop (and context) that started the bot: handlers run there.
    locals: TaskLocals,
    /// The Python `Client` that `ctx.client` returns.
    client: Py<PyClient>,
    prefixes: Vec<String>,
    mentions: bool,
}

impl Shared {
    /// A Python `Context` for `ctx`; `args` as given, else read from the message.
    fn context(
        &self,
        py: Python<'_>,
        ctx: Context,
        args: Option<String>,
    ) -> PyResult<Py<PyContext>> {
        let args = args.unwrap_or_else(|| match ctx.command() {
            Some(_) => args_of(ctx.text(), &self.prefixes, ctx.bot_username(), self.mentions),
            None => String::new(),
        });
        Py::new(py, PyContext::new(ctx, args, self.client.clone_ref(py)))
    }

    /// Start the coroutine `start` returns on the bot's loop, and wait for its result.
    async fn run_coroutine(
        &self,
        start: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let running = tokio::task::block_in_place(|| {
            Python::attach(|py| {
                pyo3_async_runtimes::into_future_with_locals(&self.locals, start(py)?)
            })
        })?;
        running.await
    }
}

/// A handler's result as the Rust framework takes it: None or a `Message` (nothing to send), a
/// str (the reply), or the exception it raised.
fn outcome(result: PyResult<Py<PyAny>>) -> Outcome {
    let value = result.map_err(|raised| Box::new(raised) as HandlerError)?;
    Python::attach(|py| {
        let value = value.bind(py);
        if value.is_none() || value.is_instance_of::<PyMessage>() {
            Ok(None)
        } else if let Ok(text) = value.extract::<String>() {
            Ok(Some(text))
        } else {
            let kind = value.get_type().name().map(|name| name.to_string()).unwrap_or_default();
            let error =
                PyTypeError::new_err(format!("a bot handler returns a str or None, not {kind}"));
            Err(Box::new(error) as HandlerError)
        }
    })
}

/// Marks [`PyCommand`]'s `Handler` implementation.
pub(crate) struct PythonArgs;

/// A Python command handler with the parameters read from its signature.
struct PyCommand {
    function: Py<PyAny>,
    params: Vec<Param>,
    shared: Arc<Shared>,
}

impl Handler<PythonArgs> for PyCommand {
    fn specs(&self) -> Vec<hellocode_sdk::bot::ArgSpec> {
        self.params.iter().map(Param::spec).collect()
    }

    fn call(&self, ctx: Context, input: &str) -> Result<BoxFuture<Outcome>, ArgError> {
        let values = parse_params(&self.params, input)?;
        let args = input.trim().to_owned();
        let function = Python::attach(|py| self.function.clone_ref(py));
        let shared = self.shared.clone();
        Ok(Box::pin(async move {
            let result = shared
                .run_coroutine(|py| {
                    let mut call = vec![shared.context(py, ctx, Some(args))?.into_any()];
                    for value in values {
                        call.push(value.into_pyobject(py)?.unbind());
                    }
                    function.bind(py).call1(pyo3::types::PyTuple::new(py, call)?)
                })
                .await;
            outcome(result)
        }))
    }
}

/// A check written in Python: `(ctx) -> bool | str | None`; False or a str refuses.
struct PyCheck {
    function: Py<PyAny>,
    shared: Arc<Shared>,
}

impl Check for PyCheck {
    fn check(&self, ctx: &Context) -> Result<(), String> {
        tokio::task::block_in_place(|| {
            Python::attach(|py| {
                let checked = (|| -> PyResult<Result<(), String>> {
                    let context = self.shared.context(py, ctx.clone(), None)?;
                    let verdict = self.function.bind(py).call1((context,))?;
                    if verdict.is_none() {
                        Ok(Ok(()))
                    } else if let Ok(reason) = verdict.extract::<String>() {
                        Ok(Err(reason))
                    } else if verdict.is_truthy()? {
                        Ok(Ok(()))
                    } else {
                        Ok(Err("You may not use this command.".to_owned()))
                    }
                })();
                checked.unwrap_or_else(|raised| {
                    let name = ctx.command().unwrap_or("command");
                    log_exception(py, &format!("a check of !{name} failed"), &raised);
                    Err(format!("Sorry, !{name} failed."))
                })
            })
        })
    }
}

/// Log an exception with its traceback on the `hellocode.bot` logger, at error level.
fn log_exception(py: Python<'_>, message: &str, raised: &PyErr) {
    let logged = (|| -> PyResult<()> {
        let logger = py.import("logging")?.call_method1("getLogger", ("hellocode.bot",))?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("exc_info", raised.clone_ref(py).into_value(py))?;
        logger.call_method("error", ("%s", message), Some(&kwargs))?;
        Ok(())
    })();
    if logged.is_err() {
        raised.clone_ref(py).print(py);
    }
}

/// One command as `hellocode.Bot` describes it: name, coroutine function, parameters
/// `(name, kind, optional)`, aliases, description, checks, cooldown in seconds.
#[derive(FromPyObject)]
struct CommandDef(
    String,
    Py<PyAny>,
    Vec<(String, String, bool)>,
    Vec<String>,
    String,
    Vec<Py<PyAny>>,
    Option<f64>,
);

fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| invalid_argument(format!("{name} must be a number of seconds, not {value}")))
}

/// How a run ended, and whether the runtime thread that told Python is out of Python again.
#[derive(Default)]
struct Finished {
    state: Mutex<(Option<hellocode_sdk::Result<()>>, bool)>,
    released: Condvar,
}

/// The Rust bot behind `hellocode.Bot`: `run` builds and starts it, `stop` ends it from any
/// thread, `finish` waits for the end and gives its result.
///
/// The end is told to Python by calling `on_done` on a runtime thread; `finish` waits until that
/// thread has left Python, so that a process whose main thread returns from `Bot.run()` and
/// finalizes the interpreter never has a runtime thread still inside it.
#[pyclass(name = "_BotRunner", module = "hellocode", frozen)]
pub(crate) struct PyBotRunner {
    stop: watch::Sender<bool>,
    finished: Arc<Finished>,
}

#[pymethods]
impl PyBotRunner {
    #[new]
    fn new() -> Self {
        PyBotRunner { stop: watch::Sender::new(false), finished: Arc::default() }
    }

    /// Stop the bot gracefully (before it runs: it stops as soon as it starts).
    fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Wait (without the GIL) until the run has ended and told Python; raise its error.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        let result = py.detach(|| {
            let mut state = lock(&self.finished.state);
            while !state.1 {
                state = self.finished.released.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            state.0.take()
        });
        result.unwrap_or(Ok(())).map_err(sdk_err)
    }

    /// Start a bot over `client`, whose handlers run on the running asyncio loop, until `stop()`
    /// or the client closes; then `on_done()` is called (on another thread).
    #[pyo3(signature = (
        client, commands, message_handlers, event_handlers, on_error, on_done, *, prefixes,
        mentions, help, see_own_messages, replay_backlog, persist, shutdown_timeout,
        chat_queue = None, join_handlers = Vec::new(), invite_handlers = Vec::new(),
    ))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        py: Python<'_>,
        client: Py<PyClient>,
        commands: Vec<CommandDef>,
        message_handlers: Vec<Py<PyAny>>,
        event_handlers: Vec<Py<PyAny>>,
        on_error: Py<PyAny>,
        on_done: Py<PyAny>,
        prefixes: Option<Vec<String>>,
        mentions: bool,
        help: bool,
        see_own_messages: bool,
        replay_backlog: bool,
        persist: Option<std::path::PathBuf>,
        shutdown_timeout: Option<f64>,
        chat_queue: Option<usize>,
        join_handlers: Vec<Py<PyAny>>,
        invite_handlers: Vec<Py<PyAny>>,
    ) -> PyResult<()> {
        let locals = pyo3_async_runtimes::tokio::get_current_locals(py)?;
        let sdk_client: Client = client.get().client.clone();
        let mut prefixes = prefixes.unwrap_or_else(|| vec!["!".to_owned(), "/".to_owned()]);
        prefixes.retain(|prefix| !prefix.is_empty());
        let shared = Arc::new(Shared {
            locals: locals.clone(),
            client,
            prefixes: prefixes.clone(),
            mentions,
        });
        let mut bot = Bot::new(sdk_client)
            .prefixes(prefixes)
            .mentions(mentions)
            .see_own_messages(see_own_messages)
            .replay_backlog(replay_backlog);
        if !help {
            bot = bot.without_help();
        }
        if let Some(path) = persist {
            bot = bot.persist(FileStore::new(path));
        }
        if let Some(timeout) = shutdown_timeout {
            bot = bot.with_shutdown_timeout(seconds("shutdown_timeout", timeout)?);
        }
        if let Some(capacity) = chat_queue {
            bot = bot.with_chat_queue(capacity);
        }
        for definition in commands {
            bot = bot.command(command(py, definition, &shared)?);
        }
        for handler in message_handlers {
            let shared = shared.clone();
            let handler = Arc::new(handler);
            bot = bot.on_message(move |ctx: Context| {
                let (shared, handler) = (shared.clone(), handler.clone());
                async move {
                    let result = shared
                        .run_coroutine(|py| {
                            handler.bind(py).call1((shared.context(py, ctx, None)?,))
                        })
                        .await;
                    outcome(result)
                }
            });
        }
        for handler in join_handlers {
            let shared = shared.clone();
            let handler = Arc::new(handler);
            bot = bot.on_join(move |ctx: Context| {
                let (shared, handler) = (shared.clone(), handler.clone());
                async move {
                    let result = shared
                        .run_coroutine(|py| {
                            handler.bind(py).call1((shared.context(py, ctx, None)?,))
                        })
                        .await;
                    outcome(result)
                }
            });
        }
        for handler in invite_handlers {
            let shared = shared.clone();
            let handler = Arc::new(handler);
            bot = bot.on_invite(move |ctx: InviteContext| {
                let (shared, handler) = (shared.clone(), handler.clone());
                async move {
                    let result = shared
                        .run_coroutine(|py| {
                            let client = shared.client.clone_ref(py);
                            handler.bind(py).call1((PyInviteContext::new(ctx, client),))
                        })
                        .await;
                    outcome(result)
                }
            });
        }
        for handler in event_handlers {
            let shared = shared.clone();
            let handler = Arc::new(handler);
            bot = bot.on_event(move |_client: Client, event: Event| {
                let (shared, handler) = (shared.clone(), handler.clone());
                async move {
                    let result =
                        shared.run_coroutine(|py| handler.bind(py).call1((PyEvent(event),))).await;
                    outcome(result).map(drop)
                }
            });
        }
        let hook = Arc::new(on_error);
        let hook_shared = shared.clone();
        bot = bot.on_error(move |ctx: Context, error: CommandError| {
            let (shared, hook) = (hook_shared.clone(), hook.clone());
            async move {
                let called = shared
                    .run_coroutine(|py| {
                        let exception = bot_context::command_error(py, &ctx, &error)?;
                        hook.bind(py).call1((shared.context(py, ctx, None)?, exception))
                    })
                    .await;
                if let Err(raised) = called {
                    Python::attach(|py| log_exception(py, "the bot's error hook failed", &raised));
                }
            }
        });
        let mut stopped = self.stop.subscribe();
        let finished = self.finished.clone();
        crate::runtime().spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            let result = bot.run_until(shutdown).await;
            lock(&finished.state).0 = Some(result);
            let _ = tokio::task::spawn_blocking(move || {
                Python::attach(|py| {
                    if let Err(error) = on_done.call0(py) {
                        error.write_unraisable(py, Some(on_done.bind(py)));
                    }
                });
                lock(&finished.state).1 = true;
                finished.released.notify_all();
            })
            .await;
        });
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The Rust command for a Python definition.
fn command(py: Python<'_>, definition: CommandDef, shared: &Arc<Shared>) -> PyResult<Command> {
    let CommandDef(name, function, params, aliases, description, checks, cooldown) = definition;
    let names: Vec<String> = params.iter().map(|(name, ..)| name.clone()).collect();
    let params = params
        .into_iter()
        .map(|(name, kind, optional)| Param::new(&name, &kind, optional))
        .collect::<PyResult<Vec<_>>>()?;
    let handler = PyCommand { function, params, shared: shared.clone() };
    let mut command = Command::new(&name, handler).description(description).arg_names(names);
    for alias in aliases {
        command = command.alias(&alias);
    }
    for check in checks {
        if let Ok(native) = check.cast_bound::<PyNativeCheck>(py) {
            let native = native.get().check.clone();
            command = command.check(move |ctx: &Context| native.check(ctx));
        } else if check.bind(py).is_callable() {
            command = command.check(PyCheck { function: check, shared: shared.clone() });
        } else {
            return Err(PyTypeError::new_err(format!(
                "a check of !{name} is not callable: {}",
                check.bind(py).repr()?
            )));
        }
    }
    if let Some(cooldown) = cooldown {
        command = command.cooldown(seconds("cooldown", cooldown)?);
    }
    Ok(command)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    bot_context::register(m)?;
    m.add_class::<PyBotRunner>()?;
    Ok(())
}
