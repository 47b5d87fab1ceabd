"""`-f/--file FILE`, the same on every command that takes an env file: another way to give the
command's positional ENV_FILE, so `store realize -f F` and `store run F -- CMD` work as well
as `store realize F` and `store run -f F -- CMD`. Never reads the file itself. Also the default
env file of the current directory, and what an ENV_FILE|PREFIX argument names."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from envstore.errors import UsageError

if TYPE_CHECKING:
    from envstore.index.config import IndexOptions

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


def default_env_file(given: Path | None) -> Path:
    """`given`, else the first of project.DEFAULT_ENV_FILES here; none there is a usage error."""
    if given is not None:
        return given
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.spec import SpecError, find_env_file

    try:
        return find_env_file()
    except SpecError as e:  # callers (run, shell, activate) treat "none here" as a usage error
        raise UsageError(str(e)) from None


def existing_env_file(given: Path | None) -> Path:
    """The env file a command acts on, which must exist."""
    env_file = default_env_file(given)
    if not env_file.is_file():
        raise UsageError(f"env file {env_file} does not exist")
    return env_file


def prefix_for(app: Any, target: str, index: IndexOptions | None = None,
               python: str | None = None) -> tuple[Path, Path | None, Path | None]:
    """(prefix, env file, out-link) for an env file (realized now) or a prefix / out-link path."""
    path = Path(target)
    if path.is_dir():
        real = Path(os.path.realpath(path))
        if not (real / "pyvenv.cfg").is_file():
            raise UsageError(f"{target} is a directory but not an environment prefix")
        return real, None, None
    if not path.is_file():
        raise UsageError(f"no env file or prefix at {target}")
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.realize_options import RealizeOptions
    from envstore.ops.realize_route import realize
    from envstore.project import out_link_of

    prefix = realize(path, app.store_root, RealizeOptions(index=index, python=python), app.info)
    return prefix, path.absolute(), out_link_of(path.absolute(), prefix)
