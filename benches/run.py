#!/usr/bin/env python3
"""Every comparison in one run: envstore vs uv, pip + venv and pyenv's shim, side by side.

For each package set (see SETS in _common.py):
  1. cold realize: empty store and caches (fresh store, UV_CACHE_DIR, PIP_CACHE_DIR), from the
     top-level names: `store realize` (with, and without, importing the interpreter into the store)
     vs `uv venv` + `uv pip install` (with and without --compile-bytecode) vs `python -m venv` +
     `pip install`
  2. new env whose parts are all in the store / caches (pinned from envstore's lock): `store
     realize` vs uv (--link-mode hardlink) vs pip, "installed" and "ready to import" (bytecode)
  3. realize of an env that already exists vs uv's and pip's no-op install
  4. first import of the set in each env (a fresh process), and the repeat import
  5. disk for 1, 5 and 20 envs of the set: store dir vs uv venvs + cache vs pip venvs (+ cache),
     every inode counted once across all the dirs of a contender
  6. gc of the store of 20 envs after removing 10 roots (time, bytes freed) vs `rm -rf` of 10 venvs
then shim dispatch vs direct exec and pyenv's shim (bench_shim.py's measurement).

Contenders take turns within each round, the order rotating; medians are reported. Per-round
times go to stderr; the Markdown table goes to stdout and to benches/results/results.md, the chart
to benches/results/results.png (matplotlib, installed into the run's own tools venv with uv).

    python benches/run.py            # both sets; 3 cold, 5 warm rounds; disk at 1, 5, 20 envs
    python benches/run.py --quick    # small set; 2 cold, 3 warm rounds; disk at 1 and 5 envs

Packages come from the index pip is configured with (uv gets the same options); scratch lives
in one directory under $TMPDIR, removed on exit (SIGTERM included).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from _common import (IMPORTS, SETS, du_bytes, interleave, lock_pins, log, make_tools_venv, median, rmtree, run,
                     run_out, store_command, uv_index_args, write_env)
from bench_shim import shim_samples

HERE = Path(__file__).resolve().parent
PYVER = platform.python_version()
SCRUB = ("ENVSTORE_", "UV_", "VIRTUAL_ENV", "PIP_CACHE_DIR", "PYTHONDONTWRITEBYTECODE", "MPLCONFIGDIR", "CONDA_")


@dataclass
class Ctx:
    work: Path
    uv: str
    uv_index: list[str]
    args: argparse.Namespace
    store: str = field(default_factory=store_command)
    base_env: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        return {**self.base_env, **extra}

    def realize(self, store: Path, env_file: Path) -> tuple[float, Path]:
        t, out = run_out([self.store, "realize", str(env_file)], env=self.env(ENVSTORE_ROOT=str(store)))
        return t, Path(out)

    def import_python(self, store: Path) -> None:
        run_out([self.store, "python", "import", sys.prefix], env=self.env(ENVSTORE_ROOT=str(store)))

    def uv_make(self, venv: Path, reqs: Path, cache: Path, compile_bytecode: bool) -> float:
        env = self.env(UV_CACHE_DIR=str(cache))
        t = run([self.uv, "venv", "-q", "--python", sys.executable, str(venv)], env=env)
        return t + run([self.uv, "pip", "install", "-q", "--link-mode", "hardlink", *self.uv_index,
                        *(["--compile-bytecode"] if compile_bytecode else []),
                        "--python", str(venv / "bin" / "python"), "-r", str(reqs)], env=env)

    def pip_make(self, venv: Path, reqs: Path, cache: Path, compile_bytecode: bool,
                 wheelhouse: Path | None = None) -> float:
        env = self.env(PIP_CACHE_DIR=str(cache))
        local = ["--no-index", "--find-links", str(wheelhouse)] if wheelhouse else []
        t = run([sys.executable, "-m", "venv", str(venv)], env=env)
        return t + run([str(venv / "bin" / "pip"), "install", "-q", *([] if compile_bytecode else ["--no-compile"]),
                        *local, "-r", str(reqs)], env=env)


def stats(xs: list[float]) -> dict:
    return {"median": median(xs), "min": min(xs), "max": max(xs), "n": len(xs), "samples": xs}


def bench_set(ctx: Ctx, set_name: str) -> dict:
    a = ctx.args
    pkgs = SETS[set_name]
    d = ctx.work / set_name
    d.mkdir()
    reqs_in = d / "requirements.in"
    reqs_in.write_text("".join(p + "\n" for p in pkgs))
    res: dict = {"packages": pkgs}
    last = a.cold_rounds - 1
    kept: dict[str, Path] = {}

    # ---- 1. cold: every contender starts from nothing but the interpreter on this machine
    def envstore_cold(preimport: bool):
        tag = "pre" if preimport else "full"

        def fn(r: int) -> float:
            store, proj = d / f"cold-store-{tag}-{r}", d / f"cold-proj-{tag}-{r}"
            env_file = write_env(proj, "cold", pkgs, python=PYVER)
            if preimport:
                ctx.import_python(store)  # untimed
            t, _prefix = ctx.realize(store, env_file)
            if preimport and r == last:
                kept.update(store=store, proj=proj)
            else:
                rmtree(store)
                rmtree(proj)
            return t
        return fn

    def peer_cold(kind: str, compile_bytecode: bool):
        tag = f"{kind}-{'bc' if compile_bytecode else 'nobc'}"

        def fn(r: int) -> float:
            venv, cache = d / f"cold-{tag}-{r}", d / f"cold-{tag}-cache-{r}"
            make = ctx.uv_make if kind == "uv" else ctx.pip_make
            t = make(venv, reqs_in, cache, compile_bytecode)
            if r == last and compile_bytecode == (kind == "pip"):
                kept.update({f"{kind}-venv": venv, f"{kind}-cache": cache})
            else:
                rmtree(venv)
                rmtree(cache)
            return t
        return fn

    log(f"[{set_name}] 1. cold realize, {a.cold_rounds} rounds")
    cold = interleave(f"{set_name} cold", {
        "envstore, incl. interpreter import": envstore_cold(False),
        "envstore, interpreter pre-imported": envstore_cold(True),
        "uv venv + uv pip install": peer_cold("uv", False),
        "uv ... --compile-bytecode": peer_cold("uv", True),
        "python -m venv + pip install": peer_cold("pip", True),
    }, a.cold_rounds)
    res["cold"] = {k: stats(v) for k, v in cold.items()}

    # ---- untimed: a warm store with the set realized, warm uv and pip caches, base envs
    log(f"[{set_name}] preparing warm store and caches (untimed)")
    warm_store = d / "warm-store"
    ctx.import_python(warm_store)
    base_env = write_env(d / "base", "base", pkgs, python=PYVER)
    ctx.realize(warm_store, base_env)
    lock = base_env.parent / "pylock.toml"
    reqs = d / "requirements.txt"
    reqs.write_text(lock_pins(lock))
    res["locked_packages"] = len(reqs.read_text().splitlines())
    uv_cache, pip_cache = d / "uv-cache", d / "pip-cache"
    ctx.uv_make(d / "uv-base", reqs, uv_cache, False)
    ctx.pip_make(d / "pip-base", reqs, pip_cache, True)
    # pip's HTTP cache only keeps responses that carry caching headers; where the index sends none
    # it stays empty and a "warm" pip downloads again. Its warm runs use a local wheel directory.
    wheelhouse = d / "wheelhouse"
    run([str(d / "pip-base" / "bin" / "pip"), "download", "-q", "-d", str(wheelhouse), "-r", str(reqs)],
        env=ctx.env(PIP_CACHE_DIR=str(pip_cache)))
    res["pip_cache_bytes"] = du_bytes(pip_cache)
    imports = IMPORTS[set_name]
    run([str(d / "pip-base" / "bin" / "python"), "-c", imports], env=ctx.env())  # matplotlib's font cache

    # ---- 2. new env from known parts, and 4. its first import
    made: dict[str, Path] = {}  # contender -> the python of the env it made last
    ours = "envstore (bytecode in the store)"

    def warm_envstore(r: int) -> float:
        env_file = write_env(d / f"new{r}", f"new{r}", pkgs, python=PYVER)
        shutil.copy(lock, env_file.parent / "pylock.toml")
        t, prefix = ctx.realize(warm_store, env_file)
        made[ours] = prefix / "bin" / "python"
        return t

    def warm_peer(name: str, compile_bytecode: bool):
        kind = "uv" if name.startswith("uv") else "pip"

        def fn(r: int) -> float:
            venv = d / f"new-{kind}-{int(compile_bytecode)}-{r}"
            if kind == "uv":
                t = ctx.uv_make(venv, reqs, uv_cache, compile_bytecode)
            else:
                t = ctx.pip_make(venv, reqs, pip_cache, compile_bytecode, wheelhouse)
            made[name] = venv / "bin" / "python"
            return t
        return fn

    warm_fns = {ours: warm_envstore}
    for name, bc in (("uv, hardlink (installed)", False), ("uv, hardlink, --compile-bytecode (ready)", True),
                     ("pip --no-compile, wheel dir (installed)", False), ("pip, wheel dir (ready: compiles by default)", True)):
        warm_fns[name] = warm_peer(name, bc)
    names = list(warm_fns)
    first: dict[str, list[float]] = {k: [] for k in names}
    previous: list[Path] = []

    def time_import(name: str) -> float:
        return run([str(made[name]), "-c", imports], env=ctx.env())

    def after_warm_round(r: int) -> None:
        k = r % len(names)
        for name in names[k:] + names[:k]:
            first[name].append(time_import(name))
        log(f"  {set_name} first import round {r + 1}: " + "  ".join(f"{n}={first[n][-1]:.2f}s" for n in names))
        for p in previous:  # keep only the last round's venvs (pip's are full copies)
            rmtree(p)
        previous[:] = [made[n].parent.parent for n in names[1:]]

    log(f"[{set_name}] 2. new env from known parts, {a.warm_rounds} rounds")
    warm = interleave(f"{set_name} warm", warm_fns, a.warm_rounds, after_round=after_warm_round)
    res["warm"] = {k: stats(v) for k, v in warm.items()}
    res["first_import"] = {k: stats(v) for k, v in first.items()}

    log(f"[{set_name}] 4. repeat import, {a.import_runs} runs")
    repeat = interleave(f"{set_name} import", {n: (lambda r, n=n: time_import(n)) for n in names}, a.import_runs)
    res["repeat_import"] = {k: stats(v) for k, v in repeat.items()}
    for p in previous:
        rmtree(p)

    # ---- 3. the env exists already
    log(f"[{set_name}] 3. existing env, {a.noop_rounds} rounds")
    uv_env = ctx.env(UV_CACHE_DIR=str(uv_cache))
    # The `store` shim answers an unchanged realize before Python starts (front_door.rs).
    shim_store = Path(run_out([ctx.store, "shims", "install"], env=ctx.env(ENVSTORE_ROOT=str(warm_store)))[1]) / "store"
    noop = interleave(f"{set_name} no-op", {
        "envstore: store realize": lambda r: ctx.realize(warm_store, base_env)[0],
        "envstore: store realize, the shim's native front door": lambda r: run_out(
            [str(shim_store), "realize", str(base_env)], env=ctx.env(ENVSTORE_ROOT=str(warm_store)))[0],
        "uv pip install (no-op)": lambda r: run(
            [ctx.uv, "pip", "install", "-q", "--link-mode", "hardlink", *ctx.uv_index,
             "--python", str(d / "uv-base" / "bin" / "python"), "-r", str(reqs)], env=uv_env),
        "pip install, wheel dir (no-op)": lambda r: run(
            [str(d / "pip-base" / "bin" / "pip"), "install", "-q", "--no-index", "--find-links", str(wheelhouse),
             "-r", str(reqs)],
            env=ctx.env(PIP_CACHE_DIR=str(pip_cache))),
    }, a.noop_rounds, unit="ms")
    res["noop"] = {k: stats(v) for k, v in noop.items()}
    rmtree(warm_store)

    # ---- 5. disk, then 6. gc — starting from the last cold round's store, uv cache and pip cache
    kept["wheelhouse"] = wheelhouse
    res["disk"] = bench_disk(ctx, d, pkgs, reqs, kept)
    res["gc"] = bench_gc(ctx, d, kept)
    return res


def bench_disk(ctx: Ctx, d: Path, pkgs: list[str], reqs: Path, kept: dict[str, Path]) -> list[dict]:
    store = kept["store"]
    projs, uv_venvs, pip_venvs = [kept["proj"]], [kept["uv-venv"]], [kept["pip-venv"]]
    disk = d / "disk"
    rows = []
    for n in ctx.args.disk:
        log(f"  disk: growing to {n} envs each")
        while len(projs) < n:
            i = len(projs)
            env_file = write_env(disk / f"proj{i}", f"disk{i}", pkgs, python=PYVER)
            shutil.copy(kept["proj"] / "pylock.toml", env_file.parent / "pylock.toml")
            ctx.realize(store, env_file)
            projs.append(env_file.parent)
            uv_venvs.append(disk / f"uv{i}")
            ctx.uv_make(uv_venvs[-1], reqs, kept["uv-cache"], False)
            pip_venvs.append(disk / f"pip{i}")
            ctx.pip_make(pip_venvs[-1], reqs, kept["pip-cache"], True, kept["wheelhouse"])
        row = {
            "envs": n,
            "envstore store": du_bytes(store),
            "envstore store without its interpreter": du_bytes(store, exclude=(store / "python",)),
            "uv venvs + uv cache": du_bytes(*uv_venvs, kept["uv-cache"]),
            "uv venvs alone": du_bytes(*uv_venvs),
            "pip venvs": du_bytes(*pip_venvs),
            "pip venvs + wheel dir": du_bytes(*pip_venvs, kept["wheelhouse"]),
        }
        log("  " + "  ".join(f"{k}={v / 1e6:.1f}MB" if k != "envs" else f"{v} envs" for k, v in row.items()))
        rows.append(row)
    kept.update(projs=projs, uv_venvs=uv_venvs, pip_venvs=pip_venvs)  # type: ignore[arg-type]
    return rows


def bench_gc(ctx: Ctx, d: Path, kept: dict) -> dict:
    store, projs = kept["store"], kept["projs"]
    drop = projs[1:1 + len(projs) // 2]
    env = ctx.env(ENVSTORE_ROOT=str(store))
    times, freed = [], []
    for r in range(ctx.args.gc_rounds):
        if r:  # bring the dropped envs back (untimed)
            for p in drop:
                ctx.realize(store, p / "env.yml")
        for p in drop:
            rmtree(p / ".envstore")
        before = du_bytes(store)
        times.append(run([ctx.store, "gc"], env=env))
        freed.append(before - du_bytes(store))
        log(f"  gc round {r + 1}/{ctx.args.gc_rounds}: {len(projs)} envs, {len(drop)} roots removed: "
            f"{times[-1]:.2f}s, freed {freed[-1] / 1e6:.1f}MB (load {os.getloadavg()[0]:.2f})")
    out = {"envs": len(projs), "removed": len(drop),
           "envstore: store gc": {**stats(times), "freed": median(freed)}}
    for kind in ("uv", "pip"):
        venvs = kept[f"{kind}_venvs"]
        everything = (*venvs, kept["uv-cache" if kind == "uv" else "wheelhouse"])
        before = du_bytes(*everything)
        t = run(["rm", "-rf", *map(str, venvs[1:1 + len(drop)])])
        out[f"{kind}: rm -rf {len(drop)} venvs"] = {**stats([t]), "freed": before - du_bytes(*everything)}
    return out


def bench_shim(quick: bool) -> dict:
    log("shim dispatch (bench_shim.py)")
    out = {}
    for title, samples in shim_samples(300 if quick else 2000, 40 if quick else 200):
        title = re.sub(r" \(/[^)]*\)", "", title)  # no paths of this machine in the results
        base = median(samples["direct exec"])
        out[title] = {k: {"median_ms": median(v) / 1e6, "over_ms": (median(v) - base) / 1e6, "n": len(v)}
                      for k, v in samples.items()}
    return out


# ------------------------------------------------------------------------------------------ report


def machine(load_start: tuple[float, ...], load_end: tuple[float, ...], versions: dict[str, str]) -> dict:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")), "0")
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": os.cpu_count(), "memory_gib": int(mem) / 2**20, "kernel": f"{platform.system()} {platform.release()}",
            "load_start": load_start, "load_end": load_end, "versions": versions}


def fmt_s(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def fmt_b(x: float) -> str:
    return f"{x / 2**20:,.1f} MiB" if x < 2**30 else f"{x / 2**30:,.2f} GiB"


def timing_rows(section: str, data: dict, ref: str) -> list[str]:
    out = []
    for name, s in data.items():
        ratio = s["median"] / data[ref]["median"]
        out.append(f"| {section} | {name} | **{fmt_s(s['median'])}** | {fmt_s(s['min'])} – {fmt_s(s['max'])} "
                   f"| {s['n']} | {ratio:.2f}× |")
        section = ""
    return out


def render(results: dict) -> str:
    m = results["machine"]
    v = m["versions"]
    a = results["args"]
    la = " / ".join(f"{x:.2f}" for x in m["load_start"])
    lb = " / ".join(f"{x:.2f}" for x in m["load_end"])
    w = [f"# envstore benchmarks ({'quick' if a['quick'] else 'full'} run)", "",
         f"- date: {m['date']}; command: `python benches/run.py{' --quick' if a['quick'] else ''}`",
         f"- machine: {m['nproc']} CPUs (nproc), {m['memory_gib']:.1f} GiB memory, {m['kernel']}",
         f"- load average (1 / 5 / 15 min): {la} at start, {lb} at end (a shared machine: quote medians)",
         "- versions: " + ", ".join(f"{k} {x}" for k, x in v.items()),
         f"- rounds: cold {a['cold_rounds']}, new env {a['warm_rounds']}, existing env {a['noop_rounds']}, "
         f"repeat import {a['import_runs']}, gc {a['gc_rounds']}; disk at {', '.join(map(str, a['disk']))} envs",
         "",
         "Contenders take turns within each round, the order rotating from round to round. **bold** = median; "
         "range = fastest – slowest round; × = this row's median ÷ the section's envstore reference "
         "(marked ◆; above 1 means envstore's reference is faster). uv always gets `--link-mode hardlink` and the "
         "index options pip is configured with; pip is the one `python -m venv` bundles. Nothing is shared "
         "between contenders: each has its own store or cache.", "",
         "1. Cold: empty store and caches every round (fresh store, `UV_CACHE_DIR`, `PIP_CACHE_DIR`), from the "
         "top-level names: each contender resolves, downloads and installs. envstore also compiles the "
         "bytecode of every wheel; its first row also imports the interpreter into the store (and compiles "
         "that bytecode), the ◆ row ran `store python import` untimed first. uv compiles only with "
         "`--compile-bytecode`; pip compiles by default.",
         "2. New env, known parts: another name, the same lock, every part in the store; uv from its warm cache "
         "(`--link-mode hardlink`) with the lock's `name==version` pins. \"installed\" = files in place; "
         "\"ready\" = bytecode too. pip's HTTP cache keeps only responses that carry caching headers and the "
         "index as reached from here sends none, so its cache stays empty; pip installs from a local directory "
         "of the same wheels (`pip download`, untimed) with `--no-index --find-links`: the best a warm pip can do.",
         "3. Env exists: `store realize` of the env just realized vs `uv pip install` / `pip install` of the same "
         "pins into a venv that has them.",
         "4. Import: `python -c \"import …\"` of the set in a fresh process in each env of case 2: (a) right after "
         "it was made (where nothing compiled bytecode, this import does), median over the rounds of case 2; "
         "(b) again, in the last round's envs.",
         "5. Disk of N envs of the set (the last cold round's store, uv cache and pip venv, grown with new envs "
         "as in case 2), each inode counted once across all of a contender's directories (as one `du -s` of "
         "them together). The venvs use the interpreter where it is; the store keeps a copy of its own, hence "
         "the column without it. pip's column adds the wheel directory of case 2.",
         "6. gc: the out-links of half of those envs removed, then `store gc`; for the peers, `rm -rf` of as "
         "many venvs.", ""]
    for set_name, r in results["sets"].items():
        w += [f"## {set_name} set: {', '.join(r['packages'])} ({r['locked_packages']} packages locked)", "",
              "| case | contender | median | range | n | × |", "| --- | --- | --- | --- | --- | --- |"]
        cold = {(f"{k} ◆" if k.endswith("pre-imported") else k): x for k, x in r["cold"].items()}
        w += timing_rows("1. cold", cold, "envstore, interpreter pre-imported ◆")
        for key, label in (("warm", "2. new env, known parts"), ("noop", "3. env exists"),
                           ("first_import", "4a. first import"), ("repeat_import", "4b. repeat import")):
            rows = {(f"{k} ◆" if k.startswith("envstore") else k): x for k, x in r[key].items()}
            w += timing_rows(label, rows, next(k for k in rows if k.endswith("◆")))
        w += ["", f"Case 4 runs `python -c \"{IMPORTS[set_name]}\"`. pip's HTTP cache held "
              f"{fmt_b(r['pip_cache_bytes'])} after a full install (note 2).", "", "5. Disk", ""]
        cols = [k for k in r["disk"][0] if k != "envs"]
        w += ["| envs | " + " | ".join(cols) + " | uv + cache ÷ envstore without interpreter "
              "| pip ÷ envstore without interpreter |", "| --- " * (len(cols) + 3) + "|"]
        for row in r["disk"]:
            ref_b = row["envstore store without its interpreter"]
            w.append(f"| {row['envs']} | " + " | ".join(fmt_b(row[c]) for c in cols)
                     + f" | {row['uv venvs + uv cache'] / ref_b:.2f}× | {row['pip venvs'] / ref_b:.2f}× |")
        g = r["gc"]
        w += ["", f"6. gc: collecting {g['removed']} of {g['envs']} envs (their roots removed)", "",
              "| contender | median | n | bytes freed |", "| --- | --- | --- | --- |"]
        for name, s in g.items():
            if isinstance(s, dict):
                w.append(f"| {name} | {fmt_s(s['median'])} | {s['n']} | {fmt_b(s['freed'])} |")
        w.append("")
    w += ["## shim dispatch (bench_shim.py)", "", "| case | p50 | over direct exec | n |", "| --- | --- | --- | --- |"]
    for title, cases in results["shim"].items():
        w.append(f"| **{title}** | | | |")
        for name, s in cases.items():
            w.append(f"| {name} | {s['median_ms']:.3f} ms | {s['over_ms']:+.3f} ms | {s['n']} |")
    return "\n".join(w) + "\n"


def versions(ctx: Ctx) -> dict[str, str]:
    def out(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, env=ctx.env()).stdout.strip()
        except OSError:
            return "?"
    pip_dir = ctx.work / "pip-version"
    subprocess.run([sys.executable, "-m", "venv", str(pip_dir)], check=True)
    v = {"envstore": out([ctx.store, "--version"]).split()[-1],
         "uv": out([ctx.uv, "--version"]).split()[1],
         "pip": out([str(pip_dir / "bin" / "pip"), "--version"]).split()[1],
         "CPython": PYVER}
    if shutil.which("pyenv"):
        v["pyenv"] = out(["pyenv", "--version"]).split()[-1]
    rmtree(pip_dir)
    return v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small set, fewer rounds, disk at 1 and 5 envs")
    ap.add_argument("--sets", nargs="+", choices=sorted(SETS), help="default: both (small only with --quick)")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="where results.md and results.png go")
    ap.add_argument("--rounds", type=int, help="every round count set to this (a smoke test: --rounds 1)")
    ap.add_argument("--disk", type=int, nargs="+", help="env counts for the disk case (default 1 5 20; quick 1 5)")
    ap.add_argument("--skip-shim", action="store_true")
    ap.add_argument("--render", type=Path, metavar="RESULTS_JSON", help="only rewrite results.md from a results.json")
    args = ap.parse_args()
    if args.render:
        md = render(json.loads(args.render.read_text()))
        (args.out / "results.md").write_text(md)
        print(md)
        return
    q = args.quick
    args.sets = args.sets or (["small"] if q else ["small", "datascience"])
    args.cold_rounds, args.warm_rounds, args.noop_rounds = (2, 3, 5) if q else (3, 5, 10)
    args.import_runs, args.gc_rounds = (5, 2) if q else (10, 3)
    if args.rounds:
        args.cold_rounds = args.warm_rounds = args.noop_rounds = args.import_runs = args.gc_rounds = args.rounds
    args.disk = sorted(args.disk or ([1, 5] if q else [1, 5, 20]))

    def _term(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _term)
    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="envstore-bench-run-"))
    try:
        log(f"scratch: {work}; installing uv and matplotlib into a tools venv")
        tools = make_tools_venv(work / "tools", ["uv", "matplotlib"])
        base_env = {k: x for k, x in os.environ.items() if not k.startswith(SCRUB)}
        base_env.update(UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1", MPLCONFIGDIR=str(work / "mplconfig"))
        ctx = Ctx(work=work, uv=str(tools / "uv"), uv_index=uv_index_args(), args=args, base_env=base_env)
        results: dict = {"args": {k: x for k, x in vars(args).items() if k != "out"}, "sets": {}}
        for s in args.sets:
            results["sets"][s] = bench_set(ctx, s)
        results["shim"] = {} if args.skip_shim else bench_shim(q)
        results["machine"] = machine(load_start, os.getloadavg(), versions(ctx))
        args.out.mkdir(parents=True, exist_ok=True)
        md = render(results)
        (args.out / "results.md").write_text(md)
        data = args.out / "results.json"  # every sample, to redraw the chart: python _chart.py IN OUT
        data.write_text(json.dumps(results, indent=1) + "\n")
        subprocess.run([str(tools / "python"), str(HERE / "_chart.py"), str(data), str(args.out / "results.png")],
                       check=True)
        print(md)
    finally:
        rmtree(work)


if __name__ == "__main__":
    main()
