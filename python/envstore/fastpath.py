"""The already-realized path: answer `store realize` from a small state file beside the
out-link when neither the env file nor its lock changed since the last realize, without
importing YAML, TOML, HTTP or resolver code. Any doubt falls through to the full path."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

STATE = ".envstore/state-v1.json"


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _key(env_file: Path, store_root: Path) -> str:
    # One project can be realized into several stores (--store); each keeps its own answer.
    return f"{env_file.name}@{store_root}"


def remember(env_file: Path, lock_file: Path, prefix: Path, link: Path) -> None:
    state_path = env_file.parent / STATE
    try:
        states = json.loads(state_path.read_text())
    except (OSError, ValueError):
        states = {}
    states[_key(env_file, prefix.parent.parent)] = {
        "env": _digest(env_file),
        "lock_path": str(lock_file),
        "lock": _digest(lock_file),
        "prefix": str(prefix),
        "link": str(link),
    }
    state_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_path.with_name(f".{state_path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(states, sort_keys=True))
    os.replace(tmp, state_path)


def lookup(env_file: Path, store_root: Path) -> Path | None:
    """The prefix realized last time, if the inputs are unchanged and it is still valid."""
    try:
        state = json.loads((env_file.parent / STATE).read_text())[_key(env_file, store_root)]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    prefix = Path(state.get("prefix", ""))
    if prefix.parent != store_root / "envs" or not prefix.is_dir():
        return None
    try:
        if os.readlink(state.get("link", "")) != str(prefix):
            return None
    except OSError:
        return None
    if state.get("env") != _digest(env_file) or state.get("lock") != _digest(Path(state.get("lock_path", ""))):
        return None
    try:
        conn = sqlite3.connect(f"file:{store_root / 'db-v1.sqlite'}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT 1 FROM prefixes WHERE path = ?", (str(prefix),)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return prefix if row else None
