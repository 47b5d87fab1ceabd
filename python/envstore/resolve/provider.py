"""The resolvelib provider: candidates from the index client filtered by specifiers, yanked
status (PEP 592), requires-python and the target's wheel tags; dependencies from core metadata
with markers evaluated for the target interpreter. Newest first; a previous lock's pins first.
Never looks at the running interpreter: everything target-specific comes from TargetPython."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib.providers import AbstractProvider

from envstore.index.client import IndexClient
from envstore.index.lenient import lenient_specifier
from envstore.index.metadata import CoreMetadata
from envstore.index.simple import ProjectFile
from envstore.resolve.empty import ONLY_BINARY, WHEELS_ONLY, Builds, Empty, explain_empty, python_allows
from envstore.resolve.files import SDIST_SUFFIXES, ProjectTable, parse_wheel, project_table, sdist_version
from envstore.resolve.prerelease import allowed_versions
from envstore.resolve.model import PYTHON, Candidate, Req
from envstore.resolve.target import TargetPython


# A project's files for one target: best wheel per version, (version, sdist)s, candidate versions
_Parsed = tuple[dict[Version, ProjectFile], Sequence[tuple[Version, ProjectFile]], list[Version]]


class SdistMetadata(Protocol):
    """Core metadata of a source distribution (PEP 643 PKG-INFO, else the backend's
    prepare_metadata_for_build_wheel): given by the ops layer, which can build."""

    def metadata(self, pf: ProjectFile, name: str, version: Version | None) -> CoreMetadata: ...

    def tree(self, url: str, name: str) -> tuple[ProjectFile, CoreMetadata]: ...

    def configure(self, settings_for: Callable[[str], dict[str, Any]]) -> None:
        """The env file's config_settings of a package (by name), for the backend's metadata hook."""


class Provider(AbstractProvider):
    def __init__(self, client: IndexClient, target: TargetPython,
                 constraints: Mapping[str, SpecifierSet] | None = None,
                 hashes: Mapping[str, frozenset[str]] | None = None,
                 preferred: Mapping[str, Version] | None = None,
                 sources: SdistMetadata | None = None, only_binary: frozenset[str] = frozenset(),
                 no_binary: frozenset[str] = frozenset(), prerelease: str | None = None, explicit: frozenset[str] = frozenset()) -> None:
        self.client = client
        # Which pre-releases may be picked (resolve/prerelease.py), and the names whose env-file
        # requirement names one (what the `explicit` policies go by).
        self.prerelease = prerelease
        self.explicit = explicit
        # Source distributions are candidates only with a way to read their metadata (issue 16).
        self.sources = sources
        self._asked_as: dict[str, str] = {}  # a pinned git URL -> the URL the requirement gave
        self.only_binary = only_binary
        self.no_binary = no_binary
        self.target = target
        self.tag_rank = {t: i for i, t in enumerate(target.tags)}
        self.constraints = dict(constraints or {})
        self.hashes = dict(hashes or {})
        self.preferred = dict(preferred or {})
        self.depth: dict[str, int] = {}
        # Per project, what its file list parses to, with the list it came from: find_matches runs
        # several times per name in one resolution, and parsing thousands of filenames each time
        # was most of a warm lock's time (the cProfile in the session-6 note).
        self._parsed: dict[str, tuple[object, _Parsed]] = {}
        # Why find_matches came back empty, per identifier, for the error message.
        self.why_empty: dict[str, Empty] = {}

    # -- resolvelib interface -----------------------------------------------------------------

    def identify(self, requirement_or_candidate: Req | Candidate) -> str:
        return requirement_or_candidate.id

    def get_preference(self, identifier: str, resolutions: Mapping[str, Candidate],
                       candidates: Mapping[str, Iterator[Candidate]], information: Mapping[str, Any],
                       backtrack_causes: Sequence[Any]) -> Any:
        # pip's order, so that both pick the same when several answers exist: the interpreter,
        # direct URLs and exact pins first, then names in a recent conflict, then shallow names.
        infos = list(information[identifier])
        direct = any(i.requirement.url for i in infos)
        pinned = any(i.requirement.pinned for i in infos)
        parents_depth = [self.depth.get(i.parent.id, 0) + 1 if i.parent is not None else 1 for i in infos]
        depth = min(parents_depth) if parents_depth else 1
        self.depth[identifier] = depth
        causes = {c.requirement.id for c in backtrack_causes} | {
            c.parent.id for c in backtrack_causes if c.parent is not None}
        return (identifier != PYTHON, not direct, not pinned, identifier not in causes, depth, identifier)

    def find_matches(self, identifier: str, requirements: Mapping[str, Iterator[Req]],
                     incompatibilities: Mapping[str, Iterator[Candidate]]) -> list[Candidate]:
        reqs = list(requirements[identifier])
        bad = {c.version for c in incompatibilities[identifier]}
        if identifier == PYTHON:
            v = self.target.version_obj
            ok = all(r.specifier.contains(v, prereleases=True) for r in reqs) and v not in bad
            return [Candidate(PYTHON, v, None)] if ok else []
        name = reqs[0].name if reqs else identifier.split("[")[0]
        extras = reqs[0].extras if reqs else frozenset()
        urls = {r.url for r in reqs if r.url}
        if urls:
            return self._direct(identifier, name, extras, urls, reqs, bad)
        files = self.client.project_files(name)
        by_version, sdists, versions = self._parse_files(name, files)
        spec = SpecifierSet()
        for r in reqs:
            spec &= r.specifier
        if name in self.constraints:
            spec &= self.constraints[name]
        # decided over every version, wheel or sdist: "no final release satisfies" is about the project
        admitted = allowed_versions(versions, spec, self.prerelease, name in self.explicit)
        pins = [r for r in reqs if r.pinned]
        out: list[Candidate] = []
        for version in reversed(admitted):
            pf = by_version.get(version)
            if pf is None or version in bad:
                continue
            if pf.yanked is not None and not pins:
                continue  # PEP 592: a yanked file only for a requirement that pins it exactly
            out.append(Candidate(name, version, pf, extras))
        if len(out) < len(admitted):
            out.extend(self._sdists(name, sdists, set(admitted), by_version.keys() | bad, extras))
        pref = self.preferred.get(name)
        if pref is not None:
            out.sort(key=lambda c: c.version != pref)  # stable: the rest stays newest-first
        if out:
            self.client.prefetch_metadata([c.file for c in out[:2] if c.file is not None])
        else:
            self.why_empty[identifier] = explain_empty(name, files, spec, by_version, self.target, self.tag_rank,
                                                       self._builds(name))
        return out

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        if requirement.name == PYTHON:
            return requirement.specifier.contains(candidate.version, prereleases=True)
        if requirement.url:
            if candidate.file is None:
                return False
            url = self._asked_as.get(candidate.file.url, candidate.file.url)  # a git URL: as asked, not pinned
            return url.split("#")[0] == requirement.url.split("#")[0]
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Req]:
        if candidate.name == PYTHON or candidate.file is None:
            return []
        if parse_wheel(candidate.file) is None and self.sources is not None:
            meta = self.sources.metadata(candidate.file, candidate.name, candidate.version)
        else:
            meta = self.client.metadata(candidate.file)
        deps: list[Req] = []
        if candidate.extras:
            # name[extra] stands for name at the same version plus the extra's requirements.
            deps.append(Req(candidate.name, frozenset(), SpecifierSet(f"=={candidate.version}"),
                            parent=candidate, origin=str(candidate)))
        rp = meta.requires_python or candidate.file.requires_python
        if rp:
            try:
                deps.append(Req(PYTHON, frozenset(), lenient_specifier(rp), parent=candidate, origin=str(candidate)))
            except InvalidSpecifier:
                pass  # a broken Requires-Python is ignored, as pip does
        # Markers see the target's environment; `extra` is each extra asked for ("" for none).
        envs = [{**self.target.marker_env, "extra": e} for e in (sorted(candidate.extras) or [""])]
        for r in meta.requires_dist:
            if r.marker is not None and not any(r.marker.evaluate(env) for env in envs):
                continue
            deps.append(Req(canonicalize_name(r.name), frozenset(canonicalize_name(e) for e in r.extras),
                            r.specifier, r.url, origin=str(candidate), parent=candidate))
        self.client.prefetch(d.name for d in deps if d.name != PYTHON and not d.url)
        return deps

    # -- helpers --------------------------------------------------------------------------------

    def _builds(self, name: str) -> Builds:
        """Why this project's sdists are not candidates, for the message when nothing else is."""
        return WHEELS_ONLY if self.sources is None else ONLY_BINARY

    def _may_build(self, name: str) -> bool:
        if self.sources is None or name in self.only_binary:
            return False
        return name in self.no_binary or ":all:" not in self.only_binary

    def _built_only(self, name: str) -> bool:
        """--no-binary covers `name` (and the sdists can be read): its wheels are not candidates."""
        covered = name in self.no_binary or (":all:" in self.no_binary and name not in self.only_binary)
        return covered and self._may_build(name)

    def _parse_files(self, name: str, files: Sequence[ProjectFile]
                     ) -> _Parsed:
        """The best wheel per version, every (version, sdist), and every version a candidate could
        have (oldest first): worked out once per file list, since find_matches asks for the same
        project many times in a resolution."""
        memo = self._parsed.get(name)
        if memo is not None and memo[0] is files:
            return memo[1]
        table = project_table(name, files)
        by_version = self._usable_by_version(name, table)
        buildable = {v for v, _ in table.sdists} if self._may_build(name) else set()
        result = (by_version, table.sdists, sorted(by_version.keys() | buildable))
        self._parsed[name] = (files, result)
        return result

    def _sdists(self, name: str, sdists: Iterable[tuple[Version, ProjectFile]], admitted: set[Version],
                skip: set[Version], extras: frozenset[str]) -> list[Candidate]:
        """Source distributions of the versions no wheel fits, newest first, after every wheel
        candidate: a wheel is always preferred (issue 16); none under --only-binary."""
        if not self._may_build(name):
            return []
        allowed_hashes = self.hashes.get(name)
        found: dict[Version, ProjectFile] = {}
        for v, pf in sdists:
            if v in skip or v in found or pf.yanked is not None or v not in admitted:
                continue
            if allowed_hashes is not None and pf.sha256 not in allowed_hashes:
                continue
            if pf.requires_python and not python_allows(pf.requires_python, self.target):
                continue
            found[v] = pf
        return [Candidate(name, v, found[v], extras) for v in sorted(found, reverse=True)]

    def _usable_by_version(self, name: str, table: ProjectTable) -> dict[Version, ProjectFile]:
        """Per version, the best wheel for the target (tag rank, non-yanked first); versions
        whose files all fail requires-python or the tags are left out; none under --no-binary."""
        best: dict[Version, tuple[tuple[bool, int], ProjectFile]] = {}
        if self._built_only(name):
            return {}
        allowed_hashes = self.hashes.get(name)
        for tags, files in table.wheels.items():
            rank = min((self.tag_rank[t] for t in tags if t in self.tag_rank), default=None)
            if rank is None:
                continue
            for version, pf in files:
                if pf.requires_python and not python_allows(pf.requires_python, self.target):
                    continue
                if allowed_hashes is not None and pf.sha256 not in allowed_hashes:
                    continue
                key = (pf.yanked is not None, rank)
                if version not in best or key < best[version][0]:
                    best[version] = (key, pf)
        return {v: pf for v, (_, pf) in best.items()}

    def _direct(self, identifier: str, name: str, extras: frozenset[str], urls: set[str],
                reqs: list[Req], bad: set[Version]) -> list[Candidate]:
        if len(urls) > 1:
            self.why_empty[identifier] = Empty(f"{name} is asked for at different URLs: {', '.join(sorted(urls))}")
            return []
        url = next(iter(urls))
        if url.startswith("git+") or _is_directory_url(url):
            return self._direct_tree(identifier, name, extras, url, bad)
        base, _, fragment = url.partition("#")
        filename = base.rsplit("/", 1)[-1]
        parsed = parse_wheel(ProjectFile(filename, base))
        if parsed is None:
            return self._direct_sdist(identifier, name, extras, base, filename, fragment, reqs, bad)
        hashes = dict([fragment.split("=", 1)]) if "=" in fragment else {}
        pf = self.client.ensure_sha256(ProjectFile(filename, base, hashes))
        if not any(t in self.tag_rank for t in parsed[2]):
            self.why_empty[identifier] = Empty(f"{filename} is not compatible with python {self.target.version}")
            return []
        return [Candidate(name, parsed[1], pf, extras)] if parsed[1] not in bad else []

    def _direct_tree(self, identifier: str, name: str, extras: frozenset[str], url: str,
                     bad: set[Version]) -> list[Candidate]:
        """A local project directory or a git URL: one candidate at the version its metadata says
        (a git URL pinned to the commit its revision names now)."""
        builds = self._builds(name)
        if self.sources is None:
            self.why_empty[identifier] = Empty(f"{url} needs a build from source ({builds.reason})")
            return []
        pf, meta = self.sources.tree(url, name)
        self._asked_as[pf.url] = url
        if canonicalize_name(meta.name) != name:
            self.why_empty[identifier] = Empty(f"{url} is the project {meta.name}, not {name}")
            return []
        version = Version(meta.version)
        return [Candidate(name, version, pf, extras)] if version not in bad else []

    def _direct_sdist(self, identifier: str, name: str, extras: frozenset[str], base: str, filename: str,
                      fragment: str, reqs: list[Req], bad: set[Version]) -> list[Candidate]:
        """`name @ URL` of a source archive: built like an index sdist; its version from the
        filename, else from its metadata (an archive named `main.tar.gz`)."""
        builds = self._builds(name)
        if not self._may_build(name):
            self.why_empty[identifier] = Empty(f"{base} is not a wheel ({builds.reason})", builds.hint(name, None))
            return []
        assert self.sources is not None
        hashes = dict([fragment.split("=", 1)]) if "=" in fragment else {}
        pf = self.client.ensure_sha256(ProjectFile(filename, base, hashes))
        version = sdist_version(pf, name)
        if version is None:
            if not any(filename.lower().endswith(s) for s in SDIST_SUFFIXES):
                self.why_empty[identifier] = Empty(f"{base} is neither a wheel nor a source archive "
                                                   f"({', '.join(SDIST_SUFFIXES)})")
                return []
            meta = self.sources.metadata(pf, name, None)
            if canonicalize_name(meta.name) != name:
                self.why_empty[identifier] = Empty(f"{base} is the source of {meta.name}, not {name}")
                return []
            version = Version(meta.version)
        return [Candidate(name, version, pf, extras)] if version not in bad else []


def _is_directory_url(url: str) -> bool:
    # lazy: only for file: requirements
    from pathlib import Path
    from urllib.parse import unquote, urlsplit

    return url.startswith("file:") and Path(unquote(urlsplit(url).path)).is_dir()


def group_by_name(reqs: Iterable[Req]) -> dict[str, list[Req]]:
    out: dict[str, list[Req]] = defaultdict(list)
    for r in reqs:
        out[r.name].append(r)
    return out
