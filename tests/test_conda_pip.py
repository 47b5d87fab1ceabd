"""The conda route's pip half, resolver side: a `- pip:` list resolved from a real (local,
127.0.0.1) Python index on top of packages conda installed, which count as already installed:
they are not picked again, and a pip entry that needs another version of one is a conflict that
names what installed it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.version import Version

sys.path.insert(0, str(Path(__file__).resolve().parent))

from envstore.index import IndexClient, IndexConfig  # noqa: E402
from envstore.resolve.lock import ResolutionError, resolve  # noqa: E402
from envstore.resolve.target import TargetPython  # noqa: E402
from envstore.spec.conda_env import parse_conda_env, pip_spec  # noqa: E402
from local_index import local_index  # noqa: E402,F401 - fixture

ENV = """\
name: mixed
channels:
  - ./channel
dependencies:
  - python
  - six-like
  - pip
  - pip:
      - {pip}
"""


def _resolve(tmp_path: Path, index, pip: str, installed: dict) -> dict[str, str]:
    env_file = tmp_path / "env.yml"
    env_file.write_text(ENV.format(pip=pip))
    spec = pip_spec(parse_conda_env(env_file))
    target = TargetPython.from_executable(sys.executable)
    with IndexClient(IndexConfig((index.simple,)), None) as client:
        picked = resolve(spec, target, client, installed=installed)
    return {c.name: str(c.version) for c in picked}


def test_conda_installed_package_is_not_picked_again(tmp_path: Path, local_index) -> None:
    local_index.add("sixlike", "1.16.0")
    local_index.add("sixlike", "1.17.0")
    local_index.add("usesix", "2.0", ["sixlike>=1.10"])
    got = _resolve(tmp_path, local_index, "usesix", {"sixlike": (Version("1.16.0"), "conda package six-like")})
    assert got == {"usesix": "2.0"}
    # without the conda half, the index's newest is picked
    assert _resolve(tmp_path, local_index, "usesix", {"other": (Version("1"), "x")}) == {
        "usesix": "2.0", "sixlike": "1.17.0"}


def test_pip_entry_needing_another_version_names_the_conda_package(tmp_path: Path, local_index) -> None:
    local_index.add("sixlike", "1.17.0")
    local_index.add("usesix", "2.0", ["sixlike>=1.17"])
    with pytest.raises(ResolutionError) as e:
        _resolve(tmp_path, local_index, "usesix", {"sixlike": (Version("1.16.0"), "conda package six-like")})
    assert "sixlike 1.16.0 is installed by conda package six-like" in str(e.value)
    assert "env.yml:9" in str(e.value)


def test_realize_pip_half_on_top_of_conda(conda_channel, conda_alias_url, local_index, store_root: Path,
                                          tmp_path: Path) -> None:
    """End to end: demopy (noarch python) from the channel, a wheel from the local index that
    depends on it; the wheel lands in the conda prefix's site-packages, demopy is not reinstalled,
    and the lock records both halves."""
    import os
    import subprocess
    import tomllib

    from conftest import run_store

    local_index.add("demopy", "9.0")  # newer on the index: must not replace conda's 0.3.0
    local_index.add("usesdemo", "1.0", ["demopy>=0.1"])
    rc = tmp_path / "condarc"
    rc.write_text("")
    env = dict(os.environ, ENVSTORE_CHANNEL_ALIAS=conda_alias_url, CONDARC=str(rc), PIP_FIND_LINKS="")
    proj = tmp_path / "proj"
    proj.mkdir()
    env_file = proj / "env.yml"
    env_file.write_text("name: mixed\nchannels: [channel]\ndependencies:\n  - python\n  - channel::demopy\n"
                        "  - pip:\n      - usesdemo\n")
    proc = run_store("realize", "--index-url", local_index.simple, str(env_file), store_root=store_root, env=env)
    assert proc.returncode == 0, proc.stderr
    prefix = Path(proc.stdout.strip())
    site = next((prefix / "lib").glob("python*/site-packages"))
    assert list(site.glob("usesdemo-1.0.dist-info"))
    # both halves get the store's bytecode, compiled by the prefix's conda python
    assert list(site.glob(f"usesdemo/__pycache__/__init__.{sys.implementation.cache_tag}.pyc")), sorted(os.listdir(site))
    assert list(site.glob(f"demopy/__pycache__/__init__.{sys.implementation.cache_tag}.pyc"))
    assert not list(site.glob("demopy-9.0.dist-info"))
    out = subprocess.run([prefix / "bin" / "python", "-c", "import usesdemo, demopy; print(demopy.VERSION)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0.3.0"
    doc = tomllib.loads((proj / "pylock.toml").read_text())
    assert [p["name"] for p in doc["packages"]] == ["usesdemo"]
    assert {p["name"] for p in doc["tool"]["envstore"]["conda"]["packages"]} >= {"python", "demopy"}
    again = run_store("realize", "--frozen", str(env_file), store_root=store_root, env=env)
    assert again.returncode == 0 and again.stdout == proc.stdout, again.stderr
