"""Garbage collection: under the exclusive store lock (so no realize is mid-flight), delete
prefixes no live root reaches, leftovers of interrupted work in tmp/, and then every manifest
and blob nothing live uses. Interpreters in the store are kept (`store python remove` drops one)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from envstore import settings
from envstore._core import Store, remove_tree
from envstore.interpreters import list_interpreters
from envstore.project import live_roots
from envstore.store import layout, reserve
from envstore.store.db import StoreDB
from envstore.store.fs import retire_tree
from envstore.store.session import StoreSession


@dataclass(frozen=True)
class GcOptions:
    dry_run: bool = False
    keep_age: float | None = None  # seconds: keep wheels and bytecode used this recently
    keep_size: int | None = None  # bytes: keep the most recently used wheels up to this total
    lock_timeout: float | None = None  # seconds to wait for running realizes; None: wait


@dataclass
class GcReport:
    prefixes: list[str] = field(default_factory=list)
    staging: list[str] = field(default_factory=list)
    blobs_removed: int = 0
    bytes_removed: int = 0
    manifests_removed: int = 0
    removed_paths: list[str] = field(default_factory=list)


def interpreter_manifests(store: Store) -> set[str]:
    return {i.manifest_id for i in list_interpreters(store)}


def recent_artifacts(db: StoreDB, keep_age: float | None, keep_size: int | None) -> set[str]:
    """Wheel manifests to keep although no live prefix uses them: those used within `keep_age`
    seconds, and the most recently used ones whose wheels add up to at most `keep_size` bytes."""
    keep: set[str] = set()
    rows = sorted(db.artifacts(), key=lambda a: a.last_used, reverse=True)
    if keep_age is not None:
        horizon = time.time() - keep_age
        keep.update(a.manifest_id for a in rows if a.last_used >= horizon)
    if keep_size is not None:
        total = 0
        for a in rows:
            total += a.size
            if total > keep_size:
                break
            keep.add(a.manifest_id)
    return keep


def _drop_dead_temp_links(directory: Path) -> None:
    """`.<name>.tmp-<token>-<pid>` files and links a writer killed before its rename left behind."""
    if not directory.is_dir():
        return
    for link in directory.glob(".*.tmp-*"):
        try:
            os.kill(int(link.name.rsplit("-", 1)[1]), 0)
            continue  # its owner is alive: it is mid-switch
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue
        link.unlink(missing_ok=True)


def _retire(db: StoreDB, prefix: Path, store_root: Path) -> None:
    """Move a dead prefix out of sight (into tmp/), forget it, then delete it: a crash at any
    point leaves either a registered complete prefix, or garbage the next gc removes, never a
    half-deleted tree under its own name."""

    def forget() -> None:
        db.forget_prefixes([str(prefix)])
        settings.test_hook("gc.mid_sweep")

    retire_tree(prefix, store_root, before_delete=forget)


def _dead_prefixes(db: StoreDB, store_root: Path, live_prefixes: set[str]) -> list[str]:
    """Registered prefixes no live root reaches, and directories under envs/ nothing registered:
    what a crash between the rename and the registration leaves."""
    registered = {row.path for row in db.prefixes()}
    dead = [row.path for row in db.prefixes() if row.path not in live_prefixes]
    envs = layout.envs_dir(store_root)
    if envs.is_dir():
        for entry in sorted(envs.iterdir()):
            leftover = entry.name.startswith((".trash-", ".rebuild-"))  # of a version before fs.retire_tree
            if leftover or (str(entry) not in registered and not entry.name.startswith(".")):
                dead.append(str(entry))
    return dead


def _kept_manifests(store: Store, db: StoreDB, live_prefixes: set[str], keep_age: float | None,
                    keep_size: int | None) -> set[str]:
    """The keep policy: interpreters, what live prefixes use, recently used wheels and bytecode,
    and the compile inputs of whatever is kept (so the next realize reuses them)."""
    keep: set[str] = set(interpreter_manifests(store))
    for row in db.prefixes():
        if row.path in live_prefixes:
            keep.update(mid for _, mid in row.manifests)
            keep.update(row.sources)
    keep.update(recent_artifacts(db, keep_age, keep_size))
    if keep_age is not None:
        horizon = time.time() - keep_age
        keep.update(mid for _src, _i, mid, used in db.bytecode_rows() if used >= horizon)
    keep.update(src for src, _i, mid, _used in db.bytecode_rows() if mid in keep)
    keep.update(src for core, src in db.placement_rows() if core in keep and src)
    return {m for m in keep if m}


def _remove_leftovers(db: StoreDB, store_root: Path, report: GcReport) -> None:
    # Temp files of fs.write_atomic/replace_atomic in the store's own directories.
    for directory in (layout.profiles_dir(store_root), layout.registry_dir(store_root),
                      layout.shims_home(store_root), layout.shims_bin_dir(store_root)):
        _drop_dead_temp_links(directory)
    for path in report.prefixes:
        _retire(db, Path(path), store_root)
    for path in report.staging:
        remove_tree(path)


def collect(
    store: Store,
    db: StoreDB,
    store_root: Path,
    dry_run: bool = False,
    keep_age: float | None = None,
    keep_size: int | None = None,
) -> GcReport:
    """Roots, then the keep policy, then leftovers, then the sweep of blobs and manifests, then
    the database rows that pointed at what the sweep removed. The caller holds the exclusive lock."""
    live, stale = live_roots(db)
    live_prefixes = {r.prefix for r in live}
    if not dry_run:
        db.forget_roots([r.link for r in stale])
    report = GcReport(prefixes=_dead_prefixes(db, store_root, live_prefixes))
    keep = _kept_manifests(store, db, live_prefixes, keep_age, keep_size)
    tmp = layout.tmp_dir(store_root)
    report.staging = [str(p) for p in sorted(tmp.iterdir())] if tmp.is_dir() else []
    if not dry_run:
        _remove_leftovers(db, store_root, report)
    sweep = store.sweep(sorted(keep), dry_run=dry_run)
    report.blobs_removed = sweep.blobs_removed
    report.bytes_removed = sweep.bytes_removed
    report.manifests_removed = sweep.manifests_removed
    report.removed_paths = report.prefixes + report.staging + list(sweep.removed)
    if not dry_run:
        db.prune_orphans(set(store.manifest_ids()))
    return report


def run_gc(store: Store, options: GcOptions, on_wait: Callable[[], None] | None = None) -> GcReport:
    """The whole of `store gc`: room for the database on a full disk, an exclusive session
    (waiting for running realizes; `on_wait` is told when it must), collect, the reserve back."""
    root = Path(store.root)
    if not options.dry_run:
        reserve.release(root)  # on a full disk, the room the database needs to open
    with StoreSession(root, "exclusive", store=store, timeout=options.lock_timeout, on_wait=on_wait) as session:
        report = collect(session.store, session.db, root, dry_run=options.dry_run, keep_age=options.keep_age,
                         keep_size=options.keep_size)
    if not options.dry_run:
        reserve.ensure(root)
    return report
