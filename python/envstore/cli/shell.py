"""`store shell`, `store activate`, `store hook`: the environment on PATH without shims."""

from __future__ import annotations

import os
from pathlib import Path

import click

from envstore.cli.envfile import default_env_file, file_option, prefix_for
from envstore.cli.options import python_option
from envstore.errors import UsageError
from envstore.store import layout

SHELL_CHOICE = click.Choice(["bash", "zsh", "fish"])


def activation_for(app, env: str | None, python: str | None = None):
    """What to activate: ENV (an env file, realized now; a prefix; an out-link), else the
    default env file here (realized now), else what the shims would use in this directory."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.activate import Activation, label_for

    if env is None:
        try:
            env = str(default_env_file(None))
        except UsageError:
            env = None
    if env is not None:
        prefix, _env_file, _link = prefix_for(app, env, python=python)
        return Activation(prefix, label_for(prefix), True)
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops import shims

    found = shims.resolve(Path(app.store().root), Path.cwd())
    if found is None:
        raise UsageError(f"nothing to activate in {Path.cwd()}: no env file, project, .python-version or profile")
    kind, directory = found
    return Activation(directory, label_for(directory), kind != "python")


@click.command("activate")
@file_option("env", as_str=True)
@click.option("--shell", "shell", type=SHELL_CHOICE, default=None,
              help="Script dialect (default: from $SHELL, else bash).")
@click.argument("env", required=False, metavar="[ENV_FILE|PREFIX]")
@click.pass_obj
def activate_command(app, shell: str | None, env: str | None) -> None:
    """Print a script that activates an environment: eval "$(store activate)".

    It puts the environment's bin/ first on PATH, sets VIRTUAL_ENV, marks the prompt, and
    defines `deactivate` to undo all of it.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.activate import activate_script, detect_shell
    from envstore.settings import SHELL

    act = activation_for(app, env)
    click.echo(activate_script(act, shell or detect_shell(SHELL.get())), nl=False)


@click.command("shell")
@file_option("env", as_str=True)
@click.argument("env", required=False, metavar="[ENV_FILE|PREFIX]")
@python_option
@click.pass_obj
def shell_command(app, env: str | None, python: str | None = None) -> None:
    """Start $SHELL with an environment active; `exit` returns to where you were."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.activate import shell_command as build
    from envstore.settings import SHELL

    act = activation_for(app, env, python)
    shell_path = SHELL.get() or "/bin/sh"
    argv, environ = build(act, shell_path, layout.tmp_dir(Path(app.store().root)))
    app.info(f"entering {act.label} ({act.directory}); `exit` leaves it")
    try:
        os.execvpe(argv[0], argv, environ)
    except OSError as e:
        raise UsageError(f"cannot start the shell {shell_path}: {e.strerror}") from None


@click.command("hook")
@click.argument("shell", type=SHELL_CHOICE)
@click.pass_obj
def hook_command(app, shell: str) -> None:
    """Print a prompt hook that switches PATH on cd: eval "$(store hook bash)".

    The alternative to shims: on each change of directory the native resolver (no Python)
    picks the project environment, .python-version interpreter or default profile, exactly as
    the shims would, and puts its bin/ first on PATH. Prompts in the same directory cost nothing.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops import shims
    from envstore.ops.activate import hook_script

    click.echo(hook_script(shell, shims.resolver(Path(app.store().root))), nl=False)
