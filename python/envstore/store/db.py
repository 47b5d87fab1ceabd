"""The store database (SQLite, `STORE/db-v1.sqlite`, layout.DB_FILE): which prefixes are valid
and what they reference, which artifacts were ingested as which manifests, compiled bytecode,
and GC roots.
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
from typing import Callable

from envstore.errors import EnvstoreError, StoreError
from envstore.store import layout
from envstore.store import parts as prefix_parts

# The schema this code writes and reads. A newer store is refused (an older envstore would
# misread or drop what it does not know); an older one is brought up by MIGRATIONS on open.
SCHEMA_VERSION = layout.DB_SCHEMA_VERSION

# The one ladder of migrations: (from_version, step); each step takes the schema from
# `from_version` to `from_version + 1` inside the opening transaction. Version 1 is the first
# schema, so there is nothing to climb yet; a change to SCHEMA adds a step here and bumps
# layout.DB_SCHEMA_VERSION.
MIGRATIONS: list[tuple[int, Callable[[sqlite3.Connection], None]]] = []

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prefixes (
    path TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    manifests TEXT NOT NULL,          -- JSON list of part records (envstore.store.parts; older rows: [label, manifest id])
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
    parts: list[prefix_parts.Part]
    interpreter: str
    sources: list[str]
    lock_hash: str
    created: float
    last_used: float

    @property
    def manifests(self) -> list[tuple[str, str]]:
        """(label, manifest id) pairs, the form the core's materialize and verify_tree take."""
        return prefix_parts.labelled(self.parts)


@dataclass(frozen=True)
class ArtifactRow:
    sha256: str
    manifest_id: str
    filename: str
    url: str
    size: int
    last_used: float


class SchemaTooNew(EnvstoreError):
    """The store's database was written by a newer envstore than this one."""

    code = "store-too-new"
    hint = "upgrade envstore, or use another store (--store DIR)"


class StoreDB:
    """A connection per process; writes use short IMMEDIATE transactions."""

    def __init__(self, store_root: Path) -> None:
        self.path = layout.db_path(store_root)
        if self.path.exists() and not os.access(self.path.parent, os.W_OK):
            # A store this process cannot write (read-only, another user's): WAL readers need
            # -shm and -wal files it cannot create, so read the file as it is. Writes then fail
            # as "attempt to write a readonly database", which the CLI reports as such.
            self.conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None)
            self._refuse_newer(self._stored_schema())
            return
        self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a power loss may roll back the last commits but never corrupts the
        # database; a rolled-back prefix registration leaves an unregistered directory that gc
        # removes, the same state as a crash before registration. FULL would fsync every commit.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        # Checked before anything is created or written: a newer store is left exactly as it is.
        self._refuse_newer(self._stored_schema())
        self.conn.executescript(SCHEMA)
        self.conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
        )
        self._migrate()

    def _stored_schema(self) -> int | None:
        """meta.schema, or None for a database that has no tables yet."""
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return None
            raise
        return int(row[0]) if row else None

    def _refuse_newer(self, stored: int | None) -> None:
        if stored is not None and stored > SCHEMA_VERSION:
            self.conn.close()
            raise SchemaTooNew(
                f"this store was written by a newer envstore (schema {stored}, this one reads up to "
                f"{SCHEMA_VERSION}): {self.path}"
            )

    def _migrate(self) -> None:
        """Climb the ladder from the stored schema to SCHEMA_VERSION, one transaction for all
        steps, so a crash leaves the old schema or the new one. Concurrent openers serialise
        on the write lock and re-read the version inside it."""
        if (self._stored_schema() or SCHEMA_VERSION) >= SCHEMA_VERSION:
            return
        with self.transaction() as c:
            version = self._stored_schema() or SCHEMA_VERSION
            for from_version, step in sorted(MIGRATIONS, key=lambda m: m[0]):
                if from_version == version:
                    step(c)
                    version += 1
            if version != SCHEMA_VERSION:
                raise StoreError(f"no migration of the store database from schema {version}: {self.path}")
            c.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))

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
        parts: list[prefix_parts.Part],
        interpreter: str,
        sources: list[str],
        lock_hash: str,
    ) -> None:
        now = time.time()
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO prefixes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (str(path), name, prefix_parts.dumps(parts), interpreter, json.dumps(sources), lock_hash, now, now),
            )

    def replace_prefix_parts(self, path: str, parts: list[prefix_parts.Part]) -> None:
        """A rebuilt prefix (verify --repair) records the parts it was rebuilt from."""
        with self.transaction() as c:
            c.execute("UPDATE prefixes SET manifests = ? WHERE path = ?", (prefix_parts.dumps(parts), path))

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

    def forget_bytecode(self, keys: list[tuple[str, str]]) -> None:
        """Drop compiled-bytecode rows by (source manifest, interpreter), so they are compiled again."""
        with self.transaction() as c:
            c.executemany("DELETE FROM bytecode WHERE source_manifest = ? AND interpreter = ?", keys)

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
    wheel_sources = json.loads(sources)
    parts = prefix_parts.loads(manifests, wheel_sources)
    return PrefixRow(path, name, parts, interpreter, wheel_sources, lock_hash, created, last_used)
