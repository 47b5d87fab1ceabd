"""Universal locks (issue 17): one pylock.toml for a declared set of environments (CPython
X.Y on a platform). Each environment is resolved on its own, with the tags and marker
environment that interpreter would have, and the results are merged: a pin every environment
shares is one package with every wheel they need; a pin only some have, or a version that
differs between them, carries the PEP 751 `marker` of the environments that take it. This is a
fork per environment rather than uv's fork per marker: the lock is exact for what it declares
and says nothing for the rest (its `environments` and `requires-python` say so)."""

from __future__ import annotations

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
from envstore.progress import phase
from envstore.resolve.explain import ResolutionError
from envstore.resolve.lock import _cache_root, _source_package, preferred_versions, resolve
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
        return out
    if platform.startswith("macos"):
        arch = "arm64" if machine == "arm64" else "x86_64"
        return list(ptags.mac_platforms((14, 0), arch))
    return ["win_amd64"]


def declared_environments(pythons: Iterable[str], platforms: Iterable[str], allowed: Callable[[str], bool]
                          ) -> list[Environment]:
    """Every (python, platform) pair, the pythons narrowed to what the env file's python= allows."""
    platforms = list(platforms) or list(PLATFORMS)
    unknown = [p for p in platforms if p not in PLATFORMS]
    if unknown:
        raise UniversalLockError(f"unknown platform {', '.join(unknown)}", f"choose from {', '.join(PLATFORMS)}")
    wanted = [p for p in (list(pythons) or list(SUPPORTED_PYTHONS)) if allowed(p)]
    if not wanted:
        raise UniversalLockError("no declared python is allowed by the env file's python=",
                                 f"declare pythons within it (supported: {', '.join(SUPPORTED_PYTHONS)})")
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
                   prerelease: str | None = None,
                   sources: Callable[[IndexClient, TargetPython], SdistMetadata] | None = None) -> Lock:
    """Resolve `env_file` for every declared environment and write one lock for all of them.
    `pythons` / `platforms` (flags) replace what the env file's `envstore:` section declares.
    `sources` (as lock_env's) lets sdists, local projects and git URLs in: their metadata is
    read with this machine's interpreter of each declared python, and realize builds them."""
    env_file = Path(env_file)
    spec = load_spec(env_file)
    pythons = tuple(pythons) or spec.pythons
    platforms = tuple(platforms) or spec.platforms
    index_config = index if isinstance(index, IndexConfig) else (index or IndexOptions()).resolve(spec.index)
    spec_py = spec.python_specifier
    declared = declared_environments(
        pythons, platforms, lambda py: not len(spec_py) or spec_py.contains(Version(f"{py}.0"), prereleases=True)
        or any(spec_py.contains(Version(f"{py}.{patch}")) for patch in range(0, 30)))
    lock_path = lock_path_for(env_file)
    preferred = preferred_versions(lock_path, env_file, upgrade, upgrade_packages)
    taken: dict[tuple[str, str], set[Environment]] = {}
    files: dict[tuple[str, str], dict[str, Any]] = {}
    requires: dict[tuple[str, str], str | None] = {}
    built: dict[tuple[str, str], LockedPackage] = {}  # packages some environment builds from source
    with IndexClient(index_config, _cache_root(store)) as client, phase(progress) as ph:
        readers: dict[str, SdistMetadata] = {}
        for env in declared:
            target = env.target()
            reader = None
            if sources is not None:
                reader = readers.setdefault(env.python, _LocalSources(store, client, env.python, sources, progress))
            try:
                picked = resolve(spec, target, client, preferred, ph, prerelease=prerelease, sources=reader)
            except ResolutionError as e:
                raise UniversalLockError(f"for {env.label}: {e}", e.hint) from None
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
        marker = _marker_for(taken[key], declared)
        if key in built:
            # PEP 751: the sdist (or tree) beside the wheels other environments take; an installer
            # builds it where no listed wheel fits
            packages.append(replace(built[key], wheels=wheels, marker=marker))
            continue
        index_url = next(iter(files[key].values())).index
        packages.append(LockedPackage(name=key[0], version=key[1], wheels=wheels, requires_python=requires[key],
                                      index=index_url if index_url in client.config.index_urls else None,
                                      marker=marker))
    versions = sorted({Version(e.python) for e in declared})
    top = versions[-1]
    lock = Lock(
        packages=tuple(packages), requires_python=f">={versions[0]}, <{top.major}.{top.minor + 1}",
        spec_hash=spec.spec_hash(), env_file_hash=file_hash(spec.path) if spec.path.is_file() else None,
        interpreter={}, indexes=tuple(client.config.all_locations),
        environments=tuple(dict.fromkeys(e.platform_marker() for e in declared)),
    )
    if write:
        write_lock(lock, lock_path)
    return lock


class _LocalSources:
    """The metadata reader for one declared python, made on first use: reading a source's
    metadata runs its build backend, so it needs this machine's interpreter of that version
    (imported into the store then, not for a lock that has no source at all)."""

    def __init__(self, store: Any, client: IndexClient, python: str,
                 make: Callable[[IndexClient, TargetPython], SdistMetadata], progress: Callable[[str], None] | None
                 ) -> None:
        self.store, self.client, self.python, self.make, self.progress = store, client, python, make, progress
        self._reader: SdistMetadata | None = None

    def _get(self) -> SdistMetadata:
        if self._reader is None:
            target = target_for_spec(self.store, self.python, SpecifierSet(f"=={self.python}.*"), self.progress)
            self._reader = self.make(self.client, target)
        return self._reader

    def metadata(self, pf: ProjectFile, name: str, version: Version | None) -> CoreMetadata:
        return self._get().metadata(pf, name, version)

    def tree(self, url: str, name: str) -> tuple[ProjectFile, CoreMetadata]:
        return self._get().tree(url, name)


__all__ = ["PLATFORMS", "SUPPORTED_PYTHONS", "Environment", "UniversalLockError", "declared_environments",
           "lock_universal"]
