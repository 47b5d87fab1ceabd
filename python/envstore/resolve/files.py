"""What a project file is, from its name alone: a wheel (name, version, tags) or a source
distribution (name, version). Cached, since the resolver asks about the same files many times.
Pure: never opens a file."""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import Sequence

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envstore.index.simple import ProjectFile

# The archive kinds sdists have been uploaded as; eggs and installers are not sources.
SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip")

_wheel_cache: dict[str, tuple[str, Version, frozenset[str]] | None] = {}
_names: dict[str, str | None] = {}
_versions: dict[str, Version | None] = {}
_tagsets: dict[str, frozenset[str]] = {}  # one object per compressed tag set: ranks are memoised by it
# packaging's rule for the name part of a wheel filename (PEP 427 escapes '-' to '_').
_WHEEL_NAME = re.compile(r"^[\w\d._]*$", re.UNICODE)


def parse_wheel(pf: ProjectFile) -> tuple[str, Version, frozenset[str]] | None:
    """(normalized name, version, tags) of a wheel; None for anything else."""
    hit = _wheel_cache.get(pf.filename, 0)
    if hit != 0:
        return hit  # type: ignore[return-value]
    result = _wheel_cache[pf.filename] = _parse_wheel_filename(pf.filename)
    return result


def _parse_wheel_filename(filename: str) -> tuple[str, Version, frozenset[str]] | None:
    """What packaging.utils.parse_wheel_filename accepts, as tag strings. A large project lists
    thousands of wheels sharing a few dozen names and versions, and building a Tag object per
    tag was most of a warm lock's time: names and versions are parsed once per string, tags
    are only split."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    if len(parts) == 6:
        if not parts[2][:1].isdigit():
            return None  # a build tag starts with a digit
    elif len(parts) != 5:
        return None
    name = _names.get(parts[0], "")
    if name == "":
        name = _names[parts[0]] = (canonicalize_name(parts[0])
                                   if "__" not in parts[0] and _WHEEL_NAME.match(parts[0]) else None)
    version = _versions.get(parts[1], 0)
    if version == 0:
        try:
            version = Version(parts[1])
        except InvalidVersion:
            version = None
        _versions[parts[1]] = version
    if name is None or version is None:
        return None
    triple = "-".join(parts[-3:])
    tags = _tagsets.get(triple)
    if tags is None:
        interpreters, abis, platforms = (p.lower().split(".") for p in parts[-3:])
        tags = _tagsets[triple] = frozenset(f"{i}-{a}-{p}" for i in interpreters for a in abis for p in platforms)
    return name, version, tags


def sdist_version(pf: ProjectFile, name: str) -> Version | None:
    """The version of a source distribution of `name` (normalized), else None. Old sdists use
    any archive suffix and unnormalized names (`Django-1.0.tar.gz`), so every '-' is tried as the
    split between name and version rather than only the last."""
    if pf.filename.endswith(".whl"):
        return None  # most files: skip the suffix scan
    lower = pf.filename.lower()
    suffix = next((s for s in SDIST_SUFFIXES if lower.endswith(s)), None)
    if suffix is None:
        return None
    stem = pf.filename[: -len(suffix)]
    for i, ch in enumerate(stem):
        if ch == "-" and canonicalize_name(stem[:i]) == name:
            try:
                return Version(stem[i + 1:])
            except InvalidVersion:
                return None
    return None


@dataclass(frozen=True)
class ProjectTable:
    """A project's file list parsed: its wheels grouped by tag set (a project repeats a few
    dozen across all its versions, so a target ranks each set once and skips the sets of
    other platforms whole), and its sdists (version, file)."""

    wheels: dict[frozenset[str], list[tuple[Version, ProjectFile]]]
    sdists: tuple[tuple[Version, ProjectFile], ...]


_tables: dict[str, tuple[Sequence[ProjectFile], ProjectTable]] = {}


def project_table(name: str, files: Sequence[ProjectFile]) -> ProjectTable:
    """`files` of the project `name` (normalized) parsed, once per list: a universal lock
    resolves the same projects for every declared environment, and each would otherwise
    walk the same thousands of filenames again."""
    hit = _tables.get(name)
    if hit is not None and hit[0] is files:
        return hit[1]
    wheels: dict[frozenset[str], list[tuple[Version, ProjectFile]]] = {}
    for pf in files:
        parsed = parse_wheel(pf)
        if parsed is not None and parsed[0] == name:
            wheels.setdefault(parsed[2], []).append((parsed[1], pf))
    sdists = tuple((v, pf) for pf in files if (v := sdist_version(pf, name)) is not None)
    table = ProjectTable(wheels, sdists)
    _tables[name] = (files, table)
    return table
