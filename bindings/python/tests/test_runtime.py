"""One runtime per process: several clients at once, asyncio.run more than once, threads."""

from __future__ import annotations

import asyncio
import threading

import hellocode
from conftest import PASSWORD, Server, unique_name
from hellocode import blocking
from helpers import collect, register, run


def test_several_clients_at_once(server: Server) -> None:
    count = 8

    async def scenario() -> None:
        clients = await asyncio.gather(*(register(server.url) for _ in range(count)))
        host = clients[0]
        chat = await host.create_chat([c.username for c in clients[1:]])
        streams = [c.events() for c in clients]
        await asyncio.gather(*(c.send(chat.id, f"from {c.username}") for c in clients))
        for stream in streams:
            messages = await collect(stream, hellocode.MessageEvent, count)
            assert sorted(m.message.content for m in messages) == sorted(
                f"from {c.username}" for c in clients
            )
            assert [m.message.seq for m in messages] == list(range(1, count + 1))
        await asyncio.gather(*(c.close() for c in clients))

    run(scenario())


def test_asyncio_run_twice_and_a_client_across_loops(server: Server) -> None:
    async def first() -> hellocode.Client:
        client = await register(server.url)
        assert await client.ping() > 0
        return client

    client = run(first())
    assert isinstance(client, hellocode.Client)

    async def second() -> None:
        # A new loop: the runtime is module-global, so the client still works.
        assert await client.ping() > 0
        other = await register(server.url)
        chat = await other.create_chat([client.username])
        assert (await client.send(chat.id, "across loops")).seq == 1
        await other.close()
        await client.close()

    run(second())
    run(asyncio.sleep(0))


def test_threads_with_their_own_loops_and_blocking_clients(server: Server) -> None:
    errors: list[BaseException] = []

    def async_thread() -> None:
        async def scenario() -> None:
            async with await register(server.url) as client:
                for _ in range(20):
                    await client.ping()

        try:
            run(scenario())
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    def blocking_thread() -> None:
        try:
            name = unique_name("thread")
            with blocking.connect(
                server.url,
                username=name,
                email=f"{name}@example.org",
                password=PASSWORD,
                register=True,
            ) as client:
                for _ in range(20):
                    client.ping()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=async_thread) for _ in range(3)]
    threads += [threading.Thread(target=blocking_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)


def test_events_stream_ends_on_close(server: Server) -> None:
    async def scenario() -> None:
        client = await register(server.url)
        stream = client.events()
        await client.close()
        seen = [event async for event in stream]
        assert isinstance(seen[-1], hellocode.ConnectionChanged)
        assert seen[-1].state.kind == "closed"

    run(scenario())
