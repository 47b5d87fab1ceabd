"""The `store` command as a user runs it: stdout carries data only, errors are one message."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import run_store
from envstore import __version__, default_root


def test_version_and_help() -> None:
    proc = run_store("--version")
    assert proc.returncode == 0 and __version__ in proc.stdout
    helped = run_store("--help")
    assert "ENVSTORE_ROOT" in helped.stdout and "ingest" in helped.stdout


def test_ingest_materialize_verify(real_wheel: Path, store_root: Path, tmp_path: Path) -> None:
    proc = run_store("ingest", str(real_wheel), store_root=store_root, check=True)
    manifest_id = proc.stdout.strip()
    assert len(manifest_id) == 64 and "ingested" in proc.stderr
    out = tmp_path / "tree"
    proc = run_store("materialize", manifest_id, "--into", str(out), store_root=store_root, check=True)
    assert proc.stdout == f"{out}\n"
    assert any(out.rglob("*.py"))
    proc = run_store("verify", store_root=store_root, check=True)
    assert "0 problems" in proc.stderr and proc.stdout == ""


def test_store_root_from_environment(tmp_path: Path) -> None:
    root = tmp_path / "from-env"
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    proc = run_store("ingest", str(src), env={**os.environ, "ENVSTORE_ROOT": str(root)}, check=True)
    assert (root / "manifests-v1" / f"{proc.stdout.strip()}.json").is_file()


def test_default_root_follows_xdg(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ENVSTORE_ROOT", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_root() == tmp_path / "envstore"


def test_errors_are_one_message_without_traceback(store_root: Path, tmp_path: Path) -> None:
    not_an_archive = tmp_path / "notes.txt"
    not_an_archive.write_text("hello")
    proc = run_store("ingest", str(not_an_archive), store_root=store_root)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr

    fake = tmp_path / "fake-1.0-py3-none-any.whl"
    fake.write_text("<html>not a wheel</html>")
    proc = run_store("ingest", str(fake), store_root=store_root)
    assert proc.returncode == 1 and "not a ZIP archive" in proc.stderr and "Traceback" not in proc.stderr

    proc = run_store("materialize", "0" * 64, "--into", str(tmp_path / "x"), store_root=store_root)
    assert proc.returncode == 1 and "not in the store" in proc.stderr

    proc = run_store("ingest", store_root=store_root)
    assert proc.returncode == 2 and "Missing argument" in proc.stderr


def test_read_only_store_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        import pytest

        pytest.skip("root ignores directory permissions")
    root = tmp_path / "ro"
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    run_store("ingest", str(src), store_root=root, check=True)
    (src / "g").write_text("y")
    for d in [root, *root.rglob("*")]:
        if d.is_dir():
            d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        proc = run_store("ingest", str(src), store_root=root)
        assert proc.returncode == 1 and "Permission denied" in proc.stderr and "Traceback" not in proc.stderr
    finally:
        for d in [root, *root.rglob("*")]:
            if d.is_dir():
                d.chmod(0o755)
