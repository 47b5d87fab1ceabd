"""Moving a closure of manifests and blobs between the store and a cache, in parallel. Upload:
what the cache lacks (found by listing, not one request per object), small blobs in packs and
the rest one object each, blobs before the manifests that name them. Download: what the store
lacks, every object checked against its name before it is stored, blobs before manifests, so
a pull killed at any point leaves only complete, correct blobs and manifests that the next pull
reuses."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from envstore._core import Store, hash_bytes
from envstore.cache import objects
from envstore.cache.remote import CacheError, Remote, existing
from envstore import settings

WORKERS = 16  # requests in flight: object stores reward parallelism, not big requests
BATCH = 256  # blobs handed to the core at once (one sync covers a batch)
PACK_CHUNK = 256  # blobs of one pack fetched by one request


@dataclass
class Transfer:
    blobs: int = 0
    bytes: int = 0  # as sent or received (compressed)
    manifests: int = 0
    requests: int = 0
    packs: int = 0
    located: dict[str, str] = field(default_factory=dict)  # blob -> the pack holding it, for packed blobs


def closure_blobs(store: Store, manifest_ids: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for mid in manifest_ids:
        out.update(objects.manifest_blobs(store.manifest_json(mid).encode()))
    return out


def packs_of(located: dict[str, str], blobs: Iterable[str]) -> list[str]:
    """The packs a closure's blobs are in: what a record lists, so a pull reads those indexes only."""
    return sorted({located[b] for b in blobs if b in located})


def pack_indexes(remote: Remote, pack_ids: Iterable[str], pool: ThreadPoolExecutor) -> dict[str, dict[str, tuple[int, int]]]:
    def one(pid: str) -> tuple[str, dict[str, tuple[int, int]] | None]:
        data = remote.get(objects.pack_index_key(pid))
        return pid, objects.read_pack_index(pid, data, remote.url) if data is not None else None

    return {pid: idx for pid, idx in pool.map(one, list(dict.fromkeys(pack_ids))) if idx is not None}


def upload(remote: Remote, store: Store, manifest_ids: list[str], advance: Callable[[int], None] | None = None) -> Transfer:
    t = Transfer()
    loose = existing(remote, objects.BLOBS)
    present_manifests = existing(remote, objects.MANIFESTS)
    pack_ids = [p for p in (objects.pack_of_index_key(k) for k in existing(remote, objects.PACKS)) if p]
    t.requests += 3 + len(pack_ids)
    need = closure_blobs(store, manifest_ids)
    with ThreadPoolExecutor(WORKERS) as pool:
        for pid, idx in pack_indexes(remote, pack_ids, pool).items():
            for blob in idx:
                if blob in need:
                    t.located.setdefault(blob, pid)
        missing = [b for b in need if objects.blob_key(b) not in loose and b not in t.located]
        small = [b for b in missing if need[b] < objects.PACK_BELOW]
        big = [b for b in missing if need[b] >= objects.PACK_BELOW]

        def compressed(blob: str) -> tuple[str, bytes]:
            with open(store.blob_path(blob), "rb") as f:
                return blob, objects.compress(f.read())

        def put_blob(blob: str) -> int:
            _blob, data = compressed(blob)
            remote.put(objects.blob_key(blob), data)
            return len(data)

        for n in pool.map(put_blob, big):
            t.blobs += 1
            t.bytes += n
            if advance:
                advance(1)
        t.requests += len(big)
        for pid, entries, size in _packs(pool.map(compressed, small), remote):
            for blob in entries:
                t.located[blob] = pid
            t.blobs += len(entries)
            t.bytes += size
            t.packs += 1
            t.requests += 2
            if advance:
                advance(len(entries))
        manifests = [m for m in dict.fromkeys(manifest_ids) if objects.manifest_key(m) not in present_manifests]

        def put_manifest(mid: str) -> int:
            data = objects.compress(store.manifest_json(mid).encode())
            remote.put(objects.manifest_key(mid), data)
            return len(data)

        # manifests only once every blob they name is in the cache
        for n in pool.map(put_manifest, manifests):
            t.manifests += 1
            t.bytes += n
        t.requests += len(manifests)
    return t


def _packs(items: Iterator[tuple[str, bytes]], remote: Remote) -> Iterator[tuple[str, dict[str, tuple[int, int]], int]]:
    """Group compressed blobs into packs of about PACK_TARGET; each pack is written, then its
    index. A pack is named by the BLAKE3 hash of its bytes, so it never changes either."""
    parts: list[bytes] = []
    entries: dict[str, tuple[int, int]] = {}
    offset = 0

    def flush() -> tuple[str, dict[str, tuple[int, int]], int]:
        data = b"".join(parts)
        pid = hash_bytes(data)
        remote.put(objects.pack_key(pid), data)
        remote.put(objects.pack_index_key(pid), objects.pack_index(entries))
        return pid, dict(entries), len(data)

    for blob, data in items:
        entries[blob] = (offset, len(data))
        parts.append(data)
        offset += len(data)
        if offset >= objects.PACK_TARGET:
            yield flush()
            parts, entries, offset = [], {}, 0
    if entries:
        yield flush()


def download(remote: Remote, store: Store, manifest_ids: list[str],
             advance: Callable[[int], None] | None = None, packs: Iterable[str] = ()) -> Transfer:
    """Make every manifest of `manifest_ids`, and every blob they name, exist in the store.
    `packs` (from a record) are the packs to look in before loose objects."""
    t = Transfer()
    local = set(store.manifest_ids())
    wanted = [m for m in dict.fromkeys(manifest_ids) if m not in local]
    texts: dict[str, bytes] = {}

    def get_manifest(mid: str) -> tuple[str, bytes, int]:
        data = remote.get(objects.manifest_key(mid))
        if data is None:
            raise CacheError(f"manifest {mid[:16]} is missing from {remote.url} (an incomplete push, or a gc); "
                             "nothing was published", hint="push the prefix again")
        return mid, objects.manifest_content(mid, data, remote.url), len(data)

    with ThreadPoolExecutor(WORKERS) as pool:
        for mid, text, n in pool.map(get_manifest, wanted):
            texts[mid] = text
            t.bytes += n
        t.requests += len(wanted)
        need: dict[str, int] = {}
        for mid in manifest_ids:
            text = texts.get(mid) or store.manifest_json(mid).encode()
            need.update(objects.manifest_blobs(text))
        missing = {b: s for b, s in need.items() if not _blob_present(store, b, s)}
        packs = list(packs)
        indexes = pack_indexes(remote, packs, pool) if packs and missing else {}
        t.requests += len(indexes)
        in_pack: dict[str, list[tuple[str, int, int]]] = {}
        packed: set[str] = set()
        for pid, idx in indexes.items():
            for blob, (offset, length) in idx.items():
                if blob in missing and blob not in packed:
                    packed.add(blob)
                    in_pack.setdefault(pid, []).append((blob, offset, length))
        loose = [(b, s) for b, s in missing.items() if b not in packed]

        def get_pack(item: tuple[str, list[tuple[str, int, int]]]) -> list[tuple[str, bytes, int]]:
            pid, members = item
            parts = remote.get_ranges(objects.pack_key(pid), [(o, n) for _b, o, n in members])
            if parts is None:  # the pack is gone: its blobs as loose objects, else "missing"
                return [get_blob((b, missing[b])) for b, _o, _n in members]
            return [(b, objects.blob_content(b, data, remote.url, missing[b]), len(data))
                    for (b, _o, _n), data in zip(members, parts)]

        def get_blob(item: tuple[str, int]) -> tuple[str, bytes, int]:
            blob, size = item
            data = remote.get(objects.blob_key(blob))
            if data is None:
                raise CacheError(f"blob {blob[:16]} is missing from {remote.url} (an incomplete push, or a gc); "
                                 "nothing was published", hint="push the prefix again")
            return blob, objects.blob_content(blob, data, remote.url, size), len(data)

        batch: list[tuple[str, bytes]] = []

        def take(blob: str, content: bytes, n: int) -> None:
            nonlocal batch
            t.bytes += n
            batch.append((blob, content))
            if len(batch) >= BATCH:
                _add(store, batch, advance)
                batch = []

        # a pack's blobs in chunks: one (coalesced) range request each, decompressed and hashed in parallel
        chunks = [(pid, members[i:i + PACK_CHUNK]) for pid, members in in_pack.items()
                  for i in range(0, len(members), PACK_CHUNK)]
        for got in pool.map(get_pack, chunks):
            for item in got:
                take(*item)
        for item in pool.map(get_blob, loose):
            take(*item)
        _add(store, batch, advance)
        t.requests += len(chunks) + len(loose)
        t.packs = len(in_pack)
    t.blobs = len(missing)
    for mid in wanted:
        settings.test_hook("cache.before_manifest")
        if store.put_manifest(texts[mid].decode()) != mid:
            raise CacheError(f"manifest {mid[:16]} from {remote.url} was stored under another id; nothing was published")
        t.manifests += 1
    return t


def _add(store: Store, batch: list[tuple[str, bytes]], advance: Callable[[int], None] | None) -> None:
    if not batch:
        return
    settings.test_hook("cache.before_blobs")
    keys = store.add_many([(data, blob.endswith(".x")) for blob, data in batch])
    for (blob, _data), key in zip(batch, keys):
        if key != blob:
            raise CacheError(f"blob {blob[:16]} was stored as {key[:16]}; nothing was published")
    if advance:
        advance(len(batch))


def _blob_present(store: Store, blob: str, size: int) -> bool:
    """The core's cheap check: a regular file of the right size, read-only. Anything else is
    fetched again, and the core replaces the damaged blob rather than trusting it."""
    try:
        st = os.stat(store.blob_path(blob))
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == size and st.st_mode & 0o222 == 0
