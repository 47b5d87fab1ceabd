"""The resolver's requirement and candidate types. Identifiers are the normalized name, or
`name[extra,...]` for a package with extras (which then depends on the bare name at the same
version, the way pip models extras), or PYTHON for the target interpreter itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from envstore.index.simple import ProjectFile

PYTHON = "<python>"


def identifier(name: str, extras: frozenset[str]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


@dataclass(frozen=True)
class Req:
    name: NormalizedName | str
    extras: frozenset[str] = frozenset()
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    url: str | None = None
    # Who asked: "env.yml:4" for the user's own lines, else the parent candidate.
    origin: str = ""
    parent: Candidate | None = field(default=None, compare=False, hash=False)

    @property
    def id(self) -> str:
        return identifier(self.name, self.extras)

    def __str__(self) -> str:
        if self.name == PYTHON:
            return f"python{self.specifier}"
        text = self.id + (f" @ {self.url}" if self.url else str(self.specifier))
        return text

    @property
    def pinned(self) -> bool:
        return any(s.operator in ("==", "===") and "*" not in s.version for s in self.specifier)


@dataclass(frozen=True)
class Candidate:
    name: NormalizedName | str
    version: Version
    file: ProjectFile | None  # None for PYTHON
    extras: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return identifier(self.name, self.extras)

    def __str__(self) -> str:
        if self.name == PYTHON:
            return f"python {self.version}"
        return f"{self.id} {self.version}"
