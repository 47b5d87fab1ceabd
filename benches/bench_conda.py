"""Conda environments from known packages: envstore against rattler's own installer
(`rattler.install` from its warm package cache, the installer pixi uses), side by side in one run.

1. New env: the packages are in envstore's store and in rattler's cache already; each round
   makes a new env of another name (`store realize` of a new env file, against a solve plus
   `rattler.install` into a new prefix), both solving from cached repodata, both a fresh
   process, the order alternating.
2. Disk: a second env that differs by one package; unique bytes on disk of the store (or of
   rattler's cache plus its prefixes) with one env and with both.

The channel is the tests' (tests/conda_channel.py, built with rattler-build and served as
file://), so the packages are tiny: the times are mostly start-up and per-env overhead.

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
        root = scratch / "store"
        env["ENVSTORE_ROOT"] = str(root)
        cache = scratch / "rattler-cache"
        specs = ["demotool"]

        # warm both: the store holds the packages, rattler's cache holds them
        store("realize", str(env_file(scratch / "warm", "warm", channel, specs)), env=env)
        subprocess.run([sys.executable, "-c", RATTLER_INSTALL, channel, str(cache), str(scratch / "rwarm"), *specs],
                       check=True, env=env)

        times: dict[str, list[float]] = {"envstore": [], "rattler": []}
        for i in range(args.rounds):
            # a new env of another name: both solve (from cached repodata) and install known packages
            d = scratch / f"e{i}"
            f = env_file(d, f"e{i}", channel, specs)
            order = ["envstore", "rattler"] if i % 2 == 0 else ["rattler", "envstore"]
            for who in order:
                t = time.perf_counter()
                if who == "envstore":
                    store("realize", str(f), env=env)
                else:
                    subprocess.run([sys.executable, "-c", RATTLER_INSTALL, channel, str(cache), str(d / "rprefix"),
                                    *specs], check=True, env=env)
                times[who].append(time.perf_counter() - t)
            print(f"round {i}: " + ", ".join(f"{k} {v[-1] * 1000:.0f} ms" for k, v in times.items()), file=sys.stderr)

        # disk: one env, then a second that differs by one package (libdemo alone vs demotool + libdemo)
        droot = scratch / "disk-store"
        denv = dict(env, ENVSTORE_ROOT=str(droot))
        store("realize", str(env_file(scratch / "d1", "one", channel, ["libdemo"])), env=denv)
        one_store = disk(droot)
        store("realize", str(env_file(scratch / "d2", "two", channel, ["demotool"])), env=denv)
        two_store = disk(droot)
        rcache = scratch / "disk-rattler"
        subprocess.run([sys.executable, "-c", RATTLER_INSTALL, channel, str(rcache), str(scratch / "r1"), "libdemo"],
                       check=True, env=env)
        one_r = disk(rcache / "pkgs", scratch / "r1")
        subprocess.run([sys.executable, "-c", RATTLER_INSTALL, channel, str(rcache), str(scratch / "r2"), "demotool"],
                       check=True, env=env)
        two_r = disk(rcache / "pkgs", scratch / "r1", scratch / "r2")

        e, r = statistics.median(times["envstore"]), statistics.median(times["rattler"])
        print("| measure | envstore | rattler.install | ratio |")
        print("| --- | --- | --- | --- |")
        print(f"| new env from known packages (median of {args.rounds}) | {e * 1000:.0f} ms | {r * 1000:.0f} ms "
              f"| {e / r:.2f}x |")
        print(f"| disk, one env | {one_store / 1024:.0f} KiB | {one_r / 1024:.0f} KiB | |")
        print(f"| disk, + an env differing by one package | {two_store / 1024:.0f} KiB "
              f"({two_store / one_store:.2f}x one env) | {two_r / 1024:.0f} KiB ({two_r / one_r:.2f}x one env) | |")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
