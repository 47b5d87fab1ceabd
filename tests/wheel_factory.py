"""Build small wheels with `zipfile`, then damage them byte by byte.

`build_wheel` writes a wheel that passes every check of the core (a single
`<name>-<version>.dist-info` with METADATA, WHEEL and a RECORD holding urlsafe-base64, unpadded
sha256 digests and sizes) unless told otherwise. The patch helpers work on the finished file
and change exactly the bytes they name, so a test can break one rule at a time.

Plain module, no pytest dependency: `from wheel_factory import build_wheel, ...`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence, Union

Files = Union[Mapping[str, bytes], Iterable[tuple[str, bytes]]]
Row = tuple[str, str, str]

SIG_LOCAL = b"PK\x03\x04"
SIG_CENTRAL = b"PK\x01\x02"
SIG_EOCD = b"PK\x05\x06"
FLAG_UTF8 = 1 << 11

S_IFREG = 0o100000
S_IFDIR = 0o040000
S_IFLNK = 0o120000
S_IFIFO = 0o010000
S_IFCHR = 0o020000
S_IFBLK = 0o060000
S_IFSOCK = 0o140000


def unix_attr(mode: int) -> int:
    """`external_attr` for a Unix `st_mode` (file type and permission bits)."""
    return (mode & 0xFFFF) << 16


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def record_row(path: str, data: bytes) -> Row:
    return (path, record_hash(data), str(len(data)))


def render_record(rows: Iterable[Sequence[str]]) -> bytes:
    """RECORD text: one `path,hash,size` row per line (paths here never need CSV quoting)."""
    return "".join(",".join(row) + "\n" for row in rows).encode("utf-8")


def wheel_filename(name: str, version: str, tag: str = "py3-none-any") -> str:
    return f"{name}-{version}-{tag}.whl"


class _Unseekable(io.RawIOBase):
    """A write-only stream without seek/tell: zipfile then writes data descriptors."""

    def __init__(self, f) -> None:
        super().__init__()
        self._f = f

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        return self._f.write(b)

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError("unseekable")

    def flush(self) -> None:
        if not self._f.closed:
            self._f.flush()


def _pairs(files: Files | None) -> list[tuple[str, bytes]]:
    if files is None:
        return []
    if isinstance(files, Mapping):
        return list(files.items())
    return [(n, d) for n, d in files]


def build_wheel(
    path_dir: Path | str,
    name: str = "demo",
    version: str = "1.0",
    files: Files | None = None,
    *,
    record: bool | bytes | str | Callable[[list[Row]], Iterable[Sequence[str]]] = True,
    extra: Files | None = None,
    external_attr: Mapping[str, int] | None = None,
    compress_type: int = zipfile.ZIP_DEFLATED,
    compress_types: Mapping[str, int] | None = None,
    metadata: bytes | None = None,
    wheel_meta: bytes | None = None,
    comment: bytes = b"",
    dist_info: bool = True,
    force_zip64: bool = False,
    data_descriptor: bool = False,
    filename: str | None = None,
    tag: str = "py3-none-any",
) -> Path:
    """Write a wheel into `path_dir` and return its path.

    files           members written first, in order: a dict, or (name, data) pairs (pairs
                    allow duplicate names; zipfile's duplicate-name warning is suppressed).
    record          True: a correct RECORD listing every member of `files` and the dist-info
                    (a name listed once even if duplicated); False: no RECORD member; bytes or
                    str: that exact RECORD; a callable: given the correct rows (the RECORD row
                    last, hashless), returns the rows to write.
    extra           members written after RECORD and never listed in it.
    external_attr   member name -> ZipInfo.external_attr (see `unix_attr`); default 0o644 file.
    compress_type   method for every member; `compress_types` overrides it per member name.
    dist_info       False: write only `files` and `extra` (no METADATA, WHEEL or RECORD).
    force_zip64     give every file member ZIP64 extra fields in its local header.
    data_descriptor write as to an unseekable stream: CRC and sizes follow the data.
    """
    path_dir = Path(path_dir)
    path_dir.mkdir(parents=True, exist_ok=True)
    out = path_dir / (filename or wheel_filename(name, version, tag))
    di = f"{name}-{version}.dist-info"
    payload = _pairs(files)
    meta = [
        (f"{di}/METADATA", metadata if metadata is not None
         else f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()),
        (f"{di}/WHEEL", wheel_meta if wheel_meta is not None
         else f"Wheel-Version: 1.0\nGenerator: wheel_factory\nRoot-Is-Purelib: true\nTag: {tag}\n".encode()),
    ] if dist_info else []
    record_name = f"{di}/RECORD"

    rows: list[Row] = []
    seen: set[str] = set()
    for n, d in payload + meta:
        if n not in seen and not n.endswith("/"):
            seen.add(n)
            rows.append(record_row(n, d))
    rows.append((record_name, "", ""))

    members = payload + meta
    if not dist_info or record is False:
        pass
    elif record is True:
        members.append((record_name, render_record(rows)))
    elif isinstance(record, (bytes, str)):
        members.append((record_name, record.encode() if isinstance(record, str) else record))
    else:
        members.append((record_name, render_record(record(list(rows)))))
    members += _pairs(extra)

    attrs = dict(external_attr or {})
    methods = dict(compress_types or {})
    with warnings.catch_warnings(), open(out, "wb") as raw, \
            (_Unseekable(raw) if data_descriptor else contextlib.nullcontext(raw)) as sink:
        warnings.simplefilter("ignore")  # "Duplicate name" from zipfile, on purpose
        with zipfile.ZipFile(sink, "w") as zf:
            for n, d in members:
                info = zipfile.ZipInfo(n, date_time=(2020, 1, 1, 0, 0, 0))
                info.create_system = 3  # Unix, so the core reads the mode bits
                info.compress_type = methods.get(n, compress_type)
                default = S_IFDIR | 0o755 if n.endswith("/") else S_IFREG | 0o644
                info.external_attr = attrs.get(n, unix_attr(default))
                if n.endswith("/"):
                    info.external_attr |= 0x10  # MS-DOS directory bit, as zipfile sets it
                    zf.writestr(info, d)
                elif force_zip64:
                    with zf.open(info, "w", force_zip64=True) as f:
                        f.write(d)
                else:
                    zf.writestr(info, d)
            zf.comment = comment
    return out


# --------------------------------------------------------------------------------------------
# Reading the structure back (only what the patch helpers need; no ZIP64).


@dataclass
class CentralEntry:
    offset: int  # of the central directory record in the file
    length: int  # of the whole record (46 + name + extra + comment)
    name: bytes
    flags: int
    crc: int
    compressed_size: int
    size: int
    local_offset: int


@dataclass
class Layout:
    eocd: int
    cd_offset: int
    cd_size: int
    count: int
    entries: list[CentralEntry]


def _eocd(buf: bytes | bytearray) -> int:
    pos = bytes(buf).rfind(SIG_EOCD)
    if pos < 0:
        raise ValueError("no end of central directory record")
    return pos


def layout(buf: bytes | bytearray) -> Layout:
    eocd = _eocd(buf)
    count, cd_size, cd_offset = struct.unpack_from("<HII", buf, eocd + 10)
    entries = []
    pos = cd_offset
    while pos < cd_offset + cd_size:
        assert buf[pos:pos + 4] == SIG_CENTRAL, f"bad central record at {pos}"
        flags, = struct.unpack_from("<H", buf, pos + 8)
        crc, csize, size, nlen, elen, clen = struct.unpack_from("<IIIHHH", buf, pos + 16)
        local, = struct.unpack_from("<I", buf, pos + 42)
        length = 46 + nlen + elen + clen
        entries.append(CentralEntry(pos, length, bytes(buf[pos + 46:pos + 46 + nlen]), flags, crc,
                                    csize, size, local))
        pos += length
    return Layout(eocd, cd_offset, cd_size, count, entries)


def _entry(buf: bytes | bytearray, member: str | bytes, index: int = 0) -> CentralEntry:
    raw = member.encode("utf-8") if isinstance(member, str) else member
    found = [e for e in layout(buf).entries if e.name == raw]
    if len(found) <= index:
        raise KeyError(f"no member {member!r} (#{index}) in the central directory")
    return found[index]


def data_offset(buf: bytes | bytearray, member: str | bytes, index: int = 0) -> int:
    """Offset of the first byte of the member's (compressed) data."""
    e = _entry(buf, member, index)
    assert buf[e.local_offset:e.local_offset + 4] == SIG_LOCAL
    nlen, elen = struct.unpack_from("<HH", buf, e.local_offset + 26)
    return e.local_offset + 30 + nlen + elen


def _edit(path: Path | str, fn: Callable[[bytearray], bytes | bytearray | None]) -> Path:
    path = Path(path)
    buf = bytearray(path.read_bytes())
    result = fn(buf)
    path.write_bytes(bytes(buf if result is None else result))
    return path


# --------------------------------------------------------------------------------------------
# Byte patches. Each takes the wheel path, rewrites it in place and returns the path.


def patch_local_name(path: Path | str, member: str, new_name: str | bytes) -> Path:
    """Change the name in the member's local header only (same length, so nothing moves)."""
    new = new_name.encode("utf-8") if isinstance(new_name, str) else new_name

    def fn(buf: bytearray) -> None:
        e = _entry(buf, member)
        assert len(new) == len(e.name), "the new local name must keep the length"
        start = e.local_offset + 30
        buf[start:start + len(new)] = new
    return _edit(path, fn)


def patch_local_crc(path: Path | str, member: str, crc: int | None = None) -> Path:
    """Set the CRC-32 in the member's local header (default: the central one, inverted)."""
    def fn(buf: bytearray) -> None:
        e = _entry(buf, member)
        struct.pack_into("<I", buf, e.local_offset + 14, (e.crc ^ 0xFFFFFFFF) if crc is None else crc)
    return _edit(path, fn)


def patch_local_size(path: Path | str, member: str, size: int) -> Path:
    """Set the uncompressed size in the member's local header only."""
    def fn(buf: bytearray) -> None:
        struct.pack_into("<I", buf, _entry(buf, member).local_offset + 22, size)
    return _edit(path, fn)


def patch_declared_size(path: Path | str, member: str, size: int) -> Path:
    """Make both headers lie about the member's uncompressed size (they still agree)."""
    def fn(buf: bytearray) -> None:
        e = _entry(buf, member)
        struct.pack_into("<I", buf, e.local_offset + 22, size)
        struct.pack_into("<I", buf, e.offset + 24, size)
    return _edit(path, fn)


def patch_name_everywhere(path: Path | str, member: str | bytes, new_name: bytes,
                          utf8_flag: bool | None = None) -> Path:
    """Replace the name bytes in both headers (same length); optionally set/clear the UTF-8 flag."""
    def fn(buf: bytearray) -> None:
        e = _entry(buf, member)
        assert len(new_name) == len(e.name), "the new name must keep the length"
        buf[e.offset + 46:e.offset + 46 + len(new_name)] = new_name
        buf[e.local_offset + 30:e.local_offset + 30 + len(new_name)] = new_name
        if utf8_flag is not None:
            for flag_at in (e.offset + 8, e.local_offset + 6):
                flags, = struct.unpack_from("<H", buf, flag_at)
                flags = flags | FLAG_UTF8 if utf8_flag else flags & ~FLAG_UTF8
                struct.pack_into("<H", buf, flag_at, flags)
    return _edit(path, fn)


def flip_data_byte(path: Path | str, member: str, offset: int = 0, mask: int = 0xFF) -> Path:
    """XOR one byte of the member's stored/compressed data (headers untouched)."""
    def fn(buf: bytearray) -> None:
        e = _entry(buf, member)
        assert 0 <= offset < e.compressed_size, "offset outside the member's data"
        buf[data_offset(buf, member) + offset] ^= mask
    return _edit(path, fn)


def append_bytes(path: Path | str, data: bytes) -> Path:
    """Trailing data after the end of central directory record."""
    return _edit(path, lambda buf: buf + data)


def prepend_bytes(path: Path | str, data: bytes) -> Path:
    """Data before the first local header; offsets are left as they were (now all wrong)."""
    return _edit(path, lambda buf: data + buf)


def set_comment(path: Path | str, comment: bytes) -> Path:
    """Replace the archive comment (and its length field in the end record)."""
    def fn(buf: bytearray) -> bytearray:
        eocd = _eocd(buf)
        head = bytearray(buf[:eocd + 22])
        struct.pack_into("<H", head, eocd + 20, len(comment))
        return head + comment
    return _edit(path, fn)


def truncate(path: Path | str, size: int | None = None, *, fraction: float = 0.5) -> Path:
    """Keep the first `size` bytes (negative: drop that many), default half the file."""
    def fn(buf: bytearray) -> bytearray:
        keep = int(len(buf) * fraction) if size is None else (len(buf) + size if size < 0 else size)
        return buf[:keep]
    return _edit(path, fn)


def hide_member(path: Path | str, member: str) -> Path:
    """Drop the member's central directory record but keep its local header and data, so the
    local entry is still in the file where a streaming parser would find it."""
    def fn(buf: bytearray) -> bytearray:
        lay = layout(buf)
        e = _entry(buf, member)
        out = buf[:e.offset] + buf[e.offset + e.length:]
        eocd = lay.eocd - e.length
        struct.pack_into("<HHI", out, eocd + 8, lay.count - 1, lay.count - 1, lay.cd_size - e.length)
        return out
    return _edit(path, fn)


def duplicate_central_entry(path: Path | str, member: str) -> Path:
    """Add a second central directory record pointing at the same local header."""
    def fn(buf: bytearray) -> bytearray:
        lay = layout(buf)
        e = _entry(buf, member)
        rec = buf[e.offset:e.offset + e.length]
        end = lay.cd_offset + lay.cd_size
        out = buf[:end] + rec + buf[end:]
        eocd = lay.eocd + e.length
        struct.pack_into("<HHI", out, eocd + 8, lay.count + 1, lay.count + 1, lay.cd_size + e.length)
        return out
    return _edit(path, fn)


def patch_eocd_count(path: Path | str, count: int) -> Path:
    """Make the end record claim `count` members (the central directory is left as it is)."""
    def fn(buf: bytearray) -> None:
        struct.pack_into("<HH", buf, _eocd(buf) + 8, count, count)
    return _edit(path, fn)


def patch_descriptor_crc(path: Path | str, member: str, crc: int | None = None) -> Path:
    """Set the CRC-32 in the member's data descriptor (default: the central one, inverted)."""
    def fn(buf: bytearray) -> None:
        e = _entry(buf, member)
        assert e.flags & 0x08, "member has no data descriptor"
        at = data_offset(buf, member) + e.compressed_size
        if buf[at:at + 4] == b"PK\x07\x08":
            at += 4
        struct.pack_into("<I", buf, at, (e.crc ^ 0xFFFFFFFF) if crc is None else crc)
    return _edit(path, fn)


def unicode_path_extra(central_name: str | bytes, unicode_name: str) -> bytes:
    """An Info-ZIP Unicode Path extra field (0x7075). Readers that honour it (Info-ZIP unzip,
    Python 3.12+ zipfile, ...) use `unicode_name` instead of the header's name when the CRC-32
    of the header's name matches."""
    raw = central_name.encode("utf-8") if isinstance(central_name, str) else central_name
    body = struct.pack("<BI", 1, zlib.crc32(raw)) + unicode_name.encode("utf-8")
    return struct.pack("<HH", 0x7075, len(body)) + body


def add_central_extra(path: Path | str, member: str, extra: bytes) -> Path:
    """Append `extra` to the extra field of the member's central directory record."""
    def fn(buf: bytearray) -> bytearray:
        lay = layout(buf)
        e = _entry(buf, member)
        nlen, elen = struct.unpack_from("<HH", buf, e.offset + 28)
        at = e.offset + 46 + nlen + elen
        out = buf[:at] + extra + buf[at:]
        struct.pack_into("<H", out, e.offset + 30, elen + len(extra))
        struct.pack_into("<I", out, lay.eocd + len(extra) + 12, lay.cd_size + len(extra))
        return out
    return _edit(path, fn)
