"""Shared test helpers: registering users, waiting for events."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Optional, TypeVar, Union

import hellocode
from conftest import PASSWORD, unique_name

E = TypeVar("E")


async def register(
    url: Union[str, Sequence[str]], prefix: str = "user", **options: Any
) -> hellocode.Client:
    """A new account, connected (to one server, or to the first of several nodes)."""
    name = unique_name(prefix)
    return await hellocode.connect(
        url, username=name, email=f"{name}@example.org", password=PASSWORD, register=True, **options
    )


async def next_of(
    events: hellocode.EventStream, kind: type[E], timeout: float = 10.0
) -> E:
    """The next event of class `kind`, skipping others."""

    async def find() -> E:
        async for event in events:
            if isinstance(event, kind):
                return event
        raise AssertionError(f"the event stream ended before a {kind.__name__}")

    return await asyncio.wait_for(find(), timeout)


async def collect(
    events: hellocode.EventStream, kind: type[E], count: int, timeout: float = 30.0
) -> list[E]:
    """The next `count` events of class `kind`."""
    found: list[E] = []
    while len(found) < count:
        found.append(await next_of(events, kind, timeout))
    return found


def run(coro: Any, timeout: Optional[float] = 60.0) -> Any:
    """`asyncio.run` with a deadline, so a hang fails the test instead of the whole run."""
    return asyncio.run(asyncio.wait_for(coro, timeout))
