"""Bytecode for the staged stdlib, made by the target interpreter: deterministic, hash-based
.pyc files (DESIGN.md, bytecode) — blob mtimes mean nothing, so timestamp pycs must not be
stored (3.6, which predates hash-based pycs, gets the one timestamp form that is valid for
every store file: see envstore.interpreters.pycs). UNCHECKED_HASH because store files never change:
imports trust them without rehashing the source, so starting from the store is as warm as
from the original.

Recompiling a stdlib costs ~10 s per optimisation level on this class of machine, so a
.pyc that the original shipped and that is still valid for its source (the check the import
system makes: mtime and size, or the source hash) is converted instead: its code is loaded,
co_filename made prefix-relative, and it is written back with the store's header. Everything
else is compiled. co_filename is relative to the prefix either way, so the bytes never depend on
where the installation or the staging directory were; the import system sets the real path."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from envstore.interpreters.model import InterpreterError
from envstore.interpreters.probe import clean_env
from envstore.interpreters.pycs import PYC_FUNCTIONS

# Runs in the target (CPython 3.6+), stdlib only, after PYC_FUNCTIONS. argv: staged stdlib,
# original stdlib, ddir (co_filename base), workers, levels.
_SCRIPT = PYC_FUNCTIONS + r"""
root, orig, ddir, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
levels = [int(x) for x in sys.argv[5].split(",")]

def convert(src, rel, level):
    opt = "" if level == 0 else level
    old = cache_from_source(os.path.join(orig, rel), optimization=opt)
    try:
        with open(old, "rb") as f:
            data = f.read()
    except OSError:
        return False
    with open(src, "rb") as f:
        source = f.read()
    if not valid(data, source, os.stat(src)):
        return False
    try:
        code = marshal.loads(data[HEADER:])
    except Exception:
        return False
    out = header(source) + marshal.dumps(refile(code, ddir + "/" + rel))
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
compiled = 0
for level, items in todo.items():
    for src, rel in items:
        try:
            compile_to(src, cache_from_source(src, optimization="" if level == 0 else level), ddir + "/" + rel, level)
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
