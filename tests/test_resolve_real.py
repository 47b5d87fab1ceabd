"""Against the real index pip is configured with: our picks equal pip's for three requirement
sets, uv installs a lockfile we wrote, and we read the pylock.toml uv writes. Downloads are
cached in a temp dir shared by the session (and by later runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import pytest
from packaging.version import Version

from envstore.index.config import resolve_index_config
from envstore.lockfile import dumps_lock, read_lock
from envstore.resolve.lock import lock_env
from envstore.resolve.target import TargetPython

pytestmark = pytest.mark.network

CACHE = Path(os.environ.get("ENVSTORE_TEST_HTTP_CACHE") or Path(tempfile.gettempdir()) / "envstore-test-http")

SETS = {
    "cli": ["click", "rich", "httpx"],
    "data-science": ["numpy", "pandas", "scipy", "matplotlib", "scikit-learn"],
    "web": ["fastapi", "sqlalchemy", "pydantic", "uvicorn"],
}


class CacheStore:
    """Stands in for a store: only its root is used, for STORE/cache/."""

    root = str(CACHE)


@pytest.fixture(scope="session")
def target() -> TargetPython:
    return TargetPython.from_executable(sys.executable)


@pytest.fixture(scope="session")
def index_config():
    return resolve_index_config()


def pip_picks(reqs: list[str], target: TargetPython, config, tmp: Path) -> dict[str, str]:
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-",
           "--only-binary=:all:", "--python-version", target.version, "--target", str(tmp / "pip-target"),
           "--index-url", config.index_urls[0], *reqs]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    return {i["metadata"]["name"].lower().replace("_", "-").replace(".", "-"): i["metadata"]["version"]
            for i in report["install"]}


@pytest.mark.parametrize("set_name", list(SETS))
def test_same_picks_as_pip(tmp_path, set_name, target, index_config):
    reqs = SETS[set_name]
    env = tmp_path / "env.yml"
    major_minor = ".".join(target.version.split(".")[:2])
    env.write_text("name: %s\ndependencies:\n  - python=%s\n%s" % (
        set_name, major_minor, "".join(f"  - {r}\n" for r in reqs)))
    lock = lock_env(env, CacheStore(), index_config, target=target)
    ours = {p.name: p.version for p in lock.packages}
    assert ours == pip_picks(reqs, target, index_config, tmp_path)
    text = (tmp_path / "pylock.toml").read_text()
    assert dumps_lock(read_lock(tmp_path / "pylock.toml")) == text  # round-trips byte for byte


@pytest.fixture(scope="session")
def uv(tmp_path_factory, index_config) -> Path:
    d = tmp_path_factory.mktemp("uv-venv")
    venv.create(d, with_pip=True)
    py = d / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--index-url", index_config.index_urls[0], "uv"],
                   check=True, timeout=600)
    return d / "bin" / "uv"


def uv_env(index_config) -> dict[str, str]:
    return {**os.environ, "UV_DEFAULT_INDEX": index_config.index_urls[0], "UV_CACHE_DIR": str(CACHE / "uv")}


def test_uv_installs_our_lock(tmp_path, uv, target, index_config):
    env = tmp_path / "env.yml"
    env.write_text("name: uvtest\ndependencies:\n  - click\n  - rich\n  - pip:\n    - httpx[http2]\n")
    lock = lock_env(env, CacheStore(), index_config, target=target)
    dest = tmp_path / "venv"
    venv.create(dest, with_pip=False)
    py = dest / "bin" / "python"
    proc = subprocess.run([str(uv), "pip", "install", "--python", str(py), "-r", str(tmp_path / "pylock.toml")],
                          capture_output=True, text=True, timeout=600, env=uv_env(index_config))
    assert proc.returncode == 0, proc.stderr
    freeze = subprocess.run([str(uv), "pip", "freeze", "--python", str(py)], capture_output=True, text=True,
                            check=True, env=uv_env(index_config)).stdout
    installed = {line.split("==")[0].lower(): line.split("==")[1] for line in freeze.split() if "==" in line}
    assert installed == {p.name: p.version for p in lock.packages}


def test_read_uv_pylock(tmp_path, uv, target, index_config):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0"\nrequires-python = ">=%s"\ndependencies = ["click", "rich"]\n'
        % ".".join(target.version.split(".")[:2]))
    run = {"cwd": project, "capture_output": True, "text": True, "timeout": 600, "env": uv_env(index_config)}
    proc = subprocess.run([str(uv), "lock", "--python", str(target.executable)], **run)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([str(uv), "export", "--format", "pylock.toml", "--no-emit-project", "-o", "pylock.toml"], **run)
    assert proc.returncode == 0, proc.stderr
    lock = read_lock(project / "pylock.toml")
    names = {p.name for p in lock.packages}
    assert {"click", "rich", "pygments"} <= names
    narrowed = lock.for_tags(target.tags)  # every package gets its wheel for this interpreter
    assert all(p.wheel is not None and len(p.wheel.sha256) == 64 for p in narrowed.packages)
    # and it works as an input: re-resolving it pins the same versions (where markers apply)
    ours = lock_env(project / "pylock.toml", CacheStore(), index_config, target=target, write=False)
    assert {(p.name, p.version) for p in ours.packages} <= {(p.name, p.version) for p in lock.packages}


def test_store_lock_messages_for_real_sdist_only_and_legacy_metadata(tmp_path, target, index_config):
    """Through `store lock` on the real index under --only-binary (without it these are built:
    test_source_builds.py): an sdist-only version, an sdist-only dependency two levels down, an
    sdist-only project; and an old wheel whose Requires-Dist is legacy."""
    major_minor = ".".join(target.version.split(".")[:2])
    store = tmp_path / "store"
    env = {**os.environ, "PYENV_ROOT": str(Path(sys.executable).parents[2])}

    def store_lock(name: str, requirement: str) -> subprocess.CompletedProcess:
        path = tmp_path / f"{name}.yml"
        path.write_text(f"name: {name}\ndependencies:\n  - python={major_minor}\n  - pip:\n"
                        f"    - '--only-binary=:all:'\n    - {requirement}\n")
        return subprocess.run(["store", "--store", str(store), "lock", str(path)], capture_output=True, text=True,
                              timeout=600, env=env, cwd=tmp_path)

    proc = store_lock("alb", "albumentations==0.4.3")
    assert proc.returncode == 1, proc.stderr
    assert "albumentations 0.4.3 has only a source distribution on the index, no wheel" in proc.stderr
    assert "the nearest are " in proc.stderr and "0.5.0" in proc.stderr, proc.stderr
    proc = store_lock("news", "newspaper3k==0.2.8")
    assert proc.returncode == 1, proc.stderr
    assert "conflicting" not in proc.stderr, proc.stderr
    assert "cannot install feedfinder2 (required by newspaper3k 0.2.8): feedfinder2 has no wheel" in proc.stderr
    proc = store_lock("docopt", "docopt")
    assert proc.returncode == 1 and "relax one of the requirements" not in proc.stderr, proc.stderr
    assert "hint: take it out of --only-binary to build it from source, or build a wheel yourself" in proc.stderr, \
        proc.stderr
    proc = store_lock("pl", "pytorch-lightning==1.7.7")  # Requires-Dist: torch (>=1.9.*)
    assert proc.returncode == 0, proc.stderr
    lock = read_lock(tmp_path / "pylock.pl.toml")
    assert Version(lock.package("torch").version) >= Version("1.9")
