"""What a realize loads: with no binary cache configured, a new environment's realize never
imports the cache's cryptography or zstandard (issue 19); naming a cache loads them, so the
check below would see a regression. Each route loads only its own modules, and a command only
its own CLI module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local_index import LocalIndex
from local_index import local_index  # noqa: F401 - fixture
from test_source_builds import store
from test_universal_lock import python  # noqa: F401 - fixture

HEAVY = ("cryptography", "zstandard")


def modules(stderr: str) -> set[str]:
    """Module names from -X importtime lines (`import time: self | cumulative | name`)."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


def imported(stderr: str) -> set[str]:
    """Top-level module names from -X importtime lines."""
    return {name.split(".")[0] for name in modules(stderr)}


OTHER_COMMANDS = {"envstore.cli.push", "envstore.cli.gc", "envstore.cli.python_cmd", "envstore.cli.cache"}
WHEEL_ROUTE = {"envstore.resolve.lock", "envstore.index.client", "envstore.interpreters", "envstore.install.wheel"}


@pytest.mark.parametrize("with_cache", [False, True], ids=["no-cache", "file-cache"])
def test_new_env_realize_loads_the_cache_code_only_when_a_cache_is_named(
        tmp_path: Path, local_index: LocalIndex, python: str, with_cache: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    local_index.add("alpha", "1.0")
    env = tmp_path / "env.yml"
    env.write_text(f"name: imports\ndependencies:\n  - python={python}\n  - pip:\n      - alpha\n")
    flags = ["--index-url", local_index.simple]
    if with_cache:
        (tmp_path / "cache").mkdir()
        flags += ["--substituter", (tmp_path / "cache").as_uri(), "--allow-unsigned"]
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    proc = store("realize", *flags, root=tmp_path / "store", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert os.path.isdir(proc.stdout.strip().splitlines()[-1])
    loaded = imported(proc.stderr) & set(HEAVY)
    assert loaded == (set(HEAVY) if with_cache else set()), sorted(loaded)
    assert not modules(proc.stderr) & OTHER_COMMANDS
    if not with_cache:
        assert "rattler" not in imported(proc.stderr)


def test_a_conda_realize_loads_neither_the_wheel_route_nor_other_commands(
        conda_channel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "env.yml"
    env.write_text(f"name: tool\nchannels: [{conda_channel.file_url}]\ndependencies:\n  - demotool\n"
                   "envstore:\n  packages-from: conda\n")
    monkeypatch.setenv("CONDARC", str(tmp_path / "no-condarc"))
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    proc = store("realize", root=tmp_path / "store", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    loaded = modules(proc.stderr)
    assert "rattler" in imported(proc.stderr) and "envstore.ops.realize_conda" in loaded
    assert not loaded & (WHEEL_ROUTE | OTHER_COMMANDS), sorted(loaded & (WHEEL_ROUTE | OTHER_COMMANDS))

