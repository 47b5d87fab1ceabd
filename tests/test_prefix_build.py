"""A prefix assembled from real wheels and a real interpreter: venv layout, placed files,
launchers, shared hash-based bytecode, read-only, and imports that write nothing."""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import fetch_wheel, tree_snapshot
from envstore._core import Store, hash_file
from envstore.store.db import StoreDB
from envstore.install.prefix import IngestedWheel, assemble, publish, store_path
from envstore.install.wheel import ingest_wheel


@dataclass(frozen=True)
class HostInterpreter:
    """The interpreter running the tests, used directly as a prefix's home (not imported)."""

    implementation: str
    version: str
    executable: Path
    store_path: Path
    manifest_id: str


def host_interpreter() -> HostInterpreter:
    exe = Path(os.path.realpath(sys.executable))
    version = ".".join(map(str, sys.version_info[:3]))
    return HostInterpreter("cpython", version, exe, Path(sys.base_prefix), "host-" + version)


WHEELS = ["six==1.16.0", "click==8.1.7", "wheel==0.44.0"]


@pytest.fixture(scope="module")
def wheels() -> list[Path]:
    return [fetch_wheel(r) for r in WHEELS]


def build(store: Store, root: Path, wheels: list[Path], name: str) -> Path:
    db = StoreDB(root)
    ingested = []
    for w in wheels:
        r = ingest_wheel(store, w)
        ingested.append(IngestedWheel(w.name.split("-")[0], w.name, r.manifest_id))
    dest = store_path(root, name, name.ljust(32, "0"))
    manifests = assemble(store, db, dest, ingested, host_interpreter(), root / "tmp")
    assert publish(store, manifests, dest, root / "tmp")
    db.register_prefix(dest, name, manifests, str(host_interpreter().store_path), [i.manifest_id for i in ingested], "x")
    db.close()
    return dest


def test_prefix_runs_imports_warm_and_is_read_only(store: Store, store_root: Path, wheels: list[Path]) -> None:
    prefix = build(store, store_root, wheels, "demo")
    py = prefix / "bin" / "python"
    out = subprocess.run(
        [str(py), "-c", "import sys, click, six, wheel; print(sys.prefix); print(click.__file__)"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert out[0] == str(prefix)
    assert out[1].startswith(str(prefix / "lib"))

    # console script generated from entry_points.txt, shebang into this prefix
    script = prefix / "bin" / "wheel"
    assert script_interpreter(script) == f"{prefix}/bin/python"
    proc = subprocess.run([str(script), "version"], capture_output=True, text=True)
    assert proc.returncode == 0 and "0.44.0" in proc.stdout

    # installer metadata
    site = next((prefix / "lib").glob("python*/site-packages"))
    dist = site / "click-8.1.7.dist-info"
    assert (dist / "INSTALLER").read_text() == "envstore\n"
    record = (dist / "RECORD").read_text()
    assert "click/core.py,sha256=" in record and "click-8.1.7.dist-info/INSTALLER" in record

    # bytecode: present, hash-based (flags=1: unchecked), so importing writes nothing
    pyc = next((site / "click" / "__pycache__").glob("core.*.pyc"))
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 1
    before = tree_snapshot(prefix)
    subprocess.run([str(py), "-c", "import click.core, six, wheel.cli"], check=True)
    assert tree_snapshot(prefix) == before

    # read-only: no directory or file in the prefix is writable
    for dirpath, dirnames, filenames in os.walk(prefix):
        assert os.stat(dirpath).st_mode & 0o222 == 0, dirpath
        for f in filenames:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                assert os.stat(p).st_mode & 0o222 == 0, p
    assert store.verify_tree(StoreDB(store_root).prefix(prefix).manifests, prefix) == []


def test_two_prefixes_share_inodes_and_bytecode(store: Store, store_root: Path, wheels: list[Path]) -> None:
    a = build(store, store_root, wheels[:2], "a")
    blobs_before = sum(1 for _ in (store_root / "blobs-v1").rglob("*") if _.is_file())
    b = build(store, store_root, wheels, "b")
    site_a = next((a / "lib").glob("python*/site-packages"))
    site_b = next((b / "lib").glob("python*/site-packages"))
    for rel in ["click/core.py", "six.py"]:
        assert (site_a / rel).stat().st_ino == (site_b / rel).stat().st_ino
    pyc = next((site_a / "click" / "__pycache__").glob("core.*.pyc")).name
    assert (site_a / "click/__pycache__" / pyc).stat().st_ino == (site_b / "click/__pycache__" / pyc).stat().st_ino
    # b adds the wheel package and a few generated files, nothing of click/six again
    blobs_after = sum(1 for _ in (store_root / "blobs-v1").rglob("*") if _.is_file())
    wheel_files = sum(1 for _ in (site_b).rglob("*") if _.is_file() and "wheel" in str(_.relative_to(site_b)).split("/")[0])
    assert blobs_after - blobs_before <= wheel_files + 10


def test_cached_placement_gives_the_same_tree_as_a_fresh_one(store: Store, store_root: Path,
                                                              wheels: list[Path]) -> None:
    """The second prefix of a wheel reuses its cached core placement; the tree must equal one
    built in a store that never saw the wheel (shebangs and RECORD name the prefix either way)."""
    build(store, store_root, wheels, "first")
    db = StoreDB(store_root)
    assert len(db.placement_rows()) == len(wheels)
    db.close()
    cached = build(store, store_root, wheels, "same")

    # A root of the same length, so shebangs take the same form (long ones go through /bin/sh).
    fresh_root = store_root.with_name("x" * len(store_root.name))
    fresh = build(Store(fresh_root, fsync=False), fresh_root, wheels, "same")

    def normalised(prefix: Path, root: Path) -> dict[str, bytes]:
        # RECORD hashes the scripts, whose shebangs name the store root: checked below instead.
        return {k: v.replace(str(root).encode(), b"ROOT") for k, v in tree_snapshot(prefix).items()
                if not k.endswith("/RECORD")}

    assert normalised(cached, store_root) == normalised(fresh, fresh_root)
    assert cached_records_match_files(cached) == cached_records_match_files(fresh)
    assert script_interpreter(cached / "bin" / "wheel") == f"{cached}/bin/python"


def script_interpreter(script: Path) -> str:
    """The interpreter a console script runs: its shebang, or, where the path is longer than the
    kernel's shebang limit (deep test dirs under pytest-xdist), the one its /bin/sh trampoline execs."""
    first, second = (script.read_text().splitlines() + ["", ""])[:2]
    if first == "#!/bin/sh" and second.startswith("'''exec' "):
        return second.split("'")[5]
    return first[2:]


def cached_records_match_files(prefix: Path) -> list[str]:
    """Every RECORD's rows, checked against the files they describe; the paths, sorted."""
    paths = []
    for record in sorted((prefix / "lib").glob("python*/site-packages/*.dist-info/RECORD")):
        for row in csv.reader(record.read_text().splitlines()):
            target = (record.parent.parent / row[0]).resolve()
            if row[1]:
                digest = base64.urlsafe_b64encode(hashlib.sha256(target.read_bytes()).digest()).rstrip(b"=")
                assert row[1] == f"sha256={digest.decode()}", row
                assert int(row[2]) == target.stat().st_size, row
            paths.append(os.path.relpath(target, prefix))
    return sorted(paths)


def test_damaged_cached_placement_is_placed_again(store: Store, store_root: Path, wheels: list[Path]) -> None:
    """A cached core whose generated blob (INSTALLER) was lost is not trusted: the next prefix
    places the wheel again, republishing the blob, instead of failing to materialize."""
    first = build(store, store_root, wheels[:1], "first")
    installer = next((first / "lib").glob("python*/site-packages/six-*.dist-info/INSTALLER"))
    blob = Path(store.blob_path(hash_file(installer)))
    blob.chmod(0o644)
    blob.unlink()
    second = build(store, store_root, wheels[:1], "second")
    assert next((second / "lib").glob("python*/site-packages/six-*.dist-info/INSTALLER")).read_text() == "envstore\n"
    assert blob.is_file()
