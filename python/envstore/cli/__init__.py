"""The `store` command: the click group, its global options, and the one place where errors
become messages and exit codes (0 success, 1 the user's input or situation, 2 usage/internal)."""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import click

from envstore import __version__
from envstore.errors import EnvstoreError
from envstore.store import default_root, open_store
from envstore._core import Store


@dataclass
class AppContext:
    store_root: Path | None
    verbose: int
    quiet: bool

    def store(self) -> Store:
        return open_store(self.store_root)

    def info(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)


pass_app = click.make_pass_decorator(AppContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="store")
@click.option(
    "--store",
    "store_root",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ENVSTORE_ROOT",
    help=f"Store directory [env: ENVSTORE_ROOT; default: {default_root()}].",
)
@click.option("-v", "--verbose", count=True, help="More detail on stderr; -v shows tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, store_root: Path | None, verbose: int, quiet: bool) -> None:
    """envstore: content-addressed Python environments.

    Every file of every artifact is stored once as a read-only blob named by its BLAKE3 hash
    and hardlinked into every tree that uses it.
    """
    ctx.obj = AppContext(store_root=store_root, verbose=verbose, quiet=quiet)


def _register() -> None:
    from envstore.cli import (
        diff, du, export, gc, ingest, list_cmd, lock, materialize, python_cmd, realize, run, shell, shims, use,
        verify,
    )

    for module in (realize, lock, run, list_cmd, diff, export, du, gc, verify, python_cmd, ingest, materialize,
                   shims, use):
        cli.add_command(module.command)
    for extra in (use.rollback_command, use.profile_group, shell.shell_command, shell.activate_command,
                  shell.hook_command):
        cli.add_command(extra)
    # Nix users type "realise".
    cli.add_command(click.Command("realise", callback=realize.command.callback, params=realize.command.params,
                                  help=realize.command.help, hidden=True))


_register()


def _fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(code)


def _render_os_error(e: OSError) -> str:
    what = e.strerror or str(e)
    return f"{what}: {e.filename}" if e.filename else what


def main(argv: list[str] | None = None) -> None:
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="store", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", code=130)
    except click.ClickException as e:
        e.show()
        sys.exit(2 if isinstance(e, click.UsageError) else e.exit_code)
    except EnvstoreError as e:
        if verbose:
            traceback.print_exc()
        _fail(str(e), getattr(e, "hint", None))
    except PermissionError as e:
        if verbose:
            traceback.print_exc()
        _fail(_render_os_error(e), "check the store's ownership and permissions (--store)")
    except OSError as e:
        if verbose:
            traceback.print_exc()
        hint = "free some space, then run the command again" if e.errno == 28 else None
        _fail(_render_os_error(e), hint)
    except KeyboardInterrupt:
        _fail("interrupted", code=130)
    except Exception as e:  # noqa: BLE001 - the last line of defence: never a bare traceback
        if verbose:
            traceback.print_exc()
        _fail(f"internal error: {type(e).__name__}: {e}", "run again with -v and report it", code=2)
