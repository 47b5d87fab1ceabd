"""The store lock: realize holds it shared for its whole run, GC holds it exclusive, so a
sweep never sees a half-built prefix or blobs a running realize is about to link. flock on an
open descriptor: the kernel drops it when the owner dies, so there are no stale locks."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from envstore.errors import EnvstoreError

LOCK_NAME = "lock"


class LockTimeout(EnvstoreError):
    code = "lock-timeout"
    hint = "another envstore command is using the store; wait for it or raise --lock-timeout"


@contextmanager
def file_lock(path: Path, exclusive: bool, timeout: float | None = None, on_wait=None) -> Iterator[None]:
    """Hold flock on `path`; wait up to `timeout` seconds (None: forever)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise LockTimeout(f"timed out after {timeout:g}s waiting for the store lock {path}") from None
                    time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def store_lock(store_root: Path, exclusive: bool, timeout: float | None = None, on_wait=None):
    return file_lock(Path(store_root) / LOCK_NAME, exclusive, timeout, on_wait)
