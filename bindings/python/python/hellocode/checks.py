"""Common checks for `Bot.command(checks=[...])`, made by the Rust framework.

Any callable `(ctx) -> bool | str | None` is a check too: False or a str refuses the command
(the str is the reason told to the user).
"""

from __future__ import annotations

from collections.abc import Iterable

from ._hellocode import BuiltinCheck, _check_direct_only, _check_only_users

__all__ = ["BuiltinCheck", "direct_only", "only_users"]


def direct_only() -> BuiltinCheck:
    """Only in a direct chat between the bot and one other person (not in a group)."""
    return _check_direct_only()


def only_users(usernames: Iterable[str]) -> BuiltinCheck:
    """Only for these users."""
    return _check_only_users(list(usernames))
