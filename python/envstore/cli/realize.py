"""`store realize`: env file -> immutable prefix; prints the prefix path and only that."""

from __future__ import annotations

from pathlib import Path

import click

from envstore.cli.envfile import file_option
from envstore.cli.lock import index_options
from envstore.errors import UsageError


def default_env_file(given: Path | None) -> Path:
    if given is not None:
        return given
    from envstore.spec import SpecError, find_env_file

    try:
        return find_env_file()
    except SpecError as e:  # callers (run, shell, activate) treat "none here" as a usage error
        raise UsageError(str(e)) from None


@click.command("realize")
@file_option("env_file")
@click.argument("env_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@index_options
@click.option("--frozen", is_flag=True, help="Use the lockfile as it is; fail if it is missing or stale.")
@click.option("--no-out-link", is_flag=True, help="Do not create .envstore/<name> beside the env file (no GC root).")
@click.option("--lock-timeout", type=float, default=None, metavar="SECONDS",
              help="Give up waiting for a running gc after this long (default: wait).")
@click.pass_obj
def command(app, env_file: Path | None, index_url: str | None, extra_index_urls: tuple[str, ...],
            find_links: tuple[str, ...], offline: bool, frozen: bool, no_out_link: bool,
            lock_timeout: float | None) -> None:
    """Make the environment of ENV_FILE exist and print its prefix.

    ENV_FILE (or -f FILE) defaults to env.yml, then environment.yml, in the current directory. The lockfile
    beside it (pylock.toml) is used when it matches the env file and written when it does not.
    The prefix STORE/envs/<hash>-<name> is derived from the lock and the interpreter; when it
    already exists this returns at once. A link .envstore/<name> beside the env file keeps the
    prefix alive across `store gc`.
    """
    from envstore.realize import RealizeOptions, realize

    env_file = default_env_file(env_file)
    if not env_file.is_file():
        raise UsageError(f"env file {env_file} does not exist")
    options = RealizeOptions(
        frozen=frozen, offline=offline, out_link=not no_out_link, lock_timeout=lock_timeout,
        index_args={"index_url": index_url, "extra_index_urls": list(extra_index_urls),
                    "find_links": list(find_links)},
    )
    prefix = realize(env_file, app.store_root, options, app.info)
    click.echo(str(prefix))
