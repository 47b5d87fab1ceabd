"""Universal locks (issue 17), as far as they go today: `store lock --platform P ... --python X.Y`
against a local index with per-platform wheels and a Windows-only dependency writes one
pylock.toml with every needed wheel, PEP 751 markers and `environments`; realize of it here
takes the Linux wheel and leaves the Windows-only package out; a package with no wheel for one
declared platform is one error naming it and the platform."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from local_index import LocalIndex
from local_index import local_index  # noqa: F401 - fixture
from test_source_builds import store
from test_realize_real import pyenv_versions


@pytest.fixture
def python() -> str:
    versions = [v for v in pyenv_versions() if tuple(int(x) for x in v.split(".")) >= (3, 9)]
    if not versions:
        pytest.skip("no pyenv CPython >= 3.9")
    return versions[0]


def test_one_lock_for_linux_and_windows(tmp_path: Path, local_index: LocalIndex, python: str) -> None:
    cp = "cp" + python.replace(".", "")
    local_index.add("fast", "1.0", tag=f"{cp}-{cp}-manylinux_2_17_x86_64")
    local_index.add("fast", "1.0", tag=f"{cp}-{cp}-win_amd64")
    local_index.add("winonly", "2.0")
    local_index.add("plain", "3.0", ["winonly; sys_platform == 'win32'"])
    env = tmp_path / "env.yml"
    env.write_text(f"name: uni\ndependencies:\n  - python={python}\n  - pip:\n      - fast\n      - plain\n")
    root = tmp_path / "store"
    flags = ("--index-url", local_index.simple, "--platform", "linux-x86_64", "--platform", "windows-x86_64",
             "--python", python)

    proc = store("lock", *flags, root=root, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "pylock.toml").read_text()
    doc = tomllib.loads(text)
    packages = {p["name"]: p for p in doc["packages"]}
    assert sorted(w["name"] for w in packages["fast"]["wheels"]) == [
        f"fast-1.0-{cp}-{cp}-manylinux_2_17_x86_64.whl", f"fast-1.0-{cp}-{cp}-win_amd64.whl"]
    assert all(len(w["hashes"]["sha256"]) == 64 for p in doc["packages"] for w in p["wheels"])
    assert "win32" in packages["winonly"]["marker"] and "marker" not in packages["plain"]
    assert len(doc["environments"]) == 2
    again = store("lock", *flags, root=root, cwd=tmp_path)
    assert again.returncode == 0 and (tmp_path / "pylock.toml").read_text() == text  # stable

    realized = store("realize", "--python", python, "--index-url", local_index.simple, root=root, cwd=tmp_path)
    assert realized.returncode == 0, realized.stderr
    site = next(Path(realized.stdout.strip()).glob("lib/python*/site-packages"))
    assert (site / "fast").is_dir() and (site / "plain").is_dir() and not (site / "winonly").exists()
    assert (tmp_path / "pylock.toml").read_text() == text  # realize never rewrites the universal lock


def test_a_package_without_a_wheel_for_one_platform_is_named(tmp_path: Path, local_index: LocalIndex,
                                                             python: str) -> None:
    cp = "cp" + python.replace(".", "")
    local_index.add("linuxonly", "1.0", tag=f"{cp}-{cp}-manylinux_2_17_x86_64")
    env = tmp_path / "env.yml"
    env.write_text(f"name: uni\ndependencies:\n  - python={python}\n  - pip:\n      - linuxonly\n")
    proc = store("lock", "--index-url", local_index.simple, "--platform", "linux-x86_64", "--platform",
                 "macos-arm64", "--python", python, root=tmp_path / "store", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "linuxonly" in errors[0] and f"python {python} on macos-arm64" in errors[0], proc.stderr
    assert not (tmp_path / "pylock.toml").exists()


def test_the_env_file_declares_the_environments(tmp_path: Path, local_index: LocalIndex, python: str) -> None:
    """`envstore: {platforms, python}` makes `store lock` and `store realize` write the universal
    lock without flags; --check and --dry-run compare it like a single-target one."""
    cp = "cp" + python.replace(".", "")
    local_index.add("fast", "1.0", tag=f"{cp}-{cp}-manylinux_2_17_x86_64")
    local_index.add("fast", "1.0", tag=f"{cp}-{cp}-macosx_11_0_arm64")
    local_index.add("plain", "3.0", ["winonly; sys_platform == 'win32'"])
    local_index.add("plain", "3.1")
    env = tmp_path / "env.yml"
    head = f"name: decl\nenvstore:\n  platforms: [linux-x86_64, macos-arm64]\n  python: ['{python}']\n"
    env.write_text(head + "dependencies:\n  - pip:\n      - fast\n      - plain==3.0\n")
    root = tmp_path / "store"
    flags = ("--index-url", local_index.simple)

    realized = store("realize", *flags, root=root, cwd=tmp_path)
    assert realized.returncode == 0, realized.stderr
    doc = tomllib.loads((tmp_path / "pylock.toml").read_text())
    assert len(doc["environments"]) == 2 and doc["requires-python"].startswith(f">={python}")
    packages = {p["name"]: p for p in doc["packages"]}
    assert sorted(w["name"] for w in packages["fast"]["wheels"]) == [
        f"fast-1.0-{cp}-{cp}-macosx_11_0_arm64.whl", f"fast-1.0-{cp}-{cp}-manylinux_2_17_x86_64.whl"]
    assert "winonly" not in packages  # no declared environment is Windows
    site = next(Path(realized.stdout.strip()).glob("lib/python*/site-packages"))
    assert (site / "fast").is_dir() and (site / "plain").is_dir()

    check = store("lock", "--check", *flags, root=root, cwd=tmp_path)
    assert check.returncode == 0 and "up to date" in check.stderr, check.stderr
    env.write_text(head + "dependencies:\n  - pip:\n      - fast\n      - plain>=3.1\n")
    check = store("lock", "--check", *flags, root=root, cwd=tmp_path)
    assert check.returncode == 1 and "plain" in check.stderr and "Traceback" not in check.stderr, check.stderr
    dry = store("lock", "--dry-run", *flags, root=root, cwd=tmp_path)
    assert dry.returncode == 0 and "3.0" in dry.stdout and "3.1" in dry.stdout, (dry.stdout, dry.stderr)


@pytest.mark.parametrize(("section", "message"), [
    ("  python: [3.10]\n", "python 3.1 is a number here"),
    ("  platforms: [linux-x86-64]\n", "did you mean `linux-x86_64`?"),
    ("  python: ['3.1O']\n", "expected a python version as X.Y"),
])
def test_bad_declarations_are_one_error_at_their_line(tmp_path: Path, section: str, message: str) -> None:
    (tmp_path / "env.yml").write_text(f"name: bad\nenvstore:\n{section}dependencies:\n  - six\n")
    proc = store("lock", root=tmp_path / "store", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"env.yml:3:" in proc.stderr and message in proc.stderr, proc.stderr
