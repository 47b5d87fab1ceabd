"""`store ingest`: put wheels, conda packages, tar archives or directory trees into the store as
blobs plus a manifest; prints one manifest id per input on stdout."""

from __future__ import annotations

from pathlib import Path

import click

from envstore._core import CondaIngestResult, IngestResult, Store
from envstore.cli.format import human_bytes
from envstore.errors import UsageError
from envstore.progress import plural

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst")
CONDA_SUFFIXES = (".conda", ".tar.bz2")


def ingest_path(store: Store, path: Path) -> IngestResult | CondaIngestResult:
    """Ingest by kind: a wheel, a conda package, a tar archive, or a directory tree."""
    if path.is_dir():
        return store.ingest_dir(path)
    name = path.name.lower()
    if name.endswith(".whl"):
        # lazy: the wheel reader (packaging's tags) loads only for `store ingest`, not every command
        from envstore.install.wheel import ingest_wheel

        return ingest_wheel(store, path)
    if name.endswith(CONDA_SUFFIXES):
        return store.ingest_conda(path)
    if name.endswith(TAR_SUFFIXES):
        return store.ingest_tar(path)
    raise UsageError(
        f"{path}: not a wheel (.whl), conda package ({', '.join(CONDA_SUFFIXES)}), "
        f"tar archive ({', '.join(TAR_SUFFIXES)}) or directory"
    )


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def command(app, paths: tuple[Path, ...]) -> None:
    """Add wheels, conda packages, tar archives or directories to the store.

    Each file is stored once as a blob; the tree becomes a manifest whose id is printed on
    stdout, one per PATH. Wheels are checked strictly (paths, headers, CRCs, RECORD hashes),
    conda packages against their info/paths.json, and a rejected archive leaves nothing behind.
    """
    store = app.store()
    for path in paths:
        result = ingest_path(store, path)
        click.echo(result.manifest_id)
        app.info(
            f"ingested {path.name}: {plural(result.files, 'file')}, {human_bytes(result.bytes)}; "
            f"{plural(result.new_blobs, 'new blob')} ({human_bytes(result.new_bytes)})"
        )
