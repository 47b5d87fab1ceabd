"""realize: lock (or reuse the lock), pick the interpreter, compute the store path, and make it
exist: fetch missing wheels, ingest, place, compile bytecode, materialize, publish, register,
out-link. Runs under the shared store lock (GC takes it exclusively) and a per-prefix lock, so
N concurrent realizes of one lock build it once and all succeed."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from envstore.store.db import StoreDB
from envstore.store import reserve
from envstore.errors import EnvstoreError, while_doing
from envstore.ops.fastpath import remember
from envstore.lockfile import Lock, LockedWheel, LockfileError, lock_path_for, read_lock
from envstore.resolve.stale import is_stale
from envstore.progress import phase, plural, size
from envstore.install.prefix import IngestedWheel, assemble, ensure_prefix, publish, store_path, store_path_digest
from envstore.project import add_out_link
from envstore.ops.shims import after_realize
from envstore.store import layout
from envstore.store.session import StoreSession
from envstore.install.wheel import ingest_wheel
from envstore.spec import load_spec
from envstore.resolve.fit import interpreter_for_lock
from envstore._core import remove_tree
from envstore import settings
from envstore.ops.realize_options import RealizeOptions

Info = Callable[[str], None]


class RealizeError(EnvstoreError):
    code = "realize"


def lock_identity(lock: Lock) -> list[list[str]]:
    """The part of a lock that decides a prefix's content: every package's wheel hash."""
    out = []
    for p in sorted(lock.packages, key=lambda p: p.name.lower()):
        wheel = p.wheel
        if wheel is None and p.from_source:
            # lazy: the build machinery loads only for a lock with packages built from source (issue 16)
            from envstore.ops.sources import source_identity

            out.append([p.name.lower(), p.version, source_identity(lock, p)])
            continue
        if wheel is None:
            raise LockfileError(f"{p.name} {p.version} has no single wheel to install", lock.path)
        out.append([p.name.lower(), p.version, wheel.sha256])
    return out


def env_name(env_file: Path, lock: Lock) -> str:
    if lock_path_for(env_file) == env_file:
        return env_file.parent.name or "env"

    return load_spec(env_file).name or env_file.stem


def obtain_lock(env_file: Path, store: Any, options: RealizeOptions, info: Info,
                refusal: Exception | None = None) -> Lock:
    """The current lock, else a fresh one; `refusal` is raised instead of resolving (a store
    that cannot be written must not be resolved into)."""
    lock_path = lock_path_for(env_file)
    lock = read_lock(lock_path) if lock_path.exists() else None
    current = lock is not None and not is_stale(lock, env_file)
    if current and (options.python is None or lock_is_for(lock, options.python)):
        return lock
    if refusal is not None:
        raise refusal
    if options.frozen:
        why = ("does not exist" if lock is None else "is stale (the env file changed)" if not current
               else f"is for python {lock.interpreter['version']}, not {options.python}" if lock.interpreter.get("version")
               else f"covers python {lock.requires_python}, not {options.python}")
        raise LockfileError(f"the lockfile {why} but --frozen was given", lock_path, "run `store lock` first")
    # lazy: the resolver and the index client load only when a lock must be made
    from envstore.resolve.lock import lock_env

    if current:
        # The committed lock is current for another interpreter: resolve for this one in memory
        # and keep the file as it is, so `--python` in a CI matrix never rewrites the lock.
        covers = (f"is for python {lock.interpreter['version']}" if lock.interpreter.get("version")
                  else f"covers python {lock.requires_python}")  # a universal lock
        info(f"{lock_path.name} {covers}: resolving for python {options.python} without writing it")
    with phase(info, f"locking {env_file.name}") as ph:
        declared = load_spec(env_file).universal
        if not current and (declared or (lock is not None and lock.is_universal)):
            # lazy: as lock_env above
            from envstore.resolve.universal import lock_universal

            # The env file declares its environments, or the lock it replaces was universal (a
            # committed `store lock`): the lock written is the universal one, and this realize
            # picks from it below like any other.
            lock = lock_universal(env_file, store, options.index, progress=info, sources=source_reader(store, info),
                                  everywhere=not declared)
        else:
            lock = lock_env(env_file, store, options.index, progress=info, python=options.python,
                            write=not current, sources=source_reader(store, info))
        ph.summary = f"locked {plural(len(lock.packages), 'package')}"
    return lock


def lock_is_for(lock: Lock, python: str) -> bool:
    """Whether the lock's interpreter is the `--python` version (X.Y means any X.Y.Z, as python= does)."""
    version = str(lock.interpreter.get("version", ""))
    if not version:  # a universal lock: any python its requires-python allows
        # lazy: packaging's specifiers load only for a `--python` realize
        from packaging.specifiers import SpecifierSet

        return not lock.requires_python or SpecifierSet(lock.requires_python).contains(f"{python}.0", prereleases=True)
    return version == python or version.startswith(python + ".")


def choose_interpreter(store: Any, lock: Lock, info: Info) -> tuple[Any, Lock]:
    """The interpreter and the lock narrowed to what it installs, every wheel checked against
    its tags: a lock from elsewhere must not build a broken env (issue 12 item 3)."""
    return interpreter_for_lock(store, lock, info)


def realize_wheels(env_file: Path, store: Any, options: RealizeOptions, info: Info,
                   read_only: Exception | None) -> Path:
    """The wheel route: `read_only` is why the store cannot be written, or None."""
    root = Path(store.root)
    lock = obtain_lock(env_file, store, options, info, refusal=read_only)
    wanted_interpreter = lock.interpreter.get("manifest-id")
    if options.substituters is not None and wanted_interpreter and read_only is None:
        # lazy: the cache's crypto and zstd load only when a substituter is configured
        from envstore.ops.substitute import substitute_interpreter

        substitute_interpreter(store, wanted_interpreter, options.substituters, info, options.offline)
    if options.python is not None and not lock.interpreter.get("version"):
        # A universal lock names no interpreter: `--python` is the one its wheels are picked for.
        lock = replace(lock, interpreter={"version": options.python})
    interpreter, lock = choose_interpreter(store, lock, info)
    name = env_name(env_file, lock)
    # computed once: a local project's part of it hashes the project's tree
    identity = lock_identity(lock)
    dest = store_path(root, name, store_path_digest({"packages": identity}, interpreter))
    if read_only is not None:
        return _already_realized(root, dest, read_only, info)
    with StoreSession(root, "shared", store=store, timeout=options.lock_timeout,
                      on_wait=lambda: info("waiting for the store lock (a gc is running) ...")) as session:
        db = session.db
        _hook("realize.before_link")

        def make() -> None:
            if options.substituters is not None:
                # lazy: the cache's crypto and zstd load only when a substituter is configured
                from envstore.ops.substitute import substitute_prefix

                substitute_prefix(store, db, dest, identity, interpreter, options.substituters,
                                  info, options.offline)
            _build(store, db, root, dest, name, lock, interpreter, info, options.offline, identity,
                   lambda: _build_index(env_file, options))

        ensure_prefix(db, root, dest, make)
        # A `--python` prefix gets its own out-link (a GC root beside the default one) and no
        # fast-path answer: the answer recorded is the one for `store realize` without flags.
        link_name = name if options.python is None else f"{name}-py{options.python}"
        link = add_out_link(db, env_file, link_name, dest, info) if options.out_link else None
    # A local project's files are not in the env file or the lock, so the fast path (which
    # checks only those two) must not answer for it: such a realize always takes this road.
    if link is not None and options.python is None and not lock.has_local_sources:
        remember(env_file, lock_path_for(env_file), dest, link)
    after_realize(root, env_file, link)  # shims: the project's active env, console-script names
    reserve.ensure(root)
    return dest


def _already_realized(root: Path, dest: Path, read_only: Exception, info: Info) -> Path:
    """A store this process cannot write still serves what it holds (`store run` works), with
    no out-link or GC root recorded; anything that would need building is refused."""
    db = StoreDB(root)
    try:
        if db.prefix(dest) is not None and dest.is_dir():
            info(f"{read_only}: using {dest.name} as it is (no out-link or GC root recorded)")
            return dest
    finally:
        db.close()
    raise read_only


def _build(store, db: StoreDB, root: Path, dest: Path, name: str, lock: Lock, interpreter, info: Info,
           offline: bool, identity: list[list[str]], build_index: Callable[[], Any] | None = None) -> None:
    tmp = layout.tmp_dir(root) / f"realize-{os.getpid()}-{dest.name[:12]}"
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        wheels = _ensure_artifacts(store, db, lock, tmp, info, offline, build_index)
        try:
            with phase(info, f"building {dest.name} ({plural(len(wheels), 'package')})") as ph:
                manifests = assemble(store, db, dest, wheels, interpreter, tmp, progress=ph)
                _hook("prefix.before_rename")
                publish(store, manifests, dest, tmp, progress=ph)
                ph.summary = f"built {dest.name}"
        except OSError as e:
            raise while_doing(e, f"building {dest.name}") from None
        _hook("prefix.after_rename")
        lock_hash = hashlib.sha256(json.dumps(identity).encode()).hexdigest()
        db.register_prefix(dest, name, manifests, str(interpreter.store_path),
                           [w.manifest_id for w in wheels], lock_hash)
    finally:
        remove_tree(tmp)


def _ensure_artifacts(store, db: StoreDB, lock: Lock, tmp: Path, info: Info, offline: bool,
                      build_index: Callable[[], Any] | None = None) -> list[IngestedWheel]:
    """Every package's wheel in the store: found, fetched, or built from source (its build
    environment resolved against `build_index()`, the realize's index configuration)."""
    known = set(store.manifest_ids())
    have: dict[str, str] = {}
    missing: list[tuple[str, str, LockedWheel]] = []
    built: dict[str, IngestedWheel] = {}
    for p in lock.packages:
        if p.wheel is None and p.from_source:
            # lazy: the build machinery loads only for a lock with source distributions (issue 16)
            from envstore.ops.sources import built_wheel

            built[p.name] = built_wheel(store, db, lock, p, tmp, info, offline, build_env_prefix, build_index)
            continue
        w = p.wheel
        row = db.artifact(w.sha256)
        if row is not None and row.manifest_id in known and blobs_look_intact(store, row.manifest_id):
            have[w.sha256] = row.manifest_id
            continue
        url = w.url or (Path(lock.path.parent if lock.path else ".", w.path).absolute().as_uri() if w.path else None)
        if url is None:
            raise LockfileError(f"{p.name} {p.version} has neither a url nor a path for its wheel", lock.path)
        missing.append((f"{p.name} {p.version}", url, w))
    remote = [label for label, url, _w in missing if not url.startswith("file:")]
    if offline and remote:
        raise RealizeError(
            f"--offline, but {plural(len(remote), 'wheel')} of the lock "
            f"{'are' if len(remote) > 1 else 'is'} not in the store: {', '.join(remote)}",
            hint="run once without --offline to fetch them (local file:// and --find-links wheels work offline)")
    if missing:
        _fetch_and_ingest(store, db, missing, have, tmp, info)
    db.touch_artifacts(list(have))
    return [
        built[p.name] if p.name in built else IngestedWheel(p.name, p.wheel.filename, have[p.wheel.sha256], p.version)
        for p in sorted(lock.packages, key=lambda p: p.name.lower())
    ]


def _build_index(env_file: Path, options: RealizeOptions) -> Any:
    """The index configuration a build environment is resolved against: the realize's flags,
    the environment, the env file's `envstore:` settings and pip's, as for its lock."""
    settings = load_spec(env_file).index if lock_path_for(env_file) != env_file else None
    # lazy: the index configuration only when something is built
    from envstore.index.config import IndexOptions

    return (options.index or IndexOptions()).resolve(settings)


def source_reader(store: Any, info: Info) -> Any:
    """The resolver's reader of metadata that needs a source (ops.sources), so a lock can pin
    sdists, local projects and git URLs."""
    # lazy: the build machinery loads only when a lock must be made
    from envstore.ops.sources import metadata_reader

    return metadata_reader(store, build_env_prefix, info)


def build_env_prefix(store: Any, db: StoreDB, lock: Lock, info: Info, offline: bool) -> Path:
    """A build environment's lock realized as a prefix of the store (ops.sources.BuildPrefix)."""
    # lazy: only when something is built from source
    from envstore.ops.sources import BUILD_ENV_NAME
    from envstore.resolve.fit import interpreter_for_lock

    root = Path(store.root)
    interpreter, lock = interpreter_for_lock(store, lock, info)
    identity = lock_identity(lock)
    dest = store_path(root, BUILD_ENV_NAME, store_path_digest({"packages": identity}, interpreter))
    ensure_prefix(db, root, dest, lambda: _build(store, db, root, dest, BUILD_ENV_NAME, lock, interpreter, info,
                                                 offline, identity))
    return dest


def _fetch_and_ingest(store, db: StoreDB, wanted: list, have: dict[str, str], tmp: Path, info: Info) -> None:
    # lazy: the HTTP stack only when something is missing
    from envstore.index.fetch import WheelRef, fetch_all

    missing = [WheelRef(label, url, w.filename, w.sha256, w.size) for label, url, w in wanted]
    total = sum(r.size or 0 for r in missing)

    def ingest(ref: WheelRef, path: Path) -> None:
        try:
            result = ingest_wheel(store, path)
        except OSError as e:
            raise while_doing(e, f"writing blob for {ref.name}") from None
        path.unlink(missing_ok=True)
        db.register_artifact(ref.sha256, result.manifest_id, ref.filename, ref.url, ref.size or 0)
        have[ref.sha256] = result.manifest_id

    wheels = f"{plural(len(missing), 'wheel')} ({size(total)})"
    with phase(info, f"fetching {wheels}") as ph:
        downloaded = ph.row("downloading", total=total, unit="bytes")
        ingested = ph.row("ingesting", total=len(missing), noun="wheel")
        fetch_all(missing, tmp / "downloads", on_done=lambda ref, path: (ingest(ref, path), ingested.advance()),
                  on_bytes=downloaded.advance)
        ph.summary = f"fetched {wheels}"


def blobs_look_intact(store, manifest_id: str) -> bool:
    """The cheap check (a regular file of the right size and read-only mode) on every blob a
    known wheel uses: a missing or truncated blob makes realize fetch and ingest the wheel again,
    which republishes it, instead of failing to materialize (RELIABILITY row 29)."""
    return store.manifest_blobs_present(manifest_id)


def _hook(point: str) -> None:
    settings.test_hook(point)
