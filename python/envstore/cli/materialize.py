"""`store materialize`: build a directory from manifests by hardlinking their blobs."""

from __future__ import annotations

from pathlib import Path

import click

from envstore.progress import plural


@click.command("materialize")
@click.argument("manifests", nargs=-1, required=True)
@click.option(
    "--into",
    "dest",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory to create; it must not exist.",
)
@click.option("--copy", is_flag=True, help="Copy files instead of hardlinking them.")
@click.pass_obj
def command(app, manifests: tuple[str, ...], dest: Path, copy: bool) -> None:
    """Create DEST holding the union of the given manifests' trees.

    Files are hardlinked from the store (falling back per file to a reflink or a copy across
    filesystems or at the link limit). Two manifests that put different content at one path
    are an error naming both. Prints DEST's absolute path on stdout.
    """
    store = app.store()
    dest = dest.absolute()
    report = store.materialize([(m, m) for m in manifests], dest, copy=copy)
    click.echo(str(dest))
    app.info(
        f"materialized {plural(report.files, 'file')}, {plural(report.symlinks, 'symlink')}, "
        f"{plural(report.dirs, 'directory')} "
        f"({report.hardlinked} hardlinked, {report.reflinked} reflinked, {report.copied} copied)"
    )
