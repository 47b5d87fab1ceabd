"""Place an ingested wheel into a venv-style prefix, per the binary distribution format:
root and purelib/platlib into site-packages, `.data/scripts` into bin (with `#!python`
rewritten), headers under include/site, data at the prefix root; entry points become
launchers; INSTALLER and a RECORD for the installed paths are written; a shipped .pyc that
the store's own bytecode replaces is left out. The result is a new
manifest of existing blobs plus a few generated ones; no file is copied. What does not depend
on the prefix is placed once per (wheel, Python X.Y) and reused (see PlacedWheel)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import posixpath
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from envstore._core import Store, hash_bytes
from envstore.errors import ArchiveError
from envstore.install.bytecode import shipped_pyc_replaced
from envstore.install.scripts import check_script_name, entry_point_scripts, rewrite_script
from envstore.store import manifest

INSTALLER = b"envstore\n"


@dataclass(frozen=True)
class Layout:
    """Where things go in one prefix."""

    prefix: Path  # the final store path (shebangs point here)
    py_version: str  # "3.12"

    @property
    def site_packages(self) -> str:
        return f"lib/python{self.py_version}/site-packages"

    @property
    def python(self) -> str:
        return str(self.prefix / "bin" / "python")


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def read_blob(store: Store, entry: dict) -> bytes:
    key = entry["hash"] + (".x" if entry["executable"] else "")
    return Path(store.blob_path(key)).read_bytes()


def _file(entry: dict) -> dict:
    return {"type": "file", "hash": entry["hash"], "size": entry["size"], "executable": entry["executable"]}


class BlobBatch:
    """Generated files (launchers, RECORD, pyvenv.cfg) of a whole prefix, written to the store
    in one batch: one staging directory and one flush instead of one per file."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.items: dict[tuple[str, bool], bytes] = {}

    def add(self, data: bytes, executable: bool) -> dict:
        digest = hash_bytes(data)
        self.items[(digest, executable)] = data
        return {"type": "file", "hash": digest, "size": len(data), "executable": executable}

    def flush(self) -> None:
        if self.items:
            self.store.add_many([(data, exe) for (_h, exe), data in self.items.items()])
            self.items.clear()


class _Builder:
    def __init__(self, batch: BlobBatch, wheel: str) -> None:
        self.batch = batch
        self.wheel = wheel
        self.entries: dict[str, dict] = {}
        self.record: dict[str, tuple[str, int]] = {}

    def put(self, path: str, entry: dict, record_hash: str) -> None:
        if path in self.entries and self.entries[path] != entry:
            raise ArchiveError(f"{self.wheel} installs two different files at '{path}'")
        self.entries[path] = entry
        self.record[path] = (record_hash, entry["size"])

    def put_bytes(self, path: str, data: bytes, executable: bool) -> None:
        self.put(path, self.batch.add(data, executable), _record_hash(data))


@dataclass(frozen=True)
class PlacedWheel:
    """A wheel placed for one Python X.Y, split by what depends on the prefix: the core (every
    file but the scripts, whose shebangs name the prefix, and RECORD when it lists scripts) is
    the same in every prefix and cached; `finish` adds the rest per prefix."""

    dist_info: str
    record: dict[str, tuple[str, int]]  # core paths -> RECORD hash and size; empty when RECORD is in the core
    scripts: list[tuple[str, dict, str]]  # .data/scripts: (name, blob entry, RECORD hash)
    entry_points: dict | None  # entry_points.txt's blob entry, when it declares scripts

    @property
    def per_prefix(self) -> bool:
        return bool(self.scripts or self.entry_points)

    def extra_json(self) -> str:
        """What `finish` needs besides the core manifest, for the placement cache."""
        return json.dumps({"dist_info": self.dist_info, "record": self.record, "scripts": self.scripts,
                           "entry_points": self.entry_points})

    @classmethod
    def from_cache(cls, extra: str) -> PlacedWheel:
        d = json.loads(extra)
        record = {k: (v[0], v[1]) for k, v in d["record"].items()}
        scripts = [(n, e, h) for n, e, h in d["scripts"]]
        return cls(d["dist_info"], record, scripts, d["entry_points"])


def place_core(
    store: Store, manifest_id: str, wheel_filename: str, py_version: str, batch: BlobBatch
) -> tuple[dict, PlacedWheel]:
    """The core manifest document of installing this wheel for Python `py_version`, and what
    `finish` needs; generated files wait in `batch` until the caller flushes it."""
    entries: dict[str, dict] = manifest.entries(store, manifest_id)
    dist_info = next((p.split("/", 1)[0] for p in entries if p.split("/", 1)[0].endswith(".dist-info")), None)
    if dist_info is None:
        raise ArchiveError(f"{wheel_filename} has no .dist-info directory")
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    wheel_meta = read_blob(store, entries[f"{dist_info}/WHEEL"]) if f"{dist_info}/WHEEL" in entries else b""
    _check_wheel_version(wheel_meta, wheel_filename)
    original = _parse_record(read_blob(store, entries[f"{dist_info}/RECORD"]))
    dist_name = dist_info[: -len(".dist-info")].rpartition("-")[0]

    site = Layout(Path("/"), py_version).site_packages
    out = _Builder(batch, wheel_filename)
    scripts: list[tuple[str, dict, str]] = []
    for path, entry in entries.items():
        if entry["type"] != "file" or path == f"{dist_info}/RECORD":
            continue
        if path.endswith(".pyc") and shipped_pyc_replaced(path, entries, py_version, partial(read_blob, store, entry)):
            continue  # the store's own bytecode goes there (DESIGN: bytecode); RECORD leaves it out
        record_hash = original.get(path, "")
        top, _, rest = path.partition("/")
        if top != data_dir:
            out.put(f"{site}/{path}", _file(entry), record_hash)
            continue
        scheme, _, rel = rest.partition("/")
        if scheme in ("purelib", "platlib"):
            out.put(f"{site}/{rel}", _file(entry), record_hash)
        elif scheme == "scripts":
            name = posixpath.basename(rel)
            check_script_name(name, wheel_filename)
            scripts.append((name, _file(entry), record_hash))
        elif scheme == "headers":
            out.put(f"include/site/python{py_version}/{dist_name}/{rel}", _file(entry), record_hash)
        elif scheme == "data":
            if rel.startswith("bin/"):
                check_script_name(posixpath.basename(rel), wheel_filename)
            out.put(rel, _file(entry), record_hash)
        else:
            raise ArchiveError(f"unknown .data scheme '{scheme}' in {wheel_filename}")

    ep = entries.get(f"{dist_info}/entry_points.txt")
    # Parsed here, with a placeholder interpreter, so a malformed file fails the first placement.
    if ep is not None and not entry_point_scripts(read_blob(store, ep), "python", wheel_filename):
        ep = None
    out.put_bytes(f"{site}/{dist_info}/INSTALLER", INSTALLER, executable=False)
    placed = PlacedWheel(dist_info, dict(out.record), scripts, ep)
    if placed.per_prefix:
        for name, _entry, _h in scripts:
            _check_free(out.entries, f"bin/{name}", wheel_filename)
    else:
        out.entries[f"{site}/{dist_info}/RECORD"] = _record_entry(out, site, dist_info)
        placed = PlacedWheel(dist_info, {}, [], None)
    return manifest.document(out.entries), placed


def _check_free(taken: dict, path: str, wheel: str) -> None:
    if path in taken:
        raise ArchiveError(f"{wheel} installs two different files at '{path}'")


def finish(store: Store, placed: PlacedWheel, wheel_filename: str, layout: Layout, batch: BlobBatch) -> dict | None:
    """The per-prefix manifest document of a placed wheel: its scripts, with shebangs naming
    this prefix's interpreter, and the RECORD that lists them with every core file."""
    if not placed.per_prefix:
        return None
    out = _Builder(batch, wheel_filename)
    out.record.update(placed.record)
    for name, entry, record_hash in placed.scripts:
        content = read_blob(store, entry)
        rewritten = rewrite_script(content, layout.python)
        if rewritten == content and entry["executable"]:
            out.put(f"bin/{name}", _file(entry), record_hash)
        else:
            out.put_bytes(f"bin/{name}", rewritten, executable=True)
    if placed.entry_points is not None:
        ep = read_blob(store, placed.entry_points)
        for name, content in entry_point_scripts(ep, layout.python, wheel_filename).items():
            _check_free(placed.record, f"bin/{name}", wheel_filename)
            out.put_bytes(f"bin/{name}", content, executable=True)
    out.entries[f"{layout.site_packages}/{placed.dist_info}/RECORD"] = _record_entry(
        out, layout.site_packages, placed.dist_info
    )
    return manifest.document(out.entries)


def _record_entry(out: _Builder, site: str, dist_info: str) -> dict:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    inside = site + "/"
    for path in sorted(out.record):
        record_hash, size = out.record[path]
        # Most paths are below site-packages: slicing is exact there and far cheaper than relpath.
        rel = path[len(inside):] if path.startswith(inside) else posixpath.relpath(path, site)
        writer.writerow([rel, record_hash, size])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    return out.batch.add(buf.getvalue().encode(), False)


def _parse_record(data: bytes) -> dict[str, str]:
    rows = csv.reader(io.StringIO(data.decode("utf-8")))
    return {row[0]: row[1] for row in rows if row and len(row) >= 2}


def _check_wheel_version(wheel_meta: bytes, wheel: str) -> None:
    for line in wheel_meta.decode("utf-8", "replace").splitlines():
        if line.lower().startswith("wheel-version:"):
            major = line.split(":", 1)[1].strip().split(".")[0]
            if major != "1":
                raise ArchiveError(f"unsupported wheel major version {major} in {wheel}")
            return
    raise ArchiveError(f"{wheel} has no Wheel-Version in its WHEEL file")
