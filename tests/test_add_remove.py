"""`store add` / `store remove` (issue 12 item 8): the env file is edited in place with its
comments and layout kept, then locked and realized as `store realize` does; a failure leaves
the env file and its lockfile as they were. Real `store` subprocesses against a local index."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import run_store
from envstore.lockfile import read_lock
from envstore.spec.edit import add_entry, remove_entry
from envstore.spec.errors import SpecError
from local_index import ServedIndex

PY = "%d.%d" % sys.version_info[:2]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    with ServedIndex(tmp_path_factory.mktemp("index")) as idx:
        idx.add("alpha", "1.0")
        idx.add("alpha", "1.1")
        idx.add("beta", "2.0")
        idx.add("gamma", "3.0", ["beta"])
        idx.add("delta", "1.0")
        idx.add("pip", "24.0")  # a `- pip:` list brings pip itself, as in conda
        idx.add("zeta", "1.0")  # only the run/use flags test asks for it
        yield idx


@pytest.fixture(scope="module")
def store_root(tmp_path_factory) -> Path:
    """One store for the module: the interpreter is imported once."""
    return tmp_path_factory.mktemp("addremove") / "store"


def store(store_root: Path, index, cwd: Path, *args: str):
    return run_store(*args, "--index-url", index.simple, store_root=store_root, cwd=cwd)


def names(lock_path: Path) -> dict[str, str]:
    return {p.name: p.version for p in read_lock(lock_path).packages}


def links_to(project: Path, prefix: Path) -> bool:
    return any(p.is_symlink() and Path(os.readlink(p)) == prefix for p in (project / ".envstore").iterdir())


ENV = f"""\
# demo project
name: demo
dependencies:
  - python={PY}   # the interpreter
  - alpha         # first
  # the pip part
  - pip:
      - beta  # b
# end of file
"""


def test_add_replace_remove_keep_comments_and_order(store_root, index, tmp_path):
    env = tmp_path / "env.yml"
    env.write_text(ENV)

    added = store(store_root, index, tmp_path, "add", "gamma")
    assert added.returncode == 0, added.stderr
    prefix = Path(added.stdout.strip())
    assert added.stdout == f"{prefix}\n" and prefix.parent == store_root / "envs"
    assert "added gamma to dependencies: (env.yml:6)" in added.stderr
    text = ENV.replace("  - alpha         # first\n", "  - alpha         # first\n  - gamma\n")
    assert env.read_text() == text  # after the last plain entry; the pip list's comment stays with it
    assert next(prefix.glob("lib/python*/site-packages/gamma/__init__.py")).is_file()
    assert links_to(tmp_path, prefix)  # the out-link is switched, as realize does
    assert names(tmp_path / "pylock.toml") == {"alpha": "1.1", "beta": "2.0", "gamma": "3.0"}

    replaced = store(store_root, index, tmp_path, "add", "alpha<1.1")
    assert replaced.returncode == 0, replaced.stderr
    assert "replaced alpha with alpha<1.1 in dependencies: (env.yml:5)" in replaced.stderr
    text = text.replace("  - alpha         # first\n", "  - alpha<1.1     # first\n")  # same place, comment column
    assert env.read_text() == text
    assert names(tmp_path / "pylock.toml")["alpha"] == "1.0"
    assert links_to(tmp_path, Path(replaced.stdout.strip())) and Path(replaced.stdout.strip()) != prefix

    pinned = store(store_root, index, tmp_path, "add", "--pip", "beta==2.0", "delta")
    assert pinned.returncode == 0, pinned.stderr
    text = text.replace("      - beta  # b\n", "      - beta==2.0  # b\n      - delta\n")
    assert env.read_text() == text
    assert "delta" in names(tmp_path / "pylock.toml")

    # From wherever it is: the pip list (left empty, so it goes) and dependencies.
    removed = store(store_root, index, tmp_path, "remove", "delta", "beta", "gamma")
    assert removed.returncode == 0, removed.stderr
    assert "removed beta==2.0 from the `- pip:` list (env.yml:9)" in removed.stderr
    assert env.read_text() == (f"# demo project\nname: demo\ndependencies:\n  - python={PY}   # the interpreter\n"
                               "  - alpha<1.1     # first\n  # the pip part\n# end of file\n")
    assert names(tmp_path / "pylock.toml") == {"alpha": "1.0"}
    prefix = Path(removed.stdout.strip())
    assert not list(prefix.glob("lib/python*/site-packages/gamma"))
    assert links_to(tmp_path, prefix)


def test_unknown_name_and_bad_specs_change_nothing(store_root, index, tmp_path):
    env = tmp_path / "env.yml"
    env.write_text(ENV)
    before = env.read_bytes()
    gone = store(store_root, index, tmp_path, "remove", "beta", "nosuch")
    assert gone.returncode == 1 and gone.stdout == ""
    assert gone.stderr == "error: env.yml: there is no 'nosuch' in dependencies: or the `- pip:` list\n"
    for args, message in [
        (("remove", "beta>=1"), "error: store remove takes package names, not 'beta>=1'\n"),
        (("add", "--pip", "beta=2"), "error: 'beta=2' is not a requirement for the `- pip:` list\n"),
        (("add", "--pip", "alpha"), "error: alpha is in dependencies: (env.yml:5), not in the `- pip:` list\n"),
    ]:
        proc = store(store_root, index, tmp_path, *args)
        assert proc.returncode == 1 and proc.stdout == "", proc.stderr
        assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 2 and "\nhint: " in proc.stderr
    assert env.read_bytes() == before and not (tmp_path / "pylock.toml").exists()
    assert not (tmp_path / ".envstore").exists()


def test_failed_lock_or_realize_restores_env_file_and_lock(store_root, index, tmp_path):
    env = tmp_path / "dev.yml"
    env.write_text(f"name: dev\ndependencies:\n  - python={PY}\n  - alpha  # a\n")
    envs_before = set((store_root / "envs").iterdir()) if (store_root / "envs").exists() else set()

    # --no-realize: edit and lock only; a new pip list comes with pip (conda's shape).
    locked = store(store_root, index, tmp_path, "add", "-f", str(env), "--pip", "--lock-only", "delta")
    assert locked.returncode == 0, locked.stderr
    assert locked.stdout == f"{tmp_path / 'pylock.dev.toml'}\n"
    assert env.read_text() == (f"name: dev\ndependencies:\n  - python={PY}\n  - alpha  # a\n  - pip\n"
                               "  - pip:\n      - delta\n")
    assert names(tmp_path / "pylock.dev.toml") == {"alpha": "1.1", "delta": "1.0", "pip": "24.0"}
    assert set((store_root / "envs").iterdir()) - envs_before == set()

    before, lock_before = env.read_bytes(), (tmp_path / "pylock.dev.toml").read_bytes()
    # The lock fails: nothing of the edit stays.
    proc = store(store_root, index, tmp_path, "add", "-f", str(env), "nosuchpkg")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "error: package 'nosuchpkg' not found on" in proc.stderr
    assert "dev.yml and its lockfile are left as they were" in proc.stderr
    assert env.read_bytes() == before and (tmp_path / "pylock.dev.toml").read_bytes() == lock_before

    # The lock succeeds (offline, from the pages cached above) but realize fails: both restored.
    proc = store(store_root, index, tmp_path, "add", "-f", str(env), "--offline", "--pip", "delta==1.0")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "error: --offline, but" in proc.stderr and "left as they were" in proc.stderr
    assert env.read_bytes() == before and (tmp_path / "pylock.dev.toml").read_bytes() == lock_before


# The editor alone, on layouts a subprocess each would make slow: whatever the file's style,
# only the edited entry's text changes.
P = Path("env.yml")


def test_run_and_use_honour_index_flags_and_offline(store_root, index, tmp_path):
    """`store run` and `store use` take the index flags and --offline as `store realize` does
    (issue 14): pip's configured index does not serve these packages, --index-url does."""
    one = tmp_path / "one" / "env.yml"
    one.parent.mkdir()
    one.write_text(f"name: one\ndependencies:\n  - python={PY}\n  - alpha==1.0\n")
    ran = run_store("run", "--index-url", index.simple, str(one), "--", "python", "-c",
                    "import alpha; print(alpha.__version__)", store_root=store_root, cwd=one.parent)
    assert ran.returncode == 0 and ran.stdout == "1.0\n", ran.stderr

    # Locked against the index, but zeta's wheel is not in the store: --offline names it and
    # downloads nothing, exactly as `store realize --offline` does.
    two = tmp_path / "two" / "env.yml"
    two.parent.mkdir()
    two.write_text(f"name: two\ndependencies:\n  - python={PY}\n  - alpha==1.0\n  - zeta\n")
    assert store(store_root, index, two.parent, "lock", str(two)).returncode == 0
    hits = len(index.hits)
    offline = run_store("run", "--offline", str(two), "--", "python", "-c", "pass", store_root=store_root,
                        cwd=two.parent)
    assert offline.returncode == 1 and "Traceback" not in offline.stderr, offline.stderr
    assert "--offline" in offline.stderr and "zeta 1.0" in offline.stderr, offline.stderr
    assert index.hits[hits:] == [] and not (two.parent / ".envstore").exists()

    (two.parent / "pylock.toml").unlink()  # `store use` must resolve: only --index-url serves zeta
    used = run_store("use", "--index-url", index.simple, "--profile", "flags", str(two), store_root=store_root,
                     cwd=tmp_path)
    assert used.returncode == 0, used.stderr
    prefix = Path(used.stdout.strip())
    assert next(prefix.glob("lib/python*/site-packages/zeta/__init__.py")).is_file()
    assert any(h.startswith("/simple/zeta") for h in index.hits[hits:])


@pytest.mark.parametrize("before,edit,after", [
    # conda's other indentation style: dashes under the key
    ("name: x\ndependencies:\n- six\n", lambda t: add_entry(t, "click", pip=True, path=P),
     "name: x\ndependencies:\n- six\n- pip\n- pip:\n  - click\n"),
    # flow style stays flow style
    ("name: x\ndependencies: [six, {pip: [click]}]  # c\n", lambda t: add_entry(t, "attrs", pip=False, path=P),
     "name: x\ndependencies: [six, attrs, {pip: [click]}]  # c\n"),
    ("name: x\ndependencies: [six, {pip: [click]}]\n", lambda t: remove_entry(t, "click", path=P),
     "name: x\ndependencies: [six]\n"),
    # quoting of the replaced entry is kept; CRLF line ends are kept
    ("name: x\r\ndependencies:\r\n    - 'six'   # s\r\n", lambda t: add_entry(t, "six>=1.16", pip=False, path=P),
     "name: x\r\ndependencies:\r\n    - 'six>=1.16'   # s\r\n"),
    ("name: x\r\ndependencies:\r\n    - six\r\n", lambda t: add_entry(t, "attrs", pip=False, path=P),
     "name: x\r\ndependencies:\r\n    - six\r\n    - attrs\r\n"),
    # no dependencies yet; a conda name matches its index name
    ("name: x  # n\n", lambda t: add_entry(t, "six", pip=False, path=P), "name: x  # n\ndependencies:\n  - six\n"),
    ("name: x\ndependencies:\n  - pytorch=2.3\n  - six\n", lambda t: remove_entry(t, "torch", path=P),
     "name: x\ndependencies:\n  - six\n"),
    # a pip option line is never taken for a package
    ("name: x\ndependencies:\n  - pip:\n    - -r req.txt\n    - six\n", lambda t: add_entry(t, "six<2", pip=True, path=P),
     "name: x\ndependencies:\n  - pip:\n    - -r req.txt\n    - six<2\n"),
])
def test_editor_keeps_layout(before, edit, after):
    text, changes = edit(before)
    assert text == after and changes


def test_editor_adding_the_same_spec_changes_nothing():
    text, changes = add_entry(ENV, "alpha", pip=False, path=P)
    assert text == ENV and [c.action for c in changes] == ["unchanged"]
    with pytest.raises(SpecError, match="not a conda match spec"):
        add_entry(ENV, "alpha[[", pip=False, path=P)
