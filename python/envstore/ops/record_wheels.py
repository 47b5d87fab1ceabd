"""The wheels of a prefix as a cache record lists them, from its parts and the store's rows
(artifact, placement, bytecode): shared by the pushes of both routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envstore.cache.remote import CacheError
from envstore.store.db import StoreDB
from envstore.store.parts import PartKind


def wheel_entries(db: StoreDB, row: Any, dest: Path, placement_key: str, error: type[CacheError]
                  ) -> tuple[list[dict], list[list[str]], list[str]]:
    """(wheel entries, lock identity sorted by name, manifests named) of the prefix's wheel
    parts; `error` is raised for a part the store has no artifact or placement record of."""
    by_manifest = {a.manifest_id: a for a in db.artifacts()}
    bytecode = {p.package: p.manifest for p in row.parts if p.kind is PartKind.BYTECODE}
    wheels, identity, manifests = [], [], []
    for part in row.parts:
        if part.kind is not PartKind.WHEEL:
            continue
        art = by_manifest.get(part.source or "")
        placed = db.placement(part.source or "", placement_key)
        if art is None or placed is None or placed[0] != part.manifest:
            raise error(f"{part.label} in {dest.name} has no artifact or placement record in this store",
                        hint="`store verify --repair`, or realize it again")
        core, sources, extra = placed
        w = {"package": part.package, "version": part.version, "sha256": art.sha256, "filename": art.filename,
             "url": art.url, "size": art.size, "manifest": part.source, "core": core, "extra": extra}
        if sources:
            w["sources"] = sources
        if part.package in bytecode:
            w["bytecode"] = bytecode[part.package]
        wheels.append(w)
        identity.append([(part.package or "").lower(), part.version, art.sha256])
        manifests += [m for m in (part.source, core, sources, bytecode.get(part.package)) if m]
    identity.sort(key=lambda i: i[0])
    return wheels, identity, manifests
