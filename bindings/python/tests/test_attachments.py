"""A post that carries a file: uploaded over HTTP, named in the post by its address, and read
from the received message as `Message.attachments`."""

from __future__ import annotations

import json
import struct
import urllib.request
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


def request(url: str, token: str, body: bytes, content_type: str) -> dict[str, object]:
    """POST `body` to `url` as the user of `token`; the JSON answer."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    call = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(call, timeout=10) as reply:
        answer: dict[str, object] = json.loads(reply.read())
        return answer


def test_a_received_message_carries_its_attachments(server: Server) -> None:
    async def scenario() -> None:
        async with await register(server.url, "alice") as alice, await register(
            server.url, "bob"
        ) as bob:
            bob_events = bob.events()
            chat = await alice.create_chat([bob.username])
            token = alice.token
            assert token is not None
            upload = f"{server.http}/api/chat/{chat.id}/media?name=shot.png"
            media = request(upload, token, png(3, 2), "image/png")
            post = json.dumps({"message": "", "attachments": [media["id"]]}).encode()
            messages = f"{server.http}/api/chat/{chat.id}/messages/"
            request(messages, token, post, "application/json")

            event = await next_of(bob_events, hellocode.MessageEvent)
            [attachment] = event.message.attachments
            assert isinstance(attachment, hellocode.Attachment)
            assert (attachment.id, attachment.name, attachment.content_type) == (
                media["id"],
                "shot.png",
                "image/png",
            )
            assert (attachment.width, attachment.height) == (3, 2)
            assert (attachment.size, attachment.thumbnail) == (media["size"], media["thumbnail"])
            assert "shot.png" in repr(event.message)
            plain = await alice.send(chat.id, "no files")
            assert plain.attachments == []

    run(scenario())
