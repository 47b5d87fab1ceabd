"""The interpreter a lock is resolved for: its version, PEP 508 marker environment and wheel
tags, as the interpreter module computed them by running that interpreter (never from the
Python running envstore)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envstore.interpreters import find_interpreter
from envstore.interpreters.probe import probe
from envstore.interpreters.tags import compatible_tags


@dataclass(frozen=True)
class TargetPython:
    implementation: str
    version: str
    marker_env: dict[str, str]
    tags: tuple[str, ...]
    executable: Path | None = None
    store_path: str | None = None
    manifest_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def version_obj(self) -> Version:
        return Version(self.version)

    def tags_hash(self) -> str:
        return "sha256:" + hashlib.sha256("\n".join(self.tags).encode()).hexdigest()

    def identity(self) -> dict[str, str]:
        """What a lock records about the interpreter it was made for."""
        out = {"implementation": self.implementation, "version": self.version, "tags-hash": self.tags_hash(),
               "platform": self.marker_env.get("sys_platform", "") + "-" + self.marker_env.get("platform_machine", "")}
        if self.manifest_id:
            out["manifest-id"] = self.manifest_id
        return out

    @classmethod
    def from_executable(cls, executable: Path | str) -> TargetPython:
        """Describe an interpreter by running it (the interpreter module's probe and tags)."""
        facts = probe(Path(executable))
        return cls(
            implementation=facts.implementation, version=facts.version, marker_env=facts.marker_env,
            tags=tuple(compatible_tags(facts)), executable=Path(executable),
            extra={"libc": " ".join(facts["libc"]).strip()},
        )

    @classmethod
    def from_interpreter_info(cls, info: Any) -> TargetPython:
        return cls(
            implementation=str(info.implementation), version=str(info.version),
            marker_env=dict(info.marker_env), tags=tuple(str(t) for t in info.tags),
            executable=Path(info.executable), store_path=str(getattr(info, "store_path", "") or "") or None,
            manifest_id=getattr(info, "manifest_id", None),
        )


def target_for_spec(
    store: Any, python: str | None, specifier: SpecifierSet, progress: Callable[[str], None] | None = None
) -> TargetPython:
    """The store's interpreter for the env file's `python=` (imported from the machine the
    first time); `specifier` is the same constraint in PEP 440 form, kept for callers."""
    del specifier  # find_interpreter reads the conda form directly
    return TargetPython.from_interpreter_info(find_interpreter(store, python, progress))
