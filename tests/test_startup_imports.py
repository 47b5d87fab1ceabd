"""What a realize loads: with no binary cache configured, a new environment's realize never
imports the cache's cryptography or zstandard (issue 19); naming a cache loads them, so the
check below would see a regression."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local_index import LocalIndex
from local_index import local_index  # noqa: F401 - fixture
from test_source_builds import store
from test_universal_lock import python  # noqa: F401 - fixture

HEAVY = ("cryptography", "zstandard")


def imported(stderr: str) -> set[str]:
    """Top-level module names from -X importtime lines (`import time: self | cumulative | name`)."""
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


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
