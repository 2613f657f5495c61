"""The blocking client: same operations without asyncio; Ctrl-C interrupts a waiting call."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import hellocode
from conftest import PASSWORD, Server, unique_name
from hellocode import blocking


def connect(server: Server) -> blocking.Client:
    name = unique_name("blocking")
    return blocking.connect(
        server.url, username=name, email=f"{name}@example.org", password=PASSWORD, register=True
    )


def test_blocking_client_chats(server: Server) -> None:
    with connect(server) as alice, connect(server) as bob:
        assert isinstance(alice, blocking.Client)
        events = bob.events(timeout=10)
        chat = alice.create_chat([bob.username])
        sent = alice.send(chat.id, "from a script")
        assert (sent.seq, sent.author) == (1, alice.username)
        for event in events:
            if isinstance(event, hellocode.MessageEvent):
                assert event.message == sent
                break
        else:
            pytest.fail("no message event")
        pending = alice.enqueue(chat.id, "queued")
        alice.enqueue_with_client_id(chat.id, "keyed", "blocking-key")
        assert pending.chat_id == chat.id
        page = bob.fetch_messages(chat.id, limit=2)
        while len(page) < 2 or page[0].content != "keyed":
            time.sleep(0.05)
            page = bob.fetch_messages(chat.id, limit=2)
        assert [m.content for m in page] == ["keyed", "queued"]
        assert bob.fetch_messages(chat.id, before=2) == [sent]
        edited = alice.edit_message(chat.id, 1, "edited")
        assert edited.content == "edited"
        alice.delete_message(chat.id, 1)
        bob.typing(chat.id)
        bob.mark_read(chat.id, 3)
        assert alice.pending_sends() == []
        assert bob.list_chats()[0].id == chat.id
        assert isinstance(bob.find_users("Rust"), list)
        assert 0 < bob.ping() < 5
        # The edit and the deletion are items of the chat too (4 and 5).
        assert alice.positions() == {chat.id: 5}
        assert alice.state.kind == "connected" and alice.token
        with pytest.raises(hellocode.NotFound):
            alice.edit_message(chat.id, 99, "x")
    closed = alice.state  # a new value (mypy would keep the narrowed "connected")
    assert closed.kind == "closed"
    with pytest.raises(hellocode.ClientClosed):
        alice.ping()


def connected(events: blocking.Events) -> None:
    """Read what every connection starts with: the connected state, then who is online."""
    first = events.get(timeout=5)
    assert isinstance(first, hellocode.ConnectionChanged)
    assert first.state.kind == "connected"
    online = events.get(timeout=5)
    assert isinstance(online, hellocode.Online)
    assert online.usernames == []


def test_events_get_with_timeout(server: Server) -> None:
    with connect(server) as client:
        events = client.events()
        connected(events)
        started = time.monotonic()
        assert events.get(timeout=0.2) is None
        assert time.monotonic() - started > 0.15, "get(timeout=0.2) waited for it"
        assert list(client.events(timeout=0.1)) == []
    # Closed: the last event is the closed state, then the stream ends.
    rest = list(events)
    assert isinstance(rest[-1], hellocode.ConnectionChanged)
    assert rest[-1].state.kind == "closed"
    with pytest.raises(hellocode.ClientClosed):
        events.get(timeout=0.1)


def test_ctrl_c_interrupts_a_blocking_call(server: Server) -> None:
    # Python delivers signals to the main thread, where pytest runs its tests.
    assert threading.current_thread() is threading.main_thread()
    # A process started in the background by a non-interactive shell inherits SIGINT ignored,
    # and Python then installs no handler: install the usual one for this test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        interrupt_a_blocking_call(server)
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupt_a_blocking_call(server: Server) -> None:
    with connect(server) as client:
        events = client.events()
        connected(events)
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            events.get()  # would wait forever
        # The client still works afterwards.
        assert client.ping() > 0


def test_gil_is_released_while_waiting(server: Server) -> None:
    with connect(server) as client:
        events = client.events()
        connected(events)
        ticks = 0
        stop = threading.Event()

        def count() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                time.sleep(0.001)

        counter = threading.Thread(target=count)
        counter.start()
        try:
            assert events.get(timeout=0.5) is None
        finally:
            stop.set()
            counter.join()
        assert ticks > 50


def test_listener_may_call_the_blocking_client(server: Server) -> None:
    """A listener runs on a runtime thread; a blocking call from it must not deadlock."""
    with connect(server) as alice, connect(server) as bob:
        answers: list[float] = []
        done = threading.Event()

        def on_event(event: hellocode.Event) -> None:
            if isinstance(event, hellocode.MessageEvent) and event.message.content == "ping":
                answers.append(bob.ping())
                bob.send(event.message.chat_id, "pong")
                done.set()

        handle = bob.add_listener(on_event)
        chat = alice.create_chat([bob.username])
        alice.send(chat.id, "ping")
        assert done.wait(10)
        handle.remove()
        assert len(answers) == 1
        for event in alice.events(timeout=10):
            if isinstance(event, hellocode.MessageEvent) and event.message.author == bob.username:
                assert event.message.content == "pong"
                break
        else:
            pytest.fail("no pong")


def test_blocking_accounts_history_and_chat_with(server: Server) -> None:
    name = unique_name("script")

    def register_or_login() -> blocking.Client:
        return blocking.connect(
            server.url,
            register_or_login=True,
            username=name,
            email=f"{name}@example.org",
            password=PASSWORD,
        )

    register_or_login().close()
    with register_or_login() as alice, connect(server) as bob:
        chat = alice.chat_with([bob.username])
        assert alice.chat_with([bob.username]) == chat
        for i in range(120):
            alice.enqueue(chat.id, f"b{i}")
        alice.send(chat.id, "last")
        history = list(bob.history(chat.id))
        assert [m.seq for m in history] == list(range(121, 0, -1))
        assert [m.content for m in bob.history(chat.id, before=3)] == ["b1", "b0"]
        assert bob.add_contact(alice.username) == [alice.username]
        assert bob.remove_contact(alice.username) == bob.contacts() == []
        language = unique_name("Lang")
        assert bob.add_language(language) in bob.languages()
        assert bob.update_profile(languages=[language]).languages == [language]
        assert bob.get_user(bob.username).languages == [language]
        issued = bob.create_bot_token("script-bot")
        assert [t.id for t in bob.bot_tokens()] == [issued.id]
        bob.revoke_bot_token(issued.id)
        carol = connect(server)
        group = alice.create_group("Scripts", [bob.username])
        assert carol.username in alice.add_participants(group.id, [carol.username]).participants
        carol.close()
