"""Hostile and wrong input at the user's level (RELIABILITY rows 31-46): each refusal is run
through `store realize` / `store lock`, its stdout and stderr are compared with golden files
(tests/reliability/golden/, paths, ports and hashes filtered; `--update-golden` rewrites them),
the exit is non-zero, and the store still verifies with nothing published from the input.
The per-member detail of rows 31-38 is in tests/test_hostile_wheels.py (77 cases); the
resolver detail of rows 39-46 in tests/test_spec.py, test_resolve_local.py and test_lock.py."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from harness import TESTS, assert_store_valid, option, run_store, write_env
from wheel_factory import S_IFLNK, append_bytes, build_wheel, record_hash, unix_attr

GOLDEN = Path(__file__).parent / "golden"


def filtered(text: str, tmp: Path, store: Path) -> str:
    text = text.replace(str(store), "<STORE>").replace(str(tmp), "<TMP>")
    text = re.sub(r"127\.0\.0\.1:\d+", "<INDEX>", text)
    text = re.sub(r"\b[0-9a-f]{16,}\b", "<HASH>", text)
    text = re.sub(r"\b[a-z2-7]{32}-", "<DIGEST>-", text)
    text = re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+/[^/\s]+", "<TMP>", text)
    text = re.sub(r"python3\.\d+", "python3.X", text)
    text = re.sub(r"(cp|py)3\d{1,2}", r"\g<1>3X", text)
    text = re.sub(r" in (\d+ min )?\d+(\.\d+)? s$", " in <TIME>", text, flags=re.M)  # phase summaries
    return text


def check_golden(request, case: str, proc, tmp: Path, store: Path) -> None:
    update = option(request.config, "--update-golden", False)
    for stream in ("stdout", "stderr"):
        got = filtered(getattr(proc, stream), tmp, store)
        path = GOLDEN / f"{case}.{stream}"
        if update or not path.exists():
            path.write_text(got)
        assert got == path.read_text(), f"{case}.{stream} differs from its golden file"


@pytest.fixture(autouse=True)
def _no_machine_find_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages list the find-links in use: keep this machine's pip setting out of the goldens."""
    monkeypatch.setenv("PIP_FIND_LINKS", "")


def blob_count(store: Path) -> int:
    return sum(1 for p in (store / "blobs-v1").rglob("*") if p.is_file())


BASE = {"bad/__init__.py": b"x = 1\n"}


def wheel_cases(d: Path) -> dict[str, tuple[int, str]]:
    """case -> (row, expected substring); each builds bad-1.0 into its own find-links dir."""
    cases = {}

    def mk(case, row, needle, **kw):
        out = d / case
        out.mkdir(parents=True)
        patch = kw.pop("patch", None)
        w = build_wheel(out, "bad", "1.0", kw.pop("files", BASE), **kw)
        if patch:
            patch(w)
        cases[case] = (row, needle)

    mk("row31-unsafe-path", 31, "unsafe path", extra={"../x": b"evil"}, record=True)
    mk("row32-symlink-member", 32, "unsupported file type (symlink)",
       files={**BASE, "bad/link": b"/etc/passwd"}, external_attr={"bad/link": unix_attr(S_IFLNK | 0o777)})
    mk("row33-trailing-data", 33, "trailing data", patch=lambda w: append_bytes(w, b"hidden"))
    mk("row34-lzma", 34, "unsupported compression method 14", compress_types={"bad/__init__.py": zipfile.ZIP_LZMA})
    mk("row35-record-sha256", 35, "sha256 differs",
       record=lambda rows: [(p, record_hash(b"other") if p == "bad/__init__.py" else h, s) for p, h, s in rows])
    mk("row37-reserved-script", 37, "python",
       files={**BASE, "bad-1.0.dist-info/entry_points.txt": b"[console_scripts]\npython = bad:x\n"})
    mk("row38-wheel-version-2", 38, "unsupported wheel major version 2",
       wheel_meta=b"Wheel-Version: 2.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    return cases


def test_rows31_38_hostile_wheels_through_realize(request, rstore: Path, tmp_path: Path, canary: Path) -> None:
    """Rows 31-35, 37, 38 at the user's level: realize refuses, names the wheel and the member,
    publishes nothing from it, and leaves the canary alone. Golden stderr per case."""
    failures = []
    for case, (row, needle) in wheel_cases(tmp_path / "w").items():
        env = write_env(tmp_path / case, ["bad"])
        before = blob_count(rstore)
        r = run_store(rstore, "realize", str(env), "--find-links", str(tmp_path / "w" / case),
                      "--index-url", (tmp_path / "w").as_uri())
        if r.returncode == 0 or needle not in r.stderr or "Traceback" in r.stderr:
            failures.append(f"row {row} {case}: rc={r.returncode} {r.stderr.strip()[-300:]}")
            continue
        if row not in (37, 38):  # checked at placement, after ingestion: its blobs are garbage
            assert blob_count(rstore) == before, f"{case}: blobs published from a rejected wheel"
        assert not (env.parent / ".envstore").exists()
        check_golden(request, case, r, tmp_path, rstore)
    assert not failures, "\n".join(failures)
    assert_store_valid(rstore)


def test_row36_two_packages_same_path(request, rstore: Path, tmp_path: Path) -> None:
    """Row 36: two packages providing one path with different content is an error naming both;
    identical content (a namespace __init__.py) is allowed."""
    d = tmp_path / "w"
    build_wheel(d, "one", "1.0", {"one/__init__.py": b"", "shared/__init__.py": b"# from one\n"})
    build_wheel(d, "two", "1.0", {"two/__init__.py": b"", "shared/__init__.py": b"# from two\n"})
    build_wheel(d, "three", "1.0", {"three/__init__.py": b"", "shared/__init__.py": b"# from one\n"})
    args = ["--find-links", str(d), "--index-url", d.as_uri()]
    r = run_store(rstore, "realize", str(write_env(tmp_path / "clash", ["one", "two"])), *args)
    assert r.returncode != 0 and "one" in r.stderr and "two" in r.stderr and "shared/__init__.py" in r.stderr, r.stderr
    check_golden(request, "row36-path-conflict", r, tmp_path, rstore)
    ok = run_store(rstore, "realize", str(write_env(tmp_path / "same", ["one", "three"])), *args)
    assert ok.returncode == 0, ok.stderr
    assert_store_valid(rstore)


def test_row39_env_file_errors(request, rstore: Path, tmp_path: Path) -> None:
    """Row 39: env.yml errors name file:line and hint; exit non-zero; no store writes."""
    cases = {
        "row39-unknown-key": "name: x\ndependancies:\n  - python=3.12\n",
        "row39-yaml-syntax": "name: x\ndependencies: [\n",
        "row39-float-python": "name: x\ndependencies:\n  - python: 3.10\n",
        "row39-duplicate-key": "name: x\nname: y\ndependencies: []\n",
    }
    before = sorted(str(p) for p in rstore.rglob("*"))
    for case, text in cases.items():
        env = tmp_path / case / "env.yml"
        env.parent.mkdir()
        env.write_text(text)
        r = run_store(rstore, "realize", str(env))
        assert r.returncode != 0 and "env.yml" in r.stderr and "Traceback" not in r.stderr, (case, r.stderr)
        check_golden(request, case, r, tmp_path, rstore)
    assert sorted(str(p) for p in rstore.rglob("*")) == before, "no store writes"


def test_rows40_46_index_and_lock_errors(request, rstore: Path, tmp_path: Path, local_index) -> None:
    """Rows 40, 41, 43, 44, 45, 46 through `store realize` against the local index."""
    local_index.add("left", "1.0", ["shared<2"])
    local_index.add("right", "1.0", ["shared>=2"])
    local_index.add("shared", "1.0")
    local_index.add("shared", "2.0")
    local_index.add("native", "1.0", tag="cp39-cp39-win_amd64")
    sidecar = local_index.add("sidecar", "1.0")
    good = local_index.add("good", "1.0")
    args = ["--index-url", local_index.simple]

    def realize(case: str, pkgs: list[str], *extra: str):
        env = write_env(tmp_path / case, pkgs)
        return env, run_store(rstore, "realize", str(env), *args, *extra)

    _, r = realize("row40-not-found", ["nosuchpkg"])
    assert r.returncode != 0 and "nosuchpkg" in r.stderr
    check_golden(request, "row40-not-found", r, tmp_path, rstore)
    local_index.faults["/simple/good/"] = ("status", 403)
    _, r = realize("row40-forbidden", ["good"])
    assert r.returncode != 0 and "403" in r.stderr and "not found" not in r.stderr
    check_golden(request, "row40-forbidden", r, tmp_path, rstore)
    del local_index.faults["/simple/good/"]
    env, r = realize("row41-conflict", ["left", "right"])
    assert r.returncode != 0 and "shared" in r.stderr and not (env.parent / "pylock.toml").exists()
    check_golden(request, "row41-conflict", r, tmp_path, rstore)
    _, r = realize("row43-no-wheel", ["native"])
    assert r.returncode != 0 and "win_amd64" in r.stderr
    check_golden(request, "row43-no-wheel", r, tmp_path, rstore)
    local_index.faults["bad-sidecar"] = ("bad-sidecar", sidecar.path.name)
    _, r = realize("row45-sidecar", ["sidecar"])
    assert r.returncode != 0 and "metadata" in r.stderr
    check_golden(request, "row45-sidecar", r, tmp_path, rstore)

    # Row 44: the wheel changes on the index after locking: hash mismatch, nothing cached.
    env, r = realize("row44-hash", ["good"], "--no-out-link")
    assert r.returncode == 0, r.stderr
    lock_text = (env.parent / "pylock.toml").read_text()
    gc = run_store(rstore, "gc")
    assert gc.returncode == 0
    original = good.path.read_bytes()
    good.path.write_bytes(original[:-30] + b"\0" * 30)
    before = blob_count(rstore)
    r = run_store(rstore, "realize", str(env), *args, "--frozen")
    assert r.returncode != 0 and "hash" in r.stderr.lower()
    assert blob_count(rstore) == before and not list((rstore / "cache").rglob("*.whl"))
    check_golden(request, "row44-hash-mismatch", r, tmp_path, rstore)
    good.path.write_bytes(original)
    assert run_store(rstore, "realize", str(env), *args, "--frozen").returncode == 0

    # Row 46: tampered lock: a missing hash, a newer version; no wheel downloaded first.
    local_index.hits.clear()
    (env.parent / "pylock.toml").write_text(re.sub(r'(?m)^hashes = .*\n|sha256 = "[0-9a-f]+"', "", lock_text, count=1))
    r = run_store(rstore, "realize", str(env), *args, "--frozen")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    check_golden(request, "row46-missing-hash", r, tmp_path, rstore)
    (env.parent / "pylock.toml").write_text(lock_text.replace('lock-version = "1.0"', 'lock-version = "99.0"'))
    r = run_store(rstore, "realize", str(env), *args, "--frozen")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    check_golden(request, "row46-newer-lock", r, tmp_path, rstore)
    assert not [h for h in local_index.hits if h.endswith(".whl")], "no download before the lock check"
    assert_store_valid(rstore)


@pytest.mark.parametrize("row,where", [
    (31, "tests/test_hostile_wheels.py (UNSAFE_MEMBERS: ../x, /etc/x, C:/x, ..\\x, a/../../b)"),
    (32, "tests/test_hostile_wheels.py (symlink, FIFO, device, socket attrs)"),
    (33, "tests/test_hostile_wheels.py (BAD_ARCHIVES: duplicate, local != central, trailing, comment)"),
    (34, "tests/test_hostile_wheels.py (bad CRC, truncated, LZMA/BZIP2, ratio bomb, member count)"),
    (35, "tests/test_hostile_wheels.py (RECORD_MISMATCHES)"),
    (38, "tests/test_hostile_wheels.py (two dist-info, case/NFC collisions) and test_cli name mismatch"),
    (39, "tests/test_spec.py::test_errors_name_line_and_hint"),
    (40, "tests/test_resolve_local.py::test_404_vs_5xx_vs_timeout"),
    (41, "tests/test_resolve_local.py::test_conflict_names_both_sides"),
    (42, "tests/test_resolve_local.py::test_yanked_skipped_unless_pinned"),
    (43, "tests/test_resolve_local.py::test_wheels_for_other_platforms_only"),
    (45, "tests/test_resolve_local.py::test_metadata_hash_mismatch"),
    (46, "tests/test_lock.py::test_store_lock_errors (and test_foreign_lock_needs_hashes)"),
])
def test_rows_also_covered_elsewhere(row: int, where: str) -> None:
    """The detailed cases live in the named tests; this checks they still exist."""
    path, _, rest = where.partition(" ")
    file = TESTS.parent / path.split("::")[0]
    assert file.is_file(), where
    if "::" in path:
        assert f"def {path.split('::')[1]}(" in file.read_text(), where
