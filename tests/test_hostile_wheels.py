"""Hostile wheels: every one is rejected with the right error, and a rejected wheel leaves the
store exactly as it found it (no blob, no manifest, empty staging) and touches nothing outside."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from envstore._core import ArchiveError, EnvstoreError, Limits, Store  # noqa: E402
from wheel_factory import (  # noqa: E402
    S_IFBLK,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFLNK,
    S_IFREG,
    S_IFSOCK,
    add_central_extra,
    append_bytes,
    build_wheel,
    duplicate_central_entry,
    flip_data_byte,
    hide_member,
    patch_declared_size,
    patch_descriptor_crc,
    patch_eocd_count,
    patch_local_crc,
    patch_local_name,
    patch_local_size,
    patch_name_everywhere,
    prepend_bytes,
    record_hash,
    record_row,
    set_comment,
    truncate,
    unicode_path_extra,
    unix_attr,
)

WHEEL = "demo-1.0-py3-none-any.whl"
DIST_INFO = "demo-1.0.dist-info"
BASE = {
    "demo/__init__.py": b"from demo.mod import hello\n",
    "demo/mod.py": b"def hello():\n    return 'hello'\n" * 4,
}


def with_base(*pairs: tuple[str, bytes]) -> list[tuple[str, bytes]]:
    return list(BASE.items()) + list(pairs)


# --------------------------------------------------------------------------------------------
# Fixtures and the "nothing happened" check


@pytest.fixture
def wheel_dir(tmp_path: Path) -> Path:
    d = tmp_path / "wheels"
    d.mkdir()
    return d


@pytest.fixture
def store(store_root: Path) -> Store:
    return Store(store_root, fsync=False)


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """A directory next to the store that a path-traversing member would land in."""
    d = tmp_path / "canary"
    (d / "etc").mkdir(parents=True)
    (d / "keep.txt").write_bytes(b"original\n")
    (d / "etc" / "x").write_bytes(b"do not touch\n")
    return d


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[str, bytes]]:
    """Relative path -> (kind, content or link target) of everything under root."""
    out: dict[str, tuple[str, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir.parts[:1] and rel_dir.parts[0] in skip:
            continue
        for n in dirnames + filenames:
            p = Path(dirpath, n)
            rel = str(p.relative_to(root))
            if rel in skip:
                continue
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p).encode())
            elif p.is_dir():
                out[rel] = ("dir", b"")
            else:
                out[rel] = ("file", p.read_bytes())
    return out


def files_under(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if not p.is_dir()) if d.exists() else []


def assert_store_empty(root: Path) -> None:
    assert files_under(root / "blobs-v1") == [], "a rejected wheel left blobs behind"
    assert files_under(root / "manifests-v1") == [], "a rejected wheel left a manifest behind"
    assert sorted(os.listdir(root / "tmp")) == [], "staging was not cleaned up"
    assert sorted(os.listdir(root)) == ["blobs-v1", "manifests-v1", "tmp"]


# --------------------------------------------------------------------------------------------
# The cases


@dataclass
class Case:
    id: str
    build: Callable[[Path], Path]
    code: str
    reason: str  # substring of .reason and of the message
    member: str | None = None  # .member (unsafe-member, record-mismatch) or named in the message
    limits: Callable[[], Limits] | None = None
    reasons_any: tuple[str, ...] = field(default=())  # accept any of these instead of `reason`


def W(files=None, **kw) -> Callable[[Path], Path]:
    """A builder for build_wheel(dir, files=files, **kw)."""
    return lambda d: build_wheel(d, files=with_base() if files is None else files, **kw)


def then(builder: Callable[[Path], Path], *patches: Callable[[Path], object]) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        w = builder(d)
        for patch in patches:
            patch(w)
        return w
    return build


def unsafe(id: str, member: str, reason: str, **kw) -> Case:
    return Case(id, W(with_base((member, b"payload\n")), **kw), "unsafe-member", reason, member)


def attr_case(id: str, mode: int, reason: str, content: bytes = b"payload\n") -> Case:
    m = "demo/special"
    return Case(id, W(with_base((m, content)), external_attr={m: unix_attr(mode)}),
                "unsafe-member", reason, m)


def edit_row(member: str, hash_: str | None = None, size: str | None = None):
    def fn(rows):
        return [(p, hash_ if hash_ is not None and p == member else h,
                 size if size is not None and p == member else s) for p, h, s in rows]
    return fn


def add_rows(*new_rows):
    return lambda rows: rows[:-1] + list(new_rows) + rows[-1:]


UNSAFE_MEMBERS = [
    unsafe("parent-dir", "../x", "unsafe path (dot component)"),
    unsafe("absolute", "/etc/x", "unsafe path (absolute)"),
    unsafe("drive-letter", "C:/x", "unsafe path (drive letter)"),
    unsafe("backslash-parent", "..\\x", "unsafe path (backslash)"),
    unsafe("nested-parent", "a/../../b", "unsafe path (dot component)"),
    unsafe("dot-component", "./a.py", "unsafe path (dot component)"),
    unsafe("empty-component", "a//b.py", "unsafe path (empty component)"),
    unsafe("control-char", "demo/a\nb.py", "control character in path"),
    unsafe("escape-char", "demo/\x1b[31m.py", "control character in path"),
    Case("duplicate-name", W(with_base(("demo/dup.py", b"one\n"), ("demo/dup.py", b"two, evil\n"))),
         "unsafe-member", "duplicate member", "demo/dup.py"),
    Case("case-collision", W(with_base(("demo/A.py", b"upper\n"), ("demo/a.py", b"lower\n"))),
         "unsafe-member", "case- or normalisation-colliding member", "demo/a.py"),
    Case("case-collision-dir", W(with_base(("Demo/x.py", b"upper\n"), ("demo/x.py", b"lower\n"))),
         "unsafe-member", "case- or normalisation-colliding member", "demo/x.py"),
    Case("nfc-nfd-collision",
         W(with_base(("demo/\u00e9.py", b"nfc\n"), ("demo/e\u0301.py", b"nfd\n"))),
         "unsafe-member", "case- or normalisation-colliding member", "demo/e\u0301.py"),
    attr_case("symlink", S_IFLNK | 0o777, "unsupported file type (symlink)", b"/etc/passwd"),
    attr_case("symlink-relative-escape", S_IFLNK | 0o777, "unsupported file type (symlink)",
              b"../../../../etc/passwd"),
    attr_case("fifo", S_IFIFO | 0o644, "unsupported file type (FIFO)"),
    attr_case("char-device", S_IFCHR | 0o644, "unsupported file type (device)"),
    attr_case("block-device", S_IFBLK | 0o644, "unsupported file type (device)"),
    attr_case("socket", S_IFSOCK | 0o644, "unsupported file type (socket)"),
    attr_case("dir-mode-on-file", S_IFDIR | 0o755, "directory mode on a file member"),
    Case("non-utf8-name",
         then(W(with_base(("demo/Xmod.py", b"x\n"))),
              lambda w: patch_name_everywhere(w, "demo/Xmod.py", b"demo/\xffmod.py", utf8_flag=False)),
         "unsafe-member", "non-UTF-8 member name", "demo/\ufffdmod.py"),
    Case("missing-record", W(record=False), "unsafe-member", "missing RECORD", f"{DIST_INFO}/RECORD"),
]

BAD_ARCHIVES = [
    Case("local-name-differs",
         then(W(), lambda w: patch_local_name(w, "demo/mod.py", "demo/MOD.py")),
         "bad-archive", "local header name differs from the central directory", "demo/mod.py"),
    Case("local-crc-differs", then(W(), lambda w: patch_local_crc(w, "demo/mod.py")),
         "bad-archive", "local header CRC differs from the central directory", "demo/mod.py"),
    Case("local-size-differs", then(W(), lambda w: patch_local_size(w, "demo/mod.py", 7)),
         "bad-archive", "local header size differs from the central directory", "demo/mod.py"),
    Case("trailing-data", then(W(), lambda w: append_bytes(w, b"trailing bytes after the end")),
         "bad-archive", "trailing data after the end of central directory"),
    Case("trailing-short", then(W(), lambda w: append_bytes(w, b"\0")),
         "bad-archive", "trailing data after the end of central directory"),
    Case("appended-zip",
         lambda d: append_bytes(build_wheel(d, files=BASE),
                                build_wheel(d / "other", files={"evil.py": b"evil\n"}).read_bytes()),
         "bad-archive", "", reasons_any=("central directory", "unexpected data", "missing local header")),
    Case("comment-hides-local-header",
         then(W(), lambda w: set_comment(w, b"innocent PK\x03\x04 comment")),
         "bad-archive", "archive comment contains ZIP structures"),
    Case("comment-hides-end-record",
         then(W(), lambda w: set_comment(w, b"PK\x05\x06" + b"\0" * 18)),
         "bad-archive", "", reasons_any=("archive comment contains ZIP structures",
                                         "trailing data after the end of central directory",
                                         "central directory")),
    Case("bad-crc-stored",
         then(W(with_base(("demo/data.bin", b"stored payload " * 8)),
                compress_types={"demo/data.bin": zipfile.ZIP_STORED}),
              lambda w: flip_data_byte(w, "demo/data.bin", 5, 0x01)),
         "bad-archive", "bad CRC-32", "demo/data.bin"),
    Case("corrupt-deflate",
         then(W(with_base(("demo/text.py", b"".join(b"line %d of text\n" % i for i in range(2000))))),
              lambda w: flip_data_byte(w, "demo/text.py", 40)),
         "bad-archive", "", "demo/text.py",
         reasons_any=("corrupt compressed data", "bad CRC-32", "uncompressed size differs")),
    Case("lying-size-bomb",
         then(W(with_base(("demo/zeros.bin", bytes(4 << 20)))),
              lambda w: patch_declared_size(w, "demo/zeros.bin", 1000)),
         "bad-archive", "uncompressed size differs from the header", "demo/zeros.bin"),
    Case("truncated-half", then(W(), truncate), "bad-archive", "",
         reasons_any=("truncated archive", "not a ZIP archive")),
    Case("truncated-tail", then(W(), lambda w: truncate(w, -10)), "bad-archive", "",
         reasons_any=("truncated archive", "not a ZIP archive")),
    Case("too-short", then(W(), lambda w: truncate(w, 12)), "bad-archive", "not a ZIP archive"),
    Case("empty-file", then(W(), lambda w: truncate(w, 0)), "bad-archive", "not a ZIP archive"),
    Case("lzma", W(compress_types={"demo/mod.py": zipfile.ZIP_LZMA}),
         "bad-archive", "unsupported compression method 14", "demo/mod.py"),
    Case("bzip2", W(compress_types={"demo/mod.py": zipfile.ZIP_BZIP2}),
         "bad-archive", "unsupported compression method 12", "demo/mod.py"),
    Case("hidden-local-entry-first",
         then(W([("demo/evil.py", b"import os; os.system('x')\n")] + with_base(),
                record=lambda rows: [r for r in rows if r[0] != "demo/evil.py"]),
              lambda w: hide_member(w, "demo/evil.py")),
         "bad-archive", "unexpected data before member", "demo/__init__.py"),
    Case("hidden-local-entry-last",
         then(W(extra={"demo/evil.py": b"import os; os.system('x')\n"}),
              lambda w: hide_member(w, "demo/evil.py")),
         "bad-archive", "unexpected data between the last member and the central directory"),
    Case("prepended-data", then(W(), lambda w: prepend_bytes(w, b"#!/bin/sh\nexit 0\n")),
         "bad-archive", "", reasons_any=("central directory", "unexpected data", "missing local header")),
    Case("overlapping-entries", then(W(), lambda w: duplicate_central_entry(w, "demo/mod.py")),
         "bad-archive", "overlapping data at member", "demo/mod.py"),
    Case("descriptor-crc-differs",
         then(W(data_descriptor=True), lambda w: patch_descriptor_crc(w, "demo/mod.py")),
         "bad-archive", "data descriptor differs from the central directory", "demo/mod.py"),
    Case("lying-member-count",
         then(W(with_base(*((f"demo/m{i:04d}.py", b"") for i in range(2000)))),
              lambda w: patch_eocd_count(w, 5)),
         "bad-archive", "central directory entry count does not match the end record",
         limits=lambda: Limits(max_files=100)),
    Case("two-dist-info",
         W(with_base(("other-2.0.dist-info/METADATA", b"Name: other\nVersion: 2.0\n"))),
         "bad-archive", "expected exactly one .dist-info directory, found 2"),
    Case("no-dist-info", W(dist_info=False), "bad-archive",
         "expected exactly one .dist-info directory, found 0"),
]

RECORD_MISMATCHES = [
    Case("not-in-record", W(extra={"demo/extra.py": b"sneaked in\n"}),
         "record-mismatch", "not listed in RECORD", "demo/extra.py"),
    Case("wrong-sha256", W(record=edit_row("demo/mod.py", hash_=record_hash(b"something else"))),
         "record-mismatch", "sha256 differs", "demo/mod.py"),
    Case("wrong-size", W(record=edit_row("demo/mod.py", size="999")),
         "record-mismatch", "size differs", "demo/mod.py"),
    Case("listed-but-absent", W(record=add_rows(record_row("demo/ghost.py", b"boo\n"))),
         "record-mismatch", "listed in RECORD but not in the wheel", "demo/ghost.py"),
    Case("record-parent-escape", W(record=add_rows(record_row("../../etc/x", b"pwned\n"))),
         "record-mismatch", "unsafe path in RECORD", "../../etc/x"),
    Case("record-absolute", W(record=add_rows(record_row("/etc/passwd", b"root\n"))),
         "record-mismatch", "unsafe path in RECORD", "/etc/passwd"),
    Case("no-hash", W(record=edit_row("demo/mod.py", hash_="", size="")),
         "record-mismatch", "no hash in RECORD", "demo/mod.py"),
    Case("listed-twice", W(record=add_rows(record_row("demo/mod.py", BASE["demo/mod.py"]))),
         "record-mismatch", "listed twice", "demo/mod.py"),
    Case("md5-hash", W(record=edit_row("demo/mod.py", hash_="md5=1B2M2Y8AsgTpgAmY7PhCfg")),
         "record-mismatch", "unsupported hash algorithm 'md5'", "demo/mod.py"),
]

LIMITS = [
    Case("ratio-bomb", W(with_base(("demo/zeros.bin", bytes(50 << 20))))
         , "limit-exceeded", "compresses", "demo/zeros.bin", limits=lambda: Limits(max_ratio=100)),
    Case("too-many-members",
         W(with_base(*((f"demo/m{i:04d}.py", b"") for i in range(2000))), compress_type=zipfile.ZIP_STORED),
         "limit-exceeded", "(limit 100)", limits=lambda: Limits(max_files=100)),
    Case("file-too-large", W(with_base(("demo/big.bin", b"x" * 2000))),
         "limit-exceeded", "member 'demo/big.bin' is 2000 bytes (limit 1000)", "demo/big.bin",
         limits=lambda: Limits(max_file_size=1000)),
    Case("total-too-large",
         W(with_base(*((f"demo/f{i}.bin", bytes([i]) * 400) for i in range(4)))),
         "limit-exceeded", "more than 1000 bytes uncompressed", limits=lambda: Limits(max_total_size=1000)),
]

CASES = UNSAFE_MEMBERS + BAD_ARCHIVES + RECORD_MISMATCHES + LIMITS


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_wheel_is_rejected_and_leaves_nothing(
    case: Case, store: Store, store_root: Path, wheel_dir: Path, canary: Path, tmp_path: Path
) -> None:
    wheel = case.build(wheel_dir)
    assert wheel.name == WHEEL
    assert_store_empty(store_root)
    canary_before = snapshot(canary)
    outside_before = snapshot(tmp_path, skip=("store",))

    limits = case.limits() if case.limits else None
    with pytest.raises(ArchiveError) as info:
        store.ingest_wheel(wheel, limits=limits)
    e = info.value
    message = str(e)

    assert isinstance(e, EnvstoreError)
    assert e.code == case.code, message
    assert e.archive == wheel.name
    if case.reasons_any:
        assert any(r in e.reason for r in case.reasons_any), message
    assert case.reason in e.reason, message
    assert case.reason in message

    if case.code == "unsafe-member":
        assert e.member == case.member
        assert message == f"{e.reason} '{case.member}' in {wheel.name}"
    elif case.code == "record-mismatch":
        assert e.member == case.member
        assert message.startswith(f"RECORD mismatch for '{case.member}' in {wheel.name}: "), message
    elif case.code == "bad-archive":
        assert message.startswith(f"invalid archive {wheel.name}: "), message
        if case.member is not None:
            assert f"member '{case.member}'" in message, message
    else:
        assert message.startswith(f"{wheel.name} exceeds a limit: "), message
        if case.member is not None:
            assert f"'{case.member}'" in message, message

    assert_store_empty(store_root)
    assert snapshot(canary) == canary_before
    assert snapshot(tmp_path, skip=("store",)) == outside_before

    # The store is still usable, and the rejection did not poison it.
    good = store.ingest_wheel(build_wheel(wheel_dir / "good", files=BASE))
    assert good.new_blobs == len(files_under(store_root / "blobs-v1"))
    assert os.listdir(store_root / "tmp") == []


def test_rejection_after_blobs_were_staged_cleans_up(store: Store, store_root: Path, wheel_dir: Path) -> None:
    """Many good members are extracted and staged before the one bad RECORD hash is found."""
    files = with_base(*((f"demo/m{i:03d}.py", b"# module %d\n" % i) for i in range(200)))
    wheel = build_wheel(wheel_dir, files=files,
                        record=edit_row("demo/m199.py", hash_=record_hash(b"not it")))
    with pytest.raises(ArchiveError) as info:
        store.ingest_wheel(wheel)
    assert info.value.code == "record-mismatch"
    assert info.value.member == "demo/m199.py"
    assert_store_empty(store_root)


def test_rejection_does_not_touch_existing_blobs(store: Store, store_root: Path, wheel_dir: Path) -> None:
    first = store.ingest_wheel(build_wheel(wheel_dir / "good", files=BASE))
    before = snapshot(store_root)
    bad = build_wheel(wheel_dir, files=with_base(("demo/new.py", b"new content\n")),
                      record=edit_row("demo/new.py", size="1"))
    with pytest.raises(ArchiveError):
        store.ingest_wheel(bad)
    assert snapshot(store_root) == before
    assert os.listdir(store_root / "manifests-v1") == [f"{first.manifest_id}.json"]


# --------------------------------------------------------------------------------------------
# Positive controls: the factory's wheels are well formed and the core accepts them


def test_factory_wheel_is_valid_zip(wheel_dir: Path) -> None:
    wheel = build_wheel(wheel_dir, files=BASE)
    with zipfile.ZipFile(wheel) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        record = zf.read(f"{DIST_INFO}/RECORD").decode()
    assert names == [*BASE, f"{DIST_INFO}/METADATA", f"{DIST_INFO}/WHEEL", f"{DIST_INFO}/RECORD"]
    for name, data in BASE.items():
        assert ",".join(record_row(name, data)) in record.splitlines()
    assert f"{DIST_INFO}/RECORD,," in record.splitlines()


def test_good_wheel_ingests_and_dedupes(store: Store, store_root: Path, wheel_dir: Path) -> None:
    files = with_base(("demo/data.bin", b"\x00\x01" * 100), ("demo/bin/tool", b"#!/bin/sh\necho hi\n"))
    wheel = build_wheel(
        wheel_dir, files=files,
        external_attr={"demo/bin/tool": unix_attr(S_IFREG | 0o755)},
        compress_types={"demo/data.bin": zipfile.ZIP_STORED},
    )
    first = store.ingest_wheel(wheel)
    assert first.files == len(files) + 3
    blobs = files_under(store_root / "blobs-v1")
    assert first.new_blobs == len(blobs) == len(files) + 3
    assert any(p.name.endswith(".x") for p in blobs)
    for p in blobs:
        assert len(p.parent.name) == 2 and len(p.name.removesuffix(".x")) == 62
    assert (store_root / "manifests-v1" / f"{first.manifest_id}.json").is_file()
    assert os.listdir(store_root / "tmp") == []

    again = store.ingest_wheel(wheel)
    assert again.manifest_id == first.manifest_id
    assert again.new_blobs == 0 and again.new_bytes == 0
    assert files_under(store_root / "blobs-v1") == blobs
    assert os.listdir(store_root / "tmp") == []


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"comment": b"built by wheel_factory"}, id="plain-comment"),
        pytest.param({"compress_type": zipfile.ZIP_STORED}, id="all-stored"),
        pytest.param({"files": [("demo/", b""), *BASE.items()]}, id="directory-entry"),
        pytest.param({"files": with_base(("demo/\u00e9t\u00e9.py", b"utf8\n"))}, id="utf8-name"),
        pytest.param({"files": with_base(("demo/empty.py", b""))}, id="empty-file"),
        pytest.param({"force_zip64": True}, id="zip64-extra-fields"),
        pytest.param({"data_descriptor": True}, id="data-descriptors"),
    ],
)
def test_well_formed_variants_are_accepted(kw: dict, store: Store, store_root: Path, wheel_dir: Path) -> None:
    kw.setdefault("files", BASE)
    result = store.ingest_wheel(build_wheel(wheel_dir, **kw))
    assert result.new_blobs == len(files_under(store_root / "blobs-v1")) > 0
    assert os.listdir(store_root / "tmp") == []


def test_unicode_path_extra_field_is_rejected(
    store: Store, store_root: Path, wheel_dir: Path, canary: Path, tmp_path: Path
) -> None:
    """A central directory record whose Info-ZIP Unicode Path field (0x7075) renames the member:
    Info-ZIP unzip and Python >= 3.12 zipfile (hence pip there) read '../../evil.py' where the
    header says 'demo/safe.py'. Parsers disagree on the name, so the wheel must be refused."""
    wheel = build_wheel(wheel_dir, files=with_base(("demo/safe.py", b"print('hi')\n")))
    add_central_extra(wheel, "demo/safe.py", unicode_path_extra("demo/safe.py", "../../evil.py"))
    with zipfile.ZipFile(wheel) as zf:  # still a ZIP every reader opens
        assert zf.testzip() is None
    outside_before = snapshot(tmp_path, skip=("store",))

    with pytest.raises(ArchiveError) as info:
        store.ingest_wheel(wheel)
    e = info.value
    assert e.code in ("bad-archive", "unsafe-member"), str(e)
    assert "demo/safe.py" in str(e) or "evil.py" in str(e), str(e)
    assert_store_empty(store_root)
    assert snapshot(tmp_path, skip=("store",)) == outside_before


# --------------------------------------------------------------------------------------------
# The CLI


@pytest.mark.parametrize(
    "files, member",
    [
        pytest.param(with_base(("../x", b"escape\n")), "../x", id="unsafe-member"),
        pytest.param(with_base(("demo/a.py", b"a\n"), ("demo/A.py", b"b\n")), "demo/A.py", id="collision"),
    ],
)
def test_cli_rejects_hostile_wheel(files, member: str, store_root: Path, wheel_dir: Path, canary: Path) -> None:
    wheel = build_wheel(wheel_dir, files=files)
    before = snapshot(canary)
    proc = subprocess.run(
        ["store", "--store", str(store_root), "ingest", str(wheel)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith("error:"), proc.stderr
    assert f"'{member}'" in proc.stderr
    assert wheel.name in proc.stderr
    assert "Traceback" not in proc.stderr
    assert_store_empty(store_root)
    assert snapshot(canary) == before


def test_cli_accepts_good_wheel(store_root: Path, wheel_dir: Path) -> None:
    wheel = build_wheel(wheel_dir, files=BASE)
    proc = subprocess.run(
        ["store", "--store", str(store_root), "ingest", str(wheel)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    manifest_id = proc.stdout.strip()
    assert (store_root / "manifests-v1" / f"{manifest_id}.json").is_file()
    assert os.listdir(store_root / "tmp") == []


def test_cli_rejected_name_mismatch_leaves_nothing(store_root: Path, wheel_dir: Path) -> None:
    """The file name says demo 1.0, the wheel is other 1.0: the CLI rejects it, and (README:
    "A rejected wheel publishes nothing"; `store ingest --help`: "a rejected wheel leaves
    nothing behind") must not leave the other project's blobs and manifest in the store."""
    wheel = build_wheel(wheel_dir, name="other", files={"other/__init__.py": b"x = 1\n"},
                        filename=WHEEL)
    proc = subprocess.run(
        ["store", "--store", str(store_root), "ingest", str(wheel)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith("error:") and "other-1.0.dist-info" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert_store_empty(store_root)
