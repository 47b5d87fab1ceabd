"""realize on the conda route: solve the env file's conda entries from its channels (or reuse
the lock), compute the store path from the locked packages, and make it exist: fetch what the
store lacks (sha256-checked), ingest (checked against each package's info/paths.json), place
(placeholders rewritten for the store path), materialize, publish, register, out-link. The same
locking as the wheel route: the shared store lock, then one lock per prefix being built.

The lock is `pylock.toml` beside the env file: PEP 751's required keys with no Python packages,
and the conda packages, exactly (channel, subdir, name, version, build, url, sha256, size), in a
`[[tool.envstore.conda.packages]]` table; its `spec-hash` says which env file and channel
configuration it was solved for."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envstore import settings
from envstore._core import remove_tree
from envstore.conda.channels import channel_urls, load_config, pin_spec
from envstore.conda.record import CondaRecord
from envstore.errors import EnvstoreError, UsageError, while_doing
from envstore.install import conda as placing
from envstore.install.prefix import ensure_prefix, publish, store_path
from envstore.lockfile import Lock, LockfileError, lock_path_for, read_lock
from envstore.ops.fastpath import remember
from envstore.progress import phase, plural, size
from envstore.project import add_out_link
from envstore.spec.conda import index_name
from envstore.spec.conda_env import CondaEnv, is_explicit, parse_conda_env, pip_spec, read_explicit
from envstore.store import layout, reserve
from envstore.store.db import StoreDB
from envstore.store.fs import write_atomic
from envstore.store.session import StoreSession

if TYPE_CHECKING:
    from envstore.resolve.target import TargetPython

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

Info = Callable[[str], None]
CONDA_LOCK_VERSION = 1


class CondaRealizeError(EnvstoreError):
    code = "conda.realize"


def spec_hash(env_file: Path, channels: list[str]) -> str:
    """What a conda lock was solved from: the env file's bytes and the channel URLs they meant."""
    h = hashlib.sha256(env_file.read_bytes())
    h.update(json.dumps(channels).encode())
    return h.hexdigest()


def read_conda_lock(path: Path) -> tuple[str, list[CondaRecord]] | None:
    """(spec-hash, records) of a conda lock at `path`, or None when there is none (or it is a
    wheel-route lock)."""
    if not path.is_file():
        return None
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise LockfileError(f"cannot read the lockfile: {e}", path) from None
    table = doc.get("tool", {}).get("envstore", {}).get("conda")
    if not isinstance(table, dict):
        return None
    if table.get("version") != CONDA_LOCK_VERSION:
        raise LockfileError(f"conda lock version {table.get('version')!r} is not {CONDA_LOCK_VERSION}", path,
                            "the lockfile was written by another envstore; run `store lock` again")
    records = []
    for row in table.get("packages", []):
        if not row.get("sha256"):
            raise LockfileError(f"conda package {row.get('name')!r} has no sha256 in the lockfile", path)
        records.append(CondaRecord.from_json(row))
    return str(table.get("spec-hash", "")), records


def write_conda_lock(path: Path, env: CondaEnv, records: list[CondaRecord], digest: str,
                     pip: Lock | None = None) -> None:
    """Both halves in one pylock.toml: the `- pip:` wheels as PEP 751 packages (so other tools
    read them), the conda packages in [tool.envstore.conda]."""
    doc: dict[str, Any] = pip.to_toml() if pip is not None else {
        "lock-version": "1.0", "created-by": "envstore", "packages": []}
    doc.setdefault("tool", {}).setdefault("envstore", {}).update({"route": "conda", "conda": {
        "version": CONDA_LOCK_VERSION,
        "spec-hash": digest,
        "specs": list(env.specs),
        "packages": [r.to_json() for r in records],
    }})
    write_atomic(path, tomli_w.dumps(doc).encode())


def read_pip_half(path: Path) -> Lock | None:
    """The `- pip:` wheels of a conda lock, or None when it has none."""
    lock = read_lock(path)
    return lock if lock.packages else None


def installed_python_names(records: list[CondaRecord]) -> dict[str, tuple[Version, str]]:
    """The Python distributions conda installs: a `noarch: python` package, or one that depends
    on python (it puts files into site-packages), under its Python-index name (grayskull's
    table and spec/conda.py's overrides)."""
    out: dict[str, tuple[Version, str]] = {}
    for r in records:
        if r.name in ("python", "python_abi"):
            continue
        deps = {d.split()[0] for d in r.depends}
        if r.noarch != "python" and not deps & {"python", "python_abi"}:
            continue
        try:
            version = Version(r.version)
        except InvalidVersion:
            continue
        out[canonicalize_name(index_name(r.name, f"=={r.version}"))] = (version, f"conda package {r.name} {r.version}")
    return out


def conda_target(python: CondaRecord) -> TargetPython:
    """The prefix's interpreter as the pip half's target: version and ABI from the solved python
    record (the prefix does not exist yet to be probed), platform tags this machine's."""
    # lazy: packaging's tags and markers load only for a pip half
    from packaging import tags as ptags
    from packaging.markers import default_environment

    # lazy: the wheel resolver's target (and interpreter discovery) loads only for a pip half
    from envstore.resolve.target import TargetPython

    major, minor = (int(x) for x in python.version.split(".")[:2])
    env = default_environment()
    env.update(python_version=f"{major}.{minor}", python_full_version=python.version,
               implementation_name="cpython", platform_python_implementation="CPython",
               implementation_version=python.version)
    plats = list(ptags.platform_tags())
    tags = [str(t) for t in ptags.cpython_tags((major, minor), abis=[f"cp{major}{minor}"], platforms=plats)]
    tags += [str(t) for t in ptags.compatible_tags((major, minor), interpreter=f"cp{major}{minor}", platforms=plats)]
    return TargetPython(implementation="cpython", version=python.version, marker_env=env,
                        tags=tuple(dict.fromkeys(tags)), extra={"conda": python.sha256})


def lock_pip_half(env: CondaEnv, records: list[CondaRecord], root: Path, index: Any, info: Info) -> Lock:
    # lazy: the wheel resolver and the index client load only for a pip half
    from envstore.index.client import IndexClient
    from envstore.index.config import IndexOptions
    from envstore.resolve.lock import build_lock, resolve

    python = next((r for r in records if r.name == "python"), None)
    if python is None:
        raise CondaRealizeError(f"{env.path.name}: a `- pip:` list needs `python` among the conda entries",
                                "add `python` to dependencies:")
    spec = pip_spec(env)
    target = conda_target(python)
    config = (index or IndexOptions()).resolve(spec.index)
    with IndexClient(config, layout.cache_dir(root)) as client, phase(info, "resolving the `- pip:` list") as ph:
        picked = resolve(spec, target, client, progress=ph, installed=installed_python_names(records))
        lock = build_lock(spec, target, client, picked, ph)
        ph.summary = f"resolved {plural(len(picked), 'wheel')} on top of the conda packages"
    return lock


def obtain_records(env_file: Path, env: CondaEnv, root: Path, frozen: bool, info: Info,
                   index: Any = None, offline: bool = False, again: bool = False
                   ) -> tuple[list[CondaRecord], Lock | None]:
    """The env file's conda records and `- pip:` lock: the lockfile's when it is current (and
    not `again`), else solved and written."""
    config = load_config()
    channels, digest, locked = _locked(env_file, env, config)
    specs = [pin_spec(s, config, env_file.parent)[0] for s in env.specs]
    lock_path = lock_path_for(env_file)
    if locked is not None and locked[0] == digest and not again:
        return locked[1], read_pip_half(lock_path) if env.pip else None
    why = "does not exist" if locked is None else "is stale (the env file or its channels changed)"
    if frozen:
        raise LockfileError(f"the lockfile {why} but --frozen was given", lock_path, "run `store realize` first")
    remote = [c for c in channels if not c.startswith("file:")]
    if offline and remote:
        raise LockfileError(f"the lockfile {why}, and solving it needs the repodata of {', '.join(remote)}, "
                            "but --offline was given", lock_path, "run `store realize` once online")
    # lazy: rattler's solver loads only when a conda lock must be made
    from envstore.conda.solve import solve

    with phase(info, f"solving {env_file.name} from {plural(len(channels), 'conda channel')}") as ph:
        records = solve(channels, specs, layout.cache_dir(root) / "conda-repodata-v1", origin=env_file.name)
        ph.summary = f"solved {plural(len(records), 'conda package')}"
    pip = lock_pip_half(env, records, root, index, info) if env.pip else None
    write_conda_lock(lock_path, env, records, digest, pip)
    return records, pip


def _locked(env_file: Path, env: CondaEnv, config: Any) -> tuple[list[str], str, tuple[str, list[CondaRecord]] | None]:
    """(the env file's channel URLs, the digest a current lock carries, what the lockfile holds)."""
    channels = channel_urls(env.channels, config, env_file.parent)
    return channels, spec_hash(env_file, channels), read_conda_lock(lock_path_for(env_file))


def lock_conda(env_file: Path, root: Path, info: Info, index: Any = None, upgrade: bool = False,
               check: bool = False) -> tuple[int, bool]:
    """`store lock` of an env file on the conda route: solve it (and its `- pip:` list) and write
    the lock, unless it is current and no --upgrade. Returns (packages locked, whether the lock
    was current); `check` writes nothing."""
    if is_explicit(env_file):
        raise UsageError(f"{env_file.name} is an @EXPLICIT list: it is its own lock, nothing to solve")
    env = parse_conda_env(env_file)
    _channels, digest, locked = _locked(env_file, env, load_config())
    current = locked is not None and locked[0] == digest
    if check or (current and not upgrade):
        return (len(locked[1]) if locked is not None else 0), current
    # --upgrade solves again; the old lock stays until the new one is written in its place
    records, pip = obtain_records(env_file, env, root, False, info, index, again=upgrade)
    return len(records) + (len(pip.packages) if pip is not None else 0), current


@dataclass(frozen=True)
class Planned:
    """What a realize of a conda-route env file makes, before anything is built."""

    env: CondaEnv
    records: list[CondaRecord]
    pip: Lock | None
    pip_identity: list[list[str]] | None
    post_link: bool
    dest: Path
    ensure_wheels: Callable | None  # the wheel route's, for the `- pip:` half


def plan(env_file: Path, root: Path, frozen: bool, info: Info, reason: str, index: Any = None,
         wheels: Callable[[], tuple[Callable, Callable]] | None = None, offline: bool = False) -> Planned:
    """The env file's packages (the lock's, else solved and locked) and the store path they give.
    `wheels` gives the wheel route's (ensure_artifacts, lock_identity), asked only for a `- pip:` half."""
    if is_explicit(env_file):  # exact URLs and hashes already: nothing to solve, nothing to lock
        name, records = read_explicit(env_file)
        env = CondaEnv(env_file, name, (), (), (), reason)
        pip = None
    else:
        env = parse_conda_env(env_file)
        records, pip = obtain_records(env_file, env, root, frozen, info, index, offline)
    if pip is not None and wheels is None:
        raise CondaRealizeError(f"{env_file.name}: the `- pip:` half needs the wheel route's installer")
    ensure_wheels, lock_identity = wheels() if pip is not None and wheels is not None else (None, None)
    pip_identity = lock_identity(pip) if pip is not None and lock_identity is not None else None
    post_link = env.post_link_scripts or settings.RUN_POST_LINK_SCRIPTS.get() == "1"
    dest = store_path(root, env.name, placing.store_path_digest(records, pip=pip_identity, post_link=post_link))
    return Planned(env, records, pip, pip_identity, post_link, dest, ensure_wheels)


def locked_store_path(env_file: Path, store: Any, info: Info,
                      wheels: Callable[[], tuple[Callable, Callable]] | None = None) -> Path:
    """The store path the current lock of a conda-route env file realizes to (`store push`)."""
    return plan(env_file, Path(store.root), True, info, "", wheels=wheels).dest


def realize_conda(env_file: Path, store: Any, frozen: bool, out_link: bool, info: Info,
                  reason: str, lock_timeout: float | None = None, index: Any = None,
                  wheels: Callable[[], tuple[Callable, Callable]] | None = None, offline: bool = False,
                  substituters: Any = None) -> Path:
    """`wheels`: gives the wheel route's (ensure_artifacts, lock_identity) for the `- pip:` half,
    loaded only when there is one (ops.realize_route passes it: that route imports this
    module, not the other way). `offline`: nothing is downloaded; what the store lacks is one
    error naming it. `substituters`: binary caches asked for the prefix's packages and
    bytecode before any channel or index (ops.conda_cache)."""
    info(f"conda route: {reason}")
    root = Path(store.root)
    p = plan(env_file, root, frozen, info, reason, index, wheels, offline)

    def make() -> None:
        if substituters is not None:
            # lazy: the cache's crypto and zstd load only when a substituter is configured
            from envstore.ops.conda_cache import substitute

            substitute(store, db, p.dest, p.records, p.pip_identity, substituters, info, offline)
        _build(store, db, root, p.dest, p.env, p.records, info, p.pip, p.ensure_wheels, offline, p.post_link)

    with StoreSession(root, "shared", store=store, timeout=lock_timeout,
                      on_wait=lambda: info("waiting for the store lock (a gc is running) ...")) as session:
        db = session.db
        ensure_prefix(db, root, p.dest, make)
        link = add_out_link(db, env_file, p.env.name, p.dest, info) if out_link else None
    if link is not None and not is_explicit(env_file):  # the fast path answers next time, as for wheels
        remember(env_file, lock_path_for(env_file), p.dest, link)
    reserve.ensure(root)
    return p.dest


def _build(store, db: StoreDB, root: Path, dest: Path, env: CondaEnv, records: list[CondaRecord],
           info: Info, pip: Lock | None = None, ensure_wheels: Callable | None = None, offline: bool = False,
           post_link: bool = False) -> None:
    tmp = layout.tmp_dir(root) / f"realize-{os.getpid()}-{dest.name[:12]}"
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        packages = _ensure_packages(store, db, records, tmp, info, offline)
        wheels = ensure_wheels(store, db, pip, tmp, info, offline) if pip is not None and ensure_wheels else []
        settings.test_hook("conda.after_ingest")
        scripted = placing.post_link_scripts(packages)
        if scripted and not post_link:
            info(f"warning: post-link scripts are not run: {', '.join(scripted)} (what they would set up "
                 "in the prefix is missing; `envstore: {post-link-scripts: run}` runs them)")
        with phase(info, f"building {dest.name} ({plural(len(packages), 'conda package')})") as ph:
            try:
                assembled = placing.assemble(store, db, dest, packages, tmp, wheels, ph)
                parts = assembled.parts
                if scripted and post_link:
                    from envstore.install.post_link import run_scripts  # lazy: only when asked

                    parts += run_scripts(store, parts, packages, dest, tmp, info)
                    settings.test_hook("conda.after_post_link")
                settings.test_hook("prefix.before_rename")
                publish(store, parts, dest, tmp, progress=ph, copies=assembled.copies)
            except OSError as e:
                raise while_doing(e, f"building {dest.name}") from None
            ph.summary = f"built {dest.name}"
        settings.test_hook("prefix.after_rename")
        lock_hash = hashlib.sha256(json.dumps([r.to_json() for r in records], sort_keys=True).encode()).hexdigest()
        db.register_prefix(dest, env.name, parts, "", [p.manifest_id for p in packages] +
                           [w.manifest_id for w in wheels], lock_hash)
    finally:
        remove_tree(tmp)


def _ensure_packages(store, db: StoreDB, records: list[CondaRecord], tmp: Path,
                     info: Info, offline: bool = False) -> list[placing.IngestedConda]:
    known = set(store.manifest_ids())
    have: dict[str, placing.IngestedConda] = {}
    missing = []
    for r in records:
        row = db.artifact(r.sha256)
        if row is not None and row.manifest_id in known and store.manifest_blobs_present(row.manifest_id):
            have[r.sha256] = placing.IngestedConda.load(store, r, row.manifest_id)
        else:
            missing.append(r)
    downloads = [r for r in missing if not r.url.startswith("file:")]
    if offline and downloads:
        names = ", ".join(f"{r.name} {r.version}" for r in downloads[:5]) + (" ..." if len(downloads) > 5 else "")
        raise CondaRealizeError(f"--offline: {plural(len(downloads), 'conda package')} not in the store ({names})",
                                "run `store realize` once online")
    if missing:
        # lazy: the HTTP stack only when something is missing
        from envstore.conda.fetch import fetch_packages

        total = sum(r.size or 0 for r in missing)
        what = f"{plural(len(missing), 'conda package')} ({size(total)})"

        def ingest(record: CondaRecord, path: Path) -> None:
            try:
                pkg = placing.ingest(store, record, path)
            except OSError as e:
                raise while_doing(e, f"writing blobs for {record.name} {record.version}") from None
            path.unlink(missing_ok=True)
            db.register_artifact(record.sha256, pkg.manifest_id, record.fn, record.url, record.size or 0)
            have[record.sha256] = pkg

        with phase(info, f"fetching {what}") as ph:
            fetch_packages(missing, tmp / "downloads", on_done=ingest)
            ph.summary = f"fetched {what}"
    db.touch_artifacts(list(have))
    return [have[r.sha256] for r in sorted(records, key=lambda r: r.name)]
