"""`store add SPEC…` / `store remove NAME…`: edit the env file in place (comments and layout
kept, spec/edit.py), then lock and realize exactly as `store realize` does. If locking or
realizing fails, the env file and its lockfile get their previous bytes back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from envstore.cli.envfile import default_env_file
from envstore.cli.options import index_options

if TYPE_CHECKING:
    from envstore.index.config import IndexOptions
    from envstore.spec.edit import Change

# An edit of the env file's text: (new text, the changes to report).
Edit = Callable[[str, Path], "tuple[str, list[Change]]"]

_FILE_HELP = "The env file to edit (default: the first of env.yml, environment.yml, env.yaml, environment.yaml)."
_NO_REALIZE_HELP = "Edit the env file and lock it; do not realize (prints the lockfile's path)."


@click.command("add")
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("-f", "--file", "env_file", type=click.Path(dir_okay=False, path_type=Path), help=_FILE_HELP)
@click.option("--pip", "to_pip", is_flag=True,
              help="Put the requirements in the `pip:` list (PEP 508), creating it if needed.")
@click.option("--no-realize", "--lock-only", "no_realize", is_flag=True, help=_NO_REALIZE_HELP)
@index_options
@click.pass_obj
def add_command(app, specs: tuple[str, ...], env_file: Path | None, to_pip: bool, no_realize: bool,
                index: IndexOptions | None) -> None:
    """Add packages to the env file, then lock and realize it; prints the prefix.

    Each SPEC is a conda match spec for `dependencies:` (`numpy`, `numpy>=1.26`,
    `pandas=2.2`), or with --pip a PEP 508 requirement for the `pip:` list. A package
    the list already has is replaced where it is, keeping its comment. A new `pip:`
    list comes with `pip` in `dependencies:`, as conda expects. Comments and layout of
    the rest of the file are kept byte for byte. The lockfile keeps the other
    packages' versions. If locking or realizing fails, the env file is left as it was.

    \b
    Examples:
      store add numpy 'pandas>=2.2'
      store add 'python=3.12'            # another interpreter
      store add --pip 'requests[socks]>=2.31'
      store add -f dev.yml --no-realize pytest
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.spec.edit import add_entry

    def edit(text: str, path: Path):
        changes = []
        for spec in specs:
            text, more = add_entry(text, spec, pip=to_pip, path=path)
            changes += more
        return text, changes

    _edit_and_realize(app, env_file, edit, no_realize, index)


@click.command("remove")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("-f", "--file", "env_file", type=click.Path(dir_okay=False, path_type=Path), help=_FILE_HELP)
@click.option("--no-realize", "--lock-only", "no_realize", is_flag=True, help=_NO_REALIZE_HELP)
@index_options
@click.pass_obj
def remove_command(app, names: tuple[str, ...], env_file: Path | None, no_realize: bool,
                   index: IndexOptions | None) -> None:
    """Remove packages from the env file, then lock and realize it; prints the prefix.

    A NAME is removed from wherever the file lists it: `dependencies:` or the `pip:`
    list (a `pip:` list left empty goes too). Conda and index spellings of a name
    both match (`pytorch` removes `torch`). A name the file does not list is an error
    and nothing changes. Packages that only the removed ones needed leave the lock.

    \b
    Examples:
      store remove requests
      store remove -f dev.yml --no-realize pytest pytest-cov
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.spec.edit import remove_entry

    def edit(text: str, path: Path):
        changes = []
        for name in names:
            _check_bare_name(name)
            text, more = remove_entry(text, name, path=path)
            changes += more
        return text, changes

    _edit_and_realize(app, env_file, edit, no_realize, index)


def _check_bare_name(name: str) -> None:
    import re

    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.errors import UsageError

    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", name):
        error = UsageError(f"store remove takes package names, not {name!r}")
        error.hint = f"store remove {re.split(r'[^A-Za-z0-9._-]', name, maxsplit=1)[0] or 'NAME'}"
        raise error


def _edit_and_realize(app, env_file: Path | None, edit: Edit, no_realize: bool, index: IndexOptions | None) -> None:
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.errors import UsageError
    from envstore.lockfile import lock_path_for
    from envstore.ops.realize import RealizeOptions, obtain_lock
    from envstore.ops.realize_route import realize
    from envstore.spec import SpecError
    from envstore.spec.envfile import parse_env_file

    env_file = default_env_file(env_file)
    if not env_file.is_file():
        raise UsageError(f"env file {env_file} does not exist")
    if not env_file.name.endswith((".yml", ".yaml")):
        error = UsageError(f"{env_file.name} is not an env.yml-style file; store add/remove edit those only")
        error.hint = "edit it by hand, then `store realize`"
        raise error
    before = env_file.read_bytes()
    try:
        text = before.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"not UTF-8 text ({e.reason} at byte {e.start})", env_file) from None
    new_text, changes = edit(text, env_file)
    try:
        parse_env_file(env_file, new_text)  # nothing is written that the next step would refuse
    except SpecError as e:
        raise SpecError(f"the edit would make {env_file.name} invalid: {e.message}", hint=e.hint) from None
    for change in changes:
        app.info(change.describe(env_file.name))

    lock_path = lock_path_for(env_file)
    lock_before = lock_path.read_bytes() if lock_path.is_file() else None
    if new_text != text:
        _write_in_place(env_file, new_text.encode("utf-8"))
    options = RealizeOptions(index=index)
    try:
        if no_realize:
            obtain_lock(env_file.absolute(), app.store(), options, app.info)
            click.echo(str(lock_path.absolute()))
        else:
            click.echo(str(realize(env_file, app.store_root, options, app.info)))
    except BaseException:
        if new_text != text:
            _write_in_place(env_file, before)
            if lock_before is not None:
                _write_in_place(lock_path, lock_before)
            else:
                lock_path.unlink(missing_ok=True)
            app.info(f"{env_file.name} and its lockfile are left as they were")
        raise


def _write_in_place(path: Path, data: bytes) -> None:
    """Overwrite the file itself (same inode): a symlinked or hardlinked env file stays one,
    and no temporary file appears beside it."""
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate()
