"""`store realize`: env file -> immutable prefix; prints the prefix path and only that."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from envstore.cli.envfile import existing_env_file, file_option
from envstore.cli.options import index_options, python_option, substituter_options

if TYPE_CHECKING:
    from envstore.index.config import IndexOptions
    from envstore.cache.substituters import Substituters


@click.command("realize")
@file_option("env_file")
@click.argument("env_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@index_options
@substituter_options
@python_option
@click.option("--frozen", is_flag=True, help="Use the lockfile as it is; fail if it is missing or stale.")
@click.option("--no-out-link", is_flag=True, help="Do not create .envstore/<name> beside the env file (no GC root).")
@click.option("--lock-timeout", type=float, default=None, metavar="SECONDS",
              help="Give up waiting for a running gc after this long (default: wait).")
@click.pass_obj
def command(app, env_file: Path | None, index: IndexOptions | None, substituters: Substituters | None, frozen: bool,
            no_out_link: bool, lock_timeout: float | None, python: str | None = None) -> None:
    """Make the environment of ENV_FILE exist and print its prefix.

    ENV_FILE (or -f FILE) defaults to the first of env.yml, environment.yml, env.yaml and environment.yaml in the current directory. The lockfile
    beside it (pylock.toml) is used when it matches the env file and written when it does not.
    The prefix STORE/envs/<hash>-<name> is derived from the lock and the interpreter; when it
    already exists this returns at once. Configured substituters (binary caches) are asked for
    the prefix before the index. A link .envstore/<name> beside the env file keeps the
    prefix alive across `store gc`.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.realize_options import RealizeOptions
    from envstore.ops.realize_route import realize

    env_file = existing_env_file(env_file)
    options = RealizeOptions(frozen=frozen, out_link=not no_out_link, lock_timeout=lock_timeout, index=index,
                             substituters=substituters, python=python)
    prefix = realize(env_file, app.store_root, options, app.info)
    click.echo(str(prefix))


# Nix users type "realise".
realise_command = click.Command("realise", callback=command.callback, params=command.params, help=command.help,
                                hidden=True)

