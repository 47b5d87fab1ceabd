"""A local project's source tree: its content hash (the identity of a non-editable directory
dependency: edit a file and the prefix changes, leave it and the prefix is reused) and the copy
a build works in, so a backend's build/ and *.egg-info never land in the user's checkout."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

# Not part of the source: VCS data, caches, build output and environments made from it.
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".envstore", ".venv", "venv", ".tox", ".nox",
                          ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist", "node_modules"})


def _skipped(name: str) -> bool:
    return name in SKIPPED_DIRS or name.endswith(".egg-info")


def tree_hash(root: Path) -> str:
    """sha256 over the relative path, executable bit and bytes of every source file (symlinks by
    their target), in a stable order."""
    h = hashlib.sha256()
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _skipped(d))
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                h.update(b"L" + rel.encode() + b"\0" + os.readlink(path).encode() + b"\0")
                continue
            st = path.stat()
            h.update(b"F" + rel.encode() + b"\0" + (b"x" if st.st_mode & 0o111 else b"-"))
            with open(path, "rb") as f:
                file_hash = hashlib.sha256()
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    file_hash.update(chunk)
            h.update(file_hash.digest())
    return h.hexdigest()


def copy_source(src: Path, dest: Path) -> Path:
    """The project copied to `dest` without what tree_hash skips; symlinks stay links."""
    shutil.copytree(src, dest, symlinks=True,
                    ignore=lambda _d, names: [n for n in names if _skipped(n) or n.endswith((".pyc", ".pyo"))])
    return dest


__all__ = ["SKIPPED_DIRS", "copy_source", "tree_hash"]
