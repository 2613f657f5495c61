"""Run with: python examples/python/chat.py ws://127.0.0.1:8080 alice 'password' bob

A terminal chat with one other user: prints what arrives, sends each line you type.
"""

from __future__ import annotations

import asyncio
import sys

import hellocode


async def main(url: str, username: str, password: str, peer: str) -> None:
    async with await hellocode.connect(url, username=username, password=password) as client:
        chat = await client.create_chat([peer])
        for message in reversed(await client.fetch_messages(chat.id, limit=20)):
            print(f"{message.author}: {message.content}")

        async def show_events() -> None:
            async for event in client.events():
                if isinstance(event, hellocode.MessageEvent) and event.message.chat_id == chat.id:
                    print(f"{event.message.author}: {event.message.content}")
                elif isinstance(event, hellocode.ConnectionChanged):
                    print(f"[{event.state.kind}]")

        printer = asyncio.ensure_future(show_events())
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip():
                client.enqueue(chat.id, line.rstrip("\n"))
        printer.cancel()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    asyncio.run(main(*sys.argv[1:5]))
