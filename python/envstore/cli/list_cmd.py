"""`store list`: the prefixes in the store and what keeps each alive."""

from __future__ import annotations

import time
from pathlib import Path

import click

from envstore.cli.format import json_document
from envstore.progress import plural


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a versioned JSON document on stdout.")
@click.pass_obj
def command(app, as_json: bool) -> None:
    """List realized prefixes: name, packages, roots and age."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.build.wheelfile import prefix_editables
    from envstore.project import live_roots
    from envstore.store.db import StoreDB
    from envstore.store.parts import conda_packages, packages

    store = app.store()
    db = StoreDB(Path(store.root))
    try:
        live, _stale = live_roots(db)
        rows = db.prefixes()
    finally:
        db.close()
    data = []
    for row in rows:
        names = sorted(p.label for p in packages(row.parts))  # "numpy 2.1.3"
        names += sorted(f"{p.package} {p.version} (conda)" for p in conda_packages(row.parts))
        data.append({
            "path": row.path,
            "name": row.name,
            "packages": names,
            "interpreter": row.interpreter,
            "roots": sorted(r.link for r in live if r.prefix == row.path),
            "created": row.created,
            "last_used": row.last_used,
            "editables": prefix_editables(Path(row.path)),  # issue 16: where it points outside the store
        })
    if as_json:
        click.echo(json_document(data))
        return
    for d in data:
        age = (time.time() - d["created"]) / 3600
        roots = ", ".join(d["roots"]) or "no roots (gc will remove it)"
        click.echo(f"{d['path']}\n    {d['name']}: {plural(len(d['packages']), 'package')}, {age:.1f} h old; roots: {roots}")
        for name, project in d["editables"].items():
            click.echo(f"    editable: {name} -> {project}")
