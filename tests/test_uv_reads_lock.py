"""A lock envstore writes is PEP 751 that another installer reads (issues 16 and 17): uv,
installed from the index by the test extra, installs a universal pylock.toml into a venv of this
machine and gets the same pins envstore realizes, leaving out what only another platform takes;
and it installs a lock of the source forms (an index's sdist, an archive URL, a local
directory, a git commit), building them itself, to the same pins."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import tomllib
from pathlib import Path

import pytest

from local_index import LocalIndex
from local_index import local_index  # noqa: F401 - fixture
from test_source_builds import (flit_core_wheel, flit_project, git, index, make_sdist,  # noqa: F401
                                python_version, store)
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


def _uv_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env.update(UV_CACHE_DIR=str(tmp_path / "uv-cache"), UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never", **extra)
    return env


def _uv_pins(tmp_path: Path, python: Path, lock: Path, env: dict[str, str]) -> list[str]:
    """What `uv pip install -r pylock.toml` puts into a new venv of `python`."""
    venv = tmp_path / "venv"
    made = subprocess.run([uv(), "venv", "--python", str(python), str(venv)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert made.returncode == 0, made.stderr
    installed = subprocess.run([uv(), "pip", "install", "--python", str(venv / "bin" / "python"), "-r", str(lock)],
                               capture_output=True, text=True, env=env, cwd=lock.parent, timeout=600)
    assert installed.returncode == 0, installed.stderr
    freeze = subprocess.run([uv(), "pip", "freeze", "--python", str(venv / "bin" / "python")],
                            capture_output=True, text=True, env=env, timeout=120)
    return sorted(line for line in freeze.stdout.splitlines() if line.strip())


def test_uv_installs_the_source_forms_of_a_lock(tmp_path: Path, index: LocalIndex, python_version: str) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    import hashlib

    index.add_file("srcpkg", make_sdist(tmp_path / "sd", "srcpkg", "1.0", ["alpha"], pkg_info=True))
    archive = make_sdist(tmp_path / "ar", "urlpkg", "1.5", [], pkg_info=True)
    index.add_file("unlisted", archive)
    url = f"{index.url}/files/{archive.name}#sha256={hashlib.sha256(archive.read_bytes()).hexdigest()}"
    repo = flit_project(tmp_path / "repo", "gitpkg", 1)
    git("init", "-q", ".", cwd=repo)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "v1", cwd=repo)
    app = tmp_path / "app"
    flit_project(app / "libs" / "dirpkg", "dirpkg", 2)
    (app / "env.yml").write_text(
        f"name: forms\ndependencies:\n  - python={python_version}\n  - pip:\n      - srcpkg\n"
        f"      - 'urlpkg @ {url}'\n      - ./libs/dirpkg\n      - 'gitpkg @ git+{repo.as_uri()}'\n")
    realized = store("realize", "--index-url", index.simple, root=tmp_path / "store", cwd=app)
    assert realized.returncode == 0, realized.stderr
    lock = tomllib.loads((app / "pylock.toml").read_text())
    kinds = {p["name"]: sorted(k for k in ("sdist", "archive", "directory", "vcs", "wheels") if k in p)
             for p in lock["packages"]}
    assert kinds == {"alpha": ["wheels"], "srcpkg": ["sdist"], "urlpkg": ["archive"], "dirpkg": ["directory"],
                     "gitpkg": ["vcs"]}, kinds
    ours = subprocess.run([str(Path(realized.stdout.strip()) / "bin" / "python"), "-c",
                           "import importlib.metadata as m; print(*sorted(f'{d.name}=={d.version}' "
                           "for d in m.distributions()))"], capture_output=True, text=True)
    # uv builds the four itself, with flit_core from the test's index
    uv_pins = _uv_pins(tmp_path, pyenv_python(python_version), app / "pylock.toml",
                       _uv_env(tmp_path, UV_INDEX_URL=index.simple))
    versions = sorted(p.split(" @ ")[0].replace(" ", "") if " @ " in p else p for p in uv_pins)
    assert [v.split("==")[0].lower() for v in versions] == ["alpha", "dirpkg", "gitpkg", "srcpkg", "urlpkg"], uv_pins
    assert "srcpkg==1.0" in uv_pins and "alpha==1.0" in uv_pins, uv_pins
    assert sorted(ours.stdout.split()) == ["alpha==1.0", "dirpkg==0.1", "gitpkg==0.1", "srcpkg==1.0",
                                           "urlpkg==1.5"], ours.stdout + ours.stderr


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
