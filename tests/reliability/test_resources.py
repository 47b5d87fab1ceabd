"""Resource failures and permissions (RELIABILITY rows 18-25). What this machine and the core's
current hooks allow runs; the rest is skipped with the reason."""

from __future__ import annotations

import resource
import signal
import subprocess
from pathlib import Path

import pytest

from harness import assert_store_valid, gc_and_check, run_store, write_env


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


@pytest.mark.skip(reason="rows 22/23: the core has no _ENVSTORE_TEST_LINK_ERRNO / MAX_LINKS hook yet, and no vfat "
                  "or ext4 loop image tooling is set up here")
def test_rows22_23_link_failures() -> None:
    """Rows 22, 23."""


@pytest.mark.skip(reason="rows 24/25: the suite runs as root (chmod does not stop root); the setpriv/unprivileged "
                  "variant with a fully copied store is not written yet")
def test_rows24_25_read_only_and_other_user() -> None:
    """Rows 24, 25."""
