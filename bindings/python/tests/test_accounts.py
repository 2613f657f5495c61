"""Profiles, languages, contacts, bot tokens, membership, chat_with, history streams."""

from __future__ import annotations

import datetime

import pytest

import hellocode
from conftest import PASSWORD, Server, unique_name
from helpers import register, run


def test_profile_languages_and_find_users(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url) as alice, await register(server.url) as bob:
            language = unique_name("Lang")
            added = await alice.add_language(language)
            assert isinstance(added, hellocode.Language) and added.name == language
            assert await alice.add_language(language) == added  # existing: returned as it is
            assert added in await bob.languages()

            updated = await alice.update_profile(timezone="Europe/Paris", languages=[language])
            assert (updated.username, updated.timezone, updated.languages) == (
                alice.username,
                "Europe/Paris",
                [language],
            )
            assert await bob.get_user(alice.username) == updated
            assert [u.username for u in await bob.find_users(language.lower())] == [
                alice.username
            ]
            with pytest.raises(hellocode.NotFound):
                await bob.get_user(unique_name("ghost"))
            with pytest.raises(hellocode.HelloCodeError):
                await alice.update_profile(languages=[unique_name("NoSuchLanguage")])

    run(scenario())


def test_contacts(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url) as alice, await register(server.url) as bob:
            assert await alice.contacts() == []
            assert await alice.add_contact(bob.username) == [bob.username]
            assert await alice.contacts() == [bob.username]
            assert await alice.remove_contact(bob.username) == []

    run(scenario())


def test_bot_tokens(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url) as owner:
            issued = await owner.create_bot_token("helper")
            assert isinstance(issued, hellocode.IssuedBotToken)
            assert issued.name == "helper" and issued.token
            assert issued.token not in repr(issued)

            [listed] = await owner.bot_tokens()
            assert (listed.id, listed.name, listed.username, listed.revoked) == (
                issued.id,
                "helper",
                owner.username,
                False,
            )
            assert listed.created_at.tzinfo == datetime.timezone.utc

            bot = await hellocode.connect(server.url, token=issued.token)
            assert bot.username == owner.username
            await bot.close()

            await owner.revoke_bot_token(issued.id)
            [revoked] = await owner.bot_tokens()
            assert revoked.revoked
            with pytest.raises(hellocode.AuthError) as refused:
                await hellocode.connect(server.url, token=issued.token)
            assert refused.value.code == "invalid_token"

    run(scenario())


def test_register_or_login(server: Server) -> None:
    async def scenario() -> None:
        name = unique_name("bot")
        email = f"{name}@example.org"

        async def connect() -> hellocode.Client:
            return await hellocode.connect(
                server.url, register_or_login=True, username=name, email=email, password=PASSWORD
            )

        first = await connect()
        await first.close()
        again = await connect()
        assert again.username == name
        await again.close()
        with pytest.raises(hellocode.AuthError):
            await hellocode.connect(
                server.url,
                register_or_login=True,
                username=name,
                email=f"{name}@example.org",
                password="another long password",
            )

    run(scenario())


def test_membership_and_chat_with(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url) as alice, await register(
            server.url
        ) as bob, await register(server.url) as carol:
            chat = await alice.chat_with([bob.username])
            assert chat.kind == hellocode.ChatKind.DIRECT
            assert await alice.chat_with([bob.username]) == chat
            assert (await bob.chat_with([alice.username])).id == chat.id
            # A direct chat's two members never change: people join groups.
            with pytest.raises(hellocode.InvalidInput):
                await alice.add_participants(chat.id, [carol.username])

            group = await alice.create_group("Trio", [bob.username])
            grown = await alice.add_participants(group.id, [carol.username])
            assert grown.participants == sorted([alice.username, bob.username, carol.username])
            assert grown.role_of(carol.username) == hellocode.Role.MEMBER
            # Carol's joining is the group's first item; her post the second.
            assert (await carol.send(group.id, "hi all")).seq == 2
            with pytest.raises(hellocode.NotFound):
                await alice.add_participants(group.id, [unique_name("ghost")])
            with pytest.raises(hellocode.NotAllowed):
                await bob.add_participants(group.id, [unique_name("ghost")])

    run(scenario())


def test_history_stream(server: Server) -> None:
    total = 230  # more than two pages of 100

    async def scenario() -> None:
        async with await register(server.url) as alice, await register(server.url) as bob:
            chat = await alice.create_chat([bob.username])
            for i in range(total - 1):
                alice.enqueue(chat.id, f"h{i}")
            await alice.send(chat.id, f"h{total - 1}")

            seqs = [message.seq async for message in bob.history(chat.id)]
            assert seqs == list(range(total, 0, -1))
            older = [message.content async for message in bob.history(chat.id, before=5)]
            assert older == ["h3", "h2", "h1", "h0"]
            assert [m async for m in bob.history(chat.id, before=1)] == []

            async with await register(server.url) as eve:
                with pytest.raises(hellocode.NotAllowed):
                    async for _ in eve.history(chat.id):
                        pass

    run(scenario())
