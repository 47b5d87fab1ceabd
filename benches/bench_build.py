#!/usr/bin/env python3
"""Builds from source (issue 16): an env of three packages the index has only as sdists
(docopt, sgmllib3k, pyperclip), realized by envstore against `uv venv` + `uv pip install` in the
same run, cold (empty caches: every sdist downloaded, every build environment made, every wheel
built) and warm (a second, new environment of the same packages: uv reuses its built wheels,
envstore its built-wheel artifacts). Prints medians and ratios (issue 16's targets: cold at most
1.2x uv, warm at most 1.0x).

    python benches/bench_build.py [--rounds N]

envstore compiles bytecode into every environment, so uv is timed with --compile-bytecode too,
and without it for reference. The interpreter is imported into each cold store untimed (uv uses
this interpreter as it is). Both tools get the index pip is configured with."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import PY, interleave, log, make_tools_venv, median, rmtree, run, store_command, uv_index_args, write_env

PACKAGES = ["docopt==0.6.2", "sgmllib3k==1.0.0", "pyperclip==1.9.0"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    store = store_command()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        uv = str(make_tools_venv(tmp / "tools", ["uv"]) / "uv")
        req = tmp / "req.txt"
        req.write_text("\n".join(PACKAGES) + "\n")
        env = {**os.environ, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"}
        seq = iter(range(10**6))

        def ours(cold: bool):  # type: ignore[no-untyped-def]
            root = tmp / "store-warm"

            def go(r: int) -> float:
                nonlocal root
                if cold:
                    root = tmp / f"store-cold-{r}"
                    rmtree(root)
                    subprocess.run([store, "--store", str(root), "python", "import", sys.executable], check=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                env_file = write_env(tmp / f"env-{next(seq)}", f"b{r}", PACKAGES, PY)
                return run([store, "--store", str(root), "realize", "--no-out-link", str(env_file)])
            return go

        def theirs(cold: bool, compile_bytecode: bool):  # type: ignore[no-untyped-def]
            def go(r: int) -> float:
                cache = tmp / (f"uv-cache-cold-{compile_bytecode}-{r}" if cold else f"uv-cache-warm-{compile_bytecode}")
                if cold:
                    rmtree(cache)
                venv = tmp / f"venv-{next(seq)}"
                flags = ["--cache-dir", str(cache), *uv_index_args()]
                return (run([uv, "venv", "-q", "--python", sys.executable, str(venv)], env=env)
                        + run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *flags,
                               *(["--compile-bytecode"] if compile_bytecode else []), "-r", str(req)], env=env))
            return go

        warm = {"store realize (warm)": ours(False), "uv --compile-bytecode (warm)": theirs(False, True),
                "uv (warm)": theirs(False, False)}
        log("warming the warm contenders' caches (untimed) ...")
        for fn in warm.values():
            fn(-1)
        cold = {"store realize (cold)": ours(True), "uv --compile-bytecode (cold)": theirs(True, True),
                "uv (cold)": theirs(True, False)}
        times = interleave("cold", cold, args.rounds)
        times.update(interleave("warm", warm, args.rounds))
    med = {n: median(v) for n, v in times.items()}
    print(f"three sdist-only packages ({', '.join(PACKAGES)}), python {PY}, median of {args.rounds}")
    for name, m in med.items():
        print(f"  {name:32s} {m * 1000:8.0f} ms")
    for when in ("cold", "warm"):
        ours_t = med[f"store realize ({when})"]
        print(f"ratio {when}: envstore/uv --compile-bytecode {ours_t / med[f'uv --compile-bytecode ({when})']:.2f}x, "
              f"envstore/uv {ours_t / med[f'uv ({when})']:.2f}x")


if __name__ == "__main__":
    main()
