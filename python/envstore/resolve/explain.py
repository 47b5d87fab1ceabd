"""Turn resolvelib's ResolutionImpossible into a message that names each side of the conflict
and the chain of requirements that led to it (env.yml:5 asks for a; a 1.0 requires b<2; ...)."""

from __future__ import annotations

from typing import Any

from envstore.errors import EnvstoreError
from envstore.resolve.model import PYTHON, Candidate, Req
from envstore.target import TargetPython


class ResolutionError(EnvstoreError):
    code = "resolve"

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(message)


def chain(req: Req, chains: dict[str, Req]) -> str:
    """`env.yml:4 asks for fastapi` → `fastapi 0.110 requires starlette<0.37`, built from the
    first requirement that brought each name in."""
    steps = []
    seen = set()
    parent: Candidate | None = req.parent
    while parent is not None and parent.id not in seen:
        seen.add(parent.id)
        via = chains.get(parent.id) or chains.get(parent.name)
        if via is None:
            break
        steps.append(via)
        parent = via.parent
    out = []
    for r in reversed(steps):
        out.append(_describe(r))
    out.append(_describe(req))
    return " → ".join(out)


def _describe(r: Req) -> str:
    if r.parent is None:
        return f"{r.origin} asks for {r}" if r.origin else f"you asked for {r}"
    if r.name == PYTHON:
        return f"{r.parent} requires python{r.specifier}"
    return f"{r.parent} requires {r}"


def explain_impossible(causes: list[Any], chains: dict[str, Req], why_empty: dict[str, str],
                       target: TargetPython) -> ResolutionError:
    by_name: dict[str, list[Req]] = {}
    for c in causes:
        by_name.setdefault(c.requirement.name, []).append(c.requirement)
    lines = []
    hint = None
    for name, reqs in by_name.items():
        uniq: list[Req] = []
        for r in reqs:
            if all(str(r) != str(u) or r.parent != u.parent for u in uniq):
                uniq.append(r)
        if name == PYTHON:
            lines.append(f"the interpreter is python {target.version}, but:")
            hint = "choose another python= in the env file, or relax the requirement"
        elif len(uniq) == 1:
            r = uniq[0]
            reason = why_empty.get(r.id) or f"no version of {r.name} matches {r.specifier}"
            lines.append(f"cannot install {r}: {reason}")
            if "compatible with this interpreter" in reason:
                hint = "pick a version with a wheel for this platform, or another python= version"
        else:
            lines.append(f"conflicting requirements for {name}:")
        for r in uniq:
            lines.append(f"  {chain(r, chains)}")
    hint = hint or "relax one of the requirements above, or pin a version that satisfies all of them"
    return ResolutionError("\n".join(lines), hint)
