"""The index client and the downloader never wait forever (issue 12 item 1, RELIABILITY rows 47
and 48): many packages with find-links configured cannot deadlock the worker pool, and a server
that stops answering ends `store lock` / `store realize` with one error naming the URL, within
pip's configured timeout times a bounded number of attempts."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from envstore.errors import EnvstoreError
from envstore.index.config import DEFAULT_TIMEOUT, resolve_index_config
from local_index import build_wheel, local_index  # noqa: F401 - fixture

PY = "%d.%d" % sys.version_info[:2]


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the module, so the interpreter is imported once."""
    return tmp_path_factory.mktemp("stalls") / "store"


def store_cmd(*args: str, cwd: Path, env: dict[str, str] | None = None,
              timeout: float = 90) -> tuple[subprocess.CompletedProcess, float]:
    full_env = {**os.environ, "PYENV_ROOT": str(Path(sys.executable).parents[2]), "PIP_CONFIG_FILE": os.devnull,
                "PIP_FIND_LINKS": "", "PIP_DEFAULT_TIMEOUT": "", "PIP_TIMEOUT": "", **(env or {})}
    start = time.monotonic()
    try:
        proc = subprocess.run(["store", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              env=full_env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"store {' '.join(args)} still running after {timeout:g}s (hung)")
    return proc, time.monotonic() - start


class StallServer:
    """A TCP server on 127.0.0.1 that accepts every connection, reads the request, sends `head`
    (nothing by default) and then goes silent until the test ends."""

    def __init__(self, head: bytes = b"") -> None:
        self.head = head
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.settimeout(1)
            try:
                conn.recv(65536)
                if self.head:
                    conn.sendall(self.head)
            except OSError:
                pass
            self._conns.append(conn)

    def __enter__(self) -> StallServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for c in self._conns:
            c.close()
        self.sock.close()


def test_many_packages_with_find_links_lock_without_deadlock(tmp_path, local_index, shared_store):
    # 44 projects on the index, one only in a find-links directory, one in both (the local
    # wheel is newer): more root packages than the pool has workers, all prefetched at once.
    names = [f"pkg{i:02d}" for i in range(44)]
    for i, n in enumerate(names):
        local_index.add(n, "1.0", [names[i + 1]] if i % 4 == 0 else [])
    links = tmp_path / "links"
    build_wheel(links, "localonly", "0.3")
    build_wheel(links, "pkg07", "2.0")
    # Every project page answers late, so all workers are busy before the first one returns.
    local_index.faults["/simple/"] = ("sleep", 0.2)
    env = tmp_path / "env.yml"
    env.write_text("name: many\ndependencies:\n  - python=%s\n" % PY
                   + "".join(f"  - {n}\n" for n in names) + "  - pip:\n    - localonly\n")
    proc, _ = store_cmd("--store", str(shared_store), "lock", "--index-url", local_index.simple,
                        cwd=tmp_path, env={"PIP_FIND_LINKS": str(links)}, timeout=90)
    assert proc.returncode == 0, proc.stderr
    lock = (tmp_path / "pylock.toml").read_text()
    assert lock.count("[[packages]]") == 45
    assert re.search(r'name = "localonly"\nversion = "0.3"', lock)
    assert re.search(r'name = "pkg07"\nversion = "2.0"', lock)


def test_silent_index_fails_within_pip_timeout_naming_the_url(tmp_path, shared_store):
    env = tmp_path / "env.yml"
    env.write_text("name: silent\ndependencies:\n  - python=%s\n  - alpha\n  - beta\n" % PY)
    # Import the interpreter first, so the timing below is the index's alone.
    store_cmd("--store", str(shared_store), "python", "list", cwd=tmp_path)
    with StallServer() as server:
        proc, elapsed = store_cmd("--store", str(shared_store), "lock", "--index-url", f"{server.url}/simple/",
                                  cwd=tmp_path, env={"PIP_DEFAULT_TIMEOUT": "1"}, timeout=90)
        assert server.accepted >= 1
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    error = proc.stderr[proc.stderr.index("error: "):]
    url = re.escape(server.url)
    assert re.match(rf"error: index request failed: GET {url}/simple/(alpha|beta)/: timed out", error), error
    assert "no response within 1s" in error and "attempts" in error
    assert error.count("\n") == 2 and "\nhint: " in error and "PIP_DEFAULT_TIMEOUT" in error
    # 1 s per attempt, a bounded number of attempts, short backoff: ~7 s on an idle machine. With
    # pip's default 15 s timeout the first attempt alone would take 15 s and all of them over 60 s;
    # the bound leaves room for a loaded CI worker (15.8 s was seen beside a second xdist worker).
    assert elapsed < 30, elapsed
    assert not (tmp_path / "pylock.toml").exists()


def test_wheel_download_stalled_mid_body_fails_naming_the_url(tmp_path, local_index, shared_store):
    local_index.add("slowwheel", "1.0")
    env = tmp_path / "env.yml"
    env.write_text("name: slow\ndependencies:\n  - python=%s\n  - slowwheel\n" % PY)
    proc, _ = store_cmd("--store", str(shared_store), "lock", "--index-url", local_index.simple, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\nPK\x03\x04"
    with StallServer(head) as server:
        lock = tmp_path / "pylock.toml"
        lock.write_text(lock.read_text().replace(local_index.url, server.url))
        proc, elapsed = store_cmd("--store", str(shared_store), "realize", "--frozen", "--no-out-link",
                                  cwd=tmp_path, env={"PIP_DEFAULT_TIMEOUT": "1"}, timeout=90)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    error = proc.stderr[proc.stderr.index("error: "):]
    assert error.startswith(f"error: downloading {server.url}/files/slowwheel-1.0-py3-none-any.whl for slowwheel 1.0 "
                            "failed: timed out"), error
    # ~3 s idle; the bound leaves room for a loaded CI worker (15.6 s was seen beside another)
    assert elapsed < 30, elapsed
    assert not list(shared_store.glob("envs/*-slow")), "no prefix"
    assert not list(shared_store.rglob("slowwheel-1.0-py3-none-any.whl*")), "nothing half-downloaded is kept"


def test_pip_timeout_settings(tmp_path, monkeypatch):
    for var in ("PIP_DEFAULT_TIMEOUT", "PIP_TIMEOUT", "PIP_INDEX_URL", "ENVSTORE_INDEX_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    assert resolve_index_config("http://127.0.0.1:9/simple/").timeout == DEFAULT_TIMEOUT
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\ntimeout = 2.5\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert resolve_index_config("http://127.0.0.1:9/simple/").timeout == 2.5
    conf.write_text("[global]\ndefault-timeout = 4\n")
    assert resolve_index_config("http://127.0.0.1:9/simple/").timeout == 4
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "7")  # the environment wins over pip.conf, as in pip
    assert resolve_index_config("http://127.0.0.1:9/simple/").timeout == 7
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "soon")
    with pytest.raises(EnvstoreError, match="PIP_DEFAULT_TIMEOUT.*'soon'.*seconds"):
        resolve_index_config("http://127.0.0.1:9/simple/")
