"""Two clients chatting, history pages, and every operation of the asyncio client."""

from __future__ import annotations

import asyncio
import datetime

import hellocode
from conftest import Server
from helpers import collect, next_of, register, run


def test_two_clients_chat(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "bob"
        ) as bob:
            bob_events = bob.events()
            bob_events_too = bob.events()
            chat = await alice.create_chat([bob.username])
            assert isinstance(chat, hellocode.Chat)
            assert chat.participants == sorted([alice.username, bob.username])
            assert chat.last_seq == 0
            created = await next_of(bob_events, hellocode.ChatCreated)
            assert created.chat == chat

            before = datetime.datetime.now(datetime.timezone.utc)
            sent = await alice.send(chat.id, "hello, bob")
            assert (sent.chat_id, sent.seq, sent.author, sent.content) == (
                chat.id,
                1,
                alice.username,
                "hello, bob",
            )
            assert sent.timestamp.tzinfo == datetime.timezone.utc
            assert abs((sent.timestamp - before).total_seconds()) < 5
            assert sent.edited_at is None and not sent.deleted and sent.client_id

            received = await next_of(bob_events, hellocode.MessageEvent)
            assert received.message == sent
            # Each subscriber gets its own objects; equal by value.
            same = await next_of(bob_events_too, hellocode.MessageEvent)
            assert same == received and same is not received
            assert same != created and received != received.message
            assert "hello, bob" in repr(received) and repr(received).startswith("MessageEvent(")

            reply = await bob.send(chat.id, "hi alice")
            assert reply.seq == 2
            assert [c.id for c in await bob.list_chats()] == [chat.id]
            assert await bob.positions() == {chat.id: 2}

    run(scenario())


def test_history_pages(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url) as alice, await register(server.url) as bob:
            chat = await alice.create_chat([bob.username])
            for i in range(25):
                alice.enqueue(chat.id, f"message {i}")
            await alice.send(chat.id, "message 25")

            first = await bob.fetch_messages(chat.id)
            assert [m.seq for m in first] == list(range(26, 16, -1))  # newest first, 10
            pages = list(first)
            while pages[-1].seq > 1:
                page = await bob.fetch_messages(chat.id, before=pages[-1].seq, limit=7)
                assert 0 < len(page) <= 7
                pages += page
            assert [m.seq for m in pages] == list(range(26, 0, -1))
            assert [m.content for m in reversed(pages)] == [f"message {i}" for i in range(26)]
            assert await bob.fetch_messages(chat.id, before=1) == []
            assert len(await bob.fetch_messages(chat.id, limit=100)) == 26

    run(scenario())


def test_edit_delete_typing_read(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url) as alice, await register(server.url) as bob:
            events = bob.events()
            chat = await alice.create_chat([bob.username])
            sent = await alice.send(chat.id, "tpyo")
            edited = await alice.edit_message(chat.id, sent.seq, "typo")
            assert (edited.seq, edited.content) == (sent.seq, "typo")
            assert edited.edited_at is not None
            assert edited.edited_at.tzinfo == datetime.timezone.utc

            got = await next_of(events, hellocode.Edited)
            assert got.message == edited

            await alice.typing(chat.id)
            typing = await next_of(events, hellocode.Typing)
            assert (typing.chat_id, typing.username) == (chat.id, alice.username)

            await alice.mark_read(chat.id, sent.seq)
            read = await next_of(events, hellocode.Read)
            assert (read.chat_id, read.username, read.seq) == (chat.id, alice.username, 1)

            await alice.delete_message(chat.id, sent.seq)
            deleted = await next_of(events, hellocode.Deleted)
            assert (deleted.chat_id, deleted.seq) == (chat.id, sent.seq)
            [stored] = await bob.fetch_messages(chat.id)
            assert stored.deleted and stored.content == ""

    run(scenario())


def test_ping_find_users_state_and_token(server: Server) -> None:
    async def scenario() -> None:
        alice = await register(server.url)
        assert 0 < await alice.ping() < 5
        users = await alice.find_users("Rust")
        assert isinstance(users, list)
        assert all(isinstance(user, hellocode.User) for user in users)
        assert alice.state.kind == "connected" and alice.state.username == alice.username
        token = alice.token
        assert token
        await alice.close()
        closed = alice.state  # a new value (mypy would keep the narrowed "connected")
        assert closed.kind == "closed" and closed.error is None

        again = await hellocode.connect(server.url, token=token)
        assert again.username == alice.username
        await again.close()

    run(scenario())


def test_send_states_via_enqueue(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url) as alice, await register(server.url) as bob:
            chat = await alice.create_chat([bob.username])
            events = alice.events()
            pending = alice.enqueue(chat.id, "local echo")
            assert isinstance(pending, hellocode.PendingSend)
            assert (pending.chat_id, pending.content) == (chat.id, "local echo")

            updates = [u for u in await collect(events, hellocode.SendUpdate, 2)]
            assert [u.state for u in updates] == ["pending", "sent"]
            assert {u.client_id for u in updates} == {pending.client_id}
            assert updates[0].message is None and updates[0].error is None
            stored = updates[1].message
            assert stored is not None
            assert (stored.content, stored.client_id) == ("local echo", pending.client_id)
            assert await alice.pending_sends() == []

            # The same client id twice: stored once.
            first = alice.enqueue_with_client_id(chat.id, "once", "my-key-1")
            second = alice.enqueue_with_client_id(chat.id, "once", "my-key-1")
            assert first == second
            again = await alice.send(chat.id, "once", client_id="my-key-1")
            history = await alice.fetch_messages(chat.id)
            assert [m.content for m in history].count("once") == 1
            assert again.client_id == "my-key-1"

    run(scenario())


def test_listener_callbacks(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url) as alice, await register(server.url) as bob:
            loop = asyncio.get_running_loop()
            seen: list[hellocode.Event] = []
            arrived = asyncio.Event()
            coroutine_ran = asyncio.Event()

            def on_event(event: hellocode.Event) -> None:
                # A runtime thread, GIL taken: hand over to the loop.
                seen.append(event)
                if isinstance(event, hellocode.MessageEvent):
                    loop.call_soon_threadsafe(arrived.set)

            async def on_event_async(event: hellocode.Event) -> None:
                if isinstance(event, hellocode.MessageEvent):
                    coroutine_ran.set()

            handle = bob.add_listener(on_event)
            async_handle = bob.add_listener(on_event_async)
            chat = await alice.create_chat([bob.username])
            await alice.send(chat.id, "to the listener")
            await asyncio.wait_for(arrived.wait(), 10)
            await asyncio.wait_for(coroutine_ran.wait(), 10)
            messages = [e for e in seen if isinstance(e, hellocode.MessageEvent)]
            assert [m.message.content for m in messages] == ["to the listener"]

            # A positive marker: a listener that stays sees "marker", sent after "after
            # removal"; by then a listener still in place would have been called with it.
            marker = asyncio.Event()

            def on_marker(event: hellocode.Event) -> None:
                if isinstance(event, hellocode.MessageEvent) and event.message.content == "marker":
                    loop.call_soon_threadsafe(marker.set)

            bob.add_listener(on_marker)
            handle.remove()
            handle.remove()  # idempotent
            async_handle.remove()
            count = len(seen)
            await alice.send(chat.id, "after removal")
            await alice.send(chat.id, "marker")
            await asyncio.wait_for(marker.wait(), 10)
            assert len(seen) == count

    run(scenario())


def test_listener_exception_is_reported_not_fatal(server: Server) -> None:
    import sys

    reported: list[BaseException] = []

    def hook(unraisable: "sys.UnraisableHookArgs") -> None:
        if unraisable.exc_value is not None:
            reported.append(unraisable.exc_value)

    async def scenario() -> None:
        async with await register(server.url) as alice, await register(server.url) as bob:
            calls: list[str] = []

            def failing(event: hellocode.Event) -> None:
                if isinstance(event, hellocode.MessageEvent):
                    calls.append(event.message.content)
                    raise ValueError("listener bug")

            bob.add_listener(failing)
            chat = await alice.create_chat([bob.username])
            await alice.send(chat.id, "one")
            await alice.send(chat.id, "two")
            for _ in range(100):
                if len(calls) == 2:
                    break
                await asyncio.sleep(0.05)
            assert calls == ["one", "two"]  # the listener goes on after raising

    old = sys.unraisablehook
    sys.unraisablehook = hook
    try:
        run(scenario())
    finally:
        sys.unraisablehook = old
    assert len(reported) == 2 and all(isinstance(e, ValueError) for e in reported)
