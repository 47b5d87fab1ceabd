"""`store lock [ENV_FILE]`: resolve an env file against the configured indexes for its
interpreter and write the PEP 751 lockfile beside it; prints the lockfile's path on stdout."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from envstore.cli.envfile import file_option
from envstore.cli.options import index_options

if TYPE_CHECKING:
    from envstore.index.config import IndexOptions


@click.command("lock")
@file_option("env_file")
@click.argument("env_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@index_options
@click.option("--upgrade", is_flag=True, help="Ignore the existing lock's pins and take the newest versions.")
@click.option("--upgrade-package", "upgrade_packages", multiple=True, metavar="NAME",
              help="Allow this package to move off its pinned version; repeatable.")
@click.pass_obj
def command(app, env_file: Path | None, index: IndexOptions | None, upgrade: bool,
            upgrade_packages: tuple[str, ...]) -> None:
    """Resolve ENV_FILE or -f FILE and write its lockfile.

    ENV_FILE defaults to the first of env.yml, environment.yml, env.yaml and environment.yaml here.

    The lockfile is pylock.toml beside env.yml/environment.yml, pylock.<stem>.toml beside any
    other env file. Versions already locked are kept unless --upgrade/--upgrade-package.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.errors import UsageError
    from envstore.lockfile import lock_path_for, read_lock
    from envstore.progress import duration, plural
    from envstore.resolve.lock import lock_env
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
    lock = lock_env(env_file, store, index, upgrade=upgrade, upgrade_packages=upgrade_packages, progress=app.info)
    path = lock_path_for(env_file)
    app.info(f"locked {plural(len(lock.packages), 'package')} for python {lock.interpreter.get('version', '?')} "
             f"in {duration(time.monotonic() - started)}")
    click.echo(str(path.absolute()))
