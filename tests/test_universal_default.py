"""`store lock` is universal by default (issue 17 item 1): with no `envstore:` declaration the
lock covers every supported CPython the env file allows on every platform, an environment that
cannot be resolved is left out with one line naming it, and a realize that has to lock again
keeps a universal lock universal. Against a local index whose wheels the test chooses."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from local_index import LocalIndex
from local_index import local_index  # noqa: F401 - fixture
from test_source_builds import store

from envstore.resolve.universal import SUPPORTED_PYTHONS, host_platform


@pytest.fixture
def python() -> str:
    minor = "%d.%d" % sys.version_info[:2]
    if minor not in SUPPORTED_PYTHONS or host_platform() != "linux-x86_64":
        pytest.skip("needs this test's own python among a universal lock's, on linux-x86_64")
    return minor


def test_environments_that_cannot_resolve_are_left_out_and_named(tmp_path: Path, local_index: LocalIndex,
                                                                 python: str) -> None:
    cp = "cp" + python.replace(".", "")
    # A locally built extension: one plain linux_x86_64 wheel, as `pip wheel` makes; nothing else.
    local_index.add("native", "1.0", tag=f"{cp}-{cp}-linux_x86_64")
    local_index.add("pure", "2.0", ["native"])
    env = tmp_path / "env.yml"
    env.write_text(f"name: dflt\ndependencies:\n  - python={python}\n  - pip:\n      - pure\n")
    root = tmp_path / "store"

    proc = store("lock", "--index-url", local_index.simple, root=root, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lock = tomllib.loads((tmp_path / "pylock.toml").read_text())
    assert lock["environments"] == ["sys_platform == 'linux' and platform_machine == 'x86_64'"]
    assert lock["requires-python"] == f">={python}, <3.{int(python.split('.')[1]) + 1}"
    assert "interpreter" not in lock.get("tool", {}).get("envstore", {})
    left_out = [line for line in proc.stderr.splitlines() if line.startswith("warning: not locked for python")]
    assert len(left_out) == 1, proc.stderr
    for platform in ("linux-aarch64", "macos-x86_64", "macos-arm64", "windows-x86_64"):
        assert platform in left_out[0]
    assert "native" in left_out[0] and "linux-x86_64" not in left_out[0]
    assert "locked 2 packages for 1 platform" in proc.stderr

    realized = store("realize", "--index-url", local_index.simple, root=root, cwd=tmp_path)
    assert realized.returncode == 0, realized.stderr
    prefix = Path(realized.stdout.strip())
    assert (prefix / f"lib/python{python}/site-packages/native").is_dir()

    # Editing the env file makes the lock stale: realize locks again, and the lock stays universal.
    env.write_text(f"name: dflt\ndependencies:\n  - python={python}\n  - pip:\n      - pure\n      - native\n")
    again = store("realize", "--index-url", local_index.simple, root=root, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    relocked = tomllib.loads((tmp_path / "pylock.toml").read_text())
    assert relocked["environments"] == lock["environments"] and "interpreter" not in relocked["tool"]["envstore"]


def test_nothing_for_this_platform_is_one_error(tmp_path: Path, local_index: LocalIndex, python: str) -> None:
    local_index.add("maconly", "1.0", tag="py3-none-macosx_11_0_arm64")
    (tmp_path / "env.yml").write_text(f"name: mac\ndependencies:\n  - python={python}\n  - pip:\n      - maconly\n")
    proc = store("lock", "--index-url", local_index.simple, root=tmp_path / "store", cwd=tmp_path)
    # macOS arm64 could be locked, but a lock this machine cannot realize is not the default:
    # the machine's own resolution fails, with the resolver's one message.
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "maconly" in errors[0], proc.stderr
    assert not (tmp_path / "pylock.toml").exists()
    # Declared, the same platform is locked.
    declared = store("lock", "--platform", "macos-arm64", "--python", python, "--index-url", local_index.simple,
                     root=tmp_path / "store", cwd=tmp_path)
    assert declared.returncode == 0, declared.stderr
    lock = tomllib.loads((tmp_path / "pylock.toml").read_text())
    assert lock["environments"] == ["sys_platform == 'darwin' and platform_machine == 'arm64'"]
