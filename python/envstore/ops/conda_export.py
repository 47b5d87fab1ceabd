"""`store export --format conda|explicit`: a conda environment written down exactly, as an
env.yml of `name=version=build` pins (its channels listed, the conda route asked for) or as
conda's `@EXPLICIT` list of package URLs with their sha256 (CEP 23)."""

from __future__ import annotations

from envstore.errors import UsageError
from envstore.ops.inventory import Inventory


def _records(inv: Inventory):
    if not inv.conda:
        raise UsageError(f"{inv.label} has no conda packages", "use --format env or --format pylock")
    return sorted(inv.conda, key=lambda r: r.name)


def conda_env_file(inv: Inventory) -> str:
    records = _records(inv)
    channels: list[str] = []
    for r in records:
        if r.channel and r.channel not in channels:
            channels.append(r.channel)
    lines = [f"name: {inv.name}", "channels:"] + [f"  - {c}" for c in channels] + ["dependencies:"]
    lines += [f"  - {r.name}={r.version}={r.build}" for r in records]
    lines += ["envstore:", "  packages-from: conda"]
    return "\n".join(lines) + "\n"


def explicit_list(inv: Inventory) -> str:
    records = _records(inv)
    subdirs = sorted({r.subdir for r in records if r.subdir and r.subdir != "noarch"})
    lines = [f"# name: {inv.name}", f"# platform: {subdirs[0]}" if subdirs else "# platform: noarch", "@EXPLICIT"]
    lines += [f"{r.url}#sha256:{r.sha256}" for r in records]
    return "\n".join(lines) + "\n"
