"""envstore.store.fs: one way to write a file, publish a tree and retire a tree (issue 14)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from envstore.lockfile import parse_lock, read_lock, write_lock
from envstore.store.fs import publish_tree, retire_tree, staging_dir, temp_sibling


def test_two_first_writes_of_one_file_never_share_a_temp(tmp_path: Path) -> None:
    """lockfile.write_lock used the fixed temp `.pylock.toml.tmp`: a second writer's temp in
    that place (here a directory, so the collision is certain) broke the first lock."""
    lock = tmp_path / "pylock.toml"
    (tmp_path / ".pylock.toml.tmp").mkdir()  # what another writer's fixed-name temp would occupy
    names = {temp_sibling(lock).name for _ in range(100)}
    assert len(names) == 100 and all(n.endswith(f"-{os.getpid()}") for n in names)
    write_lock(parse_lock({"lock-version": "1.0", "created-by": "envstore", "packages": []}), lock)
    assert not read_lock(lock).packages
    assert sorted(p.name for p in tmp_path.iterdir()) == [".pylock.toml.tmp", "pylock.toml"]


def test_publish_then_retire_leave_nothing_behind(tmp_path: Path) -> None:
    root = tmp_path / "store"
    dest = root / "envs" / "p"
    staged = staging_dir(root, "t")
    (staged / "lib").mkdir()
    (staged / "lib" / "f").write_text("1")
    assert publish_tree(staged, dest, fsync=False)
    assert oct(dest.stat().st_mode & 0o777) == "0o555" and oct((dest / "lib").stat().st_mode & 0o777) == "0o555"
    again = staging_dir(root, "t")
    assert not publish_tree(again, dest, fsync=False), "an existing tree wins the race"
    fresh = staging_dir(root, "t")
    (fresh / "new").mkdir()
    assert publish_tree(fresh, dest, store_root=root, replace=True, fsync=False)
    assert [p.name for p in dest.iterdir()] == ["new"]
    seen = []
    retire_tree(dest, root, before_delete=lambda: seen.append(list((root / "tmp").iterdir())))
    assert not dest.exists() and not list((root / "tmp").iterdir())
    assert seen and len(seen[0]) == 1, "out of sight in tmp/ before it is deleted"


def test_gc_removes_a_dead_writers_temp_in_the_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    registry = root / "python" / "registry-v1"
    registry.mkdir(parents=True)
    proc = subprocess.Popen(["true"])
    proc.wait()
    leftover = registry / f".x.json.tmp-00000000-{proc.pid}"
    leftover.write_text("{")
    mine = temp_sibling(registry / "y.json")
    mine.write_text("{")
    r = subprocess.run(["store", "--store", str(root), "gc"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not leftover.exists(), "a killed writer's temp is garbage"
    assert mine.exists(), "a live writer's temp is left alone"
