"""Helpers shared by the benchmark scripts in this directory (imported as `_common`; the scripts
run as `python benches/NAME.py`, which puts this directory first on sys.path)."""

from __future__ import annotations

import os
import shutil
import stat
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SETS = {
    "small": ["click", "rich", "httpx"],
    "datascience": ["numpy", "pandas", "scipy", "matplotlib", "scikit-learn"],
}
# What `import` of each set means when its first import is timed (module names, not dist names).
IMPORTS = {
    "small": "import click, rich.console, httpx",
    "datascience": "import numpy, pandas, scipy.linalg, matplotlib.pyplot, sklearn.linear_model",
}
EXTRAS = ["six", "idna", "tomli", "packaging", "attrs"]
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> float:
    """Wall time of one command, its output discarded."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t0


def run_out(cmd: list[str], **kw) -> tuple[float, str]:
    """Wall time and stripped stdout of one command (stderr discarded unless it fails)."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {p.returncode}):\n{p.stderr[-4000:]}")
    return dt, p.stdout.strip()


def write_env(d: Path, name: str, pkgs: list[str], python: str = PY) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    env = d / "env.yml"
    deps = "\n".join(f"      - {p}" for p in pkgs)
    env.write_text(f"name: {name}\ndependencies:\n  - python={python}\n  - pip:\n{deps}\n")
    return env


def du_bytes(*paths: Path, exclude: tuple[Path, ...] = ()) -> int:
    """Disk used by the trees together, each inode counted once (as `du` does); inodes that also
    appear under one of `exclude` are not counted."""
    seen: set[tuple[int, int]] = set()
    for root in exclude:
        for dirpath, _d, files in os.walk(root):
            for f in files:
                st = os.lstat(os.path.join(dirpath, f))
                seen.add((st.st_dev, st.st_ino))
    total = 0
    for path in paths:
        for dirpath, dirs, files in os.walk(path):
            for f in files + dirs:
                st = os.lstat(os.path.join(dirpath, f))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total


def store_command() -> str:
    """The real `store` script beside this interpreter: a version manager's shim in front of it
    (pyenv's is a bash script) would add its own start-up to every measurement."""
    beside = Path(sys.executable).parent / "store"
    return str(beside) if beside.is_file() else (shutil.which("store") or "store")


def lock_pins(lockfile: Path) -> str:
    """`name==version` lines of a pylock.toml, for peers that take a requirements file."""
    import tomllib

    with open(lockfile, "rb") as f:
        packages = tomllib.load(f)["packages"]
    return "".join(f"{p['name']}=={p['version']}\n" for p in packages)


def make_tools_venv(where: Path, packages: list[str]) -> Path:
    """A venv of its own holding the peers (uv, ...) installed by pip from pip's configured index;
    returns its bin directory."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    subprocess.run([str(where / "bin" / "pip"), "install", "-q", *packages], check=True)
    return where / "bin"


def uv_index_args() -> list[str]:
    """The index options pip is configured with (as envstore reads them), spelled for uv, which
    does not read pip's configuration."""
    from envstore.index.config import resolve_index_config

    config = resolve_index_config()
    args: list[str] = []
    if config.index_urls:
        args += ["--index-url", config.index_urls[0]]
        for extra in config.index_urls[1:]:
            args += ["--extra-index-url", extra]
    for loc in config.find_links:
        args += ["--find-links", loc]
    return args


def _force_remove(func, path, _exc_info):
    """rmtree error handler: make the parent (and the entry) writable and retry once."""
    try:
        parent = os.path.dirname(path)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR | stat.S_IXUSR | stat.S_IRUSR)
        func(path)
    except FileNotFoundError:
        pass


def rmtree(path: Path) -> None:
    """Remove a tree, read-only store directories included."""
    if os.path.lexists(path):
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=lambda f, p, e: _force_remove(f, p, e))
        else:
            shutil.rmtree(path, onerror=_force_remove)


def interleave(title: str, contenders: dict[str, Callable[[int], float]], rounds: int, unit: str = "s",
               after_round: Callable[[int], None] | None = None) -> dict[str, list[float]]:
    """Run every contender once per round, the order rotating from round to round, so drift on
    a shared machine hits them alike. A contender gets the round number and returns seconds;
    `after_round(r)` runs untimed after each round. Per-round times go to stderr."""
    names = list(contenders)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(contenders[name](r))
        scale, fmt = (1000, "{:.0f}ms") if unit == "ms" else (1, "{:.2f}s")
        log(f"  {title} round {r + 1}/{rounds} (load {os.getloadavg()[0]:.2f}): "
            + "  ".join(f"{n}={fmt.format(times[n][-1] * scale)}" for n in names))
        if after_round is not None:
            after_round(r)
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs)
