"""Messages per second one Python asyncio client sends (acknowledged) and receives, beside the
Rust SDK (`hellocode-throughput`, benches/load) measured in the same run. Loopback only, bounded
in count and time. The figures and how to read them: BENCHMARKS.md, "Python SDK".

    cargo build --release -p hellocode-server -p hellocode-load --bins
    (cd bindings/python && maturin build --release --out /tmp/wheels) && pip install /tmp/wheels/...
    python bindings/python/bench/throughput.py [--runs 5] [--database memory|sqlite]

What runs, per round (medians over `--runs` rounds are printed at the end):
- send: `--send-count` acknowledged sends by one client, `--window` awaited at once (Python:
  that many asyncio tasks each awaiting `client.send` in turn; Rust: a `FuturesUnordered` of
  `Client::send`), round-robin over 1 chat and over `--chats` chats (the SDK sends one message at
  a time per chat, so one chat measures round trips and several measure the client's cost);
- receive, live: `--flooders` Rust clients (`hellocode-throughput flood`) send `--receive-count`
  messages into `--chats` chats the receiver is in, while the receiver reads
  `async for event in client.events()` (Rust: `Events::recv`); rate from its first message
  event to the last;
- receive, drained: the same flood while the receiver is subscribed but not reading; once every
  message is buffered in the client, the time to read them all (the consumer's own rate).

The server runs pinned to `--server-cpu` (with the flooders), the measured client to
`--client-cpu` (this process and the Rust client alike); the server's rate limit is raised.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import hellocode

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery staple"
#: Whatever happens, one step ends within this many seconds.
STEP_TIMEOUT = 180.0


def taskset(cpu: Optional[int]) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []


class Bench:
    def __init__(self, args: argparse.Namespace, url: str) -> None:
        self.args = args
        self.url = url
        self.tool = str(args.tool)
        self.results: dict[str, list[float]] = {}

    def record(self, name: str, rate: float) -> None:
        self.results.setdefault(name, []).append(rate)
        print(f"  {name}: {rate:,.0f} msg/s", flush=True)

    async def connect(self, user: str) -> hellocode.Client:
        return await hellocode.connect(
            self.url,
            username=user,
            password=PASSWORD,
            email=f"{user}@example.org",
            register_or_login=True,
            send_queue=100_000,
            request_timeout=60.0,
        )

    async def tool_run(self, *argv: str, cpu: Optional[int]) -> dict[str, Any]:
        command = [*taskset(cpu), self.tool, "--url", self.url, *argv]
        process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
        out, _ = await asyncio.wait_for(process.communicate(), STEP_TIMEOUT)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({process.returncode})")
        result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return result

    # ---- sending ----

    def send_count(self, chats: Sequence[int]) -> int:
        return self.args.send_count if len(chats) > 1 else self.args.one_chat_count

    async def python_send(self, client: hellocode.Client, chats: Sequence[int]) -> float:
        count, window = self.send_count(chats), self.args.window

        async def worker(first: int) -> None:
            for n in range(first, count, window):
                await client.send(chats[n % len(chats)], f"throughput message number {n:>10}")

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(window)))
        return count / (time.perf_counter() - started)

    async def rust_send(self, user: str, chats: Sequence[int]) -> float:
        result = await self.tool_run(
            "send", "--user", user, "--chats", ",".join(map(str, chats)),
            "--count", str(self.send_count(chats)), "--window", str(self.args.window),
            cpu=self.args.client_cpu,
        )
        return float(result["rate"])

    # ---- receiving ----

    def flood(self, chats: Sequence[int]) -> list[str]:
        users = ",".join(f"flood{i}" for i in range(self.args.flooders))
        return [
            "flood", "--users", users, "--chats", ",".join(map(str, chats)),
            "--count", str(self.args.receive_count), "--window", "64",
        ]

    async def python_receive(self, chats: Sequence[int], drain: bool) -> tuple[float, float]:
        """The receiver's rate and the flood's."""
        count = self.args.receive_count
        client = await self.connect("py_recv")
        try:
            stream = client.events()

            async def consume() -> float:
                received, first = 0, 0.0
                async for event in stream:
                    if isinstance(event, hellocode.MessageEvent):
                        if received == 0:
                            first = time.perf_counter()
                        received += 1
                        if received == count:
                            return count / (time.perf_counter() - first)
                raise RuntimeError(f"the stream ended after {received} messages")

            if not drain:
                consumer = asyncio.create_task(consume())
                flood = await self.tool_run(*self.flood(chats), cpu=self.args.server_cpu)
                rate = await asyncio.wait_for(consumer, STEP_TIMEOUT)
                return rate, float(flood["rate"])
            flood = await self.tool_run(*self.flood(chats), cpu=self.args.server_cpu)
            # Wait until every message is in the client's queue (handed to the subscriber).
            last = {chat.id: chat.last_seq for chat in await client.list_chats()}
            deadline = time.monotonic() + STEP_TIMEOUT
            while True:
                positions = await client.positions()
                if all(positions.get(chat, 0) >= last[chat] for chat in chats):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the flood did not arrive")
                await asyncio.sleep(0.05)
            return await asyncio.wait_for(consume(), STEP_TIMEOUT), float(flood["rate"])
        finally:
            await client.close()

    async def rust_receive(self, chats: Sequence[int], drain: bool) -> tuple[float, float]:
        command = [
            *taskset(self.args.client_cpu), self.tool, "--url", self.url, "receive",
            "--user", "rs_recv", "--count", str(self.args.receive_count),
        ] + (["--drain"] if drain else [])
        process = await asyncio.create_subprocess_exec(
            *command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert process.stdout is not None and process.stdin is not None
        ready = await asyncio.wait_for(process.stdout.readline(), STEP_TIMEOUT)
        assert json.loads(ready).get("ready"), ready
        flood = await self.tool_run(*self.flood(chats), cpu=self.args.server_cpu)
        if drain:
            await asyncio.sleep(self.args.settle)  # let every message reach the client
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        out, _ = await asyncio.wait_for(process.communicate(), STEP_TIMEOUT)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({process.returncode})")
        return float(json.loads(out.decode().strip().splitlines()[-1])["rate"]), float(
            flood["rate"]
        )

    # ---- the run ----

    async def run(self) -> None:
        args = self.args
        flooders = [f"flood{i}" for i in range(args.flooders)]
        everyone = ["py_send", "rs_send", "py_recv", "rs_recv", "sink", *flooders]
        for user in everyone:
            await (await self.connect(user)).close()
        admin = await self.connect("sink")
        py_chats = [(await admin.create_chat(["py_send"])).id for _ in range(args.chats)]
        rs_chats = [(await admin.create_chat(["rs_send"])).id for _ in range(args.chats)]
        receive_chats = [
            (await admin.create_chat(["py_recv", "rs_recv", *flooders])).id
            for _ in range(args.chats)
        ]
        await admin.close()
        py_sender = await self.connect("py_send")
        for round_ in range(1, args.runs + 1):
            print(f"round {round_} of {args.runs}", flush=True)
            for chats, label in ((py_chats[:1], "1 chat"), (py_chats, f"{args.chats} chats")):
                self.record(f"send, {label}, Python", await self.python_send(py_sender, chats))
            for chats, label in ((rs_chats[:1], "1 chat"), (rs_chats, f"{args.chats} chats")):
                self.record(f"send, {label}, Rust", await self.rust_send("rs_send", chats))
            for drain in (True,) if args.no_live else (False, True):
                label = "drained" if drain else "live"
                rate, flood = await self.python_receive(receive_chats, drain)
                self.record(f"receive {label}, Python", rate)
                self.record(f"flood rate during receive {label}, Python", flood)
                rate, flood = await self.rust_receive(receive_chats, drain)
                self.record(f"receive {label}, Rust", rate)
                self.record(f"flood rate during receive {label}, Rust", flood)
        await py_sender.close()
        print(f"\nmedians of {args.runs} rounds (msg/s; every round's figure in brackets):")
        for name, rates in self.results.items():
            every = ", ".join(f"{rate:,.0f}" for rate in rates)
            print(f"| {name} | {statistics.median(rates):,.0f} | {every} |")
        for what in ("send, 1 chat", f"send, {args.chats} chats", "receive live",
                     "receive drained"):
            if f"{what}, Python" not in self.results:
                continue
            python = statistics.median(self.results[f"{what}, Python"])
            rust = statistics.median(self.results[f"{what}, Rust"])
            print(f"{what}: Python / Rust = {python / rust:.2f}")


def start_server(args: argparse.Namespace, data_dir: str) -> tuple[subprocess.Popen[str], str]:
    database = "memory" if args.database == "memory" else f"sqlite:{data_dir}/hellocode.db"
    command = [
        *taskset(args.server_cpu), str(args.server), "--addr", "127.0.0.1:0",
        "--database", database, "--data-dir", data_dir,
        "--rate", "1000000", "--rate-burst", "1000000",
    ]
    log = Path(data_dir) / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while True:
        found = re.search(r"listening on http://([0-9.]+):(\d+)", log.read_text())
        if found:
            return process, f"ws://{found.group(1)}:{found.group(2)}"
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the server did not start: {log.read_text()}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", type=Path,
                        default=REPO / "target/release/hellocode-server")
    parser.add_argument("--tool", type=Path,
                        default=REPO / "target/release/hellocode-throughput")
    parser.add_argument("--database", choices=["memory", "sqlite"], default="memory")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--send-count", type=int, default=20_000)
    parser.add_argument("--one-chat-count", type=int, default=200,
                        help="sends into one chat (one at a time per chat: round trips)")
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--chats", type=int, default=8)
    parser.add_argument("--receive-count", type=int, default=100_000)
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--no-live", action="store_true",
                        help="only the drained receive (the live one is bounded by the flood)")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds the drained Rust receiver waits after the flood")
    parser.add_argument("--server-cpu", type=int, default=1)
    parser.add_argument("--client-cpu", type=int, default=0)
    args = parser.parse_args()
    for path in (args.server, args.tool):
        if not path.exists():
            sys.exit(f"{path} missing: cargo build --release -p hellocode-server -p hellocode-load")
    if taskset(args.client_cpu) and not os.environ.get("HELLOCODE_BENCH_PINNED"):
        # Pin the whole process (the module's runtime threads exist since the import).
        os.environ["HELLOCODE_BENCH_PINNED"] = "1"
        os.execvp("taskset", [*taskset(args.client_cpu), sys.executable, *sys.argv])
    print(f"hellocode {hellocode.__version__} from {hellocode.__file__}")
    with tempfile.TemporaryDirectory(prefix="hellocode-throughput-") as data_dir:
        server, url = start_server(args, data_dir)
        try:
            print(f"server {url} ({args.database}) on cpu {args.server_cpu}, "
                  f"clients on cpu {args.client_cpu}")
            asyncio.run(Bench(args, url).run())
        finally:
            server.kill()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
