"""The interpreter is a choice of the resolver (issue 17 item 5): when the env file leaves the
python version open and the newest one here cannot satisfy the pins, the lock is made for the
newest that can, and says so (as conda picks an older Python); an exact python= is kept and
fails with the resolver's one message."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from local_index import LocalIndex
from local_index import local_index  # noqa: F401 - fixture
from test_realize_real import pyenv_versions
from test_source_builds import store


@pytest.fixture
def newest() -> str:
    versions = [v for v in pyenv_versions() if tuple(int(x) for x in v.split(".")) >= (3, 9)]
    if len(versions) < 2:
        pytest.skip("needs two pyenv CPythons >= 3.9")
    return versions[0]


def test_an_open_python_falls_back_to_the_newest_that_can(tmp_path: Path, local_index: LocalIndex, newest: str) -> None:
    local_index.add("oldpin", "1.0", requires_python=f"<{newest}")
    env = tmp_path / "env.yml"
    env.write_text("name: older\ndependencies:\n  - python>=3.9\n  - pip:\n      - oldpin==1.0\n")
    proc = store("lock", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    locked = tomllib.loads((tmp_path / "pylock.toml").read_text())
    version = locked["tool"]["envstore"]["interpreter"]["version"]
    assert tuple(int(x) for x in version.split(".")[:2]) < tuple(int(x) for x in newest.split("."))
    assert "cannot satisfy the pins" in proc.stderr and f"locked for python {version}" in proc.stderr, proc.stderr

    realized = store("realize", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    assert realized.returncode == 0, realized.stderr
    assert next(Path(realized.stdout.strip()).glob(f"lib/python{'.'.join(version.split('.')[:2])}/site-packages/oldpin"))


def test_an_exact_python_is_kept_and_fails_once(tmp_path: Path, local_index: LocalIndex, newest: str) -> None:
    local_index.add("oldpin", "1.0", requires_python=f"<{newest}")
    (tmp_path / "env.yml").write_text(f"name: exact\ndependencies:\n  - python={newest}\n  - pip:\n      - oldpin\n")
    proc = store("lock", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "oldpin" in errors[0] and "cannot satisfy" not in proc.stderr, proc.stderr
