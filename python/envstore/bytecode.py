"""Bytecode compiled once per (set of .py files, interpreter) and shared as blobs: hash-based
.pyc (unchecked, since prefixes are immutable) so blob mtimes do not matter, with relative
co_filename (the import system fixes it up to the real path at load), so one compile serves
every prefix that uses the same wheel with the same interpreter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envstore._core import Store, remove_tree
from envstore.db import StoreDB
from envstore.errors import EnvstoreError
from envstore.store import manifest_usable

# Runs inside the TARGET interpreter (3.8+): file list on stdin, pycs written under out_root.
COMPILE_SCRIPT = r"""
import importlib.util, os, py_compile, sys
src_root, out_root = sys.argv[1], sys.argv[2]
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
for rel in sys.stdin.read().splitlines():
    cfile = os.path.join(out_root, importlib.util.cache_from_source(rel))
    try:
        py_compile.compile(os.path.join(src_root, rel), cfile=cfile, dfile=rel,
                           doraise=True, invalidation_mode=mode)
    except Exception:
        pass  # Python-2-only files, templates: importing them fails with or without a pyc
"""


# Files per compiler run: small enough that the largest wheel spreads over every core, large
# enough that interpreter start-up stays a small part of the work.
CHUNK = 400


class BytecodeError(EnvstoreError):
    code = "bytecode"


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
    return store.put_manifest(json.dumps({"version": 1, "entries": sources}))


def compile_all(
    store: Store, db: StoreDB, sources: list[str | None], python: Path, interpreter_id: str, tmp: Path
) -> list[str | None]:
    """For each sources manifest, the id of its manifest of __pycache__ files (None where there
    is nothing to compile). Cached results are reused; the rest compile together, in chunks
    spread over one target-interpreter process per core, so a cold realize does not wait for
    one wheel after another."""
    found: dict[str, str | None] = {}
    todo: dict[str, list[str]] = {}
    for src in sources:
        if src is None or src in found or src in todo:
            continue
        cached = db.bytecode(src, interpreter_id)
        if cached is not None and manifest_usable(store, cached):
            found[src] = cached
        else:
            todo[src] = sorted(json.loads(store.manifest_json(src))["entries"])
    if todo:
        compiled = _compile(store, todo, python, tmp)
        for src, manifest_id in compiled.items():
            if manifest_id is not None:
                db.register_bytecode(src, interpreter_id, manifest_id)
        found.update(compiled)
    return [found.get(src) if src is not None else None for src in sources]


def _compile(store: Store, todo: dict[str, list[str]], python: Path, tmp: Path) -> dict[str, str | None]:
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
            for _ in pool.map(lambda job: _run_compiler(python, *job), jobs):
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
        [str(python), "-E", "-s", "-c", COMPILE_SCRIPT, str(work / "src"), str(work / "out")],
        input="\n".join(files),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BytecodeError(f"compiling bytecode with {python} failed: {proc.stderr.strip()[-500:]}")
