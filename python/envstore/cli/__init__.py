"""The `store` command: the click group, its global options, and the one place where errors
become messages and exit codes (0 success, 1 the user's input or situation, 2 usage/internal)."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

import envstore
from envstore.errors import EnvstoreError
from envstore.store import default_root, layout, open_store
from envstore._core import Store


@dataclass
class AppContext:
    store_root: Path | None
    verbose: int
    quiet: bool

    def store(self) -> Store:
        return open_store(self.store_root)

    def info(self, message: str) -> None:
        # lazy: a command loads its own ops; `store --help` loads none
        from envstore.progress import print_above_bars

        if not self.quiet and not print_above_bars(message):
            click.echo(message, err=True)


pass_app = click.make_pass_decorator(AppContext)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # Not click.version_option(envstore.__version__): reading the installed metadata costs
    # ~20 ms (importlib.metadata) that every other command would pay at import.
    if value and not ctx.resilient_parsing:
        click.echo(f"store, version {envstore.__version__}")
        ctx.exit()


class LazyGroup(click.Group):
    """The `store` group: a subcommand's module is imported when that command is asked for, so
    `store realize` loads realize's module and not the twenty others (`store --help` loads all)."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})  # name -> "module:attribute"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, attr = self.lazy[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)


COMMANDS = {
    "realize": "realize:command", "realise": "realize:realise_command", "lock": "lock:command",
    "run": "run:command", "list": "list_cmd:command", "diff": "diff:command", "export": "export:command",
    "du": "du:command", "gc": "gc:command", "verify": "verify:command", "python": "python_cmd:command",
    "ingest": "ingest:command", "materialize": "materialize:command", "shims": "shims:command",
    "use": "use:command", "rollback": "use:rollback_command", "profile": "use:profile_group",
    "shell": "shell:shell_command", "activate": "shell:activate_command", "hook": "shell:hook_command",
    "add": "add:add_command", "remove": "add:remove_command", "cache": "cache:command", "key": "key:command",
    "push": "push:command",
}


@click.group(cls=LazyGroup, lazy={name: f"envstore.cli.{target}" for name, target in COMMANDS.items()},
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
@click.option(
    "--store",
    "store_root",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ENVSTORE_ROOT",
    help=f"Store directory [env: ENVSTORE_ROOT; default: {default_root()}].",
)
@click.option("-v", "--verbose", count=True, help="Show the traceback of an error (for bug reports).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, store_root: Path | None, verbose: int, quiet: bool) -> None:
    """envstore: content-addressed Python environments.

    Every file of every artifact is stored once as a read-only blob named by its BLAKE3 hash
    and hardlinked into every tree that uses it.
    """
    ctx.obj = AppContext(store_root=store_root, verbose=verbose, quiet=quiet)
    if quiet:
        # lazy: a command loads its own ops; `store --help` loads none
        from envstore import progress

        progress.bars_enabled = False


def _fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(code)


def _nearest_existing(path: str | None) -> Path | None:
    p = Path(path) if path else None
    while p is not None and not p.exists() and p != p.parent:
        p = p.parent
    return p


def _render_os_error(e: OSError) -> tuple[str, str | None]:
    """One message and a hint for an OS failure: what failed, on which path, and, where the
    errno alone says little, why (disk or inodes full, the owner, another filesystem)."""
    import errno

    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.errors import OWNERSHIP_HINT, why_not_writable

    what = e.strerror or str(e)
    paths = " -> ".join(str(p) for p in (e.filename, e.filename2) if p is not None)
    doing = getattr(e, "doing", None)
    hint = None
    if e.errno == errno.EXDEV:
        what = f"store and environment must be on the same filesystem (EXDEV): {what}"
        hint = (f"keep the store's {layout.BLOBS_DIR}/, {layout.TMP_DIR}/ and {layout.ENVS_DIR}/ on one filesystem "
                "(no separate mounts or symlinks)")
    elif e.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = ("free some space or inodes (df -h, df -i) on that filesystem (`store gc` can run on a full "
                "disk), then run the command again")
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "check the store's ownership and permissions (--store)"
        where = _nearest_existing(e.filename)
        if where is not None and not os.access(where, os.W_OK):
            why, other_user = why_not_writable(where)
            paths = f"{paths} ({'it' if str(where) == e.filename else where} {why})"
            hint = OWNERSHIP_HINT if other_user else hint
    if doing:
        return f"{what} while {doing}" + (f" ({paths})" if paths else ""), hint
    return (f"{what}: {paths}" if paths else what), hint


def _render_db_error(e: Exception) -> tuple[str, str | None]:
    """sqlite3 errors from the store's database (layout.DB_FILE) in the user's terms."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.errors import StoreNotWritable

    text = str(e)
    if "readonly" in text:
        return f"store is read-only: its database cannot be written ({text})", StoreNotWritable.hint
    if "disk is full" in text or "disk I/O error" in text:
        return (f"the store's database could not be written ({text}): is the disk full?",
                "free some space (`store gc` can run on a full disk), then run the command again")
    return f"the store's database failed: {text}", "run again with -v and report it"


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
        _fail(str(e), e.hint)
    except OSError as e:
        if verbose:
            traceback.print_exc()
        _fail(*_render_os_error(e))
    except KeyboardInterrupt:
        _fail("interrupted", code=130)
    except Exception as e:  # noqa: BLE001 - the last line of defence: never a bare traceback
        if verbose:
            traceback.print_exc()
        if type(e).__module__ == "sqlite3":  # without importing sqlite3 for every command
            _fail(*_render_db_error(e))
        _fail(f"internal error: {type(e).__name__}: {e}", "run again with -v and report it", code=2)
