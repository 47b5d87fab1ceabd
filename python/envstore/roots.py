"""GC roots. An out-link (`.envstore/<name>` beside an env file) keeps its prefix alive only
while it still points there: deleting or repointing the link is how a user lets go."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from envstore.db import StoreDB

OUT_LINK_DIR = ".envstore"


@dataclass(frozen=True)
class Root:
    link: str
    prefix: str
    kind: str


def out_link_path(env_file: Path, name: str) -> Path:
    return env_file.absolute().parent / OUT_LINK_DIR / name


def set_link(link: Path, target: Path) -> None:
    """Point `link` at `target` atomically: readers see the old or the new target, never none."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.parent / f".{link.name}.tmp-{os.getpid()}"
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    from envstore import settings

    settings.test_hook("switch.before_rename")
    os.replace(tmp, link)


def add_out_link(db: StoreDB, env_file: Path, name: str, prefix: Path) -> Path:
    link = out_link_path(env_file, name)
    if os.path.islink(link) and os.readlink(link) == str(prefix):
        db.add_root(link, prefix, "out-link")
        return link
    set_link(link, prefix)
    db.add_root(link, prefix, "out-link")
    return link


def live_roots(db: StoreDB) -> tuple[list[Root], list[Root]]:
    """(live, stale) registered roots; a root is live while its link still points at its prefix."""
    live, stale = [], []
    for link, prefix, kind in db.roots():
        try:
            points = os.readlink(link) == prefix
        except OSError:
            points = False
        (live if points else stale).append(Root(link, prefix, kind))
    return live, stale
