"""Bytecode for the staged stdlib, made by the target interpreter: deterministic, hash-based
.pyc files (DESIGN.md, bytecode) — blob mtimes mean nothing, so timestamp pycs must not be
stored. UNCHECKED_HASH because store files never change: imports trust them without rehashing
the source, so starting from the store is as warm as from the original.

Recompiling a stdlib costs ~10 s per optimisation level on this class of machine, so a
.pyc that the original shipped and that is still valid for its source (the check the import
system makes: mtime and size, or the source hash) is converted instead: its code is loaded,
co_filename made prefix-relative, and it is written back with a hash header. Everything else
is compiled. co_filename is relative to the prefix either way, so the bytes never depend on
where the installation or the staging directory were; the import system sets the real path."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from envstore.interpreters.model import InterpreterError
from envstore.interpreters.probe import clean_env

# Runs in the target (CPython 3.8+), stdlib only. argv: staged stdlib, original stdlib,
# ddir (co_filename base), workers, levels.
_SCRIPT = r"""
import importlib.util, marshal, os, sys, types, compileall, py_compile
from importlib.util import MAGIC_NUMBER, cache_from_source, source_hash
root, orig, ddir, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
levels = [int(x) for x in sys.argv[5].split(",")]
HASH_UNCHECKED = (1).to_bytes(4, "little")

def refile(code, name):
    consts = tuple(refile(c, name) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=name, co_consts=consts)

def convert(src, rel, level):
    opt = "" if level == 0 else level
    old = cache_from_source(os.path.join(orig, rel), optimization=opt)
    try:
        with open(old, "rb") as f:
            data = f.read()
    except OSError:
        return False
    st = os.stat(src)
    if len(data) < 16 or data[:4] != MAGIC_NUMBER:
        return False
    with open(src, "rb") as f:
        source = f.read()
    flags = int.from_bytes(data[4:8], "little")
    if flags == 0:  # timestamp-based: valid if mtime and size match, as the import system checks
        if (int.from_bytes(data[8:12], "little") != int(st.st_mtime) & 0xFFFFFFFF
                or int.from_bytes(data[12:16], "little") != st.st_size & 0xFFFFFFFF):
            return False
    elif flags not in (1, 3) or data[8:16] != source_hash(source):  # hash-based: check it
        return False
    try:
        code = marshal.loads(data[16:])
    except Exception:
        return False
    out = MAGIC_NUMBER + HASH_UNCHECKED + source_hash(source) + marshal.dumps(refile(code, ddir + "/" + rel))
    dest = cache_from_source(src, optimization=opt)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "wb") as f:
        f.write(out)
    return True

todo = {level: [] for level in levels}
for dirpath, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "__pycache__"))
    for name in sorted(files):
        if not name.endswith(".py"):
            continue
        src = os.path.join(dirpath, name)
        rel = os.path.relpath(src, root)
        for level in levels:
            if not convert(src, rel, level):
                todo[level].append((src, rel))
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
compiled = 0
for level, items in todo.items():
    for src, rel in items:
        try:
            py_compile.compile(src, cfile=cache_from_source(src, optimization="" if level == 0 else level),
                               dfile=ddir + "/" + rel, doraise=True, optimize=level, invalidation_mode=mode)
            compiled += 1
        except Exception:
            pass  # test data with deliberate syntax errors: no bytecode, as upstream
sys.stdout.write(str(compiled))
"""


def compile_stdlib(
    executable: Path, stdlib: Path, original_stdlib: Path, ddir: str, levels: Sequence[int]
) -> int:
    """Write __pycache__ next to every compilable .py under `stdlib` (site-packages aside);
    returns how many files had to be compiled rather than converted."""
    cmd = [str(executable), "-I", "-S", "-W", "ignore", "-c", _SCRIPT,
           str(stdlib), str(original_stdlib), ddir, "0", ",".join(str(x) for x in levels)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env())
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-3:])
        raise InterpreterError(f"compiling the stdlib with {executable} failed: {tail}")
    return int(proc.stdout.strip() or 0)
