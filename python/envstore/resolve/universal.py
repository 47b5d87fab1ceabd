"""Universal locks (issue 17): one pylock.toml for a declared set of environments (CPython
X.Y on a platform). Each environment is resolved on its own, with the tags and marker
environment that interpreter would have, and the results are merged: a pin every environment
shares is one package with every wheel they need; a pin only some have, or a version that
differs between them, carries the PEP 751 `marker` of the environments that take it. This is a
fork per environment rather than uv's fork per marker: the lock is exact for what it declares
and says nothing for the rest (its `environments` and `requires-python` say so).

With nothing declared (`store lock` on a plain env file) the environments are every supported
CPython the env file allows on every platform, and an environment that cannot be resolved is
left out and named instead of failing the lock (as conda picks an older Python); the lock is
made for this machine alone only when none of this platform's environments resolves."""

from __future__ import annotations

import platform as host
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging import tags as ptags
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envstore.index.client import IndexClient
from envstore.index.config import IndexConfig, IndexOptions
from envstore.index.metadata import CoreMetadata
from envstore.index.simple import ProjectFile
from envstore.lockfile import Lock, LockedPackage, LockedWheel, file_hash, lock_path_for, write_lock
from envstore.progress import phase, plural
from envstore.resolve.explain import ResolutionError
from envstore.resolve.lock import _cache_root, _source_package, lock_env, preferred_versions, resolve
from envstore.resolve.provider import SdistMetadata
from envstore.resolve.target import TargetPython, target_for_spec
from envstore.spec import load_spec
from envstore.spec.model import UNIVERSAL_PLATFORMS

SUPPORTED_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")

# platform name -> (sys_platform, platform_system, os_name, platform_machine)
PLATFORMS: dict[str, tuple[str, str, str, str]] = {
    "linux-x86_64": ("linux", "Linux", "posix", "x86_64"),
    "linux-aarch64": ("linux", "Linux", "posix", "aarch64"),
    "macos-x86_64": ("darwin", "Darwin", "posix", "x86_64"),
    "macos-arm64": ("darwin", "Darwin", "posix", "arm64"),
    "windows-x86_64": ("win32", "Windows", "nt", "AMD64"),
}
assert tuple(PLATFORMS) == UNIVERSAL_PLATFORMS  # the env file's check and this table name the same ones


class UniversalLockError(ResolutionError):
    code = "resolve"


@dataclass(frozen=True)
class Environment:
    python: str  # X.Y
    platform: str  # a PLATFORMS key

    @property
    def label(self) -> str:
        return f"python {self.python} on {self.platform}"

    def platform_marker(self) -> str:
        sys_platform, _system, _os, machine = PLATFORMS[self.platform]
        return f"sys_platform == '{sys_platform}' and platform_machine == '{machine}'"

    def marker(self) -> str:
        return f"{self.platform_marker()} and python_version == '{self.python}'"

    def target(self) -> TargetPython:
        """The interpreter this environment stands for: its marker environment and wheel tags
        (a lower patch level: requires-python is checked against X.Y.0)."""
        sys_platform, system, os_name, machine = PLATFORMS[self.platform]
        major, minor = (int(x) for x in self.python.split("."))
        marker_env = {
            "implementation_name": "cpython", "implementation_version": f"{self.python}.0",
            "os_name": os_name, "platform_machine": machine, "platform_python_implementation": "CPython",
            "platform_release": "", "platform_system": system, "platform_version": "",
            "python_full_version": f"{self.python}.0", "python_version": self.python, "sys_platform": sys_platform,
        }
        plats = _platform_tags(self.platform)
        out = [str(t) for t in ptags.cpython_tags((major, minor), abis=[f"cp{major}{minor}"], platforms=plats)]
        out += [str(t) for t in ptags.compatible_tags((major, minor), interpreter=f"cp{major}{minor}", platforms=plats)]
        return TargetPython(implementation="cpython", version=f"{self.python}.0", marker_env=marker_env,
                            tags=tuple(dict.fromkeys(out)))


def _platform_tags(platform: str) -> list[str]:
    machine = PLATFORMS[platform][3]
    if platform.startswith("linux"):
        # Wheels built for glibc up to 2.39 (manylinux_2_39 and older), best first; PEP 600 aliases too.
        out = [f"manylinux_2_{m}_{machine}" for m in range(39, 16, -1)]
        out += [f"manylinux2014_{machine}"]
        if machine == "x86_64":
            out += [f"manylinux_2_12_{machine}", "manylinux2010_x86_64", f"manylinux_2_5_{machine}", "manylinux1_x86_64"]
        return out + [f"linux_{machine}"]  # a wheel built on such a machine: pip installs it there too
    if platform.startswith("macos"):
        arch = "arm64" if machine == "arm64" else "x86_64"
        return list(ptags.mac_platforms((14, 0), arch))
    return ["win_amd64"]


def host_platform() -> str | None:
    """This machine's PLATFORMS key (None for one the table lacks, e.g. linux-ppc64le)."""
    machine = host.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if sys.platform.startswith("linux") else "arm64"}.get(machine, machine)
    name = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    key = f"{name}-{machine}"
    return key if key in PLATFORMS else None


def declared_environments(pythons: Iterable[str], platforms: Iterable[str], allowed: Callable[[str], bool],
                          constraint: str = "") -> list[Environment]:
    """Every (python, platform) pair, the pythons narrowed to what the env file's python= allows."""
    platforms = list(platforms) or list(PLATFORMS)
    unknown = [p for p in platforms if p not in PLATFORMS]
    if unknown:
        raise UniversalLockError(f"unknown platform {', '.join(unknown)}", f"choose from {', '.join(PLATFORMS)}")
    named = list(pythons) or list(SUPPORTED_PYTHONS)
    odd = [p for p in named if not re.fullmatch(r"3\.\d+", p)]
    if odd:
        raise UniversalLockError(f"python {', '.join(odd)}: a lock is made for a python X.Y (such as 3.12), "
                                 "and realize picks the patch release")
    wanted = [p for p in named if allowed(p)]
    if not wanted:
        raise UniversalLockError(f"python {', '.join(named)} {'is' if len(named) == 1 else 'are'} outside the env "
                                 f"file's {constraint or 'python='}",
                                 f"choose pythons within it (supported: {', '.join(SUPPORTED_PYTHONS)})")
    return [Environment(py, plat) for plat in platforms for py in wanted]


def _marker_for(envs: set[Environment], declared: list[Environment]) -> str | None:
    """The marker of `envs` among the declared ones: none when all take it; a platform clause
    when every declared python on that platform does; else one clause per environment."""
    if envs == set(declared):
        return None
    clauses = []
    plats = list(dict.fromkeys(e.platform for e in declared))
    everywhere = [py for py in dict.fromkeys(e.python for e in declared)
                  if all(Environment(py, plat) in envs for plat in plats)]
    if len(plats) > 1:  # a python every platform takes is one clause
        clauses += [f"python_version == '{py}'" for py in everywhere]
        envs = {e for e in envs if e.python not in everywhere}
    for plat in plats:
        on_plat = {e for e in declared if e.platform == plat and e.python not in everywhere or len(plats) == 1
                   and e.platform == plat}
        mine = envs & on_plat
        if not mine:
            continue
        if mine == on_plat:
            clauses.append(next(iter(mine)).platform_marker())
        else:
            clauses += [e.marker() for e in sorted(mine, key=lambda e: Version(e.python))]
    return " or ".join(f"({c})" for c in clauses)


def lock_universal(env_file: Path | str, store: Any, index: IndexConfig | IndexOptions | None = None, *,
                   pythons: Iterable[str] = (), platforms: Iterable[str] = (), upgrade: bool = False,
                   upgrade_packages: Iterable[str] = (), write: bool = True, progress: Callable[[str], None] | None = None,
                   prerelease: str | None = None, everywhere: bool = False,
                   sources: Callable[[IndexClient, TargetPython], SdistMetadata] | None = None) -> Lock:
    """Resolve `env_file` for every declared environment and write one lock for all of them.
    `pythons` / `platforms` (flags) replace what the env file's `envstore:` section declares.
    `everywhere`: the platforms are not declared but the default, so an environment that
    cannot be resolved is left out (and named) rather than failing the lock; with none left on
    this machine's platform the lock is lock_env's, for this machine's interpreter.
    `sources` (as lock_env's) lets sdists, local projects and git URLs in: their metadata is
    read with this machine's interpreter of each declared python (of the env file's python=
    when none is declared: one build per source, not one per supported python), and realize
    builds them."""
    env_file = Path(env_file)
    spec = load_spec(env_file)
    pythons = tuple(pythons) or spec.pythons
    platforms = tuple(platforms) or spec.platforms
    index_config = index if isinstance(index, IndexConfig) else (index or IndexOptions()).resolve(spec.index)
    spec_py = spec.python_specifier
    try:
        declared = declared_environments(
            pythons, platforms, lambda py: not len(spec_py) or spec_py.contains(Version(f"{py}.0"), prereleases=True)
            or any(spec_py.contains(Version(f"{py}.{patch}")) for patch in range(0, 30)),
            f"python{spec_py}" if len(spec_py) else "")
    except UniversalLockError:
        if not everywhere or pythons:
            raise
        # python= names only versions older than a universal lock's (3.6 to 3.8): this machine's
        return _for_this_machine(env_file, store, index_config, pythons, {}, upgrade, upgrade_packages, write,
                                 progress, prerelease, sources, f"python{spec_py} is older than {SUPPORTED_PYTHONS[0]}")
    lock_path = lock_path_for(env_file)
    preferred = preferred_versions(lock_path, env_file, upgrade, upgrade_packages)
    picks: dict[Environment, list[Any]] = {}
    dropped: dict[Environment, ResolutionError] = {}
    with IndexClient(index_config, _cache_root(store)) as client, phase(progress) as ph:
        readers: dict[str | None, SdistMetadata] = {}
        mine = host_platform()
        # this machine's platform first: when none of it resolves, the rest need not be tried
        for env in sorted(declared, key=lambda e: e.platform != mine):
            if everywhere and env.platform != mine and not any(e.platform == mine for e in picks):
                break
            reader = None
            if sources is not None:
                wanted = env.python if pythons else spec.python
                reader = readers.setdefault(wanted, _LocalSources(store, client, wanted, sources, progress))
            try:
                picks[env] = resolve(spec, env.target(), client, preferred, ph, prerelease=prerelease, sources=reader)
            except ResolutionError as e:
                if not everywhere:
                    raise UniversalLockError(f"for {env.label}: {e}", e.hint) from None
                dropped[env] = e
        if everywhere and not any(env.platform == mine for env in picks):
            lock = None  # below, once this client is closed
        else:
            lock = _merged(spec, client, {e: picks[e] for e in declared if e in picks})
    if lock is None:
        why = (f"no environment of {mine} could be resolved for a universal lock" if mine
               else f"{host.system()} {host.machine()} is not a platform a universal lock covers")
        return _for_this_machine(env_file, store, index_config, pythons, dropped, upgrade, upgrade_packages,
                                 write, progress, prerelease, sources, why)
    if dropped and progress is not None:
        for line in _left_out(dropped):
            progress(line)
    if write:
        write_lock(lock, lock_path)
    return lock


def _merged(spec: Any, client: IndexClient, picks: dict[Environment, list[Any]]) -> Lock:
    """One lock from each environment's pins (in the declared order, so that every machine
    writes the same text): a package every environment takes has no marker; every wheel any
    of them takes is listed."""
    covered = list(picks)
    taken: dict[tuple[str, str], set[Environment]] = {}
    files: dict[tuple[str, str], dict[str, Any]] = {}
    requires: dict[tuple[str, str], str | None] = {}
    built: dict[tuple[str, str], LockedPackage] = {}  # packages some environment builds from source
    for env, picked in picks.items():
        for c in picked:
            if c.file is None:
                raise UniversalLockError(f"{c.name} {c.version} has no file for {env.label}")
            key = (c.name, str(c.version))
            taken.setdefault(key, set()).add(env)
            if not c.file.filename.endswith(".whl"):
                if key not in built:
                    built[key] = _source_package(spec, client, c)
                continue
            pf = client.ensure_sha256(c.file)
            files.setdefault(key, {})[pf.filename] = pf
            requires.setdefault(key, pf.requires_python)
    packages = []
    for key in sorted(taken, key=lambda k: (k[0], Version(k[1]))):
        wheels = tuple(LockedWheel(url=pf.url, filename=pf.filename, size=pf.size, sha256=pf.sha256 or "",
                                   upload_time=pf.upload_time) for pf in files.get(key, {}).values())
        marker = _marker_for(taken[key], covered)
        if key in built:
            # PEP 751: the sdist (or tree) beside the wheels other environments take; an installer
            # builds it where no listed wheel fits
            packages.append(replace(built[key], wheels=wheels, marker=marker))
            continue
        index_url = next(iter(files[key].values())).index
        packages.append(LockedPackage(name=key[0], version=key[1], wheels=wheels, requires_python=requires[key],
                                      index=index_url if index_url in client.config.index_urls else None,
                                      marker=marker))
    versions = sorted({Version(e.python) for e in covered})
    top = versions[-1]
    return Lock(
        packages=tuple(packages), requires_python=f">={versions[0]}, <{top.major}.{top.minor + 1}",
        spec_hash=spec.spec_hash(), env_file_hash=file_hash(spec.path) if spec.path.is_file() else None,
        interpreter={}, indexes=tuple(client.config.all_locations),
        environments=_environments(covered, versions), config_settings=spec.config_settings,
        package_config_settings=spec.package_config_settings,
    )


def _environments(covered: list[Environment], versions: list[Version]) -> tuple[str, ...]:
    """PEP 751 `environments`: one marker per platform, with the pythons it covers when that is
    not every python of the lock's requires-python."""
    out = []
    for plat in dict.fromkeys(e.platform for e in covered):
        mine = [e for e in covered if e.platform == plat]
        marker = mine[0].platform_marker()
        if len(mine) < len(versions):
            pys = sorted((e.python for e in mine), key=Version)
            marker += " and (" + " or ".join(f"python_version == '{py}'" for py in pys) + ")" if len(pys) > 1 \
                else f" and python_version == '{pys[0]}'"
        out.append(marker)
    return tuple(out)


def _left_out(dropped: dict[Environment, ResolutionError]) -> list[str]:
    """One line per python and reason (the resolver's first line, without the tag it names as
    an example, which differs per platform), then how to see one in full."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for env, e in dropped.items():
        why = re.sub(r" \((?:cpython|e\.g\.)[^)]*\)", "", str(e).splitlines()[0])
        grouped.setdefault((env.python, why), []).append(env.platform)
    lines = [f"warning: not locked for python {py} on {', '.join(plats)}: {why}" for (py, why), plats in grouped.items()]
    if lines:
        env = next(iter(dropped))
        lines.append(f"hint: `store lock --dry-run --platform {env.platform} --python {env.python}` says why in full; "
                     "environments named in the env file's `envstore: {platforms, python}` must resolve")
    return lines


def _for_this_machine(env_file: Path, store: Any, index: IndexConfig, pythons: tuple[str, ...],
                      dropped: dict[Environment, ResolutionError], upgrade: bool, upgrade_packages: Iterable[str],
                      write: bool, progress: Callable[[str], None] | None, prerelease: str | None,
                      sources: Callable[[IndexClient, TargetPython], SdistMetadata] | None, why: str) -> Lock:
    """No environment of this platform resolved (or the table lacks it): the lock for this
    machine's interpreter, whose resolver may still pick an older python, or fail with its one
    message."""
    lock = lock_env(env_file, store, index, upgrade=upgrade, upgrade_packages=upgrade_packages, write=write,
                    progress=progress, python=pythons[0] if len(pythons) == 1 else None, sources=sources,
                    prerelease=prerelease)
    if progress is not None:
        for line in _left_out(dropped):
            progress(line)
        progress(f"locked for this machine only (python {lock.interpreter.get('version', '?')}): {why}")
    return lock


class _LocalSources:
    """The metadata reader for one declared python (an X.Y, or the env file's python= when none
    is declared), made on first use: reading a source's metadata runs its build backend, so it
    needs this machine's interpreter of that version (imported into the store then, not for a
    lock that has no source at all)."""

    def __init__(self, store: Any, client: IndexClient, python: str | None,
                 make: Callable[[IndexClient, TargetPython], SdistMetadata], progress: Callable[[str], None] | None
                 ) -> None:
        self.store, self.client, self.python, self.make, self.progress = store, client, python, make, progress
        self._reader: SdistMetadata | None = None
        self._settings_for: Callable[[str], dict[str, Any]] = lambda _name: {}

    def _get(self) -> SdistMetadata:
        if self._reader is None:
            target = target_for_spec(self.store, self.python, SpecifierSet(), self.progress)
            self._reader = self.make(self.client, target)
        self._reader.configure(self._settings_for)
        return self._reader

    def configure(self, settings_for: Callable[[str], dict[str, Any]]) -> None:
        self._settings_for = settings_for

    def metadata(self, pf: ProjectFile, name: str, version: Version | None) -> CoreMetadata:
        return self._get().metadata(pf, name, version)

    def tree(self, url: str, name: str) -> tuple[ProjectFile, CoreMetadata]:
        return self._get().tree(url, name)


__all__ = ["PLATFORMS", "SUPPORTED_PYTHONS", "Environment", "UniversalLockError", "declared_environments",
           "host_platform", "lock_universal"]
