"""Requirement forms that name a source rather than a release on an index (issue 16): local
project directories and archives (`./pkg`, `../pkg-1.0.tar.gz`, `file:///…`), editables
(`-e ./pkg`) and VCS URLs (`git+https://…@rev#subdirectory=sub`, `name @ git+…`, `#egg=name`).
Each becomes a PEP 508 `name @ URL` requirement the resolver can take; the name of a local
project is read from its pyproject.toml or setup.cfg without running anything. No network, no
store; git is not run here (the commit is found when locking)."""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envstore.spec.model import SpecRequirement

VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")
# Files whose content decides a local project's metadata (name, version, dependencies): a change
# to one makes the lock stale; other edits do not.
METADATA_FILES = ("pyproject.toml", "setup.cfg", "setup.py")
_EGG = re.compile(r"(?:^|&)egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_ARCHIVE = (".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip", ".whl")


class SourceFormError(ValueError):
    """A source form that cannot be read; the caller adds where it was written."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def is_local(text: str) -> bool:
    """`./pkg`, `../x`, `/abs`, `~/x`, `file:…`: a path rather than a name or a remote URL."""
    return text.startswith((".", "/", "~", "file:"))


def is_vcs(text: str) -> bool:
    return text.lower().startswith(VCS_SCHEMES) or " @ git+" in text or "@git+" in text.replace(" ", "")


def source_requirement(text: str, base: Path, origin: str, editable: bool = False) -> SpecRequirement:
    """The requirement for a local path, a `name @ file:` URL or a VCS URL, relative paths
    taken from `base` (the env file's directory)."""
    text = text.strip()
    name, _, target = text.partition(" @ ") if " @ " in text else ("", "", text)
    name = name.strip()
    if is_vcs(target):
        return _vcs(name, target, origin, editable)
    path = _local_path(target, base)
    if not path.exists():
        raise SourceFormError(f"{target!r}: no such file or directory ({path})",
                              "local paths are relative to the env file's directory")
    if path.is_dir():
        found = project_name(path)
        if not name and found is None:
            raise SourceFormError(f"{target!r}: cannot tell the project's name from pyproject.toml or setup.cfg",
                                  f"write it as `NAME @ {target}`")
        if name and found is not None and canonicalize_name(name) != canonicalize_name(found):
            raise SourceFormError(f"{target!r} is the project {found}, not {name}")
        name = name or found or ""
        digest = metadata_digest(path)
    else:
        if editable:
            raise SourceFormError(f"{target!r}: only a project directory can be editable", "give its directory")
        if not path.name.lower().endswith(_ARCHIVE):
            raise SourceFormError(f"{target!r} is neither a project directory nor an archive "
                                  f"({', '.join(_ARCHIVE)})")
        name = name or _archive_name(path.name)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    written = target if not target.startswith("file:") else path.as_posix()
    try:
        req = Requirement(f"{name} @ {path.as_uri()}")
    except InvalidRequirement as e:
        raise SourceFormError(f"{text!r}: {e}") from None
    return SpecRequirement(req, origin, editable=editable, local=_relative(written, base), local_digest=digest)


def _vcs(name: str, url: str, origin: str, editable: bool) -> SpecRequirement:
    if not url.lower().startswith("git+"):
        scheme = url.split("+", 1)[0]
        raise SourceFormError(f"{url!r}: {scheme} URLs are not supported (git is)",
                              "pin a released version from the index, or a git URL")
    if editable:
        raise SourceFormError(f"{url!r}: a VCS URL cannot be editable",
                              "clone it and list the directory with -e ./DIR")
    egg = _EGG.search(urlsplit(url).fragment)
    name = name or (egg.group(1) if egg else "")
    if not name:
        raise SourceFormError(f"{url!r}: a VCS URL needs the project's name", f"write it as `NAME @ {url}`")
    try:
        req = Requirement(f"{name} @ {url}")
    except InvalidRequirement as e:
        raise SourceFormError(f"{url!r}: {e}") from None
    return SpecRequirement(req, origin)


@dataclass(frozen=True)
class GitRef:
    """`git+URL@rev#subdirectory=sub` taken apart."""

    url: str  # the repository, without `git+`
    revision: str | None
    subdirectory: str | None

    @classmethod
    def parse(cls, text: str) -> GitRef:
        parts = urlsplit(text[len("git+"):] if text.startswith("git+") else text)
        fragment = dict(p.split("=", 1) for p in parts.fragment.split("&") if "=" in p)
        path, revision = parts.path, None
        if "@" in path:
            path, revision = path.rsplit("@", 1)
        return cls(urlunsplit((parts.scheme, parts.netloc, path, "", "")), revision or None,
                   fragment.get("subdirectory") or None)

    def pinned(self, commit: str) -> str:
        """The requirement URL at a commit (what the resolver's candidate stands for)."""
        sub = f"#subdirectory={self.subdirectory}" if self.subdirectory else ""
        return f"git+{self.url}@{commit}{sub}"


def _local_path(target: str, base: Path) -> Path:
    if target.startswith("file:"):
        parts = urlsplit(target)
        return Path(unquote(parts.path)).resolve()
    return (base / Path(target).expanduser()).resolve()


def _relative(written: str, base: Path) -> str:
    """The path as the lock and the spec hash say it: relative to the env file where it was
    written so, absolute only where the user wrote it absolute."""
    p = Path(written).expanduser()
    if p.is_absolute():
        return p.as_posix()
    return Path(written).as_posix()


def _archive_name(filename: str) -> str:
    lower = filename.lower()
    stem = filename[: -len(next(s for s in _ARCHIVE if lower.endswith(s)))]
    return stem.split("-")[0] if "-" in stem else stem


def project_name(directory: Path) -> str | None:
    """[project] name of pyproject.toml (or poetry's [tool.poetry] name, for poetry-core
    projects of before PEP 621), else [metadata] name of setup.cfg (static, no build)."""
    # lazy: TOML and INI readers only for env files with local projects (realize of others stays lean)
    import configparser

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10
        import tomli as tomllib

    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        try:
            doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (ValueError, OSError) as e:  # TOMLDecodeError is a ValueError
            raise SourceFormError(f"{pyproject}: {e}") from None
        project, tool = doc.get("project"), doc.get("tool")
        name = project.get("name") if isinstance(project, dict) else None
        if name is None and isinstance(tool, dict) and isinstance(tool.get("poetry"), dict):
            name = tool["poetry"].get("name")
        if isinstance(name, str) and name:
            return name
    setup_cfg = directory / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(setup_cfg, encoding="utf-8")
        except configparser.Error:
            return None
        name = parser.get("metadata", "name", fallback=None)
        if name:
            return name
    return None


def metadata_digest(directory: Path) -> str:
    """sha256 (16 hex digits) of the files that decide a project's metadata."""
    h = hashlib.sha256()
    for name in METADATA_FILES:
        f = directory / name
        h.update(name.encode() + b"\0")
        h.update(f.read_bytes() if f.is_file() else b"-")
    return h.hexdigest()[:16]


__all__ = ["METADATA_FILES", "GitRef", "SourceFormError", "VCS_SCHEMES", "is_local", "is_vcs", "metadata_digest",
           "project_name", "source_requirement"]
