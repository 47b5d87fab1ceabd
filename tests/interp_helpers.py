"""Helpers for the interpreter tests: the pyenv CPythons on this machine (found at run time,
never assumed), running `store`, and reading trees of a store path."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from envstore.interpreters.discover import pyenv_candidates

EXPECTED_MINORS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


def pyenv_pythons(minimum: tuple[int, int] = (3, 8)) -> dict[str, Path]:
    """minor version -> installation prefix, newest patch release per minor, `minimum` and
    newer (3.8 by default: the versions every interpreter test runs on; the legacy-target
    tests ask for 3.6)."""
    out: dict[str, tuple[tuple[int, ...], Path]] = {}
    for c in pyenv_candidates():
        parts = tuple(int(x) for x in re.findall(r"\d+", c.version_hint or "")[:3])
        if len(parts) < 2 or parts[:2] < minimum:
            continue
        minor = f"{parts[0]}.{parts[1]}"
        if minor not in out or parts > out[minor][0]:
            out[minor] = (parts, c.executable.parent.parent)
    return {k: v[1] for k, v in out.items()}


def store_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVSTORE_", "PYTHON"))}
    env.update(extra)
    return env


def run_store(store_root: Path, *args: str, timeout: float = 300, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["store", "--store", str(store_root), *args], capture_output=True, text=True,
                          timeout=timeout, env=env or store_env(ENVSTORE_FSYNC="0"))


def new_blobs(stderr: str) -> int:
    m = re.search(r"(\d+) new blobs", stderr)
    assert m, stderr
    return int(m.group(1))


def blob_count(store_root: Path) -> int:
    return sum(len(files) for _d, _s, files in os.walk(store_root / "blobs-v1"))


def tree_files(root: Path) -> list[Path]:
    out = []
    for dirpath, _dirs, files in os.walk(root):
        out += [Path(dirpath, f) for f in files if not os.path.islink(os.path.join(dirpath, f))]
    return out


def is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def assert_one_error_line(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
