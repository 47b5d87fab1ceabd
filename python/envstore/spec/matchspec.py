"""Conda match specs (`numpy>=1.26,<2`, `pandas=2.2`, `scipy 1.13.*`, `pkg[version='>=1.2']`)
to PEP 440, for the wheel route. The grammar is py-rattler's (`MatchSpec`, the parser the conda
route uses too); this module only translates its parsed result. rattler is imported here, on
first use, never on the already-realized fast path."""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

# `name` and `name=1.2`: the forms most env files are made of (`python=3.11`, `pip`), whose
# reading rattler fixes (the name as written, `1.2.*`; tests/test_spec_conda.py compares). They
# skip rattler's ~40 ms import, which an env file of only these forms never needs.
_PLAIN = re.compile(r"([a-z0-9][a-z0-9_.-]*)(?:=([0-9]+(?:\.[0-9]+)*))?")

# rattler's canonical version-spec operators, longest first so `>=` is not read as `>`.
_OPERATORS = ("==", "!=", ">=", "<=", "~=", ">", "<")


class MatchSpecError(ValueError):
    """A match spec we cannot translate; the message says why, the caller adds the place."""

    def __init__(self, message: str, hint: str | None = None, *, build_fix: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.build_fix = build_fix  # for a build string: the spec without it


@dataclass(frozen=True)
class CondaSpec:
    """One conda match spec as rattler read it: the conda name, the version constraint in
    rattler's canonical form (`1.26.*`, `>=1.26,<2`; "" for any), and any part that only a
    conda channel can satisfy (a build string, an md5 pin ...), as a MatchSpecError."""

    text: str
    name: str
    conda_version: str
    extras: tuple[str, ...] = ()
    conda_part: MatchSpecError | None = None

    @property
    def specifier(self) -> str:
        """The version constraint in PEP 440 (raises MatchSpecError if it has no such form)."""
        return to_pep440(self.conda_version, self.text)

    def written_version(self) -> str:
        """The constraint in conda's own short form (`3.11` for `3.11.*`), for messages and
        for interpreter discovery, which reads conda's form."""
        v = self.conda_version
        if v.endswith(".*") and "," not in v and "|" not in v and not v.startswith(_OPERATORS):
            return v[:-2]
        return v


def parse_match_spec(text: str) -> CondaSpec:
    """Read one `dependencies:` entry with rattler, or raise MatchSpecError."""
    plain = _PLAIN.fullmatch(text.strip())
    if plain:
        name, version = plain.groups()
        return CondaSpec(text.strip(), name, f"{version}.*" if version else "")
    from rattler import MatchSpec  # ~50 ms: only when an env file is actually parsed
    from rattler.exceptions import InvalidMatchSpecError

    original = text.strip()
    try:
        spec = MatchSpec(_unquoted(original))
    except InvalidMatchSpecError as e:
        reason = str(e).strip() or "it cannot be read"
        raise MatchSpecError(f"{original!r} is not a conda match spec: {reason}",
                             "write `name`, `name=1.2`, `name>=1.2,<2`, `name 1.2.*` or "
                             "`name[version='>=1.2']`") from None
    name = spec.name.normalized
    version = spec.version or ""
    return CondaSpec(original, name, "" if version == "*" else version, tuple(spec.extras or ()),
                     _conda_part(spec, original, name, version))


def _unquoted(text: str) -> str:
    """`python='3.10'` (a shell habit copied into YAML) reads as `python=3.10`. Quotes inside
    `[key='value']` brackets are the syntax and are kept."""
    head, bracket, tail = text.partition("[")
    return head.replace("'", "").replace('"', "") + bracket + tail


def _conda_part(spec: object, original: str, name: str, version: str) -> MatchSpecError | None:
    build = getattr(spec, "build", None)
    if build and build != "*":
        fixed = f"{name}{version}" if version.startswith(_OPERATORS) else f"{name}={version.removesuffix('.*')}"
        fixed = fixed if version else name
        return MatchSpecError(f"{original!r}: build strings are conda-only", f"drop the build part: `{fixed}`",
                              build_fix=fixed)
    for field, what in (("build_number", "build numbers"), ("md5", "md5 pins"), ("sha256", "sha256 pins"),
                        ("file_name", "file names"), ("condition", "`when=` conditions")):
        if getattr(spec, field, None):
            return MatchSpecError(f"{original!r}: {what} are conda-only",
                                  "drop that part, or list the package in the `- pip:` section as PEP 508")
    return None


def to_pep440(conda_version: str, original: str) -> str:
    """rattler's canonical version constraint -> a PEP 440 specifier ("" for any version)."""
    if conda_version in ("", "*"):
        return ""
    if "|" in conda_version:
        raise MatchSpecError(f"{original!r}: alternatives ('|') have no PEP 440 equivalent",
                             "pick one range, or list the package in the `- pip:` section")
    clauses = [_clause(c.strip(), original) for c in conda_version.split(",")]
    text = ",".join(c for c in clauses if c)
    try:
        return str(SpecifierSet(text))
    except InvalidSpecifier:
        raise MatchSpecError(f"{original!r}: version constraint {conda_version!r} has no PEP 440 form",
                             "use PEP 440 versions, e.g. `numpy>=1.26,<2`") from None


def _clause(clause: str, original: str) -> str:
    if clause in ("", "*"):
        return ""
    op = next((o for o in _OPERATORS if clause.startswith(o)), "")
    raw = clause[len(op):].strip()
    starts_with = raw.endswith(".*")
    version = _version(raw[:-2] if starts_with else raw, original)
    if not starts_with:
        return f"{op or '=='}{version}"
    if op not in ("", "==", "!="):  # `>=1.2.*` is `>=1.2` (rattler already says so)
        return f"{op}{version}"
    exact = "!=" if op == "!=" else "=="
    if version.pre or version.post is not None or version.dev is not None or version.local:
        # conda's `pkg=1.0.0rc1` is "starts with 1.0.0rc1"; PEP 440 has prefix matching on
        # release numbers only, and what such a pin means is that one release.
        return f"{exact}{version}"
    return f"{exact}{version}.*"


def _version(raw: str, original: str) -> Version:
    try:
        return Version(raw)
    except InvalidVersion:
        raise MatchSpecError(
            f"{original!r}: version {raw!r} is not a PEP 440 version (conda allows letters "
            "such as `2024a` or `1.1.1t`; Python packages' versions have no such form)",
            "write the version the package has on the Python index, or a range such as "
            f"`>={raw.rstrip('abcdefghijklmnopqrstuvwxyz')}`") from None
