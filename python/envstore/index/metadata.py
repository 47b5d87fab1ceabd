"""Core metadata (METADATA) of one wheel, fetched as cheaply as the index allows: the PEP 658
metadata file (hash checked), else just the bytes of METADATA through HTTP range requests, else
the whole wheel (hash checked and kept under the store for realize). Never trusts unverified
bytes into the cache."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from envstore.index.errors import IndexFetchError, IntegrityError, InvalidMetadata, OfflineMiss
from envstore.index.http import HttpClient, NotFound, file_url_to_path
from envstore.index.lenient import lenient_requirement
from envstore.index.simple import ProjectFile
from envstore.store.fs import write_atomic

RANGE_CHUNK = 64 * 1024


@dataclass(frozen=True)
class CoreMetadata:
    name: str
    version: str
    requires_dist: tuple[Requirement, ...]
    requires_python: str | None
    provides_extra: tuple[str, ...]


def parse_metadata(data: bytes, source: str) -> CoreMetadata:
    """`source` is the wheel's filename (or URL), named when a line cannot be read. Requires-Dist
    lines in the legacy forms old wheels carry are repaired as pip < 24.1 and uv read them.
    Memoised by content: a version's wheels for each platform and python carry the same
    METADATA, and a universal lock reads it once per environment."""
    hit = _parsed.get(data)
    if hit is None:
        hit = _parsed[data] = _parse_metadata(data, source)
    return hit


_parsed: dict[bytes, CoreMetadata] = {}


def _parse_metadata(data: bytes, source: str) -> CoreMetadata:
    msg = HeaderParser().parsestr(data.decode("utf-8", "replace"))
    reqs = []
    for line in msg.get_all("Requires-Dist") or []:
        try:
            reqs.append(lenient_requirement(line)[0])
        except InvalidRequirement as e:
            filename = source.rsplit("/", 1)[-1]
            raise InvalidMetadata(str(msg.get("Name", "") or filename), str(msg.get("Version", "")), filename,
                                  "Requires-Dist", line, str(e)) from None
    return CoreMetadata(
        name=str(msg.get("Name", "")), version=str(msg.get("Version", "")), requires_dist=tuple(reqs),
        requires_python=(msg.get("Requires-Python") or None),
        provides_extra=tuple(canonicalize_name(e) for e in msg.get_all("Provides-Extra") or []),
    )


class MetadataFetcher:
    def __init__(self, http: HttpClient, wheel_dir: Path | None) -> None:
        self.http = http
        self.wheel_dir = wheel_dir  # STORE/cache/wheels-v1: full downloads kept for realize

    def fetch(self, pf: ProjectFile) -> CoreMetadata:
        data = self._fetch_bytes(pf)
        meta = parse_metadata(data, pf.url)
        name, version, _, _ = parse_wheel_filename(pf.filename)
        # A metadata file that disagrees with its wheel's name is a broken or hostile index.
        if canonicalize_name(meta.name) != name or (meta.version and str(version) != _norm(meta.version)):
            raise IntegrityError("metadata name/version", pf.url, f"{name} {version}", f"{meta.name} {meta.version}")
        return meta

    def _fetch_bytes(self, pf: ProjectFile) -> bytes:
        if pf.url.startswith("file:") or "://" not in pf.url:
            path = file_url_to_path(pf.url) if pf.url.startswith("file:") else Path(pf.url)
            with zipfile.ZipFile(path) as zf:
                return _read_metadata_member(zf, pf)
        if pf.metadata is not None:
            murl = pf.url + ".metadata"
            try:
                # The hash is checked before anything is cached (fail closed).
                return self.http.get_cached(murl, immutable=True, sha256=pf.metadata.get("sha256"),
                                            what="metadata file").body
            except NotFound:
                pass  # advertised but missing: read METADATA from the wheel itself
        cache_key = pf.url + "#METADATA"
        if self.http.cache is not None:
            entry = self.http.cache.get(cache_key + "\n")
            if entry is not None:
                return entry.body
        if self.http.offline:
            raise OfflineMiss(pf.url)
        data = self._from_wheel(pf)
        self.http.put_immutable(cache_key, data)
        return data

    def _from_wheel(self, pf: ProjectFile) -> bytes:
        try:
            first = self.http.request(pf.url, {"Range": f"bytes=-{RANGE_CHUNK}"})
        except NotFound:
            raise IndexFetchError(pf.url, "the index lists this wheel but the file is missing", 404) from None
        if first.status == 206:
            total = _total_size(first.headers.get("content-range", ""))
            if total is not None:
                lazy = _LazyHttpFile(self.http, pf.url, total, first.body)
                with zipfile.ZipFile(lazy) as zf:
                    return _read_metadata_member(zf, pf)
        # No range support: we have the whole wheel. Check it and keep it for realize.
        body = first.body
        if pf.sha256:
            actual = hashlib.sha256(body).hexdigest()
            if actual != pf.sha256:
                raise IntegrityError("wheel", pf.url, pf.sha256, actual)
            if self.wheel_dir is not None:
                dest = self.wheel_dir / pf.sha256 / pf.filename
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    write_atomic(dest, body)
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            return _read_metadata_member(zf, pf)


def _norm(version: str) -> str:
    from packaging.version import InvalidVersion, Version

    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def _read_metadata_member(zf: zipfile.ZipFile, pf: ProjectFile) -> bytes:
    candidates = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
    if len(candidates) != 1:
        raise IndexFetchError(pf.url, f"wheel has {len(candidates)} top-level .dist-info/METADATA files, expected 1")
    return zf.read(candidates[0])


def _total_size(content_range: str) -> int | None:
    m = re.match(r"bytes \d+-\d+/(\d+)", content_range)
    return int(m.group(1)) if m else None


class _LazyHttpFile(io.RawIOBase):
    """A read-only, seekable view of a remote file that fetches only the ranges zipfile reads
    (the central directory and one member), in RANGE_CHUNK-aligned blocks."""

    def __init__(self, http: HttpClient, url: str, size: int, tail: bytes) -> None:
        self.http, self.url, self.size = http, url, size
        self.pos = 0
        self.blocks: dict[int, bytes] = {}
        self._tail_start = size - len(tail)
        self._tail = tail

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else self.pos + offset if whence == 1 else self.size + offset
        return self.pos

    def read(self, n: int = -1) -> bytes:
        end = self.size if n is None or n < 0 else min(self.size, self.pos + n)
        out = self._range(self.pos, end)
        self.pos = end
        return out

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def _range(self, start: int, end: int) -> bytes:
        if start >= end:
            return b""
        if start >= self._tail_start:
            return self._tail[start - self._tail_start:end - self._tail_start]
        first, last = start // RANGE_CHUNK, (end - 1) // RANGE_CHUNK
        missing = [i for i in range(first, last + 1) if i not in self.blocks]
        if missing:
            lo, hi = missing[0] * RANGE_CHUNK, min(self.size, (missing[-1] + 1) * RANGE_CHUNK)
            r = self.http.request(self.url, {"Range": f"bytes={lo}-{hi - 1}"})
            data = r.body if r.status == 206 else r.body[lo:hi]
            for i in range(missing[0], missing[-1] + 1):
                off = i * RANGE_CHUNK - lo
                self.blocks[i] = data[off:off + RANGE_CHUNK]
        buf = b"".join(self.blocks[i] for i in range(first, last + 1))
        base = first * RANGE_CHUNK
        return buf[start - base:end - base]
