"""What an environment holds, by name and version: for a realized prefix (from the store
database) or for an env file / lockfile (from its lock). Used by `diff` and `export`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from envstore._core import Store
from envstore.errors import UsageError
from envstore.interpreters import list_interpreters
from envstore.lockfile import Lock, LockedPackage, LockedWheel, lock_path_for, read_lock
from envstore.ops.realize import env_name
from envstore.resolve.target import TargetPython
from envstore.store.db import StoreDB
from envstore.store.parts import packages


@dataclass(frozen=True)
class Inventory:
    label: str
    name: str
    python: str | None
    lock: Lock


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
    return Inventory(str(prefix), row.name, python, lock)


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
    lock = read_lock(lock_file)

    return Inventory(str(target), env_name(target.absolute(), lock), lock.interpreter.get("version"), lock)


def versions(inv: Inventory) -> dict[str, str]:
    return {p.name.lower(): p.version for p in inv.lock.packages}
