"""The `store lock` pipeline: EnvSpec + target interpreter + index client -> pinned wheels -> Lock.
`resolve()` is pure resolution; `lock_env()` is the whole `store lock` pipeline (load the spec,
choose the interpreter, resolve keeping a previous lock's pins, write the lockfile)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib import BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver

from envstore.index.client import IndexClient
from envstore.index.config import IndexConfig, IndexOptions
from envstore.interpreters.choose import matching_minors
from envstore.interpreters.model import InterpreterError
from envstore.lockfile import Lock, LockedPackage, LockedSdist, LockedTree, LockedWheel, file_hash, lock_path_for, read_lock, write_lock
from envstore.progress import Phase, Row, phase, plural, silent
from envstore.resolve.explain import ResolutionError, ResolutionGaveUp, explain_impossible
from envstore.resolve.installed import InstalledFirst, without_installed
from envstore.resolve.prerelease import explicit_names
from envstore.resolve.model import PYTHON, Candidate, Req
from envstore.resolve.files import SDIST_SUFFIXES, parse_wheel
from envstore.resolve.provider import Provider, SdistMetadata
from envstore.resolve.target import TargetPython, target_for_spec
from envstore.spec import EnvSpec, load_spec
from envstore.spec.sources import GitRef
from envstore.store import layout


class _Chains(BaseReporter):
    """Remembers the first requirement that brought in each identifier, for error chains, and
    shows how far resolution got (packages seen, candidates whose metadata was read)."""

    def __init__(self, row: Row) -> None:
        self.first: dict[str, Req] = {}
        self.row = row
        self.pinned: set[tuple[str, str]] = set()

    def adding_requirement(self, requirement: Req, parent: Candidate | None) -> None:
        if requirement.id not in self.first:
            self.first[requirement.id] = requirement
            self._show()

    def pinning(self, candidate: Candidate) -> None:
        if candidate.name != PYTHON:
            self.pinned.add((candidate.name, str(candidate.version)))
            self._show()

    def _show(self) -> None:
        seen = sum(1 for i in self.first if i != PYTHON)
        self.row.describe(f"resolving: {plural(seen, 'package')} seen, {len(self.pinned)} metadata fetched")


def root_requirements(spec: EnvSpec, target: TargetPython) -> list[Req]:
    out = []
    if len(spec.python_specifier):
        out.append(Req(PYTHON, frozenset(), spec.python_specifier, origin=f"{spec.path.name} python"))
    for sr in spec.requirements:
        r = sr.requirement
        if r.marker is not None and not r.marker.evaluate({**target.marker_env, "extra": ""}):
            continue
        out.append(Req(canonicalize_name(r.name), frozenset(canonicalize_name(e) for e in r.extras),
                       r.specifier, r.url, origin=sr.origin))
    return out


def resolve(spec: EnvSpec, target: TargetPython, client: IndexClient,
            preferred: dict[str, Version] | None = None, progress: Phase | None = None,
            installed: dict[str, tuple[Version, str]] | None = None,
            sources: SdistMetadata | None = None, prerelease: str | None = None) -> list[Candidate]:
    """The pinned set (one candidate per package, sorted by name). `installed` (normalized name
    -> (version, what installed it)) is fixed and left out of the result: the conda route's
    `- pip:` list resolved on top of its conda packages."""
    if len(spec.python_specifier) and not spec.python_specifier.contains(target.version_obj, prereleases=True):
        raise ResolutionError(
            f"{spec.path.name} asks for python{spec.python_specifier}, but the interpreter is {target.version}",
            "choose a matching interpreter")
    constraints: dict[str, SpecifierSet] = {}
    for c in spec.constraints:
        constraints[c.name] = constraints.get(c.name, SpecifierSet()) & c.requirement.specifier
    if installed:
        provider: Provider = InstalledFirst(client, target, constraints, spec.hashes, preferred, installed=installed)
    else:
        if sources is not None:
            sources.configure(spec.config_settings_for)
        provider = Provider(client, target, constraints, spec.hashes, preferred, sources=sources,
                            only_binary=spec.only_binary, no_binary=spec.no_binary, prerelease=prerelease or spec.prerelease,
                            explicit=explicit_names(spec.requirements))
    roots = root_requirements(spec, target)
    client.prefetch(r.name for r in roots if r.name != PYTHON and not r.url)
    reporter = _Chains((progress or silent()).row("resolving"))
    try:
        result = Resolver(provider, reporter).resolve(roots, max_rounds=20000)
    except ResolutionImpossible as e:
        raise explain_impossible(list(e.causes), reporter.first, provider.why_empty, target) from None
    except ResolutionTooDeep:
        raise ResolutionGaveUp("resolution gave up after too many backtracking rounds",
                              "pin some versions in the env file to narrow the search") from None
    picked = [c for c in result.mapping.values() if c.name != PYTHON and not c.extras]
    if installed:
        picked = without_installed(picked, installed)
    return sorted(picked, key=lambda c: c.name)


def build_lock(spec: EnvSpec, target: TargetPython, client: IndexClient, picked: Iterable[Candidate],
               progress: Phase | None = None) -> Lock:
    packages = []
    picked = list(picked)
    row = (progress or silent()).row("pinning wheels", total=len(picked), noun="package")
    for c in picked:
        assert c.file is not None
        if parse_wheel(c.file) is None:
            packages.append(_source_package(spec, client, c))
            row.advance()
            continue
        pf = client.ensure_sha256(c.file)
        meta = client.metadata(pf)
        index = pf.index if pf.index in client.config.index_urls else None
        wheel = LockedWheel(url=pf.url, filename=pf.filename, size=pf.size, sha256=pf.sha256 or "",
                            upload_time=pf.upload_time)
        packages.append(LockedPackage(name=c.name, version=str(c.version), wheels=(wheel,),
                                      requires_python=pf.requires_python or meta.requires_python, index=index))
        row.advance()
    env_hash = file_hash(spec.path) if spec.path.is_file() else None
    return Lock(
        packages=tuple(packages), requires_python=f"=={target.version_obj.major}.{target.version_obj.minor}.*",
        spec_hash=spec.spec_hash(), env_file_hash=env_hash, interpreter=target.identity(),
        indexes=tuple(client.config.all_locations), config_settings=spec.config_settings,
        package_config_settings=spec.package_config_settings,
    )


def _source_package(spec: EnvSpec, client: IndexClient, c: Candidate) -> LockedPackage:
    """A package realize builds (PEP 751): `[packages.vcs]` at the commit, `[packages.directory]`
    (editable where the env file says -e), `[packages.sdist]` of an index or a local archive."""
    assert c.file is not None
    asked = next((r for r in spec.requirements if r.name == c.name), None)
    url = c.file.url
    if url.startswith("git+"):
        ref = GitRef.parse(url)
        requested = GitRef.parse(asked.requirement.url).revision if asked and asked.requirement.url else None
        tree = LockedTree("vcs", url=ref.url, requested_revision=requested, commit_id=ref.revision,
                          subdirectory=ref.subdirectory)
        return LockedPackage(name=c.name, version=str(c.version), tree=tree)
    if url.startswith("file:") and asked is not None and asked.local is not None and not c.file.filename.endswith(
            SDIST_SUFFIXES):
        tree = LockedTree("directory", path=asked.local, editable=asked.editable)
        return LockedPackage(name=c.name, version=str(c.version), tree=tree)
    pf = client.ensure_sha256(c.file)
    index = pf.index if pf.index in client.config.index_urls else None
    local = asked.local if asked is not None and url.startswith("file:") else None
    # a direct reference (`name @ URL`, a local archive) is PEP 751's archive; an index's file its sdist
    direct = asked is not None and (local is not None or bool(asked.requirement.url))
    sdist = LockedSdist(url=None if local else pf.url, filename=pf.filename, size=pf.size, sha256=pf.sha256 or "",
                        upload_time=None if direct else pf.upload_time, path=local, archive=direct)
    return LockedPackage(name=c.name, version=str(c.version), requires_python=pf.requires_python, index=index,
                         has_sdist=True, sdist=sdist)


def lock_env(env_file: Path | str, store: Any, index: IndexConfig | IndexOptions | None = None, *,
             upgrade: bool = False, upgrade_packages: Iterable[str] = (), target: TargetPython | None = None,
             write: bool = True, progress: Callable[[str], None] | None = None,
             python: str | None = None,
             sources: Callable[[IndexClient, TargetPython], SdistMetadata] | None = None,
             prerelease: str | None = None) -> Lock:
    """Resolve `env_file` and write its lockfile (lock_path_for). Versions in an existing lock
    are kept where the spec still allows them, unless `upgrade` or named in `upgrade_packages`.
    `index` is a decided IndexConfig, or a command's IndexOptions (None: no flags) to merge with
    the environment, the env file's own settings and pip's configuration. `sources` makes the
    reader of sdists' metadata for this client and target (ops.sources); without it no sdist is
    a candidate. `prerelease` (a --prerelease flag) overrides the env file's policy."""
    env_file = Path(env_file)
    spec = load_spec(env_file)
    index_config = index if isinstance(index, IndexConfig) else (index or IndexOptions()).resolve(spec.index)
    # the interpreter is ours to choose only when nothing fixed it (issue 17 item 5)
    chosen_by_us = target is None and python is None and _is_range(spec.python)
    if target is None:
        # `--python X.Y` picks the interpreter; resolve() still checks it against the env file's python=.
        target = target_for_spec(store, python or spec.python, spec.python_specifier, progress)
    lock_path = lock_path_for(env_file)
    preferred = preferred_versions(lock_path, env_file, upgrade, upgrade_packages)
    cache_root = _cache_root(store)
    with IndexClient(index_config, cache_root) as client, phase(progress) as ph:
        def attempt(t: TargetPython) -> list[Candidate]:
            return resolve(spec, t, client, preferred, ph, sources=sources(client, t) if sources is not None else None,
                           prerelease=prerelease)

        try:
            picked = attempt(target)
        except ResolutionError as first:
            if not chosen_by_us or isinstance(first, ResolutionGaveUp):
                raise
            picked, target = _older_python(store, spec.python, target, attempt, first, progress)
        lock = build_lock(spec, target, client, picked, ph)
    if write:
        write_lock(lock, lock_path)
    return lock


def _is_range(python: str | None) -> bool:
    """Whether the env file leaves the interpreter's minor version open (`python>=3.9`, `3.*`, or
    no python at all), so that the resolver may choose it (issue 17 item 5)."""
    return python is None or any(ch in python for ch in "<>|,*!")


def _older_python(store: Any, constraint: str | None, newest: TargetPython,
                  attempt: Callable[[TargetPython], list[Candidate]], first: ResolutionError,
                  progress: Callable[[str], None] | None) -> tuple[list[Candidate], TargetPython]:
    """As conda picks an older Python: the newest older X.Y here that can satisfy the pins, or
    the first failure when none can."""
    newest_minor = newest.version_obj.release[:2]
    for version, executable in matching_minors(store, constraint):
        if version.release[:2] >= newest_minor:
            continue
        try:
            picked = attempt(TargetPython.from_executable(executable))
        except (ResolutionError, InterpreterError):
            continue
        # only the one that can is imported into the store (the lock records it)
        target = target_for_spec(store, f"{version.major}.{version.minor}", SpecifierSet(), progress)
        if progress is not None:
            progress(f"python {newest.version} cannot satisfy the pins ({first.args[0] if first.args else first}); "
                     f"locked for python {target.version}, the newest here that can (write python= to choose)")
        return picked, target
    raise first


def preferred_versions(lock_path: Path, env_file: Path, upgrade: bool = False,
                       upgrade_packages: Iterable[str] = ()) -> dict[str, Version]:
    """The versions the lock on disk has, which a new resolution keeps where the spec still
    allows them (none with --upgrade; not those named by --upgrade-package)."""
    preferred: dict[str, Version] = {}
    if upgrade or not lock_path.exists() or lock_path == env_file:
        return preferred
    try:
        old = read_lock(lock_path)
    except Exception:  # noqa: BLE001 - an unreadable old lock only loses its preferences
        return preferred
    skip = {canonicalize_name(n) for n in upgrade_packages}
    for p in old.packages:
        if canonicalize_name(p.name) not in skip:
            preferred.setdefault(canonicalize_name(p.name), Version(p.version))
    return preferred


def _cache_root(store: Any) -> Path | None:
    """STORE/cache for a Store (its `.root`) or a store directory given as a path."""
    if store is None:
        return None
    if isinstance(store, (str, os.PathLike)):
        return layout.cache_dir(Path(store))
    root = getattr(store, "root", None)
    return layout.cache_dir(Path(str(root))) if root is not None else None


__all__ = ["ResolutionError", "build_lock", "lock_env", "preferred_versions", "resolve", "root_requirements"]
