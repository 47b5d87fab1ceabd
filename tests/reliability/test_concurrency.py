"""Concurrency (RELIABILITY rows 9-15) and the opt-in 60 s stress run: concurrent realizes,
gc against realize and switch, two gcs, two switches."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from harness import assert_store_valid, db_rows, gc_and_check, option, run_store, wait_for, write_env

PAUSE = "_ENVSTORE_TEST_PAUSE_AT"
CRASH = "_ENVSTORE_TEST_CRASH_AT"


def popen(store: Path, *args: str, env_vars: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(["store", "--store", str(store), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env_vars or {})})


def blob_names(store: Path) -> list[str]:
    return [p.parent.name + p.name for p in (store / "blobs-v1").rglob("*") if p.is_file()]


@pytest.mark.parametrize("n", [2, 8])
def test_row09_same_env_concurrently(rstore: Path, wheels, tmp_path: Path, n: int) -> None:
    """Row 9: N realizes of one env, paused together at realize.before_link and released at once."""
    env = write_env(tmp_path / "same", ["tinyb", "tinyc"])
    assert run_store(rstore, "lock", str(env), *wheels.index_args()).returncode == 0
    gates = [tmp_path / f"g{i}" for i in range(n)]
    procs = []
    for g in gates:
        g.mkdir()
        procs.append(popen(rstore, "realize", str(env), *wheels.index_args(),
                           env_vars={PAUSE: f"realize.before_link:{g}"}))
    for g, p in zip(gates, procs):
        wait_for(g / "paused", p)
    for g in gates:
        (g / "release").touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert len({o[0] for o in outs}) == 1
    assert len([p for p in (rstore / "envs").iterdir() if not p.name.startswith(".")]) == 1
    names = blob_names(rstore)
    assert len(names) == len(set(names))
    assert_store_valid(rstore)


def test_row10_different_envs_sharing_blobs(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 10: two different envs sharing tinya at once: both succeed, shared blobs are linked
    once per user."""
    a_env = write_env(tmp_path / "a", ["tinya", "tinyc"])
    b_env = write_env(tmp_path / "b", ["tinyb"])
    procs = [popen(rstore, "realize", str(e), *wheels.index_args()) for e in (a_env, b_env)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert not any("File exists" in o[1] for o in outs)
    a, b = (Path(o[0].strip()) for o in outs)
    f_a = next(a.glob("lib/python*/site-packages/tinya/__init__.py"))
    f_b = next(b.glob("lib/python*/site-packages/tinya/__init__.py"))
    assert f_a.stat().st_ino == f_b.stat().st_ino
    assert f_a.stat().st_nlink == 1 + 2, "the blob plus one link per prefix"
    assert_store_valid(rstore)


def test_row11_gc_races_a_realize_before_rename(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 11: gc while a realize has blobs but no prefix yet: gc waits (v1 lock), times out;
    the realize completes and survives gc; without its root gc deletes everything it made."""
    env = write_env(tmp_path / "r", ["tinyd"])
    gate = tmp_path / "gate"
    gate.mkdir()
    proc = popen(rstore, "realize", str(env), *wheels.index_args(), env_vars={PAUSE: f"prefix.before_rename:{gate}"})
    try:
        wait_for(gate / "paused", proc)
        gc = run_store(rstore, "gc", "--lock-timeout", "1")
        assert gc.returncode != 0 and "waiting for the store lock" in gc.stderr and "timed out" in gc.stderr
    finally:
        (gate / "release").touch()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    prefix = Path(out.strip())
    gc_and_check(rstore)
    assert prefix.is_dir()
    before = set(blob_names(rstore))
    (env.parent / ".envstore" / "r").unlink()
    gc_and_check(rstore)
    assert not prefix.exists() and len(set(blob_names(rstore))) < len(before)


def test_row12_gc_races_blob_about_to_be_linked(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 12: unreferenced blobs (from a crashed realize) about to be linked by a second
    realize paused at realize.before_link; gc starts; release: no ENOENT, store valid."""
    env = write_env(tmp_path / "u", ["tinye"])
    r = run_store(rstore, "realize", str(env), *wheels.index_args(), env={CRASH: "prefix.before_rename"})
    assert r.returncode == -9
    gate = tmp_path / "gate"
    gate.mkdir()
    proc = popen(rstore, "realize", str(env), *wheels.index_args(), env_vars={PAUSE: f"realize.before_link:{gate}"})
    wait_for(gate / "paused", proc)
    gc = popen(rstore, "gc")
    time.sleep(0.5)
    (gate / "release").touch()
    out, err = proc.communicate(timeout=120)
    gc_out, gc_err = gc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert gc.returncode == 0, gc_err
    assert "No such file" not in err
    assert Path(out.strip()).is_dir()
    assert_store_valid(rstore)


def test_row13_gc_during_a_switch_keeps_both_generations(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 13: gc while `store use` is paused before its rename: the new target and the kept
    previous generation survive; removing generations lets gc free only those."""
    a = run_store(rstore, "realize", str(write_env(tmp_path / "a", ["tinya"])), "--no-out-link", *wheels.index_args()).stdout.strip()
    b = run_store(rstore, "realize", str(write_env(tmp_path / "b", ["tinyc"])), "--no-out-link", *wheels.index_args()).stdout.strip()
    assert run_store(rstore, "use", a).returncode == 0
    gate = tmp_path / "gate"
    gate.mkdir()
    sw = popen(rstore, "use", b, env_vars={PAUSE: f"switch.before_rename:{gate}"})
    wait_for(gate / "paused", sw)
    gc = popen(rstore, "gc")
    time.sleep(0.5)
    (gate / "release").touch()
    sw_out = sw.communicate(timeout=60)
    gc_out = gc.communicate(timeout=60)
    assert sw.returncode == 0, sw_out
    assert gc.returncode == 0, gc_out
    assert Path(a).is_dir() and Path(b).is_dir(), "current and previous generation survive"
    assert_store_valid(rstore)
    prune = run_store(rstore, "profile", "prune", "--older-than", "0s")
    assert prune.returncode == 0, prune.stderr
    gc_and_check(rstore)
    assert Path(b).is_dir() and not Path(a).exists(), "only the removed generation is collected"


def test_row14_two_gcs_at_once(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 14: two gcs at once: both exit 0 (the second waits for the lock), no double-delete errors."""
    for i, pkgs in enumerate([["tinya"], ["tinyc"], ["tinyd"]]):
        env = write_env(tmp_path / f"e{i}", pkgs)
        assert run_store(rstore, "realize", str(env), "--no-out-link", *wheels.index_args()).returncode == 0
    procs = [popen(rstore, "gc") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert not any("No such file" in o[1] for o in outs)
    assert_store_valid(rstore, after_gc=True)


def test_row15_two_switches_at_once(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 15: two `store use` of the same profile, paused and released together: the final
    target is one of the two; the generation list has no duplicate or lost generation."""
    a = run_store(rstore, "realize", str(write_env(tmp_path / "a", ["tinya"])), "--no-out-link", *wheels.index_args()).stdout.strip()
    b = run_store(rstore, "realize", str(write_env(tmp_path / "b", ["tinyc"])), "--no-out-link", *wheels.index_args()).stdout.strip()
    gates = [tmp_path / "ga", tmp_path / "gb"]
    procs = []
    for g, target in zip(gates, (a, b)):
        g.mkdir()
        procs.append(popen(rstore, "use", target, env_vars={PAUSE: f"switch.before_rename:{g}"}))
    # The profile lock serializes them: the first pauses; release it, then the second pauses.
    for _ in range(2):
        deadline = time.monotonic() + 60
        while not any((g / "paused").exists() and not (g / "release").exists() for g in gates):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        for g in gates:
            if (g / "paused").exists():
                (g / "release").touch()
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    final = os.path.realpath(rstore / "profiles" / "default")
    assert final in (a, b)
    gens = run_store(rstore, "profile", "list", "--json")
    assert gens.returncode == 0, gens.stderr
    import json

    data = json.loads(gens.stdout)["data"]
    rows = data if isinstance(data, list) else data.get("generations", data)
    numbers = [g["generation"] for g in rows]
    assert sorted(numbers) == [1, 2] and {g["prefix"] for g in rows} == {a, b}
    assert_store_valid(rstore)


def test_stress_8_realizes_gc_and_verify_loops(request, rstore: Path, wheels, tmp_path: Path) -> None:
    """Issue 7: eight concurrent realizes of one env plus a gc loop and a verify loop for
    --stress-seconds (opt-in): all exit 0, one prefix, the store verifies."""
    seconds = option(request.config, "--stress-seconds", 0)
    if not seconds:
        pytest.skip("opt-in: --stress-seconds 60")
    env = write_env(tmp_path / "stress", ["tinyb", "tinyc", "tinyd"])
    assert run_store(rstore, "lock", str(env), *wheels.index_args()).returncode == 0
    deadline = time.monotonic() + seconds
    counts = {"realize": 0, "gc": 0, "verify": 0}
    failures: list[str] = []
    prefixes: set[str] = set()
    running: dict[str, list[subprocess.Popen]] = {"realize": [], "gc": [], "verify": []}
    while time.monotonic() < deadline or any(running.values()):
        for kind, procs in running.items():
            for p in list(procs):
                if p.poll() is not None:
                    out, err = p.communicate()
                    procs.remove(p)
                    counts[kind] += 1
                    if p.returncode != 0:
                        failures.append(f"{kind} exited {p.returncode}: {err[-300:]}")
                    if kind == "realize":
                        prefixes.add(out.strip())
        if time.monotonic() < deadline:
            while len(running["realize"]) < 8:
                running["realize"].append(popen(rstore, "realize", str(env), *wheels.index_args()))
            if not running["gc"]:
                running["gc"].append(popen(rstore, "gc"))
            if not running["verify"]:
                running["verify"].append(popen(rstore, "verify"))
        time.sleep(0.05)
    print(f"stress {seconds:g}s: {counts}, failures {len(failures)}, prefixes {len(prefixes)}")
    assert not failures, failures[:5]
    assert len(prefixes) == 1
    assert run_store(rstore, "verify").returncode == 0
    assert_store_valid(rstore)
