"""Wheels that ship their own .pyc files: numpy < 2.3 ships a timestamp pyc for
numpy/distutils/conv_template.py, at the very path where the store puts its own hash-based
one. Realizing it once failed with `conflicting files`; the store's bytecode now replaces the
shipped file. Real numpy wheels on the pyenv interpreter of each minor (skipped where absent);
plus the rule for shipped pycs that do not collide."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from envstore.install.bytecode import shipped_pyc_replaced
from interp_helpers import pyenv_pythons, run_store, store_env  # noqa: E402 - tests/ is on sys.path

PYTHONS = pyenv_pythons()
SHIPPED = "numpy/distutils/__pycache__/conv_template.{tag}.pyc"


@pytest.mark.network
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("minor", "requirement", "version"), [
    ("3.10", "numpy=2.2", "2.2."),
    ("3.11", "numpy=1.26.4", "1.26.4"),
    ("3.9", "numpy=2.0.2", "2.0.2"),
])
def test_numpy_with_shipped_pyc_realizes(minor: str, requirement: str, version: str, tmp_path: Path) -> None:
    if minor not in PYTHONS:
        pytest.skip(f"no pyenv CPython {minor} on this machine")
    env = tmp_path / "env.yml"
    env.write_text(f"name: np\ndependencies:\n  - python={minor}\n  - {requirement}\n")
    proc = run_store(tmp_path / "store", "realize", str(env), timeout=500)
    assert proc.returncode == 0, proc.stderr
    prefix = Path(proc.stdout.strip())
    python = prefix / "bin" / "python"
    ran = subprocess.run([str(python), "-c", "import numpy, sys; print(numpy.__version__, sys.version_info[:2])"],
                         capture_output=True, text=True, env=store_env(), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(version), ran.stdout
    pyc = prefix / "lib" / f"python{minor}" / "site-packages" / SHIPPED.format(tag="cpython-" + minor.replace(".", ""))
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 1, "not the store's unchecked hash-based pyc"


def test_which_shipped_pycs_give_way() -> None:
    entries = {p: {} for p in ("pkg/mod.py", "pkg/__pycache__/mod.cpython-311.pyc",
                               "pkg/__pycache__/mod.cpython-39.pyc", "pkg/__pycache__/mod.cpython-311.opt-1.pyc",
                               "pkg/__pycache__/gone.cpython-311.pyc", "top.py", "__pycache__/top.cpython-311.pyc")}
    timestamp = lambda: b"\x00" * 4 + (0).to_bytes(4, "little")  # noqa: E731
    hashed = lambda: b"\x00" * 4 + (3).to_bytes(4, "little")  # noqa: E731

    def replaced(path: str, head=timestamp) -> bool:  # type: ignore[no-untyped-def]
        return shipped_pyc_replaced(path, entries, "3.11", head)

    # The store writes this Python's level-0 pyc next to every source: whatever shipped there goes.
    assert replaced("pkg/__pycache__/mod.cpython-311.pyc", hashed)
    assert replaced("__pycache__/top.cpython-311.pyc", hashed)
    # Elsewhere, a timestamp pyc is never valid in the store (blob mtimes mean nothing) ...
    assert replaced("pkg/__pycache__/mod.cpython-39.pyc")
    assert replaced("pkg/__pycache__/mod.cpython-311.opt-1.pyc")
    # ... and a hash-based one carries its source's hash: kept.
    assert not replaced("pkg/__pycache__/mod.cpython-39.pyc", hashed)
    assert not replaced("pkg/__pycache__/mod.cpython-311.opt-1.pyc", hashed)
    # A pyc with no source beside it is the module itself (a sourceless distribution): kept.
    assert not replaced("pkg/__pycache__/gone.cpython-311.pyc")
