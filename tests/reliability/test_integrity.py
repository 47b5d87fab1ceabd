"""Detection and repair (RELIABILITY rows 26-30): verify hashes content and checks modes,
inodes, missing and extra files; --repair restores without touching unaffected envs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness import assert_store_valid, gc_and_check, imports, realize_ok as realize, run_store, site, write_env


def test_row26_edit_through_a_hardlink(rstore: Path, wheels, tmp_path: Path, canary: Path) -> None:
    """Row 26: an in-place edit through env A's hardlink shows in env B (the uv#10896 hazard);
    verify names both envs; --repair restores content and mode in both; env C is untouched."""
    a = realize(rstore, write_env(tmp_path / "a", ["tinya"]), wheels)
    b = realize(rstore, write_env(tmp_path / "b", ["tinyb"]), wheels)
    c = realize(rstore, write_env(tmp_path / "c", ["tinyc"]), wheels)
    c_ino = (site(c) / "tinyc" / "__init__.py").stat().st_ino
    f = site(a) / "tinya" / "__init__.py"
    original = f.read_bytes()
    os.chmod(f, 0o644)
    with open(f, "w") as fh:
        fh.write("x")
    assert (site(b) / "tinya" / "__init__.py").read_bytes() == b"x", "the hazard: B sees A's edit"
    found = run_store(rstore, "verify")
    assert found.returncode != 0
    assert a.name in found.stdout + found.stderr and b.name in found.stdout + found.stderr
    assert c.name not in found.stdout + found.stderr
    fixed = run_store(rstore, "verify", "--repair")
    assert fixed.returncode == 0, fixed.stderr
    for p in (a, b):
        g = site(p) / "tinya" / "__init__.py"
        assert g.read_bytes() == original and (g.stat().st_mode & 0o777) == 0o444
        assert imports(p, "tinya").returncode == 0
    assert (site(c) / "tinyc" / "__init__.py").stat().st_ino == c_ino, "unrelated env untouched"
    assert run_store(rstore, "verify").returncode == 0
    assert_store_valid(rstore)


def test_row27_same_size_edit_and_chmod(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 27: a same-length overwrite with mtime reset, and separately a chmod only: both found."""
    a = realize(rstore, write_env(tmp_path / "a", ["tinya"]), wheels)
    f = site(a) / "tinya" / "__init__.py"
    original = f.read_bytes()
    st = f.stat()
    os.chmod(f, 0o644)
    with open(f, "r+b") as fh:
        fh.write(b"#" * len(original))
    os.chmod(f, 0o444)
    os.utime(f, (st.st_atime, st.st_mtime))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime == st.st_mtime
    assert run_store(rstore, "verify").returncode != 0, "same size, same mtime: found by hashing"
    assert run_store(rstore, "verify", "--repair").returncode == 0
    assert f.read_bytes() == original
    os.chmod(f, 0o644)
    assert run_store(rstore, "verify").returncode != 0, "a mode change alone is found"
    assert run_store(rstore, "verify", "--repair").returncode == 0
    assert (f.stat().st_mode & 0o777) == 0o444
    assert run_store(rstore, "verify").returncode == 0
    assert_store_valid(rstore)


def test_row28_editor_style_save(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 28: a save that replaces the file (new inode) is reported for that prefix only and
    --repair relinks it to the blob."""
    a = realize(rstore, write_env(tmp_path / "a", ["tinya"]), wheels)
    b = realize(rstore, write_env(tmp_path / "b", ["tinyb"]), wheels)
    d = site(a) / "tinya"
    f = d / "__init__.py"
    blob_ino = f.stat().st_ino
    os.chmod(d, 0o755)
    subprocess.run(["sed", "-i", "s/1.0/6.6/", str(f)], check=True)
    os.chmod(d, 0o555)
    assert f.stat().st_ino != blob_ino and b"6.6" in f.read_bytes()
    found = run_store(rstore, "verify")
    assert found.returncode != 0
    out = found.stdout + found.stderr
    assert a.name in out and b.name not in out
    assert run_store(rstore, "verify", "--repair").returncode == 0
    assert f.stat().st_ino == blob_ino
    assert imports(a, "tinya").stdout.strip() == "1.0"
    assert_store_valid(rstore)


def _blob_of(prefix: Path, rel: str) -> Path:
    f = site(prefix) / rel
    ino = f.stat().st_ino
    store = prefix.parent.parent
    return next(p for p in (store / "blobs-v1").rglob("*") if p.is_file() and p.stat().st_ino == ino)


def test_row29_blob_missing_or_truncated(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 29: a removed blob and a truncated blob are reported with the prefixes using them;
    gc does not crash; a new env needing the blob re-fetches; --repair restores."""
    a = realize(rstore, write_env(tmp_path / "a", ["tinya"]), wheels)
    removed = _blob_of(a, "tinya/__init__.py")
    truncated = _blob_of(a, "tinya-1.0.dist-info/METADATA")
    os.remove(removed)
    os.chmod(truncated, 0o644)
    os.truncate(truncated, 3)
    os.chmod(truncated, 0o444)
    found = run_store(rstore, "verify")
    assert found.returncode != 0
    out = found.stdout + found.stderr
    assert removed.name[:12] in out or a.name in out
    assert truncated.name[:12] in out
    gc = run_store(rstore, "gc")
    assert gc.returncode == 0, gc.stderr
    b = realize(rstore, write_env(tmp_path / "b", ["tinyb"]), wheels)
    assert imports(b, "tinya").returncode == 0, "the new env got a complete tinya"
    fixed = run_store(rstore, "verify", "--repair")
    assert fixed.returncode == 0, fixed.stderr + fixed.stdout
    assert run_store(rstore, "verify").returncode == 0
    assert_store_valid(rstore)


def test_row30_junk_and_symlinks_in_the_blob_dir(rstore: Path, wheels, tmp_path: Path, canary: Path) -> None:
    """Row 30: verify lists junk; gc removes it without following symlinks; the target stays."""
    realize(rstore, write_env(tmp_path / "a", ["tinya"]), wheels)
    zz = rstore / "blobs-v1" / "zz"
    zz.mkdir(exist_ok=True)
    os.symlink(canary / "important", zz / "evil")
    os.symlink(canary, rstore / "blobs-v1" / "yy")
    stray = rstore / "blobs-v1" / "ab" / "stray-dir"
    stray.mkdir(parents=True)
    (stray / "f").write_text("junk")
    found = run_store(rstore, "verify")
    assert found.returncode != 0
    out = found.stdout + found.stderr
    assert "evil" in out and "stray-dir" in out
    gc_and_check(rstore)
    assert not os.path.lexists(zz / "evil") and not os.path.lexists(rstore / "blobs-v1" / "yy")
    assert not stray.exists()
    assert (canary / "important").read_text() == "do not touch\n"
