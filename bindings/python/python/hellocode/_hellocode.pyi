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
    """invalid_argument, invalid_field, missing_field, validation_failed, frame_too_large,
    too_large (a file), invalid_url."""

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

class Unsupported(HelloCodeError):
    """unsupported: the client's transport cannot do this (uploads and downloads need an HTTP
    address)."""

def _exception_for_code(code: str, message: str) -> HelloCodeError:
    """Test hook: the exception raised for an SDK error code."""

# ---- values ----

@final
class Role:
    """A member's role in a group: the owner (one per group: roles, deletion), admins (add and
    remove plain members, rename) and plain members."""

    OWNER: ClassVar[Role]
    ADMIN: ClassVar[Role]
    MEMBER: ClassVar[Role]
    @property
    def value(self) -> Literal["owner", "admin", "member"]:
        """The wire name."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ChatKind:
    """A direct chat (two people; its members never change) or a group."""

    DIRECT: ClassVar[ChatKind]
    GROUP: ClassVar[ChatKind]
    @property
    def value(self) -> Literal["direct", "group"]:
        """The wire name."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class EventKind:
    """What a chat item is: MESSAGE for a post, else the event."""

    MESSAGE: ClassVar[EventKind]
    #: `author` edited post `target`; `content` is the new text.
    EDIT: ClassVar[EventKind]
    #: `author` deleted post `target`.
    DELETE: ClassVar[EventKind]
    #: `member` joined with `role`, added by `author`.
    JOIN: ClassVar[EventKind]
    #: `member` left.
    LEAVE: ClassVar[EventKind]
    #: `author` removed `member`.
    REMOVE: ClassVar[EventKind]
    #: `member`'s role became `role`.
    ROLE: ClassVar[EventKind]
    #: `author` renamed the group to `content` (empty: no name).
    RENAME: ClassVar[EventKind]
    #: `author` set the topic to `content` (empty: none).
    TOPIC: ClassVar[EventKind]
    @property
    def value(
        self,
    ) -> Literal[
        "message", "edit", "delete", "join", "leave", "remove", "role", "rename", "topic"
    ]:
        """The wire name."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

#: A role as `set_role` takes it: a `Role`, or its name.
RoleLike = Union[Role, Literal["owner", "admin", "member"]]

@final
class Participant:
    """A member of a chat."""

    @property
    def username(self) -> str: ...
    @property
    def role(self) -> Optional[Role]:
        """Their role in a group; None in a direct chat."""
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Attachment:
    """A file a post carries (an attachment uploaded to its chat), or what an upload answers
    with: `id` goes to `send_with_attachments` and `download`."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def content_type(self) -> str:
        """The type the server detected from the content."""
    @property
    def size(self) -> int: ...
    @property
    def width(self) -> Optional[int]: ...
    @property
    def height(self) -> Optional[int]: ...
    @property
    def thumbnail(self) -> Optional[str]:
        """An image's thumbnail address (`/api/media/<id>/thumbnail`)."""
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Download:
    """A downloaded file: its bytes and the type the server detected when it was uploaded."""

    @property
    def content_type(self) -> str:
        """The media type, e.g. "image/png" or "text/plain; charset=utf-8"."""
    @property
    def data(self) -> bytes: ...
    def __len__(self) -> int: ...

@final
class Message:
    """A stored chat item: a post, or (`kind` other than `EventKind.MESSAGE`) an event of its
    chat."""

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
    @property
    def kind(self) -> EventKind:
        """EventKind.MESSAGE for a post, else the event."""
    @property
    def is_post(self) -> bool: ...
    @property
    def target(self) -> Optional[int]:
        """For an edit or a deletion: the seq of the post it changed."""
    @property
    def member(self) -> Optional[str]:
        """For a membership event: whose membership changed."""
    @property
    def role(self) -> Optional[Role]:
        """For a join or a role change: the member's role from then on."""
    @property
    def attachments(self) -> list[Attachment]:
        """The files a post carries."""
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Chat:
    """A conversation: a direct chat of two, or a group with roles, a name and a topic."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> ChatKind: ...
    @property
    def name(self) -> Optional[str]:
        """A group's name."""
    @property
    def topic(self) -> Optional[str]:
        """A group's topic."""
    @property
    def participants(self) -> list[str]:
        """Usernames, sorted."""
    @property
    def members(self) -> list[Participant]:
        """The participants with their roles, by username."""
    def role_of(self, username: str) -> Optional[Role]:
        """`username`'s role in this group (None if not in it, or in a direct chat)."""
    @property
    def last_seq(self) -> int:
        """Sequence number of the newest item (post or event), 0 when empty."""
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
class ReadPosition:
    """How far a member of a chat has read (``seq`` 0: nothing yet)."""

    @property
    def username(self) -> str: ...
    @property
    def seq(self) -> int: ...
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
class InvitationState:
    """Where an invitation stands: PENDING (waiting for the invitee), then ACCEPTED, DECLINED
    or CANCELLED (withdrawn by its inviter, an owner or an admin)."""

    PENDING: ClassVar[InvitationState]
    ACCEPTED: ClassVar[InvitationState]
    DECLINED: ClassVar[InvitationState]
    CANCELLED: ClassVar[InvitationState]
    @property
    def value(self) -> Literal["pending", "accepted", "declined", "cancelled"]:
        """The wire name."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Invitation:
    """An invitation of a user to a group, by one of its owners or admins. The invitee reads
    nothing of the chat until they accept."""

    @property
    def id(self) -> int:
        """For `accept_invitation`, `decline_invitation` and `cancel_invitation`."""
    @property
    def chat_id(self) -> int: ...
    @property
    def kind(self) -> ChatKind: ...
    @property
    def name(self) -> Optional[str]:
        """The chat's name as it now is, if it has one."""
    @property
    def inviter(self) -> str: ...
    @property
    def invitee(self) -> str: ...
    @property
    def state(self) -> InvitationState: ...
    @property
    def created_at(self) -> datetime.datetime: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class InviteLink:
    """An invite link of a group as its owners and admins see it (never its token)."""

    @property
    def id(self) -> int:
        """For `revoke_invite_link`."""
    @property
    def chat_id(self) -> int: ...
    @property
    def created_by(self) -> str: ...
    @property
    def created_at(self) -> datetime.datetime: ...
    @property
    def expires_at(self) -> datetime.datetime:
        """The first moment it no longer joins anyone."""
    @property
    def max_uses(self) -> Optional[int]:
        """How many joins it allows in all (None: no limit)."""
    @property
    def uses(self) -> int:
        """How many users joined with it so far."""
    @property
    def revoked(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class IssuedInviteLink:
    """An invite link just created; the server shows `token` this once (`repr` hides it)."""

    @property
    def link(self) -> InviteLink: ...
    @property
    def token(self) -> str:
        """The secret that joins the group (`join_by_link`)."""
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
class Pusher:
    """A device's registration for push notifications (`repr` hides `pushkey`)."""

    @property
    def app_id(self) -> str:
        """The app, reverse-DNS style (``org.example.chat.android``)."""
    @property
    def pushkey(self) -> str:
        """The device's token at FCM or APNs."""
    @property
    def url(self) -> str:
        """The gateway's notify URL (``https://…/_matrix/push/v1/notify``)."""
    @property
    def device_name(self) -> str:
        """A name the user recognises the device by (``""`` when not told)."""
    @property
    def lang(self) -> str:
        """The device's language tag (``""`` when not told)."""
    @property
    def previews(self) -> bool:
        """Whether notifications carry the message's text."""
    @property
    def created_at(self) -> datetime.datetime:
        """When it was registered or last changed."""
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class PushSettings:
    """A user's pushers and muted chats, as every push settings call returns them."""

    @property
    def pushers(self) -> list[Pusher]:
        """By app id, then push key."""
    @property
    def muted_chats(self) -> list[int]:
        """Ids of the chats that notify none of the user's devices, ascending."""
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
class Online:
    """Right after each (re)connection: who of the users sharing a chat with this one is
    online now. Everyone else is offline; ``Presence`` tells each later change."""

    @property
    def usernames(self) -> list[str]: ...
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
class ChatEvent:
    """An event of a chat (`message.kind`: edit, delete, join, leave, remove, role, rename,
    topic): exactly once and in order with the chat's messages, live or resumed after a
    reconnect."""

    @property
    def message(self) -> Message: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class ChatChanged:
    """A chat's members, roles, name or topic changed (live): the chat as it now is, after its
    `ChatEvent`s."""

    @property
    def chat(self) -> Chat: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class ChatDeleted:
    """A chat was deleted with its history (live); the client forgets it."""

    @property
    def chat_id(self) -> int: ...
    @property
    def by(self) -> str:
        """Who deleted it."""
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
class InvitationEvent:
    """This user was invited to a group (`invitation.state` is PENDING), or an invitation to
    them was withdrawn (CANCELLED). Live only: `Client.invitations()` lists the pending ones."""

    @property
    def invitation(self) -> Invitation: ...
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

#: A listener: called with each event on a background thread. A coroutine it returns is
#: scheduled on the asyncio loop that was running when the listener was added.
Listener = Callable[[Event], object]

@final
class ListenerHandle:
    def remove(self) -> None:
        """Stop calling the listener. Idempotent."""

# ---- asyncio client ----

async def connect(
    url: Union[str, Sequence[str]],
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
    """Connect to `url` (ws:// or wss://) and authenticate. Give a list of URLs for a
    deployment of several nodes: the client connects to the first that answers, and when its
    node dies it reconnects to another and resumes where it left off.

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
    messages (never twice). Close it with `await client.close()` or `async with client:`.

    Every operation that changes something is resent after a lost connection and applied once
    (messages, edits, deletions, chat creation and group changes carry an idempotency key; the
    others, invitations and invite links among them, change nothing when repeated), except
    `create_bot_token`, `create_invite_link` and `delete_chat`: those raise `ConnectionLost`
    when their reply was lost, since they may or may not have taken effect."""

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
    async def read_positions(self, chat_id: int) -> list[ReadPosition]: ...
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
    async def create_bot_token(self, name: str) -> IssuedBotToken:
        """A long-lived token a bot uses to act as this user (shown this once). Not resent after
        a lost connection (`ConnectionLost`): a second would be another token."""
    async def bot_tokens(self) -> list[BotToken]: ...
    async def revoke_bot_token(self, id: int) -> None: ...
    async def set_pusher(
        self,
        app_id: str,
        pushkey: str,
        url: str,
        *,
        device_name: Optional[str] = None,
        lang: Optional[str] = None,
        previews: Optional[bool] = None,
    ) -> PushSettings:
        """Register this device's pusher (its token at FCM or APNs, `pushkey`, for the gateway at
        `url`, ``http(s)://…/_matrix/push/v1/notify``), or change the one with the same `app_id`
        and `pushkey`. `previews` (default True): whether notifications carry the text. Raises
        `InvalidInput` (``invalid_field``: a bad URL, overlong fields, beyond 20 pushers)."""
    async def remove_pusher(self, app_id: str, pushkey: str) -> PushSettings:
        """Remove one of this user's pushers (removing one that is not there changes nothing)."""
    async def push_settings(self) -> PushSettings: ...
    async def mute_chat(self, chat_id: int, muted: bool) -> PushSettings:
        """Mute (or unmute) a chat's notifications on all this user's devices. Raises
        `NotAllowed` (a chat the user is not in), `NotFound`."""
    async def add_participants(self, chat_id: int, usernames: Sequence[str]) -> Chat:
        """Add users to a group (an owner or admin); returns the chat. Raises `NotAllowed`,
        `NotFound`, `InvalidInput` (a direct chat, an empty list, too many members)."""
    async def create_group(self, name: str, participants: Sequence[str]) -> Chat:
        """Create a group named `name` with these users; the caller owns it. Raises
        `InvalidInput`, `NotFound`."""
    async def get_chat(self, chat_id: int) -> Chat:
        """One of this user's chats as it now is. Raises `NotAllowed`, `NotFound`."""
    async def remove_participant(self, chat_id: int, username: str) -> Chat:
        """Remove a member (an owner anyone, an admin plain members); returns the chat. Raises
        `NotAllowed`, `NotFound`, `InvalidInput` (a direct chat)."""
    async def leave_chat(self, chat_id: int) -> None:
        """Leave a chat (an owner's group passes to the oldest admin, else member); the client
        forgets it. Raises `NotAllowed`, `NotFound`."""
    async def set_role(self, chat_id: int, username: str, role: RoleLike) -> Chat:
        """Give a member a role (the owner only; `Role.OWNER` hands ownership over). Raises
        `NotAllowed`, `NotFound`, `InvalidInput`."""
    async def update_chat(
        self, chat_id: int, *, name: Optional[str] = None, topic: Optional[str] = None
    ) -> Chat:
        """Rename a group and/or set its topic (an owner or admin); "" clears, None leaves
        alone. Raises `NotAllowed`, `NotFound`, `InvalidInput`."""
    async def delete_chat(self, chat_id: int) -> None:
        """Delete a chat and its history (either member of a direct chat, a group's owner).
        Not resent after a lost connection (`ConnectionLost`). Raises `NotAllowed`, `NotFound`."""
    async def chat_with(self, usernames: Sequence[str]) -> Chat:
        """The chat of exactly this user and `usernames` (for one other person, their direct
        chat): the existing one, else a new one."""
    async def invite(self, chat_id: int, username: str) -> Invitation:
        """Invite a user to a group (an owner or admin); returns the pending invitation (the
        pending one as it is if there is one). The invitee gets an `InvitationEvent`. Raises
        `NotAllowed`, `NotFound`, `InvalidInput` (a direct chat, a member)."""
    async def invitations(self) -> list[Invitation]:
        """This user's pending invitations, by id (every page)."""
    async def accept_invitation(self, invitation_id: int) -> Chat:
        """Accept an invitation: join its group as a member; returns the chat (a `ChatCreated`
        event follows, and the members get the join). Raises `NotFound` (not yours, answered,
        cancelled, or of a deleted chat), `InvalidInput` (the chat is full)."""
    async def decline_invitation(self, invitation_id: int) -> None:
        """Decline an invitation; nobody is told. Raises `NotFound`."""
    async def cancel_invitation(self, invitation_id: int) -> None:
        """Withdraw a pending invitation (its inviter, an owner or an admin); the invitee gets
        an `InvitationEvent` with state CANCELLED. A repeat of a cancellation that was applied
        raises `NotFound`. Raises `NotAllowed` (a plain member), `NotFound`."""
    async def create_invite_link(
        self, chat_id: int, *, expires_in: Optional[float] = None, max_uses: Optional[int] = None
    ) -> IssuedInviteLink:
        """Create an invite link to a group (an owner or admin): it joins whoever presents its
        token for `expires_in` seconds (default 7 days, at most 30; a part of a second counts as
        one), at most `max_uses` times (default: no limit). The token is in the result only.
        Not resent after a lost connection (`ConnectionLost`). Raises `NotAllowed`, `NotFound`,
        `InvalidInput`."""
    async def invite_links(self, chat_id: int) -> list[InviteLink]:
        """A group's invite links, by id (every page; revoked, expired and used-up ones
        included; never their tokens). For owners and admins. Raises `NotAllowed`, `NotFound`."""
    async def revoke_invite_link(self, chat_id: int, link_id: int) -> None:
        """Revoke an invite link: it joins no one from then on. Raises `NotAllowed`, `NotFound`."""
    async def join_by_link(self, token: str) -> Chat:
        """Join the group of an invite link as a member; returns the chat. A member already in
        it gets the chat (no use counted). Raises `NotFound` for an unknown, revoked, expired or
        used-up token alike (it says nothing of the chat)."""
    async def send_with_attachments(
        self, chat_id: int, text: str, attachments: Sequence[str]
    ) -> Message:
        """Send a message carrying files uploaded with `upload_attachment` (their ids, at most
        10; the text may then be empty), through the send queue as `send`; the stored message's
        `attachments` describe them. Raises `InvalidInput` for an id that is not a media id,
        `NotFound` for a file that is not an attachment of this chat."""
    async def upload_attachment(
        self,
        chat_id: int,
        name: str,
        data: Union[bytes, bytearray],
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> Attachment:
        """Upload a file to a chat (the caller must be a member) over the server's HTTP
        routes; `progress(done, total)` is called as the bytes are sent (on the SDK's threads).
        Its `id` goes to `send_with_attachments`. Raises `NotAllowed` for a non-member,
        `InvalidInput` (`too_large`, `invalid_field`) for a refused file, `Unsupported` without
        an HTTP address."""
    async def upload_avatar(
        self,
        name: str,
        data: Union[bytes, bytearray],
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> Attachment:
        """Upload the user's picture (JPEG, PNG, GIF or WebP); the profile's `avatar` becomes
        its address, "/api/media/<id>"."""
    async def download(
        self, media: str, progress: Optional[Callable[[int, int], object]] = None
    ) -> Download:
        """Download a file by its id or its address on this server ("/api/media/<id>", as a
        profile's `avatar`); anything else raises `InvalidInput` before any request. Raises
        `NotFound` for what does not exist or may not be read."""
    async def download_thumbnail(
        self, media: str, progress: Optional[Callable[[int, int], object]] = None
    ) -> Download:
        """Download an image's thumbnail (fits 320 x 320), by the image's id or address."""
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
    """`hellocode.blocking.Client`: the same client without asyncio (and the same resends: every
    operation that changes something is resent after a lost connection, except
    `create_bot_token`, `create_invite_link` and `delete_chat`, which raise `ConnectionLost`)."""

    @staticmethod
    def connect(
        url: Union[str, Sequence[str]],
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
    def read_positions(self, chat_id: int) -> list[ReadPosition]: ...
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
    def set_pusher(
        self,
        app_id: str,
        pushkey: str,
        url: str,
        *,
        device_name: Optional[str] = None,
        lang: Optional[str] = None,
        previews: Optional[bool] = None,
    ) -> PushSettings: ...
    def remove_pusher(self, app_id: str, pushkey: str) -> PushSettings: ...
    def push_settings(self) -> PushSettings: ...
    def mute_chat(self, chat_id: int, muted: bool) -> PushSettings: ...
    def add_participants(self, chat_id: int, usernames: Sequence[str]) -> Chat: ...
    def create_group(self, name: str, participants: Sequence[str]) -> Chat: ...
    def get_chat(self, chat_id: int) -> Chat: ...
    def remove_participant(self, chat_id: int, username: str) -> Chat: ...
    def leave_chat(self, chat_id: int) -> None: ...
    def set_role(self, chat_id: int, username: str, role: RoleLike) -> Chat: ...
    def update_chat(
        self, chat_id: int, *, name: Optional[str] = None, topic: Optional[str] = None
    ) -> Chat: ...
    def delete_chat(self, chat_id: int) -> None: ...
    def chat_with(self, usernames: Sequence[str]) -> Chat: ...
    def invite(self, chat_id: int, username: str) -> Invitation: ...
    def invitations(self) -> list[Invitation]: ...
    def accept_invitation(self, invitation_id: int) -> Chat: ...
    def decline_invitation(self, invitation_id: int) -> None: ...
    def cancel_invitation(self, invitation_id: int) -> None: ...
    def create_invite_link(
        self, chat_id: int, *, expires_in: Optional[float] = None, max_uses: Optional[int] = None
    ) -> IssuedInviteLink: ...
    def invite_links(self, chat_id: int) -> list[InviteLink]: ...
    def revoke_invite_link(self, chat_id: int, link_id: int) -> None: ...
    def join_by_link(self, token: str) -> Chat: ...
    def send_with_attachments(
        self, chat_id: int, text: str, attachments: Sequence[str]
    ) -> Message: ...
    def upload_attachment(
        self,
        chat_id: int,
        name: str,
        data: Union[bytes, bytearray],
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> Attachment: ...
    def upload_avatar(
        self,
        name: str,
        data: Union[bytes, bytearray],
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> Attachment: ...
    def download(
        self, media: str, progress: Optional[Callable[[int, int], object]] = None
    ) -> Download: ...
    def download_thumbnail(
        self, media: str, progress: Optional[Callable[[int, int], object]] = None
    ) -> Download: ...
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
    """The message a bot handler runs for (for `Bot.on_join`, the join event), and ways to
    answer it."""

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
    def author(self) -> str:
        """Who sent the message; for a join, who added the member."""
    @property
    def member(self) -> Optional[str]:
        """For a join (`Bot.on_join`): who joined. None for a message."""
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
        """Whether the chat is a direct chat (the bot and one other person; not a group)."""
    @property
    def bot_username(self) -> str: ...
    @property
    def client(self) -> Client:
        """The bot's client (the same connection)."""

@final
class InviteContext:
    """What a `Bot.on_invite` handler gets: an invitation of the bot to a group, and the ways
    to answer it."""

    def accept(self) -> Awaitable[Chat]:
        """Join the group; resolves with the chat. The bot answers commands there from then
        on."""
    def decline(self) -> Awaitable[None]:
        """Decline; nobody is told."""
    @property
    def invitation(self) -> Invitation: ...
    @property
    def inviter(self) -> str: ...
    @property
    def chat_id(self) -> int: ...
    @property
    def chat_name(self) -> Optional[str]: ...
    @property
    def joined(self) -> Optional[Chat]:
        """The chat, once this context accepted the invitation."""
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
        join_handlers: Sequence[Callable[[Context], Awaitable[object]]] = (),
        invite_handlers: Sequence[Callable[[InviteContext], Awaitable[object]]] = (),
    ) -> None:
        """Start a bot over `client`, whose handlers run on the running loop, until `stop()` or
        the client closes; then call `on_done()` (on another thread)."""
