"""Progress of the long phases (issue 12 item 7), as a user sees it: the wording helpers (one
for plurals, one for sizes); `store realize` with stderr not a terminal prints a few plain
phase lines (start + summary with counts and time, never a line per file); on a terminal
(a pty) it draws live rows for resolving, downloading, ingesting, bytecode and linking; stdout
carries the prefix path and nothing else either way; `-q` draws nothing."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from envstore.cli.format import human_bytes
from envstore.progress import duration, phase, plural, size

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_plural_size_duration() -> None:
    assert [plural(n, "wheel") for n in (0, 1, 2)] == ["0 wheels", "1 wheel", "2 wheels"]
    assert plural(1, "package") == "1 package" and plural(181, "package") == "181 packages"
    assert plural(1, "prefix") == "1 prefix" and plural(3, "prefix") == "3 prefixes"
    assert plural(2, "directory") == "2 directories" and plural(2, "new blob") == "2 new blobs"
    assert plural(2, "staging dir") == "2 staging dirs" and plural(2, "match") == "2 matches"
    assert plural(2, "datum", "data") == "2 data"
    assert [size(n) for n in (0, 847, 120_000, 12_345_678, 999_949_999)] == [
        "0.0 MB", "0.0 MB", "0.1 MB", "12.3 MB", "999.9 MB"]
    assert [size(n) for n in (999_950_000, 1_500_000_000, 12_340_000_000)] == ["1.0 GB", "1.5 GB", "12.3 GB"]
    assert human_bytes(2_500_000) == "2.5 MB"  # tables and messages use the same helper
    assert duration(0.04) == "0.0 s" and duration(11.24) == "11.2 s" and duration(92) == "1 min 32 s"


def test_phase_prints_start_and_summary_only() -> None:
    """Off a terminal a phase is two lines however many files it counts; a failed phase has
    no summary (the error follows its start line)."""
    lines: list[str] = []
    with phase(lines.append, "building demo (2 packages)") as ph:
        compiled = ph.row("compiling bytecode", total=1200, noun="file", report="{} compiled")
        for _ in range(1200):
            compiled.advance()
        ph.row("linking files into the prefix", noun="file", report="{} linked").finish(1)
        ph.summary = "built demo"
    assert lines[0] == "building demo (2 packages) ..." and len(lines) == 2
    assert re.fullmatch(r"built demo: 1200 files compiled, 1 file linked in \d+\.\d s", lines[1]), lines
    lines.clear()
    with pytest.raises(RuntimeError), phase(lines.append, "fetching 1 wheel (0.0 MB)") as ph:
        ph.summary = "fetched 1 wheel"
        raise RuntimeError("hash mismatch")
    assert lines == ["fetching 1 wheel (0.0 MB) ..."]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the module: the interpreter is imported once."""
    return tmp_path_factory.mktemp("progress") / "store"


def write_env(directory: Path, name: str, packages: list[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    env = directory / "env.yml"
    env.write_text(f"name: {name}\ndependencies:\n  - python={PY}\n  - pip:\n"
                   + "".join(f"      - {p}\n" for p in packages))
    return env


def store_env() -> dict[str, str]:
    return {**os.environ, "ENVSTORE_FSYNC": "0", "TERM": "xterm-256color", "COLUMNS": "120"}


def run_on_pty(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run `store ARGS` with stderr on a pseudo-terminal and stdout on a pipe: (exit code,
    stdout, what the terminal received with its escape sequences removed)."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(["store", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=secondary,
                            stdin=subprocess.DEVNULL, env=store_env())
    os.close(secondary)
    received = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        received += chunk
    os.close(primary)
    stdout, _ = proc.communicate(timeout=300)
    return proc.returncode, stdout.decode(), ANSI.sub("", received.decode(errors="replace")).replace("\r", "\n")


def masked(line: str) -> str:
    line = re.sub(r"\b[a-z2-7]{32}-", "<DIGEST>-", line)
    return re.sub(r"\d+(\.\d+)?", "N", line)


@pytest.mark.network
def test_plain_phase_lines_when_stderr_is_not_a_terminal(store: Path, tmp_path: Path) -> None:
    env = write_env(tmp_path / "plain", "plain", ["six==1.16.0"])
    proc = subprocess.run(["store", "--store", str(store), "realize", str(env)], capture_output=True,
                          text=True, timeout=300, env=store_env())
    assert proc.returncode == 0, proc.stderr
    prefix = Path(proc.stdout.strip())
    assert proc.stdout == f"{prefix}\n" and prefix.is_dir()
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr, "no bars or colours in a log"
    lines = proc.stderr.splitlines()
    # A fresh store imports its interpreter first: a handful of lines, then its summary.
    importing = [line for line in lines if not line.startswith(("lock", "fetch", "build", "built"))]
    if importing:
        assert importing[0].startswith(f"importing python {PY}"), proc.stderr
        assert importing[-1].startswith(f"imported python {PY}.") and len(importing) <= 6, proc.stderr
    phases = [masked(line) for line in lines if line not in importing]
    assert phases == [
        "locking env.yml ...",
        "locked N package in N s",
        "fetching N wheel (N MB) ...",
        "fetched N wheel (N MB) in N s",
        "building <DIGEST>-plain (N package) ...",
        "built <DIGEST>-plain: N file compiled, N files linked in N s",
    ], proc.stderr
    assert "locked 1 package in " in proc.stderr and "fetching 1 wheel (" in proc.stderr


@pytest.mark.network
def test_live_rows_on_a_terminal_and_stdout_only_the_prefix(store: Path, tmp_path: Path) -> None:
    env = write_env(tmp_path / "tty", "tty", ["six==1.16.0", "idna==3.7", "click==8.1.7"])
    code, stdout, terminal = run_on_pty(["--store", str(store), "realize", str(env)], tmp_path)
    assert code == 0, terminal
    prefix = Path(stdout.strip())
    assert stdout == f"{prefix}\n" and prefix.is_dir(), "progress never reaches stdout"
    assert "━" in terminal, terminal  # a bar was drawn
    rows = {
        "resolving": r"resolving: \d+ packages seen, \d+ metadata fetched",
        "downloading": r"downloading .*\d+\.\d MB",
        "ingesting": r"ingesting .*\d of [23] wheels",  # six is in the store after the test above
        "bytecode": r"compiling bytecode .*\d+ of \d+ files",
        "linking": r"linking files into the prefix .*\d+ of \d+ files",
    }
    missing = [name for name, pattern in rows.items() if not re.search(pattern, terminal)]
    assert not missing, f"rows not drawn: {missing}\n{terminal}"
    # The plain lines are there too, above the rows.
    for line in ("locking env.yml ...", "locked 3 packages in ", "building ", "(3 packages) ..."):
        assert line in terminal, terminal
    assert re.search(r"fetching [23] wheels \(\d+\.\d MB\) \.\.\.", terminal), terminal
    assert re.search(r"built \S+-tty: \d+ files compiled, \d+ files linked in \d+\.\d s", terminal), terminal


@pytest.mark.network
def test_quiet_draws_nothing_on_a_terminal(store: Path, tmp_path: Path) -> None:
    env = write_env(tmp_path / "quiet", "quiet", ["idna==3.7"])
    code, stdout, terminal = run_on_pty(["--store", str(store), "-q", "realize", str(env)], tmp_path)
    assert code == 0, terminal
    assert stdout.strip().endswith("-quiet") and terminal.strip() == "", terminal
