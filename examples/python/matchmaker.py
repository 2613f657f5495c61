"""Run with: python examples/python/matchmaker.py --server ws://127.0.0.1:8080 --user matchmaker --password '<password>'

The original app's purpose as a bot: `!find rust` lists the other users who want to talk about
Rust, to start a chat with them. Flags as in echo_bot.py (HELLOCODE_* environment variables,
`--register EMAIL`, `--token`).
"""

from __future__ import annotations

import hellocode
from echo_bot import bot_from_args


async def find(ctx: hellocode.Context, language: str) -> str:
    users = await ctx.client.find_users(language)
    others = [u.username for u in users if u.username not in (ctx.author, ctx.bot_username)]
    if not others:
        return (
            f"Nobody else wants to talk about {language} yet. Add it to your profile so others "
            f"find you: /languages {language} in the terminal chat, or "
            f"client.update_profile(languages=[...]) in Python."
        )
    return f"Want to talk about {language}: {', '.join(others)}."


def main() -> None:
    bot = bot_from_args("The language matchmaker bot.")
    bot.command("find", description="Who wants to talk about a language")(find)
    print("matchmaker running", flush=True)
    bot.run()
    print("matchmaker stopped", flush=True)


if __name__ == "__main__":
    main()
