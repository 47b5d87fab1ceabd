"""Which pre-releases the resolver may pick (PEP 440's rule, and uv's `--prerelease` names for
changing it). The default is PEP 440's and pip's: a pre-release only when a specifier on the
package names one, or when no final release satisfies the specifiers at all."""

from __future__ import annotations

from collections.abc import Iterable

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envstore.spec.model import PRERELEASE_POLICIES, SpecRequirement

DEFAULT = "if-necessary-or-explicit"


def allowed_versions(versions: Iterable[Version], spec: SpecifierSet, policy: str | None,
                     first_party_explicit: bool) -> list[Version]:
    """The versions `spec` admits under `policy`. `first_party_explicit`: the env file's own
    requirement on this package names a pre-release (what `explicit` goes by, as in uv)."""
    policy = policy or DEFAULT
    matching = [v for v in versions if spec.contains(v, prereleases=True)]
    finals = [v for v in matching if not v.is_prerelease]
    if policy == "allow":
        return matching
    if policy == "disallow":
        return finals
    if policy == "explicit":
        return matching if first_party_explicit else finals
    if policy == "if-necessary":
        return finals or matching
    # if-necessary-or-explicit: packaging's own filter, which is PEP 440's rule
    return list(spec.filter(versions))


def explicit_names(requirements: Iterable[SpecRequirement]) -> frozenset[str]:
    """Names whose env-file requirement names a pre-release (`pkg>=2.0b1`, `pkg==3.0rc2`)."""
    return frozenset(r.name for r in requirements if r.requirement.specifier.prereleases)


__all__ = ["DEFAULT", "PRERELEASE_POLICIES", "allowed_versions", "explicit_names"]
