"""One way to work on a store: `with StoreSession(root, "shared") as s:` holds the store lock
for the block and gives its database (`s.db`) and core store (`s.store`). The one locking
rule: whatever writes or inspects the store does it inside a session; realize, imports and
verify take it shared, gc and repair exclusive, so a sweep never sees a half-built prefix or
blobs a running writer is about to link."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Callable, Literal

from envstore._core import Store
from envstore.store import open_store
from envstore.store.db import StoreDB
from envstore.store.locks import store_lock

Mode = Literal["shared", "exclusive"]


class StoreSession:
    """The store lock, the database and the core store for the length of a `with` block.

    The database and the core store are opened on first use (an interpreter import needs no
    database); a `store` or `db` passed in is used and left open, what the session opened it
    closes, after the lock is released."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: Mode = "shared",
        *,
        store: Store | None = None,
        db: StoreDB | None = None,
        timeout: float | None = None,
        on_wait: Callable[[], None] | None = None,
        read_only_ok: bool = False,
    ) -> None:
        if mode not in ("shared", "exclusive"):
            raise ValueError(f"mode must be 'shared' or 'exclusive', not {mode!r}")
        self.root = Path(root)
        self.mode = mode
        self._store = store
        self._db = db
        self._own_db: StoreDB | None = None
        self._timeout = timeout
        self._on_wait = on_wait
        self._read_only_ok = read_only_ok
        self._stack: ExitStack | None = None

    def __enter__(self) -> StoreSession:
        with ExitStack() as stack:
            stack.callback(self._close_db)  # runs after the lock is released: callbacks unwind LIFO
            stack.enter_context(store_lock(self.root, exclusive=self.mode == "exclusive",
                                           timeout=self._timeout, on_wait=self._on_wait,
                                           read_only_ok=self._read_only_ok))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def _close_db(self) -> None:
        db, self._own_db = self._own_db, None
        if db is not None:
            db.close()

    @property
    def db(self) -> StoreDB:
        """The store database (schema checked on open), opened on first use."""
        if self._stack is None:
            raise RuntimeError("StoreSession.db used outside its with block")
        if self._db is not None:
            return self._db
        if self._own_db is None:
            self._own_db = StoreDB(self.root)
        return self._own_db

    @property
    def store(self) -> Store:
        """The core store, opened on first use if none was given."""
        if self._store is None:
            self._store = open_store(self.root)
        return self._store


__all__ = ["Mode", "StoreSession"]
