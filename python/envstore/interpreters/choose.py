"""Choose an interpreter for a version constraint: a conda match spec for python (`3.11`,
`3.11.*`, `>=3.10,<3.13`, `3.12.1`, `3.10|3.12`) or a requires-python range. The best one
already in the store wins; otherwise a discovered one is imported, once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from packaging.version import InvalidVersion, Version

from envstore._core import Store
from envstore.interpreters import registry
from envstore.interpreters.discover import Candidate, discover
from envstore.interpreters.importer import MIN_VERSION, import_interpreter
from envstore.interpreters.model import SUPPORTED, InterpreterError, InterpreterInfo
from envstore.interpreters.probe import probe
from envstore.progress import duration

_CLAUSE = re.compile(r"^(==|!=|>=|<=|~=|>|<|=)?\s*([0-9][0-9a-zA-Z.]*?)(\.\*|\*)?$")

Matcher = Callable[[Version], bool]
# An exact pin of a patch release: `3.8.5`, `=3.8.5`, `==3.8.5`, `python 3.8.5`.
_PATCH_PIN = re.compile(r"^(python\s*)?(==?)?\s*(?P<version>(?P<major>\d+)\.(?P<minor>\d+)\.\d+)$")


def _prefix_match(spec: Version, v: Version) -> bool:
    n = len(spec.release)
    return v.release[:n] == spec.release


def _clause(text: str, whole: str) -> Matcher:
    m = _CLAUSE.match(text.strip())
    if not m:
        raise InterpreterError(
            f"invalid python version constraint '{whole}'",
            hint="use a conda match spec such as 3.11, 3.11.*, >=3.10,<3.13 or 3.12.1",
        )
    op, raw, star = m.group(1) or "", m.group(2).rstrip("."), m.group(3)
    try:
        spec = Version(raw)
    except InvalidVersion:
        raise InterpreterError(f"invalid version '{raw}' in python constraint '{whole}'") from None
    if op in ("", "=") or (op == "==" and star):
        # conda: a bare or `=` version is a prefix ("3.11" is 3.11.*), `==` is exact.
        return lambda v: _prefix_match(spec, v)
    if op == "!=":
        return (lambda v: not _prefix_match(spec, v)) if star else (lambda v: v != spec)
    if op == "==":
        return lambda v: v == spec
    if op == "~=":
        upper = spec.release[:-1]
        return lambda v: v >= spec and v.release[: len(upper)] == upper
    return {
        ">=": lambda v: v >= spec, "<=": lambda v: v <= spec, ">": lambda v: v > spec, "<": lambda v: v < spec,
    }[op]


def parse_constraint(constraint: str | None) -> Matcher:
    """A predicate on versions; `None`, "" and "*" accept any. Accepts a leading `python`."""
    text = (constraint or "").strip()
    text = re.sub(r"^python\s*", "", text).strip()
    if text in ("", "*"):
        return lambda v: True
    alternatives = []
    for alt in text.split("|"):
        clauses = [_clause(c, text) for c in alt.split(",") if c.strip()]
        if not clauses:
            raise InterpreterError(f"invalid python version constraint '{constraint}'")
        alternatives.append(clauses)
    return lambda v: any(all(c(v) for c in clauses) for clauses in alternatives)


def list_interpreters(store: Store) -> list[InterpreterInfo]:
    """Interpreters in the store (complete store paths with a record), newest first."""
    root = Path(store.root)
    out = []
    for record in registry.read_records(root):
        info = registry.info_from_record(root, record)
        if info.executable.is_file():
            out.append(info)
    return sorted(out, key=lambda i: (Version(i.version), i.name), reverse=True)


def matching_minors(store: Store, constraint: str | None) -> list[tuple[Version, Path]]:
    """One CPython per X.Y that `constraint` allows and this store or machine has (the newest
    patch, the store's first), newest first: the versions a lock may fall back to when the
    newest cannot satisfy the pins. Nothing is imported."""
    match = parse_constraint(constraint)
    found: list[tuple[Version, Path]] = [(Version(i.version), i.executable) for i in list_interpreters(store)
                                         if i.implementation == "cpython"]
    for c in discover():
        v = _candidate_version(c)
        if v is not None:
            found.append((v, Path(c.executable)))
    best: dict[tuple[int, int], tuple[Version, Path]] = {}
    for v, exe in found:
        key = (v.major, v.minor)
        if match(v) and key >= MIN_VERSION and (key not in best or v > best[key][0]):
            best[key] = (v, exe)
    return [best[k] for k in sorted(best, reverse=True)]


def _candidate_version(c: Candidate) -> Version | None:
    try:
        return Version(c.version_hint) if c.version_hint else Version(probe(c.executable).version)
    except (InterpreterError, InvalidVersion):
        return None


def find_interpreter(
    store: Store, constraint: str | None = None, progress: Callable[[str], None] | None = None
) -> InterpreterInfo:
    """The newest interpreter in the store matching `constraint`; if there is none, the
    newest matching CPython found on the machine, imported now (it takes seconds: `progress`
    hears about it)."""
    match = parse_constraint(constraint)
    for info in list_interpreters(store):
        if info.implementation == "cpython" and match(Version(info.version)):
            return info
    found: list[tuple[Version, Candidate]] = []
    too_old: list[Version] = []
    elsewhere: set[Version] = set()  # supported versions that do not match: named in the error
    for c in discover():
        v = _candidate_version(c)
        if v is None:
            continue
        if not match(v):
            if v.release[:2] >= MIN_VERSION:
                elsewhere.add(v)
        elif v.release[:2] >= MIN_VERSION:
            found.append((v, c))
        else:
            too_old.append(v)
    for v, c in sorted(found, key=lambda x: x[0], reverse=True):
        if progress is not None:
            progress(f"importing python {v} from {c.executable} into the store (once; this takes a while) ...")
        try:
            result = import_interpreter(store, c.executable, progress=progress)
        except InterpreterError:
            continue  # a broken installation: try the next best
        if progress is not None and not result.reused:
            progress(f"imported python {result.info.version} in {duration(result.timings.get('total', 0))}")
        return result.info
    wanted = f"python {constraint}" if constraint else "any python"
    if too_old:
        raise InterpreterError(
            f"no interpreter matching '{wanted}' that envstore supports: found {_versions(too_old)}, "
            f"but {SUPPORTED}",
            hint=f"ask for python>={MIN_VERSION[0]}.{MIN_VERSION[1]} in the env file",
        )
    elsewhere.update(Version(i.version) for i in list_interpreters(store) if i.implementation == "cpython")
    raise _none_matches(wanted, (constraint or "").strip(), elsewhere)


def _versions(versions: Iterable[Version]) -> str:
    return ", ".join(str(v) for v in sorted(set(versions), reverse=True))


def _none_matches(wanted: str, constraint: str, available: set[Version]) -> InterpreterError:
    """What exists and what to do, for a constraint nothing here matches. A patch release
    (`3.8.5`) with another of its minor present (3.8.18) is the common case: the env file
    came from another machine, and `python=3.8` is what it means."""
    install = "`store python install VERSION` or import one with `store python import PATH`"
    if not available:
        return InterpreterError(f"no interpreter matching '{wanted}' in the store or on this machine",
                                hint=f"install one with {install}")
    message = f"no interpreter matching '{wanted}' in the store or on this machine (found {_versions(available)})"
    pin = _PATCH_PIN.match(constraint)
    if pin:
        minor = f"{pin['major']}.{pin['minor']}"
        same = [v for v in available if f"{v.major}.{v.minor}" == minor]
        if same:
            return InterpreterError(
                message,
                hint=f"write python={minor} in the env file to take any {minor}.x ({_versions(same)} is here), "
                     f"or install {pin['version']} with `store python install {pin['version']}`",
            )
    return InterpreterError(message, hint=f"ask for one of those, or install one with {install}")
