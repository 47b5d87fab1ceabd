"""The `.envstore/` project protocol, the one Python reader and writer of it (the shim,
rust/envstore-shim, is the other reader): default env-file names, out-links and their owners
(`links-v1`), the active environment (`active`), the fast path's answers (`state-v1.json`).
The format is documented in docs/concepts.md ("The `.envstore/` format") and pinned by
tests/fixtures/project-v1, which the shim's tests read too.

Imported on the already-realized path: no click, YAML, TOML or sqlite at module level.
Never writes outside `.envstore/` (and the symlinks it is asked to set)."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from envstore.errors import UsageError
from envstore.store.fs import replace_atomic, write_atomic

if TYPE_CHECKING:  # sqlite stays off the fast path; only live_roots and add_out_link take a DB
    from envstore.store.db import StoreDB

# Env files found without being named, in this order (`.yml` first: that is what was looked
# for before the `.yaml` spellings were accepted, so a directory that worked keeps its choice).
DEFAULT_ENV_FILES = ("env.yml", "environment.yml", "env.yaml", "environment.yaml")

OUT_LINK_DIR = ".envstore"
LINKS_FILE = "links-v1"  # "<out-link name>\t<env file name>" lines below LINKS_HEADER
LINKS_HEADER = "envstore-links-v1"
LINKS_LOCK = ".links.lock"
ACTIVE_FILE = "active"  # out-link, env file, lockfile: one a line, then ACTIVE_VERSION_LINE
ACTIVE_VERSION_LINE = "envstore-active-v1"
_ACTIVE_VERSION_STEM = "envstore-active-v"
STATE_FILE = "state-v1.json"  # the fast path's answers, see fastpath.py
# Files of the protocol: never an out-link's name (the shim's WARNED_MARKER is a dot name).
RESERVED_NAMES = frozenset({ACTIVE_FILE, LINKS_FILE, STATE_FILE})


def find_default_env_file(directory: Path) -> Path | None:
    """The env file a command uses in `directory` when none is named."""
    return next((directory / n for n in DEFAULT_ENV_FILES if (directory / n).is_file()), None)


def out_link_dir(env_file: Path) -> Path:
    return env_file.absolute().parent / OUT_LINK_DIR


def out_link_path(env_file: Path, name: str) -> Path:
    return out_link_dir(env_file) / name


def is_out_link(name: str, is_symlink: bool) -> bool:
    """Whether an entry of `.envstore/` is an out-link: a symlink whose name is neither a dot
    name (temp files, locks, markers) nor one of the protocol's files."""
    return is_symlink and not name.startswith(".") and name not in RESERVED_NAMES


def out_links(dot: Path) -> list[str]:
    """The out-links in `dot`, sorted by name (none when it is not a directory)."""
    try:
        entries = list(os.scandir(dot))
    except OSError:
        return []
    return sorted(e.name for e in entries if is_out_link(e.name, e.is_symlink()))


# --- links-v1: which env file owns which out-link ---------------------------------------------

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
    write_atomic(dot / LINKS_FILE, f"{LINKS_HEADER}\n{text}")


# --- active: the out-link the shims use in this project ---------------------------------------

# NamedTuples, not dataclasses: a frozen dataclass costs ~1 ms to define on the fast path.
class Active(NamedTuple):
    """`.envstore/active`. `link` is None when the file is of a version this code does not
    know: readers then act as if none were chosen, and only an explicit `store use` replaces it."""

    link: str | None
    env_file: str | None = None
    lock: str | None = None


def parse_active(text: str) -> Active | None:
    lines = [line for line in text.split("\n") if line]
    stem = _ACTIVE_VERSION_STEM
    version = lines[-1][len(stem):] if lines and lines[-1].startswith(stem) else ""
    if version.isascii() and version.isdigit():
        if lines.pop() != ACTIVE_VERSION_LINE:
            return Active(None)
    elif len(lines) > 3:
        return Active(None)  # not a form any version wrote
    # v1, or the unversioned form written before it (the same three lines).
    if not lines:
        return None
    return Active(lines[0], *(lines[1:3] + [None, None])[:2])


def read_active(dot: Path) -> Active | None:
    try:
        text = (dot / ACTIVE_FILE).read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return None
    return parse_active(text)


def format_active(link: str, env_file: str, lock: str) -> str:
    return f"{link}\n{env_file}\n{lock}\n{ACTIVE_VERSION_LINE}\n"


def set_active(env_file: Path, link: Path, lock: Path) -> None:
    """Make `link` (an out-link of `env_file`, whose lockfile is `lock`) the project's active
    environment. Paths in the file are relative to the project directory."""
    project = env_file.absolute().parent
    text = format_active(link.name, str(env_file.absolute().relative_to(project)),
                         str(lock.absolute().relative_to(project)))
    write_atomic(link.parent / ACTIVE_FILE, text.encode("utf-8", "surrogateescape"), mode=0o644)


class Choice(NamedTuple):
    """Which out-link a `.envstore/` designates, as the shim decides it (rule 1 of its dispatch):
    the active one if its link exists, else the only out-link; several and none chosen is
    `ambiguous` (the shim's error)."""

    kind: str  # "active", "only", "ambiguous" or "none"
    links: tuple[str, ...] = ()


def choose(dot: Path) -> Choice:
    active = read_active(dot)
    if active is not None and active.link is not None and os.path.lexists(dot / active.link):
        return Choice("active", (active.link,))
    links = out_links(dot)
    if not links:
        return Choice("none")
    return Choice("only", tuple(links)) if len(links) == 1 else Choice("ambiguous", tuple(links))


# --- state-v1.json: the fast path's answers ---------------------------------------------------

def read_states(dot: Path) -> dict[str, Any]:
    """`"<env file name>@<store root>"` -> the last realize's answer (fastpath.py decides
    whether it still holds); {} when missing or unreadable."""
    try:
        states = json.loads((dot / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return states if isinstance(states, dict) else {}


def write_states(dot: Path, states: dict[str, Any]) -> None:
    dot.mkdir(parents=True, exist_ok=True)
    write_atomic(dot / STATE_FILE, json.dumps(states, sort_keys=True))


# --- out-links: GC roots beside env files -----------------------------------------------------

class Root(NamedTuple):
    link: str
    prefix: str
    kind: str


def set_link(link: Path, target: Path) -> None:
    """Point `link` at `target` atomically: readers see the old or the new target, never none."""
    link.parent.mkdir(parents=True, exist_ok=True)
    replace_atomic(link, lambda tmp: os.symlink(target, tmp), kill_point="switch.before_rename")


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
    raise UsageError(f"no free out-link name for {env_file.name} in {dot}: every candidate belongs to another "
                     "env file")


def add_out_link(db: StoreDB, env_file: Path, name: str, prefix: Path,
                 info: Callable[[str], None] | None = None) -> Path:
    """Point this env file's out-link at `prefix` and register it as a GC root. The link is
    `.envstore/<name>` unless another env file here already holds that name. This is the only
    writer of links-v1; it never repoints another env file's link without saying so on stderr."""
    # lazy: only realize locks: fcntl and the store layout stay off the fast path
    from envstore.store.locks import file_lock

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
    legacy = [n for n in out_links(dot) if n not in owners]
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
