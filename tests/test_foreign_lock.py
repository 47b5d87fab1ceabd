"""Locks from elsewhere must not build broken environments (issue 12 item 3): `store export
--format pylock` carries requires-python and the interpreter, and `store realize` of any
pylock.toml checks every wheel's tags against the interpreter it picks, picks one that fits
when the lock names none, and otherwise refuses naming the wheel, building nothing.

Real wheels (cp312 binaries, and a win_amd64 one that fits nothing here), real pyenv
interpreters (skipped when 3.12 or 3.13 is absent), real `store` subprocesses."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import WHEEL_CACHE
from interp_helpers import assert_one_error_line, blob_count, pyenv_pythons, run_store, store_env

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYTHONS = pyenv_pythons()
pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(not {"3.12", "3.13"} <= set(PYTHONS), reason="needs pyenv CPython 3.12 and 3.13"),
]


def download(requirement: str, *platform: str) -> Path:
    """One wheel built for CPython 3.12 (whatever Python runs the tests), through pip's own
    index configuration; `platform` adds pip's --platform."""
    dest = WHEEL_CACHE / ("cp312-" + "-".join([requirement.replace("=", "_"), *platform]))
    if not any(dest.glob("*.whl")):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", *(a for p in platform for a in ("--platform", p)),
                        "-d", str(dest), requirement], check=True, timeout=300)
    return next(dest.glob("*.whl"))


def package(name: str, version: str, wheel: Path) -> str:
    """A [[packages]] entry as other tools write it: a local wheel by path, sha256, size."""
    lines = ["[[packages]]", f'name = "{name}"', f'version = "{version}"']
    lines += ["[[packages.wheels]]", f'name = "{wheel.name}"', f'path = "{wheel}"', f"size = {wheel.stat().st_size}",
              f'hashes = {{sha256 = "{hashlib.sha256(wheel.read_bytes()).hexdigest()}"}}', ""]
    return "\n".join(lines)


def foreign_lock(directory: Path, *packages: str, tail: str = "") -> Path:
    """A pylock.toml that names no interpreter, as `uv export --format pylock.toml` writes."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / "pylock.toml"
    lock.write_text('lock-version = "1.0"\ncreated-by = "uv"\n\n' + "\n".join(packages) + tail)
    return lock


def in_dir(directory: Path, store_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`store ARGS` run from `directory`, as a user in their project would."""
    return subprocess.run(["store", "--store", str(store_root), *args], capture_output=True, text=True,
                          timeout=300, cwd=directory, env=store_env(ENVSTORE_FSYNC="0"))


def realize(store_root: Path, lock: Path) -> subprocess.CompletedProcess[str]:
    return in_dir(lock.parent, store_root, "realize", lock.name)


def python_of(prefix: Path) -> list[str]:
    return sorted(p.name for p in (prefix / "lib").glob("python3*"))


def imports(prefix: Path, *modules: str) -> subprocess.CompletedProcess[str]:
    code = "; ".join(f"import {m}" for m in modules)
    return subprocess.run([str(prefix / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def wheels() -> dict[str, Path]:
    return {
        "markupsafe": download("markupsafe==3.0.2"),
        "pyyaml": download("pyyaml==6.0.2"),
        "markupsafe-win": download("markupsafe==3.0.2", "win_amd64"),
    }


def colorama_on_windows() -> str:
    """A package for Windows only, whose wheel path does not exist: installing it would fail."""
    return "\n".join([
        "[[packages]]", 'name = "colorama"', 'version = "0.4.6"', "marker = \"sys_platform == 'win32'\"",
        "[[packages.wheels]]", 'name = "colorama-0.4.6-py2.py3-none-any.whl"',
        'path = "absent/colorama-0.4.6-py2.py3-none-any.whl"', f'hashes = {{sha256 = "{"0" * 64}"}}', ""])


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Path]):
    """A foreign lock of cp312 wheels that names no interpreter, realized on a fresh store
    (where the newest Python on the machine, 3.13, is what a realize ignoring the wheels picks)."""
    base = tmp_path_factory.mktemp("foreign")
    lock = foreign_lock(base / "project", package("markupsafe", "3.0.2", wheels["markupsafe"]),
                        package("pyyaml", "6.0.2", wheels["pyyaml"]), colorama_on_windows())
    return base / "store", realize(base / "store", lock)


def envs(store_root: Path) -> list[str]:
    d = store_root / "envs"
    return sorted(p.name for p in d.iterdir() if not p.name.startswith(".")) if d.is_dir() else []


def test_foreign_lock_without_interpreter_gets_one_that_fits(foreign) -> None:
    _store, proc = foreign
    assert proc.returncode == 0, proc.stderr
    prefix = Path(proc.stdout.strip())
    assert python_of(prefix) == ["python3.12"]
    assert "using python 3.12" in proc.stderr and "3.13" in proc.stderr  # says why not the newest
    check = imports(prefix, "markupsafe._speedups", "yaml._yaml")
    assert check.returncode == 0, check.stderr
    assert not list(prefix.glob("lib/python3.12/site-packages/colorama*"))  # its marker does not hold here


def test_export_carries_interpreter_and_realizes_with_it(tmp_path: Path, foreign) -> None:
    store, _proc = foreign  # has 3.12 already: no second import for the original env
    project = tmp_path / "demo"
    project.mkdir()
    (project / "env.yml").write_text("name: demo\ndependencies:\n  - python=3.12\n  - pip:\n      - markupsafe==3.0.2\n")
    first = in_dir(project, store, "realize", "env.yml")
    assert first.returncode == 0, first.stderr
    original = Path(first.stdout.strip())
    assert python_of(original) == ["python3.12"]

    exported = run_store(store, "export", "--format", "pylock", str(project / ".envstore" / "demo"))
    assert exported.returncode == 0, exported.stderr
    data = tomllib.loads(exported.stdout)
    assert data["requires-python"] == "==3.12.*"
    interpreter = data["tool"]["envstore"]["interpreter"]
    assert interpreter["implementation"] == "cpython" and interpreter["version"].startswith("3.12.")
    assert interpreter["platform"] and interpreter["tags-hash"].startswith("sha256:")

    # On a fresh store (where the newest Python here is 3.13) the export builds a 3.12 env again.
    lock = tmp_path / "elsewhere" / "pylock.toml"
    lock.parent.mkdir()
    lock.write_text(exported.stdout)
    again = realize(tmp_path / "fresh", lock)
    assert again.returncode == 0, again.stderr
    prefix = Path(again.stdout.strip())
    assert python_of(prefix) == ["python3.12"]
    assert list(prefix.glob("lib/python3.12/site-packages/markupsafe/_speedups.cpython-312-*.so"))
    check = imports(prefix, "markupsafe._speedups")
    assert check.returncode == 0, check.stderr


def test_lock_naming_an_interpreter_its_wheels_do_not_fit_is_refused(tmp_path: Path, foreign,
                                                                    wheels: dict[str, Path]) -> None:
    store, _proc = foreign
    version = PYTHONS["3.13"].name  # the pyenv directory names the full version
    # One package the named 3.13 could install (a pure wheel would), then the cp312 one it cannot.
    lock = foreign_lock(tmp_path / "named", package("pyyaml", "6.0.2", wheels["pyyaml"]),
                        tail=f'\n[tool.envstore.interpreter]\nimplementation = "cpython"\nversion = "{version}"\n')
    before = (envs(store), blob_count(store))
    proc = realize(store, lock)
    assert_one_error_line(proc)
    assert f"{wheels['pyyaml'].name} (pyyaml 6.0.2) does not fit python {version}" in proc.stderr
    assert "hint:" in proc.stderr
    assert (envs(store), blob_count(store)) == before


def test_wheel_that_fits_no_interpreter_is_refused(tmp_path: Path, foreign, wheels: dict[str, Path]) -> None:
    store, _proc = foreign
    lock = foreign_lock(tmp_path / "bad", package("pyyaml", "6.0.2", wheels["pyyaml"]),
                        package("markupsafe", "3.0.2", wheels["markupsafe-win"]))
    before = (envs(store), blob_count(store))
    proc = realize(store, lock)
    assert_one_error_line(proc)
    assert f"no interpreter here can install {wheels['markupsafe-win'].name}" in proc.stderr
    assert "win_amd64" in proc.stderr and "3.13" in proc.stderr and "3.12" in proc.stderr
    assert wheels["pyyaml"].name not in proc.stderr  # only the first wheel that fits nothing is named
    assert (envs(store), blob_count(store)) == before
