"""A lock envstore writes is PEP 751 that another installer reads (issue 17): uv, installed
from the index by the test extra, installs a universal pylock.toml into a venv of this
machine and gets the same pins envstore realizes, leaving out what only another platform takes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from local_index import LocalIndex
from local_index import local_index  # noqa: F401 - fixture
from test_source_builds import store
from test_universal_lock import python  # noqa: F401 - fixture


def uv() -> str:
    found = shutil.which("uv", path=sysconfig.get_path("scripts")) or shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed (it comes with the test extra)")
    return found


def pyenv_python(version: str) -> Path:
    root = os.environ.get("PYENV_ROOT") or subprocess.run(["pyenv", "root"], capture_output=True,
                                                          text=True).stdout.strip()
    found = sorted(Path(root, "versions").glob(f"{version}.*/bin/python{version}"))
    if not found:
        pytest.skip(f"no pyenv CPython {version}")
    return found[-1]


def test_uv_installs_the_universal_lock_with_the_same_pins(tmp_path: Path, local_index: LocalIndex,
                                                           python: str) -> None:
    cp = "cp" + python.replace(".", "")
    local_index.add("fast", "1.0", tag=f"{cp}-{cp}-manylinux_2_17_x86_64")
    local_index.add("fast", "1.0", tag=f"{cp}-{cp}-win_amd64")
    local_index.add("winonly", "2.0")
    local_index.add("plain", "3.0", ["winonly; sys_platform == 'win32'"])
    (tmp_path / "env.yml").write_text(
        f"name: uvread\nenvstore:\n  platforms: [linux-x86_64, windows-x86_64]\n  python: ['{python}']\n"
        "dependencies:\n  - pip:\n      - fast\n      - plain\n")
    locked = store("lock", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    assert locked.returncode == 0, locked.stderr

    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env.update(UV_CACHE_DIR=str(tmp_path / "uv-cache"), UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never")
    venv = tmp_path / "venv"
    made = subprocess.run([uv(), "venv", "--python", str(pyenv_python(python)), str(venv)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert made.returncode == 0, made.stderr
    installed = subprocess.run([uv(), "pip", "install", "--python", str(venv / "bin" / "python"),
                                "-r", str(tmp_path / "pylock.toml")],
                               capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert installed.returncode == 0, installed.stderr
    freeze = subprocess.run([uv(), "pip", "freeze", "--python", str(venv / "bin" / "python")],
                            capture_output=True, text=True, env=env, timeout=120)
    uv_pins = sorted(line for line in freeze.stdout.split() if "==" in line)
    assert uv_pins == ["fast==1.0", "plain==3.0"], freeze.stdout

    realized = store("realize", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    assert realized.returncode == 0, realized.stderr
    ours = subprocess.run([str(Path(realized.stdout.strip()) / "bin" / "python"), "-c",
                           "import importlib.metadata as m; print(*sorted(f'{d.name}=={d.version}' "
                           "for d in m.distributions()))"], capture_output=True, text=True)
    assert ours.stdout.split() == uv_pins, ours.stdout + ours.stderr
