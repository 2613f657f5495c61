"""Each error class raised as its exception, with the SDK's stable code."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

import hellocode
from conftest import PASSWORD, REPO, Server, unique_name
from helpers import next_of, register, run
from proxy import Proxy

T = TypeVar("T")


async def raises(kind: type[hellocode.HelloCodeError], code: str, awaitable: Awaitable[T]) -> None:
    with pytest.raises(kind) as caught:
        await awaitable
    assert caught.value.code == code, caught.value
    assert isinstance(caught.value, hellocode.HelloCodeError)
    assert str(caught.value)


def test_auth_errors(server: Server) -> None:
    async def scenario() -> None:
        alice = await register(server.url)
        await raises(
            hellocode.AuthError,
            "invalid_credentials",
            hellocode.connect(server.url, username=alice.username, password="wrong password"),
        )
        await raises(
            hellocode.AuthError, "invalid_token", hellocode.connect(server.url, token="not.a.jwt")
        )
        await raises(
            hellocode.AuthError,
            "username_taken",
            hellocode.connect(
                server.url,
                username=alice.username,
                email="other@example.org",
                password=PASSWORD,
                register=True,
            ),
        )
        await alice.close()

    run(scenario())


def test_not_allowed_not_found_invalid_input(server: Server) -> None:
    async def scenario() -> None:
        a = await register(server.url)
        b = await register(server.url)
        e = await register(server.url)
        chat = await a.create_chat([b.username])
        sent = await a.send(chat.id, "mine")

        await raises(hellocode.NotAllowed, "forbidden", e.send(chat.id, "let me in"))
        await raises(hellocode.NotAllowed, "forbidden", e.fetch_messages(chat.id))
        await raises(hellocode.NotAllowed, "forbidden", b.edit_message(chat.id, sent.seq, "x"))

        await raises(hellocode.NotFound, "not_found", a.fetch_messages(10**12))
        await raises(hellocode.NotFound, "not_found", a.edit_message(chat.id, 999, "x"))
        await raises(hellocode.NotFound, "not_found", a.delete_message(chat.id, 999))
        await raises(hellocode.NotFound, "not_found", a.create_chat([unique_name("nobody")]))

        await raises(hellocode.InvalidInput, "invalid_field", a.fetch_messages(chat.id, limit=0))
        await raises(hellocode.InvalidInput, "invalid_field", a.create_chat([]))
        with pytest.raises(hellocode.InvalidInput) as too_long:
            a.enqueue(chat.id, "x" * (hellocode.MAX_MESSAGE_CHARS + 1))
        assert too_long.value.code == "invalid_argument"
        await raises(
            hellocode.InvalidInput,
            "invalid_argument",
            a.send(chat.id, "x" * (hellocode.MAX_MESSAGE_CHARS + 1)),
        )
        with pytest.raises(hellocode.InvalidInput):
            a.enqueue_with_client_id(chat.id, "x", "")
        name = unique_name("weak")
        await raises(
            hellocode.InvalidInput,
            "validation_failed",
            hellocode.connect(
                server.url, username=name, email=f"{name}@example.org", password="123", register=True
            ),
        )
        await raises(
            hellocode.InvalidInput,
            "invalid_url",
            hellocode.connect("http://example.org", username="a", password="b"),
        )
        for client in (a, b, e):
            await client.close()

    run(scenario())


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"username": "a"},
        {"token": "t", "username": "a"},
        {"register": True, "username": "a", "password": "b"},
        {"username": "a", "password": "b", "email": "c"},
        {"username": "a", "password": "b", "request_timeout": 0.0},
        {"register_or_login": True, "username": "a", "password": "b"},
        {"register_or_login": True, "register": True, "username": "a", "password": "b", "email": "c"},
        {"register_or_login": True, "token": "t"},
        {"username": "a", "password": "b", "connect_timeout": -1.0},
    ],
)
def test_bad_connect_arguments(kwargs: dict[str, Any]) -> None:
    async def scenario() -> None:
        with pytest.raises(hellocode.InvalidInput) as caught:
            await hellocode.connect("ws://127.0.0.1:1", **kwargs)
        assert caught.value.code == "invalid_argument"

    run(scenario())


def test_transport_error_when_nothing_listens() -> None:
    async def scenario() -> None:
        await raises(
            hellocode.TransportError,
            "transport",
            hellocode.connect("ws://127.0.0.1:1", username="a", password="b"),
        )

    run(scenario())


def test_client_closed(server: Server) -> None:
    async def scenario() -> None:
        client = await register(server.url)
        await client.close()
        await raises(hellocode.ClientClosed, "closed", client.ping())
        await raises(hellocode.ClientClosed, "closed", client.list_chats())
        with pytest.raises(hellocode.ClientClosed):
            client.enqueue(1, "x")
        await client.close()  # closing twice is fine

    run(scenario())


def test_timeout_when_the_network_is_silent(server: Server, proxy: Proxy) -> None:
    async def scenario() -> None:
        name = unique_name()
        client = await hellocode.connect(
            proxy.url,
            username=name,
            email=f"{name}@example.org",
            password=PASSWORD,
            register=True,
            request_timeout=0.5,
        )
        proxy.freeze()
        await raises(hellocode.Timeout, "timeout", client.ping())
        proxy.freeze(False)
        await client.close()

    run(scenario())


def test_connection_lost_before_the_reply(server: Server, proxy: Proxy) -> None:
    async def scenario() -> None:
        alice = await register(proxy.url)
        bob = await register(server.url)
        chat = await alice.create_chat([bob.username])
        sent = await alice.send(chat.id, "original")
        proxy.freeze()
        # An edit carries an idempotency key: resent once the connection is back, and applied
        # once whether or not the first one reached the server.
        editing = asyncio.ensure_future(alice.edit_message(chat.id, sent.seq, "edited"))
        # Cut only once the edit is on the wire (held by the frozen proxy).
        assert await asyncio.to_thread(proxy.holding.wait, 10), "the edit never left the client"
        proxy.cut_all()
        proxy.freeze(False)
        edited = await editing
        assert edited.content == "edited"
        # A bot token has no key (a second one would be another token): not resent, it fails.
        proxy.freeze()
        creating = asyncio.ensure_future(alice.create_bot_token("helper"))
        assert await asyncio.to_thread(proxy.holding.wait, 10), "the command never left"
        proxy.cut_all()
        proxy.freeze(False)
        await raises(hellocode.ConnectionLost, "connection_lost", creating)
        await alice.close()
        await bob.close()

    run(scenario())


def test_queue_full_and_expired(server: Server, proxy: Proxy) -> None:
    async def scenario() -> None:
        bob = await register(server.url)
        alice = await register(proxy.url, send_queue=2, send_expiry=0.5)
        chat = await alice.create_chat([bob.username])
        events = alice.events()
        proxy.freeze()
        first = alice.enqueue(chat.id, "one")
        second = alice.enqueue(chat.id, "two")
        with pytest.raises(hellocode.QueueFull) as full:
            alice.enqueue(chat.id, "three")
        assert full.value.code == "queue_full"

        # The first is on the (silent) wire awaiting its acknowledgement; the second waits
        # behind it in the queue and expires.
        update = await next_of(events, hellocode.SendUpdate)
        while update.state == "pending":
            update = await next_of(events, hellocode.SendUpdate)
        assert (update.state, update.client_id) == ("failed", second.client_id)
        assert isinstance(update.error, hellocode.Expired) and update.error.code == "expired"
        assert update.message is None
        assert [p.client_id for p in await alice.pending_sends()] == [first.client_id]
        await raises(hellocode.Expired, "expired", alice.send(chat.id, "three"))
        proxy.freeze(False)
        await alice.close()
        await bob.close()

    run(scenario())


# Codes that only the mapping test reaches: the SDK waits out `rate_limited` itself, and the
# server's protocol errors and `internal` need a broken client or server.
EXPECTED = {
    "invalid_credentials": hellocode.AuthError,
    "invalid_token": hellocode.AuthError,
    "username_taken": hellocode.AuthError,
    "not_authenticated": hellocode.AuthError,
    "already_authenticated": hellocode.AuthError,
    "forbidden": hellocode.NotAllowed,
    "impersonation": hellocode.NotAllowed,
    "wrong_chat": hellocode.NotAllowed,
    "not_found": hellocode.NotFound,
    "invalid_argument": hellocode.InvalidInput,
    "invalid_field": hellocode.InvalidInput,
    "missing_field": hellocode.InvalidInput,
    "validation_failed": hellocode.InvalidInput,
    "frame_too_large": hellocode.InvalidInput,
    "too_large": hellocode.InvalidInput,
    "invalid_url": hellocode.InvalidInput,
    "rate_limited": hellocode.RateLimited,
    "connection_lost": hellocode.ConnectionLost,
    "transport": hellocode.TransportError,
    "timeout": hellocode.Timeout,
    "closed": hellocode.ClientClosed,
    "queue_full": hellocode.QueueFull,
    "expired": hellocode.Expired,
    "protocol": hellocode.ProtocolError,
    "not_json": hellocode.ProtocolError,
    "not_an_object": hellocode.ProtocolError,
    "missing_command": hellocode.ProtocolError,
    "unknown_command": hellocode.ProtocolError,
    "internal": hellocode.ServerError,
    "unavailable": hellocode.ServerError,
    "persistence": hellocode.PersistenceError,
    "unsupported": hellocode.Unsupported,
}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_every_code_has_its_class(code: str) -> None:
    from hellocode._hellocode import _exception_for_code

    error = _exception_for_code(code, "message")
    assert type(error) is EXPECTED[code]
    assert error.code == code and str(error) == "message"
    with pytest.raises(EXPECTED[code]):
        raise error


def test_unknown_code_gets_the_base_class() -> None:
    from hellocode._hellocode import _exception_for_code

    error = _exception_for_code("something_new", "m")
    assert type(error) is hellocode.HelloCodeError and error.code == "something_new"
    assert hellocode.AuthError("made in Python").code == "invalid_credentials"


def _codes_in(path: str) -> set[str]:
    text = (REPO / path).read_text()
    return set(re.findall(r'=>\s*"([a-z_]+)"', text))


@pytest.mark.skipif(not (REPO / "hellocode-sdk").exists(), reason="not in the source tree")
def test_mapping_covers_every_sdk_and_server_code() -> None:
    """Fails when the SDK or the protocol gains a code this package does not map."""
    codes = _codes_in("hellocode-core/src/protocol/error_code.rs") | _codes_in(
        "hellocode-sdk/src/error.rs"
    )
    assert codes, "no codes found: did the sources move?"
    assert sorted(codes - set(EXPECTED)) == []
