"""The server side drops the connection mid-traffic: nothing lost, nothing repeated."""

from __future__ import annotations

import asyncio

import pytest

import hellocode
from conftest import Server
from helpers import next_of, register, run
from proxy import Proxy


def test_cuts_mid_traffic_lose_and_repeat_nothing(server: Server, proxy: Proxy) -> None:
    total = 300

    async def scenario() -> None:
        # Both go through the proxy, so every cut drops the sender and the receiver.
        alice = await register(proxy.url)
        bob = await register(proxy.url)
        chat = await alice.create_chat([bob.username])
        bob_events = bob.events()
        alice_events = alice.events()
        await next_of(bob_events, hellocode.ChatCreated)

        received: list[hellocode.Message] = []
        sent_states: dict[str, str] = {}
        reconnects = 0

        async def receive() -> None:
            nonlocal reconnects
            async for event in bob_events:
                if isinstance(event, hellocode.MessageEvent):
                    received.append(event.message)
                    if len(received) == total:
                        return
                elif isinstance(event, hellocode.ConnectionChanged):
                    if event.state.kind == "reconnecting":
                        reconnects += 1

        async def track_sends() -> None:
            async for event in alice_events:
                if isinstance(event, hellocode.SendUpdate) and event.state != "pending":
                    sent_states[event.client_id] = event.state
                    if len(sent_states) == total:
                        return

        async def cut_repeatedly() -> None:
            for _ in range(4):
                await asyncio.sleep(0.15)
                proxy.cut_all()

        receiving = asyncio.ensure_future(receive())
        tracking = asyncio.ensure_future(track_sends())
        cutting = asyncio.ensure_future(cut_repeatedly())
        pending = []
        for i in range(total):
            pending.append(alice.enqueue(chat.id, f"m{i}"))
            if i % 20 == 0:
                await asyncio.sleep(0.02)
        await asyncio.wait_for(asyncio.gather(receiving, tracking, cutting), 60)

        assert [m.seq for m in received] == list(range(1, total + 1))
        assert [m.content for m in received] == [f"m{i}" for i in range(total)]
        assert set(sent_states.values()) == {"sent"}
        assert set(sent_states) == {p.client_id for p in pending}
        assert proxy.connections > 2 and reconnects >= 1
        history = await bob.fetch_messages(chat.id, limit=100)
        assert history[0].seq == total
        assert await bob.positions() == {chat.id: total}
        await alice.close()
        await bob.close()

    run(scenario(), timeout=90)


def test_given_several_nodes_the_client_fails_over_when_its_node_dies(
    server: Server, proxy: Proxy
) -> None:
    async def scenario() -> None:
        bob = await register(server.url)
        # The proxy stands for the first node; the server itself for the second.
        alice = await register([proxy.url, server.url])
        assert proxy.connections == 1, "the first node that answers"
        events = alice.events()
        chat = await bob.create_chat([alice.username])
        await next_of(events, hellocode.ChatCreated)
        proxy.set_down(True)  # the first node dies
        await bob.send(chat.id, "written while alice fails over")
        got = await next_of(events, hellocode.MessageEvent)
        assert (got.message.seq, got.message.content) == (1, "written while alice fails over")
        assert alice.state.kind == "connected"
        await alice.send(chat.id, "and back")
        assert await alice.positions() == {chat.id: 2}
        await alice.close()
        await bob.close()

    run(scenario(), timeout=60)


def test_a_list_of_nodes_must_hold_urls(server: Server) -> None:
    async def scenario() -> None:
        with pytest.raises(hellocode.InvalidInput):
            await hellocode.connect([], username="a", password="p")
        with pytest.raises(TypeError):
            await hellocode.connect(42, username="a", password="p")  # type: ignore[arg-type]

    run(scenario(), timeout=10)
