"""The interpreter's identity as the rest of envstore sees it: `InterpreterInfo` (what the
resolver locks for and realize links to) and `InterpreterError`. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envstore.errors import EnvstoreError

# The oldest CPython a target may be: the probe and bytecode scripts run inside it and keep
# to 3.6's syntax and stdlib (3.6 gets timestamp pycs: see envstore.interpreters.pycs).
MIN_VERSION = (3, 6)
SUPPORTED = f"envstore supports CPython {MIN_VERSION[0]}.{MIN_VERSION[1]} and newer"


class InterpreterError(EnvstoreError):
    """An interpreter could not be found, probed, imported, installed or removed."""

    code = "interpreter"


class UnsupportedInterpreter(InterpreterError):
    """A Python that runs but that envstore cannot target (Python 2, CPython < MIN_VERSION)."""

    code = "interpreter.unsupported"
    hint = SUPPORTED

    def __init__(self, executable: object, version: str) -> None:
        super().__init__(f"{executable} is python {version}, which envstore does not support")
        self.version = version


def is_supported(version: str) -> bool:
    return tuple(int(x) for x in _release(version)[:2]) >= MIN_VERSION


@dataclass(frozen=True)
class InterpreterInfo:
    """One interpreter in the store. `tags` are in priority order (most specific first), as
    `packaging.tags` orders them, computed for this interpreter rather than the running one."""

    implementation: str  # "cpython"
    version: str  # full: "3.12.1"
    executable: Path  # STORE/python/<hash>-cpython-3.12.1/bin/python3.12
    store_path: Path  # STORE/python/<hash>-cpython-3.12.1
    manifest_id: str  # the tree's manifest: keep it alive in GC
    marker_env: dict[str, str] = field(compare=False)
    tags: list[str] = field(compare=False)
    architecture: str = ""  # platform.machine() of the interpreter: "x86_64"
    abi: str = ""  # "cp312", "cp313t"
    platform: str = ""  # sysconfig.get_platform(): "linux-x86_64"
    origins: tuple[str, ...] = ()  # where it was imported from (informational only)

    @property
    def name(self) -> str:
        return self.store_path.name

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(x) for x in _release(self.version))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "implementation": self.implementation,
            "version": self.version,
            "architecture": self.architecture,
            "abi": self.abi,
            "platform": self.platform,
            "store_path": str(self.store_path),
            "executable": str(self.executable),
            "manifest_id": self.manifest_id,
            "origins": list(self.origins),
            "marker_env": self.marker_env,
            "tags": self.tags,
        }


def _release(version: str) -> list[str]:
    out = []
    for part in version.split("."):
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        out.append(digits or "0")
        if digits != part:
            break
    return out
