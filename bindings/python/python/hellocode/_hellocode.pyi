"""Type stubs for the compiled module `hellocode._hellocode` (import `hellocode` instead)."""

import datetime
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import ClassVar, Literal, Optional, Union, final

from typing_extensions import Self

__version__: str
#: The longest message text, in characters.
MAX_MESSAGE_CHARS: int

# ---- errors ----

class HelloCodeError(Exception):
    """Base of every HelloCode error."""

    #: The SDK's stable error code, e.g. "invalid_credentials", "forbidden", "timeout".
    code: str

class AuthError(HelloCodeError):
    """invalid_credentials, invalid_token, username_taken, not_authenticated, already_authenticated."""

class NotAllowed(HelloCodeError):
    """forbidden, impersonation, wrong_chat."""

class NotFound(HelloCodeError):
    """not_found."""

class InvalidInput(HelloCodeError):
    """invalid_argument, invalid_field, missing_field, validation_failed, frame_too_large, invalid_url."""

class RateLimited(HelloCodeError):
    """rate_limited."""

class ConnectionLost(HelloCodeError):
    """connection_lost: the command may or may not have taken effect."""

class TransportError(HelloCodeError):
    """transport: the connection could not be made, or broke."""

class Timeout(HelloCodeError):
    """timeout: no reply within `request_timeout`."""

class ClientClosed(HelloCodeError):
    """closed: the client is closed, or gave up reconnecting."""

class QueueFull(HelloCodeError):
    """queue_full: the send queue is full."""

class Expired(HelloCodeError):
    """expired: a queued message was not sent within `send_expiry`."""

class ProtocolError(HelloCodeError):
    """protocol, not_json, not_an_object, missing_command, unknown_command."""

class ServerError(HelloCodeError):
    """internal or unavailable: the server failed or cannot reach its database; retrying may help."""

class PersistenceError(HelloCodeError):
    """persistence: a bot's position store could not be read or written."""

def _exception_for_code(code: str, message: str) -> HelloCodeError:
    """Test hook: the exception raised for an SDK error code."""

# ---- values ----

@final
class Message:
    """A stored chat message."""

    @property
    def id(self) -> int: ...
    @property
    def chat_id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def author(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def timestamp(self) -> datetime.datetime: ...
    @property
    def client_id(self) -> Optional[str]: ...
    @property
    def edited_at(self) -> Optional[datetime.datetime]: ...
    @property
    def deleted(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Chat:
    """A conversation between users."""

    @property
    def id(self) -> int: ...
    @property
    def participants(self) -> list[str]: ...
    @property
    def last_seq(self) -> int: ...
    @property
    def created_at(self) -> datetime.datetime: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class User:
    """A user as others see it."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def languages(self) -> list[str]: ...
    @property
    def avatar(self) -> Optional[str]: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Language:
    """A programming language people want to talk about."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class IssuedBotToken:
    """A bot token just created; the server shows `token` this once (`repr` hides it)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def token(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class BotToken:
    """A bot token as listed (without its secret)."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def created_at(self) -> datetime.datetime: ...
    @property
    def revoked(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class PendingSend:
    """A message handed to the send queue."""

    @property
    def client_id(self) -> str: ...
    @property
    def chat_id(self) -> int: ...
    @property
    def content(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class ConnectionState:
    """The connection's state."""

    @property
    def kind(self) -> Literal["connected", "reconnecting", "closed", "unknown"]: ...
    @property
    def username(self) -> Optional[str]:
        """The authenticated user, when connected."""
    @property
    def attempt(self) -> Optional[int]:
        """The reconnection attempt (1 for the first retry), when reconnecting."""
    @property
    def delay(self) -> Optional[float]:
        """Seconds before the next attempt, when reconnecting."""
    @property
    def error(self) -> Optional[HelloCodeError]:
        """Why it is reconnecting, or why it closed (None when the application closed it)."""
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

# ---- events ----

@final
class MessageEvent:
    """A new message (the client's own included); exactly once and in order per chat."""

    @property
    def message(self) -> Message: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Edited:
    """A message was edited; carries its new content."""

    @property
    def message(self) -> Message: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Deleted:
    """A message was deleted."""

    @property
    def chat_id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Typing:
    """Someone is typing."""

    @property
    def chat_id(self) -> int: ...
    @property
    def username(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Read:
    """Someone has read a chat up to `seq`."""

    @property
    def chat_id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def seq(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Presence:
    """A user who shares a chat with this one came online or went offline."""

    @property
    def username(self) -> str: ...
    @property
    def online(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class ChatCreated:
    """This user was added to a new chat."""

    @property
    def chat(self) -> Chat: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class SendUpdate:
    """A queued message changed state."""

    @property
    def client_id(self) -> str: ...
    @property
    def chat_id(self) -> int: ...
    @property
    def state(self) -> Literal["pending", "sent", "failed", "unknown"]: ...
    @property
    def message(self) -> Optional[Message]:
        """The stored message, once sent."""
    @property
    def error(self) -> Optional[HelloCodeError]:
        """Why it failed."""
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class ConnectionChanged:
    """The connection changed state."""

    @property
    def state(self) -> ConnectionState: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class UnknownEvent:
    """An event this version of the package does not know."""

    @property
    def description(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

Event = Union[
    MessageEvent,
    Edited,
    Deleted,
    Typing,
    Read,
    Presence,
    ChatCreated,
    SendUpdate,
    ConnectionChanged,
    UnknownEvent,
]

#: A listener: called with each event on a background thread. A coroutine it returns is
#: scheduled on the asyncio loop that was running when the listener was added.
Listener = Callable[[Event], object]

@final
class ListenerHandle:
    def remove(self) -> None:
        """Stop calling the listener. Idempotent."""

# ---- asyncio client ----

async def connect(
    url: str,
    *,
    username: Optional[str] = None,
    password: Optional[str] = None,
    token: Optional[str] = None,
    email: Optional[str] = None,
    register: bool = False,
    register_or_login: bool = False,
    request_timeout: Optional[float] = None,
    connect_timeout: Optional[float] = None,
    close_timeout: Optional[float] = None,
    keepalive: Optional[float] = None,
    write_timeout: Optional[float] = None,
    send_queue: Optional[int] = None,
    send_expiry: Optional[float] = None,
    start_positions: Optional[Mapping[int, int]] = None,
    max_reconnect_attempts: Optional[int] = None,
    reconnect_initial: Optional[float] = None,
    reconnect_max: Optional[float] = None,
) -> Client:
    """Connect to `url` (ws:// or wss://) and authenticate.

    Credentials: `username` and `password`; or `token` (a saved login token or a bot token); or
    `register=True` with `username`, `email` and `password` to create the account;
    or `register_or_login=True` with the same three to log in, creating the account the first
    time (for bots). Times are
    in seconds. `start_positions` maps chat ids to the last sequence number already processed
    (see `Client.positions`). After a lost connection the client retries after `reconnect_initial`
    seconds (default 0.2), doubling up to `reconnect_max` (default 30), with jitter, at most
    `max_reconnect_attempts` times in a row (default: forever). Raises `AuthError`,
    `TransportError`, `InvalidInput`, `Timeout`.
    """

@final
class Client:
    """A connection that survives disconnects: reconnects, resumes every chat, resends queued
    messages (never twice). Close it with `await client.close()` or `async with client:`."""

    @property
    def username(self) -> str: ...
    @property
    def token(self) -> Optional[str]: ...
    @property
    def state(self) -> ConnectionState: ...
    async def send(self, chat_id: int, text: str, *, client_id: Optional[str] = None) -> Message:
        """Send and wait until stored; returns the stored message."""
    def enqueue(self, chat_id: int, text: str) -> PendingSend:
        """Queue a message; its states arrive as `SendUpdate` events."""
    def enqueue_with_client_id(self, chat_id: int, text: str, client_id: str) -> PendingSend: ...
    async def pending_sends(self) -> list[PendingSend]: ...
    async def fetch_messages(
        self, chat_id: int, before: Optional[int] = None, limit: Optional[int] = None
    ) -> list[Message]:
        """A page of history, newest first: sequence numbers below `before` (default: newest)."""
    async def create_chat(self, participants: Sequence[str]) -> Chat: ...
    async def list_chats(self) -> list[Chat]: ...
    async def find_users(self, language: str) -> list[User]: ...
    async def typing(self, chat_id: int) -> None: ...
    async def mark_read(self, chat_id: int, seq: int) -> None: ...
    async def edit_message(self, chat_id: int, seq: int, text: str) -> Message: ...
    async def delete_message(self, chat_id: int, seq: int) -> None: ...
    async def ping(self) -> float:
        """Round trip, in seconds."""
    async def positions(self) -> dict[int, int]: ...
    async def get_user(self, username: str) -> User: ...
    async def update_profile(
        self, *, timezone: Optional[str] = None, languages: Optional[Sequence[str]] = None
    ) -> User:
        """Change this user's time zone and/or languages (each must exist)."""
    async def languages(self) -> list[Language]: ...
    async def add_language(self, name: str) -> Language: ...
    async def contacts(self) -> list[str]: ...
    async def add_contact(self, username: str) -> list[str]: ...
    async def remove_contact(self, username: str) -> list[str]: ...
    async def create_bot_token(self, name: str) -> IssuedBotToken: ...
    async def bot_tokens(self) -> list[BotToken]: ...
    async def revoke_bot_token(self, id: int) -> None: ...
    async def add_participants(self, chat_id: int, usernames: Sequence[str]) -> Chat: ...
    async def chat_with(self, usernames: Sequence[str]) -> Chat:
        """The chat of exactly this user and `usernames`: the existing one, else a new one."""
    def history(self, chat_id: int, before: Optional[int] = None) -> History:
        """`async for message in client.history(chat_id)`: the whole history, newest first,
        fetched in pages as it is read."""
    async def close(self) -> None: ...
    def events(self) -> EventStream: ...
    def add_listener(self, callback: Listener) -> ListenerHandle: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...

@final
class EventStream:
    """`async for event in client.events()`; ends when the client is closed."""

    def __aiter__(self) -> Self: ...
    def __anext__(self) -> Awaitable[Event]: ...

@final
class History:
    """A chat's history, newest first; raises the error (e.g. `NotAllowed`) that ends it."""

    def __aiter__(self) -> Self: ...
    def __anext__(self) -> Awaitable[Message]: ...

# ---- blocking client (hellocode.blocking) ----

@final
class BlockingClient:
    """`hellocode.blocking.Client`: the same client without asyncio."""

    @staticmethod
    def connect(
        url: str,
        *,
        username: Optional[str] = None,
        password: Optional[str] = None,
        token: Optional[str] = None,
        email: Optional[str] = None,
        register: bool = False,
        register_or_login: bool = False,
        request_timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        close_timeout: Optional[float] = None,
        keepalive: Optional[float] = None,
        write_timeout: Optional[float] = None,
        send_queue: Optional[int] = None,
        send_expiry: Optional[float] = None,
        start_positions: Optional[Mapping[int, int]] = None,
        max_reconnect_attempts: Optional[int] = None,
        reconnect_initial: Optional[float] = None,
        reconnect_max: Optional[float] = None,
    ) -> BlockingClient: ...
    @property
    def username(self) -> str: ...
    @property
    def token(self) -> Optional[str]: ...
    @property
    def state(self) -> ConnectionState: ...
    def send(self, chat_id: int, text: str, *, client_id: Optional[str] = None) -> Message: ...
    def enqueue(self, chat_id: int, text: str) -> PendingSend: ...
    def enqueue_with_client_id(self, chat_id: int, text: str, client_id: str) -> PendingSend: ...
    def pending_sends(self) -> list[PendingSend]: ...
    def fetch_messages(
        self, chat_id: int, before: Optional[int] = None, limit: Optional[int] = None
    ) -> list[Message]: ...
    def create_chat(self, participants: Sequence[str]) -> Chat: ...
    def list_chats(self) -> list[Chat]: ...
    def find_users(self, language: str) -> list[User]: ...
    def typing(self, chat_id: int) -> None: ...
    def mark_read(self, chat_id: int, seq: int) -> None: ...
    def edit_message(self, chat_id: int, seq: int, text: str) -> Message: ...
    def delete_message(self, chat_id: int, seq: int) -> None: ...
    def ping(self) -> float: ...
    def positions(self) -> dict[int, int]: ...
    def get_user(self, username: str) -> User: ...
    def update_profile(
        self, *, timezone: Optional[str] = None, languages: Optional[Sequence[str]] = None
    ) -> User: ...
    def languages(self) -> list[Language]: ...
    def add_language(self, name: str) -> Language: ...
    def contacts(self) -> list[str]: ...
    def add_contact(self, username: str) -> list[str]: ...
    def remove_contact(self, username: str) -> list[str]: ...
    def create_bot_token(self, name: str) -> IssuedBotToken: ...
    def bot_tokens(self) -> list[BotToken]: ...
    def revoke_bot_token(self, id: int) -> None: ...
    def add_participants(self, chat_id: int, usernames: Sequence[str]) -> Chat: ...
    def chat_with(self, usernames: Sequence[str]) -> Chat: ...
    def history(self, chat_id: int, before: Optional[int] = None) -> BlockingHistory: ...
    def close(self) -> None: ...
    def events(self, timeout: Optional[float] = None) -> BlockingEvents:
        """Events as an iterator; with `timeout`, iteration ends after that many seconds
        without an event (or when the client closes)."""
    def add_listener(self, callback: Listener) -> ListenerHandle: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...

@final
class BlockingEvents:
    def __iter__(self) -> Self: ...
    def __next__(self) -> Event: ...
    def get(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, or None if none comes within `timeout` seconds; raises
        `ClientClosed` once the client is closed and every event has been read."""

@final
class BlockingHistory:
    def __iter__(self) -> Self: ...
    def __next__(self) -> Message: ...

# ---- bots (hellocode.Bot in hellocode/bot.py builds and runs these) ----

class CommandError(Exception):
    """Why a command did not run, or failed: what `Bot.on_error` hooks get."""

    #: usage (the text did not fit the parameters), refused (a check), cooldown, failed (the
    #: handler raised), reply (the reply could not be sent).
    kind: Literal["usage", "refused", "cooldown", "failed", "reply"]
    #: What the default hook answers the user, if anything.
    reply: Optional[str]
    #: The exception the handler raised (also `__cause__`), for failed and reply.
    original: Optional[BaseException]

@final
class Context:
    """The message a bot handler runs for, and ways to answer it."""

    def reply(self, text: str) -> Awaitable[Message]:
        """Send `text` to the message's chat; resolves with the stored message (through the
        client's send queue: rate limits are waited out)."""
    def typing(self) -> Awaitable[None]:
        """Show the chat that the bot is typing."""
    @property
    def args(self) -> str:
        """The text after the command's name (empty for a plain message)."""
    @property
    def text(self) -> str: ...
    @property
    def author(self) -> str: ...
    @property
    def chat_id(self) -> int: ...
    @property
    def chat(self) -> Optional[Chat]:
        """The chat as the bot last saw it, when known."""
    @property
    def message(self) -> Message: ...
    @property
    def command(self) -> Optional[str]:
        """The command's name as registered (aliases resolved); None for a plain message."""
    @property
    def is_direct(self) -> bool:
        """Whether the chat is between the bot and one other person."""
    @property
    def bot_username(self) -> str: ...
    @property
    def client(self) -> Client:
        """The bot's client (the same connection)."""

@final
class BuiltinCheck:
    """A check made by the Rust framework (`hellocode.checks`)."""

    def __call__(self, ctx: Context) -> Optional[str]:
        """The refusal it gives in `ctx`, or None when it passes."""

def _check_direct_only() -> BuiltinCheck: ...
def _check_only_users(users: Sequence[str]) -> BuiltinCheck: ...

@final
class _BotRunner:
    """Internal: the Rust bot behind `hellocode.Bot`."""

    def __init__(self) -> None: ...
    def stop(self) -> None:
        """Stop gracefully, from any thread (before `run`: it stops as soon as it starts)."""
    def finish(self) -> None:
        """Wait until the run ended and `on_done` returned; raise the run's error."""
    def run(
        self,
        client: Client,
        commands: Sequence[
            tuple[
                str,
                Callable[..., Awaitable[object]],
                Sequence[tuple[str, str, bool]],
                Sequence[str],
                str,
                Sequence[Callable[[Context], object]],
                Optional[float],
            ]
        ],
        message_handlers: Sequence[Callable[[Context], Awaitable[object]]],
        event_handlers: Sequence[Callable[[Event], Awaitable[object]]],
        on_error: Callable[[Context, CommandError], Awaitable[object]],
        on_done: Callable[[], object],
        *,
        prefixes: Optional[Sequence[str]],
        mentions: bool,
        help: bool,
        see_own_messages: bool,
        replay_backlog: bool,
        persist: Optional[str],
        shutdown_timeout: Optional[float],
        chat_queue: Optional[int] = None,
    ) -> None:
        """Start a bot over `client`, whose handlers run on the running loop, until `stop()` or
        the client closes; then call `on_done()` (on another thread)."""
