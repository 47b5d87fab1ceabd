"""The HTTP cache inside the store (STORE/cache/http-v1/): response bodies with their
validators (ETag, Last-Modified) and freshness, written atomically. A cache entry is only ever
written after its bytes passed every check the caller makes (hashes are checked before `put`)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from envstore.store.fs import write_atomic


@dataclass
class CacheEntry:
    url: str
    body: bytes
    headers: dict[str, str]
    stored_at: float
    max_age: float | None

    def fresh(self, now: float | None = None) -> bool:
        if self.max_age is None:
            return False
        return (now or time.time()) - self.stored_at < self.max_age


class HttpCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _paths(self, key: str) -> tuple[Path, Path]:
        digest = hashlib.sha256(key.encode()).hexdigest()
        d = self.root / digest[:2]
        return d / f"{digest}.json", d / f"{digest}.body"

    def get(self, key: str) -> CacheEntry | None:
        meta_path, body_path = self._paths(key)
        try:
            meta = json.loads(meta_path.read_text())
            body = body_path.read_bytes()
        except (OSError, ValueError):
            return None
        if meta.get("body-sha256") != hashlib.sha256(body).hexdigest():
            return None  # torn or damaged entry: treat as absent, it will be refetched
        return CacheEntry(meta["url"], body, meta["headers"], meta["stored-at"], meta.get("max-age"))

    def put(self, key: str, url: str, body: bytes, headers: dict[str, str], max_age: float | None) -> None:
        meta_path, body_path = self._paths(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"url": url, "headers": headers, "stored-at": time.time(), "max-age": max_age,
                "body-sha256": hashlib.sha256(body).hexdigest()}
        # Body first, then the metadata that vouches for it: a crash leaves no entry that lies.
        # No fsync: a torn entry fails its body-sha256 check on read and is refetched.
        write_atomic(body_path, body, fsync=False)
        write_atomic(meta_path, json.dumps(meta, sort_keys=True), fsync=False)

    def touch(self, key: str, entry: CacheEntry, headers: dict[str, str], max_age: float | None) -> None:
        """A 304: the body is still right; record the new freshness."""
        merged = {**entry.headers, **{k: v for k, v in headers.items() if k in _KEPT}}
        self.put(key, entry.url, entry.body, merged, max_age)


_KEPT = ("etag", "last-modified", "content-type", "cache-control")
