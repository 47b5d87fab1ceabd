"""`--python X.Y` on realize, run and use: one env file, one committed lock, a prefix per
interpreter; the committed lock is never rewritten for another interpreter and the fast path
(entry.py, the native shim) never answers for a `--python` run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import run_store
from interp_helpers import pyenv_pythons
from local_index import local_index  # noqa: F401 - fixture


def _two_pythons() -> tuple[str, str]:
    found = sorted(pyenv_pythons((3, 9)), key=lambda m: tuple(int(x) for x in m.split(".")))
    if len(found) < 2:
        pytest.skip("needs two pyenv CPythons >= 3.9")
    return found[-2], found[-1]


def _store(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_store(*args, cwd=cwd)


def test_python_flag_on_realize_run_and_use(tmp_path: Path, local_index) -> None:
    older, newer = _two_pythons()
    local_index.add("alpha", "1.0")
    env = tmp_path / "env.yml"
    env.write_text("name: t\ndependencies:\n  - alpha\n")
    store = str(tmp_path / "store")
    idx = ("--index-url", local_index.simple)

    locked = _store("--store", store, "lock", "--python", newer, *idx, cwd=tmp_path)
    assert locked.returncode == 0, locked.stderr
    lock_text = (tmp_path / "pylock.toml").read_text()

    plain = _store("--store", store, "realize", *idx, cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    default_prefix = Path(plain.stdout.strip())

    other = _store("--store", store, "realize", "--python", older, *idx, cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    older_prefix = Path(other.stdout.strip())
    assert older_prefix != default_prefix
    assert f"resolving for python {older} without writing it" in other.stderr
    assert (tmp_path / "pylock.toml").read_text() == lock_text  # the committed lock stays
    assert (tmp_path / ".envstore" / f"t-py{older}").resolve() == older_prefix.resolve()

    # Without the flag the answer is the lock's interpreter again (fast path or not).
    again = _store("--store", store, "realize", cwd=tmp_path)
    assert again.returncode == 0 and Path(again.stdout.strip()) == default_prefix, again.stderr
    # The flag naming the lock's own interpreter is the default prefix.
    same = _store("--store", store, "realize", "--python", newer, *idx, cwd=tmp_path)
    assert same.returncode == 0 and Path(same.stdout.strip()) == default_prefix, same.stderr

    ran = _store("--store", store, "run", "--python", older, *idx, "--", "python", "-c",
                 "import sys, alpha; print('%d.%d' % sys.version_info[:2])", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == older

    used = _store("--store", store, "use", "--python", older, "--profile", "matrix", *idx, str(env), cwd=tmp_path)
    assert used.returncode == 0, used.stderr
    assert Path(used.stdout.strip()) == older_prefix

    frozen = _store("--store", store, "realize", "--frozen", "--python", older, *idx, cwd=tmp_path)
    assert frozen.returncode != 0 and "Traceback" not in frozen.stderr
    assert f"covers python >={newer}, <" in frozen.stderr, frozen.stderr  # `store lock --python` is universal
