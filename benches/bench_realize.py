"""Realize vs uv, side by side in one run (medians of interleaved rounds; ratios printed).

  1. already realized:   `store realize env.yml`           vs  `uv pip install -r reqs` into a venv that has them
  2. new env, warm parts: `store realize` of a renamed env  vs  `uv venv` + `uv pip install` (warm uv cache)
  3. disk: five envs sharing the set, each with one extra small package: store blobs vs one env

Usage: python benches/bench_realize.py [--set small|datascience] [--rounds N]
Packages come from the index pip is configured with; uv is installed from it into a temp venv.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import EXTRAS, PY, SETS, du_bytes, lock_pins, make_tools_venv, run, store_command, write_env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=sorted(SETS), default="datascience")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    pkgs = SETS[args.set]
    work = Path(tempfile.mkdtemp(prefix="envstore-bench-realize-"))
    try:
        store = work / "store"
        STORE = store_command()
        senv = {**os.environ, "ENVSTORE_ROOT": str(store)}
        uv = str(make_tools_venv(work / "tools", ["uv"]) / "uv")
        uvenv = {**os.environ, "UV_CACHE_DIR": str(work / "uv-cache")}

        base = write_env(work / "base", "base", pkgs)
        t_cold = run([STORE, "realize", str(base)], env=senv)
        reqs = work / "requirements.txt"
        pins = lock_pins(base.parent / "pylock.toml")
        reqs.write_text(pins)
        uv_venv = work / "uv-env"
        run([uv, "venv", "-q", "--python", sys.executable, str(uv_venv)], env=uvenv)
        t_uv_cold = run([uv, "pip", "install", "-q", "--python", str(uv_venv / "bin/python"), "-r", str(reqs)], env=uvenv)

        noop_store, noop_uv, new_store, new_uv = [], [], [], []
        for i in range(args.rounds):
            noop_store.append(run([STORE, "realize", str(base)], env=senv))
            noop_uv.append(run([uv, "pip", "install", "-q", "--python", str(uv_venv / "bin/python"), "-r", str(reqs)], env=uvenv))
            env_i = write_env(work / f"new{i}", f"new{i}", pkgs)
            shutil.copy(base.parent / "pylock.toml", env_i.parent / "pylock.toml")
            # the copied lock was made from an env file with another name; relock is cheap (warm cache)
            new_store.append(run([STORE, "realize", str(env_i)], env=senv))
            venv_i = work / f"uvnew{i}"
            t = run([uv, "venv", "-q", "--python", sys.executable, str(venv_i)], env=uvenv)
            t += run([uv, "pip", "install", "-q", "--python", str(venv_i / "bin/python"), "-r", str(reqs)], env=uvenv)
            new_uv.append(t)

        disk_prefixes = []
        for i, extra in enumerate(EXTRAS):
            out = subprocess.run([STORE, "realize", str(write_env(work / f"disk{i}", f"disk{i}", pkgs + [extra]))],
                                 env=senv, check=True, capture_output=True, text=True).stdout.strip()
            disk_prefixes.append(Path(out))
        one_env = du_bytes(disk_prefixes[0])
        five_envs = du_bytes(*disk_prefixes)
        one_uv = du_bytes(uv_venv)

        def med(xs: list[float]) -> float:
            return statistics.median(xs)

        print(f"\nenvstore bench_realize  set={args.set} ({', '.join(pkgs)})  python {PY}  rounds={args.rounds}")
        print(f"  cold realize (incl. interpreter import, downloads): {t_cold:.2f} s   uv cold install: {t_uv_cold:.2f} s")
        print(f"  {'case':<40}{'envstore':>12}{'uv':>12}{'uv/envstore':>14}")
        rows = [("already realized (p50)", med(noop_store), med(noop_uv)),
                ("new env from known parts (p50)", med(new_store), med(new_uv))]
        for name, a, b in rows:
            print(f"  {name:<40}{a * 1000:>10.1f}ms{b * 1000:>10.1f}ms{b / a:>13.2f}x")
        print(f"  disk: {len(EXTRAS)} envs sharing the set, one extra package each: {five_envs / 1e6:.1f} MB; "
              f"one of them {one_env / 1e6:.1f} MB ({five_envs / one_env:.2f}x); one uv venv {one_uv / 1e6:.1f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
