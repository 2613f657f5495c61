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

from typing import Callable, Union

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
    Download,
    Edited,
    EventKind,
    EventStream,
    Expired,
    HelloCodeError,
    History,
    InvalidInput,
    Invitation,
    InvitationEvent,
    InvitationState,
    InviteContext,
    InviteLink,
    IssuedBotToken,
    IssuedInviteLink,
    Language,
    ListenerHandle,
    Message,
    MessageEvent,
    NotAllowed,
    NotFound,
    Online,
    Participant,
    Attachment,
    PendingSend,
    PersistenceError,
    Presence,
    ProtocolError,
    QueueFull,
    RateLimited,
    Read,
    ReadPosition,
    Role,
    SendUpdate,
    ServerError,
    Timeout,
    TransportError,
    Typing,
    UnknownEvent,
    Unsupported,
    User,
    __version__,
    connect,
)
from . import checks
from .bot import Bot, Check, Mention, Rest, UserArg

#: A transfer's progress callback, `progress(done, total)`: bytes done of the total, as a file
#: goes up (`upload_attachment`, `upload_avatar`) or down (`download`, `download_thumbnail`).
#: Called on the SDK's threads, as listeners are; the last call has `done == total`.
TransferProgress = Callable[[int, int], object]

#: Every event class `Client.events()` and listeners can produce.
Event = Union[
    MessageEvent,
    ChatEvent,
    Edited,
    Deleted,
    Typing,
    Read,
    Presence,
    Online,
    ChatCreated,
    ChatChanged,
    ChatDeleted,
    InvitationEvent,
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
    "Download",
    "Edited",
    "Event",
    "EventKind",
    "EventStream",
    "Expired",
    "HelloCodeError",
    "History",
    "InvalidInput",
    "Invitation",
    "InvitationEvent",
    "InvitationState",
    "InviteContext",
    "InviteLink",
    "IssuedBotToken",
    "IssuedInviteLink",
    "Language",
    "ListenerHandle",
    "Mention",
    "Message",
    "MessageEvent",
    "NotAllowed",
    "NotFound",
    "Online",
    "Participant",
    "Attachment",
    "PendingSend",
    "PersistenceError",
    "Presence",
    "ProtocolError",
    "QueueFull",
    "RateLimited",
    "Read",
    "ReadPosition",
    "Rest",
    "Role",
    "SendUpdate",
    "ServerError",
    "Timeout",
    "TransferProgress",
    "TransportError",
    "Typing",
    "UnknownEvent",
    "Unsupported",
    "User",
    "UserArg",
    "__version__",
    "checks",
    "connect",
]
