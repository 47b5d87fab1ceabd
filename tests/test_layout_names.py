"""Each versioned on-disk name is spelled once per language: in python/envstore only by
store/layout.py (the store) or project.py (`.envstore/`), in Rust only by the core's layout.rs
(or the shim's protocol module), so a format change is one edit (issue 14)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).parent.parent
PYTHON = REPO / "python" / "envstore"
# cache/objects.py owns the layout of a remote binary cache (a bucket), a format of its own.
OWNERS = {PYTHON / "store" / "layout.py", PYTHON / "project.py", PYTHON / "cache" / "objects.py"}
# The names a reader outside the owner could be tempted to spell again.
NAMES = ["blobs-v1", "manifests-v1", "db-v1.sqlite", "registry-v1", "reserve-v1", "http-v1", "wheels-v1",
         "dirs-v1", ".envstore-shims-v1", "links-v1", "state-v1.json", "envstore-active-v1"]


def _spelled(root: Path, suffix: str, name: str) -> list[Path]:
    pattern = re.compile(r"[\"']" + re.escape(name) + r"[\"'/]")
    return [p for p in sorted(root.rglob(f"*{suffix}")) if pattern.search(p.read_text(errors="replace"))]


def test_python_spells_each_store_name_once() -> None:
    for name in NAMES:
        where = [p for p in _spelled(PYTHON, ".py", name) if p not in OWNERS]
        assert not where, f"{name!r} spelled outside store/layout.py and project.py: {where}"


def test_rust_spells_each_core_name_once() -> None:
    for name in ("blobs-v1", "manifests-v1"):
        where = [p.relative_to(REPO).as_posix() for p in _spelled(REPO / "rust", ".rs", name)]
        where = [w for w in where if "/tests/" not in w]
        assert where == ["rust/envstore-core/src/layout.rs"], (name, where)
