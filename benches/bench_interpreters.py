#!/usr/bin/env python3
"""Interpreter import benchmark: what `store python import` costs and whether an interpreter
started from its store path is as fast as the original.

  cold import     a fresh store, `import_interpreter(store, PREFIX)` (stage, relocate,
                  bytecode, ingest, materialize) of a ~300 MB installation
  repeat import   the same installation again: the unchanged-origin fast path, and a forced
                  full re-import (which must add 0 blobs)
  stdlib start    `python -I -c 'import json, asyncio, decimal'`, wall time of a subprocess,
                  original vs store path, interleaved; and -X importtime's total for the same

Interpreters come from pyenv (PYENV_ROOT / `pyenv root`); the default is the newest 3.12.
Stores live under a temp dir and are removed afterwards. Medians are reported.

    python benches/bench_interpreters.py               # 3 cold imports, 30 start-up runs
    python benches/bench_interpreters.py --quick       # 1 cold import, 10 runs
    python benches/bench_interpreters.py --python PREFIX_OR_EXE
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envstore._core import Store
from envstore.interpreters import import_interpreter
from envstore.interpreters.discover import pyenv_candidates
from envstore.interpreters.fsops import remove_tree
from envstore.interpreters.importer import locate_executable

IMPORTS = "import json, asyncio, decimal"


def default_python() -> Path:
    cands = [c for c in pyenv_candidates() if (c.version_hint or "").startswith("3.12.")]
    cands = cands or [c for c in pyenv_candidates() if (c.version_hint or "").startswith("3.")]
    if not cands:
        sys.exit("no pyenv CPython found; pass --python")
    return cands[-1].executable.parent.parent


def tree_bytes(root: Path, everything: bool = False) -> int:
    total = 0
    for dirpath, dirs, files in os.walk(root):
        if not everything:
            dirs[:] = [d for d in dirs if d not in ("site-packages", "__pycache__")]
        total += sum(os.lstat(os.path.join(dirpath, f)).st_size for f in files)
    return total


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def importtime_total(exe: Path) -> float:
    """Sum of the cumulative microseconds of the top-level imports in -X importtime."""
    err = subprocess.run([str(exe), "-I", "-X", "importtime", "-c", IMPORTS],
                         capture_output=True, text=True, check=True).stderr
    total = 0
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m and not m.group(2).startswith(" "):
            total += int(m.group(1))
    return total / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", type=Path, help="installation prefix or executable (default: pyenv 3.12)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-fsync", dest="fsync", action="store_false",
                    help="skip fsync when publishing blobs (a real store fsyncs)")
    args = ap.parse_args()
    prefix = args.python or default_python()
    exe = locate_executable(prefix)
    cold_rounds, runs = (1, 10) if args.quick else (3, 30)
    work = Path(tempfile.mkdtemp(prefix="envstore-bench-interp-"))
    print(f"interpreter: {exe}  on disk: {tree_bytes(prefix, everything=True) / 2**20:.0f} MiB, "
          f"without site-packages and bytecode caches: {tree_bytes(prefix) / 2**20:.0f} MiB")
    print(f"machine: {os.cpu_count()} CPUs; fsync={'on' if args.fsync else 'off'}")
    try:
        cold, phases = [], []
        for i in range(cold_rounds):
            store = Store(work / f"cold{i}", fsync=args.fsync)
            t = time.perf_counter()
            r = import_interpreter(store, prefix, reuse=False)
            cold.append(time.perf_counter() - t)
            phases.append(r.timings)
            assert r.ingest is not None
            print(f"  cold import {i + 1}: {cold[-1]:.2f} s  ({r.ingest.files} files, "
                  f"{r.ingest.bytes / 2**20:.0f} MiB, {r.ingest.new_blobs} new blobs)")
        store = Store(work / "cold0", fsync=args.fsync)
        fast = []
        for _ in range(5):
            t = time.perf_counter()
            r = import_interpreter(store, prefix)
            fast.append(time.perf_counter() - t)
            assert r.reused
        t = time.perf_counter()
        forced = import_interpreter(store, prefix, reuse=False)
        forced_s = time.perf_counter() - t
        assert forced.ingest is not None
        stored_exe = forced.info.executable

        orig, stored = [], []
        for i in range(runs + 2):  # two untimed warm-ups, interleaved, alternating order
            pair = [(orig, exe), (stored, stored_exe)]
            if i % 2:
                pair.reverse()
            for bucket, e in pair:
                s = wall([str(e), "-I", "-c", IMPORTS])
                if i >= 2:
                    bucket.append(s)
        it_orig = statistics.median(importtime_total(exe) for _ in range(9))
        it_store = statistics.median(importtime_total(stored_exe) for _ in range(9))

        med = statistics.median
        print()
        print(f"cold import (median of {cold_rounds}):        {med(cold):7.2f} s   target < 10 s")
        keys = ["probe", "stage", "relocate", "compile", "ingest", "materialize"]
        print("  phases (median): " + ", ".join(f"{k} {med(p.get(k, 0) for p in phases):.2f}" for k in keys))
        print(f"repeat import, unchanged origin (median 5):  {med(fast) * 1000:7.0f} ms  target < 1 s")
        print(f"repeat import, forced full:                 {forced_s:7.2f} s   new blobs: {forced.ingest.new_blobs}")
        print(f"start + `{IMPORTS}` (median of {runs}):")
        print(f"  original {med(orig) * 1000:6.1f} ms   store {med(stored) * 1000:6.1f} ms   "
              f"ratio store/original {med(stored) / med(orig):.2f}")
        print(f"  -X importtime total: original {it_orig * 1000:6.1f} ms   store {it_store * 1000:6.1f} ms   "
              f"ratio {it_store / it_orig:.2f}")
    finally:
        remove_tree(work)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
