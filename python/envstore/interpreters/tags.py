"""Wheel compatibility tags for a *target* interpreter, from what it reported about itself
(packaging.tags would otherwise describe the interpreter envstore runs on)."""

from __future__ import annotations

import sysconfig
import sys

from packaging import tags as ptags

from envstore.interpreters.probe import Probe


def abi_tag(p: Probe) -> str:
    """"cp312", "cp313t", "cp312d": from SOABI ("cpython-313t-x86_64-linux-gnu")."""
    soabi = p["soabi"]
    parts = soabi.split("-")
    if soabi.startswith("cpython-") and len(parts) > 1:
        return "cp" + parts[1]
    major, minor = p.version.split(".")[:2]
    return f"cp{major}{minor}" + ("t" if p["gil_disabled"] else "") + ("d" if p["debug"] else "")


def platform_tags(p: Probe) -> list[str]:
    """manylinux/musllinux/linux tags. The glibc version is the machine's, so when the target
    runs on the same platform and word size as envstore, packaging's own list is right;
    otherwise fall back to the bare platform tag."""
    same = p["platform"] == sysconfig.get_platform() and p["is_64bit"] == (sys.maxsize > 2**32)
    if same:
        return list(ptags.platform_tags())
    return [p["platform"].replace("-", "_").replace(".", "_")]


def compatible_tags(p: Probe) -> list[str]:
    """Every tag a wheel may carry to install on this interpreter, best first."""
    major, minor = (int(x) for x in p.version.split(".")[:2])
    plats = platform_tags(p)
    if p.implementation != "cpython":
        return [str(t) for t in ptags.compatible_tags((major, minor), platforms=plats)]
    abi = abi_tag(p)
    out = list(ptags.cpython_tags((major, minor), abis=[abi], platforms=plats))
    out += ptags.compatible_tags((major, minor), interpreter=f"cp{major}{minor}", platforms=plats)
    seen: set[str] = set()
    ordered = []
    for t in out:
        s = str(t)
        if s not in seen:
            seen.add(s)
            ordered.append(s)
    return ordered
