"""What an env file asks for, independent of its format: the EnvSpec every input parses into
and the resolver consumes. Plain data; no I/O."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

LINK_MODES = ("hardlink", "reflink", "copy")
# uv's names for which pre-releases a resolution may pick (resolve/prerelease.py).
PRERELEASE_POLICIES = ("if-necessary-or-explicit", "allow", "if-necessary", "explicit", "disallow")
# The platforms a universal lock can declare (issue 17; resolve/universal.py has their tags).
UNIVERSAL_PLATFORMS = ("linux-x86_64", "linux-aarch64", "macos-x86_64", "macos-arm64", "windows-x86_64")


@dataclass(frozen=True)
class SpecRequirement:
    """One requirement and where it was written (`env.yml:7`), for messages."""

    requirement: Requirement
    origin: str
    # `-e` / `--editable` (PEP 660): installed pointing at the project's source (issue 16).
    editable: bool = False
    # A local project or archive as written, relative to the env file (`./pkg`), and the digest of
    # the files that decide its metadata: the lock says the one and is stale when the other changes,
    # while the requirement's URL (absolute) stays out of the spec hash, so a committed lock holds
    # on every checkout.
    local: str | None = None
    local_digest: str | None = None

    @property
    def name(self) -> NormalizedName:
        return canonicalize_name(self.requirement.name)

    def canonical(self) -> str:
        """The requirement as the spec hash sees it."""
        if self.local is None and not self.editable:
            return str(self.requirement)
        where = self.local if self.local is not None else self.requirement.url
        text = f"{self.requirement.name} @ {where}" + (f" [{self.local_digest}]" if self.local_digest else "")
        return ("-e " if self.editable else "") + text

    def __str__(self) -> str:
        return str(self.requirement)


@dataclass(frozen=True)
class IndexSettings:
    """Index locations an env file names itself. None/empty means 'not set here'."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False


@dataclass(frozen=True)
class EnvSpec:
    path: Path
    name: str
    # The interpreter constraint as conda wrote it ("3.11", ">=3.10,<3.13"), handed to interpreter
    # discovery, and the same as a PEP 440 specifier for checking a chosen interpreter.
    python: str | None = None
    python_specifier: SpecifierSet = field(default_factory=SpecifierSet)
    requirements: tuple[SpecRequirement, ...] = ()
    constraints: tuple[SpecRequirement, ...] = ()
    index: IndexSettings = IndexSettings()
    link_mode: str | None = None
    # requirements.txt --hash pins: name -> allowed sha256 digests.
    hashes: dict[str, frozenset[str]] = field(default_factory=dict)
    channels: tuple[str, ...] = ()
    # pip's --only-binary: normalized names, or ":all:"; those are never built from source.
    only_binary: frozenset[str] = frozenset()
    # pip's --no-binary: normalized names, or ":all:"; those are always built from their sdist
    # (a name given to one of the two options wins over the other's ":all:", as in pip).
    no_binary: frozenset[str] = frozenset()
    # `envstore: {platforms: [...], python: [...]}`: the environments a universal lock covers;
    # either one set makes `store lock` write a universal lock (issue 17).
    platforms: tuple[str, ...] = ()
    pythons: tuple[str, ...] = ()
    prerelease: str | None = None  # `envstore: {prerelease: ...}`, one of PRERELEASE_POLICIES
    # `envstore: {config-settings: {...}, config-settings-package: {name: {...}}}`: PEP 517
    # config_settings for every build, and per normalized package name (on top).
    config_settings: dict[str, Any] = field(default_factory=dict)
    package_config_settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def config_settings_for(self, name: str) -> dict[str, Any]:
        """A package's PEP 517 config_settings: every build's, with its own on top."""
        from packaging.utils import canonicalize_name

        return {**self.config_settings, **self.package_config_settings.get(canonicalize_name(name), {})}

    @property
    def universal(self) -> bool:
        return bool(self.platforms or self.pythons)

    def canonical(self) -> dict[str, object]:
        """The content that matters for resolution, in a stable order: formatting, comments
        and key order in the file do not change it."""
        return {
            "version": 1,
            "python": str(self.python_specifier),
            "requirements": sorted(r.canonical() for r in self.requirements),
            "constraints": sorted(str(r.requirement) for r in self.constraints),
            "index": {
                "index-url": self.index.index_url,
                "extra-index-urls": list(self.index.extra_index_urls),
                "find-links": list(self.index.find_links),
                "no-index": self.index.no_index,
            },
            "hashes": {k: sorted(v) for k, v in sorted(self.hashes.items())},
            # only when set, so locks made before the option existed stay current
            **({"only-binary": sorted(self.only_binary)} if self.only_binary else {}),
            **({"no-binary": sorted(self.no_binary)} if self.no_binary else {}),
            **({"platforms": list(self.platforms)} if self.platforms else {}),
            **({"pythons": list(self.pythons)} if self.pythons else {}),
            **({"prerelease": self.prerelease} if self.prerelease else {}),
            **({"config-settings": self.config_settings} if self.config_settings else {}),
            **({"config-settings-package": self.package_config_settings} if self.package_config_settings else {}),
        }

    def spec_hash(self) -> str:
        data = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


CONFIG_SETTINGS_OPTIONS = ("-C", "--config-settings", "--config-setting")


def add_config_setting(settings: dict[str, Any], text: str) -> None:
    """pip's `-C KEY=VALUE` into `settings`: a KEY given again becomes a list, as pip passes it
    to the backend. Raises ValueError for text without `KEY=`."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{text!r} is not KEY=VALUE")
    key = key.strip()
    if key in settings:
        old = settings[key]
        settings[key] = (old if isinstance(old, list) else [old]) + [value]
    else:
        settings[key] = value

