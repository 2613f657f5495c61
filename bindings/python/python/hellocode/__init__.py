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

For scripts and notebooks without asyncio, see `hellocode.blocking`.
"""

from typing import Union

from ._hellocode import (
    MAX_MESSAGE_CHARS,
    AuthError,
    BotToken,
    Chat,
    ChatCreated,
    Client,
    ClientClosed,
    ConnectionChanged,
    ConnectionLost,
    ConnectionState,
    Deleted,
    Edited,
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
    PendingSend,
    PersistenceError,
    Presence,
    ProtocolError,
    QueueFull,
    RateLimited,
    Read,
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

#: Every event class `Client.events()` and listeners can produce.
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

__all__ = [
    "MAX_MESSAGE_CHARS",
    "AuthError",
    "BotToken",
    "Chat",
    "ChatCreated",
    "Client",
    "ClientClosed",
    "ConnectionChanged",
    "ConnectionLost",
    "ConnectionState",
    "Deleted",
    "Edited",
    "Event",
    "EventStream",
    "Expired",
    "HelloCodeError",
    "History",
    "InvalidInput",
    "IssuedBotToken",
    "Language",
    "ListenerHandle",
    "Message",
    "MessageEvent",
    "NotAllowed",
    "NotFound",
    "PendingSend",
    "PersistenceError",
    "Presence",
    "ProtocolError",
    "QueueFull",
    "RateLimited",
    "Read",
    "SendUpdate",
    "ServerError",
    "Timeout",
    "TransportError",
    "Typing",
    "UnknownEvent",
    "User",
    "__version__",
    "connect",
]
