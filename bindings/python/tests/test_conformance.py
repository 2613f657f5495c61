"""The transcript scenarios (bindings/conformance/scenarios/*.json) against this package: the
Python runner of the suite every SDK language runs, interpreting the files exactly as the
format's README and the Rust runner (bindings/conformance/tests/rust_sdk.rs) do.

Each scenario gets a fresh server (the `server` settings become its `--rate`/`--rate-burst`),
each user talks to it through a proxy of its own that can cut the user off, results and events
are compared in the canonical JSON of `canonical.py`, and an expected error must carry the code
*and* be the exception class the package maps that code to."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional

import pytest

import canonical
import hellocode
from canonical import Json
from conftest import NO_ABUSE_LIMITS
from hellocode import _hellocode
from proxy import Proxy

REPO = Path(__file__).resolve().parents[3]
SCENARIOS = REPO / "bindings" / "conformance" / "scenarios"
#: Every user's password unless a step gives another.
PASSWORD = "correct horse battery staple"
#: How long an expected event may take.
EVENT_WAIT = 10.0
#: How long "no event" watches.
#: Reconnect quickly, as every runner does (20 ms, growing up to 200 ms).
BACKOFF = {"reconnect_initial": 0.02, "reconnect_max": 0.2}


class StepFailed(AssertionError):
    pass


# ---- the server, fresh per scenario ----


def _server_binary() -> Path:
    configured = os.environ.get("HELLOCODE_SERVER_BIN")
    return Path(configured) if configured else REPO / "target" / "debug" / "hellocode-server"


def _drain(stream: IO[str]) -> None:
    for _ in stream:
        pass


@contextmanager
def scenario_server(settings: dict[str, int]) -> Iterator[tuple[str, int]]:
    """A server on a random loopback port with an empty in-memory database."""
    binary = _server_binary()
    if not binary.exists():
        pytest.fail(f"no server binary at {binary}: run `cargo build -p hellocode-server`")
    flags = {"rate": "--rate", "rate_burst": "--rate-burst"}
    unknown = set(settings) - set(flags)
    assert not unknown, f"unknown server settings {unknown}"
    extra = [arg for key, value in settings.items() for arg in (flags[key], str(value))]
    with tempfile.TemporaryDirectory(prefix="hellocode-conformance-") as data_dir:
        process = subprocess.Popen(
            [str(binary), "--addr", "127.0.0.1:0", "--database", "memory", "--data-dir", data_dir]
            + NO_ABUSE_LIMITS
            + extra,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            listening = re.compile(r"listening on http://([0-9.]+):(\d+)")
            deadline = time.monotonic() + 30
            found = None
            while found is None:
                line = process.stdout.readline()
                if not line or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                found = listening.search(line)
            threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
            host, port = found.group(1), int(found.group(2))
            while True:
                try:
                    with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
            yield host, port
        finally:
            process.kill()
            process.wait(timeout=10)


# ---- substitution and matching (as hellocode_conformance::{substitute, matches}) ----


def substitute(value: Json, saved: dict[str, Json]) -> Json:
    """Replace every string "$name" or "$name.field.field" by what was saved."""
    if isinstance(value, str) and value.startswith("$"):
        name, *path = value[1:].split(".")
        if name not in saved:
            raise StepFailed(f"nothing saved as {name}")
        found = saved[name]
        for part in path:
            if isinstance(found, dict) and part in found:
                found = found[part]
            elif isinstance(found, list) and part.isdigit() and int(part) < len(found):
                found = found[int(part)]
            else:
                raise StepFailed(f"{value}: no field {part}")
        return found
    if isinstance(value, list):
        return [substitute(item, saved) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, saved) for key, item in value.items()}
    return value


def _is_number(value: Json) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def mismatch(expected: Json, actual: Json) -> Optional[str]:
    """None if `actual` has everything `expected` says, else why not (see the README)."""
    if expected == "*":
        return None
    if isinstance(expected, dict) and "$contains" in expected and isinstance(actual, list):
        items = expected["$contains"]
        if not isinstance(items, list):
            return "$contains takes a list"
        for item in items:
            if all(mismatch(item, candidate) is not None for candidate in actual):
                return f"no item matching {json.dumps(item)} in {json.dumps(actual)}"
        return None
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, want in expected.items():
            if key not in actual:
                return f"missing {key!r} in {json.dumps(actual)}"
            why = mismatch(want, actual[key])
            if why is not None:
                return f"{key}: {why}"
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{len(expected)} items expected, got {len(actual)}: {json.dumps(actual)}"
        for index, (want, have) in enumerate(zip(expected, actual)):
            why = mismatch(want, have)
            if why is not None:
                return f"[{index}]: {why}"
        return None
    if _is_number(expected) and _is_number(actual):
        same = float(expected) == float(actual)
    else:
        same = type(expected) is type(actual) and expected == actual
    return None if same else f"expected {json.dumps(expected)}, got {json.dumps(actual)}"


def check(expected: Json, actual: Json) -> None:
    why = mismatch(expected, actual)
    if why is not None:
        raise StepFailed(why)


def lacks(unwanted: list[Json], actual: Json) -> Optional[str]:
    """None if `actual` has none of `unwanted` (keys of an object, each value as a string;
    items of a list, by matching), else why not (see the README)."""
    for value in unwanted:
        if isinstance(actual, dict):
            key = value if isinstance(value, str) else json.dumps(value)
            found = key in actual
        elif isinstance(actual, list):
            found = any(mismatch(value, item) is None for item in actual)
        else:
            return f"`lacks` needs an object or a list, got {json.dumps(actual)}"
        if found:
            return f"{json.dumps(value)} should not be in {json.dumps(actual)}"
    return None


def test_matching_follows_the_readme() -> None:
    actual = {"author": "alice", "content": "hi", "seq": 1, "id": 77}
    assert mismatch({"author": "alice", "seq": 1, "id": "*"}, actual) is None
    assert mismatch({"content": "bye"}, actual) is not None
    assert mismatch([{"seq": 2}], [{"seq": 2}, {"seq": 1}]) is not None
    assert mismatch({"a": "*"}, {"b": 1}) is not None
    assert mismatch(None, None) is None
    assert mismatch(1, 1.0) is None
    assert mismatch(True, 1) is not None, "booleans are not numbers in JSON"
    languages = [{"name": "C"}, {"name": "Rust"}]
    assert mismatch({"$contains": [{"name": "Rust"}]}, languages) is None
    assert mismatch({"$contains": [{"name": "Gleam"}]}, languages) is not None
    saved = {"chat": {"id": 7, "participants": ["alice", "bob"]}}
    substituted = substitute({"chat": "$chat.id", "who": "$chat.participants.1", "n": 3}, saved)
    assert substituted == {"chat": 7, "who": "bob", "n": 3}
    with pytest.raises(StepFailed):
        substitute("$nope", saved)
    assert lacks([8], {"7": 3, "9": 1}) is None
    assert lacks([9], {"7": 3, "9": 1}) is not None
    assert lacks([{"id": 8}], [{"id": 7}, {"id": 9}]) is None
    assert lacks([{"id": 9}], [{"id": 7}, {"id": 9}]) is not None


# ---- the runner ----


def expect_error(error: hellocode.HelloCodeError, code: str, says: Optional[str] = None) -> None:
    """The SDK code, raised as the class the package maps that code to (with `says` in its
    text, if given)."""
    if error.code != code:
        raise StepFailed(f"expected error {code}, got {error.code} ({error})")
    mapped = type(_hellocode._exception_for_code(code, ""))
    if type(error) is not mapped:
        raise StepFailed(f"{code} raised as {type(error).__name__}, not {mapped.__name__}")
    if says is not None and says not in str(error):
        raise StepFailed(f"the error does not say {says!r}: {error}")


@dataclass
class Person:
    proxy: Proxy
    client: Optional[hellocode.Client] = None
    events: "asyncio.Queue[hellocode.Event]" = field(default_factory=asyncio.Queue)
    token: Optional[str] = None
    pump: Optional["asyncio.Task[None]"] = None
    listener: Optional[hellocode.ListenerHandle] = None

    async def close(self) -> None:
        if self.listener is not None:
            self.listener.remove()
        if self.client is not None:
            await self.client.close()
        if self.pump is not None:
            self.pump.cancel()
            try:
                await self.pump
            except asyncio.CancelledError:
                pass


class Run:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.people: dict[str, Person] = {}
        self.saved: dict[str, Json] = {}

    def person(self, user: str) -> Person:
        if user not in self.people:
            self.people[user] = Person(Proxy(self.host, self.port))
        return self.people[user]

    def client(self, user: str) -> hellocode.Client:
        client = self.person(user).client
        if client is None:
            raise StepFailed(f"{user} not connected")
        return client

    async def finish(self) -> None:
        for person in self.people.values():
            await person.close()
            person.proxy.close()

    async def step(self, step: dict[str, Json]) -> None:
        user: str = step["user"]
        if "connect" in step:
            await self.connect(step, step["connect"])
        elif step.get("disconnect"):
            self.person(user).proxy.set_down(True)
        elif step.get("reconnect"):
            self.person(user).proxy.set_down(False)
        elif "event" in step:
            await self.expect_event(user, substitute(step["event"], self.saved))
        elif "call" in step:
            args = substitute(step.get("args", {}), self.saved)
            try:
                value = await call_operation(self.client(user), step["call"], args)
            except hellocode.HelloCodeError as error:
                if "error" not in step:
                    raise StepFailed(f"error {error.code} ({error})") from error
                expect_error(error, step["error"], step.get("error_says"))
                return
            if "error" in step:
                raise StepFailed(f"expected error {step['error']}, got {json.dumps(value)}")
            if "expect" in step:
                check(substitute(step["expect"], self.saved), value)
            if "lacks" in step:
                why = lacks(substitute(step["lacks"], self.saved), value)
                if why is not None:
                    raise StepFailed(why)
            if "save" in step:
                self.saved[step["save"]] = value
        else:
            raise StepFailed("no action")

    async def expect_event(self, user: str, expected: Json) -> None:
        kind = expected["kind"]
        events = self.person(user).events
        deadline = time.monotonic() + EVENT_WAIT
        while True:
            try:
                event = await asyncio.wait_for(events.get(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                raise StepFailed(f"no {kind} event within {EVENT_WAIT} s") from None
            actual = canonical.event(event)
            if actual["kind"] != kind:
                continue
            why = mismatch(expected, actual)
            # Connection events: the states before the expected one are skipped.
            if why is None:
                return
            if kind != "connection":
                raise StepFailed(why)

    async def connect(self, step: dict[str, Json], how: str) -> None:
        user: str = step["user"]
        person = self.person(user)
        password = step.get("password", PASSWORD)
        email = f"{user}@example.org"
        options: dict[str, Any] = dict(BACKOFF)
        config = step.get("config") or {}
        if "send_queue" in config:
            options["send_queue"] = config["send_queue"]
        if "request_timeout_ms" in config:
            options["request_timeout"] = config["request_timeout_ms"] / 1000
        if how == "register":
            options.update(username=user, password=password, email=email, register=True)
        elif how == "login":
            options.update(username=user, password=password)
        elif how == "register_or_login":
            options.update(
                username=user, password=password, email=email, register_or_login=True
            )
        elif how == "token":
            given = substitute(step.get("args", {}), self.saved)
            token = given.get("token", person.token)
            if token is None:
                raise StepFailed("no token saved yet")
            options.update(token=token)
        else:
            raise StepFailed(f"unknown way to connect: {how}")
        proxied = f"ws://127.0.0.1:{person.proxy.port}"
        try:
            client = await hellocode.connect(proxied, **options)
        except hellocode.HelloCodeError as error:
            if "error" not in step:
                raise StepFailed(f"connect failed: {error.code} ({error})") from error
            expect_error(error, step["error"])
            return
        if "error" in step:
            await client.close()
            raise StepFailed(f"expected error {step['error']}, connected")
        # The new client replaces the user's earlier one (if any), which is closed.
        await person.close()
        person.pump, person.listener = None, None
        events: asyncio.Queue[hellocode.Event] = asyncio.Queue()
        if step.get("listener"):
            loop = asyncio.get_running_loop()

            def listen(event: hellocode.Event) -> None:
                try:
                    loop.call_soon_threadsafe(events.put_nowait, event)
                except RuntimeError:
                    pass  # the scenario is over and its loop closed

            person.listener = client.add_listener(listen)
        else:
            stream = client.events()

            async def pump() -> None:
                async for event in stream:
                    events.put_nowait(event)

            person.pump = asyncio.create_task(pump())
        person.token = client.token
        person.client = client
        person.events = events


class Progress:
    """A transfer's progress callback that keeps its last call."""

    def __init__(self) -> None:
        self.last: Optional[tuple[int, int]] = None

    def __call__(self, done: int, total: int) -> None:
        self.last = (done, total)

    def finished(self, size: int) -> None:
        """The last call was `size` of `size`."""
        if self.last != (size, size):
            raise StepFailed(f"the last progress was {self.last}, not {size} of {size}")


async def call_operation(client: hellocode.Client, call: str, args: dict[str, Json]) -> Json:
    """One SDK operation with the scenario's arguments; its result in canonical JSON."""
    if call == "send":
        return canonical.message(await client.send(args["chat"], args["text"]))
    if call == "send_with_client_id":
        sent = await client.send(args["chat"], args["text"], client_id=args["client_id"])
        return canonical.message(sent)
    if call == "enqueue":
        return canonical.pending(client.enqueue(args["chat"], args["text"]))
    if call == "enqueue_with_client_id":
        queued = client.enqueue_with_client_id(args["chat"], args["text"], args["client_id"])
        return canonical.pending(queued)
    if call == "pending_sends":
        return [canonical.pending(p) for p in await client.pending_sends()]
    if call == "fetch_messages":
        page = await client.fetch_messages(args["chat"], args.get("before"), args.get("limit"))
        return canonical.messages(page)
    if call in ("history", "history_before"):
        before = args["seq"] if call == "history_before" else None
        return canonical.messages([m async for m in client.history(args["chat"], before)])
    if call == "create_chat":
        return canonical.chat(await client.create_chat(args["participants"]))
    if call == "chat_with":
        return canonical.chat(await client.chat_with(args["usernames"]))
    if call == "list_chats":
        return canonical.chats(await client.list_chats())
    if call == "add_participants":
        return canonical.chat(await client.add_participants(args["chat"], args["usernames"]))
    if call == "create_group":
        return canonical.chat(await client.create_group(args["name"], args["participants"]))
    if call == "get_chat":
        return canonical.chat(await client.get_chat(args["chat"]))
    if call == "remove_participant":
        return canonical.chat(await client.remove_participant(args["chat"], args["username"]))
    if call == "leave_chat":
        return await client.leave_chat(args["chat"])
    if call == "set_role":
        return canonical.chat(await client.set_role(args["chat"], args["username"], args["role"]))
    if call == "update_chat":
        chat = await client.update_chat(args["chat"], name=args.get("name"), topic=args.get("topic"))
        return canonical.chat(chat)
    if call == "delete_chat":
        return await client.delete_chat(args["chat"])
    if call == "find_users":
        return canonical.users(await client.find_users(args["language"]))
    if call == "typing":
        return await client.typing(args["chat"])
    if call == "mark_read":
        return await client.mark_read(args["chat"], args["seq"])
    if call == "read_positions":
        positions = await client.read_positions(args["chat"])
        return [{"username": p.username, "seq": p.seq} for p in positions]
    if call == "edit_message":
        edited = await client.edit_message(args["chat"], args["seq"], args["text"])
        return canonical.message(edited)
    if call == "delete_message":
        return await client.delete_message(args["chat"], args["seq"])
    if call == "ping":
        return await client.ping() >= 0.0
    if call == "positions":
        return {str(chat): seq for chat, seq in (await client.positions()).items()}
    if call == "get_user":
        return canonical.user(await client.get_user(args["username"]))
    if call == "update_profile":
        updated = await client.update_profile(
            timezone=args.get("timezone"), languages=args.get("languages")
        )
        return canonical.user(updated)
    if call == "languages":
        return [canonical.language(language) for language in await client.languages()]
    if call == "add_language":
        return canonical.language(await client.add_language(args["name"]))
    if call == "contacts":
        return await client.contacts()
    if call == "add_contact":
        return await client.add_contact(args["username"])
    if call == "remove_contact":
        return await client.remove_contact(args["username"])
    if call == "create_bot_token":
        return canonical.issued_bot_token(await client.create_bot_token(args["name"]))
    if call == "bot_tokens":
        return [canonical.bot_token(token) for token in await client.bot_tokens()]
    if call == "revoke_bot_token":
        return await client.revoke_bot_token(args["id"])
    if call == "set_pusher":
        settings = await client.set_pusher(
            args["app_id"],
            args["pushkey"],
            args["url"],
            device_name=args.get("device_name"),
            lang=args.get("lang"),
            previews=args.get("previews"),
        )
        return canonical.push_settings(settings)
    if call == "remove_pusher":
        return canonical.push_settings(await client.remove_pusher(args["app_id"], args["pushkey"]))
    if call == "push_settings":
        return canonical.push_settings(await client.push_settings())
    if call == "mute_chat":
        return canonical.push_settings(await client.mute_chat(args["chat"], args["muted"]))
    if call == "invite":
        return canonical.invitation(await client.invite(args["chat"], args["username"]))
    if call == "invitations":
        return [canonical.invitation(i) for i in await client.invitations()]
    if call == "accept_invitation":
        return canonical.chat(await client.accept_invitation(args["id"]))
    if call == "decline_invitation":
        return await client.decline_invitation(args["id"])
    if call == "cancel_invitation":
        return await client.cancel_invitation(args["id"])
    if call == "create_invite_link":
        issued = await client.create_invite_link(
            args["chat"], expires_in=args.get("expires_in"), max_uses=args.get("max_uses")
        )
        return canonical.issued_invite_link(issued)
    if call == "invite_links":
        return [canonical.invite_link(link) for link in await client.invite_links(args["chat"])]
    if call == "revoke_invite_link":
        return await client.revoke_invite_link(args["chat"], args["link"])
    if call == "join_by_link":
        return canonical.chat(await client.join_by_link(args["token"]))
    if call == "send_with_attachments":
        sent = await client.send_with_attachments(args["chat"], args["text"], args["attachments"])
        return canonical.message(sent)
    if call in ("upload_attachment", "upload_avatar"):
        data = base64.b64decode(args["base64"]) if "base64" in args else args["text"].encode()
        progress = Progress()
        if call == "upload_attachment":
            uploaded = await client.upload_attachment(args["chat"], args["name"], data, progress)
        else:
            uploaded = await client.upload_avatar(args["name"], data, progress)
        progress.finished(len(data))
        return canonical.attachment(uploaded)
    if call in ("download", "download_thumbnail"):
        progress = Progress()
        if call == "download":
            downloaded = await client.download(args["media"], progress)
        else:
            downloaded = await client.download_thumbnail(args["media"], progress)
        progress.finished(len(downloaded.data))
        return canonical.download(downloaded)
    if call == "close":
        return await client.close()
    if call == "username":
        return client.username
    if call == "token":
        return client.token is not None
    if call == "state":
        return canonical.state(client.state)
    raise StepFailed(f"no operation {call}")


def describe(step: dict[str, Json]) -> str:
    for action in ("connect", "call", "event"):
        if action in step:
            return f"{step['user']}: {action} {json.dumps(step[action])}"
    return f"{step['user']}: {'disconnect' if step.get('disconnect') else 'reconnect'}"


async def play(file_name: str, scenario: dict[str, Json], host: str, port: int) -> None:
    run = Run(host, port)
    try:
        for index, step in enumerate(scenario["steps"]):
            try:
                await run.step(step)
            except StepFailed as failure:
                raise StepFailed(
                    f"scenario {file_name} ({scenario['name']}), step {index} "
                    f"[{describe(step)}]: {failure}"
                ) from None
    finally:
        await run.finish()


SCENARIO_FILES = sorted(path.name for path in SCENARIOS.glob("*.json"))


def test_there_are_at_least_15_scenarios() -> None:
    assert len(SCENARIO_FILES) >= 15


@pytest.mark.parametrize("file_name", SCENARIO_FILES)
def test_scenario(file_name: str) -> None:
    scenario = json.loads((SCENARIOS / file_name).read_text())
    with scenario_server(scenario.get("server", {})) as (host, port):
        asyncio.run(asyncio.wait_for(play(file_name, scenario, host, port), 120))
