"""`store cache verify|gc URL`: check every record, manifest and blob a cache holds; remove what
no kept record references. gc deletes records first and unreferenced objects only when older
than a grace period, so a push running meanwhile (objects first, record last) never loses an
object its record is about to name. Never touches a local store."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from envstore.cache import objects
from envstore.cache.keys import parse_trusted
from envstore.cache.record import INTERPRETER_FIELDS, PREFIX_FIELDS, Record
from envstore.cache.remote import CacheError, ObjectInfo, open_remote
from envstore.cache.transfer import PACK_CHUNK, WORKERS, pack_indexes
from envstore.errors import EnvstoreError

Info = Callable[[str], None]


@dataclass
class VerifyReport:
    records: int = 0
    manifests: int = 0
    blobs: int = 0
    problems: list[str] = field(default_factory=list)


def _records(remote, prefix: str, required: tuple[str, ...], report: VerifyReport | None = None) -> dict[str, tuple[Record, ObjectInfo]]:
    out = {}
    for info in remote.list(prefix):
        if not info.key.endswith(".json"):
            continue
        data = remote.get(info.key)
        if data is None:
            continue
        try:
            out[info.key] = (Record.loads(data, f"{info.key} in {remote.url}", required), info)
        except EnvstoreError as e:
            if report is not None:
                report.problems.append(str(e))
    return out


def verify(url: str, trusted_keys: tuple[str, ...] = ()) -> VerifyReport:
    """Every record readable (and signed by a trusted key, when keys are given); every manifest
    and blob a record names present and matching its name."""
    remote = open_remote(url)
    report = VerifyReport()
    trusted = parse_trusted(list(trusted_keys))
    prefixes = _records(remote, objects.RECORDS, PREFIX_FIELDS, report)
    interps = _records(remote, objects.INTERPRETERS, INTERPRETER_FIELDS, report)
    manifests: set[str] = set()
    for key, (record, _info) in {**prefixes, **interps}.items():
        report.records += 1
        if key.startswith(objects.RECORDS) and key != objects.record_key(record.store_path):
            report.problems.append(f"{key} holds the record of {record.store_path}")
        if trusted:
            try:
                record.check(trusted, record.store_path, f"{key} in {url}")
            except EnvstoreError as e:
                report.problems.append(str(e))
        manifests.update(record.manifests() if key.startswith(objects.RECORDS) else [record.body["tree"]])
    blobs: dict[str, int] = {}

    def check_manifest(mid: str) -> tuple[str, dict[str, int] | None, str | None]:
        data = remote.get(objects.manifest_key(mid))
        if data is None:
            return mid, None, f"manifest {mid[:16]} is missing"
        try:
            return mid, objects.manifest_blobs(objects.manifest_content(mid, data, url)), None
        except CacheError as e:
            return mid, None, str(e)

    def check_blob(item: tuple[str, int]) -> str | None:
        blob, size = item
        data = remote.get(objects.blob_key(blob))
        if data is None:
            return f"blob {blob[:16]} is missing"
        return _check(blob, data, size)

    def _check(blob: str, data: bytes, size: int) -> str | None:
        try:
            objects.blob_content(blob, data, url, size)
        except CacheError as e:
            return str(e)
        return None

    def check_packed(item: tuple[str, list[tuple[str, int, int]]]) -> list[str | None]:
        pid, members = item
        parts = remote.get_ranges(objects.pack_key(pid), [(o, n) for _b, o, n in members])
        if parts is None:
            return [f"pack {pid[:16]} is missing (its index names {len(members)} blobs)"] * len(members)
        return [_check(b, data, blobs[b]) for (b, _o, _n), data in zip(members, parts)]

    with ThreadPoolExecutor(WORKERS) as pool:
        for _mid, named, problem in pool.map(check_manifest, sorted(manifests)):
            report.manifests += 1
            if problem:
                report.problems.append(problem)
            else:
                blobs.update(named or {})
        packs = [p for p in (objects.pack_of_index_key(i.key) for i in remote.list(objects.PACKS)) if p]
        located: dict[str, list[tuple[str, int, int]]] = {}
        seen: set[str] = set()
        for pid, idx in pack_indexes(remote, packs, pool).items():
            for blob, (offset, length) in idx.items():
                if blob in blobs and blob not in seen:
                    seen.add(blob)
                    located.setdefault(pid, []).append((blob, offset, length))
        chunks = [(pid, m[i:i + PACK_CHUNK]) for pid, m in located.items() for i in range(0, len(m), PACK_CHUNK)]
        results = [r for rs in pool.map(check_packed, chunks) for r in rs]
        results += list(pool.map(check_blob, sorted((b, s) for b, s in blobs.items() if b not in seen)))
        for problem in results:
            report.blobs += 1
            if problem:
                report.problems.append(problem)
    return report


@dataclass
class GcReport:
    records_removed: list[str] = field(default_factory=list)
    objects_removed: int = 0
    kept_young: int = 0  # unreferenced, but within the grace period


def gc(url: str, keep_roots: set[str] | None, older_than: float | None, grace: float, dry_run: bool = False) -> GcReport:
    """Keep the records named in `keep_roots` (store path names) and those younger than
    `older_than` seconds; delete the other prefix records, then every manifest and blob no kept
    record reaches and older than `grace` seconds."""
    if keep_roots is None and older_than is None:
        raise EnvstoreError("store cache gc needs --keep-roots FILE or --older-than DURATION (or both)")
    remote = open_remote(url)
    report = GcReport()
    now = time.time()
    prefixes = _records(remote, objects.RECORDS, PREFIX_FIELDS)
    kept: list[Record] = []
    for key, (record, info) in prefixes.items():
        named = keep_roots is not None and record.store_path in keep_roots
        young = older_than is not None and now - info.modified < older_than
        if named or young:
            kept.append(record)
        else:
            report.records_removed.append(key)
    if not dry_run:
        remote.delete(report.records_removed)
    interps = _records(remote, objects.INTERPRETERS, INTERPRETER_FIELDS)
    trees = {r.interpreter_tree for r in kept} - {None}
    dead_interps = [k for k, (r, info) in interps.items() if r.body["tree"] not in trees and now - info.modified >= grace]
    if not dry_run:
        remote.delete(dead_interps)
    report.records_removed += dead_interps
    # a wheel record lives while a kept prefix record has that wheel for that interpreter
    live_wheels = {objects.wheel_key(w["sha256"], r.interpreter_tree) for r in kept if r.interpreter_tree
                   for w in r.body["wheels"]}
    dead_wheels = [i.key for i in remote.list(objects.WHEELS)
                   if i.key not in live_wheels and now - i.modified >= grace]
    if not dry_run:
        remote.delete(dead_wheels)
    report.records_removed += dead_wheels
    live_manifests = {m for r in kept for m in r.manifests()} | trees
    live_blobs: set[str] = set()
    for mid in live_manifests:
        data = remote.get(objects.manifest_key(mid))
        if data is not None:
            live_blobs.update(objects.manifest_blobs(objects.manifest_content(mid, data, url)))
    doomed = []
    live_packs: set[str] = set()
    pack_infos = list(remote.list(objects.PACKS))
    with ThreadPoolExecutor(WORKERS) as pool:
        indexes = pack_indexes(remote, [p for p in (objects.pack_of_index_key(i.key) for i in pack_infos) if p], pool)
    for pid, idx in indexes.items():
        if live_blobs.intersection(idx):
            live_packs.add(pid)  # a pack lives while any blob in it does
    for prefix in (objects.MANIFESTS, objects.BLOBS, objects.PACKS):
        for info in remote.list(prefix) if prefix != objects.PACKS else pack_infos:
            mid, blob = objects.manifest_of_key(info.key), objects.blob_of_key(info.key)
            pid = objects.pack_of_key(info.key) or objects.pack_of_index_key(info.key)
            if (mid is not None and mid in live_manifests) or (blob is not None and blob in live_blobs) \
                    or (pid is not None and pid in live_packs):
                continue
            if now - info.modified < grace:
                report.kept_young += 1
                continue
            doomed.append(info.key)
    if not dry_run:
        remote.delete(doomed)
    report.objects_removed = len(doomed)
    return report
