"""PEP 751 lockfiles (pylock.toml): the Lock model, reading (ours and other tools'), writing
byte-identically for identical content, where a lock lives, and whether it is stale.
Imports nothing heavy (no YAML, no resolver) unless staleness needs the env file parsed."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from envstore.errors import EnvstoreError
from envstore.project import DEFAULT_ENV_FILES
from envstore.store.fs import write_atomic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.9/3.10
    import tomli as tomllib

LOCK_VERSION = "1.0"
CREATED_BY = "envstore"
TOOL_VERSION = 1


class LockfileError(EnvstoreError):
    """A lockfile cannot be read or does not say what realize needs."""

    code = "lockfile"

    def __init__(self, message: str, path: Path | None = None, hint: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path.name}: {message}" if path else message, hint)


def tag_rank(tags: Iterable[str]) -> dict[str, int]:
    """Tag -> preference (0 is best) for an interpreter's tags, most preferred first."""
    rank: dict[str, int] = {}
    for i, t in enumerate(tags):
        rank.setdefault(str(t), i)
    return rank


def wheel_tags(filename: str) -> list[str]:
    """The compatibility tags a wheel's file name declares (expanded from compressed tag
    sets); none for a name that is not a valid wheel file name."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        return [str(t) for t in parse_wheel_filename(filename)[3]]
    except (InvalidWheelFilename, ValueError):
        return []


def _python_allowed(requires_python: str, version: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(requires_python).contains(version, prereleases=True)
    except InvalidSpecifier:
        return True  # an unreadable constraint from an index is not ours to enforce; the tags still are


def _marker_holds(marker: str, environment: dict[str, Any], what: str, path: Path | None = None) -> bool:
    from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName

    try:
        return Marker(marker).evaluate(environment, context="lock_file")
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName) as e:
        raise LockfileError(f"{what} cannot be evaluated: {marker!r} ({e})", path) from None


@dataclass(frozen=True)
class LockedWheel:
    url: str | None
    filename: str
    size: int | None
    sha256: str
    upload_time: datetime | None = None
    path: str | None = None  # PEP 751 allows a local path instead of a URL

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.filename}
        if self.upload_time is not None:
            out["upload-time"] = self.upload_time
        if self.url is not None:
            out["url"] = self.url
        if self.path is not None:
            out["path"] = self.path
        if self.size is not None:
            out["size"] = self.size
        out["hashes"] = {"sha256": self.sha256}
        return out


@dataclass(frozen=True)
class LockedSdist(LockedWheel):
    """PEP 751 `[packages.sdist]`: a source distribution realize builds into a wheel (issue 16);
    the same fields as a wheel's entry (`path` for a local archive, relative to the lock).
    `archive`: PEP 751 `[packages.archive]` instead, for a direct reference (`name @ URL` or a
    local archive path) rather than an index's sdist; built the same way."""

    archive: bool = False

    def to_toml(self) -> dict[str, Any]:
        out = super().to_toml()
        if self.archive:
            del out["name"]  # an archive entry has none: its url or path names the file
        return out

    @property
    def key(self) -> str:
        """Its table under [[packages]]."""
        return "archive" if self.archive else "sdist"


def _parse_sdist(p: dict[str, Any], path: Path | None) -> LockedSdist | None:
    kind = "sdist" if isinstance(p.get("sdist"), dict) else "archive"
    s = p.get(kind)
    if not isinstance(s, dict):
        return None
    sha = (s.get("hashes") or {}).get("sha256")
    if not sha:
        raise LockfileError(f"the {kind} of {p['name']} has no sha256 hash", path)
    fname = s.get("name") or (s.get("url") or s.get("path") or "").rsplit("/", 1)[-1].split("#")[0]
    if kind == "archive" and fname.lower().endswith(".whl"):
        raise LockfileError(f"the archive of {p['name']} is a wheel ({fname}); list it under [[packages.wheels]]", path)
    return LockedSdist(url=s.get("url"), filename=fname, size=s.get("size"), sha256=sha,
                       upload_time=s.get("upload-time"), path=s.get("path"), archive=kind == "archive")


@dataclass(frozen=True)
class LockedTree:
    """PEP 751 `[packages.directory]` (a local project, `editable` for -e) or `[packages.vcs]`
    (a git repository at the commit its requested revision named when locking): built at realize."""

    kind: str  # "directory" | "vcs"
    path: str | None = None  # directory: relative to the lock's directory (POSIX), or absolute
    editable: bool = False
    url: str | None = None  # vcs: the repository, without the `git+`
    requested_revision: str | None = None
    commit_id: str | None = None
    subdirectory: str | None = None

    def to_toml(self) -> dict[str, Any]:
        if self.kind == "directory":
            return {"path": self.path, **({"editable": True} if self.editable else {}),
                    **({"subdirectory": self.subdirectory} if self.subdirectory else {})}
        out: dict[str, Any] = {"type": "git", "url": self.url}
        if self.requested_revision:
            out["requested-revision"] = self.requested_revision
        out["commit-id"] = self.commit_id
        if self.subdirectory:
            out["subdirectory"] = self.subdirectory
        return out

    def directory(self, lock_path: Path | None) -> Path:
        """The project directory of a `directory` entry, relative paths from the lock's directory."""
        assert self.path is not None
        base = lock_path.parent if lock_path is not None else Path.cwd()
        return (base / self.path).resolve()


def _parse_tree(p: dict[str, Any], path: Path | None) -> LockedTree | None:
    d, v = p.get("directory"), p.get("vcs")
    if isinstance(d, dict):
        if not isinstance(d.get("path"), str):
            raise LockfileError(f"the directory of {p['name']} has no path", path)
        return LockedTree("directory", path=d["path"], editable=bool(d.get("editable", False)),
                          subdirectory=d.get("subdirectory"))
    if isinstance(v, dict):
        if v.get("type") != "git":
            raise LockfileError(f"{p['name']}: VCS type {v.get('type')!r} is not supported (git is)", path)
        if not v.get("commit-id") or not (v.get("url") or v.get("path")):
            raise LockfileError(f"the git entry of {p['name']} needs a url and a commit-id", path)
        return LockedTree("vcs", url=v.get("url") or v.get("path"), requested_revision=v.get("requested-revision"),
                          commit_id=v["commit-id"], subdirectory=v.get("subdirectory"))
    return None


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    wheels: tuple[LockedWheel, ...] = ()
    requires_python: str | None = None
    index: str | None = None
    marker: str | None = None
    dependencies: tuple[str, ...] = ()
    has_sdist: bool = False
    sdist: LockedSdist | None = None  # set when realize builds this package from source
    tree: LockedTree | None = None  # a local project or a git commit, built at realize

    @property
    def from_source(self) -> bool:
        """Realize builds it: no wheel listed, an sdist, a directory or a VCS entry instead."""
        return not self.wheels and (self.sdist is not None or self.tree is not None)

    @property
    def wheel(self) -> LockedWheel | None:
        """The wheel realize installs: the only one in a lock envstore wrote. Locks from other
        tools may list one per platform; use `choose_wheel(tags)` for those."""
        return self.wheels[0] if len(self.wheels) == 1 else None

    def choose_wheel(self, tags: Iterable[str] | dict[str, int]) -> LockedWheel | None:
        """The listed wheel whose tags rank best for an interpreter (tags most preferred first,
        or a `tag_rank` of them when many packages are matched against one interpreter)."""
        rank = tags if isinstance(tags, dict) else tag_rank(tags)
        best: tuple[int, LockedWheel] | None = None
        for w in self.wheels:
            score = min((rank[t] for t in wheel_tags(w.filename) if t in rank), default=None)
            if score is not None and (best is None or score < best[0]):
                best = (score, w)
        return best[1] if best else None

    def applies(self, environment: dict[str, Any]) -> bool:
        """Whether the package's PEP 751 marker holds for an interpreter's marker environment
        (with `extras` and `dependency_groups` set, as lock-file markers may use them)."""
        return not self.marker or _marker_holds(self.marker, environment, f"the marker of {self.name} {self.version}")

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.marker:
            out["marker"] = self.marker
        if self.requires_python:
            out["requires-python"] = self.requires_python
        if self.index:
            out["index"] = self.index
        if self.dependencies:
            out["dependencies"] = [{"name": d} for d in self.dependencies]
        if self.wheels or not self.from_source:
            out["wheels"] = [w.to_toml() for w in self.wheels]
        if self.sdist is not None:
            out[self.sdist.key] = self.sdist.to_toml()
        if self.tree is not None:
            out[self.tree.kind] = self.tree.to_toml()
        return out


@dataclass(frozen=True)
class Misfit:
    """Why an interpreter cannot install a lock: the first package it cannot install (or, for
    `environments`, none) and the reason: "tags", "requires-python", "no-wheel", "environments"."""

    package: LockedPackage | None
    reason: str
    detail: str = ""

    def subject(self) -> str:
        """The wheel (or package) to name in a message."""
        p = self.package
        if p is None:
            return "the lock"
        if len(p.wheels) == 1:
            return f"{p.wheels[0].filename} ({p.name} {p.version})"
        if not p.wheels:
            return f"{p.name} {p.version}"
        return f"{p.name} {p.version} (none of its {len(p.wheels)} wheels: {', '.join(w.filename for w in p.wheels)})"

    def why(self) -> str:
        if self.reason == "no-wheel":
            return "the lock has no wheel for it (only a source distribution or other source), and envstore installs wheels"
        if self.reason == "requires-python":
            return f"it requires python {self.detail}"
        if self.reason == "environments":
            return f"the lock applies only where one of its environments holds: {self.detail}"
        tags = sorted({t for w in self.package.wheels for t in wheel_tags(w.filename)}) if self.package else []
        return f"it is built for {', '.join(tags)}" if tags else "its file name is not a valid wheel name"


@dataclass(frozen=True)
class Lock:
    packages: tuple[LockedPackage, ...]
    requires_python: str | None = None
    created_by: str = CREATED_BY
    # [tool.envstore]: what PEP 751 has no field for.
    spec_hash: str | None = None
    env_file_hash: str | None = None
    interpreter: dict[str, str] = field(default_factory=dict)
    indexes: tuple[str, ...] = ()
    path: Path | None = None
    # PEP 751 `environments` (markers, one of which must hold) and `default-groups`: read so
    # that a lock another tool wrote is realized only where it says it applies.
    environments: tuple[str, ...] = ()
    default_groups: tuple[str, ...] = ()
    # [tool.envstore] config-settings / config-settings-package: the PEP 517 config_settings
    # the env file gives its builds, so that realize from the lock alone builds the same.
    config_settings: dict[str, Any] = field(default_factory=dict)
    package_config_settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def config_settings_for(self, name: str) -> dict[str, Any]:
        """A package's config_settings: every build's, with its own on top."""
        from packaging.utils import canonicalize_name

        return {**self.config_settings, **self.package_config_settings.get(canonicalize_name(name), {})}

    def package(self, name: str) -> LockedPackage | None:
        from packaging.utils import canonicalize_name

        want = canonicalize_name(name)
        return next((p for p in self.packages if canonicalize_name(p.name) == want), None)

    def for_tags(self, tags: Iterable[str]) -> Lock:
        """This lock with each package narrowed to its best wheel for these tags, so that
        `package.wheel` is set for locks that list wheels for several platforms."""
        rank = tag_rank(tags)
        out = []
        for p in self.packages:
            w = p.choose_wheel(rank)
            if w is None:
                raise LockfileError(f"no wheel of {p.name} {p.version} is compatible with the interpreter",
                                    self.path, "lock again for this interpreter: store lock")
            out.append(replace(p, wheels=(w,)))
        return replace(self, packages=tuple(out))

    def fit(self, tags: Iterable[str], marker_env: dict[str, str]) -> Lock | Misfit:
        """This lock as one interpreter would install it: the packages whose markers hold for
        it, each narrowed to its best wheel; or the first package (in lock order) it cannot
        install. Nothing here trusts that the lock was made for this interpreter."""
        # No extras are selected; `extra` too, for tools that still write requirement-style markers.
        environment: dict[str, Any] = {**marker_env, "extra": "", "extras": frozenset(),
                                       "dependency_groups": frozenset(self.default_groups)}
        if self.environments and not any(_marker_holds(m, environment, "an environments marker", self.path)
                                         for m in self.environments):
            return Misfit(None, "environments", ", ".join(self.environments))
        rank = tag_rank(tags)
        python = marker_env.get("python_full_version", "")
        out = []
        for p in self.packages:
            try:
                if not p.applies(environment):
                    continue
            except LockfileError as e:
                raise LockfileError(str(e), self.path) from None
            if p.from_source:
                out.append(p)  # built for this interpreter at realize (issue 16)
                continue
            if not p.wheels:
                return Misfit(p, "no-wheel")
            if p.requires_python and not _python_allowed(p.requires_python, python):
                return Misfit(p, "requires-python", p.requires_python)
            w = p.choose_wheel(rank)
            if w is None and p.sdist is not None:
                out.append(replace(p, wheels=()))  # PEP 751: no listed wheel fits, so the sdist is built
                continue
            if w is None:
                return Misfit(p, "tags")
            out.append(replace(p, wheels=(w,)))
        return replace(self, packages=tuple(out))

    @property
    def is_universal(self) -> bool:
        """Made for a set of environments (`store lock`), not for one interpreter."""
        return not self.interpreter.get("version") and bool(self.environments)

    @property
    def has_local_sources(self) -> bool:
        """A local project directory or archive: its files can change with the env file and the
        lock as they are (spec.sources), so neither alone says the prefix is current."""
        return any((p.tree is not None and p.tree.kind == "directory") or (p.sdist is not None and p.sdist.path)
                   for p in self.packages)

    def to_toml(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"lock-version": LOCK_VERSION}
        if self.requires_python:
            doc["requires-python"] = self.requires_python
        if self.environments:
            doc["environments"] = list(self.environments)
        if self.default_groups:
            doc["default-groups"] = list(self.default_groups)
        doc["created-by"] = self.created_by
        doc["packages"] = [p.to_toml() for p in sorted(self.packages, key=lambda p: (p.name, p.version))]
        tool: dict[str, Any] = {"version": TOOL_VERSION}
        if self.spec_hash:
            tool["spec-hash"] = self.spec_hash
        if self.env_file_hash:
            tool["env-file-hash"] = self.env_file_hash
        if self.indexes:
            tool["indexes"] = list(self.indexes)
        if self.interpreter:
            tool["interpreter"] = dict(sorted(self.interpreter.items()))
        if self.config_settings:
            tool["config-settings"] = dict(self.config_settings)
        if self.package_config_settings:
            tool["config-settings-package"] = {k: dict(v) for k, v in sorted(self.package_config_settings.items())}
        doc["tool"] = {"envstore": tool}
        return doc


def dumps_lock(lock: Lock) -> str:
    import tomli_w

    return tomli_w.dumps(lock.to_toml())


def write_lock(lock: Lock, path: Path) -> None:
    """Write atomically (a unique temp file + rename) so a reader never sees half a lock and
    two first locks of one file never collide; unchanged content is not rewritten, keeping
    the file's mtime meaningful."""
    text = dumps_lock(lock)
    path = Path(path)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    write_atomic(path, text)


def read_lock(path: Path | str) -> Lock:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LockfileError("lockfile not found", path, "create it with: store lock") from None
    except tomllib.TOMLDecodeError as e:
        raise LockfileError(f"invalid TOML: {e}", path) from None
    return parse_lock(data, path)


def parse_lock(data: dict[str, Any], path: Path | None = None) -> Lock:
    version = data.get("lock-version")
    if version is None:
        raise LockfileError("missing lock-version: not a PEP 751 lockfile", path)
    if str(version).split(".")[0] != "1":
        raise LockfileError(f"lock-version {version} is not supported (only 1.x)", path)
    packages = []
    for i, p in enumerate(data.get("packages", [])):
        if "name" not in p:
            raise LockfileError(f"packages[{i}] has no name", path)
        if "version" not in p:
            raise LockfileError(f"package {p['name']} has no version (only pinned packages can be realized)", path)
        wheels = []
        for w in p.get("wheels", []):
            sha = (w.get("hashes") or {}).get("sha256")
            if not sha:
                # Fail closed: a wheel without a sha256 cannot be checked when fetched.
                raise LockfileError(f"a wheel of {p['name']} has no sha256 hash", path)
            fname = w.get("name") or (w.get("url") or w.get("path") or "").rsplit("/", 1)[-1].split("#")[0]
            wheels.append(LockedWheel(url=w.get("url"), filename=fname, size=w.get("size"), sha256=sha,
                                      upload_time=w.get("upload-time"), path=w.get("path")))
        deps = tuple(d["name"] for d in p.get("dependencies", []) if isinstance(d, dict) and "name" in d)
        packages.append(LockedPackage(
            name=p["name"], version=str(p["version"]), wheels=tuple(wheels),
            requires_python=p.get("requires-python"), index=p.get("index"), marker=p.get("marker"),
            dependencies=deps, has_sdist="sdist" in p or "archive" in p, sdist=_parse_sdist(p, path),
            tree=_parse_tree(p, path) if not wheels else None,
        ))
    tool = (data.get("tool") or {}).get("envstore") or {}
    return Lock(
        packages=tuple(packages), requires_python=data.get("requires-python"),
        created_by=data.get("created-by", "unknown"), spec_hash=tool.get("spec-hash"),
        env_file_hash=tool.get("env-file-hash"), interpreter=dict(tool.get("interpreter") or {}),
        indexes=tuple(tool.get("indexes") or ()), path=path,
        config_settings=_settings_table(tool.get("config-settings"), "config-settings", path),
        package_config_settings={str(k): _settings_table(v, f"config-settings-package.{k}", path)
                                 for k, v in _table(tool.get("config-settings-package"),
                                                    "config-settings-package", path).items()},
        environments=tuple(data.get("environments") or ()), default_groups=tuple(data.get("default-groups") or ()),
    )


def lock_path_for(env_file: Path | str) -> Path:
    """pylock.toml beside env.yml/environment.yml; pylock.<stem>.toml beside anything else;
    a pylock file given as input is its own lock."""
    env_file = Path(env_file)
    name = env_file.name
    if name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml")):
        return env_file
    if name in DEFAULT_ENV_FILES:
        return env_file.with_name("pylock.toml")
    return env_file.with_name(f"pylock.{env_file.stem}.toml")


def file_hash(path: Path) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pin_changes(old: Lock | None, new: Lock) -> list[str]:
    """The pins that differ between two locks, one line each, sorted by name: `+ name version`
    (added), `- name version` (removed), `~ name old -> new` (moved). A package locked at several
    versions (one per marker) is compared as its set of versions. Empty when the pins agree."""
    from packaging.utils import canonicalize_name

    def pins(lock: Lock | None) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for p in lock.packages if lock else ():
            out.setdefault(canonicalize_name(p.name), []).append(p.version)
        return {k: sorted(v) for k, v in out.items()}

    before, after = pins(old), pins(new)
    lines = []
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name), after.get(name)
        if a == b:
            continue
        if a is None:
            lines.append(f"+ {name} {', '.join(b or ())}")
        elif b is None:
            lines.append(f"- {name} {', '.join(a)}")
        else:
            lines.append(f"~ {name} {', '.join(a)} -> {', '.join(b)}")
    return lines


__all__ = [
    "Lock", "LockedPackage", "LockedSdist", "LockedTree", "LockedWheel", "LockfileError", "Misfit", "tag_rank", "wheel_tags", "dumps_lock", "file_hash",
    "lock_path_for", "parse_lock", "pin_changes", "read_lock", "write_lock",
]


def _table(value: Any, what: str, path: Path | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LockfileError(f"[tool.envstore] {what} is not a table", path)
    return value


def _settings_table(value: Any, what: str, path: Path | None) -> dict[str, Any]:
    """A config-settings table of a lock (untrusted): string or list-of-string values only."""
    table = _table(value, what, path)
    for k, v in table.items():
        if not (isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))):
            raise LockfileError(f"[tool.envstore] {what}: {k!r} is neither a string nor a list of strings", path)
    return dict(table)
