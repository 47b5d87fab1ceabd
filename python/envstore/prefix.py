"""Build one prefix: a venv-style tree (pyvenv.cfg whose `home` is the interpreter's store path,
bin/python* links, site-packages) assembled from placed-wheel and bytecode manifests,
materialized in the store's tmp/, made read-only, renamed into `envs/` atomically, and only
then registered valid. Never writes outside the store."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from envstore import settings
from envstore._core import Store, make_dirs_read_only, remove_tree, sync_filesystem
from envstore.bytecode import compile_bytecode
from envstore.db import StoreDB
from envstore.layout import BlobBatch, Layout, place_wheel

ENVS_DIR = "envs"
LAYOUT_VERSION = 1  # bump when the prefix layout changes: it is part of every store path


class Interpreter(Protocol):
    implementation: str
    version: str
    executable: Path
    store_path: Path
    manifest_id: str


@dataclass(frozen=True)
class IngestedWheel:
    label: str  # "numpy 2.1.3"
    filename: str
    manifest_id: str


def py_version(interpreter: Interpreter) -> str:
    return ".".join(interpreter.version.split(".")[:2])


def store_path_digest(lock_identity: dict, interpreter: Interpreter) -> str:
    """Input-addressed: what is locked plus which interpreter, never where the store lives."""
    payload = {
        "layout": LAYOUT_VERSION,
        "lock": lock_identity,
        "interpreter": {
            "implementation": interpreter.implementation,
            "version": interpreter.version,
            "tree": interpreter.manifest_id,
        },
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).digest()
    return base64.b32encode(digest).decode().lower().rstrip("=")[:32]


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip("-.")
    return cleaned or "env"


def store_path(store_root: Path, name: str, digest: str) -> Path:
    return Path(store_root) / ENVS_DIR / f"{digest}-{safe_name(name)}"


def _base_manifest(batch: BlobBatch, interpreter: Interpreter, layout: Layout) -> dict:
    exe = Path(interpreter.executable)
    cfg = (
        f"home = {exe.parent}\n"
        "include-system-site-packages = false\n"
        f"version = {interpreter.version}\n"
        f"executable = {exe}\n"
        "envstore = 1\n"
    ).encode()
    xy = layout.py_version
    entries: dict[str, dict] = {
        "pyvenv.cfg": batch.add(cfg, False),
        f"lib/python{xy}/site-packages": {"type": "dir"},
        "bin/python": {"type": "symlink", "target": str(exe)},
        "bin/python3": {"type": "symlink", "target": "python"},
        f"bin/python{xy}": {"type": "symlink", "target": "python"},
    }
    return {"version": 1, "entries": entries}


def assemble(
    store: Store, db: StoreDB, dest: Path, wheels: list[IngestedWheel], interpreter: Interpreter, tmp: Path
) -> list[tuple[str, str]]:
    """(label, manifest id) pairs whose union is the prefix at `dest`."""
    layout = Layout(prefix=dest, py_version=py_version(interpreter))
    batch = BlobBatch(store)
    documents = [("envstore", _base_manifest(batch, interpreter, layout))]
    documents += [(w.label, place_wheel(store, w.manifest_id, w.filename, layout, batch)) for w in wheels]
    batch.flush()  # manifests may name only blobs that exist
    placed_ids = [store.put_manifest(json.dumps(doc)) for _label, doc in documents]
    manifests = [("envstore", placed_ids[0])]
    for wheel, placed in zip(wheels, placed_ids[1:]):
        manifests.append((wheel.label, placed))
        bytecode = compile_bytecode(
            store, db, placed, layout.site_packages, Path(interpreter.executable), interpreter.manifest_id, tmp
        )
        if bytecode is not None:
            manifests.append((f"{wheel.label} (bytecode)", bytecode))
    return manifests


def publish(store: Store, manifests: list[tuple[str, str]], dest: Path, tmp: Path) -> bool:
    """Materialize into tmp, make read-only, rename to dest. False when dest already existed
    (a concurrent realize of the same lock won): the caller then uses theirs."""
    build = tmp / f"prefix-{dest.name}-{os.getpid()}"
    if build.exists():
        remove_tree(build)
    store.materialize(manifests, build)
    make_dirs_read_only(build)
    if settings.fsync_enabled():
        sync_filesystem(build)  # the tree's links and directories, before it becomes visible
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(build, dest)
    except OSError:
        if dest.is_dir():
            remove_tree(build)
            return False
        raise
    fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return True
