"""Copy an installation into a staging directory, leaving out what is not the interpreter:
site-packages contents (the directory stays, empty), bytecode caches (regenerated later), and
console scripts in bin/ that belong to installed packages. Files are hardlinked from the
original where possible (fast; later steps replace a file before changing it), else copied."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

# What CPython's `make install` puts in bin/; anything else there (pip, third-party console
# scripts) runs code from site-packages, which is not part of the imported tree.
_OWN_SCRIPT = re.compile(r"^(python|pydoc|idle|2to3)")
# Prefixes shared with the rest of the system: only the interpreter's own parts are taken.
SHARED_PREFIXES = frozenset({"/", "/usr", "/usr/local", "/opt/local", "/opt/homebrew"})


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _ignore_for(prefix: Path, minor: str, shared: bool):  # type: ignore[no-untyped-def]
    bindir = prefix / "bin"
    own_lib = {f"python{minor}"}
    lib_prefixes = (f"libpython{minor}", "libpython3.so")

    def ignore(directory: str, names: list[str]) -> set[str]:
        d = Path(directory)
        skipped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))}
        if d.name in ("site-packages", "dist-packages") and d != prefix:
            return set(names)
        if d == bindir:
            own = {n for n in names if _OWN_SCRIPT.match(n)}
            if shared:  # /usr/bin: only this version's interpreter and its config script
                own = {n for n in names if n in (f"python{minor}", f"python{minor}-config")}
            skipped |= set(names) - own
        if shared:
            if d == prefix:
                skipped |= set(names) - {"bin", "lib", "include"}
            elif d == prefix / "lib":
                skipped |= {n for n in names if n not in own_lib and not n.startswith(lib_prefixes)}
            elif d == prefix / "include":
                skipped |= {n for n in names if not n.startswith(f"python{minor}")}
        return skipped

    return ignore


def stage(prefix: Path, dest: Path, minor: str) -> None:
    """Fill `dest` (must not exist) with the installation at `prefix`."""
    shared = str(prefix) in SHARED_PREFIXES
    shutil.copytree(
        prefix, dest, symlinks=True, ignore=_ignore_for(prefix, minor, shared),
        copy_function=_link_or_copy,
    )
    # The original may be read-only (another store path, an unpacked archive): bytecode and
    # rewritten files are created in these directories.
    for dirpath, _dirs, _files in os.walk(dest):
        mode = os.stat(dirpath).st_mode
        if not mode & 0o200:
            os.chmod(dirpath, mode | 0o700)
