"""Errors in what the user wrote: an env file, a requirements file, a lockfile given as input.
Every one names the file and, where known, the line and column."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envstore.errors import EnvstoreError


class SpecError(EnvstoreError):
    """The env file cannot be understood. `str()` is `file:line:col: message`."""

    code = "spec"
    group: Group | None = None  # set where a list of problems may show it with others of its kind

    def __init__(
        self,
        message: str,
        path: Path | str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.column = column
        where = ""
        if self.path is not None:
            where = self.path.name
            if line is not None:
                where += f":{line}"
                if column is not None:
                    where += f":{column}"
            where += ": "
        super().__init__(where + message, hint)


class CondaOnlyPackageError(SpecError):
    """Conda packages with no Python-package equivalent on a package index."""

    code = "spec.conda-only"


@dataclass(frozen=True)
class Group:
    """How a problem is listed with others of its kind ("conda-only packages (a C library):
    bzip2, openssl"): the kind, its heading, this problem's item, and this problem's fix (None
    when `hint_for_all` covers every member)."""

    kind: tuple[str, ...]
    heading: str
    item: str
    fix: str | None = None
    hint_for_all: str | None = None


class SpecProblems(SpecError):
    """Several independent problems in one env file, reported together so that one run shows
    everything to fix. `problems` holds each as its own SpecError, in file order; problems of
    one kind (`group`) share a line."""

    code = "spec.problems"

    def __init__(self, problems: list[SpecError], path: Path, hint: str | None = None) -> None:
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problems ({_tally(self.problems)}):"]
        for first, members in _grouped(self.problems):
            if len(members) == 1:
                lines.append(f"  {first}")
                hint_line = first.hint
            else:
                g = [m.group for m in members]
                others = ", ".join(str(m.line) for m in members[1:] if m.line is not None)
                where = f"{first.path.name}:{first.line}:{first.column}" if first.path else ""
                lines.append(f"  {where} (and line{'s' if len(members) > 2 else ''} {others}): "
                             f"{g[0].heading}: {', '.join(x.item for x in g)}")
                fixes = [x.fix for x in g if x.fix]
                hint_line = (f"{g[0].hint_for_all}: " + ", ".join(fixes)) if fixes else g[0].hint_for_all
            if hint_line:
                lines.append(f"    hint: {hint_line}")
        super().__init__("\n".join(lines), path, hint=hint)


def _tally(problems: list[SpecError]) -> str:
    """`3 conda-only packages, 1 build string, 2 other`: what kinds of problem there are."""
    conda_only = sum(isinstance(p, CondaOnlyPackageError) for p in problems)
    builds = sum(getattr(p.group, "kind", ("",))[0] == "build-string" for p in problems)
    other = len(problems) - conda_only - builds
    parts = [(conda_only, "conda-only package", "conda-only packages"), (builds, "build string", "build strings"),
             (other, "other", "other")]
    return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)


def _grouped(problems: list[SpecError]) -> list[tuple[SpecError, list[SpecError]]]:
    """Problems in file order, those of one kind gathered at the first of them."""
    out: list[tuple[SpecError, list[SpecError]]] = []
    by_kind: dict[tuple[str, ...], list[SpecError]] = {}
    for p in problems:
        group = getattr(p, "group", None)
        if group is not None and group.kind in by_kind:
            by_kind[group.kind].append(p)
            continue
        members = [p]
        if group is not None:
            by_kind[group.kind] = members
        out.append((p, members))
    return out


class CondaOnlyPackages(SpecProblems, CondaOnlyPackageError):
    """Several problems, every one a conda-only package."""

    code = "spec.conda-only"


def combine(problems: list[SpecError], path: Path) -> SpecError:
    """One error for every problem found: the problem itself if there is one, else a list."""
    if len(problems) == 1:
        return problems[0]
    hint = None
    if any(getattr(getattr(p, "group", None), "kind", ("",))[0] == "build-string" for p in problems):
        hint = ("`conda env export --from-history` writes only the packages you asked for, "
                "without build strings")
    if all(isinstance(p, CondaOnlyPackageError) for p in problems):
        return CondaOnlyPackages(problems, path, hint)
    return SpecProblems(problems, path, hint)
