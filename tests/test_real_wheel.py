"""A real wheel from the configured index goes in, and comes out byte for byte, hardlinked."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from conftest import blob_files
from envstore._core import Store


def test_real_wheel_round_trip(store: Store, store_root: Path, real_wheel: Path, tmp_path: Path) -> None:
    first = store.ingest_wheel(real_wheel)
    blobs_after_first = blob_files(store_root)
    assert first.new_blobs == len(blobs_after_first) > 10

    with zipfile.ZipFile(real_wheel) as zf:
        members = {i.filename: i for i in zf.infolist() if not i.is_dir()}
        contents = {name: zf.read(name) for name in members}
    assert first.files == len(members)

    trees = [tmp_path / "a", tmp_path / "b"]
    for tree in trees:
        report = store.materialize([(real_wheel.name, first.manifest_id)], tree)
        assert report.files == len(members)
        assert report.hardlinked == len(members) and report.copied == 0

    for name, data in contents.items():
        a, b = (t / name for t in trees)
        assert a.read_bytes() == data, name
        sa, sb = a.stat(), b.stat()
        # Both trees and the store share one inode per file: nothing was copied.
        assert sa.st_ino == sb.st_ino
        assert sa.st_nlink >= 3
        assert stat.S_IMODE(sa.st_mode) & 0o222 == 0, f"{name} is writable"
        zip_exec = (members[name].external_attr >> 16) & 0o111
        assert bool(stat.S_IMODE(sa.st_mode) & 0o111) == bool(zip_exec), name
    for blob in blobs_after_first:
        assert stat.S_IMODE(blob.stat().st_mode) in (0o444, 0o555)
        assert blob.stat().st_mtime == 1

    # No file in the trees is outside the manifest.
    on_disk = {str(p.relative_to(trees[0])) for p in trees[0].rglob("*") if p.is_file()}
    assert on_disk == set(contents)

    again = store.ingest_wheel(real_wheel)
    assert again.manifest_id == first.manifest_id
    assert again.new_blobs == 0
    assert blob_files(store_root) == blobs_after_first
    assert list((store_root / "tmp").iterdir()) == []


def test_two_stores_agree_on_manifest_id(real_wheel: Path, tmp_path: Path) -> None:
    a = Store(tmp_path / "one", fsync=False).ingest_wheel(real_wheel)
    b = Store(tmp_path / "two", fsync=True).ingest_wheel(real_wheel)
    assert a.manifest_id == b.manifest_id
    assert os.listdir(tmp_path / "one" / "manifests-v1") == os.listdir(tmp_path / "two" / "manifests-v1")
