"""Resource failures and permissions (RELIABILITY rows 18-25). What this machine and the core's
current hooks allow runs; the rest is skipped with the reason."""

from __future__ import annotations

import re
import resource
import signal
import subprocess
from pathlib import Path

import pytest

from harness import (
    assert_store_valid, gc_and_check, imports, no_traceback, placed_files, realize_ok, run_store, site, write_env,
)


def test_row19_write_limit_efbig(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 19 (write limit): RLIMIT_FSIZE makes a blob write fail with EFBIG: a clear error, no
    traceback, nothing published, old envs intact, and a re-run without the limit succeeds."""
    old_env = write_env(tmp_path / "old", ["tinya"])
    old = run_store(rstore, "realize", str(old_env), *wheels.index_args())
    assert old.returncode == 0
    big = tmp_path / "w"
    from wheel_factory import build_wheel

    build_wheel(big, "bigpkg", "1.0", {"bigpkg/__init__.py": b"", "bigpkg/data.bin": bytes(range(256)) * 4096})
    env = write_env(tmp_path / "big", ["bigpkg"])
    args = ["--find-links", str(big), "--index-url", big.as_uri()]

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))

    r = subprocess.run(["store", "--store", str(rstore), "realize", str(env), *args],
                       capture_output=True, text=True, preexec_fn=limit, timeout=300)
    assert r.returncode != 0
    assert "File too large" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (env.parent / ".envstore").exists()
    assert_store_valid(rstore)
    gc_and_check(rstore)
    assert Path(old.stdout.strip()).is_dir()
    again = run_store(rstore, "realize", str(env), *args)
    assert again.returncode == 0, again.stderr
    assert_store_valid(rstore)


@pytest.mark.skip(reason="rows 18/19/20 tmpfs: the store must hold the interpreter (~260 MB, ~25 s to import per "
                  "store) inside the unshare namespace, which does not fit the row's 8 MiB/200-inode budget in the "
                  "default suite's time; EFBIG (row 19) exercises the same error path")
def test_rows18_19_20_tmpfs_enospc_and_inodes() -> None:
    """Rows 18, 19 (inodes), 20: unshare -rm + tmpfs size/nr_inodes."""


@pytest.mark.skip(reason="row 21: needs a prefix root on another filesystem than the store; envs/ is always "
                  "inside the store in v1, so EXDEV cannot arise from user configuration")
def test_row21_exdev() -> None:
    """Row 21."""


def test_row22_filesystem_without_hardlinks(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 22, hook _ENVSTORE_TEST_LINK_ERRNO=EPERM (every link(2) the store makes fails, as on
    a filesystem without hardlinks): copy mode, per file and said. Realize succeeds with a warning
    naming EPERM; blobs still publish (a no-replace rename); every file of the prefix is a copy
    and no blob gained a link; verify passes and still catches an edit to a copy. A link error
    with no fallback (ENOSPC) fails cleanly and leaves no half-linked prefix."""
    old = realize_ok(rstore, write_env(tmp_path / "old", ["tinya"]), wheels)
    links_before = {p: p.stat().st_nlink for p in (rstore / "blobs-v1").rglob("*") if p.is_file()}
    r = run_store(rstore, "realize", str(write_env(tmp_path / "new", ["tinyb"])), *wheels.index_args(),
                  env={"_ENVSTORE_TEST_LINK_ERRNO": "EPERM"})
    assert r.returncode == 0, r.stderr
    assert re.search(r"warning: (\d+) of \1 files copied .* instead of hardlinked \(\1 with EPERM", r.stderr), r.stderr
    new = Path(r.stdout.strip())
    files = placed_files(rstore, new)
    assert files and all((new / rel).stat().st_nlink == 1 for rel in files), "every file is a copy"
    assert all(p.stat().st_nlink == n for p, n in links_before.items()), "no blob gained a link"
    assert imports(new, "tinyb").stdout.strip() == "2.0"
    assert run_store(rstore, "verify").returncode == 0
    copy = site(new) / "tinyb" / "__init__.py"
    copy.chmod(0o644)
    copy.write_text("__version__ = '6.6'\n")
    found = run_store(rstore, "verify")
    assert found.returncode != 0 and str(copy) in found.stdout and old.name not in found.stdout, found.stdout
    assert run_store(rstore, "verify", "--repair").returncode == 0
    assert imports(new, "tinyb").stdout.strip() == "2.0"

    # A link error that has no fallback: an error naming the file, nothing published.
    twin = write_env(tmp_path / "twin", ["tinya"])  # every blob exists: the failure is in materialize
    r = run_store(rstore, "realize", str(twin), *wheels.index_args(), env={"_ENVSTORE_TEST_LINK_ERRNO": "ENOSPC"})
    no_traceback(r, "No space left on device")
    assert not (twin.parent / ".envstore").exists()
    assert not [p for p in (rstore / "envs").iterdir() if p.name.endswith("-twin")]
    assert_store_valid(rstore)
    gc_and_check(rstore)


def test_row23_link_limit_emlink(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 23, hook _ENVSTORE_TEST_MAX_LINKS=3 (link(2) fails with EMLINK on a blob with 3 links,
    as at ext4's 65,000): five envs share tinya. Each realize succeeds; the first two link
    tinya's files, the other three get copies (per file: their other files are still
    hardlinked); no blob exceeds 3 links; the copies are said in a warning; verify passes."""
    links_before = {p: p.stat().st_nlink for p in (rstore / "blobs-v1").rglob("*") if p.is_file()}
    hook = {"_ENVSTORE_TEST_MAX_LINKS": "3"}
    envs = [["tinya"], ["tinyb"], ["tinya", "tinyc"], ["tinya", "tinyd"], ["tinya", "tinye"]]
    prefixes = []
    for i, packages in enumerate(envs):
        r = run_store(rstore, "realize", str(write_env(tmp_path / f"e{i}", packages)), *wheels.index_args(), env=hook)
        assert r.returncode == 0, r.stderr
        assert i < 2 or "with EMLINK" in r.stderr, r.stderr
        prefixes.append(Path(r.stdout.strip()))
    for p in prefixes:
        for rel, blob in placed_files(rstore, p).items():
            assert blob.stat().st_nlink <= max(3, links_before.get(blob, 0)), (p.name, rel)
    shared = [(p / rel).stat().st_ino == blob.stat().st_ino
              for p in prefixes for rel, blob in placed_files(rstore, p).items() if rel.endswith("tinya/__init__.py")]
    assert shared == [True, True, False, False, False], "two links to tinya's blob, then copies"
    last = placed_files(rstore, prefixes[4])
    own = next(rel for rel in last if rel.endswith("tinye/__init__.py"))
    assert (prefixes[4] / own).stat().st_ino == last[own].stat().st_ino, "the rest is still hardlinked"
    for p, mod in zip(prefixes, ["tinya", "tinyb", "tinyc", "tinyd", "tinye"]):
        assert imports(p, mod).returncode == 0
    verify = run_store(rstore, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert_store_valid(rstore)


@pytest.mark.skip(reason="rows 24/25: the suite runs as root (chmod does not stop root); the setpriv/unprivileged "
                  "variant with a fully copied store is not written yet")
def test_rows24_25_read_only_and_other_user() -> None:
    """Rows 24, 25."""
