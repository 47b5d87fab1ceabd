"""Profiles: generations, atomic switching under a concurrent reader, rollback, list, prune,
generations as GC roots, and the CLI's error lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_store
from envstore.ops import profiles
from envstore.store.db import StoreDB
from envstore.store import open_store


def fake_prefixes(root: Path, n: int) -> list[Path]:
    """Registered prefix directories (enough for profiles, which only link to them)."""
    open_store(root)
    db = StoreDB(root)
    out = []
    try:
        for i in range(n):
            p = root / "envs" / f"{i:032d}-fake{i}"
            p.mkdir(parents=True)
            (p / "pyvenv.cfg").write_text(f"fake = {i}\n")
            db.register_prefix(p, f"fake{i}", [], "none", [], "x")
            out.append(p)
    finally:
        db.close()
    return out


READER = r"""
import os, sys
link, stop = sys.argv[1], sys.argv[2]
seen, bad = 0, []
while not os.path.exists(stop):
    try:
        with open(os.path.join(link, "pyvenv.cfg")) as f:
            if not f.read().startswith("fake = "):
                bad.append("partial")
        seen += 1
    except OSError as e:
        bad.append(repr(e))
print(seen, len(bad), bad[:3])
"""


def test_switching_is_atomic_for_a_concurrent_reader(tmp_path: Path) -> None:
    root = tmp_path / "store"
    a, b = fake_prefixes(root, 2)
    profiles.use(root, a)
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(profiles.profiles_dir(root) / "default"), str(stop)],
                              stdout=subprocess.PIPE, text=True)
    try:
        for i in range(150):
            profiles.use(root, b if i % 2 == 0 else a)
            if i % 10 == 0:
                profiles.rollback(root)
        time.sleep(0.05)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=30)
    seen, bad, examples = out.split(" ", 2)
    assert int(seen) > 100, out
    assert int(bad) == 0, examples


def test_generations_rollback_and_list(tmp_path: Path) -> None:
    root = tmp_path / "store"
    a, b, c = fake_prefixes(root, 3)
    assert [profiles.use(root, p).number for p in (a, b, c)] == [1, 2, 3]
    assert profiles.current_prefix(root) == c
    assert profiles.rollback(root).number == 2 and profiles.current_prefix(root) == b
    assert profiles.rollback(root).number == 1
    with pytest.raises(profiles.ProfileError, match="no generation before 1"):
        profiles.rollback(root)
    assert profiles.rollback(root, to=3).prefix == c
    # A new generation after a rollback is numbered after the newest, never reusing one.
    assert profiles.use(root, a).number == 4
    out = run_store("profile", "list", "--json", store_root=root, check=True)
    doc = json.loads(out.stdout)
    assert doc["version"] == 1
    gens = doc["data"]["generations"]
    assert [g["generation"] for g in gens] == [1, 2, 3, 4]
    assert [g["current"] for g in gens] == [False, False, False, True]
    text = run_store("profile", "list", store_root=root, check=True).stdout.splitlines()
    assert text[-1].endswith("(current)") and str(a) in text[-1]
    # Another profile is independent of the default one.
    profiles.use(root, b, "work")
    assert profiles.current_prefix(root, "work") == b and profiles.current_prefix(root) == a


def test_prune_keeps_current_and_forgets_roots(tmp_path: Path) -> None:
    root = tmp_path / "store"
    a, b, c = fake_prefixes(root, 3)
    for p in (a, b, c):
        profiles.use(root, p)
    profiles.rollback(root)  # current: 2
    old = time.time() - 40 * 86400
    for n in (1, 2, 3):
        os.utime(profiles.generation_link(root, "default", n), (old, old), follow_symlinks=False)
    out = run_store("profile", "prune", "--older-than", "30d", store_root=root, check=True)
    assert [line.split("\t")[0] for line in out.stdout.splitlines()] == ["1", "3"]
    assert [g.number for g in profiles.generations(root, "default")] == [2]
    db = StoreDB(root)
    try:
        links = [r[0] for r in db.roots()]
    finally:
        db.close()
    assert links == [str(profiles.generation_link(root, "default", 2))]


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    root = tmp_path / "store"
    cases = [
        ("use", str(tmp_path / "missing.yml")),
        ("use", str(tmp_path)),
        ("rollback",),
        ("profile", "prune", "--older-than", "soon"),
        ("use", "--profile", "../x", str(tmp_path)),
    ]
    for args in cases:
        out = run_store(*args, store_root=root)
        assert out.returncode == 1, (args, out.stderr)
        lines = [line for line in out.stderr.splitlines() if not line.startswith("hint:")]
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, out.stderr)
        assert "Traceback" not in out.stderr


@pytest.mark.network
def test_use_env_file_then_gc_keeps_generations(tmp_path: Path) -> None:
    from test_realize_real import pyenv_versions

    if not pyenv_versions():
        pytest.skip("needs a pyenv CPython")
    root = tmp_path / "store"
    proj = tmp_path / "proj"
    proj.mkdir()
    env = proj / "env.yml"
    env.write_text(f"name: prof\ndependencies:\n  - python={pyenv_versions()[0]}\n  - pip:\n      - six\n")
    out = run_store("use", str(env), store_root=root, check=True)
    prefix = Path(out.stdout.strip())
    assert prefix.is_dir() and profiles.current_prefix(root) == prefix
    (proj / ".envstore" / "prof").unlink()  # only the profile generation keeps it now
    run_store("gc", store_root=root, check=True)
    assert prefix.is_dir()
    # Rolled back out of existence: prune the generation, and gc may collect the prefix.
    os.utime(profiles.generation_link(root, "default", 1), (0, 0), follow_symlinks=False)
    profiles.profiles_dir(root).joinpath("default").unlink()
    run_store("profile", "prune", "--older-than", "1d", store_root=root, check=True)
    run_store("gc", store_root=root, check=True)
    assert not prefix.exists()
