"""GC roots. An out-link (`.envstore/<name>` beside an env file) keeps its prefix alive only
while it still points there: deleting or repointing the link is how a user lets go.

Each env file keeps its own out-link: `.envstore/links-v1` records which env file an out-link
belongs to, so two env files with the same `name:` in one directory never take each other's
root (the second gets a link named after its file). This module is the only writer of that
file; it never repoints another env file's link without saying so on stderr."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envstore.db import StoreDB

OUT_LINK_DIR = ".envstore"
LINKS_FILE = "links-v1"  # .envstore/links-v1: "<out-link name>\t<env file name>" lines
LINKS_HEADER = "envstore-links-v1"
LINKS_LOCK = ".links.lock"
# Files of the .envstore/ protocol (shims.set_active, fastpath.STATE): never an out-link's name.
RESERVED_NAMES = frozenset({"active", LINKS_FILE, "state-v1.json"})


@dataclass(frozen=True)
class Root:
    link: str
    prefix: str
    kind: str


def out_link_dir(env_file: Path) -> Path:
    return env_file.absolute().parent / OUT_LINK_DIR


def out_link_path(env_file: Path, name: str) -> Path:
    return out_link_dir(env_file) / name


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


def read_owners(dot: Path) -> dict[str, str]:
    """Out-link name -> the name of the env file (beside `dot`) it belongs to."""
    try:
        lines = (dot / LINKS_FILE).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    if not lines or lines[0] != LINKS_HEADER:
        return {}
    pairs = (line.split("\t") for line in lines[1:])
    return {p[0]: p[1] for p in pairs if len(p) == 2}


def _write_owners(dot: Path, owners: dict[str, str]) -> None:
    text = "".join(f"{link}\t{env}\n" for link, env in sorted(owners.items()))
    tmp = dot / f".{LINKS_FILE}.tmp-{os.getpid()}"
    tmp.write_text(f"{LINKS_HEADER}\n{text}")
    os.replace(tmp, dot / LINKS_FILE)


def _file_stem(env_file: Path) -> str:
    # A leading dot would hide the link from the shims, which skip dot names.
    return env_file.stem.lstrip(".") or "env"


def _candidates(env_file: Path, name: str) -> list[str]:
    """Link names for this env file, in order of preference: the environment's name (the
    common case: DESIGN's `.envstore/<name>`), then the file's stem, then numbered stems."""
    stem = _file_stem(env_file)
    return [name, stem, *(f"{stem}-{n}" for n in range(2, 100))]


def _is_mine(link_name: str, env_file: Path, name: str) -> bool:
    stem = _file_stem(env_file)
    return link_name in (name, stem) or re.fullmatch(rf"{re.escape(stem)}-\d+", link_name) is not None


def _claim(dot: Path, env_file: Path, name: str, owners: dict[str, str]) -> tuple[str, str | None]:
    """(link name, the env file whose link `name` is, when this one had to take another name)."""
    mine = env_file.name
    held = [n for n, owner in owners.items() if owner == mine and _is_mine(n, env_file, name)]
    for candidate in _candidates(env_file, name):
        if candidate in held:
            return candidate, None
    for candidate in _candidates(env_file, name):
        if candidate in RESERVED_NAMES:
            continue
        owner = owners.get(candidate)
        if owner is None or owner == mine or not (dot.parent / owner).exists():
            return candidate, (owners.get(name) if candidate != name else None)
    from envstore.errors import UsageError

    raise UsageError(f"no free out-link name for {env_file.name} in {dot}: every candidate belongs to another "
                     "env file")


def add_out_link(db: StoreDB, env_file: Path, name: str, prefix: Path,
                 info: Callable[[str], None] | None = None) -> Path:
    """Point this env file's out-link at `prefix` and register it as a GC root. The link is
    `.envstore/<name>` unless another env file here already holds that name."""
    from envstore.storelock import file_lock

    env_file = env_file.absolute()
    dot = out_link_dir(env_file)
    dot.mkdir(parents=True, exist_ok=True)
    with file_lock(dot / LINKS_LOCK, exclusive=True):  # CI-matrix files realized side by side
        owners = read_owners(dot)
        link_name, taken_by = _claim(dot, env_file, name, owners)
        link = dot / link_name
        previous_owner = owners.get(link_name)
        try:
            old = os.readlink(link)
        except OSError:
            old = None
        if taken_by is not None and old is None and info is not None:
            info(f".envstore/{name} is the out-link of {taken_by} (also `name: {name}`); "
                 f"{env_file.name} keeps its own, .envstore/{link_name}")
        if old is not None and old != str(prefix) and previous_owner != env_file.name:
            if previous_owner is None:
                was = "an environment realized before out-links recorded their env file"
            elif (dot.parent / previous_owner).exists():
                was = f"{previous_owner}'s environment"
            else:
                was = f"{previous_owner}'s environment; that file is gone"
            print(f"warning: .envstore/{link_name} in {dot.parent} pointed at {Path(old).name} ({was}); "
                  f"it now points at {prefix.name} for {env_file.name}", file=sys.stderr)
        if previous_owner != env_file.name:
            # Recorded before the link is made: a crash in between leaves a claim this file
            # takes up again on its next realize, never a link nobody owns.
            owners[link_name] = env_file.name
            _write_owners(dot, owners)
        if old != str(prefix):
            set_link(link, prefix)
    db.add_root(link, prefix, "out-link")
    return link


def out_link_of(env_file: Path, prefix: Path) -> Path | None:
    """The out-link this env file's realize made for `prefix` (None with --no-out-link)."""
    dot = out_link_dir(env_file)
    owners = read_owners(dot)
    mine = sorted(n for n, owner in owners.items() if owner == env_file.name)
    # Links made before links-v1 existed have no owner: any that points at the prefix.
    legacy = sorted(e.name for e in os.scandir(dot) if e.is_symlink() and e.name not in owners
                    and not e.name.startswith(".")) if dot.is_dir() else []
    for n in [*mine, *legacy]:
        try:
            if os.readlink(dot / n) == str(prefix):
                return dot / n
        except OSError:
            continue
    return None


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
