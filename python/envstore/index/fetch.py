"""Download wheels named by a lock, in parallel, each checked against its sha256 (and size)
while it streams; a failed check deletes the file and caches nothing. Every request has pip's
connect and read timeout and a bounded number of attempts; the first failure stops the rest."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import urllib3

from envstore.errors import EnvstoreError, while_doing
from envstore.index.config import RETRIES, pip_timeout, read_pip_config
from envstore.index.http import RETRY_STATUSES, failure_reason, is_transient, timeouts

CHUNK = 1 << 20
DOWNLOAD_TIMEOUT_HINT = ("the server stopped answering; check your network and run the command again, or raise "
                         "pip's timeout (PIP_DEFAULT_TIMEOUT or `timeout` in pip.conf)")


class FetchError(EnvstoreError):
    code = "fetch"


class HashMismatch(FetchError):
    code = "hash-mismatch"


class _Stopped(Exception):
    """Another download failed: this one gives up at its next chunk."""


@dataclass(frozen=True)
class WheelRef:
    name: str  # "numpy 2.1.3", for messages
    url: str
    filename: str
    sha256: str
    size: int | None


def _pool(timeout: float, cert: str | None = None) -> urllib3.PoolManager:
    # urllib3 retries connecting, reading the response head and 5xx a bounded number of times. A
    # body that stalls after the head fails at the read timeout instead: restarting it would count
    # its bytes twice in the progress shown.
    retries = urllib3.Retry(total=RETRIES, backoff_factor=0.25, status_forcelist=tuple(RETRY_STATUSES),
                            allowed_methods=["GET"], raise_on_status=False)
    kw = {"ca_certs": cert} if cert and Path(cert).exists() else {}
    return urllib3.PoolManager(num_pools=8, maxsize=8, retries=retries, timeout=timeouts(timeout), **kw)


def fetch_one(
    pool: urllib3.PoolManager, ref: WheelRef, dest_dir: Path, on_bytes: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> Path:
    if not ref.sha256:
        raise FetchError(f"no sha256 for {ref.name} in the lock; refusing to download an unchecked wheel")
    dest = dest_dir / ref.filename
    digest = hashlib.sha256()
    size = 0
    try:
        with open(dest, "wb") as out:
            for chunk in _stream(pool, ref):
                if stop is not None and stop.is_set():
                    raise _Stopped
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
        raise _failed(ref, e, pool, f" after {RETRIES + 1} attempts" if is_transient(e) else "") from None
    try:
        if resp.status != 200:
            raise FetchError(f"downloading {ref.url} for {ref.name} failed: HTTP {resp.status}")
        yield from resp.stream(CHUNK)
    except urllib3.exceptions.HTTPError as e:
        raise _failed(ref, e, pool, "") from None
    finally:
        resp.release_conn()


def _failed(ref: WheelRef, e: urllib3.exceptions.HTTPError, pool: urllib3.PoolManager, tries: str) -> FetchError:
    seconds = pool.connection_pool_kw["timeout"].read_timeout  # the pool's own setting, for the message
    reason, timed_out = failure_reason(e, seconds)
    err = FetchError(f"downloading {ref.url} for {ref.name} failed: {reason}{tries}")
    if timed_out:
        err.hint = DOWNLOAD_TIMEOUT_HINT
    return err


def fetch_all(
    refs: list[WheelRef],
    dest_dir: Path,
    on_done: Callable[[WheelRef, Path], None] | None = None,
    workers: int = 6,
    on_bytes: Callable[[int], None] | None = None,
    timeout: float | None = None,
) -> dict[str, Path]:
    """Download every ref into dest_dir; returns sha256 -> path. `on_done` runs in the caller's
    thread as each download completes. The first failure stops the other downloads and is raised.
    `timeout` (seconds) defaults to pip's configured timeout."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    pip = read_pip_config()
    pool = _pool(pip_timeout(pip) if timeout is None else timeout, pip.get("cert"))
    results: dict[str, Path] = {}
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(refs)))) as ex:
        pending = {ex.submit(fetch_one, pool, ref, dest_dir, on_bytes, stop): ref for ref in refs}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    ref = pending.pop(fut)
                    path = fut.result()
                    results[ref.sha256] = path
                    if on_done is not None:
                        on_done(ref, path)
        except BaseException:
            # Queued downloads never start; running ones end at their next chunk (or timeout).
            stop.set()
            for fut in pending:
                fut.cancel()
            raise
    return results


def discard(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
