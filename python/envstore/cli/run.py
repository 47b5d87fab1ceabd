"""`store run`: realize an env file (or reuse it) and run a command inside it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import click

from envstore.cli.envfile import existing_env_file, looks_like_env_file
from envstore.cli.options import index_options, python_option
from envstore.errors import UsageError

if TYPE_CHECKING:
    from envstore.index.config import IndexOptions


def activated_environ(prefix: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(prefix)
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONHOME", None)
    return env


@click.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-f", "--file", "env_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The env file (default: the first of env.yml, environment.yml, env.yaml, environment.yaml); or give it before CMD.")
@index_options
@python_option
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED, metavar="[ENV_FILE] [--] CMD...")
@click.pass_obj
def command(app, env_file: Path | None, index: IndexOptions | None, cmd: tuple[str, ...],
            python: str | None = None) -> None:
    """Run CMD with the environment's bin/ first on PATH (and VIRTUAL_ENV set).

    The environment is realized first if needed. Use `--` before CMD when it has options:
    store run -- python -c 'import sys; print(sys.prefix)'. The env file is -f FILE or a
    first word ending in .yml, .yaml or .toml: store run ci.yml -- pytest
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.realize_options import RealizeOptions
    from envstore.ops.realize_route import realize

    if env_file is None and looks_like_env_file(cmd[0]):
        env_file, cmd = Path(cmd[0]), cmd[1:]
        if cmd[:1] == ("--",):
            cmd = cmd[1:]
    if not cmd:
        raise click.UsageError("no command to run: store run [-f ENV_FILE | ENV_FILE] -- CMD...")
    env_file = existing_env_file(env_file)
    prefix = realize(env_file, app.store_root, RealizeOptions(index=index, python=python), app.info)
    env = activated_environ(prefix)
    program = shutil.which(cmd[0], path=env["PATH"])
    if program is None:
        raise UsageError(f"command not found in {prefix.name} or on PATH: {cmd[0]}")
    os.execve(program, list(cmd), env)
