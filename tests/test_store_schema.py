"""The store database's schema is checked on open (issue 14): a store written by a newer
envstore is refused with one clear line and left as it is, an older one climbs the one
migration ladder, and StoreSession holds the store lock as the commands did by hand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import run_store
from envstore.store import db as store_db
from envstore.store import layout
from envstore.store.session import StoreSession
from envstore.store.locks import LockTimeout


def _schema(root: Path) -> str:
    conn = sqlite3.connect(layout.db_path(root))
    try:
        return conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
    finally:
        conn.close()


def _set_schema(root: Path, value: int) -> None:
    conn = sqlite3.connect(layout.db_path(root))
    try:
        with conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(value),))
    finally:
        conn.close()


def test_newer_schema_is_refused_with_one_line(store_root: Path) -> None:
    run_store("list", store_root=store_root, check=True)  # creates the database at today's schema
    assert _schema(store_root) == str(store_db.SCHEMA_VERSION)
    newer = store_db.SCHEMA_VERSION + 1
    _set_schema(store_root, newer)

    r = run_store("list", store_root=store_root)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    assert f"written by a newer envstore (schema {newer}, this one reads up to {store_db.SCHEMA_VERSION})" in lines[0]
    assert lines[1].startswith("hint: ") and "upgrade envstore" in lines[1] and "--store" in lines[1]
    assert _schema(store_root) == str(newer), "a refused store is not rewritten"

    as_json = run_store("list", "--json", store_root=store_root)
    assert as_json.returncode == 1 and "newer envstore" in as_json.stderr


def test_current_schema_keeps_working(store_root: Path) -> None:
    run_store("list", store_root=store_root, check=True)
    r = run_store("list", store_root=store_root)
    assert r.returncode == 0, r.stderr
    assert _schema(store_root) == str(store_db.SCHEMA_VERSION)


def test_older_schema_climbs_the_ladder(store, store_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ladder as the next schema change will use it: one step from the current version."""
    store_db.StoreDB(store_root).close()
    current = store_db.SCHEMA_VERSION
    ran: list[int] = []

    def step(conn: sqlite3.Connection) -> None:
        ran.append(current)
        conn.execute("CREATE TABLE added_by_step (x INTEGER)")

    monkeypatch.setattr(store_db, "SCHEMA_VERSION", current + 1)
    monkeypatch.setattr(store_db, "MIGRATIONS", [(current, step)])
    opened = store_db.StoreDB(store_root)
    opened.close()
    reopened = store_db.StoreDB(store_root)  # already climbed: the step does not run again
    reopened.close()
    assert ran == [current]
    assert _schema(store_root) == str(current + 1)


def test_session_holds_the_store_lock(store_root: Path) -> None:
    with StoreSession(store_root, "exclusive") as gc_like:
        assert gc_like.db.prefixes() == []
        with pytest.raises(LockTimeout, match="waiting for the store lock"):
            with StoreSession(store_root, "shared", timeout=0.2):
                pass
    with StoreSession(store_root, "shared") as a, StoreSession(store_root, "shared") as b:
        assert a.store.root == b.store.root == str(store_root)
    with pytest.raises(ValueError):
        StoreSession(store_root, "both")  # type: ignore[arg-type]
