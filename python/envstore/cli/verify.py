"""`store verify`: rehash every blob and every prefix; `--repair` restores what it can."""

from __future__ import annotations

import sys

import click

from envstore.cli.format import json_document
from envstore.progress import plural


def _row(p) -> dict:
    return {"path": p.path, "kind": p.kind, "expected": p.expected, "actual": p.actual}


@click.command("verify")
@click.option("--repair", is_flag=True, help="Remove damaged blobs, restore them from their wheels "
              "(re-downloading when needed) and rebuild damaged prefixes.")
@click.option("--json", "as_json", is_flag=True, help="Print a versioned JSON report on stdout.")
@click.pass_obj
def command(app, repair: bool, as_json: bool) -> None:
    """Check the store by hashing (never by size or time).

    Blobs must hash to their names with their read-only mode; every registered prefix must match
    its manifests: no file edited in place, replaced, added or removed. Exits 1 when anything is
    wrong (after --repair: when anything is still wrong).
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.verify import verify_store

    findings = verify_store(app.store(), fix=repair, info=app.info)
    blob_rows = [_row(p) for p in findings.blob_problems]
    prefix_rows = {k: [_row(p) for p in v] for k, v in findings.prefix_problems.items() if v}
    if as_json:
        click.echo(json_document({"blobs": blob_rows, "prefixes": prefix_rows}))
    else:
        for r in blob_rows:
            click.echo(f"blob   {r['kind']:<10} {r['path']}  expected {r['expected']}, found {r['actual']}")
        for prefix, rows in prefix_rows.items():
            for r in rows:
                click.echo(f"prefix {r['kind']:<10} {r['path']}  expected {r['expected']}, found {r['actual']}")
    problems = len(blob_rows) + sum(len(v) for v in prefix_rows.values())
    app.info(f"checked {plural(len(findings.prefix_problems), 'prefix')} and the blob store: "
             f"{plural(problems, 'problem')}")
    if problems:
        sys.exit(1)
