"""`-f/--file FILE`, the same on every command that takes an env file: another way to give the
command's positional ENV_FILE, so `store realize -f F` and `store run F -- CMD` work as well
as `store realize F` and `store run -f F -- CMD`. Never reads the file itself."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

ENV_FILE_SUFFIXES = (".yml", ".yaml", ".toml")


def looks_like_env_file(word: str) -> bool:
    """An env file (or a pylock.toml) by its name: what `store run WORD …` takes as the env
    file rather than the command to run (no command is named like that)."""
    return Path(word).suffix.lower() in ENV_FILE_SUFFIXES


def file_option(into: str, *, required: bool = False, as_str: bool = False, exists: bool = False,
                metavar: str = "ENV_FILE") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add `-f/--file FILE` feeding the positional parameter `into`; giving both (different)
    is a usage error, and with `required` one of them must be given. Put it right below
    `@click.command` so it sees every other parameter."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = kwargs.pop("file_option", None)
            positional = kwargs.get(into)
            if given is not None:
                if positional is not None and Path(str(positional)) != given:
                    raise click.UsageError(f"two env files given ({positional} and -f {given}): give one")
                kwargs[into] = str(given) if as_str else given
            elif required and positional is None:
                raise click.UsageError(f"Missing argument '{metavar}' (or -f/--file FILE).")
            return f(*args, **kwargs)

        return click.option("-f", "--file", "file_option", type=click.Path(dir_okay=False, exists=exists, path_type=Path),
                            metavar="FILE", help=f"The env file (the same as giving it as {metavar}).")(wrapper)

    return decorate
