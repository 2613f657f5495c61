"""A post that carries a file: uploaded with `upload_attachment`, named in the post by its id,
and read from the received message as `Message.attachments` (more in test_media.py)."""

from __future__ import annotations

import struct
import zlib

import hellocode
from conftest import Server
from helpers import next_of, register, run


def png(width: int, height: int) -> bytes:
    """A small grey PNG, written with the standard library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + b"\x80" * (width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_a_received_message_carries_its_attachments(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "bob"
        ) as bob:
            bob_events = bob.events()
            chat = await alice.create_chat([bob.username])
            media = await alice.upload_attachment(chat.id, "shot.png", png(3, 2))
            await alice.send_with_attachments(chat.id, "", [media.id])

            event = await next_of(bob_events, hellocode.MessageEvent)
            [attachment] = event.message.attachments
            assert isinstance(attachment, hellocode.Attachment)
            assert (attachment.id, attachment.name, attachment.content_type) == (
                media.id,
                "shot.png",
                "image/png",
            )
            assert (attachment.width, attachment.height) == (3, 2)
            assert (attachment.size, attachment.thumbnail) == (media.size, media.thumbnail)
            assert attachment == media
            assert "shot.png" in repr(event.message)
            plain = await alice.send(chat.id, "no files")
            assert plain.attachments == []

    run(scenario())
