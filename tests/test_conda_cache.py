"""Conda prefixes through a binary cache (issue 15 on issue 18): store A realizes a conda env
(a conda python with its standard library, a noarch: python package, an extension, a C library
with placeholders and a program linked to it) and pushes it to a file:// cache; store B, at
another path on a machine where the channel is gone, realizes the same env file from the cache:
the same store path, every file the same except those rewritten for B's path, which name B's
prefix; nothing downloaded from a channel, no bytecode compiled."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import run_store  # noqa: E402

ENV = """\
name: tools
channels:
  - {channel}
dependencies:
  - python
  - demopy
  - demoext
  - demotool
envstore:
  packages-from: conda
"""


def _files(prefix: Path) -> dict[str, str]:
    out = {}
    for path in sorted(prefix.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[path.relative_to(prefix).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr
    return proc


def test_a_conda_prefix_realized_elsewhere_from_the_cache(conda_channel, tmp_path: Path) -> None:
    channel = tmp_path / "channel"
    subprocess.run(["cp", "-al", str(conda_channel.root), str(channel)], check=True)
    project = tmp_path / "proj"
    project.mkdir()
    env_file = project / "env.yml"
    env_file.write_text(ENV.format(channel=channel.as_uri()))
    env = {**os.environ, "CONDARC": str(tmp_path / "no-condarc"), "XDG_CONFIG_HOME": str(tmp_path / "cfg-a")}
    env = {k: v for k, v in env.items() if not k.startswith(("CONDA_OVERRIDE_", "ENVSTORE_"))}
    public = _ok(run_store("key", "generate", "--name", "team-1", env=env)).stdout.strip()
    a_root, b_root = tmp_path / "a" / "store", tmp_path / "machine-b" / "deeper" / "store"
    crashed = run_store("realize", str(env_file), store_root=a_root,
                        env={**env, "_ENVSTORE_TEST_CRASH_AT": "bytecode.compile"})
    assert crashed.returncode == -9, crashed.stderr  # the point B must never reach is reached by a compile
    a = Path(_ok(run_store("realize", str(env_file), store_root=a_root, env=env)).stdout.strip())
    cache = tmp_path / "cache"
    pushed = _ok(run_store("push", str(env_file), "--to", cache.as_uri(), store_root=a_root, env=env))
    assert "pushed " + a.name in pushed.stderr, pushed.stderr
    again = _ok(run_store("push", str(a), "--to", cache.as_uri(), store_root=a_root, env=env))
    assert "has " + a.name + " already" in again.stderr, again.stderr
    record = json.loads((cache / "records-v1" / f"{a.name}.json").read_text())
    assert record["route"] == "conda" and len(record["conda"]) == 5 and record["signatures"], record
    shutil.rmtree(channel)  # machine B cannot reach the channel

    env_b = {**env, "XDG_CONFIG_HOME": str(tmp_path / "cfg-b")}
    untrusted = run_store("realize", str(env_file), "--no-out-link", "--substituter", cache.as_uri(),
                          store_root=b_root, env=env_b)
    assert untrusted.returncode == 1 and "Traceback" not in untrusted.stderr, untrusted.stderr
    assert "unsigned" in untrusted.stderr or "not a trusted key" in untrusted.stderr, untrusted.stderr
    # killed if it compiled anything: the bytecode comes from the cache
    proc = _ok(run_store("realize", str(env_file), "--no-out-link", "--substituter", cache.as_uri(),
                         "--trusted-key", public, store_root=b_root,
                         env={**env_b, "_ENVSTORE_TEST_CRASH_AT": "bytecode.compile"}))
    b = Path(proc.stdout.strip())
    assert b.name == a.name and b != a
    assert "substituted 5 conda packages from" in proc.stderr, proc.stderr
    assert "fetching" not in proc.stderr.replace("fetching blobs", ""), proc.stderr
    files_a, files_b = _files(a), _files(b)
    assert set(files_a) == set(files_b)
    rewritten = {p for p in files_a if str(a).encode() in (a / p).read_bytes()}
    assert "lib/pkgconfig/demo.pc" in rewritten and "lib/libdemo.so.1.0.0" in rewritten
    assert all(str(b).encode() in (b / p).read_bytes() for p in rewritten)
    # the conda-meta records hold the sha256 each rewritten file has in its prefix
    records = {p for p in files_a if p.startswith("conda-meta/")}
    assert {p: h for p, h in files_a.items() if p not in rewritten | records} == \
           {p: h for p, h in files_b.items() if p not in rewritten | records}
    for p in records - {"conda-meta/history"}:
        doc_a, doc_b = json.loads((a / p).read_text()), json.loads((b / p).read_text())
        assert doc_a["files"] == doc_b["files"] and doc_a["sha256"] == doc_b["sha256"]
    tool = subprocess.run([b / "bin" / "demotool"], capture_output=True, text=True, check=True)
    assert tool.stdout == f"{b} 5\n"
    ext = subprocess.run([b / "bin" / "python", "-c", "import demoext, demopy.cli; print(demoext.add(2, 3))"],
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert ext.returncode == 0 and ext.stdout == "5\n", ext.stderr
    assert _ok(run_store("verify", store_root=b_root, env=env_b))
