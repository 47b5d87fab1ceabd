"""Where the store lives and how it is opened. The Rust core owns the layout on disk;
this module only decides the root and the durability policy."""

from __future__ import annotations

import os
from pathlib import Path

from envstore import settings
from envstore._core import Store


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
    return Store(path, fsync=settings.fsync_enabled())


__all__ = ["Store", "default_root", "open_store"]
