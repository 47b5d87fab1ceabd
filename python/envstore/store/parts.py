"""A prefix's parts as typed records: which manifests a prefix is the union of, and what each
one is (the generated base, a placed wheel, its scripts, its bytecode). The prefixes row stores
them as JSON objects; rows written before records existed hold `[label, manifest id]` pairs,
which only `_from_labels` here reads. Pure data: imports nothing of envstore, touches no disk."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class PartKind(str, Enum):
    BASE = "base"  # what envstore generates for every prefix: pyvenv.cfg, bin/python links
    WHEEL = "wheel"  # a wheel's prefix-independent placement (its files under site-packages)
    SCRIPTS = "scripts"  # what one prefix adds to a wheel: console scripts, RECORD, INSTALLER
    BYTECODE = "bytecode"  # the wheel's .py files compiled for the prefix's interpreter
    CONDA = "conda"  # a conda package's prefix-independent files
    CONDA_PREFIX = "conda-prefix"  # what one prefix adds to a conda package: rewritten files, conda-meta
    POST_LINK = "post-link"  # what conda post-link scripts added to one prefix (when asked to run them)


@dataclass(frozen=True)
class Part:
    kind: PartKind
    package: str | None  # the distribution name as locked; None for the base
    version: str | None
    manifest: str
    source: str | None = None  # wheel parts: the ingested wheel's manifest it was placed from

    @property
    def label(self) -> str:
        """How messages name the part ("numpy 2.1.3 (scripts)"), e.g. the core's conflict errors."""
        if self.kind is PartKind.BASE:
            return "envstore"
        name = f"{self.package} {self.version}" if self.version else str(self.package)
        return name if self.kind is PartKind.WHEEL else f"{name} ({self.kind.value})"

    def to_json(self) -> dict[str, str]:
        doc = {"kind": self.kind.value, "package": self.package, "version": self.version,
               "manifest": self.manifest, "source": self.source}
        return {k: v for k, v in doc.items() if v is not None}

    @classmethod
    def from_json(cls, doc: dict) -> Part:
        return cls(PartKind(doc["kind"]), doc.get("package"), doc.get("version"), doc["manifest"], doc.get("source"))


def base_part(manifest: str) -> Part:
    return Part(PartKind.BASE, None, None, manifest)


def dumps(parts: Iterable[Part]) -> str:
    """The prefixes row's `manifests` column."""
    return json.dumps([p.to_json() for p in parts])


def loads(text: str, sources: list[str]) -> list[Part]:
    """Read the `manifests` column in either form; `sources` (the row's wheel manifests, in
    build order) fills in the wheel parts of a label-form row, which did not record them."""
    items = json.loads(text)
    if items and not isinstance(items[0], dict):
        return _from_labels(items, sources)
    return [Part.from_json(doc) for doc in items]


# Labels as rows before records held them: "envstore", "numpy 2.1.3", "numpy 2.1.3 (scripts)".
_OLD_SUFFIXES = {" (scripts)": PartKind.SCRIPTS, " (bytecode)": PartKind.BYTECODE}


def _from_labels(pairs: list[list[str]], sources: list[str]) -> list[Part]:
    """The one reader of the label form. Its wheel parts were written in the order of the row's
    sources, so the n-th wheel part was placed from the n-th source."""
    parts = []
    unmatched = iter(sources)
    for label, manifest in pairs:
        if label == "envstore":
            parts.append(base_part(manifest))
            continue
        kind = next((k for suffix, k in _OLD_SUFFIXES.items() if label.endswith(suffix)), PartKind.WHEEL)
        if kind is not PartKind.WHEEL:
            label = label[: label.rindex(" (")]
        package, _, version = label.partition(" ")
        source = next(unmatched, None) if kind is PartKind.WHEEL else None
        parts.append(Part(kind, package, version, manifest, source))
    return parts


def packages(parts: Iterable[Part]) -> list[Part]:
    """The wheel parts, one per package, in the order the prefix was built."""
    return [p for p in parts if p.kind is PartKind.WHEEL]


def conda_packages(parts: Iterable[Part]) -> list[Part]:
    """The conda packages of a prefix, one part per package (every one has a CONDA_PREFIX part)."""
    return [p for p in parts if p.kind is PartKind.CONDA_PREFIX]


def labelled(parts: Iterable[Part]) -> list[tuple[str, str]]:
    """(label, manifest id) pairs, the form the core's materialize and verify_tree take."""
    return [(p.label, p.manifest) for p in parts]
