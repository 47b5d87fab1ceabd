"""`store export`: write down exactly what an environment holds, as an env file or a lockfile."""

from __future__ import annotations

from pathlib import Path

import click

from envstore.cli.envfile import file_option


@click.command("export")
@file_option("target", required=True, exists=True, metavar="TARGET")
@click.argument("target", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["env", "pylock", "conda", "explicit"]), default="env",
              show_default=True,
              help="env: an env.yml with exact pins; pylock: a PEP 751 lockfile with hashes; conda: an "
                   "env.yml of conda packages pinned to name=version=build; explicit: conda's @EXPLICIT "
                   "list of package URLs.")
@click.pass_obj
def command(app, target: Path, fmt: str) -> None:
    """Print the exact contents of TARGET (a prefix, or an env file with its lock) on stdout."""
    # lazy: a command loads its own ops; `store --help` loads none
    from packaging.utils import canonicalize_name
    from envstore.lockfile import dumps_lock
    from envstore.ops.inventory import inventory
    from envstore.store.db import StoreDB

    store = app.store()
    db = StoreDB(Path(store.root))
    try:
        inv = inventory(store, db, target)
    finally:
        db.close()
    if fmt == "pylock":
        click.echo(dumps_lock(inv.lock), nl=False)
        return
    if fmt in ("conda", "explicit"):
        # lazy: only the conda formats need them
        from envstore.ops.conda_export import conda_env_file, explicit_list

        click.echo(conda_env_file(inv) if fmt == "conda" else explicit_list(inv), nl=False)
        return
    lines = [f"name: {inv.name}", "dependencies:"]
    if inv.python:
        lines.append(f"  - python={inv.python}")
    lines.append("  - pip:")
    # an editable is named by its project directory (`-e PATH`), as pip freeze does: a pin
    # of its version would install a copy, not the source it points at
    lines += [f"      - -e {inv.editables[key]}" if (key := canonicalize_name(p.name)) in inv.editables
              else f"      - {p.name}=={p.version}" for p in sorted(inv.lock.packages, key=lambda p: p.name.lower())]
    click.echo("\n".join(lines))
