"""Bytecode compiled once per (set of .py files, interpreter) and shared as blobs: hash-based
.pyc (unchecked, since prefixes are immutable) so blob mtimes do not matter, with relative
co_filename (the import system fixes it up to the real path at load), so one compile serves
every prefix that uses the same wheel with the same interpreter."""

from __future__ import annotations

import json
import shutil
import subprocess
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


def compile_bytecode(
    store: Store, db: StoreDB, source_manifest: str | None, python: Path, interpreter_id: str, tmp: Path
) -> str | None:
    """Return the id of a manifest of __pycache__ files for the sources in `source_manifest`."""
    if source_manifest is None:
        return None
    cached = db.bytecode(source_manifest, interpreter_id)
    if cached is not None and manifest_usable(store, cached):
        return cached
    sources = json.loads(store.manifest_json(source_manifest))["entries"]
    work = tmp / f"bytecode-{source_manifest[:16]}"
    if work.exists():
        remove_tree(work)
    work.mkdir(parents=True)
    try:
        store.materialize([("sources", source_manifest)], work / "src")
        out = work / "out"
        out.mkdir()
        proc = subprocess.run(
            [str(python), "-E", "-s", "-c", COMPILE_SCRIPT, str(work / "src"), str(out)],
            input="\n".join(sorted(sources)),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise BytecodeError(f"compiling bytecode with {python} failed: {proc.stderr.strip()[-500:]}")
        if not any(out.iterdir()):
            return None
        manifest_id = store.ingest_dir(out).manifest_id
    finally:
        shutil.rmtree(work, ignore_errors=True)
    db.register_bytecode(source_manifest, interpreter_id, manifest_id)
    return manifest_id
