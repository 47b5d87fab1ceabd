"""The store database (SQLite, `STORE/db-v1.sqlite`): which prefixes are valid and what they
reference, which artifacts were ingested as which manifests, compiled bytecode, and GC roots.
A prefix row is written only after its directory is complete and renamed into place, inside
one transaction, so a crash leaves either a valid registration or none."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1
DB_NAME = "db-v1.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prefixes (
    path TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    manifests TEXT NOT NULL,          -- JSON list of [label, manifest id]
    interpreter TEXT NOT NULL,        -- the interpreter's store path (a reference)
    sources TEXT NOT NULL,            -- JSON list of the wheel manifests it was built from
    lock_hash TEXT NOT NULL,
    created REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    sha256 TEXT PRIMARY KEY,          -- the wheel's hash from the lock/index
    manifest_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    url TEXT NOT NULL,
    size INTEGER NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bytecode (
    source_manifest TEXT NOT NULL,
    interpreter TEXT NOT NULL,
    manifest_id TEXT NOT NULL,
    last_used REAL NOT NULL,
    PRIMARY KEY (source_manifest, interpreter)
);
CREATE TABLE IF NOT EXISTS placements (
    wheel_manifest TEXT NOT NULL,
    python TEXT NOT NULL,             -- "X.Y/<placement version>"
    core_manifest TEXT NOT NULL,      -- the prefix-independent part of the placed wheel
    sources_manifest TEXT,            -- its .py files, the bytecode compile's input; NULL if none
    extra TEXT NOT NULL,              -- JSON: what each prefix adds (scripts, RECORD rows)
    PRIMARY KEY (wheel_manifest, python)
);
CREATE TABLE IF NOT EXISTS roots (
    link TEXT PRIMARY KEY,            -- absolute path of an out-link or profile generation
    prefix TEXT NOT NULL,
    kind TEXT NOT NULL,
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class PrefixRow:
    path: str
    name: str
    manifests: list[tuple[str, str]]
    interpreter: str
    sources: list[str]
    lock_hash: str
    created: float
    last_used: float


@dataclass(frozen=True)
class ArtifactRow:
    sha256: str
    manifest_id: str
    filename: str
    url: str
    size: int
    last_used: float


class StoreDB:
    """A connection per process; writes use short IMMEDIATE transactions."""

    def __init__(self, store_root: Path) -> None:
        self.path = Path(store_root) / DB_NAME
        if self.path.exists() and not os.access(self.path.parent, os.W_OK):
            # A store this process cannot write (read-only, another user's): WAL readers need
            # -shm and -wal files it cannot create, so read the file as it is. Writes then fail
            # as "attempt to write a readonly database", which the CLI reports as such.
            self.conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None)
            return
        self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a power loss may roll back the last commits but never corrupts the
        # database; a rolled-back prefix registration leaves an unregistered directory that gc
        # removes, the same state as a crash before registration. FULL would fsync every commit.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        self.conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
        )

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # prefixes -------------------------------------------------------------------------------
    def register_prefix(
        self,
        path: Path,
        name: str,
        manifests: list[tuple[str, str]],
        interpreter: str,
        sources: list[str],
        lock_hash: str,
    ) -> None:
        now = time.time()
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO prefixes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (str(path), name, json.dumps(manifests), interpreter, json.dumps(sources), lock_hash, now, now),
            )

    def prefix(self, path: Path) -> PrefixRow | None:
        row = self.conn.execute("SELECT * FROM prefixes WHERE path = ?", (str(path),)).fetchone()
        return _prefix_row(row) if row else None

    def prefixes(self) -> list[PrefixRow]:
        return [_prefix_row(r) for r in self.conn.execute("SELECT * FROM prefixes ORDER BY path")]

    def touch_prefix(self, path: Path) -> None:
        self.conn.execute("UPDATE prefixes SET last_used = ? WHERE path = ?", (time.time(), str(path)))

    def forget_prefixes(self, paths: list[str]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM prefixes WHERE path = ?", [(p,) for p in paths])
            c.executemany("DELETE FROM roots WHERE prefix = ?", [(p,) for p in paths])

    # artifacts ------------------------------------------------------------------------------
    def artifact(self, sha256: str) -> ArtifactRow | None:
        row = self.conn.execute("SELECT * FROM artifacts WHERE sha256 = ?", (sha256,)).fetchone()
        return ArtifactRow(*row) if row else None

    def artifacts(self) -> list[ArtifactRow]:
        return [ArtifactRow(*r) for r in self.conn.execute("SELECT * FROM artifacts")]

    def register_artifact(self, sha256: str, manifest_id: str, filename: str, url: str, size: int) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?, ?)",
                (sha256, manifest_id, filename, url, size, time.time()),
            )

    def touch_artifacts(self, sha256s: list[str]) -> None:
        now = time.time()
        with self.transaction() as c:
            c.executemany("UPDATE artifacts SET last_used = ? WHERE sha256 = ?", [(now, s) for s in sha256s])

    # bytecode -------------------------------------------------------------------------------
    def bytecode(self, source_manifest: str, interpreter: str) -> str | None:
        row = self.conn.execute(
            "SELECT manifest_id FROM bytecode WHERE source_manifest = ? AND interpreter = ?",
            (source_manifest, interpreter),
        ).fetchone()
        return row[0] if row else None

    def register_bytecode(self, source_manifest: str, interpreter: str, manifest_id: str) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO bytecode VALUES (?, ?, ?, ?)",
                (source_manifest, interpreter, manifest_id, time.time()),
            )

    def bytecode_rows(self) -> list[tuple[str, str, str, float]]:
        return list(self.conn.execute("SELECT * FROM bytecode"))

    # placements -----------------------------------------------------------------------------
    def placement(self, wheel_manifest: str, python: str) -> tuple[str, str | None, str] | None:
        row = self.conn.execute(
            "SELECT core_manifest, sources_manifest, extra FROM placements WHERE wheel_manifest = ? AND python = ?",
            (wheel_manifest, python),
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def register_placements(self, rows: list[tuple[str, str, str, str | None, str]]) -> None:
        """(wheel manifest, python, core manifest, sources manifest, extra) rows."""
        if rows:
            with self.transaction() as c:
                c.executemany("INSERT OR REPLACE INTO placements VALUES (?, ?, ?, ?, ?)", rows)

    def placement_rows(self) -> list[tuple[str, str | None]]:
        """(core manifest, sources manifest) of every cached placement."""
        return list(self.conn.execute("SELECT core_manifest, sources_manifest FROM placements"))

    # roots ----------------------------------------------------------------------------------
    def add_root(self, link: Path, prefix: Path, kind: str) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO roots VALUES (?, ?, ?, ?)", (str(link), str(prefix), kind, time.time())
            )

    def roots(self) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.conn.execute("SELECT link, prefix, kind FROM roots ORDER BY link")]

    def forget_roots(self, links: list[str]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM roots WHERE link = ?", [(link,) for link in links])

    def prune_orphans(self, live_manifests: set[str]) -> None:
        """Drop artifact, bytecode and placement rows whose manifests the sweep removed."""
        with self.transaction() as c:
            for sha, mid in list(c.execute("SELECT sha256, manifest_id FROM artifacts")):
                if mid not in live_manifests:
                    c.execute("DELETE FROM artifacts WHERE sha256 = ?", (sha,))
            for src, interp, mid in list(c.execute("SELECT source_manifest, interpreter, manifest_id FROM bytecode")):
                if mid not in live_manifests or src not in live_manifests:
                    c.execute(
                        "DELETE FROM bytecode WHERE source_manifest = ? AND interpreter = ?", (src, interp)
                    )
            rows = c.execute("SELECT wheel_manifest, python, core_manifest, sources_manifest FROM placements")
            for wheel, python, core, sources in list(rows):
                if not {wheel, core, sources or core} <= live_manifests:
                    c.execute("DELETE FROM placements WHERE wheel_manifest = ? AND python = ?", (wheel, python))


def _prefix_row(row: tuple) -> PrefixRow:
    path, name, manifests, interpreter, sources, lock_hash, created, last_used = row
    pairs = [(str(label), str(mid)) for label, mid in json.loads(manifests)]
    return PrefixRow(path, name, pairs, interpreter, json.loads(sources), lock_hash, created, last_used)
