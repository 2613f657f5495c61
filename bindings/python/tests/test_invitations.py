"""Invitations and invite links with the asyncio and the blocking client: announced, listed,
accepted, declined, cancelled; links joined, counted, revoked; resent after a cut connection
(and a new link not); and a bot's `@bot.on_invite`."""

from __future__ import annotations

import asyncio
import datetime

import pytest

import hellocode
from conftest import Server
from helpers import next_of, register, run
from proxy import Proxy
from test_blocking import connect
from test_bot import Chat, bot_account, running


def test_an_invitation_is_announced_listed_and_accepted(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "bob"
        ) as bob, await register(server.url, "dave") as dave:
            dave_events = dave.events()
            group = await alice.create_group("Crabs", [bob.username])
            await alice.send(group.id, "before dave")

            invitation = await alice.invite(group.id, dave.username)
            assert (invitation.chat_id, invitation.kind, invitation.name) == (
                group.id,
                hellocode.ChatKind.GROUP,
                "Crabs",
            )
            assert (invitation.inviter, invitation.invitee) == (alice.username, dave.username)
            assert invitation.state == hellocode.InvitationState.PENDING
            assert invitation.state.value == "pending" and str(invitation.state) == "pending"
            assert isinstance(invitation.created_at, datetime.datetime)
            assert "InvitationState.PENDING" in repr(invitation)
            announced = await next_of(dave_events, hellocode.InvitationEvent)
            assert announced.invitation == invitation
            # Inviting again returns the pending invitation as it is.
            assert await alice.invite(group.id, dave.username) == invitation
            assert await dave.invitations() == [invitation]
            with pytest.raises(hellocode.NotAllowed):
                await dave.fetch_messages(group.id)
            with pytest.raises(hellocode.NotAllowed):
                await bob.invite(group.id, dave.username)
            with pytest.raises(hellocode.InvalidInput):
                await alice.invite(group.id, bob.username)

            chat = await dave.accept_invitation(invitation.id)
            assert chat.id == group.id and chat.role_of(dave.username) == hellocode.Role.MEMBER
            assert (await next_of(dave_events, hellocode.ChatCreated)).chat.id == group.id
            join = (await next_of(dave_events, hellocode.ChatEvent)).message
            assert (join.kind, join.member, join.author) == (
                hellocode.EventKind.JOIN,
                dave.username,
                dave.username,
            )
            history = await dave.fetch_messages(group.id)
            assert "before dave" in [m.content for m in history]
            # Accepting again is answered with the chat; nothing is pending any more.
            assert (await dave.accept_invitation(invitation.id)).id == group.id
            assert await dave.invitations() == []

    run(scenario())


def test_declined_and_cancelled_invitations(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "bob"
        ) as bob, await register(server.url, "carol") as carol, await register(
            server.url, "erin"
        ) as erin:
            erin_events = erin.events()
            group = await alice.create_group("Crabs", [bob.username])
            declined = await alice.invite(group.id, carol.username)
            await carol.decline_invitation(declined.id)
            await carol.decline_invitation(declined.id)  # the same answer again
            with pytest.raises(hellocode.NotFound) as gone:
                await carol.accept_invitation(declined.id)
            assert gone.value.code == "not_found"
            assert await carol.invitations() == []

            cancelled = await alice.invite(group.id, erin.username)
            assert (await next_of(erin_events, hellocode.InvitationEvent)).invitation == cancelled
            await alice.cancel_invitation(cancelled.id)
            told = (await next_of(erin_events, hellocode.InvitationEvent)).invitation
            assert (told.id, told.state) == (cancelled.id, hellocode.InvitationState.CANCELLED)
            with pytest.raises(hellocode.NotAllowed):
                await bob.cancel_invitation((await alice.invite(group.id, erin.username)).id)
            with pytest.raises(hellocode.NotFound):
                await erin.accept_invitation(cancelled.id)

    run(scenario())


def test_invite_links_join_until_revoked(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "bob"
        ) as bob, await register(server.url, "carol") as carol, await register(
            server.url, "dave"
        ) as dave:
            group = await alice.create_group("Crabs", [bob.username])
            issued = await alice.create_invite_link(group.id, expires_in=3600, max_uses=5)
            link = issued.link
            assert (link.chat_id, link.created_by, link.uses, link.max_uses, link.revoked) == (
                group.id,
                alice.username,
                0,
                5,
                False,
            )
            assert link.expires_at - link.created_at == datetime.timedelta(hours=1)
            assert issued.token not in repr(issued), "the secret is never printed"
            # A part of a second counts as one; a negative lifetime is refused here.
            short = await alice.create_invite_link(group.id, expires_in=0.5)
            assert short.link.expires_at - short.link.created_at == datetime.timedelta(seconds=1)
            with pytest.raises(hellocode.InvalidInput) as refused:
                await alice.create_invite_link(group.id, expires_in=-1)
            assert refused.value.code == "invalid_argument"
            with pytest.raises(hellocode.InvalidInput) as refused:
                await alice.create_invite_link(group.id, max_uses=0)
            assert refused.value.code == "invalid_field"

            chat = await carol.join_by_link(issued.token)
            assert carol.username in chat.participants
            assert (await carol.join_by_link(issued.token)).id == group.id  # uses nothing
            listed = await alice.invite_links(group.id)
            assert [(l.id, l.uses) for l in listed] == [(link.id, 1), (short.link.id, 0)]
            with pytest.raises(hellocode.NotAllowed):
                await carol.invite_links(group.id)

            await alice.revoke_invite_link(group.id, link.id)
            with pytest.raises(hellocode.NotFound) as revoked:
                await dave.join_by_link(issued.token)
            with pytest.raises(hellocode.NotFound) as unknown:
                await dave.join_by_link("0" * 64)
            assert str(revoked.value) == str(unknown.value), "a revoked link tells nothing"
            assert await dave.list_chats() == []

    run(scenario())


def test_invitations_are_resent_after_a_cut_connection_and_a_new_link_is_not(
    server: Server, proxy: Proxy
) -> None:
    async def scenario() -> None:
        alice = await register(server.url, "alice")
        bob = await register(server.url, "bob")
        dave = await register(proxy.url, "dave")
        group = await alice.create_group("Crabs", [bob.username])
        invitation = await alice.invite(group.id, dave.username)
        proxy.freeze()
        # No key on the wire: accepting again is answered as the first time, so it is resent.
        accepting = asyncio.ensure_future(dave.accept_invitation(invitation.id))
        assert await asyncio.to_thread(proxy.holding.wait, 10), "the command never left"
        proxy.cut_all()
        proxy.freeze(False)
        assert (await accepting).id == group.id
        assert dave.username in (await alice.get_chat(group.id)).participants

        # Dave is a member now; the owner makes him an admin, who creates a link: a second one
        # would be another link, so a lost reply is dave's to know.
        await alice.set_role(group.id, dave.username, hellocode.Role.ADMIN)
        proxy.freeze()
        creating = asyncio.ensure_future(dave.create_invite_link(group.id))
        assert await asyncio.to_thread(proxy.holding.wait, 10), "the command never left"
        proxy.cut_all()
        proxy.freeze(False)
        with pytest.raises(hellocode.ConnectionLost) as lost:
            await creating
        assert lost.value.code == "connection_lost"
        for client in (alice, bob, dave):
            await client.close()

    run(scenario())


def test_blocking_client_invitations_and_links(server: Server) -> None:
    with connect(server) as alice, connect(server) as bob, connect(server) as carol, connect(
        server
    ) as dave:
        events = bob.events(timeout=10)
        group = alice.create_group("Blocking", [dave.username])
        invitation = alice.invite(group.id, bob.username)
        announced = next(e for e in events if isinstance(e, hellocode.InvitationEvent))
        assert announced.invitation == invitation
        assert bob.invitations() == [invitation]
        assert bob.accept_invitation(invitation.id).id == group.id
        alice.cancel_invitation(alice.invite(group.id, carol.username).id)
        assert carol.invitations() == []
        issued = alice.create_invite_link(group.id, max_uses=1)
        assert carol.join_by_link(issued.token).id == group.id
        assert [link.uses for link in alice.invite_links(group.id)] == [1]
        alice.revoke_invite_link(group.id, issued.link.id)
        assert alice.invite_links(group.id)[0].revoked
        other = alice.invite(alice.create_group("Other", [dave.username]).id, carol.username)
        carol.decline_invitation(other.id)
        assert carol.invitations() == []


def test_invite_handlers_accept_or_decline(server: Server) -> None:
    async def scenario() -> None:
        name, password = await bot_account(server.url)
        owner = await register(server.url, "owner")
        stranger = await register(server.url, "stranger")
        # Made before the bot runs: answered when it starts.
        early = await owner.create_group("Early", [stranger.username])
        await owner.invite(early.id, name)
        in_early = Chat(owner, early.id, name)
        bot = hellocode.Bot(server.url, username=name, password=password)
        answered: asyncio.Queue[tuple[int, str]] = asyncio.Queue()

        @bot.command("echo")
        async def echo(ctx: hellocode.Context, text: hellocode.Rest) -> str:
            return text

        @bot.on_invite
        async def decide(ctx: hellocode.InviteContext) -> str | None:
            assert ctx.invitation.state == hellocode.InvitationState.PENDING
            assert ctx.bot_username == name and ctx.joined is None
            if ctx.inviter == owner.username:
                chat = await ctx.accept()
                assert ctx.joined == chat
                await answered.put((ctx.invitation.id, "accepted"))
                return f"hello, {ctx.chat_name}!"
            await ctx.decline()
            await answered.put((ctx.invitation.id, "declined"))
            return "never posted: not accepted"

        async with running(bot):
            assert (await answered.get())[1] == "accepted"
            assert await in_early.answer() == "hello, Early!"
            assert await in_early.ask("!echo hi") == "hi"
            # Live: declined.
            trap = await stranger.create_group("Trap", [owner.username])
            declined = await stranger.invite(trap.id, name)
            assert await answered.get() == (declined.id, "declined")
            with pytest.raises(hellocode.NotFound):
                await stranger.cancel_invitation(declined.id)  # no longer pending
            # Live: accepted, and the greeting is the bot's first post there.
            late = await owner.create_group("Late", [stranger.username])
            in_late = Chat(owner, late.id, name)
            accepted = await owner.invite(late.id, name)
            assert await answered.get() == (accepted.id, "accepted")
            assert await in_late.answer() == "hello, Late!"
        await owner.close()
        await stranger.close()

    run(scenario())
