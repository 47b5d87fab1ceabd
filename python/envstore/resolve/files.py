"""What a project file is, from its name alone: a wheel (name, version, tags) or a source
distribution (name, version). Cached, since the resolver asks about the same files many times.
Pure: never opens a file."""

from __future__ import annotations

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from envstore.index.simple import ProjectFile

# The archive kinds sdists have been uploaded as; eggs and installers are not sources.
SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip")

_wheel_cache: dict[str, tuple[str, Version, frozenset[str]] | None] = {}


def parse_wheel(pf: ProjectFile) -> tuple[str, Version, frozenset[str]] | None:
    """(normalized name, version, tags) of a wheel; None for anything else."""
    hit = _wheel_cache.get(pf.filename, 0)
    if hit != 0:
        return hit  # type: ignore[return-value]
    result: tuple[str, Version, frozenset[str]] | None
    try:
        name, version, _build, tags = parse_wheel_filename(pf.filename)
        result = (name, version, frozenset(str(t) for t in tags))
    except (InvalidWheelFilename, InvalidVersion):
        result = None
    _wheel_cache[pf.filename] = result
    return result


def sdist_version(pf: ProjectFile, name: str) -> Version | None:
    """The version of a source distribution of `name` (normalized), else None. Old sdists use
    any archive suffix and unnormalized names (`Django-1.0.tar.gz`), so every '-' is tried as the
    split between name and version rather than only the last."""
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
