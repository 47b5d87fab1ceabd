"""Lockfile paths, staleness, reading foreign locks, and the `store lock` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from envstore.lockfile import LockfileError, dumps_lock, lock_path_for, read_lock
from envstore.resolve.stale import is_stale
from local_index import local_index  # noqa: F401 - fixture


@pytest.mark.parametrize("name,lock", [("env.yml", "pylock.toml"), ("environment.yml", "pylock.toml"),
                                       ("dev.yml", "pylock.dev.toml"), ("requirements.txt", "pylock.requirements.toml"),
                                       ("pylock.toml", "pylock.toml")])
def test_lock_path_for(tmp_path, name, lock):
    assert lock_path_for(tmp_path / name) == tmp_path / lock


def run_store(*args: str, cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", "from envstore.cli import main; main()", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


def test_store_lock_cli_and_staleness(tmp_path, local_index):
    local_index.add("alpha", "1.0", ["beta"])
    local_index.add("beta", "2.0")
    env = tmp_path / "env.yml"
    env.write_text("name: t\ndependencies:\n  - python=%d.%d\n  - alpha\n" % sys.version_info[:2])
    store = tmp_path / "store"
    proc = run_store("--store", str(store), "lock", "--index-url", local_index.simple, cwd=tmp_path,
                     env_extra={"PYENV_ROOT": str(Path(sys.executable).parents[2])})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{tmp_path / 'pylock.toml'}\n"
    assert "locked 2 packages" in proc.stderr
    lock = read_lock(tmp_path / "pylock.toml")
    assert [(p.name, p.version) for p in lock.packages] == [("alpha", "1.0"), ("beta", "2.0")]
    # universal by default (issue 17): this python on every platform, pure wheels fitting all
    major, minor = sys.version_info[:2]
    assert lock.requires_python == f">={major}.{minor}, <{major}.{minor + 1}" and not lock.interpreter
    assert len(lock.environments) == 5 and "sys_platform == 'win32'" in lock.environments[-1]
    assert lock.indexes[0] == local_index.simple
    assert not is_stale(lock, env)
    env.write_text("# reformatted\nname: t\ndependencies: [python=%d.%d, alpha]\n" % sys.version_info[:2])
    assert not is_stale(lock, env)  # same content, other bytes
    env.write_text("name: t\ndependencies:\n  - alpha<1\n")
    assert is_stale(lock, env)
    assert dumps_lock(read_lock(tmp_path / "pylock.toml")) == (tmp_path / "pylock.toml").read_text()


def test_store_lock_errors(tmp_path, local_index):
    env = tmp_path / "env.yml"
    env.write_text("name: t\ndependencies:\n  - nosuch\n")
    proc = run_store("--store", str(tmp_path / "s"), "lock", "--index-url", local_index.simple, cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    # A new store imports its interpreter first, and says so; then the error, in two lines.
    error = proc.stderr[proc.stderr.index("error: "):]
    assert proc.stderr.startswith("importing python ") or proc.stderr == error, proc.stderr
    assert error.startswith(f"error: package 'nosuch' not found on {local_index.simple}")
    assert error.count("\n") == 2 and "\nhint: " in error
    env.write_text("name: t\ndependancies: []\n")
    proc = run_store("lock", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == "error: env.yml:2:1: unknown key 'dependancies'\nhint: did you mean `dependencies`?\n"
    assert not (tmp_path / "pylock.toml").exists()


def test_foreign_lock_needs_hashes(tmp_path):
    p = tmp_path / "pylock.toml"
    p.write_text('lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n'
                 '[[packages.wheels]]\nurl = "https://index.invalid/a-1-py3-none-any.whl"\n')
    with pytest.raises(LockfileError, match="no sha256"):
        read_lock(p)
    p.write_text('lock-version = "2.0"\n')
    with pytest.raises(LockfileError, match="not supported"):
        read_lock(p)
