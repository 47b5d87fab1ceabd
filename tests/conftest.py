"""Shared fixtures: a private store per test, real wheels fetched through pip's own
configuration (never a hard-coded index), and a helper to run the `store` command."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from envstore._core import Store

TESTS_DIR = Path(__file__).parent
WHEEL_CACHE = Path(os.environ.get("ENVSTORE_TEST_WHEELS") or Path(tempfile.gettempdir()) / "envstore-test-wheels")


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(store_root: Path) -> Store:
    return Store(store_root, fsync=True)


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an flock on `lock_path`: pytest-xdist workers share the wheel cache and the built
    channels, and one must not read what another is still writing."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def fetch_wheel(requirement: str) -> Path:
    """Download one wheel (no deps) with pip, using whatever index pip is configured with."""
    name = requirement.split("==")[0].replace("-", "_").lower()
    dest = WHEEL_CACHE / requirement.replace("=", "_")
    with exclusive(WHEEL_CACHE / (dest.name + ".lock")):
        found = sorted(dest.glob("*.whl")) if dest.is_dir() else []
        if not found:
            dest.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                 "-d", str(dest), requirement],
                check=True,
            )
            found = sorted(dest.glob("*.whl"))
    assert found and found[0].name.lower().startswith(name), found
    return found[0]


@pytest.fixture(scope="session")
def real_wheel() -> Path:
    """A real binary wheel with many files, executables and nested packages."""
    return fetch_wheel("pyyaml==6.0.2")


def run_store(*args: str, store_root: Path | None = None, check: bool = False, **kw) -> subprocess.CompletedProcess:
    cmd = ["store"]
    if store_root is not None:
        cmd += ["--store", str(store_root)]
    proc = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"store {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def blob_files(root: Path) -> list[Path]:
    blobs = root / "blobs-v1"
    return sorted(p for p in blobs.rglob("*") if p.is_file() and not p.is_symlink()) if blobs.exists() else []


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Relative path -> content (or link target) of every file under root."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = Path(dirpath, n)
            rel = str(p.relative_to(root))
            out[rel] = os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
    return out


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """`build(root)` once per test run: under pytest-xdist the workers' base temp dirs share a
    parent, and the first worker to get there builds while the others wait and reuse it."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / f"built-{name}" / name
    with exclusive(shared / f"built-{name}.lock"):
        done = shared / f"built-{name}.done"
        if not done.exists():
            build(root)
            done.touch()
    return root


@pytest.fixture(scope="session")
def conda_channel(tmp_path_factory: pytest.TempPathFactory):
    """A real conda channel (libdemo, demotool, demopy) built once per session; see conda_channel.py."""
    from conda_channel import channel_at, in_subprocess  # lazy: only the conda tests need them

    return channel_at(built_once(tmp_path_factory, "channel", lambda root: in_subprocess("build_channel", root)))


@pytest.fixture(scope="session")
def conda_alias_url(conda_channel):
    """The directory holding that channel served over HTTP on 127.0.0.1 for the whole session: a
    channel alias under which the channel's name (`channel`) is its URL."""
    from conda_channel import ServedChannel  # lazy: as above

    with ServedChannel(conda_channel.root.parent) as url:
        yield url


@pytest.fixture(scope="session")
def gpu_channels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An alias directory holding channels `pytorch`, `conda-forge` and `main` with packages named
    as the classic GPU env file asks for them; see conda_channel.build_gpu_channels."""
    from conda_channel import in_subprocess  # lazy: as for conda_channel

    return built_once(tmp_path_factory, "alias", lambda root: in_subprocess("build_gpu_channels", root))
