"""GC sweep keeps exactly what live manifests use; verify finds damage by hashing."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import blob_files, run_store
from envstore._core import Store


def _manifest(store: Store, tmp_path: Path, name: str, files: dict[str, str]) -> str:
    d = tmp_path / name
    d.mkdir()
    for rel, text in files.items():
        (d / rel).write_text(text)
    return store.ingest_dir(d).manifest_id


def test_sweep_keeps_live_and_deletes_dead(store: Store, store_root: Path, tmp_path: Path) -> None:
    live = _manifest(store, tmp_path, "live", {"a.py": "shared", "b.py": "live only"})
    dead = _manifest(store, tmp_path, "dead", {"a.py": "shared", "c.py": "dead only " * 100})
    assert len(blob_files(store_root)) == 3

    canary = tmp_path / "canary"
    canary.write_text("keep me")
    evil = store_root / "blobs-v1" / "zz"
    evil.mkdir()
    os.symlink(canary, evil / "evil")

    dry = store.sweep([live], dry_run=True)
    assert dry.blobs_removed == 1 and dry.manifests_removed == 1 and dry.junk_removed == 1
    assert len(blob_files(store_root)) == 3, "dry run deletes nothing"

    report = store.sweep([live])
    assert report.blobs_removed == 1
    assert report.bytes_removed == len("dead only " * 100)
    assert canary.read_text() == "keep me", "gc must not follow symlinks"
    assert not evil.exists()
    assert store.manifest_ids() == [live]
    store.materialize([("live", live)], tmp_path / "out")
    assert (tmp_path / "out" / "a.py").read_text() == "shared"
    assert dead not in store.manifest_ids()


def test_verify_finds_content_mode_and_junk(store: Store, store_root: Path, tmp_path: Path) -> None:
    _manifest(store, tmp_path, "t", {"one.py": "one", "two.py": "two", "three.py": "three"})
    assert store.verify().problems == []
    blobs = blob_files(store_root)
    # same-length overwrite with the timestamp put back: only hashing can notice
    os.chmod(blobs[0], 0o644)
    size = blobs[0].stat().st_size
    blobs[0].write_bytes(b"X" * size)
    os.chmod(blobs[0], 0o444)
    os.utime(blobs[0], (1, 1))
    os.chmod(blobs[1], 0o644)
    (store_root / "blobs-v1" / "stray").write_text("?")

    kinds = sorted((p.kind, Path(p.path).name) for p in store.verify().problems)
    assert kinds == sorted([("content", blobs[0].name), ("mode", blobs[1].name), ("junk", "stray")])

    proc = run_store("verify", "--json", store_root=store_root)
    assert proc.returncode == 1
    assert '"version": 1' in proc.stdout and "content" in proc.stdout
    assert "3 problems" in proc.stderr
