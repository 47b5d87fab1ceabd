"""The PEP 517 backend runner (envstore.build.backend): a real in-tree backend (backend-path, no
build requirements) run by a real interpreter subprocess through pyproject_hooks; its wheel,
its failure message, its timeout, and its HOME kept inside the sandbox."""

from __future__ import annotations

import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from envstore.build.backend import BuildError, run_hook

BACKEND = '''
import os, sys, time, zipfile
MODE = open(os.path.join(os.path.dirname(__file__), "mode.txt")).read().strip()

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if MODE == "fail":
        print("compiling the thing")
        print("error: the-thing.c:3: something is badly wrong", file=sys.stderr)
        raise SystemExit(1)
    if MODE == "hang":
        time.sleep(600)
    if MODE == "home":
        with open(os.path.expanduser("~/.leaked"), "w") as f:
            f.write("x")
    name = "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        z.writestr("demo.py", "VALUE = 1\\n")
        z.writestr("demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: demo\\nVersion: 1.0\\n")
        z.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
        z.writestr("demo-1.0.dist-info/RECORD", "")
    return name
'''


def _project(tmp_path: Path, mode: str) -> Path:
    proj = tmp_path / "proj"
    (proj / "_backend").mkdir(parents=True)
    (proj / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = []
        build-backend = "demo_backend"
        backend-path = ["_backend"]
    '''))
    (proj / "_backend" / "demo_backend.py").write_text(BACKEND)
    (proj / "_backend" / "mode.txt").write_text(mode)
    return proj


def test_builds_a_wheel_with_the_backend(tmp_path: Path) -> None:
    proj = _project(tmp_path, "ok")
    wheel = run_hook("build_wheel", proj, Path(sys.executable), tmp_path / "out", tmp_path / "sb", "demo 1.0")
    assert wheel.name == "demo-1.0-py3-none-any.whl"
    assert "demo.py" in zipfile.ZipFile(wheel).namelist()


def test_a_failing_backend_names_the_package_and_shows_its_output(tmp_path: Path) -> None:
    proj = _project(tmp_path, "fail")
    with pytest.raises(BuildError) as e:
        run_hook("build_wheel", proj, Path(sys.executable), tmp_path / "out", tmp_path / "sb", "demo 1.0")
    assert "building demo 1.0 failed" in str(e.value)
    assert "the-thing.c:3: something is badly wrong" in (e.value.hint or "")


def test_a_hanging_backend_is_killed_at_the_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVSTORE_BUILD_TIMEOUT", "2")
    proj = _project(tmp_path, "hang")
    start = time.monotonic()
    with pytest.raises(BuildError, match="timed out after 2s"):
        run_hook("build_wheel", proj, Path(sys.executable), tmp_path / "out", tmp_path / "sb", "demo 1.0")
    assert time.monotonic() - start < 30


def test_a_backend_writing_to_home_writes_into_the_sandbox(tmp_path: Path) -> None:
    proj = _project(tmp_path, "home")
    run_hook("build_wheel", proj, Path(sys.executable), tmp_path / "out", tmp_path / "sb", "demo 1.0")
    assert (tmp_path / "sb" / "home" / ".leaked").is_file()
    assert not (Path.home() / ".leaked").exists()
