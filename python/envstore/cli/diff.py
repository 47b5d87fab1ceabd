"""`store diff A B`: packages added, removed and changed between two environments."""

from __future__ import annotations

from pathlib import Path

import click

from envstore.cli.format import json_document


@click.command("diff")
@click.argument("a", type=click.Path(exists=True, path_type=Path))
@click.argument("b", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a versioned JSON document on stdout.")
@click.pass_obj
def command(app, a: Path, b: Path, as_json: bool) -> None:
    """Compare two prefixes or env files (their locks): + added, - removed, ~ changed."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.inventory import conda_versions, inventory, versions
    from envstore.store.db import StoreDB

    store = app.store()
    db = StoreDB(Path(store.root))
    try:
        inv_a, inv_b = inventory(store, db, a), inventory(store, db, b)
    finally:
        db.close()
    va, vb = versions(inv_a), versions(inv_b)
    added = {n: vb[n] for n in sorted(vb.keys() - va.keys())}
    removed = {n: va[n] for n in sorted(va.keys() - vb.keys())}
    changed = {n: [va[n], vb[n]] for n in sorted(va.keys() & vb.keys()) if va[n] != vb[n]}
    python = [inv_a.python, inv_b.python] if inv_a.python != inv_b.python else None
    ca, cb = conda_versions(inv_a), conda_versions(inv_b)  # issue 15: conda packages shown apart
    conda = {"added": {n: cb[n] for n in sorted(cb.keys() - ca.keys())},
             "removed": {n: ca[n] for n in sorted(ca.keys() - cb.keys())},
             "changed": {n: [ca[n], cb[n]] for n in sorted(ca.keys() & cb.keys()) if ca[n] != cb[n]}}
    if as_json:
        doc = {"added": added, "removed": removed, "changed": changed, "python": python}
        if ca or cb:
            doc["conda"] = conda
        click.echo(json_document(doc))
        return
    for n, v in conda["added"].items():
        click.echo(f"+ conda {n} {v}")
    for n, v in conda["removed"].items():
        click.echo(f"- conda {n} {v}")
    for n, (old, new) in conda["changed"].items():
        click.echo(f"~ conda {n} {old} -> {new}")
    if python:
        click.echo(f"~ python {python[0]} -> {python[1]}")
    for n, v in added.items():
        click.echo(f"+ {n} {v}")
    for n, v in removed.items():
        click.echo(f"- {n} {v}")
    for n, (old, new) in changed.items():
        click.echo(f"~ {n} {old} -> {new}")
    app.info(f"{len(added)} added, {len(removed)} removed, {len(changed)} changed")
