"""A universal lock against the real index pip is configured with (issue 17): numpy and pandas,
which publish a wheel per platform and python, pywin32 only on Windows and uvloop everywhere
else. One lock lists the wheels every declared environment needs with their hashes and the
markers that keep the platform-only packages where they belong; realize of that one lock here
for two pythons gives two working prefixes that share every file they have in common; uv reads
the same lock and installs the same pins."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from test_realize_real import pyenv_versions
from test_source_builds import store
from test_uv_reads_lock import pyenv_python, uv

pytestmark = pytest.mark.network

PLATFORMS = ("linux-x86_64", "linux-aarch64", "macos-x86_64", "macos-arm64", "windows-x86_64")
# What a wheel filename's platform tag says, per declared platform.
PLATFORM_TAG = {"linux-x86_64": ("manylinux", "x86_64"), "linux-aarch64": ("manylinux", "aarch64"),
                "macos-x86_64": ("macosx", "x86_64"), "macos-arm64": ("macosx", "arm64"),
                "windows-x86_64": ("win_amd64",)}


@pytest.fixture(scope="module")
def pythons() -> list[str]:
    """The two newest CPythons here that current numpy and pandas publish wheels for."""
    have = [v for v in pyenv_versions() if (3, 11) <= tuple(int(x) for x in v.split(".")) <= (3, 13)]
    if len(have) < 2:
        pytest.skip("needs two pyenv CPythons in 3.11-3.13")
    return sorted(have[:2], key=lambda v: tuple(int(x) for x in v.split(".")))


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory, pythons: list[str]) -> tuple[Path, dict]:
    d = tmp_path_factory.mktemp("universal-real")
    (d / "env.yml").write_text(
        "name: mixed\nenvstore:\n  python: [" + ", ".join(f"'{p}'" for p in pythons) + "]\n"
        "dependencies:\n  - pip:\n      - numpy\n      - pandas\n"
        "      - pywin32; sys_platform == 'win32'\n      - uvloop; sys_platform != 'win32'\n")
    proc = store("lock", root=d / "store", cwd=d, pip_index=True)
    assert proc.returncode == 0, proc.stderr
    return d, tomllib.loads((d / "pylock.toml").read_text())


def test_the_lock_lists_every_platforms_wheels_with_hashes(locked: tuple[Path, dict], pythons: list[str]) -> None:
    _d, doc = locked
    packages = {p["name"]: p for p in doc["packages"]}
    assert len(doc["environments"]) == len(PLATFORMS)
    for name in ("numpy", "pandas"):
        assert "marker" not in packages[name]  # every environment takes them
        wheels = [w["name"] for w in packages[name]["wheels"]]
        for py in pythons:
            cp = "cp" + py.replace(".", "")
            for platform in PLATFORMS:
                assert any(f"-{cp}-" in w and all(t in w for t in PLATFORM_TAG[platform]) for w in wheels), (name, py, platform, wheels)
    assert all(len(w["hashes"]["sha256"]) == 64 for p in doc["packages"] for w in p["wheels"])
    assert "win32" in packages["pywin32"]["marker"]
    assert all("win_amd64" in w["name"] for w in packages["pywin32"]["wheels"])
    assert "win32" not in packages["uvloop"]["marker"] and "darwin" in packages["uvloop"]["marker"]
    assert not any("win" in w["name"] for w in packages["uvloop"]["wheels"])


def test_realize_for_two_pythons_and_uv_installs_the_same_pins(locked: tuple[Path, dict], pythons: list[str],
                                                               tmp_path: Path) -> None:
    d, doc = locked
    prefixes = []
    for py in pythons:
        proc = store("realize", "--python", py, root=d / "store", cwd=d, pip_index=True)
        assert proc.returncode == 0, proc.stderr
        prefix = Path(proc.stdout.strip())
        run = subprocess.run([str(prefix / "bin" / "python"), "-c",
                              "import numpy, pandas, uvloop, sys; print(sys.version_info[:2], numpy.__version__)"],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert not list(prefix.glob("lib/python*/site-packages/pywin32*"))
        prefixes.append(prefix)
    assert prefixes[0] != prefixes[1]
    # pure-python files both prefixes have (pandas' tests, numpy's typing stubs) are one inode
    shared = [p for p in prefixes[0].glob("lib/python*/site-packages/pandas/**/*.py")][:200]
    same = 0
    for f in shared:
        other = prefixes[1] / f.relative_to(prefixes[0]).as_posix().replace(
            f"python{pythons[0]}", f"python{pythons[1]}")
        if other.is_file() and other.read_bytes() == f.read_bytes():
            same += 1
            assert os.stat(other).st_ino == os.stat(f).st_ino, other
    assert same > 50

    pins = {p["name"]: p["version"] for p in doc["packages"] if p["name"] != "pywin32"}
    venv = tmp_path / "venv"
    subprocess.run([uv(), "venv", "-q", "--python", str(pyenv_python(pythons[-1])), str(venv)], check=True)
    installed = subprocess.run([uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                                "-r", str(d / "pylock.toml")], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    listed = subprocess.run([uv(), "pip", "freeze", "--python", str(venv / "bin" / "python")],
                            capture_output=True, text=True, check=True).stdout
    assert dict(line.split("==") for line in listed.split()) == pins
