"""Push notification settings: a device's pusher registered, changed, listed and removed; chats
muted and unmuted; bad pushers and strangers' mutes refused."""

from __future__ import annotations

import datetime

import pytest

import hellocode
import hellocode.blocking
from conftest import PASSWORD, Server, unique_name
from helpers import register, run

APP = "org.example.chat.android"
GATEWAY = "https://push.example.org/_matrix/push/v1/notify"


def test_pushers(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url) as bob:
            empty = await bob.push_settings()
            assert isinstance(empty, hellocode.PushSettings)
            assert (empty.pushers, empty.muted_chats) == ([], [])

            settings = await bob.set_pusher(
                APP, "fcm-token-of-bobs-phone", GATEWAY, device_name="Bob's phone", lang="en"
            )
            [pusher] = settings.pushers
            assert isinstance(pusher, hellocode.Pusher)
            assert (
                pusher.app_id,
                pusher.pushkey,
                pusher.url,
                pusher.device_name,
                pusher.lang,
                pusher.previews,
            ) == (APP, "fcm-token-of-bobs-phone", GATEWAY, "Bob's phone", "en", True)
            assert pusher.created_at.tzinfo == datetime.timezone.utc
            # A push key is a device token: never printed.
            assert "fcm-token-of-bobs-phone" not in repr(pusher)
            assert "fcm-token-of-bobs-phone" not in repr(settings)
            assert "Bob's phone" in repr(pusher)

            # The same app id and push key: changed, not added; fields left out are cleared.
            changed = await bob.set_pusher(APP, "fcm-token-of-bobs-phone", GATEWAY, previews=False)
            [pusher] = changed.pushers
            assert (pusher.previews, pusher.device_name, pusher.lang) == (False, "", "")

            # Another device: listed by app id, then push key.
            both = await bob.set_pusher("org.example.chat.ios", "apns-token", GATEWAY)
            assert [(p.app_id, p.pushkey) for p in both.pushers] == [
                (APP, "fcm-token-of-bobs-phone"),
                ("org.example.chat.ios", "apns-token"),
            ]
            assert await bob.push_settings() == both

            after = await bob.remove_pusher(APP, "fcm-token-of-bobs-phone")
            assert [p.pushkey for p in after.pushers] == ["apns-token"]
            # Removing again changes nothing.
            assert await bob.remove_pusher(APP, "fcm-token-of-bobs-phone") == after
            assert (await bob.remove_pusher("org.example.chat.ios", "apns-token")).pushers == []

    run(scenario())


def test_muted_chats(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url) as alice, await register(
            server.url
        ) as bob, await register(server.url) as carol:
            chat = await alice.create_chat([bob.username])
            group = await alice.create_group("Team", [bob.username])

            muted = await bob.mute_chat(chat.id, True)
            assert muted.muted_chats == [chat.id]
            both = await bob.mute_chat(group.id, True)
            assert both.muted_chats == sorted([chat.id, group.id])
            assert (await bob.push_settings()).muted_chats == both.muted_chats
            # Muting is per user: alice's settings are her own.
            assert (await alice.push_settings()).muted_chats == []

            assert (await bob.mute_chat(chat.id, False)).muted_chats == [group.id]
            assert (await bob.mute_chat(chat.id, False)).muted_chats == [group.id]

            with pytest.raises(hellocode.NotAllowed) as refused:
                await carol.mute_chat(chat.id, True)
            assert refused.value.code == "forbidden"
            with pytest.raises(hellocode.NotFound) as missing:
                await carol.mute_chat(10**12, True)
            assert missing.value.code == "not_found"

    run(scenario())


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://push.example.org/_matrix/push/v1/notify", "http or https"),
        ("https://push.example.org/notify", "/_matrix/push/v1/notify"),
        ("https://user:secret@push.example.org/_matrix/push/v1/notify", "user name"),
    ],
)
def test_bad_pusher_urls_are_refused(server: Server, url: str, says: str) -> None:
    async def scenario() -> None:
        async with await register(server.url) as bob:
            with pytest.raises(hellocode.InvalidInput) as refused:
                await bob.set_pusher(APP, "k", url)
            assert refused.value.code == "invalid_field"
            assert says in str(refused.value)
            assert (await bob.push_settings()).pushers == []

    run(scenario())


def test_the_server_itself_is_no_gateway(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url) as bob:
            with pytest.raises(hellocode.InvalidInput) as refused:
                await bob.set_pusher(APP, "k", f"{server.http}/_matrix/push/v1/notify")
            assert refused.value.code == "invalid_field"

    run(scenario())


def test_blocking_client(server: Server) -> None:
    def connect() -> hellocode.blocking.Client:
        name = unique_name("blocking")
        return hellocode.blocking.connect(
            server.url, username=name, email=f"{name}@example.org", password=PASSWORD, register=True
        )

    with connect() as alice, connect() as bob:
        assert bob.push_settings().pushers == []
        settings = bob.set_pusher(APP, "token", GATEWAY, device_name="Laptop", previews=False)
        [pusher] = settings.pushers
        assert (pusher.device_name, pusher.previews, pusher.lang) == ("Laptop", False, "")
        chat = alice.create_chat([bob.username])
        assert bob.mute_chat(chat.id, True).muted_chats == [chat.id]
        assert bob.mute_chat(chat.id, False).muted_chats == []
        assert bob.remove_pusher(APP, "token").pushers == []
        with pytest.raises(hellocode.InvalidInput):
            bob.set_pusher(APP, "token", "http://push.example.org/")
