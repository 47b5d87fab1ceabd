"""Space held back for `store gc` (RELIABILITY row 20: GC can still run on a full disk).

SQLite needs room to open the store's database in WAL mode (the -wal and -shm files) and to
record what gc deletes, so on a completely full disk gc could not even start. A realize that
succeeds leaves `reserve-v1` (1 MiB) in the store; gc deletes it before it opens the database
and puts it back afterwards when there is room. Best effort everywhere: a store that cannot
be written simply has no reserve."""

from __future__ import annotations

import os
from pathlib import Path

NAME = "reserve-v1"
SIZE = 1 << 20


def ensure(root: Path) -> None:
    """Create the reserve if it is missing and the filesystem has room to spare for it."""
    path = Path(root) / NAME
    if path.exists():
        return
    tmp = path.with_name(f".{NAME}.{os.getpid()}")
    try:
        st = os.statvfs(root)
        if st.f_bavail * st.f_frsize < 4 * SIZE:
            return
        with open(tmp, "wb") as f:
            f.write(os.urandom(SIZE))  # random: a compressing filesystem must really allocate it
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


def release(root: Path) -> None:
    """Free the reserve's space, and any half-written one a crash left (gc, before it opens
    the database)."""
    for path in [Path(root) / NAME, *Path(root).glob(f".{NAME}.*")]:
        try:
            path.unlink()
        except OSError:
            pass
