"""Place conda packages into a prefix, as conda would, from blobs: the package's files hardlinked
as they are; files with a prefix placeholder rewritten for the destination store path (text:
replaced; binary: replaced and padded with NULs, refused when the store path is longer than the
placeholder) and stored as blobs of their own; symlinks as the package has them; `noarch: python`
packages under `lib/pythonX.Y/site-packages` with their entry points in `bin/`; and
`conda-meta/<name>-<version>-<build>.json` plus `conda-meta/history`, so conda-family tools read
the prefix as a conda environment.

Each package gives up to two parts: its prefix-independent files (the ingested manifest itself
when nothing moves or is rewritten) and what this prefix adds (rewritten files, entry points,
its conda-meta record)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from envstore._core import Store, remove_tree
from envstore.conda.record import CondaRecord
from envstore.errors import EnvstoreError
from envstore.install.bytecode import compile_all, put_sources, shipped_pyc_replaced
from envstore.install.place import BlobBatch, Layout, read_blob
from envstore.install import prefix
from envstore.progress import Phase
from envstore.store import manifest
from envstore.store.parts import Part, PartKind, labelled

CONDA_META = "conda-meta"
# Bump when a conda prefix's layout changes: it is part of every store path. 2: the store's own
# bytecode for site-packages, replacing the packages' timestamp pycs.
CONDA_LAYOUT_VERSION = 2


class PlaceholderTooLong(EnvstoreError):
    code = "conda.placeholder-too-long"
    hint = "use a store whose path is shorter (--store or ENVSTORE_ROOT), or a package built with a longer prefix"


class CondaPlacementError(EnvstoreError):
    code = "conda.placement"


INFO_FILES = ("info/index.json", "info/paths.json", "info/link.json")


@dataclass(frozen=True)
class IngestedConda:
    """A conda package in the store: its record (as locked) and its source manifest, which holds
    the package's files and its `info/index.json`, `info/paths.json` and `info/link.json`, so
    everything placement needs is in blobs a live prefix keeps (gc keeps a prefix's sources)."""

    record: CondaRecord
    manifest_id: str  # the source manifest: payload + info files
    info: dict[str, str]

    @property
    def noarch(self) -> str:
        return self.record.noarch or json.loads(self.info["info/index.json"]).get("noarch") or ""

    @functools.cached_property  # parsed once: placing, post-link checks and repair all read it
    def paths(self) -> list[dict]:
        return json.loads(self.info["info/paths.json"])["paths"]

    @property
    def placeholders(self) -> dict[str, tuple[str, bool]]:
        """path -> (placeholder, binary), as the core validated them."""
        return {row["_path"]: (row["prefix_placeholder"], row.get("file_mode") == "binary")
                for row in self.paths if row.get("prefix_placeholder")}

    @classmethod
    def load(cls, store: Store, record: CondaRecord, manifest_id: str) -> IngestedConda:
        entries = manifest.entries(store, manifest_id)
        info = {name: read_blob(store, entries[name]).decode() for name in INFO_FILES if name in entries}
        return cls(record, manifest_id, info)


def ingest(store: Store, record: CondaRecord, path: Path) -> IngestedConda:
    """Ingest a downloaded package (the core checks it against its info/paths.json), then store
    its source manifest: the payload plus its info files."""
    r = store.ingest_conda(path)
    if (r.name, r.version, r.build) != (record.name, record.version, record.build):
        raise CondaPlacementError(
            f"{path.name} holds {r.name} {r.version} {r.build}, but the channel's repodata says "
            f"{record.name} {record.version} {record.build}")
    entries = manifest.entries(store, r.manifest_id)
    batch = BlobBatch(store)
    info = {name: text for name, text in r.info.items() if name in INFO_FILES}
    for name, text in info.items():
        entries[name] = batch.add(text.encode(), False)
    batch.flush()
    return IngestedConda(record, manifest.put(store, entries), info)


def reingest_conda(store: Store, path: Path) -> str:
    """Ingest a package again (verify --repair restoring its blobs): the same source manifest as
    the first time, the info files included."""
    r = store.ingest_conda(path)
    entries = manifest.entries(store, r.manifest_id)
    batch = BlobBatch(store)
    for name, text in r.info.items():
        if name in INFO_FILES:
            entries[name] = batch.add(text.encode(), False)
    batch.flush()
    return manifest.put(store, entries)


def replace_text(data: bytes, placeholder: bytes, target: bytes) -> bytes:
    return data.replace(placeholder, target)


def replace_binary(data: bytes, placeholder: bytes, target: bytes, what: str) -> bytes:
    """conda's binary rewrite: inside each NUL-terminated string holding the placeholder, replace
    it and pad with NULs so every offset in the file stays where it was."""
    if len(target) > len(placeholder):
        raise PlaceholderTooLong(
            f"{what}: the store path {target.decode()!r} ({len(target)} bytes) is longer than the "
            f"package's binary prefix placeholder ({len(placeholder)} bytes)")
    pattern = re.compile(re.escape(placeholder) + rb"[^\0]*\0")

    def pad(m: re.Match[bytes]) -> bytes:
        old = m.group()
        new = old.replace(placeholder, target)
        return new + b"\0" * (len(old) - len(new))

    out = pattern.sub(pad, data)
    assert len(out) == len(data)
    return out


def _noarch_path(path: str, site_packages: str) -> str:
    if path.startswith("site-packages/"):
        return f"{site_packages}/{path.removeprefix('site-packages/')}"
    if path.startswith("python-scripts/"):
        return f"bin/{path.removeprefix('python-scripts/')}"
    return path


ENTRY_POINT = """\
#!{python}
# -*- coding: utf-8 -*-
import re
import sys

from {module} import {func}

if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])
    sys.exit({func}())
"""


def _entry_points(pkg: IngestedConda) -> list[tuple[str, str, str]]:
    """(script name, module, function) from info/link.json's noarch entry points."""
    link = json.loads(pkg.info.get("info/link.json") or "{}")
    out = []
    for text in (link.get("noarch") or {}).get("entry_points", []):
        name, _, target = (s.strip() for s in text.partition("="))
        module, _, func = (s.strip() for s in target.partition(":"))
        if not name or "/" in name or name.startswith(".") or not module or not func.isidentifier():
            raise CondaPlacementError(f"{pkg.record.fn}: bad entry point {text!r} in info/link.json")
        out.append((name, module, func))
    return out


def _sha256(data: bytes) -> str:
    import hashlib  # lazy: only records of rewritten files need it

    return hashlib.sha256(data).hexdigest()


@dataclass
class Placed:
    """One package placed for a prefix: its parts (the CONDA_PREFIX one still without a
    manifest), the entries this prefix adds for it, and the files it says to copy, never link."""

    parts: list[Part]
    prefixed: dict[str, dict]
    copies: list[str]


def place(store: Store, pkg: IngestedConda, dest: Path, py_version: str | None, batch: BlobBatch) -> Placed:
    """The package's prefix-independent part (when it has files that are not rewritten) and the
    entries this prefix adds for it (rewritten files, entry points, its conda-meta record); the
    caller stores those as the package's CONDA_PREFIX part once their blobs exist."""
    rec = pkg.record
    entries = {p: e for p, e in manifest.entries(store, pkg.manifest_id).items()
               if p != "info" and not p.startswith("info/")}
    noarch_python = pkg.noarch == "python"
    if noarch_python and not py_version:
        raise CondaPlacementError(f"{rec.name} {rec.version} is a noarch: python package, but the "
                                  "environment has no python", "add `python` to the env file's dependencies")
    site = f"lib/python{py_version}/site-packages"
    rows = {row["_path"]: dict(row) for row in pkg.paths}
    rewrite = pkg.placeholders
    target = str(dest).encode()

    core: dict[str, dict] = {}
    prefixed: dict[str, dict] = {}
    records: list[dict] = []
    copies: list[str] = []
    for path, entry in entries.items():
        final = _noarch_path(path, site) if noarch_python else path
        if (py_version and final.startswith(f"lib/python{py_version}/") and path not in rewrite
                and shipped_pyc_replaced(path, entries, py_version, lambda: read_blob(store, entry))):
            # conda's pycs are timestamp ones, valid only with the mtimes conda extracts (store
            # files have mtime 1); the store compiles its own hash-based pyc there (bytecode_parts)
            continue
        if rows.get(path, {}).get("no_link"):
            copies.append(final)
        row = rows.get(path, {"_path": path, "path_type": "directory" if entry["type"] == "dir" else "hardlink"})
        row["_path"] = final
        if path in rewrite:
            placeholder, binary = rewrite[path]
            data = read_blob(store, entry)
            what = f"{rec.name} {rec.version} ({final})"
            new = (replace_binary(data, placeholder.encode(), target, what) if binary
                   else replace_text(data, placeholder.encode(), target))
            prefixed[final] = batch.add(new, entry["executable"])
            row["sha256_in_prefix"] = _sha256(new)
            row["size_in_bytes"] = len(new)
        else:
            core[final] = entry
        if entry["type"] != "dir":
            records.append(row)
    if noarch_python:
        python = str(dest / "bin" / "python")
        for name, module, func in _entry_points(pkg):
            script = ENTRY_POINT.format(python=python, module=module, func=func).encode()
            path = f"bin/{name}"
            if path in core or path in prefixed:
                raise CondaPlacementError(f"{rec.fn}: entry point {name!r} collides with a file of the package")
            prefixed[path] = batch.add(script, True)
            records.append({"_path": path, "path_type": "unix_python_entry_point",
                            "sha256": _sha256(script), "size_in_bytes": len(script)})
    records.sort(key=lambda r: r["_path"])
    meta = _prefix_record(pkg, records)
    prefixed[f"{CONDA_META}/{rec.identity}.json"] = batch.add(meta, False)

    parts = []
    if core:
        parts.append(Part(PartKind.CONDA, rec.name, rec.version, manifest.put(store, core), source=pkg.manifest_id))
    parts.append(Part(PartKind.CONDA_PREFIX, rec.name, rec.version, "", source=None))
    return Placed(parts, prefixed, copies)


def _prefix_record(pkg: IngestedConda, paths: list[dict]) -> bytes:
    """conda-meta/<name>-<version>-<build>.json: the repodata record, the files and how they were
    placed, in the form rattler's PrefixRecord and conda read."""
    # Only what the store path's hash covers goes in (the package's own index.json, where it came
    # from, its sha256): two env files that lock the same packages share one store path, so the
    # spec that asked for a package (conda's `requested_spec`) cannot be part of it.
    rec = pkg.record
    doc = json.loads(pkg.info["info/index.json"])
    doc.update({"fn": rec.fn, "url": rec.url, "channel": rec.channel, "sha256": rec.sha256})
    doc["files"] = [p["_path"] for p in paths]
    doc["paths_data"] = {"paths_version": 1, "paths": paths}
    doc["link"] = {"source": "", "type": 1}  # 1: hardlink
    doc["requested_spec"] = ""
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def store_path_digest(records: list[CondaRecord], interpreter: dict | None = None,
                      pip: list[list[str]] | None = None, post_link: bool = False) -> str:
    """Input-addressed, like the wheel route's: the locked conda packages (and the store
    interpreter, when one provides python, and the wheels of the `- pip:` list), never where
    the store lives."""
    import base64  # lazy: as for _sha256
    import hashlib

    payload: dict = {
        "layout": CONDA_LAYOUT_VERSION,
        "conda": sorted([r.name, r.version, r.build, r.sha256] for r in records),
        "interpreter": interpreter,
    }
    if pip:  # only then: the store paths of conda envs without a pip half stay what they were
        payload["pip"] = sorted(pip)
    if post_link:  # likewise: what post-link scripts add makes another prefix
        payload["post-link-scripts"] = "run"
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).digest()
    return base64.b32encode(digest).decode().lower().rstrip("=")[:32]


def history(packages: list[IngestedConda]) -> bytes:
    """conda-meta/history: one revision installing every package. Its date is the newest
    package's build time and it names no specs, so the same locked packages give the same bytes
    whichever env file asked for them, on every machine."""
    import datetime  # lazy: only conda prefixes write a history

    stamps = [json.loads(p.info["info/index.json"]).get("timestamp") or 0 for p in packages]
    when = datetime.datetime.fromtimestamp(max(stamps, default=0) / 1000, datetime.timezone.utc)
    lines = [f"==> {when:%Y-%m-%d %H:%M:%S} <==", "# cmd: store realize"]
    lines += [f"+{p.record.channel}::{p.record.identity}" for p in sorted(packages, key=lambda p: p.record.name)]
    return ("\n".join(lines) + "\n").encode()


def post_link_scripts(packages: list[IngestedConda]) -> list[str]:
    """"NAME VERSION" of each package that ships a post-link script."""
    from envstore.install.post_link import has_script  # lazy: only realize asks

    return [f"{p.record.name} {p.record.version}" for p in packages if has_script(p)]


def conda_python(packages: list[IngestedConda]) -> IngestedConda | None:
    """The prefix's conda `python` package, or None for a prefix without one."""
    return next((p for p in packages if p.record.name == "python"), None)


def python_version(packages: list[IngestedConda]) -> str | None:
    """X.Y of the prefix's conda `python`, or None for a prefix without one."""
    python = conda_python(packages)
    return ".".join(python.record.version.split(".")[:2]) if python else None


@dataclass
class Assembled:
    parts: list[Part]
    copies: list[str]  # prefix paths the packages mark no_link: copied into the prefix, never linked


def assemble(store: Store, db, dest: Path, packages: list[IngestedConda], tmp: Path, wheels: Sequence = (),
             progress: Phase | None = None) -> Assembled:
    """Every part of a conda prefix at `dest`: the base (conda-meta/history), each package's
    parts, the `- pip:` wheels placed into its site-packages, and the store's bytecode for both."""
    batch = BlobBatch(store)
    py_version = python_version(packages)
    placed = [place(store, pkg, dest, py_version, batch) for pkg in packages]
    meta = {f"{CONDA_META}/history": batch.add(history(packages), False)}
    batch.flush()  # manifests may name only blobs that exist
    parts = [Part(PartKind.BASE, None, None, manifest.put(store, meta))]
    for one in placed:
        for part in one.parts:
            if part.kind is PartKind.CONDA_PREFIX:
                part = Part(PartKind.CONDA_PREFIX, part.package, part.version, manifest.put(store, one.prefixed))
            parts.append(part)
    sources = lib_sources(store, parts, py_version)
    if wheels and py_version:
        wheel_parts, wheel_sources = place_wheels(store, db, dest, list(wheels), py_version)
        parts += wheel_parts
        sources += wheel_sources
    python = conda_python(packages)
    if python is not None and any(s for _p, _v, s in sources):
        parts += bytecode_parts(store, db, parts, sources, python, tmp, progress)
    return Assembled(parts, sorted(c for one in placed for c in one.copies))


def lib_sources(store: Store, parts: list[Part], py_version: str | None) -> list[tuple[str, str, str | None]]:
    """(package, version, sources manifest) of each conda package's prefix-independent files
    below lib/pythonX.Y (site-packages, and the standard library of `python` itself): what
    bytecode is compiled from, per (content, interpreter) as for wheels."""
    if not py_version:
        return []
    out = []
    for part in parts:
        if part.kind is PartKind.CONDA and part.manifest:
            out.append((part.package or "", part.version or "",
                        put_sources(store, manifest.entries(store, part.manifest), f"lib/python{py_version}")))
    return out


def bytecode_parts(store: Store, db, parts: list[Part], sources: list[tuple[str, str, str | None]],
                   python: IngestedConda, tmp: Path, progress: Phase | None = None) -> list[Part]:
    """The store's bytecode for each sources manifest, compiled by the prefix's own conda python
    (once per sources and python package, then shared like a wheel's). That python runs from a
    scratch copy of the prefix made only when something is not compiled yet: the prefix itself
    is published read-only and complete, bytecode included."""
    scratch = tmp / "python-for-bytecode"

    def interpreter() -> Path:
        if scratch.exists():
            remove_tree(scratch)
        store.materialize(labelled(parts), scratch)
        return scratch / "bin" / "python"

    try:
        compiled = compile_all(store, db, [s for _p, _v, s in sources], interpreter,
                               f"conda:{python.record.sha256}", tmp, progress)
        return [Part(PartKind.BYTECODE, pkg, version, m) for (pkg, version, _s), m in zip(sources, compiled) if m]
    finally:
        if scratch.exists():
            remove_tree(scratch)


def from_store(store: Store, manifest_id: str, sha256: str, filename: str, url: str, size: int | None
               ) -> IngestedConda:
    """A package of a realized prefix again, from what the store keeps of it (verify --repair
    places it anew): its source manifest's info files and its artifact row. The channel is the
    URL's base, as a solve records it; a rewritten file placed from a record that differed
    would hash differently, so repair restores only what hashes to the name it had."""
    entries = manifest.entries(store, manifest_id)
    index = json.loads(read_blob(store, entries["info/index.json"]).decode())
    tail = f"/{index.get('subdir', '')}/{filename}"
    channel = url[: -len(tail)] if url.endswith(tail) else url.rsplit("/", 2)[0]
    record = CondaRecord.from_json({**index, "channel": channel.rstrip("/"), "url": url, "sha256": sha256,
                                    "size": size, "fn": filename, "noarch": index.get("noarch") or ""})
    return IngestedConda.load(store, record, manifest_id)


def place_wheels(store: Store, db, dest: Path, wheels: list, py_version: str
                 ) -> tuple[list[Part], list[tuple[str, str, str | None]]]:
    """The `- pip:` wheels placed into the conda prefix's site-packages (the wheel route's own
    cached placement per (wheel, python X.Y)), scripts naming the prefix's bin/python; and the
    sources each one's bytecode is compiled from."""
    placements = prefix.place_wheels(store, db, wheels, Layout(prefix=dest, py_version=py_version), BlobBatch(store))
    parts: list[Part] = []
    for w, pl in zip(wheels, placements):
        parts += prefix.wheel_parts(store, w, pl)
    return parts, [(w.package, w.version, pl.sources) for w, pl in zip(wheels, placements)]
