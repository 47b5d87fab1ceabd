"""`store shims install`: write the native shims into a directory for PATH; prints that
directory on stdout and the line to add to a shell profile on stderr."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from envstore.progress import plural


@click.group("shims")
def command() -> None:
    """The native `python`/`pip`/console-script shims that pick an environment by directory."""


@command.command("install")
@click.option("--dir", "shim_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to put the shims (default: STORE/shims/bin).")
@click.pass_obj
def install_cmd(app, shim_dir: Path | None) -> None:
    """Install (or refresh) the shims and print their directory.

    In a directory with .envstore/ (or below one) `python` runs that project's environment;
    else a .python-version file picks an interpreter of the store; else the default profile
    (`store use`). Realizing and switching keep the set of command names up to date.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops import shims

    root = Path(app.store().root)
    report = shims.install(root, shim_dir)
    click.echo(str(report.shim_dir))
    for name in report.skipped:
        app.info(f"warning: {report.shim_dir / name} exists and was not written by envstore; left alone")
    app.info(f"installed {plural(len(report.names), 'shim')}; add this line to your shell profile:")
    app.info(f"export PATH={shlex.quote(str(report.shim_dir))}:\"$PATH\"")


@command.command("which")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def which_cmd(app, directory: Path | None) -> None:
    """Print the directory the shims use in DIRECTORY (default: here) and why (env, python, profile)."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.errors import UsageError
    from envstore.ops import shims

    found = shims.resolve(Path(app.store().root), (directory or Path.cwd()).absolute())
    if found is None:
        raise UsageError("no project, .python-version or default profile applies here; the shims fall through to PATH")
    click.echo(f"{found[1]}\t{found[0]}")
