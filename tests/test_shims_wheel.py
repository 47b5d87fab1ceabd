"""The shims from a wheel built on a clean clone: `pip wheel .` in a `git clone` of this
repository, installed into a fresh venv, run with no cargo on PATH. Needs git, cargo (to
build) and the index pip is configured with (for maturin); about two minutes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_realize_real import pyenv_versions

pytestmark = pytest.mark.network

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(900)
def test_wheel_from_clean_clone_ships_working_shims(tmp_path: Path) -> None:
    if not (REPO / ".git").exists() or shutil.which("git") is None or shutil.which("cargo") is None:
        pytest.skip("needs a git checkout, git and cargo to build the wheel")
    if not pyenv_versions():
        pytest.skip("needs a pyenv CPython for the environment")
    src = tmp_path / "src"
    subprocess.run(["git", "clone", "-q", str(REPO), str(src)], check=True, timeout=120)
    # The clone's files are clean; its compiled dependencies may come from the checkout's own
    # release build (the test command's `pip install .` made it), as a CI cache of target/ would:
    # compiling pyo3, blake3, zstd and rayon again was three minutes of the suite's wall time.
    build_env = dict(os.environ, CARGO_TARGET_DIR=str(REPO / "target")) if (REPO / "target" / "release").is_dir() \
        else None
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", ".", "-w", str(tmp_path / "dist")],
                           cwd=src, capture_output=True, text=True, timeout=900, env=build_env)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("envstore-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, timeout=600)

    # No cargo, no rustc, no source tree: only the venv and the system's basic tools.
    path = os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVSTORE_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = path
    assert subprocess.run(["sh", "-c", "command -v cargo"], env=env, capture_output=True).returncode != 0
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "env.yml").write_text(f"name: w\ndependencies:\n  - python={pyenv_versions()[0]}\n  - pip:\n      - six\n")
    store = tmp_path / "store"

    def run(*args: str, cwd: Path = proj, extra_path: str = "") -> subprocess.CompletedProcess[str]:
        e = dict(env, PATH=f"{extra_path}{os.pathsep}{path}" if extra_path else path)
        return subprocess.run(list(args), cwd=cwd, env=e, capture_output=True, text=True, timeout=600)

    prefix = run("store", "--store", str(store), "realize").stdout.strip()
    shim_dir = run("store", "--store", str(store), "shims", "install").stdout.strip()
    assert prefix and shim_dir, "realize and shims install print their paths"
    out = run("python", "-c", "import sys, six; print(sys.prefix)", extra_path=shim_dir)
    assert out.stdout.strip() == prefix, out.stderr
