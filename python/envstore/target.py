"""The interpreter a lock is resolved for: its version, PEP 508 marker environment and wheel
tags, computed by running that interpreter (never from the Python running envstore), plus a
small discovery fallback (pyenv versions, PATH) for when the interpreter module is absent."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging import tags as ptags
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envstore import settings
from envstore.errors import EnvstoreError


class InterpreterNotFound(EnvstoreError):
    code = "interpreter.not-found"

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(message)


# Runs inside the target interpreter: stdlib only, no f-strings (old interpreters run it too).
_PROBE = r"""
import json, os, platform, sys, sysconfig
def fv(info):
    v = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        v += info.releaselevel[0] + str(info.serial)
    return v
libc = ""
try:
    libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
except (AttributeError, ValueError, OSError):
    pass
env = {
    "implementation_name": sys.implementation.name,
    "implementation_version": fv(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
print(json.dumps({
    "marker_env": env,
    "version": platform.python_version(),
    "implementation": sys.implementation.name,
    "abiflags": getattr(sys, "abiflags", ""),
    "soabi": sysconfig.get_config_var("SOABI") or "",
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "platform": sysconfig.get_platform(),
    "libc": libc,
    "maxsize_64": sys.maxsize > 2**32,
}))
"""


@dataclass(frozen=True)
class TargetPython:
    implementation: str
    version: str
    marker_env: dict[str, str]
    tags: tuple[str, ...]
    executable: Path | None = None
    store_path: str | None = None
    manifest_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def version_obj(self) -> Version:
        return Version(self.version)

    def tags_hash(self) -> str:
        return "sha256:" + hashlib.sha256("\n".join(self.tags).encode()).hexdigest()

    def identity(self) -> dict[str, str]:
        """What a lock records about the interpreter it was made for."""
        out = {"implementation": self.implementation, "version": self.version, "tags-hash": self.tags_hash(),
               "platform": self.marker_env.get("sys_platform", "") + "-" + self.marker_env.get("platform_machine", "")}
        if self.manifest_id:
            out["manifest-id"] = self.manifest_id
        return out

    @classmethod
    def from_executable(cls, executable: Path | str) -> TargetPython:
        exe = Path(executable)
        try:
            proc = subprocess.run([str(exe), "-I", "-S", "-c", _PROBE], capture_output=True, text=True, timeout=60)
        except OSError as e:
            raise InterpreterNotFound(f"cannot run {exe}: {e.strerror or e}") from None
        if proc.returncode != 0:
            raise InterpreterNotFound(f"{exe} failed to describe itself: {proc.stderr.strip()[-300:]}")
        info = json.loads(proc.stdout)
        return cls(
            implementation=info["implementation"], version=info["version"], marker_env=info["marker_env"],
            tags=tuple(compute_tags(info)), executable=exe, extra={"libc": info["libc"]},
        )

    @classmethod
    def from_interpreter_info(cls, info: Any) -> TargetPython:
        return cls(
            implementation=str(info.implementation), version=str(info.version),
            marker_env=dict(info.marker_env), tags=tuple(str(t) for t in info.tags),
            executable=Path(info.executable), store_path=str(getattr(info, "store_path", "") or "") or None,
            manifest_id=getattr(info, "manifest_id", None),
        )


def compute_tags(info: dict[str, Any]) -> list[str]:
    """Wheel tags for the probed interpreter, most preferred first, as packaging.tags.sys_tags
    would give them inside it, but computed here from its reported facts."""
    major, minor = (int(x) for x in info["version"].split(".")[:2])
    plats = _platforms(info)
    impl = info["implementation"]
    if impl == "cpython":
        flags = info.get("abiflags", "")  # 'm' before 3.8, 'd' debug, 't' free-threaded
        if info.get("gil_disabled") and "t" not in flags:
            flags += "t"
        abi = f"cp{major}{minor}{flags}"
        tags = list(ptags.cpython_tags((major, minor), abis=[abi], platforms=plats))
        interp = f"cp{major}{minor}"
    else:
        soabi = info.get("soabi") or ""
        abi = re.sub(r"[-.]", "_", soabi.rsplit("-", 1)[0] if soabi.count("-") > 1 else soabi) or "none"
        interp = ("pp" if impl == "pypy" else impl[:2]) + f"{major}{minor}"
        tags = list(ptags.generic_tags(interp, abis=[abi], platforms=plats))
    tags += list(ptags.compatible_tags((major, minor), interpreter=interp, platforms=plats))
    return [str(t) for t in tags]


_LEGACY = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


def _platforms(info: dict[str, Any]) -> list[str]:
    plat = re.sub(r"[-. ]", "_", info["platform"])
    if not plat.startswith("linux_"):
        return [plat]
    arch = plat[len("linux_"):]
    if arch == "x86_64" and not info.get("maxsize_64", True):
        arch = "i686"
    out: list[str] = [f"linux_{arch}"]  # packaging.tags ranks the plain tag first too
    libc = info.get("libc") or ""
    if libc.startswith("glibc "):
        gmajor, gminor = (int(x) for x in libc.split()[1].split(".")[:2])
        lowest = 5 if arch in ("x86_64", "i686") else 17
        for m in range(gminor, lowest - 1, -1):
            out.append(f"manylinux_{gmajor}_{m}_{arch}")
            if (gmajor, m) in _LEGACY:
                out.append(f"{_LEGACY[(gmajor, m)]}_{arch}")
    return out


def _candidates() -> list[Path]:
    """Interpreters to consider: pyenv's versions, then python3.X on PATH."""
    found: list[Path] = []
    root = settings.PYENV_ROOT.get()
    if not root and shutil.which("pyenv"):
        try:
            root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            root = None
    if root and (Path(root) / "versions").is_dir():
        for d in sorted((Path(root) / "versions").iterdir()):
            exe = d / "bin" / "python3"
            if exe.exists() and re.fullmatch(r"\d+\.\d+\.\d+", d.name):
                found.append(exe)
    for directory in (settings.PATH.get() or "").split(os.pathsep):
        if "shims" in directory:
            continue  # pyenv's shims choose by directory; the real binaries are above
        for minor in range(20, 5, -1):
            exe = Path(directory) / f"python3.{minor}"
            if exe.exists():
                found.append(exe)
    return found


def _version_of(exe: Path) -> Version | None:
    m = re.search(r"(\d+\.\d+\.\d+)", str(exe.resolve()))
    if m:
        return Version(m.group(1))
    try:
        out = subprocess.run([str(exe), "-c", "import platform;print(platform.python_version())"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
        return Version(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def discover_target(specifier: SpecifierSet) -> TargetPython:
    """The newest interpreter found whose version satisfies `specifier`."""
    best: tuple[Version, Path] | None = None
    seen: set[Path] = set()
    for exe in _candidates():
        real = exe.resolve()
        if real in seen:
            continue
        seen.add(real)
        v = _version_of(exe)
        if v is not None and specifier.contains(v, prereleases=True) and (best is None or v > best[0]):
            best = (v, exe)
    if best is None:
        raise InterpreterNotFound(
            f"no Python interpreter matching {specifier or 'any version'} was found",
            "install one (e.g. with pyenv) or change `python=` in the env file")
    return TargetPython.from_executable(best[1])


def target_for_spec(store: Any, python: str | None, specifier: SpecifierSet) -> TargetPython:
    """Use the interpreter module when it exists (it knows the store's interpreters and their
    manifest ids); otherwise discover one ourselves."""
    try:
        from envstore.interpreters import find_interpreter  # type: ignore[attr-defined]
    except ImportError:
        return discover_target(specifier)
    return TargetPython.from_interpreter_info(find_interpreter(store, python))
