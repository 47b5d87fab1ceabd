"""Conda prefixes in a binary cache (issue 15 on issue 18). A conda prefix cannot be shipped as
placed files: its placeholder files name the store path, which starts with each machine's own
store root. What a cache keeps is everything placement needs that costs a download or a
compile, all path-independent: each package as ingested (its manifest and blobs), the bytecode
compiled from each package's files by the env's conda python, and the `- pip:` wheels with their
placements and bytecode. A store that substitutes takes those in, records them as if it had
fetched and compiled them, and then builds the prefix as usual: placing is local and quick,
and nothing is downloaded from a channel or the index, nothing compiled.

Post-link scripts are not part of it: when asked to run, they run again where the env is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from envstore.cache import objects
from envstore.cache.record import RECORD_FORMAT, Record, RecordRefused
from envstore.cache.remote import CacheError, Remote
from envstore.cache.substituters import Substituters
from envstore.cache.transfer import download
from envstore.conda.record import CondaRecord
from envstore.install import conda as placing
from envstore.install.bytecode import put_sources
from envstore.install.prefix import PLACEMENT_VERSION
from envstore.ops.record_wheels import wheel_entries
from envstore.progress import phase, plural, size
from envstore.store import manifest
from envstore.store.db import StoreDB
from envstore.store.parts import PartKind

Info = Callable[[str], None]
CONDA_FIELDS = ("store_path", "lock", "conda", "wheels")
PACKAGE_SUFFIXES = (".conda", ".tar.bz2")


class CondaPushError(CacheError):
    code = "cache.conda-push"


def identity(records: list[CondaRecord]) -> list[list[str]]:
    """What a conda prefix's record is checked against: its packages, exactly."""
    return sorted([r.name, r.version, r.build, r.sha256] for r in records)


def bytecode_interpreter(python_sha256: str) -> str:
    """The interpreter id bytecode compiled by a conda python is recorded under."""
    return f"conda:{python_sha256}"


def record_of(store: Any, db: StoreDB, dest: Path, row: Any) -> tuple[Record, list[str]]:
    """The record of the conda prefix `dest` and the manifests it names."""
    artifacts = {a.manifest_id: a for a in db.artifacts()}
    packages = []
    for m in row.sources:
        art = artifacts.get(m)
        if art is None:
            raise CondaPushError(f"a package of {dest.name} has no artifact record in this store",
                                 hint="`store verify --repair`, or realize it again")
        if art.filename.endswith(PACKAGE_SUFFIXES):
            packages.append((placing.from_store(store, m, art.sha256, art.filename, art.url, art.size or None), art))
    records = [p.record for p, _art in packages]
    python = placing.conda_python([p for p, _art in packages])
    xy = placing.python_version([p for p, _art in packages])
    compiled = {p.package: p.manifest for p in row.parts if p.kind is PartKind.BYTECODE}
    bytecode = []
    for part in row.parts:
        if part.kind is PartKind.CONDA and part.package in compiled and xy:
            sources = put_sources(store, manifest.entries(store, part.manifest), f"lib/python{xy}")
            if sources:
                bytecode.append({"package": part.package, "sources": sources, "bytecode": compiled[part.package]})
    placement_key = f"{xy}/{PLACEMENT_VERSION}"
    wheels, pip, _names = wheel_entries(db, row, dest, placement_key, CondaPushError)
    post_link = any(p.kind is PartKind.POST_LINK for p in row.parts)
    digest = placing.store_path_digest(records, pip=pip or None, post_link=post_link)
    if not dest.name.startswith(digest + "-"):
        # a `- pip:` package built from source is known by its source in the store path, not by
        # the wheel it built to: such a prefix is realized from its lock elsewhere
        raise CondaPushError(f"the parts of {dest.name} do not add up to its lock; refusing to push it",
                             hint="`store verify` the prefix; a `- pip:` package built from source is not pushed yet")
    body = {"format": RECORD_FORMAT, "store_path": dest.name, "name": row.name, "route": "conda",
            "lock": identity(records), "pip": pip, "post_link": post_link, "interpreter": {},
            "conda": [{"name": p.record.name, "sha256": art.sha256, "filename": art.filename, "url": art.url,
                       "size": art.size, "manifest": art.manifest_id} for p, art in packages],
            "bytecode_interpreter": bytecode_interpreter(python.record.sha256) if python else None,
            "bytecode": bytecode, "placement": placement_key, "wheels": wheels}
    record = Record(body, [])
    return record, record.manifests()


def substitute(store: Any, db: StoreDB, dest: Path, records: list[CondaRecord], pip: list[list[str]] | None,
               subs: Substituters, info: Info, offline: bool = False) -> bool:
    """True when a cache held a trusted record of `dest`: its packages, bytecode and wheels are
    then in this store with their rows, and building the prefix downloads and compiles nothing.
    A record or object that fails a check is one warning line and nothing of it is used."""
    # lazy: the wheel route's substitution module (shared refusal and row writing) loads only here
    from envstore.ops.substitute import note_unsigned, refused, register_wheels

    for remote in subs.remotes(offline):
        try:
            record = _trusted(remote, dest, records, pip, subs, info, note_unsigned)
        except CacheError as e:
            refused(e, remote, info)
            continue
        if record is None:
            continue
        body = record.body
        with phase(info, f"substituting {dest.name} from {remote.url}") as ph:
            fetching = ph.row("fetching blobs", noun="blob", report="{} fetched")
            moved = download(remote, store, record.manifests(), advance=fetching.advance,
                             packs=body.get("packs", ()))
            fetching.finish(moved.blobs)
            for c in body["conda"]:
                db.register_artifact(c["sha256"], c["manifest"], c["filename"], c["url"], int(c.get("size") or 0))
            for b in body["bytecode"]:
                db.register_bytecode(b["sources"], body["bytecode_interpreter"], b["bytecode"])
            if body["wheels"]:
                register_wheels(db, body["wheels"], body["placement"], body["bytecode_interpreter"])
            ph.summary = (f"substituted {plural(len(body['conda']), 'conda package')} from {remote.url}, "
                          f"{size(moved.bytes)} in {plural(moved.requests + 1, 'request')}")
        return True
    return False


def _trusted(remote: Remote, dest: Path, records: list[CondaRecord], pip: list[list[str]] | None,
             subs: Substituters, info: Info, note: Callable) -> Record | None:
    key = objects.record_key(dest.name)
    data = remote.get(key)
    if data is None:
        return None
    where = f"{key} in {remote.url}"
    record = Record.loads(data, where, CONDA_FIELDS)
    note(record.check(subs.trusted(), dest.name, where, subs.allow_unsigned), where, info)
    body = record.body
    shas = {r.sha256 for r in records}
    if (body.get("route") != "conda" or body["lock"] != identity(records) or (body.get("pip") or None) != pip
            or {c.get("sha256") for c in body["conda"]} != shas or len(body["conda"]) != len(shas)):
        raise RecordRefused(f"the record {where} does not match the conda lock of {dest.name}; refused")
    return record
