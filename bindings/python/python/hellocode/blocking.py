"""The blocking HelloCode client, for scripts and notebooks: no asyncio.

    from hellocode import blocking

    with blocking.connect("ws://127.0.0.1:8080", username="alice", password="...") as client:
        chat = client.create_chat(["bob"])
        client.send(chat.id, "hello, bob")
        for event in client.events(timeout=5.0):
            print(event)

It is the same Rust client as `hellocode.Client` (same reconnect, resume and send queue);
each call waits with the GIL released, and Ctrl-C interrupts it.
"""

from ._hellocode import BlockingClient as Client
from ._hellocode import BlockingEvents as Events
from ._hellocode import BlockingHistory as History

#: Connect and authenticate; same arguments as `hellocode.connect`.
connect = Client.connect

__all__ = ["Client", "Events", "History", "connect"]
