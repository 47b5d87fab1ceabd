"""Solve conda specs against channels with rattler (its repodata gateway and resolvo solver),
with virtual packages detected on this machine and overridable as conda's are
(`CONDA_OVERRIDE_GLIBC`, `CONDA_OVERRIDE_CUDA`, ...). Strict channel priority, as conda's
default. The result is a list of `CondaRecord`s: exactly what a lock records of each package."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from envstore.conda.record import CondaRecord
from envstore.resolve.errors import ResolutionError


def _noarch(record) -> str:
    kind = record.noarch
    if kind.python:
        return "python"
    if kind.generic:
        return "generic"
    return ""


def _to_record(r) -> CondaRecord:
    return CondaRecord(
        name=r.name.normalized, version=str(r.version), build=str(r.build), build_number=int(r.build_number),
        channel=str(r.channel or "").rstrip("/"), subdir=str(r.subdir), url=str(r.url),
        sha256=r.sha256.hex() if r.sha256 else "", size=r.size, fn=str(r.file_name),
        depends=tuple(str(d) for d in r.depends), constrains=tuple(str(c) for c in r.constrains), noarch=_noarch(r),
        md5=r.md5.hex() if r.md5 else "",
        timestamp=int(r.timestamp.timestamp() * 1000) if r.timestamp else None,
        license=str(r.license or ""),
    )


def virtual_packages() -> list:
    """This machine's virtual packages (`__glibc`, `__cuda`, `__linux`, ...), `CONDA_OVERRIDE_*` applied."""
    from rattler import VirtualPackage, VirtualPackageOverrides  # lazy: rattler is slow to import

    return VirtualPackage.detect(VirtualPackageOverrides.from_env())


def platform() -> str:
    from rattler import Platform  # lazy: as above

    return str(Platform.current())


def solve(channels: list[str], specs: list[str], cache_dir: Path, *, subdir: str | None = None,
          origin: str = "env file") -> list[CondaRecord]:
    """Solve `specs` (conda match specs, channel-pinned ones as `<url>::name`) from `channels`
    (base URLs, highest priority first). Unsolvable specs raise ResolutionError naming the chain."""
    # lazy: rattler (and its Rust extension) loads only when the conda route is taken
    from rattler import Channel, Gateway, MatchSpec
    from rattler import solve as rattler_solve
    from rattler.exceptions import SolverError

    sub = subdir or platform()
    try:
        parsed = [MatchSpec(s) for s in specs]
    except Exception as e:  # rattler raises its own InvalidMatchSpecError
        raise ResolutionError(f"{origin}: {e}") from None
    sources = [Channel(u) for u in channels]
    for spec in parsed:  # a channel-pinned spec's channel is searched even if not listed
        if spec.channel is not None and spec.channel.base_url.rstrip("/") not in channels:
            sources.append(spec.channel)
    gateway = Gateway(cache_dir=cache_dir, show_progress=False)

    async def run():
        return await rattler_solve(sources, parsed, gateway=gateway, platforms=[sub, "noarch"],
                                   virtual_packages=virtual_packages())

    try:
        records = asyncio.run(run())
        records = [_to_record(r) for r in records]
    except SolverError as e:
        text = " ".join(str(e).split())
        raise ResolutionError(f"the conda packages of {origin} cannot be solved: {text}",
                              "relax a pin, or add a channel that has the package") from None
    except Exception as e:  # repodata fetch failures surface as rattler's own errors
        if type(e).__module__.startswith("rattler") or "exceptions" in type(e).__module__:
            raise ResolutionError(f"conda channel failed while solving {origin}: {' '.join(str(e).split())}",
                                  "check the channel URLs and that the channel is reachable") from None
        raise
    finally:
        # rattler's gateway keeps worker threads that must not outlive the interpreter: a process
        # that exits right after a failed solve aborted in finalization without this.
        del gateway, sources, parsed
        gc.collect()
    return sorted(records, key=lambda r: r.name)
