"""Find CPython installations on this machine: pyenv's versions, uv's managed interpreters,
pythonX.Y on PATH, /usr/bin and /usr/local/bin. Discovery only reads; it never imports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from envstore import settings

_VERSIONED = re.compile(r"^python(\d+)\.(\d+)$")
_PYENV_VERSION_DIR = re.compile(r"^(\d+)\.(\d+)\.(\d+)[a-z0-9]*$")  # CPython builds only


@dataclass(frozen=True)
class Candidate:
    """An interpreter seen on the machine: `executable` as found, `source` says where."""

    executable: Path
    source: str  # "pyenv" | "uv" | "path" | "system"
    version_hint: str | None = None  # from a directory name; the probe has the final word


def pyenv_root() -> Path | None:
    """PYENV_ROOT, else `pyenv root`, else ~/.pyenv (if it exists)."""
    explicit = settings.PYENV_ROOT.get()
    if explicit:
        return Path(explicit).expanduser()
    if shutil.which("pyenv"):
        try:
            out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                return Path(out.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    home = Path.home() / ".pyenv"
    return home if home.is_dir() else None


def _versioned_python(bindir: Path) -> Path | None:
    """bin/pythonX.Y (the real file, not the python3 alias) inside an installation."""
    if not bindir.is_dir():
        return None
    found = sorted(
        (p for p in bindir.iterdir() if _VERSIONED.match(p.name) and p.is_file()),
        key=lambda p: tuple(int(x) for x in _VERSIONED.match(p.name).groups()),  # type: ignore[union-attr]
    )
    return found[-1] if found else None


def pyenv_candidates() -> list[Candidate]:
    root = pyenv_root()
    versions = root / "versions" if root else None
    if not versions or not versions.is_dir():
        return []
    out = []
    dirs = [d for d in versions.iterdir() if _PYENV_VERSION_DIR.match(d.name)]
    for d in sorted(dirs, key=lambda d: tuple(int(x) for x in _PYENV_VERSION_DIR.match(d.name).groups())):  # type: ignore[union-attr]
        if not _PYENV_VERSION_DIR.match(d.name):
            continue  # pypy-*, miniconda*, virtualenvs: not CPython prefixes
        exe = _versioned_python(d / "bin")
        if exe and not (d / "pyvenv.cfg").exists():
            out.append(Candidate(exe, "pyenv", d.name))
    return out


def python_version_pins(start: Path | None = None) -> list[str]:
    """The versions named by the nearest `.python-version` (pyenv's convention: one name per
    line or whitespace-separated, `#` comments), from `start` (the cwd) upwards."""
    d = (start or Path.cwd()).absolute()
    for folder in [d, *d.parents]:
        f = folder / ".python-version"
        if f.is_file():
            try:
                text = f.read_text(errors="replace")
            except OSError:
                return []
            return [w for line in text.splitlines() for w in line.split("#", 1)[0].split()]
    return []


def _pinned_first(found: list[Candidate], pins: list[str]) -> list[Candidate]:
    """pyenv candidates a `.python-version` names ("3.12" names the newest 3.12.x) go first."""
    pinned: list[Candidate] = []
    for pin in pins:
        matches = [c for c in found if c.version_hint == pin or (c.version_hint or "").startswith(pin + ".")]
        if matches and matches[-1] not in pinned:
            pinned.append(matches[-1])
    return [Candidate(c.executable, "pyenv:.python-version", c.version_hint) for c in pinned] + [
        c for c in found if c not in pinned
    ]


def uv_candidates() -> list[Candidate]:
    explicit = settings.UV_PYTHON_INSTALL_DIR.get()
    base = Path(explicit) if explicit else Path(
        settings.XDG_DATA_HOME.get() or Path.home() / ".local" / "share") / "uv" / "python"
    if not base.is_dir():
        return []
    out = []
    for d in sorted(base.iterdir()):
        if d.name.startswith("cpython-") and not d.is_symlink():
            exe = _versioned_python(d / "bin")
            if exe:
                out.append(Candidate(exe, "uv", d.name.split("-")[1]))
    return out


def path_candidates() -> list[Candidate]:
    """pythonX.Y on PATH (pyenv's shims skipped: they are scripts that pick a version)."""
    out = []
    seen_dirs: set[str] = set()
    raw = settings.PATH.get() or ""
    dirs = [d for d in raw.split(os.pathsep) if d] + ["/usr/local/bin", "/usr/bin"]
    for d in dirs:
        if d in seen_dirs or d.rstrip("/").endswith("shims"):
            continue
        seen_dirs.add(d)
        p = Path(d)
        if not p.is_dir() or _is_envstore_prefix(p.parent):
            continue  # an activated environment's bin/: its python is a store interpreter
        try:
            names = sorted(os.listdir(p))
        except OSError:
            continue
        for n in names:
            if _VERSIONED.match(n) and (p / n).is_file():
                source = "system" if d in ("/usr/bin", "/usr/local/bin") else "path"
                out.append(Candidate(p / n, source))
    return out


def _is_envstore_prefix(d: Path) -> bool:
    try:
        return "envstore = 1" in (d / "pyvenv.cfg").read_text(errors="replace").splitlines()
    except OSError:
        return False


def discover(start: Path | None = None) -> list[Candidate]:
    """Every candidate once (by real path): those a `.python-version` above `start` pins
    first, then pyenv and uv (whole prefixes), then PATH and the system's."""
    seen: set[Path] = set()
    out = []
    pyenv = _pinned_first(pyenv_candidates(), python_version_pins(start))
    for c in pyenv + uv_candidates() + path_candidates():
        try:
            real = c.executable.resolve()
        except OSError:
            continue
        if real in seen:
            continue
        seen.add(real)
        out.append(c)
    return out
