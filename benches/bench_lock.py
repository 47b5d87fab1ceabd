#!/usr/bin/env python3
"""`store lock` of the data-science set, single-target and universal, against `uv pip compile`
and `uv pip compile --universal`, warm caches, side by side in one run (issue 17's target:
each at most 1.5x uv). Prints medians and ratios.

    python benches/bench_lock.py [--rounds N] [--pythons 3.11,3.12] [--platforms all]

Both tools get the index pip is configured with and wheels only. Three envstore locks: the
single-target one declares this platform and python (`envstore: {platforms: [this], python:
[X.Y]}`, against `uv pip compile` for this interpreter); the universal one declares --platforms x
--pythons; the default one is a plain env file with python=X.Y, which `store lock` locks for
every platform. The universal locks face uv's --universal with --python-version set to the
lowest of their pythons (uv's universal lock is for every platform).
Each `store lock` starts from no pylock.toml, so no earlier pin is reused; the HTTP caches are
warmed by one untimed run each. uv is taken from PATH (the test extra installs it), else from a
tools venv made with pip."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from envstore.resolve.universal import host_platform

from _common import PY, SETS, interleave, log, make_tools_venv, median, run, store_command, uv_index_args


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pythons", default=PY, help="comma-separated X.Y the universal lock declares")
    ap.add_argument("--platforms", default="all", help="comma-separated platforms, or all")
    args = ap.parse_args()
    pythons = args.pythons.split(",")
    platforms = ("linux-x86_64,linux-aarch64,macos-x86_64,macos-arm64,windows-x86_64"
                 if args.platforms == "all" else args.platforms).split(",")
    pkgs = SETS["datascience"]
    store = store_command()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        uv = shutil.which("uv") or str(make_tools_venv(tmp / "tools", ["uv"]) / "uv")
        uv_args = [*uv_index_args(), "--only-binary", ":all:", "--cache-dir", str(tmp / "uv-cache"), "-q"]
        req_in = tmp / "req.in"
        req_in.write_text("\n".join(pkgs) + "\n")
        single = tmp / "single"
        single.mkdir()
        (single / "env.yml").write_text(f"name: ds\nenvstore:\n  platforms: [{host_platform()}]\n  python: ['{PY}']\n"
                                        "dependencies:\n  - pip:\n" + "".join(f"      - {p}\n" for p in pkgs))
        default = tmp / "default"
        default.mkdir()
        (default / "env.yml").write_text(f"name: ds\ndependencies:\n  - python={PY}\n  - pip:\n"
                                         + "".join(f"      - {p}\n" for p in pkgs))
        universal = tmp / "universal"
        universal.mkdir()
        (universal / "env.yml").write_text(
            "name: ds\nenvstore:\n  platforms: [" + ", ".join(platforms) + "]\n  python: ["
            + ", ".join(f"'{p}'" for p in pythons) + "]\ndependencies:\n  - pip:\n"
            + "".join(f"      - {p}\n" for p in pkgs))
        root = tmp / "store"

        def ours(where: Path):  # type: ignore[no-untyped-def]
            def go(_r: int) -> float:
                (where / "pylock.toml").unlink(missing_ok=True)
                return run([store, "--store", str(root), "lock"], cwd=where)
            return go

        def theirs(*extra: str):  # type: ignore[no-untyped-def]
            def go(_r: int) -> float:
                return run([uv, "pip", "compile", *uv_args, *extra, "-o", str(tmp / "uv.txt"), str(req_in)])
            return go

        contenders = {
            "store lock": ours(single),
            "uv pip compile": theirs("--python", sys.executable),
            "store lock (universal)": ours(universal),
            "uv pip compile --universal": theirs("--universal", "--python-version", min(pythons, key=lambda v: tuple(map(int, v.split("."))))),
            "store lock (default)": ours(default),
            f"uv --universal -p {PY}": theirs("--universal", "--python-version", PY),
        }
        log("warming caches (untimed) ...")
        for fn in contenders.values():
            fn(-1)
        times = interleave("lock", contenders, args.rounds)
    med = {n: median(v) for n, v in times.items()}
    print(f"data-science set ({', '.join(pkgs)}), warm caches, median of {args.rounds}; "
          f"universal: {len(platforms)} platforms x python {', '.join(pythons)}")
    for name, m in med.items():
        print(f"  {name:28s} {m * 1000:8.0f} ms")
    print(f"ratio single-target   envstore/uv: {med['store lock'] / med['uv pip compile']:.2f}x")
    print(f"ratio universal       envstore/uv: {med['store lock (universal)'] / med['uv pip compile --universal']:.2f}x")
    print(f"ratio default ({PY}, 5 platforms) envstore/uv: {med['store lock (default)'] / med[f'uv --universal -p {PY}']:.2f}x")


if __name__ == "__main__":
    main()
