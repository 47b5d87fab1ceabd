"""Pre-releases (issue 17 item 4) against a local index: PEP 440's rule by default (a
pre-release only when a specifier names one or no final release satisfies, as pip and uv
pick), `--prerelease allow|if-necessary|explicit|disallow` and `envstore: {prerelease: ...}`
to change it. Each outcome is read back from the pylock.toml `store lock` writes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from envstore.cli.options import PRERELEASE_CHOICES
from envstore.spec.model import PRERELEASE_POLICIES
from local_index import LocalIndex
from local_index import local_index  # noqa: F401 - fixture
from test_source_builds import store
from test_universal_lock import python  # noqa: F401 - fixture


@pytest.fixture
def index(local_index: LocalIndex) -> LocalIndex:
    local_index.add("mixed", "1.0")
    local_index.add("mixed", "2.0b1")
    local_index.add("onlypre", "0.1a1")
    local_index.add("dep", "0.9")
    local_index.add("dep", "1.0rc1")
    local_index.add("top", "1.0", ["dep>=1.0rc1"])
    return local_index


def lock(tmp_path: Path, index: LocalIndex, python: str, pins: list[str], *flags: str,
         section: str = "") -> tuple[int, dict[str, str], str]:
    env = tmp_path / "env.yml"
    lines = "".join(f"      - '{p}'\n" for p in pins)
    env.write_text(f"name: pre\n{section}dependencies:\n  - python={python}\n  - pip:\n{lines}")
    (tmp_path / "pylock.toml").unlink(missing_ok=True)
    proc = store("lock", "--index-url", index.simple, *flags, root=tmp_path / "store", cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode != 0:
        return proc.returncode, {}, proc.stderr
    doc = tomllib.loads((tmp_path / "pylock.toml").read_text())
    return 0, {p["name"]: p["version"] for p in doc["packages"]}, proc.stderr


@pytest.mark.parametrize(("pins", "flags", "expected"), [
    (["mixed"], (), {"mixed": "1.0"}),  # a final release satisfies: no pre-release
    (["mixed>=2.0b1"], (), {"mixed": "2.0b1"}),  # the specifier names one
    (["onlypre"], (), {"onlypre": "0.1a1"}),  # nothing else satisfies
    (["top"], (), {"top": "1.0", "dep": "1.0rc1"}),  # a dependency's specifier names one
    (["mixed"], ("--prerelease", "allow"), {"mixed": "2.0b1"}),
    (["mixed>=2.0b1", "onlypre"], ("--prerelease", "explicit"), None),  # onlypre: not named, so none
    (["mixed>=2.0b1"], ("--prerelease", "explicit"), {"mixed": "2.0b1"}),
    (["top"], ("--prerelease", "explicit"), None),  # dep's pre-release is named by top, not the env file
    (["top"], ("--prerelease", "if-necessary"), {"top": "1.0", "dep": "1.0rc1"}),
    (["mixed>=1.0"], ("--prerelease", "if-necessary"), {"mixed": "1.0"}),
    (["mixed>=2.0b1"], ("--prerelease", "disallow"), None),
], ids=["final-wins", "named", "only-pre", "transitive-named", "allow", "explicit-unnamed", "explicit-named",
        "explicit-transitive", "if-necessary-transitive", "if-necessary-final", "disallow"])
def test_prerelease_policies(tmp_path: Path, index: LocalIndex, python: str, pins: list[str],
                             flags: tuple[str, ...], expected: dict[str, str] | None) -> None:
    rc, versions, stderr = lock(tmp_path, index, python, pins, *flags)
    if expected is None:
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert rc == 1 and len(errors) == 1, stderr
        assert not (tmp_path / "pylock.toml").exists()
    else:
        assert rc == 0, stderr
        assert versions == expected


def test_the_env_file_sets_the_policy_and_the_flag_replaces_it(tmp_path: Path, index: LocalIndex, python: str) -> None:
    section = "envstore:\n  prerelease: allow\n"
    assert lock(tmp_path, index, python, ["mixed"], section=section)[1] == {"mixed": "2.0b1"}
    assert lock(tmp_path, index, python, ["mixed"], "--prerelease", "disallow", section=section)[1] == {"mixed": "1.0"}
    rc, _, stderr = lock(tmp_path, index, python, ["mixed"], section="envstore:\n  prerelease: sometimes\n")
    assert rc == 1 and "unknown prerelease policy 'sometimes'" in stderr and "env.yml:3:15" in stderr, stderr


def test_the_help_lists_the_policies_the_env_file_takes() -> None:
    assert PRERELEASE_CHOICES == PRERELEASE_POLICIES
