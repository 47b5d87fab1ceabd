"""Cold and warm resolve of the data-science set: envstore vs `uv pip compile`, side by side in
one run, against the index pip is configured with. Prints medians and ratios.

    python benches/bench_resolve.py [--runs N]

uv is taken from PATH, else installed into a temp venv from that same index."""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from envstore.index.config import resolve_index_config
from envstore.resolve.lock import lock_env
from envstore.resolve.target import TargetPython

REQS = ["numpy", "pandas", "scipy", "matplotlib", "scikit-learn"]


class CacheStore:
    def __init__(self, root: Path) -> None:
        self.root = str(root)


def find_uv(tmp: Path, index: str) -> Path:
    found = shutil.which("uv")
    if found:
        return Path(found)
    venv.create(tmp / "uv-venv", with_pip=True)
    subprocess.run([str(tmp / "uv-venv/bin/python"), "-m", "pip", "install", "-q", "--index-url", index, "uv"], check=True)
    return tmp / "uv-venv/bin/uv"


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    config = resolve_index_config()
    index = config.index_urls[0]
    target = TargetPython.from_executable(sys.executable)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        uv = find_uv(tmp, index)
        env = tmp / "env.yml"
        env.write_text("name: ds\ndependencies:\n" + "".join(f"  - {r}\n" for r in REQS))
        req_in = tmp / "req.in"
        req_in.write_text("\n".join(REQS) + "\n")

        def ours(cache: Path) -> None:
            (tmp / "pylock.toml").unlink(missing_ok=True)
            lock_env(env, CacheStore(cache), config, target=target)

        def theirs(cache: Path) -> None:
            subprocess.run([str(uv), "pip", "compile", "-q", "--python", sys.executable, "--index-url", index,
                            "--only-binary", ":all:", "--cache-dir", str(cache), "-o", str(tmp / "uv.txt"), str(req_in)],
                           check=True)

        results = {}
        for label, fn in (("envstore", ours), ("uv", theirs)):
            cold = [timed(lambda: fn(tmp / f"{label}-cold-{i}")) for i in range(max(1, args.runs // 2))]
            warm_cache = tmp / f"{label}-warm"
            fn(warm_cache)
            warm = [timed(lambda: fn(warm_cache)) for _ in range(args.runs)]
            results[label] = (statistics.median(cold), statistics.median(warm))
        for label, (cold, warm) in results.items():
            print(f"{label:9s} cold median {cold * 1000:8.0f} ms   warm median {warm * 1000:8.0f} ms")
        e, u = results["envstore"], results["uv"]
        print(f"ratio envstore/uv: cold {e[0] / u[0]:.2f}x, warm {e[1] / u[1]:.2f}x")


if __name__ == "__main__":
    main()
