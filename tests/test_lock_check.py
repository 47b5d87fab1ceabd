"""`store lock --check` (CI: exit 1 when the lockfile would change) and `store lock --dry-run`
(the pins that would change, on stdout), against a local index: neither writes the lockfile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import run_store as store_cli
from local_index import local_index  # noqa: F401 - fixture


def run_store(*args: str, cwd: Path, any_python: bool = False) -> subprocess.CompletedProcess:
    # Interpreter discovery sees only the running Python unless a test needs several.
    env = dict(os.environ) if any_python else {**os.environ, "PYENV_ROOT": str(Path(sys.executable).parents[2])}
    return store_cli(*args, cwd=cwd, env=env)


def test_check_and_dry_run(tmp_path, local_index):
    local_index.add("alpha", "1.0", ["beta"])
    local_index.add("beta", "2.0")
    env = tmp_path / "env.yml"
    env.write_text("name: t\ndependencies:\n  - python=%d.%d\n  - alpha\n" % sys.version_info[:2])
    store = str(tmp_path / "store")
    lock = tmp_path / "pylock.toml"

    missing = run_store("--store", store, "lock", "--check", "--index-url", local_index.simple, cwd=tmp_path)
    assert missing.returncode == 1 and missing.stdout == "", missing.stderr
    assert "error: pylock.toml: the lockfile does not exist" in missing.stderr
    assert "+ alpha 1.0" in missing.stderr and "Traceback" not in missing.stderr
    assert not lock.exists()

    dry = run_store("--store", store, "lock", "--dry-run", "--index-url", local_index.simple, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == "+ alpha 1.0\n+ beta 2.0\n"
    assert not lock.exists()

    made = run_store("--store", store, "lock", "--index-url", local_index.simple, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    text = lock.read_text()
    fine = run_store("--store", store, "lock", "--check", "--index-url", local_index.simple, cwd=tmp_path)
    assert fine.returncode == 0 and fine.stdout == "", fine.stderr
    assert "pylock.toml is up to date" in fine.stderr

    # A new release is not taken while the lock's pin still fits; --upgrade would move it.
    local_index.add("beta", "3.0")
    kept = run_store("--store", store, "lock", "--check", "--index-url", local_index.simple, cwd=tmp_path)
    assert kept.returncode == 0, kept.stderr
    moved = run_store("--store", store, "lock", "--dry-run", "--upgrade", "--index-url", local_index.simple,
                      cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout == "~ beta 2.0 -> 3.0\n"

    # The env file asks for another pin set: --check fails and names it; the lock is untouched.
    env.write_text("name: t\ndependencies:\n  - python=%d.%d\n  - beta\n" % sys.version_info[:2])
    stale = run_store("--store", store, "lock", "--check", "--index-url", local_index.simple, cwd=tmp_path)
    assert stale.returncode == 1 and stale.stdout == ""
    assert "- alpha 1.0" in stale.stderr
    assert "error: pylock.toml: the lockfile is out of date: 1 pin would change" in stale.stderr
    assert "\nhint: run `store lock`" in stale.stderr
    assert lock.read_text() == text


def test_lock_python_flag_picks_the_interpreter(tmp_path, local_index):
    from interp_helpers import pyenv_pythons

    found = sorted(pyenv_pythons((3, 9)), key=lambda m: tuple(int(x) for x in m.split(".")))
    if len(found) < 2:
        import pytest

        pytest.skip("needs two pyenv CPythons >= 3.9")
    older, newer = found[-2], found[-1]
    local_index.add("alpha", "1.0")
    env = tmp_path / "env.yml"
    env.write_text("name: t\ndependencies:\n  - alpha\n")
    store = str(tmp_path / "store")
    for minor in (older, newer):
        done = run_store("--store", store, "lock", "--python", minor, "--index-url", local_index.simple, cwd=tmp_path,
                         any_python=True)
        assert done.returncode == 0, done.stderr
        assert f"for 5 platforms (python >={minor}, <" in done.stderr, done.stderr
    # Outside the env file's python=: one message, no traceback, no lock written.
    env.write_text(f"name: t\ndependencies:\n  - python={newer}\n  - alpha\n")
    (tmp_path / "pylock.toml").unlink()
    refused = run_store("--store", store, "lock", "--python", older, "--index-url", local_index.simple, cwd=tmp_path,
                        any_python=True)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"error: python {older} is outside the env file's python=={newer}.*" in refused.stderr, refused.stderr
    assert not (tmp_path / "pylock.toml").exists()
