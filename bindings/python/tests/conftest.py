"""A real hellocode-server on a random port for the whole session, and helpers.

The server binary is `$HELLOCODE_SERVER_BIN`, or `target/debug/hellocode-server` of this workspace
(build it with `cargo build -p hellocode-server`; `run-tests.sh` does)."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from proxy import Proxy

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery staple"


@dataclass
class Server:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"


def _server_binary() -> Path:
    configured = os.environ.get("HELLOCODE_SERVER_BIN")
    path = Path(configured) if configured else REPO / "target" / "debug" / "hellocode-server"
    if not path.exists():
        pytest.exit(
            f"no server binary at {path}: run `cargo build -p hellocode-server` "
            "or set HELLOCODE_SERVER_BIN",
            returncode=2,
        )
    return path


def _drain(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


# Every test client comes from 127.0.0.1 and registers many users: lift the server's
# per-address and per-user abuse limits (login and REST rates, creations, connections).
NO_ABUSE_LIMITS = [
    "--login-rate-per-address", "1000000",
    "--login-rate-per-user", "1000000",
    "--rest-rate", "1000000",
    "--rest-burst", "1000000",
    "--languages-per-hour", "1000000",
    "--chats-per-minute", "1000000",
    "--participant-additions-per-minute", "1000000",
    "--invitations-per-minute", "1000000",
    "--invite-links-per-minute", "1000000",
    "--max-connections-per-address", "1000000",
    "--max-connections-per-user", "1000000",
]


@contextlib.contextmanager
def launch_server(rate: int = 10000, rate_burst: int = 10000) -> Iterator[Server]:
    """A server on a random port with an in-memory database, for as long as the block runs."""
    with tempfile.TemporaryDirectory(prefix="hellocode-pytest-") as data_dir:
        process = subprocess.Popen(
            [
                str(_server_binary()),
                "--addr", "127.0.0.1:0",
                "--database", "memory",
                "--data-dir", data_dir,
                "--rate", str(rate),
                "--rate-burst", str(rate_burst),
                *NO_ABUSE_LIMITS,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            listening = re.compile(r"listening on http://([0-9.]+):(\d+)")
            found = None
            deadline = time.monotonic() + 30
            lines: list[str] = []
            while found is None:
                line = process.stdout.readline()
                if not line or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {''.join(lines)}")
                lines.append(line)
                found = listening.search(line)
            threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
            started = Server(found.group(1), int(found.group(2)))
            while True:
                try:
                    with urllib.request.urlopen(f"{started.http}/healthz", timeout=1) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield started
        finally:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    # Generous limits: the tests send bursts from one connection.
    with launch_server() as started:
        yield started


_names = itertools.count()


def unique_name(prefix: str = "user") -> str:
    """A username no other test uses (the session shares one server)."""
    return f"{prefix}{next(_names)}_{uuid.uuid4().hex[:6]}"


@pytest.fixture
def proxy(server: Server) -> Iterator[Proxy]:
    started = Proxy(server.host, server.port)
    yield started
    started.close()
