"""Bytecode compiled once per (set of .py files, interpreter) and shared as blobs: hash-based
.pyc (unchecked, since prefixes are immutable) so blob mtimes do not matter (3.6: see
envstore.interpreters.pycs), with relative co_filename (the import system fixes it up to the real path at
load), so one compile serves every prefix that uses the same wheel with the same interpreter.
A wheel's own pycs give way to these (shipped_pyc_replaced)."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from envstore import settings
from envstore._core import Store, remove_tree
from envstore.errors import EnvstoreError
from envstore.progress import Phase, silent
from envstore.store import manifest, manifest_usable
from envstore.store.db import StoreDB

# Runs inside the TARGET interpreter (3.6+), after interpreters.pycs' PYC_FUNCTIONS: file list
# on stdin, pycs written under out_root.
COMPILE_BODY = r"""
src_root, out_root = sys.argv[1], sys.argv[2]
for rel in sys.stdin.read().splitlines():
    try:
        compile_to(os.path.join(src_root, rel), os.path.join(out_root, cache_from_source(rel)), rel, -1)
    except Exception:
        pass  # Python-2-only files, templates: importing them fails with or without a pyc
"""


def compile_script() -> str:
    # lazy: envstore.interpreters loads interpreter discovery, which a cached compile never needs
    from envstore.interpreters.pycs import PYC_FUNCTIONS

    return PYC_FUNCTIONS + COMPILE_BODY


# Files per compiler run: small enough that the largest wheel spreads over every core, large
# enough that interpreter start-up stays a small part of the work.
CHUNK = 400


class BytecodeError(EnvstoreError):
    code = "bytecode"


def cache_tag(py_version: str) -> str:
    """sys.implementation.cache_tag of the CPython X.Y that bytecode is compiled for."""
    return "cpython-" + py_version.replace(".", "")


def shipped_pyc_replaced(path: str, entries: dict[str, dict], py_version: str, read: Callable[[], bytes]) -> bool:
    """Whether a wheel's own `<dir>/__pycache__/<name>.<tag>[.opt-N].pyc` is left out of its
    placement (`read` gives the file's bytes, called only when its header decides). Only one whose source `<dir>/<name>.py`
    ships too: a timestamp pyc can never be valid in the store (blob mtimes mean nothing, and
    a pre-3.7 header has only the timestamp), and the store's own pyc takes the level-0 path of
    this Python. A hash-based pyc elsewhere (an optimisation level, another Python) is kept:
    it carries its source's hash, so the import system checks it or the wheel vouches for it."""
    folder, _, name = path.rpartition("/")
    base, _, cache_dir = folder.rpartition("/")
    if cache_dir != "__pycache__" or not name.endswith(".pyc"):
        return False
    stem, _, rest = name[: -len(".pyc")].partition(".")
    source = f"{base}/{stem}.py" if base else f"{stem}.py"
    if source not in entries:
        return False  # a sourceless module: the pyc is all there is
    if rest == cache_tag(py_version):
        return True
    data = read()
    flags = int.from_bytes(data[4:8], "little") if len(data) >= 8 else 0
    return flags not in (1, 3)  # not hash-based (PEP 552): a timestamp or an unknown header


def python_sources(entries: dict[str, dict], under: str) -> dict[str, dict]:
    return {
        p: e for p, e in entries.items() if e["type"] == "file" and p.endswith(".py") and p.startswith(under + "/")
    }


def put_sources(store: Store, entries: dict[str, dict], site_packages: str) -> str | None:
    """The manifest of a placed wheel's .py files below site-packages: the compile's input and,
    with the interpreter, its cache key (exactly what the compiled bytes depend on)."""
    sources = python_sources(entries, site_packages)
    if not sources:
        return None
    return manifest.put(store, sources)


def compile_all(
    store: Store, db: StoreDB, sources: list[str | None], python: Path | Callable[[], Path], interpreter_id: str,
    tmp: Path, progress: Phase | None = None,
) -> list[str | None]:
    """For each sources manifest, the id of its manifest of __pycache__ files (None where there
    is nothing to compile). Cached results are reused; the rest compile together, in chunks
    spread over one target-interpreter process per core, so a cold realize does not wait for
    one wheel after another. `python` may be a callable that makes the interpreter: a conda
    prefix's python exists only once its packages are materialized, which a warm cache skips."""
    found: dict[str, str | None] = {}
    todo: dict[str, list[str]] = {}
    for src in sources:
        if src is None or src in found or src in todo:
            continue
        cached = db.bytecode(src, interpreter_id)
        if cached is not None and manifest_usable(store, cached):
            found[src] = cached
        else:
            todo[src] = sorted(manifest.entries(store, src))
    if todo:
        files = sum(len(names) for names in todo.values())
        row = (progress or silent()).row("compiling bytecode", total=files, noun="file", report="{} compiled")
        compiled = _compile(store, todo, python() if callable(python) else python, tmp, row.advance)
        for src, manifest_id in compiled.items():
            if manifest_id is not None:
                db.register_bytecode(src, interpreter_id, manifest_id)
        found.update(compiled)
    return [found.get(src) if src is not None else None for src in sources]


def _compile(store: Store, todo: dict[str, list[str]], python: Path, tmp: Path,
             advance: Callable[[int], None]) -> dict[str, str | None]:
    settings.test_hook("bytecode.compile")  # a crash point, and what shows a realize compiled nothing
    works = {src: tmp / f"bytecode-{src[:16]}" for src in todo}
    try:
        for src, work in works.items():
            if work.exists():
                remove_tree(work)
            work.mkdir(parents=True)
            store.materialize([("sources", src)], work / "src")
            (work / "out").mkdir()
        jobs = [(works[src], files[i:i + CHUNK]) for src, files in todo.items() for i in range(0, len(files), CHUNK)]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            for _ in pool.map(lambda job: (_run_compiler(python, *job), advance(len(job[1]))), jobs):
                pass  # re-raises the first failure
        return {
            src: store.ingest_dir(work / "out").manifest_id if any((work / "out").iterdir()) else None
            for src, work in works.items()
        }
    finally:
        for work in works.values():
            shutil.rmtree(work, ignore_errors=True)


def _run_compiler(python: Path, work: Path, files: list[str]) -> None:
    proc = subprocess.run(
        [str(python), "-E", "-s", "-c", compile_script(), str(work / "src"), str(work / "out")],
        input="\n".join(files),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BytecodeError(f"compiling bytecode with {python} failed: {proc.stderr.strip()[-500:]}")
