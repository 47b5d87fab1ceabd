"""Download wheels named by a lock, in parallel, each checked against its sha256 (and size)
while it streams; a failed check deletes the file and caches nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import urllib3

from envstore.errors import EnvstoreError, while_doing

CHUNK = 1 << 20
RETRIES = urllib3.Retry(total=4, backoff_factor=0.5, status_forcelist=(500, 502, 503, 504), allowed_methods=["GET"])


class FetchError(EnvstoreError):
    code = "fetch"


class HashMismatch(FetchError):
    code = "hash-mismatch"


@dataclass(frozen=True)
class WheelRef:
    name: str  # "numpy 2.1.3", for messages
    url: str
    filename: str
    sha256: str
    size: int | None


def _pool() -> urllib3.PoolManager:
    return urllib3.PoolManager(num_pools=8, maxsize=8, retries=RETRIES, timeout=urllib3.Timeout(connect=15, read=60))


def fetch_one(
    pool: urllib3.PoolManager, ref: WheelRef, dest_dir: Path, on_bytes: Callable[[int], None] | None = None
) -> Path:
    if not ref.sha256:
        raise FetchError(f"no sha256 for {ref.name} in the lock; refusing to download an unchecked wheel")
    dest = dest_dir / ref.filename
    digest = hashlib.sha256()
    size = 0
    try:
        with open(dest, "wb") as out:
            for chunk in _stream(pool, ref):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
    except OSError as e:
        dest.unlink(missing_ok=True)
        raise while_doing(e, f"downloading {ref.filename} for {ref.name}", dest) from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    actual = digest.hexdigest()
    if actual != ref.sha256 or (ref.size is not None and size != ref.size):
        dest.unlink(missing_ok=True)
        raise HashMismatch(
            f"hash mismatch for {ref.name} ({ref.filename}): expected sha256 {ref.sha256}"
            + (f" and {ref.size} bytes" if ref.size is not None else "")
            + f", got {actual} and {size} bytes"
        )
    return dest


def _stream(pool: urllib3.PoolManager, ref: WheelRef) -> Iterable[bytes]:
    parsed = urllib.parse.urlparse(ref.url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        try:
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk
        except OSError as e:
            raise FetchError(f"cannot read {ref.filename} for {ref.name}: {e}") from None
        return
    try:
        resp = pool.request("GET", ref.url, preload_content=False)
    except urllib3.exceptions.HTTPError as e:
        raise FetchError(f"downloading {ref.filename} for {ref.name} failed: {e}") from None
    try:
        if resp.status != 200:
            raise FetchError(f"downloading {ref.url} for {ref.name} failed: HTTP {resp.status}")
        yield from resp.stream(CHUNK)
    except urllib3.exceptions.HTTPError as e:
        raise FetchError(f"downloading {ref.filename} for {ref.name} failed: {e}") from None
    finally:
        resp.release_conn()


def fetch_all(
    refs: list[WheelRef],
    dest_dir: Path,
    on_done: Callable[[WheelRef, Path], None] | None = None,
    workers: int = 6,
    on_bytes: Callable[[int], None] | None = None,
) -> dict[str, Path]:
    """Download every ref into dest_dir; returns sha256 -> path. The first failure is raised."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    pool = _pool()
    results: dict[str, Path] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(refs)))) as ex:
        futures = {ex.submit(fetch_one, pool, ref, dest_dir, on_bytes): ref for ref in refs}
        for fut, ref in futures.items():
            path = fut.result()
            results[ref.sha256] = path
            if on_done is not None:
                on_done(ref, path)
    return results


def discard(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
