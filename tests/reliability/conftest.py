"""Fixtures of the reliability suite; the harness itself (checker, helpers) is harness.py.
Opt-in flags (pass this directory to pytest so they are registered): `--crash-fuzz-runs N`
(default 20), `--stress-seconds S` (the 8 realizes + gc + verify loop; default: skipped)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Namespace, Wheels, copy_store, run_store, tree_snapshot, write_env, PACKAGES  # noqa: E402
from local_index import build_wheel, local_index  # noqa: E402,F401


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("envstore reliability")
    group.addoption("--crash-fuzz-runs", type=int, default=20, help="random SIGKILLs in the crash fuzz (default 20)")
    group.addoption("--stress-seconds", type=float, default=0,
                    help="run the 8 concurrent realizes + gc loop + verify loop for this long (default: skip)")
    group.addoption("--update-golden", action="store_true", help="rewrite the golden error messages")



# Fixtures


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    root = tmp_path_factory.mktemp("wheels")
    for name, (version, requires) in PACKAGES.items():
        build_wheel(root / "files", name, version, requires)
    (root / "empty-index").mkdir()
    return Wheels(root / "files", root / "empty-index")


@pytest.fixture(scope="session")
def template_store(tmp_path_factory: pytest.TempPathFactory, wheels: Wheels) -> Path:
    """A store holding only the interpreter (imported by a first realize, then collected)."""
    base = tmp_path_factory.mktemp("template")
    store = base / "store"
    env = write_env(base / "proj", ["tinya"])
    r = run_store(store, "realize", str(env), *wheels.index_args(), timeout=600)
    assert r.returncode == 0, r.stderr
    shutil.rmtree(base / "proj" / ".envstore")
    assert run_store(store, "gc").returncode == 0
    assert list((store / "python").glob("*-cpython-*")), "the interpreter is in the store"
    return store


@pytest.fixture
def rstore(template_store: Path, tmp_path: Path) -> Path:
    return copy_store(template_store, tmp_path / "store")


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    """A directory outside the store that nothing may change (RELIABILITY promise 7)."""
    d = tmp_path / "canary"
    (d / "sub").mkdir(parents=True)
    (d / "important").write_text("do not touch\n")
    (d / "sub" / "x.py").write_text("print('canary')\n")
    os.symlink("../important", d / "sub" / "link")
    before = tree_snapshot(d)
    yield d
    assert tree_snapshot(d) == before, "the canary directory outside the store changed"


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    """A user and mount namespace of this test's own (rows 18-21: tmpfs and bind mounts)."""
    ns = Namespace()
    try:
        yield ns
    finally:
        ns.close()
