"""Why a requirement found no candidate, in words a user can act on: no wheels at all (only
sdists), the asked-for versions only as sdists, wheels only for other platforms or Pythons, all
yanked. Each reason comes with a hint that says what to do (the nearest versions that do have
wheels for the target, allowing a build, or how to bring a wheel of one's own). Sdists reach
this module only when they were not candidates: --only-binary, or a route that takes wheels only."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Iterable, Mapping

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from envstore.index.lenient import lenient_specifier
from envstore.index.simple import ProjectFile
from envstore.resolve.files import parse_wheel, sdist_version
from envstore.resolve.target import TargetPython

NO_BUILDS = "building from source is not supported yet"


@dataclass(frozen=True)
class Builds:
    """Why sdists were not candidates here, and what the hint offers instead."""

    reason: str = NO_BUILDS
    instead: str = "until envstore builds sdists:"

    def hint(self, name: str, version: Version | str | None) -> str:
        return f"{self.instead} {own_wheel_hint(name, version)}"


WHEELS_ONLY = Builds()
ONLY_BINARY = Builds("--only-binary forbids building it", "take it out of --only-binary to build it from source, or")


@dataclass(frozen=True)
class Empty:
    reason: str
    hint: str | None = None
    # True when no version of the project is usable on this target at all, whatever the
    # specifiers say: several requirements on it are then not a conflict between them.
    any_spec: bool = False


def own_wheel_hint(name: str, version: Version | str | None) -> str:
    pin = f"{name}=={version}" if version else name
    return (f"build a wheel yourself (pip wheel --no-deps '{pin}' -w wheels) and pass --find-links wheels "
            f"(or put a `--find-links DIR` line in the `- pip:` list)")


def explain_empty(name: str, files: list[ProjectFile], spec: SpecifierSet, usable: Mapping[Version, ProjectFile],
                  target: TargetPython, tag_rank: Mapping[str, int], builds: Builds = WHEELS_ONLY) -> Empty:
    """`usable`: per version, the wheel the provider could use on this target (tags,
    requires-python; yanked ones included), whatever `spec` says."""
    none_usable = not usable
    wheels = [(pf, p) for pf in files if (p := parse_wheel(pf)) is not None]
    sdists = sorted({v for pf in files if (v := sdist_version(pf, name)) is not None})
    if not files:
        return Empty(f"{name} has no files on the index", any_spec=True)
    if not wheels:
        newest = sdists[-1] if sdists else None
        also = f" (newest {newest})" if newest else ""
        return Empty(
            f"{name} has no wheel for any platform: only source distributions on the index{also}, and {builds.reason}",
            f"{builds.hint(name, _pick_sdist(sdists, spec) or newest)}, "
            f"or replace {name} with an alternative that ships wheels", any_spec=True)
    matching = [(pf, p) for pf, p in wheels if spec.contains(p[1], prereleases=True)]
    if not matching:
        only_src = [v for v in sdists if spec.contains(v, prereleases=True)]
        if only_src:
            if len(only_src) == 1:
                reason = f"{name} {only_src[0]} has only a source distribution on the index, no wheel ({builds.reason})"
            else:
                listed = ", ".join(str(v) for v in reversed(only_src[-6:])) + (", ..." if len(only_src) > 6 else "")
                reason = (f"every version of {name} matching {spec} has only a source distribution on the index, "
                          f"no wheel: {listed} ({builds.reason})")
            return Empty(reason, pick_hint(name, usable, only_src[-1], target, sdist=True, builds=builds), none_usable)
        newest = max(p[1] for _, p in wheels)
        return Empty(f"no version of {name} matches {spec} (newest is {newest})", None, none_usable)
    compatible = [(pf, p) for pf, p in matching if any(t in tag_rank for t in p[2])]
    if not compatible:
        existing = sorted({t for _, p in matching for t in p[2]})
        shown = ", ".join(existing[:12]) + (f", ... ({len(existing)} in all)" if len(existing) > 12 else "")
        wheel_versions = {p[1] for _, p in matching}
        only_src = [str(v) for v in reversed(sdists) if spec.contains(v, prereleases=True) and v not in wheel_versions]
        src = f"; {', '.join(only_src[:6])} only as source distributions ({builds.reason})" if only_src else ""
        wanted = max(wheel_versions)
        return Empty(f"no wheel of {name}{spec} is compatible with this interpreter "
                     f"({target.implementation} {target.version}, e.g. {target.tags[0]}); "
                     f"wheels exist for: {shown}{src}",
                     pick_hint(name, usable, wanted, target, wanted in sdists, python=True, builds=builds), none_usable)
    rp = [(pf, p) for pf, p in compatible if pf.requires_python and not python_allows(pf.requires_python, target)]
    if len(rp) == len(compatible):
        needs = sorted({pf.requires_python or "" for pf, _ in rp})
        wanted = max(p[1] for _, p in compatible)
        return Empty(f"every {name}{spec} wheel requires a different python ({'; '.join(needs[:4])}), "
                     f"the interpreter is {target.version}",
                     pick_hint(name, usable, wanted, target, wanted in sdists, python=True, builds=builds), none_usable)
    if all(pf.yanked is not None for pf, _ in compatible):
        return Empty(f"every matching version of {name} is yanked", None, none_usable)
    return Empty(f"no version of {name} matches {spec} for this interpreter", None, none_usable)


def pick_hint(name: str, usable: Mapping[Version, ProjectFile], wanted: Version, target: TargetPython,
              sdist: bool, python: bool = False, builds: Builds = WHEELS_ONLY) -> str:
    """Point at the versions nearest `wanted` that have a wheel for this target; where `wanted`
    has an sdist, also at building a wheel of it by hand."""
    near = nearest(usable, wanted)
    where = f"{target.implementation} {target.version}"
    own = f"; or {builds.hint(name, wanted)}" if sdist else ""
    if not near:
        other = "choose another python= version, or" if python else "choose"
        return f"no version of {name} has a wheel for {where} on this platform: {other} a package that ships one{own}"
    closest = min(near, key=lambda v: (abs(_distance(v, wanted)), v < wanted))
    return (f"pick a version of {name} that has a wheel for {where}; the nearest are "
            f"{', '.join(str(v) for v in near)} (e.g. {name}=={closest} in the env file)"
            + (", or another python= version" if python else "") + own)


def nearest(usable: Mapping[Version, ProjectFile], wanted: Version, below: int = 2, above: int = 3) -> list[Version]:
    """Up to `below` usable versions just under `wanted` and `above` just over it, ascending;
    yanked versions left out, and pre-releases unless `wanted` is one."""
    versions = sorted(v for v, pf in usable.items()
                      if pf.yanked is None and (wanted.is_prerelease or not v.is_prerelease))
    i = bisect.bisect_left(versions, wanted)
    return versions[max(0, i - below):i] + versions[i:i + above]


def _distance(v: Version, wanted: Version) -> float:
    # Closeness of release tuples, most significant part first: 0.5.0 is nearer 0.4.3 than 0.0.0.
    a, b = (v.release + (0, 0, 0))[:3], (wanted.release + (0, 0, 0))[:3]
    return sum((x - y) * 1000.0 ** (2 - k) for k, (x, y) in enumerate(zip(a, b)))


def _pick_sdist(sdists: Iterable[Version], spec: SpecifierSet) -> Version | None:
    matching = [v for v in sdists if spec.contains(v, prereleases=True)]
    return max(matching) if matching else None


def python_allows(rp: str, target: TargetPython) -> bool:
    """Whether a file's Requires-Python admits the target (an unreadable one does not exclude it).
    Memoised: a project's files repeat a handful of values thousands of times."""
    key = (rp, target.version)
    hit = _allows.get(key)
    if hit is None:
        try:
            hit = lenient_specifier(rp).contains(target.version_obj, prereleases=True)
        except InvalidSpecifier:
            hit = True
        _allows[key] = hit
    return hit


_allows: dict[tuple[str, str], bool] = {}
