"""`store realize` end to end, as a user runs it: real index (pip's configuration), a real
interpreter imported into the store, real subprocesses. Covers the fast path, out-links and
GC, concurrency, crash points, and verify/repair through a prefix."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_store

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


def write_env(directory: Path, name: str, packages: list[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    deps = "\n".join(f"      - {p}" for p in packages)
    env = directory / "env.yml"
    env.write_text(f"name: {name}\ndependencies:\n  - python={PY}\n  - pip:\n{deps}\n")
    return env


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory) -> Path:
    """One store for the module: importing the interpreter once keeps the suite fast."""
    return tmp_path_factory.mktemp("realize") / "store"


def realize(env: Path, store: Path, *extra: str, env_vars: dict | None = None) -> subprocess.CompletedProcess:
    return run_store("realize", str(env), *extra, store_root=store, env={**os.environ, **(env_vars or {})})


def test_realize_twice_same_path_and_runs(shared_store: Path, tmp_path: Path) -> None:
    env = write_env(tmp_path / "proj", "demo", ["six==1.16.0", "click==8.1.7"])
    first = realize(env, shared_store)
    assert first.returncode == 0, first.stderr
    prefix = Path(first.stdout.strip())
    assert first.stdout == f"{prefix}\n" and prefix.parent == shared_store / "envs"
    assert prefix.name.endswith("-demo")
    assert (env.parent / "pylock.toml").is_file()
    assert os.readlink(env.parent / ".envstore" / "demo") == str(prefix)

    t0 = time.perf_counter()
    second = realize(env, shared_store)
    elapsed = time.perf_counter() - t0
    assert second.returncode == 0 and second.stdout == first.stdout
    assert second.stderr == "", "the already-realized path is silent"
    assert elapsed < 5

    ran = run_store("run", "-f", str(env), "--", "python", "-c",
                    "import sys, six, click; print(sys.prefix, six.__version__)", store_root=shared_store)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [str(prefix), "1.16.0"]

    listed = run_store("list", "--json", store_root=shared_store)
    assert str(prefix) in listed.stdout


def test_envs_share_inodes_and_gc_frees_only_the_dead(shared_store: Path, tmp_path: Path) -> None:
    a_env = write_env(tmp_path / "a", "a", ["six==1.16.0", "click==8.1.7"])
    b_env = write_env(tmp_path / "b", "b", ["six==1.16.0", "idna==3.7"])
    a = Path(realize(a_env, shared_store).stdout.strip())
    b = Path(realize(b_env, shared_store).stdout.strip())
    six_a = next(a.glob("lib/python*/site-packages/six.py"))
    six_b = next(b.glob("lib/python*/site-packages/six.py"))
    assert six_a.stat().st_ino == six_b.stat().st_ino

    idna_file = next(b.glob("lib/python*/site-packages/idna/core.py"))
    idna_blob_inode = idna_file.stat().st_ino
    (b_env.parent / ".envstore" / "b").unlink()
    dry = run_store("gc", "--dry-run", store_root=shared_store)
    assert dry.returncode == 0 and str(b) in dry.stdout and b.is_dir()
    gc = run_store("gc", store_root=shared_store)
    assert gc.returncode == 0, gc.stderr
    assert not b.exists() and a.is_dir()
    blob_inodes = {p.stat().st_ino for p in (shared_store / "blobs-v1").rglob("*") if p.is_file()}
    assert six_a.stat().st_ino in blob_inodes, "shared blob kept"
    assert idna_blob_inode not in blob_inodes, "blob only the dead prefix used is gone"
    ok = subprocess.run([str(a / "bin" / "python"), "-c", "import six, click"], capture_output=True)
    assert ok.returncode == 0
    assert run_store("verify", store_root=shared_store).returncode == 0


def test_concurrent_realizes_build_one_prefix(shared_store: Path, tmp_path: Path) -> None:
    env = write_env(tmp_path / "c", "conc", ["six==1.16.0", "packaging==24.1"])
    lock = run_store("lock", str(env), store_root=shared_store)
    assert lock.returncode == 0, lock.stderr
    procs = [
        subprocess.Popen(["store", "--store", str(shared_store), "realize", str(env)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert len({o[0] for o in outs}) == 1
    assert len(list((shared_store / "envs").glob("*-conc"))) == 1


@pytest.mark.parametrize("point", ["prefix.before_rename", "prefix.after_rename"])
def test_kill_at_named_points_then_rerun(shared_store: Path, tmp_path: Path, point: str) -> None:
    env = write_env(tmp_path / "k", f"kill-{point.split('.')[1]}", ["six==1.16.0", "attrs==24.2.0"])
    crashed = realize(env, shared_store, env_vars={"_ENVSTORE_TEST_CRASH_AT": point})
    assert crashed.returncode == -9
    assert not (env.parent / ".envstore").exists()
    gc = run_store("gc", store_root=shared_store)
    assert gc.returncode == 0, gc.stderr
    assert run_store("verify", store_root=shared_store).returncode == 0
    again = realize(env, shared_store)
    assert again.returncode == 0, again.stderr
    assert run_store("verify", store_root=shared_store).returncode == 0


def test_gc_waits_for_a_running_realize(shared_store: Path, tmp_path: Path) -> None:
    env = write_env(tmp_path / "p", "paused", ["six==1.16.0", "tomli==2.0.1"])
    gate = tmp_path / "gate"
    gate.mkdir()
    proc = subprocess.Popen(
        ["store", "--store", str(shared_store), "realize", str(env)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "_ENVSTORE_TEST_PAUSE_AT": f"prefix.before_rename:{gate}"},
    )
    try:
        deadline = time.monotonic() + 240
        while not (gate / "paused").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        gc = run_store("gc", "--lock-timeout", "1", store_root=shared_store)
        assert gc.returncode == 1 and "store lock" in gc.stderr
    finally:
        (gate / "release").touch()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    prefix = Path(out.strip())
    assert subprocess.run([str(prefix / "bin" / "python"), "-c", "import tomli"]).returncode == 0
    assert run_store("gc", store_root=shared_store).returncode == 0
    assert prefix.is_dir(), "rooted by its out-link"


def test_verify_and_repair_through_a_prefix(shared_store: Path, tmp_path: Path) -> None:
    env = write_env(tmp_path / "r", "repair", ["six==1.16.0", "click==8.1.7"])
    prefix = Path(realize(env, shared_store).stdout.strip())
    site = next(prefix.glob("lib/python*/site-packages"))
    six_py = site / "six.py"
    original = six_py.read_bytes()
    # 1. a same-size edit in place: it changes the shared blob, so every prefix using it
    os.chmod(six_py, 0o644)
    with open(six_py, "r+b") as f:
        f.write(b"#" * 10)
    os.chmod(six_py, 0o444)
    # 2. a replaced file (editor-style save: new inode, different content)
    core = site / "click" / "core.py"
    os.chmod(core.parent, 0o755)
    core.unlink()
    core.write_text("broken = True\n")
    os.chmod(core.parent, 0o555)

    found = run_store("verify", "--json", store_root=shared_store)
    assert found.returncode == 1
    assert "six.py" in found.stdout and "core.py" in found.stdout
    fixed = run_store("verify", "--repair", store_root=shared_store)
    assert fixed.returncode == 0, fixed.stderr
    assert six_py.read_bytes() == original
    assert "broken" not in core.read_text()
    assert run_store("verify", store_root=shared_store).returncode == 0
    ok = subprocess.run([str(prefix / "bin" / "python"), "-c", "import six, click.core"], capture_output=True)
    assert ok.returncode == 0, ok.stderr


def test_frozen_refuses_a_stale_lock(shared_store: Path, tmp_path: Path) -> None:
    env = write_env(tmp_path / "f", "frozen", ["six==1.16.0"])
    assert realize(env, shared_store).returncode == 0
    env.write_text(env.read_text() + "      - idna==3.7\n")
    proc = realize(env, shared_store, "--frozen")
    assert proc.returncode == 1 and "--frozen" in proc.stderr and "Traceback" not in proc.stderr


def test_diff_and_export(shared_store: Path, tmp_path: Path) -> None:
    a_env = write_env(tmp_path / "da", "da", ["six==1.16.0", "idna==3.6"])
    b_env = write_env(tmp_path / "db", "db", ["six==1.16.0", "idna==3.7", "click==8.1.7"])
    a = realize(a_env, shared_store).stdout.strip()
    b = realize(b_env, shared_store).stdout.strip()
    diff = run_store("diff", a, b, store_root=shared_store)
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.splitlines() == ["+ click 8.1.7", "~ idna 3.6 -> 3.7"]
    assert run_store("diff", str(a_env), str(b_env), store_root=shared_store).stdout == diff.stdout

    exported = run_store("export", b, store_root=shared_store)
    assert exported.returncode == 0
    assert "      - click==8.1.7" in exported.stdout and f"python={PY}" in exported.stdout
    again = write_env(tmp_path / "again", "db", [])
    again.write_text(exported.stdout)
    assert realize(again, shared_store).stdout.strip() == b, "an exported env realizes to the same prefix"
    lock = run_store("export", b, "--format", "pylock", store_root=shared_store)
    assert 'lock-version = "1.0"' in lock.stdout and "sha256" in lock.stdout

    # An out-link names its prefix; a relative env file path exports the env file's own name.
    link = b_env.parent / ".envstore" / "db"
    assert run_store("diff", a, str(link), store_root=shared_store).stdout == diff.stdout
    assert run_store("export", str(link), store_root=shared_store).stdout == exported.stdout
    named = subprocess.run(["store", "--store", str(shared_store), "export", "env.yml"], cwd=b_env.parent,
                           capture_output=True, text=True)
    assert named.returncode == 0 and named.stdout.startswith("name: db\n"), named.stdout + named.stderr


def _prefix_column(store: Path, prefix: str, value: str | None = None) -> list:
    """The prefixes row's `manifests` column, read (and, given `value`, first replaced) with sqlite3."""
    con = sqlite3.connect(store / "db-v1.sqlite")
    try:
        if value is not None:
            with con:
                con.execute("UPDATE prefixes SET manifests = ? WHERE path = ?", (value, prefix))
        return json.loads(con.execute("SELECT manifests FROM prefixes WHERE path = ?", (prefix,)).fetchone()[0])
    finally:
        con.close()


def test_a_prefix_row_in_the_old_label_form_still_works(shared_store: Path, tmp_path: Path) -> None:
    """Rows written before parts were records hold [label, manifest id] pairs ("six 1.16.0",
    "six 1.16.0 (scripts)", "envstore"): list, diff, export and repair read them as before."""
    old_env = write_env(tmp_path / "lo", "legacy-old", ["six==1.16.0"])
    env = write_env(tmp_path / "l", "legacy", ["six==1.16.0", "idna==3.7"])
    old = realize(old_env, shared_store).stdout.strip()
    prefix = realize(env, shared_store).stdout.strip()
    records = _prefix_column(shared_store, prefix)
    assert {r["kind"] for r in records} >= {"base", "wheel", "bytecode"}, records

    def seen() -> tuple:
        listed = json.loads(run_store("list", "--json", store_root=shared_store, check=True).stdout)["data"]
        return (next(d["packages"] for d in listed if d["path"] == prefix),
                run_store("diff", old, prefix, store_root=shared_store, check=True).stdout,
                run_store("export", prefix, store_root=shared_store, check=True).stdout,
                run_store("export", prefix, "--format", "pylock", store_root=shared_store, check=True).stdout)

    before = seen()
    assert before[0] == ["idna 3.7", "six 1.16.0"] and before[1] == "+ idna 3.7\n"
    suffix = {"wheel": "", "scripts": " (scripts)", "bytecode": " (bytecode)"}
    labels = [["envstore", r["manifest"]] if r["kind"] == "base"
              else [f"{r['package']} {r['version']}{suffix[r['kind']]}", r["manifest"]] for r in records]
    _prefix_column(shared_store, prefix, json.dumps(labels))
    assert seen() == before

    # A replaced file: repair rebuilds the prefix from the label row, and records what it built.
    site = next(Path(prefix).glob("lib/python*/site-packages"))
    os.chmod(site / "idna", 0o755)
    (site / "idna" / "core.py").unlink()
    (site / "idna" / "core.py").write_text("broken = True\n")
    os.chmod(site / "idna", 0o555)
    fixed = run_store("verify", "--repair", store_root=shared_store)
    assert fixed.returncode == 0 and f"rebuilt {prefix}" in fixed.stderr + fixed.stdout, fixed.stderr
    assert "broken" not in (site / "idna" / "core.py").read_text()
    assert _prefix_column(shared_store, prefix) == records
    assert run_store("verify", store_root=shared_store).returncode == 0
    assert seen() == before


def test_offline_refuses_to_fetch_and_lock_keeps_foreign_lockfiles(shared_store: Path, tmp_path: Path) -> None:
    """--offline never downloads: wheels the store lacks are named, nothing is built. A
    pylock.toml given to `store lock` is input: checked, printed, never rewritten."""
    env = write_env(tmp_path / "offline", "offline", ["six==1.16.0", "pyparsing==3.1.2"])
    assert run_store("lock", str(env), store_root=shared_store).returncode == 0
    proc = realize(env, shared_store, "--offline")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "--offline" in proc.stderr and "pyparsing 3.1.2" in proc.stderr, proc.stderr
    assert not (env.parent / ".envstore").exists()

    lock = env.parent / "pylock.toml"
    before = lock.read_bytes()
    again = run_store("lock", str(lock), store_root=shared_store)
    assert again.returncode == 0 and again.stdout.strip() == str(lock), again.stderr
    assert "already a lockfile" in again.stderr and lock.read_bytes() == before
    refused = run_store("lock", str(lock), "--upgrade", store_root=shared_store)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr and lock.read_bytes() == before


def test_gc_keep_size_keeps_recent_wheels(shared_store: Path, tmp_path: Path) -> None:
    env = write_env(tmp_path / "ks", "keep", ["six==1.16.0", "pyparsing==3.1.2"])
    prefix = Path(realize(env, shared_store).stdout.strip())
    (env.parent / ".envstore" / "keep").unlink()
    gc = run_store("gc", "--keep-size", "1G", store_root=shared_store)
    assert gc.returncode == 0, gc.stderr
    assert not prefix.exists(), "the prefix itself is not kept"
    again = realize(env, shared_store)
    assert again.returncode == 0 and "fetching" not in again.stderr, "the wheels were kept"
    assert Path(again.stdout.strip()) == prefix


def test_foreign_pylock_requires_python_picks_the_interpreter(shared_store: Path, tmp_path: Path) -> None:
    """A pylock.toml another tool wrote names no interpreter, only requires-python: realize must
    honour it (a lock for 3.X is not built with whatever python comes first)."""
    import tomllib

    import tomli_w
    from interp_helpers import pyenv_pythons

    others = sorted((m for m in pyenv_pythons() if m != PY), key=lambda m: tuple(map(int, m.split("."))))
    if not others:
        pytest.skip(f"needs a pyenv CPython other than {PY}")
    want = others[-1]
    env = write_env(tmp_path / "foreign", "foreign", ["six==1.16.0"])
    assert run_store("lock", str(env), store_root=shared_store).returncode == 0
    doc = tomllib.loads((env.parent / "pylock.toml").read_text())
    doc.pop("tool", None)
    doc["created-by"] = "another-tool"
    doc["requires-python"] = f"=={want}.*"
    foreign = tmp_path / "pylock.toml"
    foreign.write_text(tomli_w.dumps(doc))
    proc = realize(foreign, shared_store, "--no-out-link")
    assert proc.returncode == 0, proc.stderr
    prefix = Path(proc.stdout.strip())
    out = subprocess.run([str(prefix / "bin" / "python"), "-c", "import sys, six; print(sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(tuple(map(int, want.split(".")))), out
