"""Space held back for `store gc` (RELIABILITY row 20: GC can still run on a full disk).

SQLite needs room to open the store's database in WAL mode (the -wal and -shm files) and to
record what gc deletes, so on a completely full disk gc could not even start. A realize that
succeeds leaves `reserve-v1` (layout.RESERVE_FILE, 1 MiB) in the store; gc deletes it before it opens the database
and puts it back afterwards when there is room. Best effort everywhere: a store that cannot
be written simply has no reserve."""

from __future__ import annotations

import os
from pathlib import Path

from envstore.store import layout
from envstore.store.fs import write_atomic

NAME = layout.RESERVE_FILE
SIZE = 1 << 20


def ensure(root: Path) -> None:
    """Create the reserve if it is missing and the filesystem has room to spare for it."""
    path = layout.reserve_path(root)
    if path.exists():
        return
    try:
        st = os.statvfs(root)
        if st.f_bavail * st.f_frsize < 4 * SIZE:
            return
        write_atomic(path, os.urandom(SIZE))  # random: a compressing filesystem must really allocate it
    except OSError:
        pass


def release(root: Path) -> None:
    """Free the reserve's space, and any half-written one a crash left (gc, before it opens
    the database)."""
    for path in [layout.reserve_path(root), *Path(root).glob(f".{NAME}.*")]:
        try:
            path.unlink()
        except OSError:
            pass
