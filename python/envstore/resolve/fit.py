"""Which interpreter realizes a lock, checked against every wheel the lock would install.
A lock may come from anywhere (our own, an export from another store, another tool's
pylock.toml), so nothing here trusts that its wheels suit the interpreter: each chosen wheel's
tags are matched against the target interpreter's own tags. Never imports more than the one
interpreter it returns; never changes a lock file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from envstore.interpreters import (
    discover,
    find_interpreter,
    import_interpreter,
    list_interpreters,
    parse_constraint,
)
from envstore.interpreters.importer import MIN_VERSION
from envstore.interpreters.model import InterpreterError
from envstore.interpreters.probe import probe
from envstore.interpreters.tags import abi_tag, compatible_tags
from envstore.lockfile import Lock, LockfileError, Misfit

Info = Callable[[str], None]


@dataclass(frozen=True)
class _Option:
    """An interpreter realize could use: one in the store (`info`) or one found on the machine
    and probed, not imported yet (`executable`): a misfit is found before anything is imported."""

    version: Version
    tags: tuple[str, ...]
    marker_env: dict[str, str]
    abi: str
    platform: str
    info: Any = None  # InterpreterInfo
    executable: Path | None = None

    @classmethod
    def of(cls, info: Any) -> _Option:
        return cls(Version(info.version), tuple(info.tags), dict(info.marker_env), info.abi, info.platform, info=info)

    def label(self) -> str:
        return f"python {self.version}"


def interpreter_for_lock(store: Any, lock: Lock, info: Info) -> tuple[Any, Lock]:
    """The interpreter to realize `lock` with and the lock narrowed to what it installs (the
    packages whose markers hold, one wheel each). The interpreter the lock names (ours and our
    exports do) is used or refused; a lock that names none gets the newest interpreter, within
    its requires-python, that fits every wheel."""
    wanted = lock.interpreter.get("manifest-id")
    same = next((i for i in list_interpreters(store) if i.manifest_id == wanted), None) if wanted else None
    version = lock.interpreter.get("version")
    if same is None and not version:
        return _newest_that_fits(store, lock, info)
    option = _Option.of(same) if same is not None else next(_options(store, version, parse_constraint(version), info))
    fitted = lock.fit(option.tags, option.marker_env)
    if isinstance(fitted, Misfit):
        raise LockfileError(
            f"{fitted.subject()} does not fit {option.label()} ({option.abi}, {option.platform}), "
            f"the interpreter the lock names: {fitted.why()}",
            lock.path,
            hint="the lock's wheels were chosen for another interpreter: lock again from the env file "
                 "(store lock ENV_FILE), or drop [tool.envstore.interpreter] so that realize picks one that fits",
        )
    return option.info or _import(store, option, info), fitted


def _newest_that_fits(store: Any, lock: Lock, info: Info) -> tuple[Any, Lock]:
    tried: list[tuple[_Option, Misfit]] = []
    broken: InterpreterError | None = None
    for option in _options(store, lock.requires_python, _allowed(lock.requires_python), info):
        fitted = lock.fit(option.tags, option.marker_env)
        if isinstance(fitted, Misfit):
            tried.append((option, fitted))
            continue
        try:
            interpreter = option.info or _import(store, option, info)
        except InterpreterError as e:
            broken = e  # a broken installation: the next one may do
            continue
        if tried:
            skipped = ", ".join(str(o.version) for o, _m in tried)
            info(f"using python {option.version}: the lock names no interpreter, and {skipped} "
                 f"cannot install {tried[0][1].subject()}")
        return interpreter, fitted
    if broken is not None and not tried:
        raise broken
    raise _no_fit(lock, tried)


def _no_fit(lock: Lock, tried: list[tuple[_Option, Misfit]]) -> LockfileError:
    """One message naming the first wheel (in lock order) that no interpreter here fits; when
    each wheel fits some interpreter but none fits them all, the newest one's first misfit."""
    names = "python " + ", ".join(str(o.version) for o, _m in tried)
    within = f" (within requires-python {lock.requires_python})" if lock.requires_python else ""
    misfit = next((m for m in (_fits_none(lock, p, tried) for p in lock.packages) if m is not None), None)
    if misfit is None and tried[0][1].package is None:
        misfit = tried[0][1]  # `environments`: no single wheel is to blame
    if misfit is not None:
        message = f"no interpreter here can install {misfit.subject()}: {misfit.why()}; tried {names}{within}"
    else:
        option, first = tried[0]
        message = (f"no interpreter here fits every wheel of the lock: {first.subject()} does not fit "
                   f"{option.label()} ({first.why()}), and each of the others ({names}) misses another one")
    return LockfileError(
        message, lock.path,
        hint="lock again on this machine from the env file (store lock ENV_FILE), or make an interpreter the "
             "wheels were built for available (store python install VERSION)",
    )


def _fits_none(lock: Lock, package: Any, tried: list[tuple[_Option, Misfit]]) -> Misfit | None:
    """The misfit of `package` if it fits none of the interpreters tried (the first one's)."""
    alone = replace(lock, packages=(package,), environments=())
    found = [alone.fit(o.tags, o.marker_env) for o, _m in tried]
    misfits = [m for m in found if isinstance(m, Misfit)]
    return misfits[0] if len(misfits) == len(found) else None


def _options(store: Any, constraint: str | None, allowed: Callable[[Version], bool], info: Info
             ) -> Iterator[_Option]:
    """Interpreters `allowed`: the store's, newest first, then (only if the caller asks for
    more) those found on the machine of a version the store lacks, probed, newest first. Never
    empty: with no interpreter at all, the interpreter chooser's own error (what is missing,
    how to get one) is raised."""
    seen: set[Version] = set()
    for i in list_interpreters(store):
        if i.implementation == "cpython" and allowed(Version(i.version)):
            seen.add(Version(i.version))
            yield _Option.of(i)
    found = _discovered(allowed, seen)
    yield from found
    if not seen and not found:
        yield _Option.of(find_interpreter(store, constraint, progress=info))


def _discovered(allowed: Callable[[Version], bool], seen: set[Version]) -> list[_Option]:
    def usable(v: Version | None) -> bool:
        return v is not None and v not in seen and allowed(v) and v.release[:2] >= MIN_VERSION

    found: dict[Version, _Option] = {}
    for c in discover():
        hinted = _version(c.version_hint)
        if hinted is not None and (not usable(hinted) or hinted in found):
            continue  # the directory name says enough: no need to run it
        try:
            p = probe(c.executable)
        except InterpreterError:
            continue
        v = _version(p.version)
        if p.implementation == "cpython" and usable(v) and v not in found:
            found[v] = _Option(v, tuple(compatible_tags(p)), p.marker_env, abi_tag(p), str(p["platform"]),
                               executable=c.executable)
    return sorted(found.values(), key=lambda o: o.version, reverse=True)


def _import(store: Any, option: _Option, info: Info) -> Any:
    info(f"importing python {option.version} from {option.executable} into the store (once; this takes a while) ...")
    return import_interpreter(store, option.executable, progress=info).info


def _allowed(requires_python: str | None) -> Callable[[Version], bool]:
    """requires-python as a predicate: PEP 440 (`>=3.9`, `==3.12.*`) as other tools write it,
    else read as a conda match spec, the way the interpreter chooser reads it."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not requires_python:
        return lambda v: True
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return parse_constraint(requires_python)
    return lambda v: spec.contains(v, prereleases=True)


def _version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None
