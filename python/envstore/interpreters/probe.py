"""Ask an interpreter about itself by running it: version, prefixes, ABI and the PEP 508
marker environment. The script runs inside the *target* (which may lack `packaging`, and may
be as old as 3.6), so it uses the stdlib only. Never imports or changes anything."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envstore.interpreters.model import InterpreterError, UnsupportedInterpreter, is_supported

# Kept to syntax every CPython 3.6+ understands. The marker keys are those of PEP 508,
# computed the way packaging.markers.default_environment() does.
_PROBE_SCRIPT = r"""
import json, os, platform, sys, sysconfig
def fmt(info):
    v = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        v += info.releaselevel[0] + str(info.serial)
    return v
cv = sysconfig.get_config_var
out = {
    "implementation": sys.implementation.name,
    "version": fmt(sys.version_info),
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "executable": sys.executable,
    "build_prefix": cv("prefix") or "",
    "build_exec_prefix": cv("exec_prefix") or "",
    "soabi": cv("SOABI") or "",
    "ext_suffix": cv("EXT_SUFFIX") or "",
    "ldversion": cv("LDVERSION") or "",
    "gil_disabled": bool(cv("Py_GIL_DISABLED")),
    "debug": hasattr(sys, "gettotalrefcount"),
    "platform": sysconfig.get_platform(),
    "is_64bit": sys.maxsize > 2 ** 32,
    "machine": platform.machine(),
    "libc": list(platform.libc_ver()),
    "stdlib": sysconfig.get_path("stdlib"),
    "platstdlib": sysconfig.get_path("platstdlib"),
    "purelib": sysconfig.get_path("purelib"),
    "platlib": sysconfig.get_path("platlib"),
    "marker_env": {
        "implementation_name": sys.implementation.name,
        "implementation_version": fmt(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
}
sys.stdout.write(json.dumps(out))
"""


# Valid Python 2 and 3; only `sys` (built in, so nothing on sys.path can stand in for it).
_VERSION_SCRIPT = "import sys; sys.stdout.write('%d.%d.%d' % sys.version_info[:3])"


@dataclass(frozen=True)
class Probe:
    """What an interpreter said about itself."""

    data: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def implementation(self) -> str:
        return str(self.data["implementation"])

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def minor(self) -> str:
        """"3.12" — the X.Y that names lib/pythonX.Y and bin/pythonX.Y."""
        return ".".join(self.version.split(".")[:2])

    @property
    def marker_env(self) -> dict[str, str]:
        return dict(self.data["marker_env"])


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for running a target interpreter: no PYTHON* variables (they would
    redirect its prefix or path) and a fixed hash seed so bytecode is reproducible."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    env.update(extra or {})
    return env


def _old_python_version(executable: Path, env: dict[str, str], timeout: float) -> str | None:
    """The version of a Python too old for the probe (Python 2 knows no -I), else None."""
    try:
        proc = subprocess.run([str(executable), "-E", "-S", "-c", _VERSION_SCRIPT],
                              capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = proc.stdout.strip()
    if proc.returncode != 0 or not re.fullmatch(r"\d+\.\d+\.\d+", version) or is_supported(version):
        return None
    return version


def probe(executable: Path, env: dict[str, str] | None = None, timeout: float = 60) -> Probe:
    """Run `executable` with the probe script; InterpreterError if it is not a Python."""
    if not executable.is_file() or not os.access(executable, os.X_OK):
        raise InterpreterError(f"{executable} is not an executable file")
    try:
        proc = subprocess.run(
            [str(executable), "-I", "-S", "-c", _PROBE_SCRIPT],
            capture_output=True, text=True, timeout=timeout, env=env or clean_env(),
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InterpreterError(f"{executable} is not a Python interpreter ({e})") from None
    if proc.returncode != 0:
        old = _old_python_version(executable, env or clean_env(), timeout)
        if old is not None:
            raise UnsupportedInterpreter(executable, old)
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise InterpreterError(f"{executable} is not a working Python interpreter: {last}")
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise InterpreterError(f"{executable} is not a Python interpreter (unexpected output)") from None
    return Probe(data)
