"""The bot framework against a real server: commands, typed arguments and usage replies, aliases
and help, checks and cooldowns, errors, message and event handlers, no backlog, persistence,
the rate limit, signals, and the examples."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Optional

import pytest

import hellocode
from conftest import PASSWORD, REPO, Server, launch_server, unique_name
from helpers import register, run

EXAMPLES = REPO / "examples" / "python"


async def bot_account(url: str) -> tuple[str, str]:
    """A new account for a bot: (username, password)."""
    client = await register(url, "bot")
    await client.close()
    return client.username, PASSWORD


@asynccontextmanager
async def running(bot: hellocode.Bot) -> AsyncIterator[hellocode.Bot]:
    """Start `bot` on this loop; stop it (gracefully) on leaving."""
    task = asyncio.ensure_future(bot.start())
    while bot.client is None:
        if task.done():
            task.result()
            raise AssertionError("the bot stopped before it connected")
        await asyncio.sleep(0.01)
    try:
        yield bot
    finally:
        bot.stop()
        await asyncio.wait_for(task, 20)


class Chat:
    """A user's chat with a bot: `ask` sends and returns the bot's next answer."""

    def __init__(self, user: hellocode.Client, chat_id: int, bot_name: str) -> None:
        self.user, self.id, self.bot_name = user, chat_id, bot_name
        self.events = user.events()

    async def answer(self, timeout: float = 10.0) -> str:
        async def find() -> str:
            async for event in self.events:
                if (
                    isinstance(event, hellocode.MessageEvent)
                    and event.message.chat_id == self.id
                    and event.message.author == self.bot_name
                ):
                    return event.message.content
            raise AssertionError("the event stream ended")

        return await asyncio.wait_for(find(), timeout)

    async def ask(self, text: str, timeout: float = 10.0) -> str:
        await self.user.send(self.id, text)
        return await self.answer(timeout)

    async def silence(self, seconds: float = 0.5) -> None:
        """Assert the bot says nothing for `seconds`."""
        try:
            said = await self.answer(seconds)
        except asyncio.TimeoutError:
            return
        raise AssertionError(f"the bot said {said!r}")


async def direct_chat(url: str, bot_name: str, prefix: str = "user") -> Chat:
    user = await register(url, prefix)
    chat = await user.chat_with([bot_name])
    return Chat(user, chat.id, bot_name)


def test_commands_async_and_sync_with_typed_arguments(server: Server) -> None:
    threads: list[str] = []
    calls: list[tuple[int, int]] = []

    async def scenario() -> None:
        name, password = await bot_account(server.url)
        bot = hellocode.Bot(server.url, username=name, password=password)

        @bot.command("echo", aliases=["say"], description="Repeat your text")
        async def echo(ctx: hellocode.Context, text: hellocode.Rest) -> str:
            assert ctx.command == "echo" and ctx.args == text and ctx.is_direct
            assert ctx.client is bot.client and ctx.bot_username == name
            return text

        @bot.command("roll")
        def roll(ctx: hellocode.Context, sides: int, times: int = 1) -> str:
            threads.append(threading.current_thread().name)
            calls.append((sides, times))
            return f"{ctx.author} rolls {times}d{sides}"

        @bot.command()
        async def stats(
            ctx: hellocode.Context,
            who: hellocode.UserArg,
            ratio: float,
            loud: bool,
            note: Optional[str] = None,
        ) -> None:
            """Say something about someone."""
            await ctx.typing()
            sent = await ctx.reply(f"{who} {ratio:.1f} {loud} {note}")
            assert isinstance(sent, hellocode.Message) and sent.author == name

        async with running(bot):
            chat = await direct_chat(server.url, name)
            me = chat.user.username
            assert await chat.ask("!echo hello   world ") == "hello   world"
            assert await chat.ask("/SAY hi") == "hi"
            assert await chat.ask("!roll 6") == f"{me} rolls 1d6"
            assert await chat.ask("!roll 20 3") == f"{me} rolls 3d20"
            assert await chat.ask("!stats @alice 2.5 true") == "alice 2.5 True None"
            assert await chat.ask('!stats bob -1 false "two words"') == "bob -1.0 False two words"
            # Bad arguments: the Rust usage reply, and the handler is not called.
            assert await chat.ask("!roll six") == (
                '"six" is not a valid integer. Usage: !roll <sides: integer> [times: integer]'
            )
            assert await chat.ask("!roll") == (
                "Missing integer. Usage: !roll <sides: integer> [times: integer]"
            )
            assert await chat.ask("!roll 1 2 3") == (
                'Unexpected "3". Usage: !roll <sides: integer> [times: integer]'
            )
            assert await chat.ask("!echo") == "Missing text. Usage: !echo <text: text...>"
            assert await chat.ask("!stats not/a/name 1 true") == (
                '"not/a/name" is not a valid user. Usage: !stats <who: user> <ratio: number> '
                "<loud: yes/no> [note: word]"
            )
            # Help comes from the Rust framework, descriptions from the decorator or docstring.
            assert await chat.ask("!help") == (
                "Commands:\n"
                "  !echo <text: text...> — Repeat your text\n"
                "  !roll <sides: integer> [times: integer]\n"
                "  !stats <who: user> <ratio: number> <loud: yes/no> [note: word]"
                " — Say something about someone.\n"
                "!help <command> tells more about one."
            )
            assert await chat.ask("!help say") == (
                "Usage: !echo <text: text...>\nRepeat your text\nAlso: !say"
            )
            # Unknown commands are left to other bots.
            await chat.user.send(chat.id, "!nope")
            await chat.silence()
            await chat.user.close()

    run(scenario())
    assert calls == [(6, 1), (20, 3)]
    # Sync handlers run in worker threads, not on the loop's thread.
    assert threads and all(name != threading.main_thread().name for name in threads)


def test_unsupported_annotations_fail_at_decoration() -> None:
    bot = hellocode.Bot("ws://127.0.0.1:1", token="unused")

    def bad_type(ctx: hellocode.Context, when: list[int]) -> None: ...

    def rest_not_last(ctx: hellocode.Context, text: hellocode.Rest, n: int) -> None: ...

    def required_after_optional(ctx: hellocode.Context, a: int = 1, b: int = 2, *c: int) -> None: ...

    def no_context() -> None: ...

    cases: list[tuple[Callable[..., Any], str]] = [
        (bad_type, "parameter 'when': unsupported annotation"),
        (rest_not_last, "hellocode.Rest takes the rest of the line"),
        (required_after_optional, "*args, **kwargs"),
        (no_context, "takes a hellocode.Context first"),
    ]
    for handler, message in cases:
        with pytest.raises(TypeError, match=re.escape(message)):
            bot.command("x")(handler)


def test_checks_and_cooldowns(server: Server) -> None:
    async def scenario() -> None:
        name, password = await bot_account(server.url)
        bot = hellocode.Bot(server.url, username=name, password=password)
        vip = await register(server.url, "vip")

        @bot.command("secret", checks=[hellocode.checks.direct_only()])
        async def secret(ctx: hellocode.Context) -> str:
            return "42"

        @bot.command("admin", checks=[hellocode.checks.only_users([vip.username])])
        async def admin(ctx: hellocode.Context) -> str:
            return "yes, boss"

        def even_chat(ctx: hellocode.Context) -> Optional[str]:
            return None if ctx.chat_id % 2 == 0 else "Only in even chats."

        def never(ctx: hellocode.Context) -> bool:
            return False

        @bot.command("even", checks=[even_chat])
        def even(ctx: hellocode.Context) -> str:
            return "even it is"

        @bot.command("never", checks=[never])
        def nope(ctx: hellocode.Context) -> str:
            raise AssertionError("not called")

        @bot.command("roll", cooldown=30.0)
        async def roll(ctx: hellocode.Context) -> str:
            return "4"

        async with running(bot):
            chat = await direct_chat(server.url, name)
            assert await chat.ask("!secret") == "42"
            assert await chat.ask("!admin") == "You may not use this command."
            assert await chat.ask("!never") == "You may not use this command."
            expected = "even it is" if chat.id % 2 == 0 else "Only in even chats."
            assert await chat.ask("!even") == expected
            assert await chat.ask("!roll") == "4"
            assert await chat.ask("!roll") == "Slow down: you can use !roll again in 30 s."
            # The cooldown is per user.
            group = await chat.user.create_chat([name, vip.username])
            in_group = Chat(vip, group.id, name)
            assert await in_group.ask("!roll") == "4"
            assert await in_group.ask("!admin") == "yes, boss"
            assert await in_group.ask("!secret") == f"Ask me that in a direct chat with {name}."
            await chat.user.close()
            await vip.close()
        assert repr(hellocode.checks.direct_only()) == "<hellocode.checks.direct_only()>"

    run(scenario())


def test_a_raising_handler_is_logged_and_the_bot_goes_on(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="hellocode.bot")

    async def scenario() -> None:
        name, password = await bot_account(server.url)
        bot = hellocode.Bot(server.url, username=name, password=password)

        @bot.command("fail")
        async def fail(ctx: hellocode.Context) -> str:
            raise ValueError("the weather service is down")

        @bot.command("fail-sync")
        def fail_sync(ctx: hellocode.Context) -> str:
            raise KeyError("nothing here")

        @bot.command("wrong")
        async def wrong(ctx: hellocode.Context) -> int:
            return 42

        @bot.command("ping")
        async def ping(ctx: hellocode.Context) -> str:
            return "pong"

        @bot.on_message
        def broken(ctx: hellocode.Context) -> None:
            raise RuntimeError("message handler broke")

        async with running(bot):
            chat = await direct_chat(server.url, name)
            assert await chat.ask("!fail") == "Sorry, !fail failed."
            assert await chat.ask("!ping") == "pong"
            assert await chat.ask("!fail-sync") == "Sorry, !fail-sync failed."
            assert await chat.ask("!wrong") == "Sorry, !wrong failed."
            await chat.user.send(chat.id, "just talking")
            assert await chat.ask("!ping") == "pong"
            await chat.user.close()

    run(scenario())
    records = [record for record in caplog.records if record.name == "hellocode.bot"]
    assert all(record.levelno == logging.ERROR for record in records)
    failures = {type(record.exc_info[1]).__name__: record for record in records if record.exc_info}
    assert set(failures) == {"ValueError", "KeyError", "TypeError", "RuntimeError"}
    assert "!fail failed for" in failures["ValueError"].getMessage()
    assert "the weather service is down" in caplog.text
    assert 'raise ValueError("the weather service is down")' in caplog.text  # the traceback
    assert "a bot handler returns a str or None, not int" in caplog.text
    assert "message handler broke" in caplog.text


def test_custom_error_hook(server: Server) -> None:
    seen: list[tuple[str, Optional[str], Optional[str]]] = []

    async def scenario() -> None:
        name, password = await bot_account(server.url)
        bot = hellocode.Bot(server.url, username=name, password=password)

        @bot.command("half")
        async def half(ctx: hellocode.Context, n: int) -> str:
            if n % 2:
                raise ValueError(f"{n} is odd")
            return str(n // 2)

        @bot.on_error
        async def on_error(ctx: hellocode.Context, error: hellocode.CommandError) -> None:
            original = None if error.original is None else str(error.original)
            seen.append((error.kind, error.reply, original))
            assert ctx.command == "half"
            await ctx.reply(f"[{error.kind}] {ctx.args}")

        async with running(bot):
            chat = await direct_chat(server.url, name)
            assert await chat.ask("!half 4") == "2"
            assert await chat.ask("!half 3") == "[failed] 3"
            assert await chat.ask("!half x") == "[usage] x"
            await chat.user.close()

    run(scenario())
    assert seen == [
        ("failed", "Sorry, !half failed.", "3 is odd"),
        ("usage", '"x" is not a valid integer. Usage: !half <n: integer>', None),
    ]


def test_message_and_event_handlers(server: Server) -> None:
    events: list[hellocode.Event] = []

    async def scenario() -> None:
        name, password = await bot_account(server.url)
        bot = hellocode.Bot(server.url, username=name, password=password)

        @bot.on_message
        async def greet(ctx: hellocode.Context) -> Optional[str]:
            assert ctx.command is None and ctx.args == ""
            if "hello" in ctx.text.lower():
                return f"hello, {ctx.author}!"
            return None

        @bot.on_event
        def record(event: hellocode.Event) -> None:
            events.append(event)

        @bot.command("ping")
        async def ping(ctx: hellocode.Context) -> str:
            return "pong"

        async with running(bot):
            chat = await direct_chat(server.url, name)
            assert await chat.ask("Hello there") == f"hello, {chat.user.username}!"
            await chat.user.send(chat.id, "nothing to say to that")
            assert await chat.ask("!ping") == "pong"
            await chat.user.close()

    run(scenario())
    texts = [e.message.content for e in events if isinstance(e, hellocode.MessageEvent)]
    assert texts == ["Hello there", "nothing to say to that", "!ping"]
    assert any(isinstance(event, hellocode.ChatCreated) for event in events)


def test_join_handlers_welcome_new_members(server: Server) -> None:
    async def scenario() -> None:
        name, password = await bot_account(server.url)
        bot = hellocode.Bot(server.url, username=name, password=password)

        @bot.on_join
        async def welcome(ctx: hellocode.Context) -> str:
            assert ctx.chat is not None and not ctx.is_direct and ctx.text == ""
            assert ctx.message.kind == hellocode.EventKind.JOIN
            return f"welcome to {ctx.chat.name}, {ctx.member} (added by {ctx.author})"

        async with running(bot):
            owner = await register(server.url, "owner")
            friend = await register(server.url, "friend")
            late = await register(server.url, "late")
            newest = await register(server.url, "newest")
            group = await owner.create_group("Club", [name])
            in_group = Chat(owner, group.id, name)
            await owner.add_participants(group.id, [friend.username])
            assert await in_group.answer() == (
                f"welcome to Club, {friend.username} (added by {owner.username})"
            )
            # Added to a group later: neither those who joined before the bot nor itself.
            other = await owner.create_group("Other", [friend.username])
            in_other = Chat(owner, other.id, name)
            await owner.add_participants(other.id, [late.username])
            await owner.add_participants(other.id, [name])
            await owner.add_participants(other.id, [newest.username])
            # The bot's first post there is the welcome of the newest member.
            assert await in_other.answer() == (
                f"welcome to Other, {newest.username} (added by {owner.username})"
            )
            for client in (owner, friend, late, newest):
                await client.close()

    run(scenario())


def test_no_backlog(server: Server) -> None:
    async def scenario() -> None:
        name, password = await bot_account(server.url)
        chat = await direct_chat(server.url, name)
        await chat.user.send(chat.id, "!echo before the bot started")
        bot = hellocode.Bot(server.url, username=name, password=password)

        @bot.command("echo")
        async def echo(ctx: hellocode.Context, text: hellocode.Rest) -> str:
            return text

        async with running(bot):
            # A chat with old commands that the bot is added to later.
            friend = await register(server.url, "friend")
            group = await chat.user.create_group("Old commands", [friend.username])
            await chat.user.send(group.id, "!echo old one")
            await chat.user.send(group.id, "!help")
            await chat.user.add_participants(group.id, [name])
            in_group = Chat(chat.user, group.id, name)
            assert await chat.ask("!echo after") == "after"
            assert await in_group.ask("!echo new one") == "new one"
            history = [m.content for m in await chat.user.fetch_messages(group.id)]
            assert history == ["new one", "!echo new one", "!help", "!echo old one"]
            await friend.close()
        history = [m.content for m in await chat.user.fetch_messages(chat.id)]
        assert history == ["after", "!echo after", "!echo before the bot started"]
        await chat.user.close()

    run(scenario())


def test_persistence_answers_what_came_while_down_once(server: Server, tmp_path: Path) -> None:
    positions = tmp_path / "positions.json"

    async def scenario() -> None:
        name, password = await bot_account(server.url)

        def make_bot() -> hellocode.Bot:
            bot = hellocode.Bot(server.url, username=name, password=password, persist=positions)

            @bot.command("echo")
            async def echo(ctx: hellocode.Context, text: hellocode.Rest) -> str:
                return text

            return bot

        chat = await direct_chat(server.url, name)
        async with running(make_bot()):
            assert await chat.ask("!echo one") == "one"
        # Saved at least up to the command (the bot's own reply may come after it stopped).
        assert json.loads(positions.read_text())[str(chat.id)] >= 1
        await chat.user.send(chat.id, "!echo while down")
        async with running(make_bot()):
            assert await chat.answer() == "while down"
            assert await chat.ask("!echo two") == "two"
        async with running(make_bot()):
            await chat.silence()
        history = [m.content for m in await chat.user.fetch_messages(chat.id)]
        assert history == ["two", "!echo two", "while down", "!echo while down", "one", "!echo one"]
        await chat.user.close()

    run(scenario())


def test_replies_honour_the_rate_limit() -> None:
    async def scenario(server: Server) -> None:
        name, password = await bot_account(server.url)
        bot = hellocode.Bot(server.url, username=name, password=password)

        @bot.command("n")
        async def n(ctx: hellocode.Context, value: int) -> str:
            return f"#{value}"

        async with running(bot):
            chat = await direct_chat(server.url, name)
            count = 16
            for value in range(count):
                chat.user.enqueue(chat.id, f"!n {value}")
            answers = [await chat.answer(timeout=30) for _ in range(count)]
            assert answers == [f"#{value}" for value in range(count)]
            await chat.user.close()

    # A few commands per second: the bot's replies must wait, not fail.
    with launch_server(rate=4, rate_burst=4) as server:
        run(scenario(server), timeout=90)


async def expect(chat: Chat, start: str, timeout: float = 15.0) -> str:
    """Wait for the bot to say something starting with `start` (skipping anything else)."""
    deadline = time.monotonic() + timeout
    while not (said := await chat.answer(max(0.1, deadline - time.monotonic()))).startswith(start):
        pass
    return said


async def wait_until_up(chat: Chat, command: str, answer: str, timeout: float = 30.0) -> None:
    """Send `command` until the bot (a process starting up) answers it (`answer...`)."""
    deadline = time.monotonic() + timeout
    while True:
        await chat.user.send(chat.id, command)
        try:
            await expect(chat, answer, timeout=1.0)
            return
        except asyncio.TimeoutError:
            if time.monotonic() > deadline:
                raise


def stop(process: "subprocess.Popen[str]", how: signal.Signals) -> tuple[str, str]:
    """Send `how`, and return the process's stdout and stderr once it exited with 0."""
    process.send_signal(how)
    try:
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    return stdout, stderr


BOT_SCRIPT = """
import asyncio, os, sys, threading
import hellocode

bot = hellocode.Bot(os.environ["HELLOCODE_SERVER"], username=os.environ["BOT_USER"],
                    password=os.environ["BOT_PASSWORD"], persist=sys.argv[1])

# Set when the signal has asked the bot to stop, so that `!slow` is surely still running then.
stop_requested = threading.Event()
graceful_stop = bot.stop

def stop() -> None:
    stop_requested.set()
    graceful_stop()

bot.stop = stop  # type: ignore[method-assign]

@bot.command("echo")
async def echo(ctx: hellocode.Context, text: hellocode.Rest) -> str:
    return text

@bot.command("slow")
async def slow(ctx: hellocode.Context) -> str:
    await ctx.reply("working")
    while not stop_requested.is_set():
        await asyncio.sleep(0.01)
    return "done"

@bot.command("fail")
def fail(ctx: hellocode.Context) -> None:
    raise ValueError("boom")

bot.run()
print("bot stopped", flush=True)
"""


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_stops_gracefully_on_signals(
    server: Server, tmp_path: Path, how: signal.Signals
) -> None:
    script, positions = tmp_path / "bot.py", tmp_path / "positions.json"
    script.write_text(BOT_SCRIPT)

    async def scenario() -> None:
        name, password = await bot_account(server.url)
        chat = await direct_chat(server.url, name)
        env = dict(os.environ, HELLOCODE_SERVER=server.url, BOT_USER=name, BOT_PASSWORD=password)
        process = subprocess.Popen(
            [sys.executable, str(script), str(positions)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            await wait_until_up(chat, "!echo up", "up")
            # No logging configured: the failure still reaches stderr, with its traceback.
            assert await chat.ask("!fail") == "Sorry, !fail failed."
            slow = await chat.user.send(chat.id, "!slow")
            await expect(chat, "working")  # the handler runs, and ends only once stopping
            stdout, stderr = await asyncio.to_thread(stop, process, how)
        finally:
            process.kill()
        # The running handler finished and its reply was sent before the process exited.
        await expect(chat, "done")
        assert "bot stopped" in stdout
        assert "!fail failed for" in stderr and "Traceback" in stderr
        assert "ValueError: boom" in stderr
        assert json.loads(positions.read_text())[str(chat.id)] >= slow.seq
        await chat.user.close()

    run(scenario(), timeout=90)


def run_example(
    path: Path, server: Server, name: str, password: str
) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [sys.executable, str(path), "--server", server.url, "--user", name],
        env=dict(os.environ, HELLOCODE_PASSWORD=password),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_echo_bot_example(server: Server) -> None:
    async def scenario() -> None:
        name, password = await bot_account(server.url)
        chat = await direct_chat(server.url, name)
        process = run_example(EXAMPLES / "echo_bot.py", server, name, password)
        try:
            await wait_until_up(chat, "!echo are you there", "are you there")
            assert await chat.ask("!say hello, echo") == "hello, echo"
            stdout, _ = await asyncio.to_thread(stop, process, signal.SIGINT)
        finally:
            process.kill()
        assert stdout.splitlines() == ["echo bot running", "echo bot stopped"]
        await chat.user.close()

    run(scenario(), timeout=90)


def test_matchmaker_example(server: Server) -> None:
    async def scenario() -> None:
        name, password = await bot_account(server.url)
        chat = await direct_chat(server.url, name)
        rustacean = await register(server.url, "rustacean")
        language = unique_name("lang")
        await rustacean.add_language(language)
        await rustacean.update_profile(languages=[language])
        process = run_example(EXAMPLES / "matchmaker.py", server, name, password)
        try:
            await wait_until_up(chat, "!find cobol", "Nobody else wants to talk about cobol yet.")
            assert await chat.ask("!find cobol") == (
                "Nobody else wants to talk about cobol yet. Add it to your profile so others find "
                "you: /languages cobol in the terminal chat, or "
                "client.update_profile(languages=[...]) in Python."
            )
            found = await chat.ask(f"!find {language}")
            assert found == f"Want to talk about {language}: {rustacean.username}."
            stdout, _ = await asyncio.to_thread(stop, process, signal.SIGTERM)
        finally:
            process.kill()
        assert "matchmaker stopped" in stdout
        await chat.user.close()
        await rustacean.close()

    run(scenario(), timeout=90)


def readme_bot() -> str:
    """The bot of the package README: the first Python block that makes a `hellocode.Bot`."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    bots = [block for block in blocks if "hellocode.Bot(" in block]
    assert bots, "the README has no bot"
    return str(bots[0])


def test_readme_bot_runs_as_written(tmp_path: Path) -> None:
    code = readme_bot()
    assert len(code.strip().splitlines()) <= 12
    script = tmp_path / "readme_bot.py"
    script.write_text(code)

    async def scenario(server: Server) -> None:
        user = await register(server.url, "reader")
        process = subprocess.Popen(
            [sys.executable, str(script)],
            env=dict(os.environ, HELLOCODE_SERVER=server.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # The bot registers itself on its first run: wait for its account.
            deadline = time.monotonic() + 30
            while True:
                try:
                    bot_chat = await user.chat_with(["echobot"])
                    break
                except hellocode.HelloCodeError:
                    assert time.monotonic() < deadline, "the README bot never registered"
                    await asyncio.sleep(0.2)
            chat = Chat(user, bot_chat.id, "echobot")
            await wait_until_up(chat, "!echo hello from the README", "hello from the README")
            stdout, stderr = await asyncio.to_thread(stop, process, signal.SIGINT)
        finally:
            process.kill()
        assert "Traceback" not in stderr
        await user.close()

    with launch_server() as server:  # its own server: the README's bot has a fixed name
        run(scenario(server), timeout=90)
