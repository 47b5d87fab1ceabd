"""Substitution: before realize fetches anything from the index, ask the configured caches for
the store path's signed record; when one is trusted, fetch the manifests and blobs this store
lacks (each checked against its name) and record the wheels, placements and bytecode as if they
had been built here. realize then builds the prefix from them locally: no index request, no
wheel download, no bytecode compile. Never publishes a prefix itself, and stores nothing from a
record that fails its checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from envstore import settings
from envstore.cache import objects
from envstore.cache.keys import PublicKey, parse_trusted
from envstore.cache.record import INTERPRETER_FIELDS, Record, RecordRefused
from envstore.cache.remote import CacheError, Remote, open_remote
from envstore.cache.transfer import download
from envstore.install.prefix import PLACEMENT_VERSION, py_version, store_path_digest
from envstore.interpreters import registry
from envstore.interpreters.model import InterpreterInfo
from envstore.progress import phase, plural, size
from envstore.store.db import StoreDB
from envstore.store.fs import publish_tree, staging_dir
from envstore.store.session import StoreSession
from envstore._core import remove_tree

Info = Callable[[str], None]


@dataclass(frozen=True)
class Substituters:
    urls: tuple[str, ...] = ()
    trusted_keys: tuple[str, ...] = ()  # NAME:BASE64
    allow_unsigned: bool = False

    @classmethod
    def configured(cls, urls: tuple[str, ...] = (), keys: tuple[str, ...] = (), allow_unsigned: bool = False) -> Substituters:
        """The flags' caches and keys, then ENVSTORE_SUBSTITUTERS and ENVSTORE_TRUSTED_KEYS."""
        env_urls = tuple((settings.SUBSTITUTERS.get() or "").split())
        env_keys = tuple((settings.TRUSTED_KEYS.get() or "").split())
        return cls(tuple(dict.fromkeys(urls + env_urls)), tuple(dict.fromkeys(keys + env_keys)), allow_unsigned)

    def trusted(self) -> list[PublicKey]:
        return parse_trusted(list(self.trusted_keys))

    def remotes(self, offline: bool) -> list[Remote]:
        """--offline: local (file://) caches only."""
        return [open_remote(u) for u in self.urls if not offline or u.startswith("file:")]


def substitute_prefix(store: Any, db: StoreDB, dest: Path, lock_identity: list[list[str]], interpreter: Any,
                      subs: Substituters, info: Info, offline: bool = False) -> bool:
    """True when a cache held a trusted record of `dest` and everything it names is now in the
    store (with its database rows); False when no cache has it. A record or object that fails a
    check is refused with a warning and nothing of it is used: realize goes on without it."""
    for remote in subs.remotes(offline):
        try:
            if _substitute_from(remote, store, db, dest, lock_identity, interpreter, subs, info):
                return True
        except CacheError as e:
            _refused(e, remote, info)
    return False


def _refused(e: CacheError, remote: Remote, info: Info) -> None:
    """RELIABILITY row 56: a refused record or object is said in one line, nothing of it is
    used, and realize goes on without this cache (the next one, else the index)."""
    info(f"warning: {e}; going on without {remote.url}")
    if e.hint:
        info(f"hint: {e.hint}")


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
        _register(db, wheels, placement_key, interpreter.manifest_id)
        ph.summary = (f"substituted {plural(len(wheels), 'package')} from {remote.url} (signed by {signer}), "
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


def _register(db: StoreDB, wheels: list[dict], placement_key: str, interpreter_id: str) -> None:
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


def substitute_interpreter(store: Any, manifest_id: str, subs: Substituters, info: Info, offline: bool = False) -> bool:
    """Put the interpreter whose tree is `manifest_id` into the store from a cache that holds a
    trusted record of it: its tree is materialized under python/ and then registered."""
    root = Path(store.root)
    if any(r.get("manifest_id") == manifest_id for r in registry.read_records(root)):
        return False
    for remote in subs.remotes(offline):
        try:
            if _interpreter_from(remote, store, manifest_id, subs, info):
                return True
        except CacheError as e:
            _refused(e, remote, info)
    return False


def _interpreter_from(remote: Remote, store: Any, manifest_id: str, subs: Substituters, info: Info) -> bool:
    root = Path(store.root)
    trusted = subs.trusted()
    key = objects.interpreter_key(manifest_id)
    data = remote.get(key)
    if data is None:
        return False
    where = f"{key} in {remote.url}"
    record = Record.loads(data, where, INTERPRETER_FIELDS)
    name = record.store_path
    record.check(trusted, name, where, subs.allow_unsigned)
    body = record.body
    if body.get("tree") != manifest_id or body.get("manifest_id") != manifest_id or "/" in name or name.startswith("."):
        raise RecordRefused(f"the record {where} is not of the interpreter {manifest_id[:16]}; refused")
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
        extra = {k: v for k, v in body.items() if k not in interp.to_json() and k not in ("format", "tree")}
        registry.write_record(root, interp, {**extra, "origin_stamps": [{"path": remote.url, "stamp": ""}]})
        ph.summary = (f"fetched python {body['version']} from {remote.url}, {size(moved.bytes)} in "
                      f"{plural(moved.requests + 1, 'request')}")
    return True


__all__ = ["CacheError", "RecordRefused", "Substituters", "interpreter_record", "substitute_interpreter",
           "substitute_prefix"]
