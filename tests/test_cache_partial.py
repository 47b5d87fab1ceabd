"""Partial substitution and --offline against the local test index (issue 18, round 2): store A
realizes env A (alpha, beta) from the index and pushes it to a file:// cache; env B (alpha,
gamma) is then realized in an empty store with that cache. alpha comes from the cache's wheel
record (no index request names it, its bytecode is the one A compiled), gamma from the index,
and the prefix is byte for byte the one realized without the cache."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from conftest import tree_snapshot
from local_index import ServedIndex
from test_cache import STORE_BIN, ok, remove_store
from test_realize_real import pyenv_versions, write_env


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([STORE_BIN, *args], capture_output=True, text=True, env=env, timeout=180)


def _bytecode(root: Path, like: str) -> list[tuple]:
    with closing(sqlite3.connect(root / "db-v1.sqlite")) as c:
        return sorted(c.execute("SELECT b.source_manifest, b.interpreter, b.manifest_id FROM bytecode b "
                                "JOIN placements p ON p.sources_manifest = b.source_manifest "
                                "JOIN artifacts a ON a.manifest_id = p.wheel_manifest WHERE a.filename LIKE ?",
                                (like,)))


def test_shared_wheels_come_from_the_cache_the_rest_from_the_index(tmp_path: Path) -> None:
    versions = pyenv_versions()
    if not versions:
        pytest.skip("no pyenv CPython to realize with")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "PIP_CONFIG_FILE": os.devnull}
    env.pop("ENVSTORE_SUBSTITUTERS", None)
    public_key = ok(run("key", "generate", "--name", "team-p-1", env=env)).stdout.strip()
    env_a = write_env(tmp_path / "a", "parta", versions[0], ["alpha", "beta"])
    env_b = write_env(tmp_path / "b", "partb", versions[0], ["alpha", "gamma"])
    cache = tmp_path / "cache"
    root = tmp_path / "store"
    with ServedIndex(tmp_path / "index") as index:
        for name in ("alpha", "beta", "gamma"):
            index.add(name, "1.0")
        flags = ("--index-url", index.simple)
        ok(run("--store", str(root), "lock", str(env_b), *flags, env=env))
        # the reference: env B realized without any cache, then moved away so the cached
        # realize happens at the same absolute path (scripts and pyvenv.cfg name it)
        plain = Path(ok(run("--store", str(root), "realize", str(env_b), "--no-out-link", *flags, env=env)).stdout.strip())
        reference = tmp_path / "reference"
        root.rename(reference)
        ok(run("--store", str(root), "realize", str(env_a), "--no-out-link", *flags, env=env))
        ok(run("--store", str(root), "push", str(env_a), "--to", cache.as_uri(), env=env))
        a_bytecode = _bytecode(root, "alpha-%")
        assert a_bytecode
        remove_store(root)
        index.hits.clear()
        proc = ok(run("--store", str(root), "realize", str(env_b), "--no-out-link", *flags,
                      "--substituter", cache.as_uri(), "--trusted-key", public_key, env=env))
        hits = list(index.hits)
    prefix = Path(proc.stdout.strip())
    assert prefix == plain
    assert not [h for h in hits if "alpha" in h], hits  # alpha: not a request to the index
    assert [h for h in hits if "gamma" in h and h.endswith(".whl")], hits  # gamma: from the index
    assert "substituted alpha 1.0" in proc.stderr and "the rest from the index" in proc.stderr, proc.stderr
    assert _bytecode(root, "alpha-%") == a_bytecode  # A's bytecode record, not compiled here
    assert tree_snapshot(prefix) == tree_snapshot(reference / "envs" / prefix.name)
    # --offline with the index server stopped (its port closed): B's prefix is not in the cache
    # and gamma's wheel is nowhere local, so one error names --offline and nothing is published
    cached_b = tmp_path / "store-b"
    root.rename(cached_b)
    offline = run("--store", str(root), "realize", str(env_b), "--no-out-link", *flags, "--offline",
                  "--substituter", cache.as_uri(), "--trusted-key", public_key, env=env)
    assert offline.returncode == 1 and offline.stdout == "" and "Traceback" not in offline.stderr, offline.stderr
    errors = [line for line in offline.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "--offline" in errors[0] and "1 wheel" in errors[0], offline.stderr
    assert not (root / "envs").is_dir() or not [p for p in (root / "envs").iterdir() if not p.name.startswith(".")]
    remove_store(root)
    # once B is pushed too, --offline realizes it from the file:// cache alone
    cached_b.rename(root)
    ok(run("--store", str(root), "push", str(env_b), "--to", cache.as_uri(), env=env))
    remove_store(root)
    again = ok(run("--store", str(root), "realize", str(env_b), "--no-out-link", *flags, "--offline",
                   "--substituter", cache.as_uri(), "--trusted-key", public_key, env=env))
    assert Path(again.stdout.strip()) == plain and "substituted" in again.stderr, again.stderr
    assert tree_snapshot(plain) == tree_snapshot(reference / "envs" / plain.name)
    remove_store(root)
    remove_store(reference)
