"""Builds from source (issue 16): sdists, local project directories (editable or not) and git
commits. Their metadata for the resolver, the build environment realized by envstore from
`[build-system] requires` (wheels only, locked, a prefix of the store), and the wheel built kept
as a store artifact keyed by what determines it: the source's identity (the sdist's sha256, the
tree hash of a directory, an editable's path and metadata files, the commit), the build
environment's store path, the interpreter and the config-settings. The same source for the same
interpreter is built once per store; gc collects a built wheel like any other artifact nothing
uses."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from envstore._core import remove_tree
from envstore.build.backend import BuildError, build_requires, build_system, run_hook
from envstore.build.git import checkout, resolve_commit
from envstore.build.tree import copy_source, tree_hash
from envstore.build.wheelfile import mark_direct_url, mark_editable
from envstore.index.client import IndexClient
from envstore.index.config import IndexConfig, IndexOptions
from envstore.index.metadata import CoreMetadata, parse_metadata
from envstore.index.simple import ProjectFile
from envstore.install.prefix import IngestedWheel
from envstore.install.wheel import ingest_wheel
from envstore.interpreters import list_interpreters
from envstore.lockfile import Lock, LockedPackage, read_lock, write_lock
from envstore.resolve.fit import interpreter_for_lock
from envstore.resolve.lock import build_lock, resolve
from envstore.resolve.target import TargetPython
from envstore.spec.model import EnvSpec, IndexSettings, SpecRequirement
from envstore.spec.sources import GitRef, metadata_digest
from envstore.store import layout
from envstore.store.db import StoreDB
from envstore.store.fs import write_atomic
from envstore.store.locks import file_lock
from envstore.store.session import StoreSession

Info = Callable[[str], None]
# Realizes a build environment's lock as a prefix of the store and returns its path: given by
# ops.realize (which builds prefixes and calls this module for the packages built from source).
BuildPrefix = Callable[[Any, StoreDB, Lock, Info, bool], Path]
BUILD_ENV_NAME = "build-env"
# PEP 643: from Metadata-Version 2.2 an sdist's PKG-INFO is the wheel's metadata unless a field is Dynamic.
_STATIC_FROM = Version("2.2")


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Source:
    """Something realize builds a wheel from: an sdist, a local project or a git commit.
    `key` is what determines the wheel besides the build environment and the interpreter
    (the sdist's sha256, the tree hash, the path and metadata of an editable, the commit)."""

    key: str
    label: str
    make: Callable[[Path], Path]  # the project directory, made under a work directory
    editable: bool = False
    # PEP 610's direct_url.json of what is built from a direct reference (a git commit, an
    # archive URL), as pip writes it; its fields are all in `key`, so the prefix stays a function
    # of its store path. A non-editable directory gets none: its path would be (see directory_source).
    direct_url: dict | None = None


def sdist_source(root: Path, url: str, filename: str, sha256: str, label: str, archive: bool = False) -> Source:
    """An index's sdist, or (`archive`) a direct reference to an archive, which records its URL."""
    def make(work: Path) -> Path:
        return unpack(download(root, url, filename, sha256, label), work / "src")

    if not archive:
        return Source(sha256, label, make)
    direct = {"url": url, "archive_info": {"hashes": {"sha256": sha256}}}
    return Source(f"archive:{url}:{sha256}", label, make, direct_url=direct)


def directory_source(path: Path, editable: bool, label: str) -> Source:
    """A local project: an editable is built where it is (its .pth points there) and known by
    its path and metadata files; any other by its content, built from a copy. Only an editable
    gets a direct_url.json: a copy's would name the directory, and two checkouts of the same
    content must give the same prefix."""
    if not path.is_dir():
        raise BuildError(f"{label}: the project directory {path} does not exist")
    if editable:
        return Source(f"editable:{path}:{metadata_digest(path)}", label, lambda _work: path, editable=True)
    return Source(f"dir:{tree_hash(path)}", label, lambda work: copy_source(path, work / "src"))


def git_source(root: Path, ref: GitRef, commit: str, label: str, requested: str | None = None) -> Source:
    direct: dict[str, Any] = {"url": ref.url, "vcs_info": {"vcs": "git", "commit_id": commit}}
    if requested:
        direct["vcs_info"]["requested_revision"] = requested
    if ref.subdirectory:
        direct["subdirectory"] = ref.subdirectory
    return Source(f"git:{commit}:{ref.subdirectory or ''}:{ref.url}:{requested or ''}", label,
                  lambda work: checkout(_git_cache(root), ref, commit, work / "src"), direct_url=direct)


def package_source(root: Path, lock: Lock, p: LockedPackage) -> Source:
    """The source of a locked package realize builds (LockedPackage.from_source)."""
    label = f"{p.name} {p.version}"
    if p.tree is not None and p.tree.kind == "directory":
        return directory_source(p.tree.directory(lock.path), p.tree.editable, label)
    if p.tree is not None:
        assert p.tree.commit_id is not None
        return git_source(root, GitRef(p.tree.url or "", None, p.tree.subdirectory), p.tree.commit_id, label,
                          p.tree.requested_revision)
    assert p.sdist is not None
    url = p.sdist.url
    if url is None:
        base = lock.path.parent if lock.path else Path.cwd()
        url = (base / (p.sdist.path or p.sdist.filename)).resolve().as_uri()
    return sdist_source(root, url, p.sdist.filename, p.sdist.sha256, label, archive=p.sdist.archive)


def source_identity(lock: Lock, p: LockedPackage) -> str:
    """A built package's part of the store path hash: a non-editable directory by its content
    (edit a file, get a new prefix), an editable by its path and metadata files (edits to its
    source keep the prefix), an sdist by its sha256, a git package by its commit; and the
    config-settings its build gets, when it gets any."""
    suffix = _settings_key(lock.config_settings_for(p.name))
    if p.sdist is not None and p.tree is None and not p.sdist.archive:
        return "sdist:" + p.sdist.sha256 + suffix
    return package_source(Path(), lock, p).key + suffix


def _settings_key(settings: dict[str, Any]) -> str:
    """The part of a key config-settings add (none without settings: keys made before stay)."""
    return (":" + json.dumps(settings, sort_keys=True)) if settings else ""


class SourceMetadata:
    """The resolver's reader of metadata that needs a source (resolve.provider.SdistMetadata):
    index sdists and direct archives, local project directories, git URLs (their commit found
    here). PEP 643 static PKG-INFO is read as it is; anything else asks the backend
    (prepare_metadata_for_build_wheel) in a build environment envstore realizes."""

    def __init__(self, store: Any, client: IndexClient, target: TargetPython, build_prefix: BuildPrefix,
                 info: Info = _quiet) -> None:
        self.store = store
        self.build_prefix = build_prefix
        self.root = Path(store.root)
        self.client = client
        self.target = target
        self.info = info
        self._trees: dict[str, tuple[ProjectFile, CoreMetadata]] = {}  # a branch is resolved once per lock
        self._settings_for: Callable[[str], dict[str, Any]] = lambda _name: {}

    def configure(self, settings_for: Callable[[str], dict[str, Any]]) -> None:
        self._settings_for = settings_for

    def metadata(self, pf: ProjectFile, name: str, version: Version | None) -> CoreMetadata:
        label = f"{name} {version}" if version is not None else name
        if pf.url.startswith("git+"):
            ref = GitRef.parse(pf.url)
            return self._read(git_source(self.root, ref, ref.revision or "", label), pf.url, name)
        local = _local_directory(pf.url)
        if local is not None:
            return self._read(directory_source(local, False, label), pf.url, name)
        pf = self.client.ensure_sha256(pf)
        return self._read(sdist_source(self.root, pf.url, pf.filename, pf.sha256 or "", label), pf.filename, name)

    def tree(self, url: str, name: str) -> tuple[ProjectFile, CoreMetadata]:
        """A directory or git URL as the resolver's file: a git URL pinned to the commit its
        revision names now, and the project's metadata."""
        if url not in self._trees:
            self._trees[url] = self._tree(url, name)
        return self._trees[url]

    def _tree(self, url: str, name: str) -> tuple[ProjectFile, CoreMetadata]:
        if url.startswith("git+"):
            ref = GitRef.parse(url)
            self.info(f"resolving {ref.url}@{ref.revision or 'HEAD'}")
            commit = resolve_commit(_git_cache(self.root), ref)
            pinned = ref.pinned(commit)
            pf = ProjectFile(f"{name}@{commit[:12]}", pinned)
            return pf, self._read(git_source(self.root, ref, commit, name), pinned, name)
        local = _local_directory(url)
        assert local is not None
        pf = ProjectFile(local.name, url)
        # Metadata of a directory is keyed by its metadata files, not its whole content: the
        # lock is stale exactly when those change (spec.sources.metadata_digest).
        source = Source(f"meta:{local}:{metadata_digest(local)}", name, lambda work: copy_source(local, work / "src"))
        return pf, self._read(source, url, name)

    def _read(self, source: Source, shown: str, name: str) -> CoreMetadata:
        settings = self._settings_for(name)
        env_key = source.key + _settings_key(settings)
        key = hashlib.sha256(env_key.encode()).hexdigest()
        cached = _cache(self.root) / f"{key}-{_target_key(self.target)}.METADATA"
        if cached.is_file():
            return parse_metadata(cached.read_bytes(), shown)
        work = layout.tmp_dir(self.root) / f"meta-{key[:16]}-{os.getpid()}-{id(self)}"
        try:
            project = source.make(work)
            data = _static_metadata(project)
            if data is None:
                with StoreSession(self.root, "shared", store=self.store) as session:
                    python, _env = build_env(self.store, session.db, project, self.target, self.client,
                                             env_key, source.label, self.info, self.build_prefix,
                                             config_settings=settings)
                    out = run_hook("prepare_metadata_for_build_wheel", project, python, work / "out",
                                   work / "sandbox", source.label, config_settings=settings or None,
                                   path_dirs=[python.parent])
                    data = (out / "METADATA").read_bytes() if out.is_dir() else _wheel_metadata(out)
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(cached, data.decode("utf-8", "replace"))
            return parse_metadata(data, shown)
        finally:
            remove_tree(work)


def metadata_reader(store: Any, build_prefix: BuildPrefix, info: Info = _quiet
                    ) -> Callable[[IndexClient, TargetPython], SourceMetadata]:
    """What resolve.lock.lock_env takes as `sources`."""
    return lambda client, target: SourceMetadata(store, client, target, build_prefix, info)


def build_env(store: Any, db: StoreDB, project: Path, target: TargetPython, client: IndexClient | None,
              source_key: str, label: str, info: Info, build_prefix: BuildPrefix,
              offline: bool = False, editable: bool = False, config_settings: dict[str, Any] | None = None,
              index: Callable[[], IndexConfig] | None = None) -> tuple[Path, Path]:
    """(its python, its prefix): the build environment of `project`, realized from its
    `[build-system] requires` and what the backend's get_requires_for_build_wheel (or
    _editable) adds, with wheels only, and locked once per source and interpreter (the lock is
    kept beside the sdist's cached metadata, so a later realize resolves and asks nothing)."""
    root = Path(store.root)
    lock_file = _build_env_lock(root, source_key, target)
    lock = read_lock(lock_file) if lock_file.is_file() else None
    if lock is not None:
        dest = build_prefix(store, db, lock, info, offline)
        return dest / "bin" / "python", dest
    requires = list(build_system(project)["requires"])
    own = None
    if client is None:  # at realize: its index configuration, else (a caller with none) the default
        config = index() if index is not None else IndexOptions().resolve(IndexSettings())
        own = client = IndexClient(config, layout.cache_dir(root))
    try:
        lock = _lock_build_env(lock_file, requires, target, client, label)
        dest = build_prefix(store, db, lock, info, offline)
        python = dest / "bin" / "python"
        sandbox = layout.tmp_dir(root) / f"requires-{hashlib.sha256(source_key.encode()).hexdigest()[:16]}-{os.getpid()}"
        try:
            asked = build_requires(project, python, sandbox, label, editable, config_settings or None,
                                   path_dirs=[python.parent])
        finally:
            remove_tree(sandbox)
        missing = [r for r in asked if not _provided(r, lock, target, label)]
        if missing:
            info(f"{label}: its backend also needs {', '.join(missing)}")
            lock = _lock_build_env(lock_file, requires + missing, target, client, label)
            dest = build_prefix(store, db, lock, info, offline)
    finally:
        if own is not None:
            own.close()
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    write_lock(lock, lock_file)
    return dest / "bin" / "python", dest


def _lock_build_env(lock_file: Path, requires: list[str], target: TargetPython, client: IndexClient,
                    label: str) -> Lock:
    try:
        reqs = tuple(SpecRequirement(Requirement(r), f"the build requirements of {label}") for r in requires)
    except InvalidRequirement as e:
        raise BuildError(f"{label}: a build requirement is not PEP 508: {e}") from None
    spec = EnvSpec(path=lock_file.with_suffix(".yml"), name=BUILD_ENV_NAME, only_binary=frozenset({":all:"}),
                   requirements=reqs)
    return build_lock(spec, target, client, resolve(spec, target, client))


def _provided(requirement: str, lock: Lock, target: TargetPython, label: str) -> bool:
    """Whether the build environment already satisfies one of the backend's extra requirements
    (its marker false here counts as satisfied)."""
    try:
        req = Requirement(requirement)
    except InvalidRequirement as e:
        raise BuildError(f"{label}: its backend asked for {requirement!r}, which is not PEP 508: {e}") from None
    if req.marker is not None and not req.marker.evaluate(dict(target.marker_env)):
        return True
    name = canonicalize_name(req.name)
    return any(canonicalize_name(p.name) == name and req.specifier.contains(p.version, prereleases=True)
               for p in lock.packages)


def built_key(source: Source, build_env: Path, interpreter: str, config_settings: dict[str, Any] | None = None
              ) -> str:
    """The artifact key of a wheel built from a source: what determines the wheel."""
    data = json.dumps([source.key, source.editable, build_env.name, interpreter, config_settings or {}],
                      sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()


def built_wheel(store: Any, db: StoreDB, lock: Lock, p: LockedPackage, tmp: Path, info: Info,
                offline: bool, build_prefix: BuildPrefix, index: Callable[[], IndexConfig] | None = None
                ) -> IngestedWheel:
    """The wheel of a package of `lock` that realize builds (an sdist, a local project, a git
    commit), built once per store: found by its key, else made, built in its build environment,
    ingested and recorded as an artifact."""
    root = Path(store.root)
    source = package_source(root, lock, p)
    target = _target_of(store, lock)
    settings = lock.config_settings_for(p.name)
    env_key = source.key + _settings_key(settings)  # the backend's extra requirements may follow them
    lock_file = _build_env_lock(root, env_key, target)
    if lock_file.is_file():  # the key without unpacking or resolving anything
        env = build_prefix(store, db, read_lock(lock_file), info, offline)
        found = _built(store, db, built_key(source, env, str(target.store_path), settings), p)
        if found is not None:
            return found
    digest = hashlib.sha256(source.key.encode()).hexdigest()
    work = tmp / f"build-{digest[:16]}"
    with file_lock(layout.env_lock_path(root, f"build-{digest[:32]}"), exclusive=True):
        try:
            project = source.make(work)
            python, env = build_env(store, db, project, target, None, env_key, source.label, info,
                                    build_prefix, offline, editable=source.editable, config_settings=settings,
                                    index=index)
            key = built_key(source, env, str(target.store_path), settings)
            found = _built(store, db, key, p)  # another realize may have built it while this one waited
            if found is not None:
                return found
            info(f"building {source.label} from source" + (" (editable)" if source.editable else ""))
            hook = "build_editable" if source.editable else "build_wheel"
            wheel = run_hook(hook, project, python, work / "out", work / "sandbox", source.label,
                             config_settings=settings or None, path_dirs=[python.parent])
            if source.editable:
                mark_editable(wheel, project)
            elif source.direct_url is not None:
                mark_direct_url(wheel, source.direct_url)
            result = ingest_wheel(store, wheel)
            db.register_artifact(key, result.manifest_id, wheel.name, f"built:{source.key}:{env.name}",
                                 wheel.stat().st_size)
            return IngestedWheel(p.name, wheel.name, result.manifest_id, p.version)
        finally:
            remove_tree(work)


def _built(store: Any, db: StoreDB, key: str, p: LockedPackage) -> IngestedWheel | None:
    row = db.artifact(key)
    if row is None or not store.manifest_blobs_present(row.manifest_id):
        return None
    db.touch_artifacts([key])
    return IngestedWheel(p.name, row.filename, row.manifest_id, p.version)


def download(root: Path, url: str, filename: str, sha256: str, label: str) -> Path:
    """The sdist, hash-checked, from the store's cache or fetched into it."""
    # lazy: the HTTP stack only when an sdist is not cached yet
    from envstore.index.fetch import WheelRef, fetch_all

    dest = _cache(root) / sha256 / filename
    if dest.is_file():
        return dest
    if url.startswith("file:"):  # a local archive: checked against the lock like a download
        src = Path(unquote(urlsplit(url).path))
        try:
            data = src.read_bytes()
        except OSError as e:
            raise BuildError(f"{label}: cannot read {src}: {e.strerror}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BuildError(f"{label}: {src} does not match the sha256 in the lock (it changed since locking)",
                             "run `store lock` again")
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(dest, data)
        return dest
    fetch_all([WheelRef(label, url, filename, sha256, None)], dest.parent)
    return dest


def unpack(archive: Path, dest: Path) -> Path:
    """The project directory of an sdist (its one top-level directory), unpacked with tarfile's
    `data` filter: no absolute paths, no escapes, no devices or links out of the tree."""
    dest.mkdir(parents=True, exist_ok=True)
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                target = (dest / member).resolve()
                if not target.is_relative_to(dest.resolve()):
                    raise BuildError(f"{archive.name}: member {member!r} points outside the archive")
            zf.extractall(dest)
    else:
        try:
            with tarfile.open(archive) as tf:
                tf.extractall(dest, filter="data")
        except (tarfile.TarError, OSError) as e:
            raise BuildError(f"{archive.name}: cannot unpack the source distribution: {e}") from None
    tops = [d for d in dest.iterdir() if d.is_dir()]
    return tops[0] if len(tops) == 1 and not (dest / "pyproject.toml").exists() else dest


def _static_metadata(project: Path) -> bytes | None:
    """PKG-INFO when PEP 643 says it is the metadata a build would produce."""
    path = project / "PKG-INFO"
    if not path.is_file():
        return None
    data = path.read_bytes()
    msg = HeaderParser().parsestr(data.decode("utf-8", "replace"))
    try:
        if Version(str(msg.get("Metadata-Version", "1.0"))) < _STATIC_FROM:
            return None
    except ValueError:
        return None
    dynamic = {d.lower() for d in msg.get_all("Dynamic") or []}
    return None if dynamic & {"requires-dist", "requires-python", "version"} else data


def _wheel_metadata(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        return zf.read(name)


def _target_of(store: Any, lock: Lock) -> TargetPython:
    wanted = lock.interpreter.get("manifest-id")
    found = next((i for i in list_interpreters(store) if i.manifest_id == wanted), None) if wanted else None
    if found is None:
        interpreter, _ = interpreter_for_lock(store, lock, _quiet)
        found = interpreter
    return TargetPython.from_interpreter_info(found)


def _target_key(target: TargetPython) -> str:
    return (target.manifest_id or target.tags_hash().split(":")[-1])[:16]


def _build_env_lock(root: Path, source_key: str, target: TargetPython) -> Path:
    digest = hashlib.sha256(source_key.encode()).hexdigest()
    return _cache(root) / f"{digest}-{_target_key(target)}.build-env.toml"


def _local_directory(url: str) -> Path | None:
    if not url.startswith("file:"):
        return None
    path = Path(unquote(urlsplit(url).path))
    return path if path.is_dir() else None


def _git_cache(root: Path) -> Path:
    return layout.cache_dir(root) / "git-v1"


def _cache(root: Path) -> Path:
    return layout.sdist_cache_dir(layout.cache_dir(root))
