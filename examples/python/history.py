"""Run with: python examples/python/history.py ws://127.0.0.1:8080 alice 'password'

Prints every chat of a user with its whole history, oldest first, with the blocking client.
"""

from __future__ import annotations

import sys

from hellocode import blocking


def main(url: str, username: str, password: str) -> None:
    with blocking.connect(url, username=username, password=password) as client:
        for chat in client.list_chats():
            print(f"# chat {chat.id}: {', '.join(chat.participants)}")
            page = client.fetch_messages(chat.id, limit=100)
            history = list(page)
            while page and page[-1].seq > 1:
                page = client.fetch_messages(chat.id, before=page[-1].seq, limit=100)
                history += page
            for message in reversed(history):
                when = message.timestamp.strftime("%Y-%m-%d %H:%M")
                print(f"{when} {message.author}: {message.content}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:4])
