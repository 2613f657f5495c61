"""Files: uploads and downloads with progress, messages that carry them, avatars, thumbnails,
and the refusals (a stranger, an oversize file, a bad address) with their classes."""

from __future__ import annotations

import sys

import pytest

import hellocode
from conftest import PASSWORD, Server, unique_name
from hellocode import blocking
from helpers import next_of, register, run
from test_attachments import png

#: The type the server gives a UTF-8 text file.
TEXT = "text/plain; charset=utf-8"


class Recorder:
    """A progress callback that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))

    def check(self, size: int) -> None:
        """Increasing calls, each of `size`, the last at `size`."""
        assert self.calls, "progress was reported"
        dones = [done for done, _ in self.calls]
        assert dones == sorted(set(dones)), self.calls
        assert all(total == size for _, total in self.calls), self.calls
        assert self.calls[-1] == (size, size)


def test_a_file_goes_up_is_sent_and_comes_back(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "bob"
        ) as bob:
            bob_events = bob.events()
            chat = await alice.create_chat([bob.username])
            text = "".join(f"line {n}\n" for n in range(30_000)).encode()
            sent_progress = Recorder()
            file = await alice.upload_attachment(chat.id, "notes.txt", text, sent_progress)
            sent_progress.check(len(text))
            assert len(sent_progress.calls) > 3, "reported chunk by chunk"
            assert isinstance(file, hellocode.Attachment)
            assert (file.name, file.content_type, file.size) == ("notes.txt", TEXT, len(text))
            assert file.thumbnail is None

            sent = await alice.send_with_attachments(chat.id, "see file", [file.id])
            assert sent.attachments == [file]
            event = await next_of(bob_events, hellocode.MessageEvent)
            [received] = event.message.attachments
            assert (received.id, received.name, received.size) == (file.id, "notes.txt", len(text))

            got_progress = Recorder()
            download = await bob.download(received.id, got_progress)
            assert isinstance(download, hellocode.Download)
            assert (download.content_type, download.data) == (TEXT, text)
            assert len(download) == len(text)
            got_progress.check(len(text))
            # bytearray works too, and the progress callback is optional.
            again = await alice.upload_attachment(chat.id, "again.txt", bytearray(b"hi"))
            assert (await bob.download(f"/api/media/{again.id}")).data == b"hi"

    run(scenario())


def test_avatars_and_thumbnails(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "stranger"
        ) as stranger:
            picture = png(40, 30)
            avatar = await alice.upload_avatar("me.png", picture)
            assert (avatar.content_type, avatar.width, avatar.height) == ("image/png", 40, 30)
            profile = await stranger.get_user(alice.username)
            assert profile.avatar == f"/api/media/{avatar.id}"
            fetched = await stranger.download(profile.avatar)
            assert fetched.content_type == "image/png"
            assert fetched.data.startswith(b"\x89PNG") and len(fetched.data) == avatar.size
            thumbnail = await stranger.download_thumbnail(avatar.id)
            assert thumbnail.content_type == "image/png"

    run(scenario())


def test_refusals_have_their_classes(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "bob"
        ) as bob, await register(server.url, "carol") as carol:
            chat = await alice.create_chat([bob.username])
            file = await alice.upload_attachment(chat.id, "notes.txt", b"hello media")
            with pytest.raises(hellocode.NotAllowed) as refused:
                await carol.upload_attachment(chat.id, "mine.txt", b"let me in")
            assert refused.value.code == "forbidden"
            with pytest.raises(hellocode.NotFound):
                await carol.download(file.id)
            with pytest.raises(hellocode.InvalidInput) as bad:
                await bob.download("https://elsewhere.example/api/media/" + "0" * 64)
            assert bad.value.code == "invalid_argument"
            with pytest.raises(hellocode.InvalidInput) as bad:
                await alice.send_with_attachments(chat.id, "x", ["not-an-id"])
            assert bad.value.code == "invalid_argument"
            with pytest.raises(hellocode.InvalidInput) as bad:
                await alice.upload_avatar("notes.txt", b"not an image")
            assert bad.value.code == "invalid_field"
            # Beyond the server's 10 MiB.
            with pytest.raises(hellocode.InvalidInput) as big:
                await alice.upload_attachment(chat.id, "big.bin", bytes(10 * 1024 * 1024 + 1))
            assert big.value.code == "too_large"

    run(scenario())


def test_a_failing_progress_callback_does_not_stop_the_transfer(server: Server) -> None:
    reported: list[BaseException] = []

    def hook(unraisable: "sys.UnraisableHookArgs") -> None:
        if unraisable.exc_value is not None:
            reported.append(unraisable.exc_value)

    def broken(done: int, total: int) -> None:
        raise RuntimeError("a bug in the callback")

    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "bob"
        ) as bob:
            chat = await alice.create_chat([bob.username])
            file = await alice.upload_attachment(chat.id, "a.txt", b"still sent", broken)
            assert (await alice.download(file.id)).data == b"still sent"

    old = sys.unraisablehook
    sys.unraisablehook = hook
    try:
        run(scenario())
    finally:
        sys.unraisablehook = old
    assert reported and all(isinstance(error, RuntimeError) for error in reported)


def test_the_blocking_client_moves_files(server: Server) -> None:
    def connect(prefix: str) -> blocking.Client:
        name = unique_name(prefix)
        return blocking.connect(
            server.url, username=name, email=f"{name}@example.org", password=PASSWORD, register=True
        )

    with connect("alice") as alice, connect("bob") as bob:
        chat = alice.create_chat([bob.username])
        progress = Recorder()
        file = alice.upload_attachment(chat.id, "notes.txt", b"hello media", progress)
        progress.check(11)
        sent = alice.send_with_attachments(chat.id, "see file", [file.id])
        assert [a.id for a in sent.attachments] == [file.id]
        download = bob.download(file.id, progress)
        assert (download.content_type, download.data) == (TEXT, b"hello media")
        image = alice.upload_attachment(chat.id, "shot.png", png(400, 100))
        thumbnail = bob.download_thumbnail(image.id)
        assert thumbnail.content_type == "image/png"
        avatar = alice.upload_avatar("me.png", png(8, 8))
        assert alice.get_user(alice.username).avatar == f"/api/media/{avatar.id}"
