"""What a cache holds and under which key, spelled once: zstd-compressed blobs named by their
BLAKE3 key, manifests named by their id, one signed record per store path, interpreter records.
Every object read back is checked against its name before anything is stored from it."""

from __future__ import annotations

import json

import zstandard

from envstore._core import hash_bytes
from envstore.cache.remote import CacheError

CACHE_FORMAT = 1
INFO_KEY = "envstore-cache.json"  # {"format": 1}: what kind of cache this is
BLOBS = "blobs-v1/"
MANIFESTS = "manifests-v1/"
RECORDS = "records-v1/"
INTERPRETERS = "python-v1/"
# One signed record per (wheel, interpreter): what a store needs to place that wheel for that
# interpreter without the index or a compiler, so a prefix the cache has no record of can still
# take the wheels it shares with the prefixes that were pushed (a partial hit).
WHEELS = "wheels-v1/"
PACKS = "packs-v1/"
# Small blobs travel in packs (as git and attic batch small objects): one object of many
# compressed blobs, and its index. Per-object requests dominate a pull of many small files.
PACK_BELOW = 256 * 1024  # blobs smaller than this (uncompressed) are packed
PACK_TARGET = 32 * 1024 * 1024  # a pack is closed when its compressed size passes this


def blob_key(blob: str) -> str:
    """`blob` is the store's key: the BLAKE3 hex digest, plus `.x` for an executable blob."""
    return f"{BLOBS}{blob[:2]}/{blob}.zst"


def blob_of_key(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1]
    return name[:-4] if key.startswith(BLOBS) and name.endswith(".zst") else None


def manifest_key(manifest_id: str) -> str:
    return f"{MANIFESTS}{manifest_id}.json.zst"


def manifest_of_key(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1]
    return name[: -len(".json.zst")] if key.startswith(MANIFESTS) and name.endswith(".json.zst") else None


def record_key(store_path_name: str) -> str:
    return f"{RECORDS}{store_path_name}.json"


def interpreter_key(store_path_name: str) -> str:
    return f"{INTERPRETERS}{store_path_name}.json"


def interpreter_alias_key(kind: str, value: str) -> str:
    """The interpreter's record again, found by what a machine knows before importing it: the
    hash of the staged tree before its bytecode is compiled (`source`), or the sha256 of the
    python-build-standalone archive it came from (`archive`)."""
    return f"{INTERPRETERS}by-{kind}/{value}.json"


def wheel_key(sha256: str, interpreter_tree: str) -> str:
    return f"{WHEELS}{sha256}/{interpreter_tree}.json"


def wheel_record_name(sha256: str, interpreter_tree: str) -> str:
    """What a wheel record's `store_path` field holds: the record names what it is for, and a
    record copied under another wheel's key is refused like a prefix record of another path."""
    return f"wheel-{sha256}-{interpreter_tree}"


def pack_key(pack_id: str) -> str:
    return f"{PACKS}{pack_id}.pack"


def pack_index_key(pack_id: str) -> str:
    """Written after its pack: an index names only a pack that is complete."""
    return f"{PACKS}{pack_id}.idx.zst"


def pack_of_index_key(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1]
    return name[: -len(".idx.zst")] if key.startswith(PACKS) and name.endswith(".idx.zst") else None


def pack_of_key(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1]
    return name[: -len(".pack")] if key.startswith(PACKS) and name.endswith(".pack") else None


def pack_index(entries: dict[str, tuple[int, int]]) -> bytes:
    """blob -> (offset, compressed length) in the pack."""
    return compress(json.dumps({"format": CACHE_FORMAT, "blobs": entries}, sort_keys=True).encode())


def read_pack_index(pack_id: str, data: bytes, url: str) -> dict[str, tuple[int, int]]:
    text = decompress(data, f"pack index {pack_id[:16]}", url, 1 << 30)
    try:
        doc = json.loads(text)
        return {b: (int(o), int(n)) for b, (o, n) in doc["blobs"].items()}
    except (ValueError, KeyError, TypeError):
        raise CacheError(f"pack index {pack_id[:16]} in {url} is damaged; nothing was stored from it") from None


def compress(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


def decompress(data: bytes, what: str, url: str, limit: int) -> bytes:
    """A truncated or corrupt frame is refused here, with the object's name."""
    try:
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=limit)
    except zstandard.ZstdError as e:
        raise CacheError(f"{what} in {url} is damaged (truncated or not zstd: {e}); nothing was stored from it",
                         hint="`store cache verify URL` lists what is damaged; push again to replace it") from None


def blob_content(blob: str, data: bytes, url: str, size: int) -> bytes:
    """The blob's bytes, checked against its name as they land."""
    content = decompress(data, f"blob {blob[:16]}", url, max(size, 1))
    if len(content) != size or hash_bytes(content) != blob.split(".")[0]:
        raise CacheError(f"blob {blob[:16]} in {url} does not match its name (its content hashes to "
                         f"{hash_bytes(content)[:16]}); nothing was published",
                         hint="the cache is damaged or was tampered with: `store cache verify URL`")
    return content


def manifest_content(manifest_id: str, data: bytes, url: str) -> bytes:
    content = decompress(data, f"manifest {manifest_id[:16]}", url, 1 << 30)
    if hash_bytes(content) != manifest_id:
        raise CacheError(f"manifest {manifest_id[:16]} in {url} does not match its name; nothing was published",
                         hint="the cache is damaged or was tampered with: `store cache verify URL`")
    return content


def manifest_blobs(text: bytes) -> dict[str, int]:
    """blob key -> size of every file a manifest names."""
    out = {}
    for entry in json.loads(text)["entries"].values():
        if entry["type"] == "file":
            out[entry["hash"] + (".x" if entry.get("executable") else "")] = entry["size"]
    return out
