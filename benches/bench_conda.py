"""Conda environments from known packages: envstore against rattler's own installer
(`rattler.install` from its warm package cache, the installer pixi uses), side by side in one run.

For each set (a tool env of a C library and a program linked to it; a Python env of conda's
`python` made from this machine's CPython, a `noarch: python` package and an extension):
1. New env: the packages are in envstore's store and in rattler's cache already; each round
   makes a new env of another name (`store realize` of a new env file, against a solve plus
   `rattler.install` into a new prefix), both solving from cached repodata, both a fresh
   process, the order alternating.
2. Disk: a second env that has one package more; unique bytes on disk of the store (or of
   rattler's cache plus its prefixes) with one env and with both.

The channel is the tests' (tests/conda_channel.py, built with rattler-build and served as
file://): the tool packages are tiny, so their times are mostly start-up and per-env overhead;
the python package is a real standard library (~2,000 files).

    python benches/bench_conda.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _common import du_bytes as disk  # noqa: E402
from conda_channel import channel_at, in_subprocess  # noqa: E402

RATTLER_INSTALL = """\
import asyncio, os, sys
import rattler
from rattler import Channel, Gateway, solve
channel, cache, prefix, *specs = sys.argv[1:]
async def main():
    records = await solve([Channel(channel)], specs, gateway=Gateway(cache_dir=cache + "/repodata"),
                          platforms=[str(rattler.Platform.current()), "noarch"])
    await rattler.install(records, prefix, cache_dir=cache + "/pkgs", show_progress=False)
asyncio.run(main())
os._exit(0)  # rattler's worker threads can crash interpreter finalization (seen as SIGSEGV)
"""


def store(*args: str, env: dict) -> str:
    proc = subprocess.run(["store", *args], capture_output=True, text=True, env=env, check=True)
    return proc.stdout.strip()


def env_file(directory: Path, name: str, channel: str, specs: list[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    deps = "".join(f"  - {s}\n" for s in specs)
    path = directory / "env.yml"
    path.write_text(f"name: {name}\nchannels:\n  - {channel}\ndependencies:\n{deps}envstore:\n  packages-from: conda\n")
    return path


# name -> (specs of the timed new env, specs of the first disk env, specs of the second: one more package)
SETS = {
    "tool env (demotool, libdemo)": (["demotool"], ["libdemo"], ["demotool"]),
    "python env (conda python, demopy, demoext)": (["python", "demopy", "demoext"], ["python", "demopy"],
                                                   ["python", "demopy", "demoext"]),
}


def rattler_install(channel: str, cache: Path, prefix: Path, specs: list[str], env: dict) -> None:
    subprocess.run([sys.executable, "-c", RATTLER_INSTALL, channel, str(cache), str(prefix), *specs],
                   check=True, env=env)


def bench_set(scratch: Path, channel: str, env: dict, specs: list[str], rounds: int) -> dict[str, list[float]]:
    """New envs of `specs`, both warm: each round a new env of another name, the order alternating."""
    env = dict(env, ENVSTORE_ROOT=str(scratch / "store"))
    cache = scratch / "rattler-cache"
    store("realize", str(env_file(scratch / "warm", "warm", channel, specs)), env=env)
    rattler_install(channel, cache, scratch / "rwarm", specs, env)
    times: dict[str, list[float]] = {"envstore": [], "rattler": []}
    for i in range(rounds):
        d = scratch / f"e{i}"
        f = env_file(d, f"e{i}", channel, specs)
        for who in (["envstore", "rattler"] if i % 2 == 0 else ["rattler", "envstore"]):
            t = time.perf_counter()
            if who == "envstore":
                store("realize", str(f), env=env)
            else:
                rattler_install(channel, cache, d / "rprefix", specs, env)
            times[who].append(time.perf_counter() - t)
        print(f"round {i}: " + ", ".join(f"{k} {v[-1] * 1000:.0f} ms" for k, v in times.items()), file=sys.stderr)
    return times


def bench_disk(scratch: Path, channel: str, env: dict, first: list[str], second: list[str]) -> tuple[int, ...]:
    """Unique bytes on disk with one env, then with a second that has one package more."""
    droot = scratch / "disk-store"
    denv = dict(env, ENVSTORE_ROOT=str(droot))
    store("realize", str(env_file(scratch / "d1", "one", channel, first)), env=denv)
    one_store = disk(droot)
    store("realize", str(env_file(scratch / "d2", "two", channel, second)), env=denv)
    two_store = disk(droot)
    rcache = scratch / "disk-rattler"
    rattler_install(channel, rcache, scratch / "r1", first, env)
    one_r = disk(rcache / "pkgs", scratch / "r1")
    rattler_install(channel, rcache, scratch / "r2", second, env)
    two_r = disk(rcache / "pkgs", scratch / "r1", scratch / "r2")
    return one_store, two_store, one_r, two_r


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-conda-"))
    try:
        in_subprocess("build_channel", scratch / "channel")
        channel = channel_at(scratch / "channel").file_url
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVSTORE_", "CONDA_OVERRIDE_"))}
        env["CONDARC"] = str(scratch / "no-condarc")
        rows = []
        for n, (label, (specs, first, second)) in enumerate(SETS.items()):
            work = scratch / f"set{n}"
            times = bench_set(work, channel, env, specs, args.rounds)
            one_store, two_store, one_r, two_r = bench_disk(work, channel, env, first, second)
            e, r = statistics.median(times["envstore"]), statistics.median(times["rattler"])
            rows += [
                f"| {label}: new env from known packages (median of {args.rounds}) | {e * 1000:.0f} ms "
                f"| {r * 1000:.0f} ms | {e / r:.2f}x |",
                f"| {label}: disk, one env | {one_store / 1024:.0f} KiB | {one_r / 1024:.0f} KiB | |",
                f"| {label}: disk, + an env with one package more | {two_store / 1024:.0f} KiB "
                f"({two_store / one_store:.2f}x one env) | {two_r / 1024:.0f} KiB ({two_r / one_r:.2f}x one env) | |",
            ]
        print("| measure | envstore | rattler.install | ratio |")
        print("| --- | --- | --- | --- |")
        print("\n".join(rows))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
