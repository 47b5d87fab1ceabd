"""The `.envstore/` format (python/envstore/project.py, docs/concepts.md): the golden cases in
tests/fixtures/project-v1, which the shim's own tests (`cargo test -p envstore-shim`) read too,
give the same choice through Python's reader and through the shim binary; the active file is
written in v1 and today's unversioned form is still read."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from envstore import project

FIXTURES = Path(__file__).parent / "fixtures" / "project-v1"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expect").is_file())


def build_case(case: str, tmp_path: Path) -> tuple[Path, str, str]:
    """(project dir, expected kind, its argument) for one golden case, built under tmp_path."""
    src = FIXTURES / case
    proj = tmp_path / "project"
    shutil.copytree(src / project.OUT_LINK_DIR, proj / project.OUT_LINK_DIR)
    for name in (src / "out-links").read_text().split():
        prefix = tmp_path / "envs" / name
        (prefix / "bin").mkdir(parents=True)
        os.symlink(prefix, proj / project.OUT_LINK_DIR / name)
    kind, _, rest = (src / "expect").read_text().strip().partition(" ")
    return proj, kind, rest


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shim binary embedded in the extension, written out alone (no index beside it)."""
    from envstore._core import shim_binary

    path = tmp_path_factory.mktemp("shim") / "envstore-shim"
    path.write_bytes(shim_binary())
    path.chmod(0o755)
    return path


def test_fixture_has_every_case() -> None:
    kinds = {(FIXTURES / c / "expect").read_text().split()[0] for c in CASES}
    assert kinds == {"active", "only", "ambiguous", "none"}, CASES


@pytest.mark.parametrize("case", CASES)
def test_python_and_the_shim_make_the_same_choice(case: str, tmp_path: Path, shim: Path) -> None:
    proj, kind, rest = build_case(case, tmp_path)
    dot = proj / project.OUT_LINK_DIR
    expected_links = tuple(rest.split(", ")) if rest else ()
    assert project.choose(dot) == project.Choice(kind, expected_links)
    # Protocol files and dot names are never out-links.
    assert project.out_links(dot) == sorted((FIXTURES / case / "out-links").read_text().split())

    r = subprocess.run([str(shim), "resolve", str(proj)], capture_output=True, text=True, timeout=30)
    if kind in ("active", "only"):
        assert (r.returncode, r.stdout) == (0, f"env\t{tmp_path / 'envs' / rest}\n"), r.stderr
    elif kind == "ambiguous":
        assert r.returncode == 1 and r.stdout == ""
        assert f"holds several environments ({rest}) and none is chosen" in r.stderr, r.stderr
    else:
        assert r.returncode == 1 and r.stdout == "", r.stderr


def test_golden_files_parse() -> None:
    v1 = project.read_active(FIXTURES / "active-v1" / project.OUT_LINK_DIR)
    assert v1 == project.Active("ci-py312", "ci-py312.yml", "pylock.ci-py312.toml")
    unversioned = project.read_active(FIXTURES / "active-unversioned" / project.OUT_LINK_DIR)
    assert unversioned == project.Active("b", "env.yml", "pylock.toml")
    newer = project.read_active(FIXTURES / "active-unknown-version" / project.OUT_LINK_DIR)
    assert newer == project.Active(None)
    dot = FIXTURES / "active-v1" / project.OUT_LINK_DIR
    assert project.read_owners(dot) == {"ci": "ci.yml", "ci-py312": "ci-py312.yml"}
    (state,) = project.read_states(dot).values()
    assert set(state) == {"env", "lock_path", "lock", "prefix", "link"}


def test_written_active_file_is_v1_and_round_trips(tmp_path: Path, shim: Path) -> None:
    proj, _kind, _rest = build_case("ambiguous", tmp_path)
    env_file = proj / "ci-py312.yml"
    link = proj / project.OUT_LINK_DIR / "ci-py312"
    project.set_active(env_file, link, proj / "pylock.ci-py312.toml")
    text = (link.parent / project.ACTIVE_FILE).read_text()
    assert text == (FIXTURES / "active-v1" / project.OUT_LINK_DIR / project.ACTIVE_FILE).read_text()
    assert project.choose(link.parent) == project.Choice("active", ("ci-py312",))
    r = subprocess.run([str(shim), "resolve", str(proj)], capture_output=True, text=True, timeout=30)
    assert r.stdout == f"env\t{tmp_path / 'envs' / 'ci-py312'}\n", r.stderr


def test_default_env_files_are_one_list(tmp_path: Path) -> None:
    from envstore.lockfile import lock_path_for
    from envstore.spec import find_env_file

    (tmp_path / "environment.yaml").write_text("name: x\n")
    assert find_env_file(tmp_path) == tmp_path / "environment.yaml"
    (tmp_path / "env.yml").write_text("name: x\n")
    assert find_env_file(tmp_path) == tmp_path / "env.yml"  # .yml first, as before
    for name in project.DEFAULT_ENV_FILES:
        assert lock_path_for(tmp_path / name) == tmp_path / "pylock.toml"
    assert lock_path_for(tmp_path / "ci.yaml") == tmp_path / "pylock.ci.toml"
