#!/usr/bin/env python3
"""Side-by-side benchmark: envstore materialize and hash_file against their peers.

Part 1 -- materializing the tree of a large real wheel (numpy by default):

    envstore   Store.materialize([(label, manifest_id)], dest)   (Python API, hardlinks)
    cp -al     subprocess `cp -al REF DEST` of the same tree unpacked with zipfile
               (reported as measured, and minus the median cost of spawning `cp --version`)
    py-loop    os.walk(REF) + os.makedirs for every dir + os.link for every file

Part 2 -- hashing one big file held in the page cache:

    envstore   envstore._core.hash_file (BLAKE3, mmap, multi-threaded)
    sha256     hashlib.sha256 fed 1 MiB chunks
    blake2b    hashlib.blake2b fed 1 MiB chunks (reference)

The contenders are interleaved every round (and the order rotates each round), one
untimed warm-up round precedes the timed ones, and medians are reported. Every
destination is a fresh directory, removed after its timing, outside the timed region.

The wheel is fetched once with `pip download` (pip's own configuration decides where
from) into a cache directory under the system temp dir, so reruns do not download.

    python benches/bench_materialize.py            # 7 rounds, 1 GiB hash file
    python benches/bench_materialize.py --quick    # 3 rounds, 256 MiB hash file
    python benches/bench_materialize.py --wheel path/to/some.whl
    python benches/bench_materialize.py --package torch
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _common import log, median, rmtree
from envstore._core import Store, hash_bytes, hash_file

MiB = 1024 * 1024
CHUNK = MiB


# --------------------------------------------------------------------------- helpers


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def count_tree(root: Path) -> tuple[int, int]:
    files = dirs = 0
    for _dirpath, dirnames, filenames in os.walk(root):
        dirs += len(dirnames)
        files += len(filenames)
    return files, dirs


def rel_files(root: Path) -> set[str]:
    out = set()
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


# --------------------------------------------------------------------------- the wheel


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def find_or_download_wheel(package: str, cache_root: Path) -> Path:
    """Return a cached wheel for `package` (a pip requirement) or `pip download` one."""
    # One cache directory per requirement string, so `numpy` and `numpy==2.1.3` don't mix.
    slug = re.sub(r"[^A-Za-z0-9._=-]+", "_", package)
    cache = cache_root / slug
    dist = _canon(re.split(r"[\s<>=!~;\[@]", package.strip(), maxsplit=1)[0])

    def cached() -> list[Path]:
        if not cache.is_dir():
            return []
        return sorted(
            (p for p in cache.glob("*.whl") if _canon(p.name.split("-")[0]) == dist),
            key=lambda p: p.stat().st_mtime,
        )

    found = cached()
    if found:
        log(f"using cached wheel {found[-1]}")
        return found[-1]
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-d", str(cache), package,
    ]
    log(f"downloading: {' '.join(cmd)}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        sys.exit(
            f"pip download of {package!r} failed (exit {proc.returncode}):\n{proc.stdout}\n"
            "Pass --wheel PATH to benchmark a wheel you already have."
        )
    found = cached()
    if not found:
        sys.exit(f"pip download succeeded but no wheel for {dist!r} appeared in {cache}")
    return found[-1]


# --------------------------------------------------------------------------- part 1


def bench_materialize(wheel: Path, work: Path, rounds: int) -> dict:
    ref = work / "ref"
    store_root = work / "store"
    dests = work / "dests"
    dests.mkdir()

    log(f"unpacking {wheel.name} into the reference tree ...")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(ref)
    ref_files, ref_dirs = count_tree(ref)

    log("ingesting into a fresh store ...")
    store = Store(store_root, fsync=False)
    t0 = time.perf_counter()
    ing = store.ingest_wheel(wheel)
    ingest_s = time.perf_counter() - t0
    mid = ing.manifest_id
    label = wheel.name

    # Sanity check, untimed: envstore's tree and the unpacked tree hold the same files,
    # and a file in the materialized tree is a hardlink to its blob.
    check = dests / "check"
    rep = store.materialize([(label, mid)], check)
    same_paths = rel_files(check) == rel_files(ref)
    rmtree(check)

    seq = [0]

    def fresh(tag: str) -> Path:
        seq[0] += 1
        return dests / f"{tag}-{seq[0]}"

    def run_envstore() -> tuple[float, Path]:
        dest = fresh("envstore")
        t = time.perf_counter()
        store.materialize([(label, mid)], dest)
        return time.perf_counter() - t, dest

    def run_cp() -> tuple[float, Path]:
        dest = fresh("cp")
        t = time.perf_counter()
        subprocess.run(["cp", "-al", str(ref), str(dest)], check=True)
        return time.perf_counter() - t, dest

    def run_spawn() -> tuple[float, None]:
        t = time.perf_counter()
        subprocess.run(["cp", "--version"], check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t, None

    def run_pyloop() -> tuple[float, Path]:
        dest = fresh("pyloop")
        t = time.perf_counter()
        src_root = str(ref)
        dst_root = str(dest)
        n = len(src_root)
        os.makedirs(dst_root)
        join = os.path.join
        link = os.link
        for dirpath, dirnames, filenames in os.walk(src_root):
            out_dir = dst_root + dirpath[n:]
            for d in dirnames:
                os.makedirs(join(out_dir, d))
            for f in filenames:
                link(join(dirpath, f), join(out_dir, f))
        return time.perf_counter() - t, dest

    contenders = [
        ("envstore", run_envstore),
        ("cp -al", run_cp),
        ("spawn", run_spawn),
        ("py-loop", run_pyloop),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in contenders}

    # Round 0 is an untimed warm-up (dentry/inode caches, first-spawn costs).
    for rnd in range(rounds + 1):
        k = rnd % len(contenders)
        order = contenders[k:] + contenders[:k]
        for name, fn in order:
            dt, dest = fn()
            if dest is not None:
                rmtree(dest)
            if rnd > 0:
                times[name].append(dt)
        if rnd > 0:
            log(
                f"  round {rnd}/{rounds}: "
                + "  ".join(f"{n}={times[n][-1] * 1e3:.1f}ms" for n, _ in contenders)
            )

    med = {name: median(ts) for name, ts in times.items()}
    return {
        "wheel": wheel,
        "wheel_bytes": wheel.stat().st_size,
        "ref_files": ref_files,
        "ref_dirs": ref_dirs,
        "ingest": ing,
        "ingest_s": ingest_s,
        "report": rep,
        "same_paths": same_paths,
        "times": times,
        "median": med,
        "rounds": rounds,
    }


# --------------------------------------------------------------------------- part 2


def hashlib_file(path: Path, factory) -> str:
    h = factory()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
    return h.hexdigest()


def bench_hash(work: Path, mib: int, rounds: int) -> dict:
    path = work / "hash-input.bin"
    log(f"writing {mib} MiB of os.urandom bytes to {path} ...")
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(CHUNK))
    size = path.stat().st_size

    # Correctness check on a small prefix: hash_file agrees with hash_bytes.
    small = work / "hash-small.bin"
    with open(path, "rb") as f:
        head = f.read(3 * MiB + 12345)
    small.write_bytes(head)
    assert hash_file(small) == hash_bytes(head), "hash_file disagrees with hash_bytes"
    small.unlink()

    # Warm-up read so the file is in the page cache.
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(CHUNK)
        while f.readinto(buf):
            pass

    contenders = [
        ("envstore blake3", lambda: hash_file(path)),
        ("hashlib sha256", lambda: hashlib_file(path, hashlib.sha256)),
        ("hashlib blake2b", lambda: hashlib_file(path, hashlib.blake2b)),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for rnd in range(rounds):
        k = rnd % len(contenders)
        for name, fn in contenders[k:] + contenders[:k]:
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
        log(
            f"  round {rnd + 1}/{rounds}: "
            + "  ".join(f"{n}={times[n][-1]:.3f}s" for n, _ in contenders)
        )
    path.unlink()
    return {"bytes": size, "mib": mib, "times": times,
            "median": {n: median(ts) for n, ts in times.items()}, "rounds": rounds}


# --------------------------------------------------------------------------- report


def print_table(m: dict | None, h: dict | None) -> None:
    out = []
    w = out.append
    w("")
    w("=" * 78)
    w(f"envstore bench_materialize   python {platform.python_version()}   "
      f"{platform.machine()}   {os.cpu_count()} CPUs   {platform.system()} {platform.release()}")
    w("=" * 78)
    if m is not None:
        ing = m["ingest"]
        rep = m["report"]
        med = m["median"]
        files = rep.files
        w(f"[1] materialize a wheel's tree   (median of {m['rounds']} interleaved rounds)")
        w(f"    wheel      {m['wheel'].name}  ({m['wheel_bytes'] / MiB:.1f} MiB)")
        w(f"    tree       {files} files, {rep.dirs} dirs, {ing.bytes / MiB:.1f} MiB unpacked "
          f"(zip-unpacked ref: {m['ref_files']} files, {m['ref_dirs']} dirs; "
          f"same paths: {'yes' if m['same_paths'] else 'NO'})")
        w(f"    envstore   hardlinked {rep.hardlinked}, reflinked {rep.reflinked}, "
          f"copied {rep.copied}; ingest took {m['ingest_s']:.3f}s (fsync=False)")
        w("")
        spawn = med["spawn"]
        rows = [
            ("envstore Store.materialize", med["envstore"], files),
            ("cp -al (incl. spawn)", med["cp -al"], m["ref_files"]),
            ("cp -al - spawn", max(med["cp -al"] - spawn, 1e-9), m["ref_files"]),
            ("python os.walk+os.link", med["py-loop"], m["ref_files"]),
        ]
        env_rate = files / med["envstore"]
        w(f"    {'contender':<28}{'median s':>11}{'files/s':>13}{'envstore speedup':>19}")
        w(f"    {'-' * 28}{'-' * 11}{'-' * 13}{'-' * 19}")
        for name, t, n in rows:
            rate = n / t
            ratio = "" if name.startswith("envstore") else f"{env_rate / rate:.2f}x"
            w(f"    {name:<28}{t:>11.4f}{fmt_rate(rate):>13}{ratio:>19}")
        w(f"    (spawn baseline: `cp --version` median {spawn * 1e3:.2f} ms)")
        w("    speedup = envstore files/s / contender files/s; >1 means envstore is faster")
        w("")
    if h is not None:
        med = h["median"]
        n = h["bytes"]
        w(f"[2] hash a {h['mib']} MiB file from the page cache   "
          f"(median of {h['rounds']} interleaved rounds; GB = 1e9 bytes)")
        w("")
        w(f"    {'contender':<28}{'median s':>11}{'GB/s':>13}{'envstore speedup':>19}")
        w(f"    {'-' * 28}{'-' * 11}{'-' * 13}{'-' * 19}")
        core = med["envstore blake3"]
        for name, t in med.items():
            ratio = "" if name.startswith("envstore") else f"{t / core:.2f}x"
            w(f"    {name:<28}{t:>11.4f}{n / t / 1e9:>13.2f}{ratio:>19}")
        w(f"    core/sha256 throughput ratio: {med['hashlib sha256'] / core:.2f}")
        w("")
    w("=" * 78)
    print("\n".join(out), flush=True)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=None,
                    help="timed rounds for materialize (default 7; 3 with --quick)")
    ap.add_argument("--hash-rounds", type=int, default=None,
                    help="timed rounds for hashing (default 5; 3 with --quick)")
    ap.add_argument("--hash-mib", type=int, default=None,
                    help="size of the hashed file in MiB (default 1024; 256 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="smaller run: 3 rounds, 256 MiB hash file")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--wheel", type=Path, help="benchmark this wheel instead of downloading")
    src.add_argument("--package", default="numpy",
                     help="requirement to `pip download` (default: numpy)")
    ap.add_argument("--cache-dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "envstore-bench-wheels",
                    help="where downloaded wheels are kept between runs")
    ap.add_argument("--tmpdir", type=Path, default=None,
                    help="scratch directory parent (store, trees, hash file); default: system temp")
    ap.add_argument("--skip-materialize", action="store_true")
    ap.add_argument("--skip-hash", action="store_true")
    args = ap.parse_args(argv)

    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 7)
    hash_rounds = args.hash_rounds if args.hash_rounds is not None else (3 if args.quick else 5)
    hash_mib = args.hash_mib if args.hash_mib is not None else (256 if args.quick else 1024)
    if rounds < 1 or hash_rounds < 1 or hash_mib < 1:
        ap.error("--rounds, --hash-rounds and --hash-mib must be >= 1")
    if shutil.which("cp") is None and not args.skip_materialize:
        ap.error("`cp` not found on PATH")

    # Turn SIGTERM into an exception so the finally below still cleans up.
    def _term(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _term)

    wheel = None
    if not args.skip_materialize:
        if args.wheel is not None:
            wheel = args.wheel.resolve()
            if not wheel.is_file():
                ap.error(f"--wheel {wheel}: no such file")
        else:
            wheel = find_or_download_wheel(args.package, args.cache_dir)

    # One scratch dir holds the store and every destination, so they share a filesystem.
    work = Path(tempfile.mkdtemp(prefix="envstore-bench-", dir=args.tmpdir))
    m = h = None
    try:
        if wheel is not None:
            m = bench_materialize(wheel, work, rounds)
        if not args.skip_hash:
            h = bench_hash(work, hash_mib, hash_rounds)
    finally:
        rmtree(work)
    print_table(m, h)
    return 0


if __name__ == "__main__":
    sys.exit(main())
