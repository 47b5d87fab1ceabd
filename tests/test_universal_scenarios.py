"""Resolver scenarios of issue 17 for universal locks, built as a local index, with the outcome
uv gives for the same input where uv decides it (`uv pip compile --universal`): requirements
that differ by marker fork into different pins; a conflict in one fork only fails a declared
lock naming that environment, and the default lock leaves that environment out; a
requires-python with a patch level is checked against the whole range a universal lock covers
(X.Y.0 and up), but against the exact interpreter for a lock of this machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from local_index import LocalIndex
from local_index import local_index  # noqa: F401 - fixture
from test_source_builds import store
from test_uv_reads_lock import uv

from envstore.resolve.universal import SUPPORTED_PYTHONS, host_platform

MINOR = "%d.%d" % sys.version_info[:2]
NEXT = f"3.{sys.version_info[1] + 1}"


@pytest.fixture(autouse=True)
def _here() -> None:
    if MINOR not in SUPPORTED_PYTHONS or NEXT not in SUPPORTED_PYTHONS or host_platform() != "linux-x86_64":
        pytest.skip("needs this test's python and the next among a universal lock's, on linux-x86_64")


def _uv_pins(tmp_path: Path, index: LocalIndex, requirements: str) -> tuple[int, set[tuple[str, str]], str]:
    """`uv pip compile --universal` of `requirements` for MINOR and up: its exit and pins."""
    req = tmp_path / "requirements.in"
    req.write_text(requirements)
    env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_NO_CONFIG": "1",
           "UV_PYTHON_DOWNLOADS": "never"}
    proc = subprocess.run([uv(), "pip", "compile", "--universal", "--python-version", MINOR, "--index-url",
                           index.simple, "--no-header", "--no-annotate", str(req)],
                          capture_output=True, text=True, env=env, timeout=120)
    pins = {(m[1].lower(), m[2]) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^ ;\n]+)", proc.stdout, re.M)}
    return proc.returncode, pins, proc.stderr


def _pins(lock_file: Path) -> set[tuple[str, str]]:
    return {(p["name"], p["version"]) for p in tomllib.loads(lock_file.read_text())["packages"]}


def _declared(requirements: list[str], platforms: str = "[linux-x86_64]") -> str:
    deps = "".join(f"      - \"{r}\"\n" for r in requirements)
    return (f"name: scen\nenvstore:\n  platforms: {platforms}\n  python: ['{MINOR}', '{NEXT}']\n"
            f"dependencies:\n  - pip:\n{deps}")


def test_requirements_that_differ_by_marker_fork(tmp_path: Path, local_index: LocalIndex) -> None:
    local_index.add("dep", "1.0")
    local_index.add("dep", "2.0")
    local_index.add("newer", "1.0", [f"dep>=2; python_version >= '{NEXT}'", f"dep<2; python_version < '{NEXT}'"])
    (tmp_path / "env.yml").write_text(_declared(["newer"]))
    proc = store("lock", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lock = tomllib.loads((tmp_path / "pylock.toml").read_text())
    markers = {p["version"]: p.get("marker", "") for p in lock["packages"] if p["name"] == "dep"}
    assert set(markers) == {"1.0", "2.0"}
    assert f"python_version == '{MINOR}'" in markers["1.0"] and f"python_version == '{NEXT}'" in markers["2.0"]

    code, uv_pins, err = _uv_pins(tmp_path, local_index, "newer\n")
    assert code == 0, err
    assert _pins(tmp_path / "pylock.toml") == uv_pins


def test_a_conflict_in_one_fork_only(tmp_path: Path, local_index: LocalIndex) -> None:
    local_index.add("base", "1.0")
    local_index.add("base", "2.0")
    local_index.add("tool", "1.0", ["base==1.0; sys_platform == 'win32'"])
    requirements = ["tool", "base==2.0"]
    (tmp_path / "env.yml").write_text(_declared(requirements, "[linux-x86_64, windows-x86_64]"))
    declared = store("lock", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    # uv fails the universal resolution too: there is no base for Windows
    code, _pins_uv, err = _uv_pins(tmp_path, local_index, "tool\nbase==2.0\n")
    assert code != 0 and "base" in err, err
    assert declared.returncode == 1 and "Traceback" not in declared.stderr, declared.stderr
    errors = [line for line in declared.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "windows-x86_64" in errors[0] and "base" in errors[0], declared.stderr
    assert "tool" in declared.stderr and "env.yml" in declared.stderr  # the chain names both sides
    assert not (tmp_path / "pylock.toml").exists()

    # Nothing declared: Windows is left out, named, and the rest is locked.
    deps = "".join(f"      - \"{r}\"\n" for r in requirements)
    (tmp_path / "env.yml").write_text(f"name: scen\ndependencies:\n  - python={MINOR}\n  - pip:\n{deps}")
    default = store("lock", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert re.search(rf"warning: not locked for python {MINOR} on windows-x86_64: .*base", default.stderr), default.stderr
    lock = tomllib.loads((tmp_path / "pylock.toml").read_text())
    assert len(lock["environments"]) == 4 and not any("win32" in m for m in lock["environments"])
    assert _pins(tmp_path / "pylock.toml") == {("base", "2.0"), ("tool", "1.0")}


def test_requires_python_with_a_patch_level(tmp_path: Path, local_index: LocalIndex) -> None:
    patch = sys.version_info[2]
    if patch == 0:
        pytest.skip("needs an interpreter past X.Y.0")
    local_index.add("patchy", "1.0")
    local_index.add("patchy", "2.0", requires_python=f">={MINOR}.{patch}")
    (tmp_path / "env.yml").write_text(_declared(["patchy"]))
    proc = store("lock", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # 2.0 cannot serve the whole of MINOR (X.Y.0 is in it), so the MINOR fork takes 1.0, as uv does
    pins = _pins(tmp_path / "pylock.toml")
    assert ("patchy", "1.0") in pins and ("patchy", "2.0") in pins, pins
    code, uv_pins, err = _uv_pins(tmp_path, local_index, "patchy\n")
    assert code == 0 and uv_pins == pins, (uv_pins, err)

    # The lock of this machine (realize with no lock) checks this interpreter's own patch level.
    here = tmp_path / "here"
    here.mkdir()
    (here / "env.yml").write_text(f"name: here\ndependencies:\n  - python={MINOR}\n  - pip:\n      - patchy\n")
    realized = store("realize", "--index-url", local_index.simple, root=tmp_path / "store", cwd=here)
    assert realized.returncode == 0, realized.stderr
    assert _pins(here / "pylock.toml") == {("patchy", "2.0")}
