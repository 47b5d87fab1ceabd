"""Profiles, as in Nix: STORE/profiles/<name> is a relative symlink to a generation link
STORE/profiles/<name>-<N>-link, which points at a prefix and is registered as a GC root.
Switching only ever flips the profile link with one rename, so a reader always sees a
complete target; generations are never rewritten, only added or pruned (never the current)."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from envstore.errors import EnvstoreError
from envstore.project import set_link
from envstore.store import layout
from envstore.store.db import StoreDB
from envstore.store.locks import file_lock
from envstore.store.session import StoreSession

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class ProfileError(EnvstoreError):
    code = "profile"


@dataclass(frozen=True)
class Generation:
    number: int
    link: Path
    prefix: Path
    created: float
    current: bool

    def to_json(self) -> dict[str, object]:
        return {"generation": self.number, "prefix": str(self.prefix), "created": self.created,
                "current": self.current, "link": str(self.link)}


def profiles_dir(root: Path) -> Path:
    return layout.profiles_dir(root)


def _profile_lock(root: Path, name: str) -> Path:
    """Serialises changes to one profile (its generations and its link)."""
    return profiles_dir(root) / f".{name}.lock"


def check_name(name: str) -> str:
    if not NAME_RE.match(name) or name.endswith("-link"):
        raise ProfileError(f"invalid profile name '{name}'",
                           "use letters, digits, '.', '_', '+' and '-', not ending in -link")
    return name


def generation_link(root: Path, name: str, number: int) -> Path:
    return profiles_dir(root) / f"{name}-{number}-link"


def generations(root: Path, name: str) -> list[Generation]:
    """Every generation of profile `name`, oldest first."""
    check_name(name)
    pattern = re.compile(rf"^{re.escape(name)}-(\d+)-link$")
    try:
        current = os.readlink(profiles_dir(root) / name)
    except OSError:
        current = None
    out = []
    try:
        entries = list(os.scandir(profiles_dir(root)))
    except FileNotFoundError:
        return []
    for e in entries:
        m = pattern.match(e.name)
        if not m or not e.is_symlink():
            continue
        try:
            target = Path(os.readlink(e.path))
            created = e.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        out.append(Generation(int(m.group(1)), Path(e.path), target, created, e.name == current))
    return sorted(out, key=lambda g: g.number)


def current_prefix(root: Path, name: str = "default") -> Path | None:
    link = profiles_dir(root) / check_name(name)
    try:
        return Path(os.path.realpath(link)) if os.path.islink(link) else None
    except OSError:
        return None


def _switch(root: Path, name: str, generation: Generation) -> None:
    # Relative, like Nix: the profile link stays valid if the store is moved as a whole.
    set_link(profiles_dir(root) / name, Path(generation.link.name))


def use(root: Path, prefix: Path, name: str = "default") -> Generation:
    """Make generation N+1 pointing at `prefix` (a valid prefix of this store), register it as
    a GC root, then flip the profile to it."""
    check_name(name)
    profiles_dir(root).mkdir(parents=True, exist_ok=True)
    with StoreSession(root, "shared") as session, file_lock(_profile_lock(root, name), exclusive=True):
        db = session.db
        if db.prefix(prefix) is None or not prefix.is_dir():
            raise ProfileError(f"{prefix} is not a valid prefix of the store {root}",
                               "give an env file, or a path printed by `store realize`")
        existing = generations(root, name)
        number = (existing[-1].number if existing else 0) + 1
        link = generation_link(root, name, number)
        # Register before the link exists: a gc that runs in between keeps the prefix.
        db.add_root(link, prefix, "profile")
        os.symlink(prefix, link)
        generation = Generation(number, link, prefix, time.time(), True)
        _switch(root, name, generation)
    return generation


def rollback(root: Path, name: str = "default", to: int | None = None) -> Generation:
    """Point the profile at the generation before the current one (or generation `to`)."""
    check_name(name)
    with file_lock(_profile_lock(root, name), exclusive=True):
        gens = generations(root, name)
        current = next((g for g in gens if g.current), None)
        if to is not None:
            target = next((g for g in gens if g.number == to), None)
            if target is None:
                raise ProfileError(f"profile '{name}' has no generation {to}",
                                   "see `store profile list`")
        else:
            older = [g for g in gens if current is None or g.number < current.number]
            if not older:
                raise ProfileError(f"profile '{name}' has no generation before "
                                   f"{current.number if current else 'the current one'}",
                                   "see `store profile list`")
            target = older[-1]
        if not target.prefix.is_dir():
            raise ProfileError(f"generation {target.number} of profile '{name}' points at "
                               f"{target.prefix}, which no longer exists")
        _switch(root, name, target)
    return Generation(target.number, target.link, target.prefix, target.created, True)


def prune(root: Path, older_than: float, name: str = "default", dry_run: bool = False) -> list[Generation]:
    """Remove generations created more than `older_than` seconds ago, never the current one.
    Their prefixes stay until `store gc` finds nothing else keeps them."""
    check_name(name)
    cutoff = time.time() - older_than
    with file_lock(_profile_lock(root, name), exclusive=True):
        doomed = [g for g in generations(root, name) if not g.current and g.created < cutoff]
        if dry_run or not doomed:
            return doomed
        for g in doomed:
            try:
                g.link.unlink()
            except FileNotFoundError:
                pass
        db = StoreDB(root)
        try:
            db.forget_roots([str(g.link) for g in doomed])
        finally:
            db.close()
    return doomed


def parse_age(text: str) -> float:
    """'30d', '12h', '90m', '2w', '45s' -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not m:
        raise ProfileError(f"invalid age '{text}'", "use a number and a unit: 30d, 12h, 90m, 2w")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]


def profile_names(root: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(profiles_dir(root))
                      if e.is_symlink() and not e.name.endswith("-link") and not e.name.startswith("."))
    except FileNotFoundError:
        return []
