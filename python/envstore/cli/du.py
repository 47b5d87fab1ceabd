"""`store du`: what the prefixes would take as plain copies versus what the store uses."""

from __future__ import annotations

import os
from pathlib import Path

import click

from envstore.cli.format import human_bytes, json_document
from envstore.progress import plural
from envstore.store import layout, manifest


def _manifest_files(store, manifest_id: str, cache: dict[str, dict]) -> dict:
    if manifest_id not in cache:
        cache[manifest_id] = manifest.entries(store, manifest_id)
    return cache[manifest_id]


@click.command("du")
@click.option("--json", "as_json", is_flag=True, help="Print a versioned JSON document on stdout.")
@click.pass_obj
def command(app, as_json: bool) -> None:
    """Apparent size of every prefix, the real disk use of the store, and the dedup ratio.

    Apparent size counts every file of every prefix as if it were a copy; disk use counts each
    blob once (the allocated blocks, as du does).
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.store.db import StoreDB

    store = app.store()
    root = Path(store.root)
    db = StoreDB(root)
    try:
        rows = db.prefixes()
    finally:
        db.close()
    cache: dict[str, dict] = {}
    prefixes = []
    apparent_total = 0
    for row in rows:
        size = sum(
            e["size"]
            for _, mid in row.manifests
            for e in _manifest_files(store, mid, cache).values()
            if e["type"] == "file"
        )
        apparent_total += size
        prefixes.append({"path": row.path, "name": row.name, "apparent_bytes": size})
    disk = 0
    blobs = 0
    for dirpath, _dirs, files in os.walk(layout.blobs_dir(root)):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            disk += st.st_blocks * 512
            blobs += 1
    ratio = apparent_total / disk if disk else 0.0
    if as_json:
        click.echo(json_document({"prefixes": prefixes, "apparent_bytes": apparent_total,
                                  "blob_disk_bytes": disk, "blobs": blobs, "dedup_ratio": ratio}))
        return
    for p in prefixes:
        click.echo(f"{human_bytes(p['apparent_bytes']):>12}  {p['path']}")
    click.echo(f"{human_bytes(apparent_total):>12}  apparent total ({plural(len(prefixes), 'prefix')})")
    click.echo(f"{human_bytes(disk):>12}  on disk in {plural(blobs, 'blob')} (dedup ratio {ratio:.2f}x)")
