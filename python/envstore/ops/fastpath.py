"""The already-realized path: answer `store realize` from a small state file beside the
out-link when neither the env file nor its lock changed since the last realize, without
importing YAML, TOML, HTTP or resolver code. Any doubt falls through to the full path. The
`store` shim (rust/envstore-shim/src/front_door.rs) applies the same rule before Python starts:
a change to the rule or the state's fields is a change to both."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

from envstore.project import OUT_LINK_DIR, read_states, write_states
from envstore.store import layout


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _key(env_file: Path, store_root: Path) -> str:
    # One project can be realized into several stores (--store); each keeps its own answer.
    return f"{env_file.name}@{store_root}"


def remember(env_file: Path, lock_file: Path, prefix: Path, link: Path) -> None:
    dot = env_file.parent / OUT_LINK_DIR
    states = read_states(dot)
    states[_key(env_file, prefix.parent.parent)] = {
        "env": _digest(env_file),
        "lock_path": str(lock_file),
        "lock": _digest(lock_file),
        "prefix": str(prefix),
        "link": str(link),
        # For the native `store` front door (rust/envstore-shim/src/front_door.rs), which knows
        # no store layout: where to ask whether the prefix is still valid, and at which schema.
        "db": str(layout.db_path(prefix.parent.parent)),
        "schema": str(layout.DB_SCHEMA_VERSION),
    }
    write_states(dot, states)


def lookup(env_file: Path, store_root: Path) -> Path | None:
    """The prefix realized last time, if the inputs are unchanged and it is still valid."""
    state = read_states(env_file.parent / OUT_LINK_DIR).get(_key(env_file, store_root))
    if not isinstance(state, dict):
        return None
    prefix = Path(state.get("prefix", ""))
    if prefix.parent != layout.envs_dir(store_root) or not prefix.is_dir():
        return None
    try:
        if os.readlink(state.get("link", "")) != str(prefix):
            return None
    except OSError:
        return None
    if state.get("env") != _digest(env_file) or state.get("lock") != _digest(Path(state.get("lock_path", ""))):
        return None
    try:
        conn = sqlite3.connect(f"file:{layout.db_path(store_root)}?mode=ro", uri=True, timeout=5)
        try:
            # A store of a newer schema is the full path's to refuse, not this one's to trust.
            schema, registered = conn.execute(
                "SELECT (SELECT value FROM meta WHERE key = 'schema'), "
                "EXISTS (SELECT 1 FROM prefixes WHERE path = ?)", (str(prefix),)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    try:
        current = int(schema) <= layout.DB_SCHEMA_VERSION
    except (TypeError, ValueError):
        return None
    return prefix if registered and current else None
