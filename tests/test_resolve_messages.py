"""What `store lock` says when a requirement cannot be met, against a local index on 127.0.0.1:
versions or whole projects that exist only as sdists (at the top or deep in the graph) under
`--only-binary :all:` (without it they are built: test_source_builds.py), and old wheels whose
Requires-Dist lines use legacy forms. One index and one store serve every case."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Iterator

import pytest

from local_index import Entry, LocalIndex, ServedIndex

PY = "%d.%d" % sys.version_info[:2]


def add_sdist(index: LocalIndex, name: str, version: str) -> Entry:
    """A source distribution (PKG-INFO only: nothing here builds it) listed without a sidecar."""
    path = index.root / "files" / f"{name}-{version}.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo(f"{name}-{version}/PKG-INFO")
        info.size = len(pkg_info)
        tf.addfile(info, io.BytesIO(pkg_info))
    entry = Entry(path, sidecar=False)
    index.projects.setdefault(name, []).append(entry)
    return entry


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIndex]:
    with ServedIndex(tmp_path_factory.mktemp("index")) as idx:
        # albu: old versions only as sdists, newer ones with wheels (and one for Windows only).
        for v in ("0.1", "0.4.2", "0.4.3"):
            add_sdist(idx, "albu", v)
        for v in ("0.0.0", "0.5.0", "0.5.1", "1.0"):
            idx.add("albu", v)
        idx.add("albu", "0.4.4", tag="cp311-cp311-win_amd64")
        # feedy needs sgmlish, which has no wheel at all; both feedy versions are tried.
        idx.add("feedy", "1.1", ["sgmlish"])
        idx.add("feedy", "1.0", ["sgmlish>=1"])
        add_sdist(idx, "sgmlish", "1.0.0")
        for v in ("0.6.1", "0.6.2"):
            add_sdist(idx, "docoptish", v)
        # Old wheels with the legacy forms pip < 24.1 and uv read.
        idx.add("lightning-old", "1.0", ["torchy (>=1.7.*)", 'numpyish (>=1.19.*) ; python_version >= "3.7"'])
        for v in ("1.6", "1.8"):
            idx.add("torchy", v)
        idx.add("numpyish", "1.20")
        idx.add("brokenmeta", "1.0", ["torchy (>=1.7.*"])
        yield idx


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store") / "store"


def store_lock(tmp_path: Path, store_dir: Path, index: LocalIndex, *deps: str) -> subprocess.CompletedProcess:
    env_file = tmp_path / "env.yml"
    env_file.write_text("name: t\ndependencies:\n  - python=%s\n  - pip:\n    - '--only-binary=:all:'\n" % PY
                        + "".join(f"    - '{d}'\n" for d in deps))
    env = {**os.environ, "PYENV_ROOT": str(Path(sys.executable).parents[2])}
    return subprocess.run(["store", "--store", str(store_dir), "lock", "--index-url", index.simple, str(env_file)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)


def error_of(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1 and proc.stdout == "", (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stderr[proc.stderr.index("error: "):]


def hint_of(error: str) -> str:
    return error[error.index("\nhint: ") + 1:]


def test_pinned_version_only_as_sdist(tmp_path, store_dir, index):
    error = error_of(store_lock(tmp_path, store_dir, index, "albu==0.4.3"))
    assert error.startswith("error: cannot install albu==0.4.3: albu 0.4.3 has only a source distribution "
                            "on the index, no wheel (--only-binary forbids building it)\n"), error
    hint = hint_of(error)
    # The versions nearest 0.4.3 with a wheel for this interpreter: not the Windows-only 0.4.4.
    assert "the nearest are 0.0.0, 0.5.0, 0.5.1, 1.0 (e.g. albu==0.5.0 in the env file)" in hint, hint
    assert "pip wheel --no-deps 'albu==0.4.3' -w wheels" in hint and "relax" not in hint, hint

    error = error_of(store_lock(tmp_path, store_dir, index, "albu<0.4.4,>0.1"))
    assert "every version of albu matching <0.4.4,>0.1 has only a source distribution on the index, no wheel: " \
           "0.4.3, 0.4.2 (--only-binary forbids" in error, error
    # A Windows-only wheel in range: said so, and the sdists beside it.
    error = error_of(store_lock(tmp_path, store_dir, index, "albu<0.5,>0.1"))
    assert "wheels exist for: cp311-cp311-win_amd64; 0.4.3, 0.4.2 only as source distributions" in error, error


def test_sdist_only_dependency_deep_in_the_graph(tmp_path, store_dir, index):
    error = error_of(store_lock(tmp_path, store_dir, index, "feedy"))
    assert "conflicting" not in error, error
    assert error.startswith("error: cannot install sgmlish (required by feedy 1.1 and 1.0): sgmlish has no wheel "
                            "for any platform: only source distributions on the index (newest 1.0.0)"), error
    assert "env.yml:6 asks for feedy → feedy 1.1 requires sgmlish\n" in error, error
    assert "pip wheel --no-deps 'sgmlish==1.0.0' -w wheels" in hint_of(error)


def test_sdist_only_project_hint_says_what_to_do(tmp_path, store_dir, index):
    error = error_of(store_lock(tmp_path, store_dir, index, "docoptish"))
    assert error.startswith("error: cannot install docoptish: docoptish has no wheel for any platform: only "
                            "source distributions on the index (newest 0.6.2), and --only-binary forbids "
                            "building it\n"), error
    hint = hint_of(error)
    assert "relax one of the requirements" not in hint, hint
    assert hint.startswith("hint: take it out of --only-binary to build it from source, or build a wheel "
                           "yourself (pip wheel --no-deps "
                           "'docoptish==0.6.2' -w wheels) and pass --find-links wheels (or put a `--find-links "
                           "DIR` line in the `- pip:` list)"), hint
    assert "an alternative that ships wheels" in hint


def test_legacy_requires_dist_is_read_as_pip_and_uv_read_it(tmp_path, store_dir, index):
    proc = store_lock(tmp_path, store_dir, index, "lightning-old")
    assert proc.returncode == 0, proc.stderr
    lock = (tmp_path / "pylock.toml").read_text()
    # `(>=1.7.*)` means >=1.7: torchy 1.6 is out, 1.8 in.
    assert 'name = "torchy"\nversion = "1.8"' in lock and 'name = "numpyish"' in lock, lock

    error = error_of(store_lock(tmp_path, store_dir, index, "brokenmeta"))
    assert error.startswith("error: brokenmeta 1.0 has invalid metadata in brokenmeta-1.0-py3-none-any.whl: "
                            "Requires-Dist 'torchy (>=1.7.*'\n"), error
    hint = hint_of(error)
    assert "index may be down" not in hint and "brokenmeta!=1.0" in hint, hint
