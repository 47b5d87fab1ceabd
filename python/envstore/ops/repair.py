"""verify --repair: remove damaged blobs, restore them from their artifacts (re-downloading the
wheel, hash-checked), and rebuild every prefix whose tree no longer matches its manifests.
Healthy prefixes are not touched; a damaged one is rebuilt in tmp/ and swapped in."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from envstore._core import Store, remove_tree
from envstore.index.fetch import WheelRef, fetch_all
from envstore.install import conda as placing
from envstore.install.conda import reingest_conda
from envstore.install.prefix import IngestedWheel, assemble, publish
from envstore.install.wheel import ingest_wheel
from envstore.interpreters import list_interpreters
from envstore.store.db import PrefixRow, StoreDB
from envstore.store.parts import PartKind, conda_packages, packages


@dataclass
class Findings:
    blob_problems: list = field(default_factory=list)
    prefix_problems: dict[str, list] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.blob_problems and not any(self.prefix_problems.values())


def inspect(store: Store, db: StoreDB) -> Findings:
    findings = Findings(blob_problems=list(store.verify().problems))
    for row in db.prefixes():
        if Path(row.path).is_dir():
            findings.prefix_problems[row.path] = list(store.verify_tree(row.manifests, row.path))
        else:
            findings.prefix_problems[row.path] = []
    return findings


def _uses(store: Store, manifest_id: str, blob_paths: set[str]) -> bool:
    """Whether the manifest links any of these blob files."""
    return not blob_paths.isdisjoint(store.manifest_blob_paths(manifest_id))


def repair(store: Store, db: StoreDB, findings: Findings, tmp: Path) -> list[str]:
    """Fix what `inspect` found; returns a line per action taken."""
    actions: list[str] = []
    damaged = set()
    for p in findings.blob_problems:
        path = Path(p.path)
        remove_tree(path)
        actions.append(f"removed junk {path}" if p.kind == "junk" else f"removed {p.kind} blob {path}")
        if p.kind != "junk":
            damaged.add(str(path))
    missing = damaged

    refs = []
    for art in db.artifacts():
        if _uses(store, art.manifest_id, missing):
            refs.append(WheelRef(art.filename, art.url, art.filename, art.sha256, art.size or None))
    if refs:
        for ref, path in fetch_all(refs, tmp / "repair-downloads").items():
            if path.name.endswith((".conda", ".tar.bz2")):  # issue 15: a conda package's blobs
                reingest_conda(store, path)
            else:
                ingest_wheel(store, path)
            os.unlink(path)
            actions.append(f"restored blobs from {path.name}")

    db.forget_bytecode([(src, interp) for src, interp, mid, _used in db.bytecode_rows()
                        if _uses(store, mid, missing)])

    for row in db.prefixes():
        uses_damaged = any(_uses(store, p.manifest, missing) for p in row.parts)
        if findings.prefix_problems.get(row.path) or uses_damaged or not Path(row.path).is_dir():
            _rebuild(store, db, row, tmp)
            actions.append(f"rebuilt {row.path}")
    return actions


def _rebuild(store: Store, db: StoreDB, row: PrefixRow, tmp: Path) -> None:
    dest = Path(row.path)
    work = tmp / f"rebuild-{dest.name[:12]}"
    work.mkdir(parents=True, exist_ok=True)
    artifacts = {a.manifest_id: a for a in db.artifacts()}
    wheels = [IngestedWheel(p.package, artifacts[p.source].filename, p.source, p.version) for p in packages(row.parts)]
    if conda_packages(row.parts):
        # issue 15: placed again from its packages, so files rewritten for this prefix, its
        # conda-meta records and its bytecode are made again, not only linked
        conda = sorted((placing.from_store(store, m, a.sha256, a.filename, a.url, a.size or None)
                        for m in row.sources if (a := artifacts.get(m)) is not None
                        and a.filename.endswith((".conda", ".tar.bz2"))), key=lambda p: p.record.name)
        assembled = placing.assemble(store, db, dest, conda, work, wheels)
        # what post-link scripts added is kept as recorded: running them again could add other bytes
        parts = assembled.parts + [p for p in row.parts if p.kind is PartKind.POST_LINK]
        copies = assembled.copies
    else:
        interpreter = next((i for i in list_interpreters(store) if str(i.store_path) == row.interpreter), None)
        if interpreter is None:
            raise FileNotFoundError(f"interpreter {row.interpreter} of {row.path} is no longer in the store")
        parts, copies = assemble(store, db, dest, wheels, interpreter, work), []
    publish(store, parts, dest, work, replace=True, copies=copies)  # the damaged tree is retired into tmp/
    db.replace_prefix_parts(row.path, parts)  # what is there now, as records even if the row held labels
    remove_tree(work)
