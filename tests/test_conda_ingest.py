"""Conda packages into the store: real packages built by rattler-build (tests/conda_channel.py)
ingested through `store ingest`, as `.conda` and `.tar.bz2`, and edited copies of them that must
be refused with nothing published (RELIABILITY rows 49-51)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conda_channel import (  # noqa: E402
    file_member,
    paths_json,
    paths_row,
    read_members,
    symlink_member,
    with_paths_json,
    write_package,
)
from conftest import blob_files, run_store  # noqa: E402
from envstore._core import ArchiveError, Limits, Store  # noqa: E402


def manifest(store_root: Path, manifest_id: str) -> dict:
    return json.loads((store_root / "manifests-v1" / f"{manifest_id}.json").read_text())["entries"]


def ingest(store_root: Path, package: Path) -> str:
    proc = run_store("ingest", str(package), store_root=store_root, check=True)
    return proc.stdout.strip()


def assert_refused(store_root: Path, package: Path, *words: str) -> str:
    proc = run_store("ingest", str(package), store_root=store_root)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert package.name in proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)
    assert blob_files(store_root) == []
    manifests = store_root / "manifests-v1"
    assert not manifests.exists() or os.listdir(manifests) == []
    tmp = store_root / "tmp"
    assert not tmp.exists() or os.listdir(tmp) == []
    return proc.stderr


def test_real_packages_ingest_with_their_placeholders(conda_channel, store_root: Path) -> None:
    store = Store(store_root)
    lib = store.ingest_conda(conda_channel.packages["libdemo"])
    assert (lib.name, lib.version, lib.subdir, lib.noarch) == ("libdemo", "1.0.0", "linux-64", "")
    entries = manifest(store_root, lib.manifest_id)
    assert entries["lib/libdemo.so"] == {"type": "symlink", "target": "libdemo.so.1"}
    assert entries["lib/libdemo.so.1"] == {"type": "symlink", "target": "libdemo.so.1.0.0"}
    assert entries["lib/libdemo.so.1.0.0"]["type"] == "file"
    assert not any(p.startswith("info") for p in entries)
    kinds = {path: binary for path, _, binary in lib.placeholders}
    assert kinds == {"lib/libdemo.so.1.0.0": True, "lib/pkgconfig/demo.pc": False}
    placeholder = lib.placeholders[0][1]
    blob = Path(store.blob_path(f"{entries['lib/pkgconfig/demo.pc']['hash']}"))
    assert f"prefix={placeholder}".encode() in blob.read_bytes()
    assert json.loads(lib.info["info/index.json"])["name"] == "libdemo"

    py = store.ingest_conda(conda_channel.packages["demopy"])
    assert py.noarch == "python"
    assert set(manifest(store_root, py.manifest_id)) == {
        "site-packages/demopy/__init__.py", "site-packages/demopy/cli.py"}
    link = json.loads(py.info["info/link.json"])
    assert link["noarch"]["entry_points"] == ["demopy = demopy.cli:main"]

    tool = store.ingest_conda(conda_channel.packages["demotool"])
    assert json.loads(tool.info["info/index.json"])["depends"] == ["libdemo >=1.0"]


def test_cli_ingests_conda_and_tar_bz2_to_the_same_manifest(conda_channel, store_root: Path,
                                                             tmp_path: Path) -> None:
    package = conda_channel.packages["libdemo"]
    first = ingest(store_root, package)
    blobs = blob_files(store_root)
    info, pkg = read_members(package)
    bz2 = write_package(tmp_path / package.name.replace(".conda", ".tar.bz2"), info, pkg)
    assert ingest(store_root, bz2) == first
    assert blob_files(store_root) == blobs  # every file is a blob already: stored once
    assert ingest(store_root, package) == first


def _edited(conda_channel, tmp_path: Path, suffix: str, edit) -> Path:
    package = conda_channel.packages["libdemo"]
    info, pkg = read_members(package)
    info, pkg = edit(info, pkg)
    return write_package(tmp_path / package.name.replace(".conda", suffix), info, pkg)


def _add_listed(member):
    """Add `member` to the payload and to paths.json, so only the rule under test can refuse it."""
    def edit(info, pkg):
        paths = paths_json(info)
        tarinfo, data = member
        row = paths_row(tarinfo.name, data)
        if tarinfo.issym():
            row = {"_path": tarinfo.name, "path_type": "softlink"}
        paths["paths"].append(row)
        return with_paths_json(info, paths), pkg + [member]
    return edit


SUFFIXES = pytest.mark.parametrize("suffix", [".conda", ".tar.bz2"])


@SUFFIXES
@pytest.mark.parametrize(
    ("member", "name", "reason"),
    [
        pytest.param(file_member("../evil", b"x"), "../evil", "unsafe path", id="dotdot"),
        pytest.param(file_member("/etc/evil", b"x"), "etc/evil", "", id="absolute"),
        pytest.param(file_member("lib/../../evil", b"x"), "lib/../../evil", "unsafe path", id="inner-dotdot"),
        pytest.param(symlink_member("lib/passwd", "/etc/passwd"), "lib/passwd", "absolute target",
                     id="symlink-absolute"),
        pytest.param(symlink_member("lib/up", "../../outside"), "lib/up", "escapes", id="symlink-escape"),
    ],
)
def test_row49_path_and_symlink_escapes_are_refused(conda_channel, store_root: Path, tmp_path: Path,
                                                   suffix: str, member, name: str, reason: str) -> None:
    package = _edited(conda_channel, tmp_path, suffix, _add_listed(member))
    stderr = assert_refused(store_root, package, name, reason)
    assert not (tmp_path.parent / "evil").exists() and not (tmp_path / "evil").exists()
    assert "libdemo" in stderr


def _flip_library_byte(info, pkg):
    out = []
    for tarinfo, data in pkg:
        if tarinfo.name == "lib/libdemo.so.1.0.0":
            data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
        out.append((tarinfo, data))
    return info, out


def _truncate_pc(info, pkg):
    return info, [(t, d[:-1] if t.name == "lib/pkgconfig/demo.pc" else d) for t, d in pkg]


def _list_absent(info, pkg):
    paths = paths_json(info)
    paths["paths"].append(paths_row("bin/ghost", b"boo"))
    return with_paths_json(info, paths), pkg


def _unlisted(info, pkg):
    return info, pkg + [file_member("bin/stowaway", b"#!/bin/sh\n", 0o755)]


def _symlink_as_file(info, pkg):
    paths = paths_json(info)
    for row in paths["paths"]:
        if row["_path"] == "lib/libdemo.so":
            row.update(path_type="hardlink", sha256=hashlib.sha256(b"").hexdigest())
    return with_paths_json(info, paths), pkg


@SUFFIXES
@pytest.mark.parametrize(
    ("edit", "member", "reason"),
    [
        pytest.param(_flip_library_byte, "lib/libdemo.so.1.0.0", "sha256", id="sha256"),
        pytest.param(_truncate_pc, "lib/pkgconfig/demo.pc", "size", id="size"),
        pytest.param(_list_absent, "bin/ghost", "not in the package", id="listed-absent"),
        pytest.param(_unlisted, "bin/stowaway", "not in info/paths.json", id="unlisted"),
        pytest.param(_symlink_as_file, "lib/libdemo.so", "", id="symlink-listed-as-file"),
    ],
)
def test_row50_paths_json_mismatches_are_refused(conda_channel, store_root: Path, tmp_path: Path,
                                                suffix: str, edit, member: str, reason: str) -> None:
    package = _edited(conda_channel, tmp_path, suffix, edit)
    stderr = assert_refused(store_root, package, f"'{member}'", "info/paths.json mismatch", reason)
    assert stderr.count("\n") <= 3, stderr


@SUFFIXES
def test_row51_bombs_are_refused_while_decompressing(conda_channel, store_root: Path, tmp_path: Path,
                                                    suffix: str) -> None:
    zeros = b"\0" * (48 << 20)
    package = _edited(conda_channel, tmp_path, suffix, _add_listed(file_member("share/zeros", zeros)))
    assert package.stat().st_size < 1 << 20
    stderr = assert_refused(store_root, package, "exceeds a limit", ":1")
    assert "Traceback" not in stderr


def test_row51_member_count_and_total_size_limits(conda_channel, store_root: Path) -> None:
    store = Store(store_root)
    package = conda_channel.packages["libdemo"]
    for limits, words in [
        (Limits(max_files=3), "more than 3 members"),
        (Limits(max_total_size=1000), "more than 1000 bytes"),
        (Limits(max_file_size=1000), "limit 1000"),
    ]:
        with pytest.raises(ArchiveError) as err:
            store.ingest_conda(package, limits)
        assert words in str(err.value), str(err.value)
        assert err.value.code == "limit-exceeded" or err.value.code == "archive"
        assert blob_files(store_root) == []
    assert store.ingest_conda(package).files == 3


def test_not_a_conda_package(store_root: Path, tmp_path: Path) -> None:
    fake = tmp_path / "demo-1.0-h0_0.conda"
    fake.write_text("<html>not found</html>")
    assert_refused(store_root, fake, "invalid archive")
