"""Resolving on top of packages that are already installed (the conda route's `- pip:` list over
the conda packages): an installed name has exactly one candidate, its installed version, with no
wheel and no dependencies of its own to follow (whoever installed it brought those), so a pip
entry that depends on numpy does not reinstall the numpy conda put there. Never drops a
requirement: an installed version that does not satisfy one is a conflict, explained as such."""

from __future__ import annotations

from typing import Iterator, Mapping

from packaging.utils import canonicalize_name
from packaging.version import Version

from envstore.resolve.empty import Empty
from envstore.resolve.model import PYTHON, Candidate, Req
from envstore.resolve.provider import Provider


class InstalledFirst(Provider):
    """A Provider where `installed` (normalized name -> (version, what installed it)) is fixed."""

    def __init__(self, *args, installed: Mapping[str, tuple[Version, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.installed = {canonicalize_name(k): v for k, v in installed.items()}

    def find_matches(self, identifier: str, requirements: Mapping[str, Iterator[Req]],
                     incompatibilities: Mapping[str, Iterator[Candidate]]) -> list[Candidate]:
        name = identifier.split("[")[0]
        if identifier == PYTHON or name not in self.installed:
            return super().find_matches(identifier, requirements, incompatibilities)
        reqs = list(requirements[identifier])
        version, by = self.installed[name]
        bad = {c.version for c in incompatibilities[identifier]}
        extras = reqs[0].extras if reqs else frozenset()
        unmet = [r for r in reqs if r.url or not r.specifier.contains(version, prereleases=True)]
        if unmet or version in bad:
            wanted = ", ".join(str(r) for r in unmet) or name
            self.why_empty[identifier] = Empty(
                f"{name} {version} is installed by {by}, which {wanted} does not accept",
                f"pin {by} to a version that fits in the env file's conda entries, or relax the pip entry")
            return []
        return [Candidate(name, version, None, extras)]


def without_installed(picked: list[Candidate], installed: Mapping[str, object]) -> list[Candidate]:
    """The candidates that need a wheel: what is already installed is left out."""
    names = {canonicalize_name(k) for k in installed}
    return [c for c in picked if canonicalize_name(c.name) not in names and c.file is not None]


__all__ = ["InstalledFirst", "without_installed"]
