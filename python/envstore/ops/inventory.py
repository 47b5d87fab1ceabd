"""What an environment holds, by name and version: for a realized prefix (from the store
database) or for an env file / lockfile (from its lock). Used by `diff` and `export`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from envstore._core import Store
from envstore.build.wheelfile import prefix_editables
from envstore.errors import UsageError
from envstore.conda.record import CondaRecord
from envstore.interpreters import list_interpreters
from envstore.lockfile import Lock, LockedPackage, LockedWheel, lock_path_for, read_lock
from envstore.ops.realize import env_name
from envstore.ops.realize_conda import read_conda_lock
from envstore.resolve.target import TargetPython
from envstore.spec.conda_env import parse_conda_env
from envstore.store.db import StoreDB
from envstore.store.parts import conda_packages, packages


@dataclass(frozen=True)
class Inventory:
    label: str
    name: str
    python: str | None
    lock: Lock
    conda: tuple[CondaRecord, ...] = ()  # issue 15: the conda packages, kept apart from the wheels
    # issue 16: the packages installed editable (normalized name -> the project directory)
    editables: dict[str, str] = field(default_factory=dict)


def lock_editables(lock: Lock) -> dict[str, str]:
    return {canonicalize_name(p.name): str(p.tree.directory(lock.path))
            for p in lock.packages if p.tree is not None and p.tree.kind == "directory" and p.tree.editable}


def _conda_of_prefix(prefix: Path) -> tuple[CondaRecord, ...]:
    """A conda prefix's packages, from its conda-meta records (as conda itself reads them)."""
    meta = prefix / "conda-meta"
    if not meta.is_dir():
        return ()
    out = []
    for path in sorted(meta.glob("*.json")):
        doc = json.loads(path.read_text())
        out.append(CondaRecord.from_json({**doc, "noarch": doc.get("noarch") or ""}))
    return tuple(sorted(out, key=lambda r: r.name))


def _lock_of_prefix(store: Store, db: StoreDB, prefix: Path) -> Inventory:
    # An out-link (.envstore/NAME) or profile link names its prefix through a symlink.
    row = db.prefix(prefix.absolute()) or db.prefix(Path(os.path.realpath(prefix)))
    if row is None:
        raise UsageError(f"{prefix} is not a realized prefix of the store {store.root}")
    artifacts = {a.manifest_id: a for a in db.artifacts()}
    locked = []
    for part in packages(row.parts):
        art = artifacts.get(part.source) if part.source else None
        wheels = (LockedWheel(url=art.url, filename=art.filename, size=art.size or None, sha256=art.sha256),) if art else ()
        locked.append(LockedPackage(name=part.package, version=part.version, wheels=wheels))
    python = Path(row.interpreter).name.rsplit("-", 1)[-1] if row.interpreter else None
    requires_python, interpreter = _interpreter_identity(store, row.interpreter, python)
    lock = Lock(packages=tuple(locked), requires_python=requires_python, interpreter=interpreter)
    conda = _conda_of_prefix(Path(row.path)) if conda_packages(row.parts) else ()
    return Inventory(str(prefix), row.name, python, lock, conda, prefix_editables(Path(row.path)))


def _interpreter_identity(store: Store, store_path: str | None, version: str | None) -> tuple[str | None, dict[str, str]]:
    """requires-python and [tool.envstore.interpreter] for a prefix's interpreter, as a fresh
    lock records them, so that realizing an export elsewhere uses the same Python rather than
    whichever is newest there (the prefix's wheels were chosen for this one)."""
    info = next((i for i in list_interpreters(store) if str(i.store_path) == store_path), None)
    if info is not None:
        identity = TargetPython.from_interpreter_info(info).identity()
        version = info.version
    elif version:
        identity = {"implementation": "cpython", "version": version}  # its record is gone: the name still says
    else:
        return None, {}
    major_minor = ".".join(version.split(".")[:2])
    return f"=={major_minor}.*", identity


def inventory(store: Store, db: StoreDB, target: Path) -> Inventory:
    """`target` is a prefix in the store, an env file with a lock beside it, or a pylock.toml."""
    if target.is_dir():
        return _lock_of_prefix(store, db, target)
    lock_file = lock_path_for(target)
    if not lock_file.is_file():
        raise UsageError(f"{target} has no lockfile ({lock_file.name}); run `store lock {target}` first")
    conda_lock = read_conda_lock(lock_file)
    if conda_lock is not None:  # issue 15: a conda route lock
        name = parse_conda_env(target.absolute()).name if target != lock_file else target.parent.name
        return Inventory(str(target), name, None, Lock(packages=()), tuple(conda_lock[1]))
    lock = read_lock(lock_file)

    return Inventory(str(target), env_name(target.absolute(), lock), lock.interpreter.get("version"), lock,
                     editables=lock_editables(lock))


def versions(inv: Inventory) -> dict[str, str]:
    return {p.name.lower(): p.version for p in inv.lock.packages}


def conda_versions(inv: Inventory) -> dict[str, str]:
    """name -> "version build" of the conda packages."""
    return {r.name: f"{r.version} {r.build}" for r in inv.conda}
