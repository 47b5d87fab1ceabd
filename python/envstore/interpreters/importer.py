"""Import an installation into the store: stage a copy, relocate it, compile its bytecode
with itself, ingest the copy as blobs + a manifest, materialize it under STORE/python/ via a
temp dir and an atomic rename, then record it. Never writes outside STORE/tmp and STORE/python,
and never changes the original installation."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from envstore._core import IngestResult, Store, hash_bytes, hash_file, remove_tree
from envstore.interpreters import registry
from envstore.interpreters.bytecode import compile_stdlib
from envstore.interpreters.discover import _versioned_python
from envstore.interpreters.model import (  # noqa: F401 - MIN_VERSION is re-exported
    MIN_VERSION,
    InterpreterError,
    InterpreterInfo,
    UnsupportedInterpreter,
    is_supported,
)
from envstore.interpreters.probe import Probe, clean_env, probe
from envstore.interpreters.relocate import RelocationReport, relocate
from envstore.interpreters.stage import SHARED_PREFIXES, stage
from envstore.interpreters.tags import abi_tag, compatible_tags
from envstore.progress import open_phase, plural
from envstore.store.fs import publish_tree, retire_tree, staging_dir
from envstore.store.session import StoreSession

Progress = Callable[[str], None]
# A binary cache's lookup (issue 18), handed in by ops/ (this layer knows no cache): given what is
# known before compiling — ("source", the staged tree's identity) or ("archive", its sha256) — the
# interpreter fetched from a cache, or None.
Substitute = Callable[[str, str], InterpreterInfo | None]


@dataclass
class ImportResult:
    info: InterpreterInfo
    reused: bool  # the origin was imported before and has not changed: nothing was done
    ingest: IngestResult | None = None
    relocation: RelocationReport | None = None
    timings: dict[str, float] = field(default_factory=dict)
    substituted: bool = False  # taken from a binary cache: nothing compiled here


def tree_identity(tree: Path, p: Probe) -> str:
    """What a staged, relocated installation is before its bytecode is compiled: every path,
    its kind, executable bit and content (or link target). Two machines staging the same
    installation agree on it, so a cache can serve the compiled result under this name."""
    lines = [f"envstore-python-source-v1\0{p.implementation}\0{p.version}"]
    for dirpath, dirs, files in os.walk(tree):
        dirs.sort()
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, tree)
            if os.path.islink(full):
                lines.append(f"l\0{rel}\0{os.readlink(full)}")
            else:
                lines.append(f"f\0{rel}\0{os.stat(full).st_mode & 0o111 != 0}\0{hash_file(full)}")
    return hash_bytes("\n".join(lines).encode())


def locate_executable(path: Path) -> Path:
    """An installation directory or an interpreter executable -> the executable."""
    if not path.exists():
        raise InterpreterError(f"{path}: no such file or directory")
    if path.is_dir():
        exe = _versioned_python(path / "bin") or (path / "bin" / "python3")
        if not exe.is_file():
            raise InterpreterError(
                f"{path} is not a Python installation (no bin/pythonX.Y in it)",
                hint="give the interpreter's executable or its installation prefix",
            )
        return exe
    return path


def probe_installation(exe: Path) -> Probe:
    """Probe, retrying with the installation's lib/ on the loader path: a copy of a build
    whose RUNPATH names a deleted original cannot find libpython otherwise."""
    try:
        return probe(exe)
    except InterpreterError:
        lib = exe.absolute().parent.parent / "lib"
        if not lib.is_dir():
            raise
        old = os.environ.get("LD_LIBRARY_PATH")
        return probe(exe, env=clean_env({"LD_LIBRARY_PATH": f"{lib}:{old}" if old else str(lib)}))


def origin_stamp(prefix: Path, stdlib: Path, exe: Path) -> str:
    """A cheap fingerprint of what an import would read (names, sizes, mtimes, modes), to
    skip a repeat import of an unchanged installation."""
    h = hashlib.sha256()
    shared = str(prefix) in SHARED_PREFIXES
    roots = [stdlib, exe] if shared else [prefix]
    for root in roots:
        if root.is_file():
            st = root.stat()
            h.update(f"{root}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode}\n".encode())
            continue
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "site-packages", "dist-packages"))
            for name in sorted(files):
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                h.update(f"{dirpath}/{name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode}\n".encode())
    return h.hexdigest()


def _store_path_name(manifest_id: str, p: Probe) -> str:
    digest = hash_bytes(f"envstore-python-v1\0{manifest_id}".encode())[:32]
    return f"{digest}-{p.implementation}-{p.version}"


def _opt_levels(stdlib: Path, minor: str) -> list[int]:
    """Compile the optimisation levels the original shipped bytecode for (0 at least)."""
    cache = stdlib / "__pycache__"
    tag = f"cpython-{minor.replace('.', '')}"
    levels = [0]
    for level in (1, 2):
        if (cache / f"os.{tag}.opt-{level}.pyc").exists():
            levels.append(level)
    return levels


def _find_reusable(root: Path, origin: str, stamp: str) -> InterpreterInfo | None:
    for record in registry.read_records(root):
        for o in record.get("origin_stamps", []):
            if o.get("path") == origin and o.get("stamp") == stamp:
                info = registry.info_from_record(root, record)
                if info.executable.is_file():
                    return info
    return None


def _merge_origins(root: Path, name: str, origin: str, stamp: str) -> list[dict[str, str]]:
    stamps: list[dict[str, str]] = []
    for record in registry.read_records(root):
        if record["store_path"] == name:
            stamps = [o for o in record.get("origin_stamps", []) if o.get("path") != origin]
    return stamps + [{"path": origin, "stamp": stamp}]


def _publish(store: Store, manifest_id: str, dest: Path, work: Path) -> None:
    """Materialize into STORE/tmp and publish it. Losing a race to an identical import is
    fine: the content is the same by construction."""
    if dest.exists():
        return
    out = work / "out"
    store.materialize([("python", manifest_id)], out)
    publish_tree(out, dest)


@dataclass(frozen=True)
class _Origin:
    """An installation as probed where it lies, before anything is copied."""
    probe: Probe
    prefix: Path
    stdlib: Path
    stdlib_rel: str
    stamp: str

    @property
    def minor(self) -> str:
        return self.probe.minor


def _inspect(path: Path, say: Progress) -> _Origin:
    exe = locate_executable(Path(path).absolute())
    p = probe_installation(exe)
    if p.implementation != "cpython":
        raise InterpreterError(f"{exe} is {p.implementation}; only CPython can be imported so far")
    if not is_supported(p.version):
        raise UnsupportedInterpreter(exe, p.version)
    prefix = Path(p["base_prefix"])
    stdlib = Path(p["stdlib"])
    if p["base_prefix"] != p["prefix"]:
        say(f"{exe} belongs to a virtual environment; importing its base interpreter at {prefix}")
    if not (prefix / "bin" / f"python{p.minor}").exists():
        raise InterpreterError(f"{prefix} has no bin/python{p.minor}; not a standard CPython installation")
    try:
        stdlib_rel = str(stdlib.relative_to(prefix))
    except ValueError:
        raise InterpreterError(f"the stdlib of {exe} ({stdlib}) is outside its prefix {prefix}") from None
    stamp = origin_stamp(prefix, stdlib, prefix / "bin" / f"python{p.minor}")
    return _Origin(p, prefix, stdlib, stdlib_rel, stamp)


class _Steps:
    """Each import step: a live row on a terminal, and its duration in `timings`."""

    def __init__(self, progress: Progress | None, timings: dict[str, float]) -> None:
        self.rows = open_phase(progress)  # each step takes seconds: show which one is running
        self.timings = timings

    @contextmanager
    def step(self, key: str, label: str, **row_args: Any) -> Iterator[Any]:
        t = time.perf_counter()
        row = self.rows.row(label, **row_args)
        yield row
        row.finish()
        self.timings[key] = time.perf_counter() - t


def _old_prefixes(origin: _Origin) -> list[str]:
    """The paths the installation may have compiled into itself, each to be rewritten; a shared
    system prefix such as /usr is never rewritten (it names other software too)."""
    if str(origin.prefix) in SHARED_PREFIXES:
        return []
    p = origin.probe
    cands = (str(origin.prefix), os.path.realpath(origin.prefix), p["build_prefix"], p["build_exec_prefix"])
    return sorted({c for c in cands if c and c not in SHARED_PREFIXES})


def _verified_info(dest: Path, origin: _Origin, manifest_id: str, existed: bool,
                   origin_label: str | None, root: Path) -> InterpreterInfo:
    """Describe the interpreter as it runs from the store: this also proves it runs there."""
    minor = origin.minor
    try:
        final = probe(dest / "bin" / f"python{minor}")
    except InterpreterError as e:
        if not existed:
            retire_tree(dest, root)  # never leave an unrecorded, broken store path behind
        raise InterpreterError(f"{origin.prefix} does not run once relocated into the store: {e}",
                               hint="report it with `store -v python import`") from None
    return InterpreterInfo(
        implementation=final.implementation, version=final.version,
        executable=dest / "bin" / f"python{minor}", store_path=dest, manifest_id=manifest_id,
        marker_env=final.marker_env, tags=compatible_tags(final), architecture=final["machine"],
        abi=abi_tag(final), platform=final["platform"], origins=(origin_label or str(origin.prefix),),
    )


def _record(root: Path, info: InterpreterInfo, origin: _Origin, name: str,
            origin_label: str | None, identities: dict[str, str] | None = None) -> InterpreterInfo:
    # An archive's tree is gone after install: record the archive, with no usable stamp.
    where, stamp = (origin_label, "") if origin_label else (str(origin.prefix), origin.stamp)
    stamps = _merge_origins(root, name, where, stamp)
    registry.write_record(root, info, {"origin_stamps": stamps, "stdlib": origin.stdlib_rel, **(identities or {})})
    return registry.info_from_record(root, {**info.to_json(), "store_path": name,
                                            "executable": f"bin/python{origin.minor}",
                                            "origin_stamps": stamps})


def import_interpreter(
    store: Store, path: Path, *, reuse: bool = True, progress: Progress | None = None,
    origin_label: str | None = None, substitute: Substitute | None = None,
    identities: dict[str, str] | None = None,
) -> ImportResult:
    """Import the installation at `path` (a prefix or its python executable). With `reuse`,
    an origin imported before and unchanged since is not staged again. `origin_label` names
    where a temporary tree came from (an archive) and turns the fast path off for it.
    `substitute` is asked, once the tree is staged, for a compiled interpreter of that very
    tree; `identities` are recorded with the interpreter so a push can name it by them."""
    say = progress or (lambda _m: None)
    root = Path(store.root)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    origin = _inspect(path, say)
    timings["probe"] = time.perf_counter() - t0
    if reuse and origin_label is None:
        found = _find_reusable(root, str(origin.prefix), origin.stamp)
        if found is not None:
            return ImportResult(found, True, timings=timings)

    # Shared store lock: gc (exclusive) must not empty tmp/ or sweep the new blobs before
    # the record that keeps them is written.
    with StoreSession(root, "shared", store=store, on_wait=lambda: say("waiting for the store lock")):
        work = staging_dir(root, "python")
        steps = _Steps(progress, timings)
        try:
            tree = work / "tree"
            say(f"staging {origin.prefix}")
            with steps.step("stage", "staging the installation"):
                stage(origin.prefix, tree, origin.minor)
            with steps.step("relocate", "relocating it into the store"):
                report = relocate(tree, _old_prefixes(origin))
            ids = {**(identities or {}), "source_id": tree_identity(tree, origin.probe)}
            found = substitute("source", ids["source_id"]) if substitute is not None else None
            if found is not None:
                info = _record(root, found, origin, found.name, origin_label, ids)
                timings["total"] = time.perf_counter() - t0
                return ImportResult(info, False, None, report, timings, substituted=True)
            say(f"compiling bytecode with python {origin.probe.version}")
            with steps.step("compile", "compiling the standard library's bytecode"):
                compiled = compile_stdlib(tree / "bin" / f"python{origin.minor}", tree / origin.stdlib_rel,
                                          origin.stdlib, origin.stdlib_rel, _opt_levels(origin.stdlib, origin.minor))
            say(f"bytecode: {plural(compiled, 'file')} compiled, the rest converted from the original's")
            with steps.step("ingest", "ingesting its files as blobs", noun="file") as row:
                ingest = store.ingest_dir(tree)
                row.advance(ingest.files)
            name = _store_path_name(ingest.manifest_id, origin.probe)
            dest = registry.python_dir(root) / name
            existed = dest.exists()
            with steps.step("materialize", "materializing it under the store's python/"):
                _publish(store, ingest.manifest_id, dest, work)
            info = _verified_info(dest, origin, ingest.manifest_id, existed, origin_label, root)
            info = _record(root, info, origin, name, origin_label, ids)
            timings["total"] = time.perf_counter() - t0
            return ImportResult(info, False, ingest, report, timings)
        finally:
            steps.rows.close()
            remove_tree(work)  # in tmp/ already: nothing to retire it from


__all__ = ["ImportResult", "import_interpreter", "locate_executable"]
