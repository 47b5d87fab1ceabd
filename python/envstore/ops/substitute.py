"""Substitution: before realize fetches anything from the index, ask the configured caches for
the store path's signed record; when one is trusted, fetch the manifests and blobs this store
lacks (each checked against its name) and record the wheels, placements and bytecode as if they
had been built here. realize then builds the prefix from them locally: no index request, no
wheel download, no bytecode compile. Never publishes a prefix itself, and stores nothing from a
record that fails its checks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from envstore import settings
from envstore.cache import objects
from envstore.cache.config import CacheConfig, read_config
from envstore.cache.substituters import Substituters
from envstore.cache.record import INTERPRETER_FIELDS, WHEEL_FIELDS, Record, RecordRefused
from envstore.cache.remote import CacheError, Remote, open_remote
from envstore.cache.transfer import WORKERS, download
from envstore.install.prefix import PLACEMENT_VERSION, py_version, store_path_digest
from envstore.interpreters import registry
from envstore.interpreters.model import InterpreterInfo
from envstore.progress import phase, plural, size
from envstore.store import default_root
from envstore.store.db import StoreDB
from envstore.store.fs import publish_tree, staging_dir
from envstore.store.session import StoreSession
from envstore._core import remove_tree

Info = Callable[[str], None]


def substitute_prefix(store: Any, db: StoreDB, dest: Path, lock_identity: list[list[str]], interpreter: Any,
                      subs: Substituters, info: Info, offline: bool = False) -> bool:
    """True when a cache held a trusted record of `dest` and everything it names is now in the
    store (with its database rows). Else the wheels of the lock that some cache holds a trusted
    record of (for this interpreter) are substituted, and realize fetches only the rest from the
    index. A record or object that fails a check is refused in one line and nothing of it is
    used: realize goes on without that cache (RELIABILITY row 56)."""
    remotes = subs.remotes(offline)
    usable = []
    for remote in remotes:
        try:
            if _substitute_from(remote, store, db, dest, lock_identity, interpreter, subs, info):
                return True
            usable.append(remote)
        except CacheError as e:
            refused(e, remote, info)
    if usable:
        substitute_wheels(store, db, usable, lock_identity, interpreter, subs, info)
    return False


def refused(e: CacheError, remote: Remote, info: Info) -> None:
    """RELIABILITY row 56 and issue 18: a refused record or object is said in one line (what
    was refused, why, what to do), nothing of it is used, and realize goes on without this cache
    (the next one, else the index; with --offline and nothing else to take it from, realize then
    fails saying what is missing)."""
    hint = f" (hint: {e.hint})" if e.hint else ""
    info(f"warning: {e}; going on without {remote.url}{hint}")


def _substitute_from(remote: Remote, store: Any, db: StoreDB, dest: Path, lock_identity: list[list[str]],
                     interpreter: Any, subs: Substituters, info: Info) -> bool:
    trusted = subs.trusted()
    key = objects.record_key(dest.name)
    data = remote.get(key)
    if data is None:
        return False
    where = f"{key} in {remote.url}"
    record = Record.loads(data, where)
    signer = record.check(trusted, dest.name, where, subs.allow_unsigned)
    note_unsigned(signer, where, info)
    _check_matches(record, dest, lock_identity, interpreter, where)
    placement_key = f"{py_version(interpreter)}/{PLACEMENT_VERSION}"
    if record.body.get("placement") != placement_key:
        info(f"{remote.url} has {dest.name} placed by another envstore ({record.body.get('placement')}); "
             "building it here")
        return False
    wheels = record.body["wheels"]
    with phase(info, f"substituting {dest.name} from {remote.url}") as ph:
        fetching = ph.row("fetching blobs", noun="blob", report="{} fetched")
        moved = download(remote, store, record.manifests(), advance=fetching.advance, packs=record.body.get("packs", ()))
        fetching.finish(moved.blobs)
        register_wheels(db, wheels, placement_key, interpreter.manifest_id)
        ph.summary = (f"substituted {plural(len(wheels), 'package')} from {remote.url} (signed by {signer or 'no trusted key'}), "
                      f"{size(moved.bytes)} in {plural(moved.requests + 1, 'request')}")
    return True


def _check_matches(record: Record, dest: Path, lock_identity: list[list[str]], interpreter: Any, where: str) -> None:
    """A signed record must also describe what this realize computed: the lock's wheels, this
    interpreter, and a store path digest that follows from them."""
    body = record.body
    interp = body["interpreter"]
    digest = store_path_digest({"packages": body["lock"]}, _Named(interp))
    if (body["lock"] != lock_identity or interp.get("tree") != interpreter.manifest_id
            or not dest.name.startswith(digest + "-")):
        raise RecordRefused(f"the record {where} does not match the lock and interpreter of {dest.name}; refused")
    locked = {sha for _n, _v, sha in lock_identity}
    if {w["sha256"] for w in body["wheels"]} != locked:
        raise RecordRefused(f"the record {where} names other wheels than the lock of {dest.name}; refused")


@dataclass(frozen=True)
class _Named:
    """The three fields of an interpreter that a store path digest reads, from a record."""

    doc: dict

    @property
    def implementation(self) -> str:
        return self.doc["implementation"]

    @property
    def version(self) -> str:
        return self.doc["version"]

    @property
    def manifest_id(self) -> str:
        return self.doc["tree"]


def note_unsigned(signer: str | None, where: str, info: Info) -> None:
    if signer is None:
        info(f"warning: taking {where}, which no trusted key signed (unsigned records are allowed)")


# partial hits ---------------------------------------------------------------------------------
def substitute_wheels(store: Any, db: StoreDB, remotes: list[Remote], lock_identity: list[list[str]],
                      interpreter: Any, subs: Substituters, info: Info) -> list[str]:
    """The wheels of the lock this store lacks, from the caches' wheel records (one per wheel
    and interpreter, written by every push): manifests and blobs fetched and checked, then the
    artifact, placement and bytecode rows written as if built here. Returns the packages
    substituted; whatever no cache has (or a cache's record fails its checks) is left to the
    index."""
    placement_key = f"{py_version(interpreter)}/{PLACEMENT_VERSION}"
    known = set(store.manifest_ids())
    wanted = {}
    for name, version, sha in lock_identity:
        row = db.artifact(sha)
        if row is None or row.manifest_id not in known or db.placement(row.manifest_id, placement_key) is None:
            wanted[sha] = f"{name} {version}"
    done: list[str] = []
    for remote in remotes:
        if not wanted:
            break
        try:
            took = _wheels_from(remote, store, db, wanted, interpreter, placement_key, subs, info)
        except CacheError as e:
            refused(e, remote, info)
            continue
        for sha in took:
            done.append(wanted.pop(sha))
    return done


def _wheels_from(remote: Remote, store: Any, db: StoreDB, wanted: dict[str, str], interpreter: Any,
                 placement_key: str, subs: Substituters, info: Info) -> list[str]:
    tree = interpreter.manifest_id
    trusted = subs.trusted()

    def get(sha: str) -> tuple[str, bytes | None]:
        return sha, remote.get(objects.wheel_key(sha, tree))

    with ThreadPoolExecutor(WORKERS) as pool:  # one small GET a wheel, all in flight at once
        found = [(sha, data) for sha, data in pool.map(get, list(wanted)) if data is not None]
    records: dict[str, Record] = {}
    for sha, data in found:
        where = f"{objects.wheel_key(sha, tree)} in {remote.url}"
        record = Record.loads(data, where, WHEEL_FIELDS)
        signer = record.check(trusted, objects.wheel_record_name(sha, tree), where, subs.allow_unsigned)
        note_unsigned(signer, where, info)
        wheels = record.body["wheels"]
        if (len(wheels) != 1 or wheels[0].get("sha256") != sha or record.body["interpreter"].get("tree") != tree):
            raise RecordRefused(f"the record {where} is not of the wheel {wanted[sha]} for this interpreter; refused")
        if record.body["placement"] == placement_key:
            records[sha] = record
    if not records:
        return []
    labels = ", ".join(wanted[sha] for sha in records)
    with phase(info, f"substituting {plural(len(records), 'wheel')} from {remote.url}") as ph:
        fetching = ph.row("fetching blobs", noun="blob", report="{} fetched")
        manifests = [m for r in records.values() for m in r.manifests()]
        packs = sorted({p for r in records.values() for p in r.body.get("packs", ())})
        moved = download(remote, store, manifests, advance=fetching.advance, packs=packs)
        fetching.finish(moved.blobs)
        register_wheels(db, [r.body["wheels"][0] for r in records.values()], placement_key, tree)
        ph.summary = (f"substituted {labels} from {remote.url} ({size(moved.bytes)} in "
                      f"{plural(moved.requests + len(wanted), 'request')}); the rest from the index")
    return list(records)


def register_wheels(db: StoreDB, wheels: list[dict], placement_key: str, interpreter_id: str) -> None:
    """The rows a local build would have written: each wheel as an ingested artifact, its
    placement for this Python, its bytecode for this interpreter. Written after every manifest
    they name is in the store."""
    placements = []
    for w in wheels:
        db.register_artifact(w["sha256"], w["manifest"], w["filename"], w.get("url", ""), int(w.get("size", 0)))
        placements.append((w["manifest"], placement_key, w["core"], w.get("sources"), w["extra"]))
        if w.get("sources") and w.get("bytecode"):
            db.register_bytecode(w["sources"], interpreter_id, w["bytecode"])
    db.register_placements(placements)


# interpreters ---------------------------------------------------------------------------------
def interpreter_record(info: InterpreterInfo, record: dict[str, Any]) -> dict[str, Any]:
    """What a cache keeps of an interpreter: its registry record without this machine's paths."""
    body = {k: v for k, v in record.items() if k not in ("origin_stamps", "origins")}
    body.update({"format": 1, "store_path": info.name, "tree": info.manifest_id,
                 "executable": str(info.executable.relative_to(info.store_path))})
    return body


ALIASES = (("source", "source_id"), ("archive", "archive_sha256"))  # alias kind, registry field


def substitute_interpreter(store: Any, manifest_id: str, subs: Substituters, info: Info, offline: bool = False) -> bool:
    """Put the interpreter whose tree is `manifest_id` into the store from a cache that holds a
    trusted record of it: its tree is materialized under python/ and then registered."""
    root = Path(store.root)
    if any(r.get("manifest_id") == manifest_id for r in registry.read_records(root)):
        return False
    for remote in subs.remotes(offline):
        try:
            if _interpreter_from(remote, store, objects.interpreter_key(manifest_id), "tree", manifest_id, subs,
                                 info) is not None:
                return True
        except CacheError as e:
            refused(e, remote, info)
    return False


def interpreter_substituter(store: Any, subs: Substituters, info: Info,
                            offline: bool = False) -> Callable[[str, str], InterpreterInfo | None]:
    """For `store python import|install`: given what the importer knows before compiling
    (`source`: its staged tree's identity; `archive`: the archive's sha256), the interpreter
    from the first cache with a trusted record of it, else None (the importer does the work)."""

    def lookup(kind: str, value: str) -> InterpreterInfo | None:
        field = dict(ALIASES)[kind]
        for remote in subs.remotes(offline):
            try:
                found = _interpreter_from(remote, store, objects.interpreter_alias_key(kind, value), field, value,
                                          subs, info)
            except CacheError as e:
                refused(e, remote, info)
                continue
            if found is not None:
                return found
        return None

    return lookup


def _interpreter_from(remote: Remote, store: Any, key: str, field: str, value: str, subs: Substituters,
                      info: Info) -> InterpreterInfo | None:
    """The interpreter of the record at `key`, whose `field` must be `value`, fetched into the
    store; None when the cache has no such record."""
    root = Path(store.root)
    trusted = subs.trusted()
    data = remote.get(key)
    if data is None:
        return None
    where = f"{key} in {remote.url}"
    record = Record.loads(data, where, INTERPRETER_FIELDS)
    name = record.store_path
    note_unsigned(record.check(trusted, name, where, subs.allow_unsigned), where, info)
    body = record.body
    manifest_id = body.get("tree")
    if body.get(field) != value or body.get("manifest_id") != manifest_id or not isinstance(manifest_id, str) \
            or "/" in name or name.startswith("."):
        raise RecordRefused(f"the record {where} is not of the interpreter {value[:16]}; refused")
    for r in registry.read_records(root):  # already here (imported, or fetched by another run)
        if r.get("manifest_id") == manifest_id and (registry.python_dir(root) / r["store_path"]).is_dir():
            return registry.info_from_record(root, r)
    with StoreSession(root, "shared", store=store, on_wait=lambda: info("waiting for the store lock ...")), \
            phase(info, f"fetching python {body.get('version')} from {remote.url}") as ph:
        fetching = ph.row("fetching blobs", noun="blob", report="{} fetched")
        moved = download(remote, store, [manifest_id], advance=fetching.advance, packs=body.get("packs", ()))
        fetching.finish(moved.blobs)
        dest = registry.python_dir(root) / name
        if not dest.exists():
            work = staging_dir(root, "python-substitute")
            try:
                store.materialize([("python", manifest_id)], work / "out")
                publish_tree(work / "out", dest)
            finally:
                remove_tree(work)
        exe = dest / body["executable"]
        interp = InterpreterInfo(
            implementation=body["implementation"], version=body["version"], executable=exe, store_path=dest,
            manifest_id=manifest_id, marker_env=dict(body["marker_env"]), tags=list(body["tags"]),
            architecture=body.get("architecture", ""), abi=body.get("abi", ""), platform=body.get("platform", ""),
            origins=(remote.url,),
        )
        extra = {k: v for k, v in body.items() if k not in interp.to_json() and k not in ("format", "tree", "packs")}
        registry.write_record(root, interp, {**extra, "origin_stamps": [{"path": remote.url, "stamp": ""}]})
        ph.summary = (f"fetched python {body['version']} from {remote.url} with its bytecode, "
                      f"{size(moved.bytes)} in {plural(moved.requests + 1, 'request')}")
    return interp


__all__ = ["ALIASES", "CacheError", "RecordRefused", "Substituters", "interpreter_record", "note_unsigned",
           "refused", "register_wheels",
           "interpreter_substituter", "substitute_interpreter", "substitute_prefix", "substitute_wheels"]
