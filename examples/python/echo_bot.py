"""Run with: python examples/python/echo_bot.py --server ws://127.0.0.1:8080 --user echobot --password '<password>'

Answers `!echo <text>` (or `/echo`, or `!say`) with `<text>` in any chat it is in, and `!help`
with its commands. Only commands sent after it started are answered. Stops gracefully on Ctrl-C
or SIGTERM. Flags default to the HELLOCODE_SERVER, HELLOCODE_USER, HELLOCODE_PASSWORD and
HELLOCODE_TOKEN environment variables; `--register EMAIL` creates the account the first time.
"""

from __future__ import annotations

import argparse
import os

import hellocode


def bot_from_args(description: str) -> hellocode.Bot:
    parser = argparse.ArgumentParser(description=description)
    env = os.environ.get
    parser.add_argument("--server", default=env("HELLOCODE_SERVER", "ws://127.0.0.1:8080"))
    parser.add_argument("--user", default=env("HELLOCODE_USER"))
    parser.add_argument("--password", default=env("HELLOCODE_PASSWORD"))
    parser.add_argument("--token", default=env("HELLOCODE_TOKEN"), help="a bot token instead")
    parser.add_argument("--register", metavar="EMAIL", help="create the account if it is new")
    args = parser.parse_args()
    if args.token:
        return hellocode.Bot(args.server, token=args.token)
    if not (args.user and args.password):
        parser.error("give --token, or --user and --password (or HELLOCODE_* variables)")
    return hellocode.Bot(
        args.server,
        username=args.user,
        password=args.password,
        email=args.register,
        register_or_login=args.register is not None,
    )


def main() -> None:
    bot = bot_from_args("An echo bot.")

    @bot.command("echo", aliases=["say"], description="Repeat your text")
    async def echo(ctx: hellocode.Context, text: hellocode.Rest) -> str:
        return text

    print("echo bot running", flush=True)
    bot.run()
    print("echo bot stopped", flush=True)


if __name__ == "__main__":
    main()
