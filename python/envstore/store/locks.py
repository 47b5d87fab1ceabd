"""The store lock: realize holds it shared for its whole run, GC holds it exclusive, so a
sweep never sees a half-built prefix or blobs a running realize is about to link. flock on an
open descriptor: the kernel drops it when the owner dies, so there are no stale locks."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from envstore.errors import EnvstoreError
from envstore.store import layout


class LockTimeout(EnvstoreError):
    code = "lock-timeout"
    hint = "another envstore command is using the store; wait for it or raise --lock-timeout"


def _open_lock_file(path: Path, read_only_ok: bool) -> int | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        if not read_only_ok or e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
    # A store this process cannot write (read-only, another user's): flock needs no write
    # access, so a reader still excludes a gc of the owner's. No lock file: nobody has ever
    # written this store, so there is no writer to exclude.
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None


@contextmanager
def file_lock(path: Path, exclusive: bool, timeout: float | None = None, on_wait=None,
              read_only_ok: bool = False) -> Iterator[None]:
    """Hold flock on `path`; wait up to `timeout` seconds (None: forever). `read_only_ok`: on a
    store this process cannot write, lock through a read-only descriptor (readers only)."""
    fd = _open_lock_file(path, read_only_ok)
    if fd is None:
        yield
        return
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


def store_lock(store_root: Path, exclusive: bool, timeout: float | None = None, on_wait=None,
               read_only_ok: bool = False):
    """The store-wide lock; callers take it through envstore.store.session.StoreSession."""
    return file_lock(layout.lock_path(store_root), exclusive, timeout, on_wait, read_only_ok)
