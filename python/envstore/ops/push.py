"""`store push`: a prefix's closure into a cache. Blobs first, then the manifests naming them,
then the interpreter's record, and the prefix's signed record last, so a reader that finds a
record finds everything it names, and two pushers of overlapping closures write the same
objects under the same names. Reads the store; never writes it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from envstore import settings
from envstore.cache import objects
from envstore.cache.keys import SecretKey, default_secret_key_path
from envstore.cache.record import RECORD_FORMAT, Record
from envstore.cache.remote import CacheError, existing, open_remote
from envstore.cache.transfer import Transfer, closure_blobs, packs_of, upload
from envstore.errors import EnvstoreError, UsageError
from envstore.install.prefix import PLACEMENT_VERSION, py_version, store_path, store_path_digest
from envstore.interpreters import registry
from envstore.ops.realize import RealizeOptions, choose_interpreter, env_name, lock_identity, obtain_lock
from envstore.ops.realize_route import route_reason, wheel_half
from envstore.ops.record_wheels import wheel_entries
from envstore.ops.substitute import ALIASES, interpreter_record
from envstore.progress import phase, plural, size
from envstore.store import layout, open_store
from envstore.store.db import StoreDB
from envstore.store.parts import conda_packages

Info = Callable[[str], None]


class PushError(EnvstoreError):
    code = "cache.push"


@dataclass
class PushReport:
    records: list[str] = field(default_factory=list)  # store path names whose record was written
    unchanged: list[str] = field(default_factory=list)
    moved: Transfer = field(default_factory=Transfer)


def push(targets: list[Path], store_root: Path | None, url: str, sign_key: Path | None, info: Info,
         with_interpreter: bool = True) -> PushReport:
    store = open_store(store_root)
    root = Path(store.root)
    key = _signing_key(sign_key)
    remote = open_remote(url)
    if key is None:
        info("warning: no signing key (`store key generate`): the records pushed are unsigned, and "
             "substituters refuse them unless unsigned records are allowed")
    db = StoreDB(root)
    report = PushReport()
    if remote.get(objects.INFO_KEY) is None:
        remote.put(objects.INFO_KEY, json.dumps({"format": objects.CACHE_FORMAT}).encode() + b"\n")
    try:
        dests = [_prefix_of(t, store, db, info) for t in targets]
        have_wheels = existing(remote, objects.WHEELS)  # one listing for every wheel record of the push
        for dest in dests:
            row = db.prefix(dest)
            if conda_packages(row.parts):  # issue 15: its packages and bytecode, placed again where it lands
                # lazy: the conda placement loads only for a conda prefix
                from envstore.ops.conda_cache import record_of

                (record, manifests), interp = record_of(store, db, dest, row), None
            else:
                record, manifests, interp = _record(root, db, dest, row)
            with phase(info, f"pushing {dest.name} to {url}") as ph:
                wanted = manifests + ([interp.manifest_id] if with_interpreter and interp is not None else [])
                sending = ph.row("uploading blobs", noun="blob", report="{} uploaded")
                moved = upload(remote, store, wanted, advance=sending.advance)
                sending.finish(moved.blobs)
                record.body["packs"] = packs_of(moved.located, closure_blobs(store, manifests))
                if key is not None:
                    record.sign(key)
                wrote = False
                if interp is not None:  # a conda prefix's python is one of its packages
                    wrote = _push_interpreter(remote, store, root, interp, key, moved) if with_interpreter else False
                    wrote = _push_wheels(remote, store, record, moved, key, have_wheels) > 0 or wrote
                if moved.blobs or moved.manifests or wrote or remote.get(objects.record_key(dest.name)) != record.dumps():
                    settings.test_hook("push.before_record")  # RELIABILITY row 59: a cache gc may run here
                    remote.put(objects.record_key(dest.name), record.dumps())  # last: it names all the above
                    report.records.append(dest.name)
                else:
                    report.unchanged.append(dest.name)
                _add(report.moved, moved)
                ph.summary = (f"pushed {dest.name} ({plural(moved.manifests, 'manifest')}, "
                              f"{plural(moved.packs, 'pack')}, {size(moved.bytes)} compressed)"
                              if dest.name in report.records else f"{url} has {dest.name} already")
    finally:
        db.close()
    return report


def _add(total: Transfer, t: Transfer) -> None:
    total.blobs += t.blobs
    total.bytes += t.bytes
    total.manifests += t.manifests
    total.requests += t.requests
    total.packs += t.packs


def _signing_key(path: Path | None) -> SecretKey | None:
    if path is not None:
        return SecretKey.load(path)
    default = default_secret_key_path()
    return SecretKey.load(default) if default.exists() else None


def _prefix_of(target: Path, store: Any, db: StoreDB, info: Info) -> Path:
    """A prefix path as given, or the prefix an env file's current lock realizes to."""
    root = Path(store.root)
    target = target.absolute()
    if target.is_dir():
        dest = target.resolve()
        if dest.parent != layout.envs_dir(root).resolve() or db.prefix(layout.envs_dir(root) / dest.name) is None:
            raise UsageError(f"{target} is not a prefix of the store {root}", hint="give a prefix under STORE/envs/ or an env file")
        return layout.envs_dir(root) / dest.name
    if not target.is_file():
        raise UsageError(f"{target}: no such env file or prefix")
    if route_reason(target) is not None:
        # lazy: the conda route loads only for a conda env file
        from envstore.ops.realize_conda import locked_store_path

        dest = locked_store_path(target, store, info, wheel_half)
    else:
        lock = obtain_lock(target, store, RealizeOptions(frozen=True), info)
        interpreter, lock = choose_interpreter(store, lock, info)
        dest = store_path(root, env_name(target, lock),
                          store_path_digest({"packages": lock_identity(lock)}, interpreter))
    if db.prefix(dest) is None or not dest.is_dir():
        raise PushError(f"{target} is not realized in this store ({dest.name})", hint=f"run `store realize {target}` first")
    return dest


def _record(root: Path, db: StoreDB, dest: Path, row: Any) -> tuple[Record, list[str], Any]:
    interp = next((registry.info_from_record(root, r) for r in registry.read_records(root)
                   if r["store_path"] == Path(row.interpreter).name), None)
    if interp is None:
        raise PushError(f"the interpreter of {dest.name} ({Path(row.interpreter).name}) is not in the store's registry")
    placement_key = f"{py_version(interp)}/{PLACEMENT_VERSION}"
    wheels, identity, manifests = wheel_entries(db, row, dest, placement_key, PushError)
    if hashlib.sha256(json.dumps(identity).encode()).hexdigest() != row.lock_hash or \
            not dest.name.startswith(store_path_digest({"packages": identity}, interp) + "-"):
        raise PushError(f"the parts of {dest.name} do not add up to its lock identity; refusing to push it",
                        hint="`store verify` the prefix")
    body = {"format": RECORD_FORMAT, "store_path": dest.name, "name": row.name, "lock": identity,
            "interpreter": {"implementation": interp.implementation, "version": interp.version,
                            "tree": interp.manifest_id, "store_path": interp.name},
            "placement": placement_key, "wheels": wheels}
    return Record(body, []), manifests, interp


def _push_wheels(remote: Any, store: Any, record: Record, moved: Transfer, key: SecretKey | None,
                 have: set[str]) -> int:
    """One signed record per wheel of the prefix for its interpreter (after the objects they
    name, before the prefix's record): a prefix that shares only some wheels with what was
    pushed takes those from the cache. A record already there is left as it is: its key names
    the wheel and the interpreter, so it says the same."""
    body = record.body
    tree = body["interpreter"]["tree"]
    written = 0
    for w in body["wheels"]:
        wkey = objects.wheel_key(w["sha256"], tree)
        if wkey in have:
            continue
        names = [m for m in (w["manifest"], w["core"], w.get("sources"), w.get("bytecode")) if m]
        one = Record({"format": RECORD_FORMAT, "store_path": objects.wheel_record_name(w["sha256"], tree),
                      "interpreter": body["interpreter"], "placement": body["placement"], "wheels": [w],
                      "packs": packs_of(moved.located, closure_blobs(store, names))}, [])
        if key is not None:
            one.sign(key)
        remote.put(wkey, one.dumps())
        have.add(wkey)
        written += 1
    return written


def _push_interpreter(remote: Any, store: Any, root: Path, interp: Any, key: SecretKey | None, moved: Transfer) -> bool:
    """The interpreter's signed record, after its tree's objects; True when it was (re)written."""
    record_key = objects.interpreter_key(interp.manifest_id)
    raw = next(r for r in registry.read_records(root) if r["store_path"] == interp.name)
    record = Record(interpreter_record(interp, raw), [])
    record.body["packs"] = packs_of(moved.located, closure_blobs(store, [interp.manifest_id]))
    if key is not None:
        record.sign(key)
    # the same record under what `store python import|install` knows before compiling (issue 18)
    keys = [record_key] + [objects.interpreter_alias_key(kind, raw[field]) for kind, field in ALIASES if raw.get(field)]
    wrote = False
    for k in keys:
        if remote.get(k) != record.dumps():
            remote.put(k, record.dumps())
            wrote = True
    return wrote


__all__ = ["CacheError", "PushError", "PushReport", "push"]
