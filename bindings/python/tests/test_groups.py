"""Groups: roles, names and topics, removal, leaving, deletion, and a chat's events (live and
resumed after a lost connection), with the asyncio and the blocking client."""

from __future__ import annotations

import pytest

import hellocode
from conftest import Server
from helpers import next_of, register, run
from hellocode import blocking
from proxy import Proxy
from test_blocking import connect


async def next_item(events: hellocode.EventStream) -> hellocode.Message:
    """The next chat item, post or event, skipping other events."""
    while True:
        event = await next_of(events, object)
        if isinstance(event, (hellocode.MessageEvent, hellocode.ChatEvent)):
            return event.message


def test_roles_names_and_the_values_of_a_group(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "bob"
        ) as bob, await register(server.url, "carol") as carol, await register(
            server.url, "dave"
        ) as dave:
            carol_events = carol.events()
            group = await alice.create_group("Crabs", [bob.username, carol.username])
            assert group.kind == hellocode.ChatKind.GROUP and group.kind.value == "group"
            assert (group.name, group.topic, group.last_seq) == ("Crabs", None, 0)
            assert [(m.username, m.role) for m in group.members] == [
                (alice.username, hellocode.Role.OWNER),
                (bob.username, hellocode.Role.MEMBER),
                (carol.username, hellocode.Role.MEMBER),
            ]
            assert group.role_of(alice.username) == hellocode.Role.OWNER
            assert group.role_of(dave.username) is None
            assert "Crabs" in repr(group) and "Role.OWNER" in repr(group)
            assert (await next_of(carol_events, hellocode.ChatCreated)).chat == group

            # A role as a `Role` or by its name.
            changed = await alice.set_role(group.id, bob.username, hellocode.Role.ADMIN)
            assert changed.role_of(bob.username) == hellocode.Role.ADMIN
            role = await next_of(carol_events, hellocode.ChatEvent)
            event = role.message
            assert (event.kind, event.member, event.role, event.author, event.seq) == (
                hellocode.EventKind.ROLE,
                bob.username,
                hellocode.Role.ADMIN,
                alice.username,
                1,
            )
            assert not event.is_post and event.kind.value == "role" and str(event.kind) == "role"
            assert "kind=EventKind.ROLE" in repr(event)
            changed_event = await next_of(carol_events, hellocode.ChatChanged)
            assert changed_event.chat == changed

            with pytest.raises(hellocode.NotAllowed):
                await carol.add_participants(group.id, [dave.username])
            grown = await bob.add_participants(group.id, [dave.username])
            assert dave.username in grown.participants
            join = (await next_of(carol_events, hellocode.ChatEvent)).message
            assert (join.kind, join.member, join.author, join.role) == (
                hellocode.EventKind.JOIN,
                dave.username,
                bob.username,
                hellocode.Role.MEMBER,
            )
            renamed = await bob.update_chat(group.id, name="Ferris fans", topic="all things Rust")
            assert (renamed.name, renamed.topic) == ("Ferris fans", "all things Rust")
            cleared = await alice.update_chat(group.id, topic="")
            assert (cleared.name, cleared.topic) == ("Ferris fans", None)
            assert await carol.get_chat(group.id) == cleared
            kinds = [(await next_of(carol_events, hellocode.ChatEvent)).message for _ in range(3)]
            assert [(e.kind, e.content) for e in kinds] == [
                (hellocode.EventKind.RENAME, "Ferris fans"),
                (hellocode.EventKind.TOPIC, "all things Rust"),
                (hellocode.EventKind.TOPIC, ""),
            ]

            with pytest.raises(hellocode.NotAllowed):
                await carol.update_chat(group.id, name="Mine")
            with pytest.raises(hellocode.NotAllowed):
                await bob.set_role(group.id, carol.username, "admin")
            with pytest.raises(hellocode.InvalidInput):
                await alice.set_role(group.id, carol.username, "boss")  # type: ignore[arg-type]
            smaller = await bob.remove_participant(group.id, dave.username)
            assert dave.username not in smaller.participants
            with pytest.raises(hellocode.NotFound):
                await alice.remove_participant(group.id, dave.username)
            with pytest.raises(hellocode.NotAllowed):
                await dave.get_chat(group.id)

            direct = await alice.create_chat([dave.username])
            assert direct.kind == hellocode.ChatKind.DIRECT and direct.role_of(alice.username) is None
            assert [m.role for m in direct.members] == [None, None]
            with pytest.raises(hellocode.InvalidInput):
                await alice.update_chat(direct.id, name="Us")

    run(scenario())


def test_leaving_and_deleting(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "bob"
        ) as bob:
            alice_events, bob_events = alice.events(), bob.events()
            group = await alice.create_group("Crabs", [bob.username])
            await alice.send(group.id, "hi")
            assert (await next_item(bob_events)).content == "hi"
            # The owner leaves: bob, the only one left, owns it now; alice's client forgets it.
            await alice.leave_chat(group.id)
            leave, handover = await next_item(bob_events), await next_item(bob_events)
            assert (leave.kind, leave.member) == (hellocode.EventKind.LEAVE, alice.username)
            assert (handover.kind, handover.member, handover.role) == (
                hellocode.EventKind.ROLE,
                bob.username,
                hellocode.Role.OWNER,
            )
            assert (await next_item(alice_events)).content == "hi"
            assert (await next_item(alice_events)).kind == hellocode.EventKind.LEAVE
            assert group.id not in await alice.positions()
            with pytest.raises(hellocode.NotAllowed):
                await alice.leave_chat(group.id)

            direct = await alice.create_chat([bob.username])
            await bob.delete_chat(direct.id)
            deleted = await next_of(alice_events, hellocode.ChatDeleted)
            assert (deleted.chat_id, deleted.by) == (direct.id, bob.username)
            assert repr(deleted).startswith("ChatDeleted(")
            assert direct.id not in await alice.positions()
            with pytest.raises(hellocode.NotFound):
                await alice.get_chat(direct.id)

    run(scenario())


def test_events_missed_while_away_are_resumed_in_order(server: Server, proxy: Proxy) -> None:
    async def scenario() -> None:
        alice = await register(server.url, "alice")
        dave = await register(server.url, "dave")
        bob = await register(proxy.url, "bob")
        bob_events = bob.events()
        group = await alice.create_group("Crabs", [bob.username])
        first = await alice.send(group.id, "helo")
        second = await alice.send(group.id, "oops")
        assert [(await next_item(bob_events)).seq for _ in range(2)] == [1, 2]

        proxy.set_down(True)
        while True:
            changed = await next_of(bob_events, hellocode.ConnectionChanged)
            if changed.state.kind == "reconnecting":
                break
        await alice.edit_message(group.id, first.seq, "hello")
        await alice.delete_message(group.id, second.seq)
        await alice.add_participants(group.id, [dave.username])
        await alice.update_chat(group.id, name="Ferris fans")
        last = await alice.send(group.id, "welcome dave")
        proxy.set_down(False)

        got = [await next_item(bob_events) for _ in range(5)]
        assert [m.seq for m in got] == [3, 4, 5, 6, 7]
        assert [m.kind for m in got] == [
            hellocode.EventKind.EDIT,
            hellocode.EventKind.DELETE,
            hellocode.EventKind.JOIN,
            hellocode.EventKind.RENAME,
            hellocode.EventKind.MESSAGE,
        ]
        assert (got[0].target, got[0].content) == (first.seq, "hello")
        assert got[1].target == second.seq and got[2].member == dave.username
        assert got[4] == last
        # Nothing twice, and the live conveniences (`Edited`) only for live changes.
        await alice.edit_message(group.id, last.seq, "welcome, dave")
        live = await next_item(bob_events)
        assert (live.seq, live.kind, live.target) == (8, hellocode.EventKind.EDIT, last.seq)
        edited = await next_of(bob_events, hellocode.Edited)
        assert edited.message.content == "welcome, dave"
        for client in (alice, bob, dave):
            await client.close()

    run(scenario())


def test_blocking_group_operations(server: Server) -> None:
    with connect(server) as alice, connect(server) as bob, connect(server) as carol:
        events = bob.events(timeout=10)
        group = alice.create_group("Scripts", [bob.username])
        assert alice.set_role(group.id, bob.username, hellocode.Role.ADMIN).role_of(
            bob.username
        ) == hellocode.Role.ADMIN
        assert carol.username in bob.add_participants(group.id, [carol.username]).participants
        assert alice.update_chat(group.id, topic="cron jobs").topic == "cron jobs"
        assert carol.get_chat(group.id).name == "Scripts"
        assert carol.username not in alice.remove_participant(group.id, carol.username).participants
        kinds = []
        for event in events:
            if isinstance(event, hellocode.ChatEvent):
                kinds.append(event.message.kind)
                if len(kinds) == 4:
                    break
        assert kinds == [
            hellocode.EventKind.ROLE,
            hellocode.EventKind.JOIN,
            hellocode.EventKind.TOPIC,
            hellocode.EventKind.REMOVE,
        ]
        bob.leave_chat(group.id)
        with pytest.raises(hellocode.NotAllowed):
            bob.get_chat(group.id)
        alice.delete_chat(group.id)
        with pytest.raises(hellocode.NotFound):
            alice.get_chat(group.id)
        assert isinstance(alice, blocking.Client)
