"""`store python`: interpreters known to the store and found on the machine; `import` and
`install` print the interpreter's store path (only that) on stdout, progress on stderr."""

from __future__ import annotations

from pathlib import Path

import click

from typing import TYPE_CHECKING

from envstore.cli.format import human_bytes, json_document
from envstore.cli.options import substituter_options
from envstore.progress import duration, plural

if TYPE_CHECKING:
    from envstore.cache.substituters import Substituters


@click.group("python")
def command() -> None:
    """Python interpreters as immutable store paths (STORE/python/<hash>-cpython-X.Y.Z)."""


def _discovered() -> list[dict]:
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.interpreters.discover import discover
    from envstore.interpreters.model import SUPPORTED, InterpreterError, UnsupportedInterpreter, is_supported
    from envstore.interpreters.probe import probe

    rows = []
    for c in discover():
        row = {"executable": str(c.executable), "source": c.source, "implementation": None,
               "version": c.version_hint, "architecture": None, "origin": None, "usable": False}
        try:
            p = probe(c.executable)
            row.update(implementation=p.implementation, version=p.version, architecture=p["machine"],
                       origin=p["base_prefix"], usable=p.implementation == "cpython" and is_supported(p.version))
            if p.implementation == "cpython" and not row["usable"]:
                row["problem"] = f"python {p.version}: unsupported ({SUPPORTED})"
        except UnsupportedInterpreter as e:
            row.update(version=e.version, problem=f"python {e.version}: unsupported ({SUPPORTED})")
        except InterpreterError as e:
            row["problem"] = str(e)
        rows.append(row)
    return rows


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a versioned JSON document on stdout.")
@click.option("--store-only", is_flag=True, help="Only the interpreters in the store (no discovery).")
@click.pass_obj
def list_cmd(app, as_json: bool, store_only: bool) -> None:
    """Interpreters in the store, then those found on this machine (pyenv, uv, PATH, /usr)."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.interpreters import list_interpreters

    stored = [i.to_json() for i in list_interpreters(app.store())]
    found = [] if store_only else _discovered()
    if as_json:
        click.echo(json_document({"store": stored, "discovered": found}))
        return
    click.echo("in the store:" if stored else "in the store: none")
    for i in stored:
        origin = i["origins"][0] if i["origins"] else "-"
        click.echo(f"  {i['implementation']} {i['version']:<10} {i['architecture']:<8} {i['store_path']}  (from {origin})")
    if not store_only:
        click.echo("on this machine:" if found else "on this machine: none")
        for r in found:
            if r["usable"]:
                click.echo(f"  {r['implementation']} {r['version']:<10} {r['architecture']:<8} {r['origin']}  [{r['source']}]")
            else:
                click.echo(f"  {'?':<18} {r['executable']}  [{r['source']}] {r.get('problem') or r['implementation']}")


def _report(app, result) -> None:  # type: ignore[no-untyped-def]
    info = result.info
    if result.reused:
        app.info(f"python {info.version} already in the store (unchanged since it was imported)")
    elif result.substituted:
        app.info(f"python {info.version} taken from a binary cache with its bytecode")
    elif result.ingest is not None:
        ing = result.ingest
        app.info(f"imported python {info.version}: {plural(ing.files, 'file')}, {human_bytes(ing.bytes)}; "
                 f"{plural(ing.new_blobs, 'new blob')} ({human_bytes(ing.new_bytes)}) "
                 f"in {duration(result.timings.get('total', 0))}")
    click.echo(str(info.store_path))


@command.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Import again even if this installation is unchanged since last time.")
@substituter_options
@click.pass_obj
def import_cmd(app, path: Path, force: bool, substituters: Substituters | None) -> None:
    """Import the installation at PATH (its prefix or its python executable).

    Site-packages contents and caches are left out, bytecode is regenerated as hash-based .pyc,
    and the tree is relocated (RUNPATH, shebangs, build data) so it runs from the store and
    keeps working after the original is deleted. Configured substituters are asked for the
    compiled interpreter of the staged tree first. Prints the store path.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.interpreters import import_interpreter

    store = app.store()
    _report(app, import_interpreter(store, path, reuse=not force, progress=app.info,
                                    substitute=_substitute(store, substituters, app)))


def _substitute(store, substituters: Substituters | None, app):  # type: ignore[no-untyped-def]
    if substituters is None:
        return None
    # lazy: the cache package (crypto, zstd) loads only when a substituter is configured
    from envstore.ops.substitute import interpreter_substituter

    return interpreter_substituter(store, substituters, app.info)


@command.command("install")
@click.argument("version")
@click.option("--from", "source", metavar="FILE|URL",
              help="A python-build-standalone install_only archive (.tar.gz/.tar.zst) to install.")
@click.option("--sha256", help="Expected sha256 of the archive (else <archive>.sha256 is used).")
@substituter_options
@click.pass_obj
def install_cmd(app, version: str, source: str | None, sha256: str | None, substituters: Substituters | None) -> None:
    """Install python VERSION from a python-build-standalone archive.

    Downloads from the template in ENVSTORE_PYTHON_URL (fill-ins {version}, {triple}, {build};
    ENVSTORE_PYTHON_BUILD gives {build}) unless --from names a file or URL. The sha256 is checked.
    Configured substituters are asked by the archive's sha256 before anything is downloaded.
    Prints the store path.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.interpreters import install_interpreter

    store = app.store()
    _report(app, install_interpreter(store, version, source, sha256, progress=app.info,
                                     substitute=_substitute(store, substituters, app)))


@command.command("remove")
@click.argument("ref")
@click.pass_obj
def remove_cmd(app, ref: str) -> None:
    """Remove an interpreter (REF: its store path, store path name or version).

    Refused while a prefix under STORE/envs uses it. Its blobs go at the next `store gc`.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.interpreters import remove_interpreter
    from envstore.interpreters.remove import resolve

    store = app.store()
    info = resolve(store, ref)
    remove_interpreter(store, info)
    app.info(f"removed python {info.version} ({info.store_path})")
