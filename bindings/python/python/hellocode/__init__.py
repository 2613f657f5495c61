"""HelloCode chat client for Python, on the Rust SDK (reconnect, resume, send queue).

    import asyncio, hellocode

    async def main() -> None:
        async with await hellocode.connect("ws://127.0.0.1:8080", username="alice",
                                           password="correct horse") as client:
            chat = await client.create_chat(["bob"])
            await client.send(chat.id, "hello, bob")
            async for event in client.events():
                if isinstance(event, hellocode.MessageEvent):
                    print(event.message.author, event.message.content)

    asyncio.run(main())

For scripts and notebooks without asyncio, see `hellocode.blocking`; for bots, `hellocode.Bot`.
"""

from typing import Union

from ._hellocode import (
    MAX_MESSAGE_CHARS,
    AuthError,
    BotToken,
    Chat,
    ChatChanged,
    ChatCreated,
    ChatDeleted,
    ChatEvent,
    ChatKind,
    Client,
    ClientClosed,
    CommandError,
    ConnectionChanged,
    ConnectionLost,
    ConnectionState,
    Context,
    Deleted,
    Edited,
    EventKind,
    EventStream,
    Expired,
    HelloCodeError,
    History,
    InvalidInput,
    IssuedBotToken,
    Language,
    ListenerHandle,
    Message,
    MessageEvent,
    NotAllowed,
    NotFound,
    Participant,
    PendingSend,
    PersistenceError,
    Presence,
    ProtocolError,
    QueueFull,
    RateLimited,
    Read,
    Role,
    SendUpdate,
    ServerError,
    Timeout,
    TransportError,
    Typing,
    UnknownEvent,
    User,
    __version__,
    connect,
)
from . import checks
from .bot import Bot, Check, Mention, Rest, UserArg

#: Every event class `Client.events()` and listeners can produce.
Event = Union[
    MessageEvent,
    ChatEvent,
    Edited,
    Deleted,
    Typing,
    Read,
    Presence,
    ChatCreated,
    ChatChanged,
    ChatDeleted,
    SendUpdate,
    ConnectionChanged,
    UnknownEvent,
]

__all__ = [
    "MAX_MESSAGE_CHARS",
    "AuthError",
    "Bot",
    "BotToken",
    "Chat",
    "ChatChanged",
    "ChatCreated",
    "ChatDeleted",
    "ChatEvent",
    "ChatKind",
    "Check",
    "Client",
    "ClientClosed",
    "CommandError",
    "ConnectionChanged",
    "ConnectionLost",
    "ConnectionState",
    "Context",
    "Deleted",
    "Edited",
    "Event",
    "EventKind",
    "EventStream",
    "Expired",
    "HelloCodeError",
    "History",
    "InvalidInput",
    "IssuedBotToken",
    "Language",
    "ListenerHandle",
    "Mention",
    "Message",
    "MessageEvent",
    "NotAllowed",
    "NotFound",
    "Participant",
    "PendingSend",
    "PersistenceError",
    "Presence",
    "ProtocolError",
    "QueueFull",
    "RateLimited",
    "Read",
    "Rest",
    "Role",
    "SendUpdate",
    "ServerError",
    "Timeout",
    "TransportError",
    "Typing",
    "UnknownEvent",
    "User",
    "UserArg",
    "__version__",
    "checks",
    "connect",
]
