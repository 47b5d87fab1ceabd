"""`store verify`: rehash every blob and report any whose content or mode is wrong."""

from __future__ import annotations

import sys

import click

from envstore.cli.format import human_bytes, json_document


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print a versioned JSON report on stdout.")
@click.pass_obj
def command(app, as_json: bool) -> None:
    """Check every blob in the store by hashing it (never by size or time).

    Reports blobs whose content no longer matches their name, blobs that lost their read-only
    mode, and anything in the blob directory that is not a blob. Exits 1 when it finds any.
    """
    report = app.store().verify()
    problems = [
        {"path": p.path, "kind": p.kind, "expected": p.expected, "actual": p.actual}
        for p in report.problems
    ]
    if as_json:
        click.echo(json_document({"checked": report.checked, "bytes": report.bytes, "problems": problems}))
    else:
        for p in problems:
            click.echo(f"{p['kind']:<10} {p['path']}  expected {p['expected']}, found {p['actual']}")
    app.info(f"checked {report.checked} blobs ({human_bytes(report.bytes)}): {len(problems)} problems")
    if problems:
        sys.exit(1)
