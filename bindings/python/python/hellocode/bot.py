"""Bots: commands whose typed parameters are their argument parser, on the Rust bot framework.

    import hellocode

    bot = hellocode.Bot("ws://127.0.0.1:8080", token="<bot token>")

    @bot.command("echo", aliases=["say"], description="Repeat your text")
    async def echo(ctx: hellocode.Context, text: hellocode.Rest) -> str:
        return text

    bot.run()

Routing, argument parsing, usage replies, `!help`, checks, cooldowns, the error replies, the
backlog rule and persistence are the Rust framework's (`hellocode_sdk::bot`); this module reads
handlers' signatures and runs them on the asyncio loop that started the bot. Failures are logged
on the `hellocode.bot` logger (on stderr when logging is not configured).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import signal
import sys
import threading
import types
import typing
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, NewType, Optional, TypeVar, Union

from ._hellocode import Client, CommandError, Context, InviteContext, _BotRunner, connect

if TYPE_CHECKING:
    from ._hellocode import Event

__all__ = ["Bot", "Check", "Mention", "Rest", "UserArg"]

#: The rest of the command's line (at least one character; `Optional[Rest]` may be empty).
Rest = NewType("Rest", str)
#: A username, written with or without a leading `@`.
UserArg = NewType("UserArg", str)
#: Another name for `UserArg`.
Mention = UserArg

#: A check: passes with True or None, refuses with False or a str (the reason told to the user).
Check = Callable[[Context], Union[bool, str, None]]

F = TypeVar("F", bound=Callable[..., Any])
MessageHandler = TypeVar("MessageHandler", bound=Callable[[Context], Any])
InviteHandler = TypeVar("InviteHandler", bound=Callable[[InviteContext], Any])
EventHandler = TypeVar("EventHandler", bound="Callable[[Event], Any]")
ErrorHandler = TypeVar("ErrorHandler", bound=Callable[[Context, CommandError], Any])

logger = logging.getLogger("hellocode.bot")

_KINDS: dict[object, str] = {
    str: "word",
    int: "integer",
    float: "number",
    bool: "bool",
    Rest: "rest",
    UserArg: "user",
}
_NONE = type(None)


def _parameters(function: Callable[..., Any], name: str) -> list[tuple[str, str, bool, Any]]:
    """`(name, kind, optional, default)` for each parameter after the context."""
    signature = inspect.signature(function)
    try:
        hints = typing.get_type_hints(function)
    except Exception as error:  # a forward reference that does not resolve
        raise TypeError(f"!{name}: cannot read the annotations of {function!r}: {error}") from error
    parameters = list(signature.parameters.values())
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise TypeError(f"!{name}: a command handler takes a hellocode.Context first")
    found: list[tuple[str, str, bool, Any]] = []
    for parameter in parameters[1:]:
        where = f"!{name}: parameter {parameter.name!r}"
        if parameter.kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise TypeError(f"{where}: *args, **kwargs and keyword-only parameters are not supported")
        annotation = hints.get(parameter.name, str)
        optional = parameter.default is not inspect.Parameter.empty
        origin = typing.get_origin(annotation)
        if origin is Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
            members = [member for member in typing.get_args(annotation) if member is not _NONE]
            if len(members) != 1 or len(typing.get_args(annotation)) != 2:
                raise TypeError(f"{where}: unsupported annotation {annotation!r}")
            annotation, optional = members[0], True
        kind = _KINDS.get(annotation)
        if kind is None:
            raise TypeError(
                f"{where}: unsupported annotation {annotation!r}; use str, int, float, bool, "
                "hellocode.Rest or hellocode.UserArg (Optional[...] or a default for optional ones)"
            )
        if found and found[-1][2] and not optional:
            raise TypeError(f"{where}: a required parameter cannot follow an optional one")
        if found and found[-1][1] == "rest":
            raise TypeError(f"{where}: hellocode.Rest takes the rest of the line: it must be last")
        default = None if parameter.default is inspect.Parameter.empty else parameter.default
        found.append((parameter.name, kind, optional, default))
    return found


def _is_async(function: Callable[..., Any]) -> bool:
    target = function
    while isinstance(target, functools.partial):
        target = target.func
    return inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
        getattr(target, "__call__", None)
    )


async def _call(function: Callable[..., Any], *args: Any) -> Any:
    """Run a handler: a coroutine function on the loop, anything else in a worker thread."""
    if _is_async(function):
        return await function(*args)
    result = await asyncio.to_thread(function, *args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _default_on_error(ctx: Context, error: CommandError) -> None:
    """Log failures with their traceback, and answer the user in one short line."""
    if error.kind in ("failed", "reply"):
        cause = error.original if error.original is not None else error
        what = "failed" if error.kind == "failed" else "could not send its reply"
        logger.error(
            "!%s %s for %s in chat %s", ctx.command, what, ctx.author, ctx.chat_id, exc_info=cause
        )
    if error.reply is not None:
        await ctx.reply(error.reply)


class Bot:
    """A bot: register commands and handlers with the decorators, then `run()` (or
    `await start()`).

    Connection: `url` and `token=` (a bot token or a login token), or `username=` and
    `password=`, or `register_or_login=True` with `username=`, `email=` and `password=`; other
    keyword arguments of `hellocode.connect` pass through `connect_options`.

    Options: `prefixes` (default `!` and `/`), `mentions` (also take `@bot command`), `help`
    (answer `!help`, default True), `see_own_messages`, `replay_backlog` (answer commands sent
    before the bot started or joined a chat; default False), `persist` (a file keeping how far
    each chat was handled: a restarted bot answers what came while it was down, once),
    `shutdown_timeout` (seconds running handlers get at shutdown, default 10), `chat_queue`
    (messages waiting per chat, default 1000; a chat further behind fetches what it skipped).
    """

    def __init__(
        self,
        url: str,
        *,
        token: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        email: Optional[str] = None,
        register_or_login: bool = False,
        prefixes: Optional[Sequence[str]] = None,
        mentions: bool = False,
        help: bool = True,
        see_own_messages: bool = False,
        replay_backlog: bool = False,
        persist: Union[str, os.PathLike[str], None] = None,
        shutdown_timeout: Optional[float] = None,
        chat_queue: Optional[int] = None,
        connect_options: Optional[dict[str, Any]] = None,
    ) -> None:
        self.url = url
        self._credentials: dict[str, Any] = {
            "token": token,
            "username": username,
            "password": password,
            "email": email,
            "register_or_login": register_or_login,
        }
        self._connect_options = dict(connect_options or {})
        self._options: dict[str, Any] = {
            "prefixes": None if prefixes is None else list(prefixes),
            "mentions": mentions,
            "help": help,
            "see_own_messages": see_own_messages,
            "replay_backlog": replay_backlog,
            "persist": None if persist is None else os.fspath(persist),
            "shutdown_timeout": shutdown_timeout,
            "chat_queue": chat_queue,
        }
        self._commands: list[tuple[Any, ...]] = []
        self._message_handlers: list[Callable[[Context], Awaitable[Any]]] = []
        self._join_handlers: list[Callable[[Context], Awaitable[Any]]] = []
        self._invite_handlers: list[Callable[[InviteContext], Awaitable[Any]]] = []
        self._event_handlers: list[Callable[[Event], Awaitable[Any]]] = []
        self._on_error: Callable[[Context, CommandError], Awaitable[Any]] = _default_on_error
        self._runner: Optional[_BotRunner] = None
        self._client: Optional[Client] = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Optional[Client]:
        """The bot's client while it runs."""
        return self._client

    def command(
        self,
        name: Optional[str] = None,
        *,
        aliases: Sequence[str] = (),
        description: Optional[str] = None,
        checks: Sequence[Check] = (),
        cooldown: Optional[float] = None,
    ) -> Callable[[F], F]:
        """Register a command handler `(ctx, *typed parameters) -> str | None` (async, or sync:
        then it runs in a worker thread). The parameters' annotations say what the command takes:
        `str` (a word), `int`, `float`, `bool`, `hellocode.Rest` (the rest of the line),
        `hellocode.UserArg` (a username); `Optional[...]` or a default makes one optional. Text
        that does not fit gets a usage reply and the handler is not called. `name` defaults to
        the function's name, `description` to its docstring's first line; `cooldown` is per
        user, in seconds."""

        def register(function: F) -> F:
            command = (name or function.__name__).lower()
            parameters = _parameters(function, command)
            defaults = [default for (_, _, _, default) in parameters]
            doc = (inspect.getdoc(function) or "").strip().splitlines()
            text = description if description is not None else (doc[0] if doc else "")

            async def handler(ctx: Context, *values: Any) -> Any:
                args = [default if value is None else value for value, default in zip(values, defaults)]
                return await _call(function, ctx, *args)

            specs = [(param, kind, optional) for (param, kind, optional, _) in parameters]
            for check in checks:
                if not callable(check):
                    raise TypeError(f"!{command}: a check must be callable, not {check!r}")
            definition = (command, handler, specs, list(aliases), text, list(checks), cooldown)
            self._commands.append(definition)
            return function

        return register

    def on_message(self, handler: MessageHandler) -> MessageHandler:
        """Call `handler(ctx)` with every message that is not a command (not the bot's own
        unless `see_own_messages`); a str it returns is sent as a reply."""
        self._message_handlers.append(_logged(handler, "a message handler"))
        return handler

    def on_join(self, handler: MessageHandler) -> MessageHandler:
        """Call `handler(ctx)` when a member joins a chat the bot is in: `ctx.member` joined,
        added by `ctx.author`, in `ctx.chat_id` (`ctx.chat` as the bot last saw it); a str it
        returns is posted in the chat (once, even if a restarted bot handles the join again).
        Joins come one after another in the order they happened, live or after a reconnect;
        not those from before the bot was in the chat, nor the bot's own joining (that is a
        `ChatCreated` event), nor those made while the bot was not running."""
        self._join_handlers.append(_logged(handler, "a join handler"))
        return handler

    def on_invite(self, handler: InviteHandler) -> InviteHandler:
        """Call `handler(ctx)` when the bot is invited to a group: `await ctx.accept()` joins
        it (the bot answers commands there from then on), `await ctx.decline()` tells no one;
        doing neither leaves the invitation pending. `ctx.invitation`, `ctx.inviter`,
        `ctx.chat_id` and `ctx.chat_name` say what it is. A str it returns is posted in the chat
        once it accepted (once, even if the handler runs again), and ignored otherwise.
        Invitations come one after another: each one made while the bot runs, and those
        already pending when it starts or reconnects, once per run; withdrawn ones do not come
        here (they are an `InvitationEvent` for `on_event`)."""
        self._invite_handlers.append(_logged(handler, "an invite handler"))
        return handler

    def on_event(self, handler: EventHandler) -> EventHandler:
        """Call `handler(event)` with every event (see `hellocode.Event`), in order."""
        self._event_handlers.append(_logged(handler, "an event handler"))
        return handler

    def on_error(self, handler: ErrorHandler) -> ErrorHandler:
        """Replace the error hook: `handler(ctx, error)` gets every usage error, refusal,
        cooldown and failure (`error.kind`); `error.reply` is what the default hook would answer
        and `error.original` the exception a handler raised."""
        self._on_error = _logged(handler, "the error hook")
        return handler

    async def start(self) -> None:
        """Connect and run until `stop()` (or the client is closed), then stop gracefully:
        running handlers finish, replies are sent, positions are saved, the client is closed.
        Cancelling the task that awaits it stops the bot the same way."""
        runner = _BotRunner()
        with self._lock:
            self._runner = runner
        credentials = {key: value for key, value in self._credentials.items() if value}
        client = await connect(self.url, **credentials, **self._connect_options)
        self._client = client
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            if not done.done():
                done.set_result(None)

        def on_done() -> None:  # called on a runtime thread
            try:
                loop.call_soon_threadsafe(resolve)
            except RuntimeError:  # the loop is closed: nobody waits
                pass

        try:
            runner.run(
                client,
                self._commands,
                self._message_handlers,
                self._event_handlers,
                self._on_error,
                on_done,
                join_handlers=self._join_handlers,
                invite_handlers=self._invite_handlers,
                **self._options,
            )
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                runner.stop()
                await done
                raise
            finally:
                if done.done():  # else cancelled twice: the runner ends on its own
                    runner.finish()
        finally:
            self._client = None

    def stop(self) -> None:
        """Stop the running bot gracefully (from any thread or a signal handler)."""
        with self._lock:
            if self._runner is not None:
                self._runner.stop()

    def run(self) -> None:
        """Run the bot in a new asyncio loop until SIGINT (Ctrl-C) or SIGTERM, then stop
        gracefully; see `start`."""
        asyncio.run(self._run_until_signal())

    async def _run_until_signal(self) -> None:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        previous: dict[signal.Signals, Any] = {}
        for number in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(number, self.stop)
                installed.append(number)
            except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
                try:
                    previous[number] = signal.signal(
                        number, lambda *_: loop.call_soon_threadsafe(self.stop)
                    )
                except ValueError:  # not the main thread: stop() is the way to end it
                    pass
        try:
            await self.start()
        finally:
            for number in installed:
                loop.remove_signal_handler(number)
            for number, handler in previous.items():
                signal.signal(number, handler)


def _logged(handler: Callable[..., Any], what: str) -> Callable[..., Awaitable[Any]]:
    """`handler` as a coroutine function whose exceptions are logged with their traceback."""

    async def call(*args: Any) -> Any:
        try:
            return await _call(handler, *args)
        except Exception:
            logger.exception("%s of the bot failed: %r", what, handler)
            return None

    return call
