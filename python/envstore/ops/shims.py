"""Shim directories: the native shim (embedded in the extension, see rust/envstore-shim) written
out once, hardlinked under every command name it answers to, and the small index it reads.
Only files this module wrote (listed in the index) are ever replaced or removed in a shim dir;
the dispatch rule itself lives in the shim binary alone and Python asks it (`resolve`)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from envstore import project
from envstore._core import shim_binary
from envstore.errors import UsageError
from envstore.interpreters import list_interpreters
from envstore.lockfile import lock_path_for
from envstore.store import layout, open_store
from envstore.store.db import StoreDB
from envstore.store.fs import replace_atomic, write_atomic

MASTER = "envstore-shim"
INDEX_NAME = layout.SHIM_INDEX_FILE
INDEX_HEADER = "envstore-shims-v1"
DIRS_FILE = layout.SHIM_DIRS_FILE
# `store` too: the shim answers an unchanged `store realize` itself and hands the rest on.
BASE_NAMES = ("python", "python3", "pip", "pip3", "store")


@dataclass(frozen=True)
class ShimReport:
    shim_dir: Path
    names: list[str]
    skipped: list[str]  # names taken by files we did not write: left alone


shims_home = layout.shims_home
default_shim_dir = layout.shims_bin_dir


def profile_link(root: Path, name: str = "default") -> Path:
    return layout.profiles_dir(root) / name


def _write_master(shim_dir: Path) -> Path:
    master = shim_dir / MASTER
    data = shim_binary()
    try:
        same = master.read_bytes() == data
    except OSError:
        same = False
    if not same:
        write_atomic(master, data, mode=0o755)
    return master


def _read_index(shim_dir: Path) -> list[list[str]]:
    try:
        lines = (shim_dir / INDEX_NAME).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    if not lines or lines[0] != INDEX_HEADER:
        return []
    return [line.split("\t") for line in lines[1:]]


def _prefixes_in_use(db: StoreDB, root: Path) -> list[Path]:
    """Prefixes a live root points at (out-links, profile generations): their console scripts
    get shims."""
    live, _stale = project.live_roots(db)
    envs = layout.envs_dir(root)
    return sorted({Path(r.prefix) for r in live if Path(r.prefix).parent == envs and Path(r.prefix).is_dir()})


def wanted_names(root: Path, db: StoreDB, pythons: list[tuple[str, Path]]) -> set[str]:
    names = set(BASE_NAMES)
    for version, _path in pythons:
        parts = version.split(".")
        if len(parts) >= 2:
            names.add(f"python{parts[0]}.{parts[1]}")
            names.add(f"pip{parts[0]}.{parts[1]}")
    for prefix in _prefixes_in_use(db, root):
        try:
            entries = list(os.scandir(prefix / "bin"))
        except OSError:
            continue
        for e in entries:
            if e.name.startswith(".") or e.name == MASTER:
                continue
            try:
                if e.is_file() and os.access(e.path, os.X_OK):
                    names.add(e.name)
            except OSError:
                continue
    return names


def _store_pythons(root: Path) -> list[tuple[str, Path]]:
    return [(i.version, i.store_path) for i in list_interpreters(open_store(root))]


def _link_name(master: Path, dest: Path) -> None:
    try:
        replace_atomic(dest, lambda tmp: os.link(master, tmp))
    except OSError:  # a filesystem without hardlinks: a copy works the same
        write_atomic(dest, master.read_bytes(), mode=0o755)


def refresh(root: Path, shim_dir: Path) -> ShimReport:
    """Bring one shim dir up to date: the binary, one hardlink per name, the index."""
    shim_dir.mkdir(parents=True, exist_ok=True)
    master = _write_master(shim_dir)
    master_id = os.stat(master).st_ino
    ours = {f[1] for f in _read_index(shim_dir) if len(f) == 2 and f[0] == "shim"}
    pythons = _store_pythons(root)
    db = StoreDB(root)
    try:
        wanted = wanted_names(root, db, pythons)
    finally:
        db.close()
    written, skipped = [], []
    for name in sorted(wanted):
        dest = shim_dir / name
        try:
            st = os.lstat(dest)
        except FileNotFoundError:
            st = None
        if st is not None and st.st_ino == master_id:
            written.append(name)
            continue
        if st is not None and name not in ours:
            skipped.append(name)
            continue
        _link_name(master, dest)
        written.append(name)
    for name in sorted(ours - set(written)):
        try:
            (shim_dir / name).unlink()
        except FileNotFoundError:
            pass
    lines = [INDEX_HEADER, f"store\t{root}", f"profile\t{profile_link(root)}"]
    lines += [f"python\t{v}\t{p}" for v, p in pythons]
    lines += [f"shim\t{n}" for n in written]
    write_atomic(shim_dir / INDEX_NAME, ("\n".join(lines) + "\n").encode(), mode=0o644)
    return ShimReport(shim_dir, written, skipped)


def installed_dirs(root: Path) -> list[Path]:
    try:
        text = (shims_home(root) / DIRS_FILE).read_text()
    except OSError:
        return []
    return [Path(line) for line in text.splitlines() if line.strip()]


def install(root: Path, shim_dir: Path | None = None) -> ShimReport:
    """Install (or update) the shims for the store at `root` and remember the dir so later
    realizes and switches refresh it."""
    shim_dir = (shim_dir or default_shim_dir(root)).expanduser().absolute()
    report = refresh(root, shim_dir)
    dirs = installed_dirs(root)
    if shim_dir not in dirs:
        shims_home(root).mkdir(parents=True, exist_ok=True)
        write_atomic(shims_home(root) / DIRS_FILE,
                      "".join(f"{d}\n" for d in [*dirs, shim_dir]).encode(), mode=0o644)
    return report


def refresh_installed(root: Path) -> None:
    """After a realize or a switch: refresh every shim dir of this store (none: nothing to do,
    so a store without shims pays one failed open)."""
    for shim_dir in installed_dirs(root):
        if (shim_dir / INDEX_NAME).is_file():
            refresh(root, shim_dir)


def resolver(root: Path) -> Path:
    """The shim binary of this store in resolver mode, written out if needed."""
    dirs = [d for d in installed_dirs(root) if (d / MASTER).is_file()]
    if dirs:
        return dirs[0] / MASTER
    return install(root).shim_dir / MASTER


def resolve(root: Path, cwd: Path) -> tuple[str, Path] | None:
    """(kind, dir) the shims would use in `cwd` ("env", "python" or "profile"), by asking the
    shim binary itself so the rule has exactly one implementation."""
    proc = subprocess.run([str(resolver(root)), "resolve", str(cwd)], capture_output=True)
    if proc.returncode == 0 and proc.stderr:
        sys.stderr.write(proc.stderr.decode(errors="replace"))  # the shim's warnings
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip()
        if message.startswith("error: "):
            raise UsageError(message[len("error: "):])
        return None
    kind, _, path = proc.stdout.decode(errors="surrogateescape").rstrip("\n").partition("\t")
    return kind, Path(path)


def after_realize(root: Path, env_file: Path, link: Path | None) -> None:
    """Called by a full (not fast-path) realize: choose the project's active environment when
    none is chosen yet (the default env file's, or the only one), then refresh the shims.
    Never fails the realize: shims are a convenience on top of it."""
    try:
        if link is not None:
            dot = link.parent
            active = project.read_active(dot)
            chosen = active.link if active is not None else None
            # A file of a newer format: that envstore chose; only `store use` replaces it.
            foreign = active is not None and active.link is None
            others = project.out_links(dot)
            if not foreign and (chosen == link.name
                                or (chosen is None and (env_file.name in project.DEFAULT_ENV_FILES or len(others) == 1))
                                or (chosen is not None and not os.path.lexists(dot / chosen))):
                project.set_active(env_file, link, lock_path_for(env_file))
        refresh_installed(root)
    except OSError as e:
        print(f"warning: could not update the shims: {e}", file=sys.stderr)
