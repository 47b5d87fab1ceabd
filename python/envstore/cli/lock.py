"""`store lock [ENV_FILE]`: resolve an env file against the configured indexes for its
interpreter and write the PEP 751 lockfile beside it; prints the lockfile's path on stdout."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from envstore.cli.envfile import file_option
from envstore.cli.options import index_options, prerelease_option, python_option

if TYPE_CHECKING:
    from envstore.index.config import IndexOptions


@click.command("lock")
@file_option("env_file")
@click.argument("env_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@index_options
@python_option
@click.option("--upgrade", is_flag=True, help="Ignore the existing lock's pins and take the newest versions.")
@click.option("--upgrade-package", "upgrade_packages", multiple=True, metavar="NAME",
              help="Allow this package to move off its pinned version; repeatable.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 (naming the pins that differ) when the lockfile would change.")
@click.option("--dry-run", "dry_run", is_flag=True,
              help="Write nothing; print the pins that would change (+ added, - removed, ~ moved).")
@click.option("--platform", "platforms", multiple=True, metavar="PLATFORM",
              help="Lock for this platform only (linux-x86_64, linux-aarch64, macos-x86_64, "
                   "macos-arm64, windows-x86_64, or `all`), each of which must resolve; repeatable. With "
                   "--python, for that Python only; else for every supported CPython the env file allows. "
                   "Replaces the env file's `envstore: {platforms: [...]}`.")
@prerelease_option
@click.pass_obj
def command(app, env_file: Path | None, index: IndexOptions | None, upgrade: bool,
            upgrade_packages: tuple[str, ...], check: bool = False, dry_run: bool = False,
            python: str | None = None, platforms: tuple[str, ...] = (), prerelease: str | None = None) -> None:
    """Resolve ENV_FILE or -f FILE and write its lockfile.

    ENV_FILE defaults to the first of env.yml, environment.yml, env.yaml and environment.yaml here.

    The lockfile is pylock.toml beside env.yml/environment.yml, pylock.<stem>.toml beside any
    other env file. Versions already locked are kept unless --upgrade/--upgrade-package.

    The lock is universal: one pylock.toml for every supported CPython the env file's python=
    allows (3.9 to 3.13) on Linux x86_64/aarch64, macOS x86_64/arm64 and Windows x86_64, with
    every wheel those environments need and PEP 751 markers for what only some take. An
    environment that cannot be resolved (no wheel, a pin that python cannot take) is left out
    and named; when none of this machine's platform resolves, the lock is for this machine's
    interpreter alone. Narrow it with `envstore: {platforms: [...], python: [X.Y, ...]}` in the
    env file (then every environment named must resolve) or --platform / --python.
    `store realize` picks from the lock what fits its interpreter; `--python X.Y` chooses one.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.errors import UsageError
    from envstore.lockfile import lock_path_for, read_lock
    from envstore.progress import duration, plural
    from envstore.spec import find_env_file

    started = time.monotonic()
    env_file = env_file or find_env_file()
    if lock_path_for(env_file) == env_file:
        # A pylock.toml is the user's input here (perhaps another tool's): checked, never rewritten.
        if upgrade or upgrade_packages:
            raise UsageError(f"{env_file} is a lockfile; --upgrade needs the env file it was made from")
        existing = read_lock(env_file)
        app.info(f"{env_file.name} is already a lockfile ({plural(len(existing.packages), 'package')}, written by "
                 f"{existing.created_by}); nothing to resolve: `store realize {env_file}` uses it as it is")
        click.echo(str(env_file.absolute()))
        return
    store = app.store()
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.spec import load_spec
    from envstore.spec.conda_env import is_explicit, solvable_conda_route

    if is_explicit(env_file) or solvable_conda_route(env_file) is not None:
        _lock_conda(app, env_file, store, index, upgrade, check, dry_run, python, platforms, prerelease, started)
        return

    no_write = check or dry_run
    lock = _lock_universal(app, env_file, store, index, upgrade, upgrade_packages, platforms, python,
                           prerelease, write=not no_write, everywhere=not platforms and not load_spec(env_file).universal)
    what = (f"python {lock.interpreter.get('version', '?')}" if lock.interpreter.get("version")  # this machine's only
            else f"{plural(len(lock.environments), 'platform')} (python {lock.requires_python})")
    if no_write:
        _compare(app, lock_path_for(env_file), lock, check)
        return
    app.info(f"locked {plural(len(lock.packages), 'package')} for {what} in {duration(time.monotonic() - started)}")
    click.echo(str(lock_path_for(env_file).absolute()))


def _lock_universal(app: Any, env_file: Path, store: Any, index: IndexOptions | None, upgrade: bool,
                    upgrade_packages: tuple[str, ...], platforms: tuple[str, ...], python: str | None,
                    prerelease: str | None, write: bool, everywhere: bool) -> Any:
    """Issue 17: one lock for the declared environments (resolve/universal.py), by default
    every supported python on every platform; the flags replace the env file's
    `envstore: {platforms, python}`."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.realize import source_reader
    from envstore.resolve.universal import PLATFORMS, lock_universal

    chosen = tuple(PLATFORMS) if "all" in platforms else platforms
    return lock_universal(env_file, store, index, pythons=(python,) if python else (), platforms=chosen,
                          upgrade=upgrade, upgrade_packages=upgrade_packages, progress=app.info,
                          prerelease=prerelease, write=write, sources=source_reader(store, app.info),
                          everywhere=everywhere)


def _lock_conda(app: Any, env_file: Path, store: Any, index: IndexOptions | None, upgrade: bool, check: bool,
                dry_run: bool, python: str | None, platforms: tuple[str, ...], prerelease: str | None,
                started: float) -> None:
    """Issue 15: an env file on the conda route is solved from its channels, as realize would."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.errors import UsageError
    from envstore.lockfile import lock_path_for
    from envstore.ops.realize_conda import lock_conda
    from envstore.progress import duration, plural

    given = [flag for flag, value in (("--python", python), ("--platform", platforms), ("--prerelease", prerelease),
                                      ("--dry-run", dry_run)) if value]
    if given:
        raise UsageError(f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} not for an env file on the "
                         f"conda route ({env_file.name})",
                         "the conda solver picks python from the env file's dependencies")
    count, current = lock_conda(env_file, Path(store.root), app.info, index, upgrade=upgrade, check=check)
    path = lock_path_for(env_file)
    if check:
        if not current:
            app.info(f"{path.name} would change: it is missing, or the env file or its channels changed "
                     "since it was solved")
            raise SystemExit(1)
        return
    if current and not upgrade:
        app.info(f"{path.name} is current ({plural(count, 'conda package')}); --upgrade solves again")
    else:
        app.info(f"locked {plural(count, 'package')} from conda channels in {duration(time.monotonic() - started)}")
    click.echo(str(path.absolute()))


def _compare(app: Any, path: Path, new: Any, check: bool) -> None:
    """`--check` / `--dry-run`: the lock resolved as `store lock` would, compared with the
    lockfile on disk byte for byte (the writer is deterministic, so equal content is equal
    text); the pin lines go to stdout for --dry-run, to stderr for --check (CI reads the exit)."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.lockfile import LockfileError, dumps_lock, pin_changes, read_lock
    from envstore.progress import plural

    old_text = path.read_text(encoding="utf-8") if path.is_file() else None
    old = read_lock(path) if old_text is not None else None
    changed = old_text != dumps_lock(new)
    lines = pin_changes(old, new)
    if not check:
        for line in lines:
            click.echo(line)
        app.info(f"{path.name}: " + ("would be written" if old is None else
                                     f"{plural(len(lines), 'pin')} would change" if lines else
                                     "would be rewritten (same pins, other fields)" if changed else "up to date"))
        return
    if not changed:
        app.info(f"{path.name} is up to date")
        return
    for line in lines:
        app.info(line)
    what = "does not exist" if old is None else (f"is out of date: {plural(len(lines), 'pin')} would change"
                                                 if lines else "is out of date (same pins, other fields)")
    raise LockfileError(f"the lockfile {what}", path, "run `store lock` and commit the result")
