"""Turn resolvelib's ResolutionImpossible into a message that names each side of the conflict
and the chain of requirements that led to it (env.yml:5 asks for a; a 1.0 requires b<2; ...)."""

from __future__ import annotations

from typing import Any

from envstore.resolve.errors import ResolutionError
from envstore.resolve.empty import Empty
from envstore.resolve.model import PYTHON, Candidate, Req
from envstore.resolve.target import TargetPython


class ResolutionGaveUp(ResolutionError):
    """Too many backtracking rounds: another interpreter would search the same space again."""

    code = "resolve.gave-up"


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


def explain_impossible(causes: list[Any], chains: dict[str, Req], why_empty: dict[str, Empty],
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
        empty = next((why_empty[r.id] for r in uniq if r.id in why_empty), None)
        if name == PYTHON:
            lines.append(f"the interpreter is python {target.version}, but:")
            hint = hint or "choose another python= in the env file, or relax the requirement"
        elif len({str(r) for r in uniq}) == 1 or (empty is not None and empty.any_spec):
            # One requirement (perhaps from several parents, e.g. each version tried of the one
            # package that needs it), or a project no version of which is usable here: what is
            # wrong is the project, not a conflict between the requirements on it.
            r = uniq[0]
            reason = empty.reason if empty is not None else f"no version of {r.name} matches {r.specifier}"
            what = r.name if empty is not None and empty.any_spec else str(r)
            lines.append(f"cannot install {what}{_required_by(uniq)}: {reason}")
            hint = hint or (empty.hint if empty is not None else None)
        else:
            lines.append(f"conflicting requirements for {name}:")
        for r in uniq:
            lines.append(f"  {chain(r, chains)}")
    hint = hint or "relax one of the requirements above, or pin a version that satisfies all of them"
    return ResolutionError("\n".join(lines), hint)


def _required_by(reqs: list[Req]) -> str:
    """`, required by newspaper3k 0.2.8 and 0.2.7` for a dependency the user did not ask for."""
    parents: dict[str, list[str]] = {}
    for r in reqs:
        if r.parent is None:
            return ""
        parents.setdefault(r.parent.id, []).append(str(r.parent.version))
    named = [f"{pid} {' and '.join(vs[:3])}{' ...' if len(vs) > 3 else ''}" for pid, vs in parents.items()]
    return f" (required by {', '.join(named[:3])}{', ...' if len(named) > 3 else ''})"
