"""`store cache verify|gc URL`: look after a binary cache (an s3:// bucket or a file:// directory)."""

from __future__ import annotations

from pathlib import Path

import click

from envstore.cli.format import parse_duration
from envstore.progress import plural


@click.group("cache")
def command() -> None:
    """Check and clean a binary cache that `store push` writes to."""


@command.command("verify")
@click.argument("url")
@click.option("--trusted-key", "trusted_keys", multiple=True, metavar="NAME:BASE64",
              help="Also check that every record is signed by one of these keys [env: ENVSTORE_TRUSTED_KEYS].")
@click.pass_obj
def verify(app, url: str, trusted_keys: tuple[str, ...]) -> None:
    """Read every record, manifest and blob of the cache at URL and check each against its name.

    Problems are listed on stdout, one a line; the exit status is 1 when there is any.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore import settings
    from envstore.ops.cache_admin import verify as run

    keys = trusted_keys + tuple((settings.TRUSTED_KEYS.get() or "").split())
    report = run(url, keys)
    for problem in report.problems:
        click.echo(problem)
    app.info(f"checked {plural(report.records, 'record')}, {plural(report.manifests, 'manifest')}, "
             f"{plural(report.blobs, 'blob')}: {plural(len(report.problems), 'problem')}")
    if report.problems:
        raise SystemExit(1)


@command.command("gc")
@click.argument("url")
@click.option("--keep-roots", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file of the store paths (or prefixes) to keep, one a line; other records are removed.")
@click.option("--older-than", metavar="DURATION", help="Remove records pushed longer ago than DURATION (30d).")
@click.option("--grace", metavar="DURATION", default="1h", show_default=True,
              help="Never remove an unreferenced object younger than this: a push may be about to name it.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed and remove nothing.")
@click.pass_obj
def gc(app, url: str, keep_roots: Path | None, older_than: str | None, grace: str, dry_run: bool) -> None:
    """Remove records not kept, then every manifest and blob no kept record references."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.cache_admin import gc as run

    roots = None
    if keep_roots is not None:
        roots = {Path(line.strip()).name for line in keep_roots.read_text().splitlines() if line.strip()}
    report = run(url, roots, parse_duration(older_than) if older_than else None, parse_duration(grace), dry_run)
    if dry_run:
        for key in report.records_removed:
            click.echo(key)
    verb = "would remove" if dry_run else "removed"
    app.info(f"{verb} {plural(len(report.records_removed), 'record')} and {plural(report.objects_removed, 'object')}"
             f" ({plural(report.kept_young, 'unreferenced object')} kept, younger than --grace)")
