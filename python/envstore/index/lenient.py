"""Requirement and specifier strings from published metadata, read the way pip < 24.1 and uv
read them. packaging 22+ (so pip 24.1+) refuses legacy forms that old wheels still carry, such
as `torch (>=1.7.*)`; uv repairs them with a fixed ladder of rewrites and so do we, in uv's order
(each rewrite applies to the output of the previous one, so a line with two defects is mended).
Only published metadata goes through here: what a user writes stays strict."""

from __future__ import annotations

import re
from typing import Callable, TypeVar

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet


# A requirement's name and extras; digits in a name (py3dns, s3fs) must not look like versions.
_NAME = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?")


def _outside_marker(pattern: str, repl: str) -> Callable[[str], str]:
    # Rewrites touch only the version part: not the name, not the marker after ';', which
    # legitimately holds quotes and comparison operators (python_version >= '3.7').
    rx = re.compile(pattern)

    def fix(text: str) -> str:
        head, sep, marker = text.partition(";")
        m = _NAME.match(head)
        name = m.group(0) if m else ""
        return name + rx.sub(repl, head[len(name):]) + sep + marker

    return fix


# (rewrite, what it repairs) — uv's lenient requirement ladder.
FIXUPS: tuple[tuple[Callable[[str], str], str], ...] = (
    (_outside_marker(r"(\d)([<>=~^!])", r"\1,\2"), "a missing comma (>=7.2.0<8.0.0)"),
    (_outside_marker(r"!=~((?:\d\.)*\d)", r"!=\1.*"), "a tilde after != (!=~5.0)"),
    (_outside_marker(r"(<=|>=|<|>)(\d+(?:\.\d+)*)\.\*", r"\1\2"), "a .* after an ordering operator (>=1.7.*)"),
    (_outside_marker(r"(\d\.\d)+\*", r"\1.*"), "a missing dot before * (!=3.0*)"),
    (_outside_marker(r",\s*$", ""), "a trailing comma (>=3.6,)"),
    (_outside_marker(r">dev", ">0.0.0dev"), "a bare >dev"),
    (_outside_marker(r"(\d+(?:\.\d)*(?:a|b|rc|post|dev)\d+)\.0", r"\1"), "a trailing .0 after a pre-release"),
    (_outside_marker(r"['\"]", ""), "stray quotes (>= '2.7')"),
)

T = TypeVar("T")


def _with_fixups(text: str, parse: Callable[[str], T], errors: tuple[type[Exception], ...]) -> tuple[T, list[str]]:
    """`parse(text)`, else the first rewrite on the ladder that parses, with what was repaired.
    Raises the strict parser's error when nothing on the ladder helps."""
    try:
        return parse(text), []
    except errors as first:
        patched, repaired = text, []
        for fix, what in FIXUPS:
            candidate = fix(patched)
            if candidate == patched:
                continue
            repaired.append(what)
            try:
                return parse(candidate), repaired
            except errors:
                patched = candidate
        raise first from None


def lenient_requirement(text: str) -> tuple[Requirement, list[str]]:
    """A Requires-Dist line as a Requirement, and the legacy forms that had to be repaired."""
    return _with_fixups(text, Requirement, (InvalidRequirement,))


def lenient_specifier(text: str) -> SpecifierSet:
    """A Requires-Python value (from a listing or METADATA) as a SpecifierSet, repaired as above."""
    return _with_fixups(text, SpecifierSet, (InvalidSpecifier,))[0]
