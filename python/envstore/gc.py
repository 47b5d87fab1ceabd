"""Garbage collection: under the exclusive store lock (so no realize is mid-flight), delete
prefixes no live root reaches, leftovers of interrupted work in tmp/, and then every manifest
and blob nothing live uses. Interpreters in the store are kept (`store python remove` drops one)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from envstore._core import Store, remove_tree
from envstore.db import StoreDB
from envstore.prefix import ENVS_DIR
from envstore.roots import live_roots


@dataclass
class GcReport:
    prefixes: list[str] = field(default_factory=list)
    staging: list[str] = field(default_factory=list)
    blobs_removed: int = 0
    bytes_removed: int = 0
    manifests_removed: int = 0
    removed_paths: list[str] = field(default_factory=list)


def interpreter_manifests(store: Store) -> set[str]:
    from envstore.interpreters import list_interpreters

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
    """`.<name>.tmp-<pid>` links a switch killed before its rename left behind."""
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


def _retire(db: StoreDB, prefix: Path) -> None:
    """Move a dead prefix out of sight (envs/.trash-*), forget it, then delete it: a crash at
    any point leaves either a registered complete prefix, or garbage the next gc removes, never
    a half-deleted tree under its own name."""
    from envstore import settings

    trash = prefix
    if not prefix.name.startswith(".") and prefix.is_dir():
        trash = prefix.with_name(f".trash-{prefix.name}")
        if trash.exists():
            remove_tree(trash)
        os.rename(prefix, trash)
    db.forget_prefixes([str(prefix)])
    settings.test_hook("gc.mid_sweep")
    remove_tree(trash)


def collect(
    store: Store,
    db: StoreDB,
    store_root: Path,
    dry_run: bool = False,
    keep_age: float | None = None,
    keep_size: int | None = None,
) -> GcReport:
    report = GcReport()
    live, stale = live_roots(db)
    live_prefixes = {r.prefix for r in live}
    if not dry_run:
        db.forget_roots([r.link for r in stale])

    keep: set[str] = set(interpreter_manifests(store))
    for row in db.prefixes():
        if row.path in live_prefixes:
            keep.update(mid for _, mid in row.manifests)
            keep.update(row.sources)
        else:
            report.prefixes.append(row.path)
    envs = store_root / ENVS_DIR
    registered = {row.path for row in db.prefixes()}
    if envs.is_dir():
        for entry in sorted(envs.iterdir()):
            # Unregistered directories are what a crash between rename and registration leaves.
            leftover = entry.name.startswith((".trash-", ".rebuild-"))  # an interrupted repair
            if leftover or (str(entry) not in registered and not entry.name.startswith(".")):
                report.prefixes.append(str(entry))
    keep.update(recent_artifacts(db, keep_age, keep_size))
    if keep_age is not None:
        horizon = time.time() - keep_age
        keep.update(mid for _src, _i, mid, used in db.bytecode_rows() if used >= horizon)
    # Keep the compile inputs of kept bytecode and placements, so the next realize reuses them.
    keep.update(src for src, _i, mid, _used in db.bytecode_rows() if mid in keep)
    keep.update(src for core, src in db.placement_rows() if core in keep and src)
    tmp = store_root / "tmp"
    report.staging = [str(p) for p in sorted(tmp.iterdir())] if tmp.is_dir() else []

    if not dry_run:
        _drop_dead_temp_links(store_root / "profiles")
        for path in report.prefixes:
            _retire(db, Path(path))
        for path in report.staging:
            remove_tree(path)
    sweep = store.sweep(sorted(m for m in keep if m), dry_run=dry_run)
    report.blobs_removed = sweep.blobs_removed
    report.bytes_removed = sweep.bytes_removed
    report.manifests_removed = sweep.manifests_removed
    report.removed_paths = report.prefixes + report.staging + list(sweep.removed)
    if not dry_run:
        db.prune_orphans(set(store.manifest_ids()))
    return report
