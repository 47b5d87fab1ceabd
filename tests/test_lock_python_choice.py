"""The interpreter is a choice of the resolver (issue 17 item 5): when the env file leaves the
python version open and the newest one here cannot satisfy the pins, the universal lock leaves that python out and says
so, and realize takes the newest that can (as conda picks an older Python); an exact python= is
kept and fails with the resolver's one message."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from local_index import LocalIndex
from local_index import local_index  # noqa: F401 - fixture
from test_realize_real import pyenv_versions
from test_source_builds import store

from envstore.resolve.universal import SUPPORTED_PYTHONS


@pytest.fixture
def newest() -> str:
    # within what a universal lock covers, so that the newest is one `store lock` tries
    versions = [v for v in pyenv_versions() if v in SUPPORTED_PYTHONS]
    if len(versions) < 2:
        pytest.skip("needs two pyenv CPythons >= 3.9")
    return versions[0]


def test_an_open_python_falls_back_to_the_newest_that_can(tmp_path: Path, local_index: LocalIndex, newest: str) -> None:
    local_index.add("oldpin", "1.0", requires_python=f"<{newest}")
    env = tmp_path / "env.yml"
    env.write_text("name: older\ndependencies:\n  - python>=3.9\n  - pip:\n      - oldpin==1.0\n")
    proc = store("lock", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # The universal lock leaves out the python that cannot take the pin, and says so once per reason.
    locked = tomllib.loads((tmp_path / "pylock.toml").read_text())
    top = tuple(int(x) for x in newest.split("."))
    assert locked["requires-python"].endswith(f", <{newest}"), locked["requires-python"]
    left_out = [line for line in proc.stderr.splitlines() if line.startswith(f"warning: not locked for python {newest} ")]
    assert len(left_out) == 1 and "linux-x86_64" in left_out[0] and "oldpin" in left_out[0], proc.stderr
    assert "error:" not in proc.stderr

    realized = store("realize", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    assert realized.returncode == 0, realized.stderr
    found = [p.parts[-3] for p in Path(realized.stdout.strip()).glob("lib/python3.*/site-packages/oldpin")]
    assert len(found) == 1 and tuple(int(x) for x in found[0][len("python"):].split(".")) < top, found

    # The single-target lock (realize with no lock, a store with no interpreter yet) still picks
    # the newest python that can.
    (tmp_path / "pylock.toml").unlink()
    again = store("realize", "--index-url", local_index.simple, root=tmp_path / "fresh", cwd=tmp_path)
    assert again.returncode == 0 and "cannot satisfy the pins" in again.stderr, again.stderr


def test_an_exact_python_is_kept_and_fails_once(tmp_path: Path, local_index: LocalIndex, newest: str) -> None:
    local_index.add("oldpin", "1.0", requires_python=f"<{newest}")
    (tmp_path / "env.yml").write_text(f"name: exact\ndependencies:\n  - python={newest}\n  - pip:\n      - oldpin\n")
    proc = store("lock", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "oldpin" in errors[0] and "cannot satisfy" not in proc.stderr, proc.stderr
