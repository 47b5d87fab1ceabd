"""Small filesystem steps shared by import and remove: read-only trees, their removal, and
unique staging directories under STORE/tmp (the only place work in progress is written)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def staging_dir(store_root: Path, kind: str) -> Path:
    d = store_root / "tmp" / f"{kind}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    d.mkdir(parents=True)
    return d


def make_read_only(tree: Path) -> None:
    """Directories 0555 (files are blobs, already read-only), deepest first."""
    for dirpath, _dirs, _files in os.walk(tree, topdown=False):
        os.chmod(dirpath, 0o555)


def remove_tree(tree: Path) -> None:
    """Delete a tree whose directories may be read-only; never follows symlinks."""
    if not tree.exists() and not tree.is_symlink():
        return
    if tree.is_symlink() or not tree.is_dir():
        tree.unlink()
        return
    for dirpath, dirs, _files in os.walk(tree):
        os.chmod(dirpath, 0o755)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(dirpath, d))]
    shutil.rmtree(tree)
