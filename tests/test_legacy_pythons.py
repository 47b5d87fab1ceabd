"""CPython 3.6 and 3.7 as targets, with the pyenv installs of this machine (skipped where
absent): imported into the store, a real env locked and realized on them, run directly and
through the shims, and bytecode warm — hash-based on 3.7, and on 3.6 (no PEP 552) timestamp
pycs that record the store's fixed mtime 1. Python 2.7 is refused as unsupported, and a
patch release that is not here gets a message saying what is."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from interp_helpers import (  # noqa: E402 - tests/ is on sys.path (rootdir conftest)
    assert_one_error_line, pyenv_pythons, run_store, store_env,
)

LEGACY = pyenv_pythons(minimum=(2, 0))
pytestmark = pytest.mark.timeout(600)

# Real wheels that still support 3.6: pure (six, attrs <23 by requires-python) and binary (PyYAML
# 6.0.1 has cp36m/cp37m wheels, with its libyaml extension).
PACKAGES = ["six", "attrs", "pyyaml"]
RUN = ("import sys, six, attr, yaml\n"
       "assert yaml.__with_libyaml__, 'the binary wheel was not used'\n"
       "@attr.s\nclass P:\n    x = attr.ib()\n"
       "print('%d.%d' % sys.version_info[:2], sys.prefix, yaml.safe_load('a: [1, 2]')['a'], P(1).x)\n")


def legacy(minor: str) -> Path:
    if minor not in LEGACY:
        pytest.skip(f"no pyenv CPython {minor} on this machine")
    return LEGACY[minor]


def pyc_header(path: Path) -> tuple[int, int]:
    """The two words after a pyc's magic number: 3.7+ flags and half the hash, 3.6 mtime and size."""
    data = path.read_bytes()
    return int.from_bytes(data[4:8], "little"), int.from_bytes(data[8:12], "little")


def loaded_from_pyc(python: Path, module: str, cwd: Path) -> str:
    """`python -v` import of `module`: its verbose log, checked to show a load from __pycache__
    and no attempt to write bytecode."""
    proc = subprocess.run([str(python), "-v", "-c", f"import {module}"], capture_output=True, text=True,
                          cwd=cwd, env=store_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = proc.stderr
    last = module.split(".")[-1]
    pycs = (rf"/__pycache__/{last}\.cpython-3\d+\.pyc", rf"/{last}/__pycache__/__init__\.cpython-3\d+\.pyc")
    assert any(re.search(rf"# code object from '[^']*{pyc}'", log) for pyc in pycs), log[-3000:]
    assert "# wrote " not in log and "# could not create" not in log, log[-3000:]
    assert "bad mtime" not in log and "bad size" not in log, log[-3000:]
    return log


@pytest.mark.network
@pytest.mark.parametrize("minor", ["3.6", "3.7"])
def test_legacy_target_locks_realizes_runs_warm(minor: str, tmp_path: Path) -> None:
    legacy(minor)
    store = tmp_path / "store"
    project = tmp_path / "proj"
    project.mkdir()
    deps = "".join(f"    - {p}\n" for p in PACKAGES)
    (project / "env.yml").write_text(f"name: legacy\ndependencies:\n  - python={minor}\n  - pip:\n{deps}")

    real = run_store(store, "realize", str(project / "env.yml"))
    assert real.returncode == 0, real.stderr
    prefix = Path(real.stdout.strip())
    lock = (project / "pylock.toml").read_text()
    assert re.search(rf'version = "{re.escape(minor)}\.\d+"', lock), lock  # the interpreter it was locked for
    assert re.search(r"PyYAML-[\d.]+-cp3\dm?-cp3\dm-manylinux", lock, re.I), lock

    python = prefix / "bin" / "python"
    ran = subprocess.run([str(python), "-c", RUN], capture_output=True, text=True, env=store_env(), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [minor, str(prefix), "[1,", "2]", "1"]

    # Bytecode: the store's, valid as the interpreter checks it, for a wheel and for the stdlib.
    site = prefix / "lib" / f"python{minor}" / "site-packages"
    tag = "cpython-" + minor.replace(".", "")
    wheel_pyc = site / "yaml" / "__pycache__" / f"__init__.{tag}.pyc"
    stdlib_src = Path(os.path.realpath(python)).parent.parent / "lib" / f"python{minor}" / "json" / "decoder.py"
    stdlib_pyc = stdlib_src.parent / "__pycache__" / f"decoder.{tag}.pyc"
    for src, pyc in ((site / "yaml" / "__init__.py", wheel_pyc), (stdlib_src, stdlib_pyc)):
        first, second = pyc_header(pyc)
        if minor == "3.6":  # no hash-based pycs: timestamp 1 (every store file's mtime) and the size
            assert os.stat(src).st_mtime == 1
            assert (first, second) == (1, os.stat(src).st_size), pyc
        else:
            assert first == 1, pyc  # unchecked hash-based (PEP 552)
    before = sorted(str(p) for p in prefix.rglob("*"))
    loaded_from_pyc(python, "yaml", tmp_path)
    loaded_from_pyc(python, "json.decoder", tmp_path)
    assert sorted(str(p) for p in prefix.rglob("*")) == before, "an import wrote into the prefix"

    # The shims send `python` in the project directory to this prefix.
    shims = run_store(store, "shims", "install")
    assert shims.returncode == 0, shims.stderr
    path = os.pathsep.join([shims.stdout.strip(), os.environ.get("PATH", "")])
    env = {k: v for k, v in store_env().items() if k != "VIRTUAL_ENV"}
    via_shim = subprocess.run(["python", "-c", RUN], capture_output=True, text=True, cwd=project,
                              env={**env, "PATH": path})
    assert via_shim.returncode == 0, via_shim.stderr
    assert via_shim.stdout.split()[:2] == [minor, str(prefix)]


def test_python2_is_refused_as_unsupported(tmp_path: Path) -> None:
    old = next((v for m, v in sorted(LEGACY.items()) if m.startswith("2.")), None)
    if old is None:
        pytest.skip("no pyenv Python 2 on this machine")
    proc = run_store(tmp_path / "store", "python", "import", str(old))
    assert_one_error_line(proc)
    assert re.search(r"is python 2\.\d+\.\d+, which envstore does not support", proc.stderr), proc.stderr
    assert "hint: envstore supports CPython 3.6 and newer" in proc.stderr
    assert "python -h" not in proc.stderr

    listed = run_store(tmp_path / "store", "python", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if str(old) in ln)
    assert re.search(r"python 2\.\d+\.\d+: unsupported \(envstore supports CPython 3\.6 and newer\)", line), line
    assert "not a working Python interpreter" not in listed.stdout


def test_missing_patch_release_says_what_exists_and_what_to_do(tmp_path: Path) -> None:
    here = pyenv_pythons()
    if not here:
        pytest.skip("no pyenv CPython 3.8+ on this machine")
    minor = "3.8" if "3.8" in here else sorted(here)[0]
    installed = here[minor].name  # "3.8.18"
    patch = next(f"{minor}.{n}" for n in (5, 4, 3, 2, 1) if f"{minor}.{n}" != installed)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "env.yml").write_text(f"name: pinned\ndependencies:\n  - python={patch}\n  - pip:\n    - six\n")
    proc = run_store(tmp_path / "store", "lock", str(project / "env.yml"))
    assert_one_error_line(proc)
    assert f"no interpreter matching 'python {patch}'" in proc.stderr
    assert re.search(rf"found [^)]*\b{re.escape(installed)}\b", proc.stderr), proc.stderr
    hint = next(ln for ln in proc.stderr.splitlines() if ln.startswith("hint:"))
    assert f"python={minor}" in hint and installed in hint, hint
    assert f"`store python install {patch}`" in hint, hint
