"""A package index on 127.0.0.1 for tests: PEP 503 HTML and PEP 691 JSON project pages (chosen
by the Accept header), PEP 658 .metadata sidecars, PEP 592 yanked, requires-python, ETags and
304s, HTTP range requests, and switchable faults (status codes, slow responses, a tampered
sidecar). Wheels are built here with zipfile from METADATA fields the test chooses."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from packaging.utils import canonicalize_name


def build_wheel(dest: Path, name: str, version: str, requires: list[str] | tuple[str, ...] = (),
                requires_python: str | None = None, tag: str = "py3-none-any",
                extras: dict[str, list[str]] | None = None) -> Path:
    """A minimal valid wheel: one module, METADATA, WHEEL, RECORD."""
    dist = name.replace("-", "_")
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    for extra, reqs in (extras or {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f"Requires-Dist: {r}; extra == \"{extra}\"" for r in reqs]
    metadata = ("\n".join(lines) + "\n").encode()
    files = {
        f"{dist}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{dist}-{version}.dist-info/METADATA": metadata,
        f"{dist}-{version}.dist-info/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}-{version}.dist-info/RECORD,,")
    files[f"{dist}-{version}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p, data in files.items():
            info = zipfile.ZipInfo(p, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


@dataclass
class Entry:
    path: Path
    yanked: str | None = None
    requires_python: str | None = None
    sidecar: bool = True

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def metadata(self) -> bytes:
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA")))


@dataclass
class LocalIndex:
    root: Path
    projects: dict[str, list[Entry]] = field(default_factory=dict)
    # path prefix -> ("status", code) | ("sleep", seconds) | ("bad-sidecar", None)
    faults: dict[str, tuple[str, object]] = field(default_factory=dict)
    html_only: bool = False
    no_range: bool = False
    hits: list[str] = field(default_factory=list)
    url: str = ""

    def add(self, name: str, version: str, requires: list[str] | tuple[str, ...] = (), *,
            requires_python: str | None = None, tag: str = "py3-none-any", yanked: str | None = None,
            sidecar: bool = True, extras: dict[str, list[str]] | None = None) -> Entry:
        path = build_wheel(self.root / "files", name, version, requires, requires_python, tag, extras)
        entry = Entry(path, yanked, requires_python, sidecar)
        self.projects.setdefault(canonicalize_name(name), []).append(entry)
        return entry

    def add_file(self, name: str, path: Path, *, requires_python: str | None = None) -> Entry:
        """Serve a file made elsewhere (an sdist, a wheel a real tool built) under `name`; no
        PEP 658 sidecar, since only wheels have one here."""
        dest = self.root / "files" / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest != path:
            dest.write_bytes(path.read_bytes())
        entry = Entry(dest, None, requires_python, sidecar=False)
        self.projects.setdefault(canonicalize_name(name), []).append(entry)
        return entry

    @property
    def simple(self) -> str:
        return f"{self.url}/simple/"

    def page(self, name: str, as_json: bool) -> tuple[bytes, str]:
        entries = self.projects[name]
        if as_json:
            files = []
            for e in entries:
                f: dict[str, object] = {"filename": e.path.name, "url": f"../../files/{e.path.name}",
                                        "hashes": {"sha256": e.sha256}, "size": e.path.stat().st_size}
                if e.requires_python:
                    f["requires-python"] = e.requires_python
                if e.yanked is not None:
                    f["yanked"] = e.yanked or True
                if e.sidecar:
                    f["core-metadata"] = {"sha256": hashlib.sha256(e.metadata()).hexdigest()}
                files.append(f)
            body = {"meta": {"api-version": "1.1"}, "name": name, "files": files}
            return json.dumps(body).encode(), "application/vnd.pypi.simple.v1+json"
        links = []
        for e in entries:
            attrs = f'href="../../files/{e.path.name}#sha256={e.sha256}"'
            if e.requires_python:
                attrs += f' data-requires-python="{html.escape(e.requires_python)}"'
            if e.yanked is not None:
                attrs += f' data-yanked="{html.escape(e.yanked)}"'
            if e.sidecar:
                attrs += f' data-dist-info-metadata="sha256={hashlib.sha256(e.metadata()).hexdigest()}"'
            links.append(f"<a {attrs}>{e.path.name}</a><br/>")
        return f"<!DOCTYPE html><html><body>{''.join(links)}</body></html>".encode(), "text/html"


def _handler(index: LocalIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", ctype: str = "application/octet-stream",
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:  # noqa: N802 - uv asks before it downloads; envstore does not
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            index.hits.append(self.path)
            for prefix, (kind, arg) in index.faults.items():
                if self.path.startswith(prefix):
                    if kind == "status":
                        return self._send(int(arg), b"fault")  # type: ignore[arg-type]
                    if kind == "sleep":
                        time.sleep(float(arg))  # type: ignore[arg-type]
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[0] == "simple" and len(parts) == 2:
                name = canonicalize_name(parts[1])
                if name not in index.projects:
                    return self._send(404, b"not found")
                as_json = not index.html_only and "application/vnd.pypi.simple.v1+json" in (self.headers.get("Accept") or "")
                body, ctype = index.page(name, as_json)
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", ctype, {"ETag": etag})
                return self._send(200, body, ctype, {"ETag": etag, "Cache-Control": "max-age=0"})
            if parts[0] == "files" and len(parts) == 2:
                fname = parts[1]
                want_meta = fname.endswith(".metadata")
                fname = fname[: -len(".metadata")] if want_meta else fname
                entry = next((e for es in index.projects.values() for e in es if e.path.name == fname), None)
                if entry is None or (want_meta and not entry.sidecar):
                    return self._send(404, b"not found")
                if want_meta:
                    data = entry.metadata()
                    if index.faults.get("bad-sidecar", ("", None))[1] == fname:
                        data += b"Requires-Dist: injected\n"
                    return self._send(200, data, "text/plain")
                data = entry.path.read_bytes()
                rng = self.headers.get("Range")
                if rng and not index.no_range:
                    spec = rng.split("=", 1)[1]
                    lo_s, hi_s = spec.split("-")
                    if lo_s == "":
                        lo, hi = max(0, len(data) - int(hi_s)), len(data) - 1
                    else:
                        lo, hi = int(lo_s), min(int(hi_s or len(data) - 1), len(data) - 1)
                    return self._send(206, data[lo:hi + 1], extra={"Content-Range": f"bytes {lo}-{hi}/{len(data)}"})
                return self._send(200, data)
            return self._send(404, b"not found")

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that time out on purpose leave broken pipes behind


class ServedIndex:
    def __init__(self, root: Path) -> None:
        self.index = LocalIndex(root)
        self.server = _QuietServer(("127.0.0.1", 0), _handler(self.index))
        self.server.daemon_threads = True
        self.index.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalIndex:
        self.thread.start()
        return self.index

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_index(tmp_path: Path) -> Iterator[LocalIndex]:
    with ServedIndex(tmp_path / "index") as index:
        yield index
