"""Where the store lives and how it is opened. The Rust core owns the layout on disk;
this module only decides the root and the durability policy."""

from __future__ import annotations

import os
from pathlib import Path

from envstore import settings
from envstore._core import Store
from envstore.errors import StoreError


def default_root() -> Path:
    """`$ENVSTORE_ROOT`, else `$XDG_DATA_HOME/envstore`, else `~/.local/share/envstore`."""
    explicit = settings.STORE_ROOT.get()
    if explicit:
        return Path(explicit).expanduser().absolute()
    base = settings.XDG_DATA_HOME.get()
    data_home = Path(base) if base else Path.home() / ".local" / "share"
    return (data_home / "envstore").absolute()


def open_store(root: str | os.PathLike[str] | None = None) -> Store:
    """Open (creating if needed) the store at `root` or the default location."""
    path = Path(root).expanduser().absolute() if root is not None else default_root()
    return Store(path, fsync=settings.fsync_enabled(), **settings.test_link_faults())


def manifest_usable(store: Store, manifest_id: str) -> bool:
    """A manifest that a cache row names is still there, with its blobs passing the cheap check
    (one manifest read, not a directory listing): otherwise the caller rebuilds what it caches."""
    try:
        return store.manifest_blobs_present(manifest_id)
    except StoreError:
        return False


__all__ = ["Store", "default_root", "manifest_usable", "open_store"]
