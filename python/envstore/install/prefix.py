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
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

from envstore._core import Store, remove_tree
from envstore.install.bytecode import compile_all, put_sources
from envstore.install.place import BlobBatch, Layout, PlacedWheel, finish, place_core
from envstore.progress import Phase, silent
from envstore.store import layout, manifest, manifest_usable
from envstore.store.db import StoreDB
from envstore.store.fs import publish_tree
from envstore.store.locks import file_lock
from envstore.store.parts import Part, PartKind, base_part, labelled

LAYOUT_VERSION = 1  # bump when the prefix layout changes: it is part of every store path
PLACEMENT_VERSION = 2  # bump when place_core's output changes: cached placements are then redone (2: shipped pycs)


class Interpreter(Protocol):
    implementation: str
    version: str
    executable: Path
    store_path: Path
    manifest_id: str


@dataclass(frozen=True)
class IngestedWheel:
    package: str  # as locked: "numpy"
    filename: str
    manifest_id: str
    version: str = ""  # as locked: "2.1.3"


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
    return layout.envs_dir(Path(store_root)) / f"{digest}-{safe_name(name)}"


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
    return manifest.document(entries)


def assemble(
    store: Store, db: StoreDB, dest: Path, wheels: list[IngestedWheel], interpreter: Interpreter, tmp: Path,
    progress: Phase | None = None,
) -> list[Part]:
    """The parts whose union is the prefix at `dest`: the base, then each wheel's."""
    progress = progress or silent()
    layout = Layout(prefix=dest, py_version=py_version(interpreter))
    batch = BlobBatch(store)
    base = _base_manifest(batch, interpreter, layout)
    placements = place_wheels(store, db, wheels, layout, batch, progress)
    parts = [base_part(manifest.put_document(store, base))]
    bytecode = compile_all(
        store, db, [p.sources for p in placements], Path(interpreter.executable), interpreter.manifest_id, tmp,
        progress=progress,
    )
    for w, pl, compiled in zip(wheels, placements, bytecode):
        parts += wheel_parts(store, w, pl)
        if compiled is not None:
            parts.append(Part(PartKind.BYTECODE, w.package, w.version, compiled))
    return parts


def place_wheels(store: Store, db: StoreDB, wheels: list[IngestedWheel], layout: Layout, batch: BlobBatch,
                 progress: Phase | None = None) -> list[Placement]:
    """Each wheel placed for `layout` (the cached core placement per (wheel, python X.Y) when it
    is intact, else a new one, registered); `batch` is flushed, so every blob they name exists."""
    key = f"{layout.py_version}/{PLACEMENT_VERSION}"
    placing = (progress or silent()).row("placing wheels", total=len(wheels), noun="wheel")
    placements = []
    for w in wheels:
        placements.append(_placement(store, db, w, key, layout, batch))
        placing.advance()
    batch.flush()  # manifests may name only blobs that exist
    new_rows = []
    for w, pl in zip(wheels, placements):
        if pl.core_id is None:
            pl.core_id = manifest.put_document(store, pl.core_doc)
            pl.sources = put_sources(store, pl.core_doc["entries"], layout.site_packages)
            new_rows.append((w.manifest_id, key, pl.core_id, pl.sources, pl.placed.extra_json()))
    db.register_placements(new_rows)
    return placements


def wheel_parts(store: Store, wheel: IngestedWheel, pl: Placement) -> list[Part]:
    """The wheel's core part, then this prefix's scripts part when it has one."""
    parts = [Part(PartKind.WHEEL, wheel.package, wheel.version, pl.core_id, source=wheel.manifest_id)]
    if pl.prefix_doc is not None:
        parts.append(Part(PartKind.SCRIPTS, wheel.package, wheel.version, manifest.put_document(store, pl.prefix_doc)))
    return parts


@dataclass
class Placement:
    placed: PlacedWheel
    core_id: str | None  # None until a newly placed core is stored
    core_doc: dict | None
    sources: str | None
    prefix_doc: dict | None = None


def _placement(store: Store, db: StoreDB, wheel: IngestedWheel, key: str, layout: Layout, batch: BlobBatch) -> Placement:
    """The wheel's cached core placement when it is intact, else a new one; plus this prefix's part."""
    row = db.placement(wheel.manifest_id, key)
    if row is not None and manifest_usable(store, row[0]):
        pl = Placement(PlacedWheel.from_cache(row[2]), row[0], None, row[1])
    else:
        core_doc, placed = place_core(store, wheel.manifest_id, wheel.filename, layout.py_version, batch)
        pl = Placement(placed, None, core_doc, None)
    pl.prefix_doc = finish(store, pl.placed, wheel.filename, layout, batch)
    return pl


_LINK_FALLBACK_WHY = {
    "EXDEV": "the blobs and the prefix are on different filesystems",
    "EMLINK": "their blobs are at the filesystem's hardlink limit",
    "EPERM": "the filesystem (or fs.protected_hardlinks) refused the hardlink",
}


def _warn_copied(dest: Path, files: int, fallbacks: list[tuple[str, int]]) -> None:
    """RELIABILITY rows 21-23: a per-file copy where a hardlink failed is said, not silent."""
    why = "; ".join(f"{n} with {name}: {_LINK_FALLBACK_WHY.get(name, name)}" for name, n in fallbacks)
    copied = sum(n for _name, n in fallbacks)
    print(f"warning: {copied} of {files} files copied into {dest.name} instead of hardlinked ({why}); "
          "`store verify` still checks them", file=sys.stderr)


def publish(store: Store, parts: list[Part], dest: Path, tmp: Path,
            progress: Phase | None = None, replace: bool = False, copies: Sequence[str] = ()) -> bool:
    """Materialize into tmp, then publish_tree to dest. False when dest already existed
    (a concurrent realize of the same lock won): the caller then uses theirs. `replace`
    swaps out an existing dest (repair). `copies`: prefix paths that get a copy of their blob
    instead of a hardlink (conda's no_link)."""
    build = tmp / f"prefix-{dest.name}-{os.getpid()}"
    if build.exists():
        remove_tree(build)
    linking = (progress or silent()).row("linking files into the prefix", noun="file", report="{} linked")
    placed = store.materialize(labelled(parts), build)
    linking.finish(placed.files)
    if placed.link_fallbacks:
        _warn_copied(dest, placed.files, placed.link_fallbacks)
    for path in copies:
        _unlink_from_blob(build / path)
    return publish_tree(build, dest, store_root=Path(store.root), replace=replace)


def _unlink_from_blob(path: Path) -> None:
    """Replace a hardlinked file with a copy of the same bytes and mode (a symlink stays)."""
    if path.is_symlink() or not path.is_file():
        return
    copy = path.with_name(f".{path.name}.copy-{os.getpid()}")
    shutil.copy2(path, copy)
    os.replace(copy, path)


def ensure_prefix(db: StoreDB, root: Path, dest: Path, make: Callable[[], None]) -> None:
    """Make the prefix `dest` unless it is registered and present; checked again under its own
    lock, so realizes racing for one prefix build it once and the others find it."""
    if db.prefix(dest) is None or not dest.is_dir():
        with file_lock(layout.env_lock_path(root, dest.name), exclusive=True):
            if db.prefix(dest) is None or not dest.is_dir():
                make()
    else:
        db.touch_prefix(dest)
