"""Directory trees and tar archives in, trees out: symlinks kept as symlinks, conflicts named,
cross-filesystem fallback per file."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from conftest import blob_files, tree_snapshot
from envstore._core import ArchiveError, ConflictError, Store


def make_tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "lib" / "pkg").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "bin" / "tool3.12").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(root / "bin" / "tool3.12", 0o755)
    os.symlink("tool3.12", root / "bin" / "tool3")
    (root / "lib" / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "lib" / "pkg" / "same.txt").write_text("x = 1\n")
    (root / "lib" / "site-packages").mkdir()
    (root / "lib" / "site-packages" / "junk.py").write_text("not wanted\n")
    return root


def test_directory_ingest_keeps_symlinks_modes_and_empty_dirs(store: Store, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    result = store.ingest_dir(src, exclude=["lib/site-packages"])
    manifest = json.loads(store.manifest_json(result.manifest_id))["entries"]
    assert manifest["bin/tool3"] == {"type": "symlink", "target": "tool3.12"}
    assert manifest["bin/tool3.12"]["executable"] is True
    assert manifest["empty"] == {"type": "dir"}
    assert not any(p.startswith("lib/site-packages") for p in manifest)
    # identical content is one blob
    assert result.files == 3 and result.new_blobs == 2

    out = tmp_path / "out"
    store.materialize([("src", result.manifest_id)], out)
    assert os.readlink(out / "bin" / "tool3") == "tool3.12"
    assert os.access(out / "bin" / "tool3", os.X_OK)
    assert (out / "empty").is_dir()
    expected = tree_snapshot(src)
    del expected["lib/site-packages/junk.py"]
    assert tree_snapshot(out) == expected


def test_directory_ingest_refuses_escaping_symlink(store: Store, store_root: Path, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    os.symlink("/etc/passwd", src / "lib" / "evil")
    with pytest.raises(ArchiveError, match="symlink with absolute target 'lib/evil'|'lib/evil'"):
        store.ingest_dir(src)
    assert blob_files(store_root) == []


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", mode: int = 0o644, link: str = "") -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


@pytest.mark.parametrize("mode,suffix", [("w:gz", ".tar.gz"), ("w", ".tar")])
def test_tar_ingest(store: Store, tmp_path: Path, mode: str, suffix: str) -> None:
    archive = _tar(
        tmp_path / f"python{suffix}",
        [
            _info("python", tarfile.DIRTYPE, mode=0o755),
            _info("python/bin", tarfile.DIRTYPE, mode=0o755),
            _info("python/bin/python3.12", data=b"\x7fELF fake", mode=0o755),
            _info("python/bin/python3", tarfile.SYMTYPE, link="python3.12"),
            _info("python/bin/python3-hard", tarfile.LNKTYPE, link="python/bin/python3.12"),
            _info("python/lib/os.py", data=b"import sys\n"),
        ],
        mode,
    )
    result = store.ingest_tar(archive)
    entries = json.loads(store.manifest_json(result.manifest_id))["entries"]
    assert entries["python/bin/python3"] == {"type": "symlink", "target": "python3.12"}
    assert entries["python/bin/python3-hard"] == entries["python/bin/python3.12"]
    assert entries["python/bin/python3.12"]["executable"] is True
    out = tmp_path / "out"
    store.materialize([("py", result.manifest_id)], out)
    assert (out / "python/bin/python3-hard").read_bytes() == b"\x7fELF fake"
    assert (out / "python/bin/python3-hard").stat().st_ino == (out / "python/bin/python3.12").stat().st_ino


def test_tar_zstd(store: Store, tmp_path: Path) -> None:
    zstd = pytest.importorskip("zstandard", reason="zstandard is not installed to write the archive")
    raw = _tar(tmp_path / "plain.tar", [_info("a/b.txt", data=b"zstd works\n")], "w")
    packed = tmp_path / "x.tar.zst"
    packed.write_bytes(zstd.ZstdCompressor().compress(raw.read_bytes()))
    result = store.ingest_tar(packed)
    store.materialize([("z", result.manifest_id)], tmp_path / "out")
    assert (tmp_path / "out/a/b.txt").read_bytes() == b"zstd works\n"


@pytest.mark.parametrize(
    "member,reason",
    [
        (_info("../evil", data=b"x"), "unsafe path"),
        (_info("/abs/evil", data=b"x"), "unsafe path"),
        (_info("link", tarfile.SYMTYPE, link="../../outside"), "symlink escapes the tree"),
        (_info("link", tarfile.SYMTYPE, link="/etc/passwd"), "symlink with absolute target"),
        (_info("fifo", tarfile.FIFOTYPE), "unsupported file type (FIFO)"),
        (_info("dev", tarfile.CHRTYPE), "unsupported file type (device)"),
        (_info("hard", tarfile.LNKTYPE, link="nowhere"), "hard link"),
    ],
)
def test_tar_rejects_unsafe_members(store: Store, store_root: Path, tmp_path: Path, member, reason: str) -> None:
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "keep").write_text("untouched")
    archive = _tar(tmp_path / "bad.tar.gz", [_info("ok.txt", data=b"fine"), member])
    with pytest.raises(ArchiveError) as err:
        store.ingest_tar(archive)
    assert reason in str(err.value)
    assert blob_files(store_root) == []
    assert list((store_root / "manifests-v1").iterdir()) == []
    assert tree_snapshot(canary) == {"keep": b"untouched"}
    assert not (tmp_path / "evil").exists()


def test_conflicting_manifests_name_both_sources(store: Store, tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in "abc")
    for d, content in ((a, "one"), (b, "two"), (c, "one")):
        (d / "shared").mkdir(parents=True)
        (d / "shared" / "__init__.py").write_text(content)
    ids = {n: store.ingest_dir(tmp_path / n).manifest_id for n in "abc"}
    with pytest.raises(ConflictError) as err:
        store.materialize([("pkg-a 1.0", ids["a"]), ("pkg-b 2.0", ids["b"])], tmp_path / "out")
    assert "shared/__init__.py" in str(err.value)
    assert "pkg-a 1.0" in str(err.value) and "pkg-b 2.0" in str(err.value)
    assert err.value.path == "shared/__init__.py"
    assert not (tmp_path / "out").exists(), "a failed materialize leaves no partial tree"
    # identical content at one path (namespace packages) is fine
    report = store.materialize([("pkg-a", ids["a"]), ("pkg-c", ids["c"])], tmp_path / "ok")
    assert report.files == 1


def test_materialize_refuses_existing_destination(store: Store, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    mid = store.ingest_dir(src).manifest_id
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious").write_text("mine")
    with pytest.raises(Exception, match="already exists"):
        store.materialize([("src", mid)], tmp_path / "out")
    assert (tmp_path / "out" / "precious").read_text() == "mine"


def test_copy_mode_and_cross_filesystem_fallback(store: Store, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    mid = store.ingest_dir(src).manifest_id
    report = store.materialize([("src", mid)], tmp_path / "copied", copy=True)
    assert report.copied == report.files and report.hardlinked == 0
    blob = next((tmp_path / "store" / "blobs-v1").rglob("*"))
    assert (tmp_path / "copied" / "lib/pkg/__init__.py").stat().st_ino != blob.stat().st_ino

    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem available for an EXDEV test")
    import tempfile

    with tempfile.TemporaryDirectory(dir=shm) as other:
        report = store.materialize([("src", mid)], Path(other) / "tree")
        assert report.hardlinked == 0
        assert report.reflinked + report.copied == report.files
        assert tree_snapshot(Path(other) / "tree")["lib/pkg/__init__.py"] == b"x = 1\n"
        assert not os.access(Path(other) / "tree" / "lib/pkg/__init__.py", os.W_OK) or os.geteuid() == 0
