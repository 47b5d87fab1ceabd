"""Source distributions end to end (issue 16): a package the index has only as an sdist is
locked (PEP 751 `[packages.sdist]`), built by its real PEP 517 backend (flit_core, a wheel from
pip's configured index served by the test's index) in a build environment envstore realizes
from `[build-system] requires`, and the built wheel is a store artifact: a second environment
with the same sdist and interpreter does not build again. Metadata comes from PKG-INFO when
PEP 643 makes it static, else from the backend's prepare_metadata_for_build_wheel. Hostile
sdists (a member escaping the tree) and failing backends get one error and no traceback."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import textwrap
import tomllib
from contextlib import closing
from pathlib import Path

import pytest

from local_index import LocalIndex, ServedIndex
from test_cache import STORE_BIN
from test_realize_real import pyenv_versions
from test_realize_real import write_env as env_file

pytestmark = pytest.mark.network  # the flit_core wheel comes from pip's configured index

PYPROJECT = textwrap.dedent('''
    [build-system]
    requires = ["flit_core>=3.4,<4"]
    build-backend = "flit_core.buildapi"

    [project]
    name = "{name}"
    version = "{version}"
    description = "a test sdist"
    dependencies = {deps}
''')


def make_sdist(dest: Path, name: str, version: str, deps: list[str], *, pkg_info: bool,
               extra: dict[str, bytes] | None = None) -> Path:
    """An sdist as flit lays one out: <name>-<version>/ with pyproject.toml, the module and,
    when `pkg_info`, a Metadata-Version 2.2 PKG-INFO with nothing dynamic (PEP 643)."""
    top = f"{name}-{version}"
    files = {
        f"{top}/pyproject.toml": PYPROJECT.format(name=name, version=version, deps=repr(deps)).encode(),
        f"{top}/{name}/__init__.py": f'"""{name}."""\n__version__ = "{version}"\nVALUE = 42\n'.encode(),
    }
    if pkg_info:
        lines = ["Metadata-Version: 2.2", f"Name: {name}", f"Version: {version}", "Summary: a test sdist"]
        lines += [f"Requires-Dist: {d}" for d in deps]
        files[f"{top}/PKG-INFO"] = ("\n".join(lines) + "\n").encode()
    files.update(extra or {})
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1_700_000_000  # zip (the wheel) cannot hold times before 1980
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def flit_core_wheel(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("flit")
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                           "flit_core>=3.4,<4", "-d", str(dest)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return next(dest.glob("flit_core-*.whl"))


@pytest.fixture
def python_version() -> str:
    versions = [v for v in pyenv_versions() if tuple(int(x) for x in v.split(".")) >= (3, 9)]
    if not versions:
        pytest.skip("no pyenv CPython >= 3.9 to build with")
    return versions[0]


@pytest.fixture
def index(tmp_path: Path, flit_core_wheel: Path):
    with ServedIndex(tmp_path / "index") as served:
        served.add_file("flit_core", flit_core_wheel)
        served.add("alpha", "1.0")
        yield served


def store(*args: str, root: Path, cwd: Path, timeout: float = 600, pip_index: bool = False
          ) -> subprocess.CompletedProcess:
    """`store` with the test's index only (pip's configuration hidden), or with pip's index."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(root.parent / "cfg")}
    if not pip_index:
        env["PIP_CONFIG_FILE"] = os.devnull
    env.pop("ENVSTORE_SUBSTITUTERS", None)
    return subprocess.run([STORE_BIN, "--store", str(root), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


def test_an_sdist_is_locked_built_once_and_imported(tmp_path: Path, index: LocalIndex, python_version: str) -> None:
    index.add_file("srcpkg", make_sdist(tmp_path / "sd", "srcpkg", "1.0", ["alpha"], pkg_info=True))
    index.add_file("dynpkg", make_sdist(tmp_path / "sd", "dynpkg", "2.0", [], pkg_info=False))
    root = tmp_path / "store"
    flags = ("--index-url", index.simple)
    first = env_file(tmp_path / "one", "one", python_version, ["srcpkg", "dynpkg"])

    locked = store("lock", *flags, root=root, cwd=first.parent)
    assert locked.returncode == 0, locked.stderr
    lock_text = (first.parent / "pylock.toml").read_text()
    sdists = {p["name"]: p["sdist"]["name"] for p in tomllib.loads(lock_text)["packages"] if "sdist" in p}
    assert sdists == {"srcpkg": "srcpkg-1.0.tar.gz", "dynpkg": "dynpkg-2.0.tar.gz"}, lock_text
    assert 'name = "alpha"' in lock_text  # srcpkg's Requires-Dist, read from its static PKG-INFO

    realized = store("realize", *flags, root=root, cwd=first.parent)
    assert realized.returncode == 0, realized.stderr
    assert "building srcpkg 1.0 from source" in realized.stderr
    prefix = Path(realized.stdout.strip())
    ran = subprocess.run([str(prefix / "bin" / "python"), "-c",
                          "import srcpkg, dynpkg, alpha, importlib.metadata as m; "
                          "print(srcpkg.VALUE, m.version('srcpkg'), m.version('dynpkg'))"],
                         capture_output=True, text=True)
    assert ran.returncode == 0 and ran.stdout.split() == ["42", "1.0", "2.0"], ran.stderr
    check = subprocess.run([sys.executable, "-m", "pip", "--python", str(prefix / "bin" / "python"), "check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    # Another environment with the same sdist and interpreter uses the built wheel.
    second = env_file(tmp_path / "two", "two", python_version, ["srcpkg"])
    again = store("realize", *flags, root=root, cwd=second.parent)
    assert again.returncode == 0, again.stderr
    assert "from source" not in again.stderr, again.stderr
    other = Path(again.stdout.strip())
    assert other != prefix
    site = lambda p: next(p.glob("lib/python*/site-packages"))  # noqa: E731
    same = site(prefix) / "srcpkg" / "__init__.py", site(other) / "srcpkg" / "__init__.py"
    assert same[0].stat().st_ino == same[1].stat().st_ino  # one stored file, hardlinked into both

    # gc: a built wheel is kept while a root uses it, within --keep-age, and collected after.
    assert built_wheels(root) == ["dynpkg-2.0-py2.py3-none-any.whl", "srcpkg-1.0-py2.py3-none-any.whl"]
    shutil.rmtree(second.parent / ".envstore")
    assert store("gc", root=root, cwd=tmp_path).returncode == 0
    assert "srcpkg-1.0-py2.py3-none-any.whl" in built_wheels(root)  # the first env still uses it
    shutil.rmtree(first.parent / ".envstore")
    assert store("gc", "--keep-age", "1h", root=root, cwd=tmp_path).returncode == 0
    assert "srcpkg-1.0-py2.py3-none-any.whl" in built_wheels(root)
    assert store("gc", root=root, cwd=tmp_path).returncode == 0
    assert built_wheels(root) == []
    rebuilt = store("realize", *flags, root=root, cwd=second.parent)
    assert rebuilt.returncode == 0 and "building srcpkg 1.0 from source" in rebuilt.stderr, rebuilt.stderr


def built_wheels(root: Path) -> list[str]:
    """The wheels the store built from source, as its database lists them."""
    with closing(sqlite3.connect(root / "db-v1.sqlite")) as db:
        return sorted(r[0] for r in db.execute("SELECT filename FROM artifacts WHERE url LIKE 'built:%'"))


def test_only_binary_refuses_the_sdist(tmp_path: Path, index: LocalIndex, python_version: str) -> None:
    index.add_file("srcpkg", make_sdist(tmp_path / "sd", "srcpkg", "1.0", [], pkg_info=True))
    env = env_file(tmp_path / "p", "p", python_version, ["'--only-binary=:all:'", "srcpkg"])
    proc = store("lock", "--index-url", index.simple, root=tmp_path / "store", cwd=env.parent)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "srcpkg" in proc.stderr
    assert not (env.parent / "pylock.toml").exists()


def test_no_binary_builds_a_package_that_has_a_wheel(tmp_path: Path, index: LocalIndex, python_version: str) -> None:
    """pip's --no-binary: the wheel on the index is passed over for the sdist beside it, for the
    names given (the others keep their wheels)."""
    index.add("both", "1.0")
    index.add_file("both", make_sdist(tmp_path / "sd", "both", "1.0", ["alpha"], pkg_info=True))
    env = env_file(tmp_path / "p", "p", python_version, ["'--no-binary=both'", "both"])
    root = tmp_path / "store"
    proc = store("realize", "--index-url", index.simple, root=root, cwd=env.parent)
    assert proc.returncode == 0, proc.stderr
    packages = {p["name"]: p for p in tomllib.loads((env.parent / "pylock.toml").read_text())["packages"]}
    assert packages["both"]["sdist"]["name"] == "both-1.0.tar.gz" and "wheels" not in packages["both"]
    assert "wheels" in packages["alpha"]  # not named: its wheel as usual
    assert "building both 1.0 from source" in proc.stderr
    assert [w.split("-")[:2] for w in built_wheels(root)] == [["both", "1.0"]]


def test_an_sdist_escaping_its_tree_is_refused(tmp_path: Path, index: LocalIndex, python_version: str) -> None:
    outside = tmp_path / "escaped.txt"
    evil = make_sdist(tmp_path / "sd", "evilpkg", "1.0", [], pkg_info=False,
                      extra={"evilpkg-1.0/../../../../escaped.txt": b"owned\n"})
    index.add_file("evilpkg", evil)
    env = env_file(tmp_path / "p", "p", python_version, ["evilpkg"])
    proc = store("lock", "--index-url", index.simple, root=tmp_path / "store", cwd=env.parent)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "evilpkg-1.0.tar.gz" in errors[0], proc.stderr
    assert not outside.exists() and not list(tmp_path.rglob("escaped.txt"))


def test_a_failing_backend_gets_one_error_with_its_last_lines(tmp_path: Path, index: LocalIndex,
                                                               python_version: str) -> None:
    broken = make_sdist(tmp_path / "sd", "brokenpkg", "1.0", [], pkg_info=True,
                        extra={"brokenpkg-1.0/pyproject.toml": textwrap.dedent('''
                            [build-system]
                            requires = []
                            build-backend = "failing"
                            backend-path = ["."]
                        ''').encode(),
                               "brokenpkg-1.0/failing.py": b"import sys\n"
                               b"def build_wheel(*a, **k):\n"
                               b"    print('error: brokenpkg.c:7: no compiler here', file=sys.stderr)\n"
                               b"    raise SystemExit(1)\n"})
    index.add_file("brokenpkg", broken)
    env = env_file(tmp_path / "p", "p", python_version, ["brokenpkg"])
    root = tmp_path / "store"
    locked = store("lock", "--index-url", index.simple, root=root, cwd=env.parent)
    assert locked.returncode == 0, locked.stderr  # the metadata is static: no build to lock
    proc = store("realize", "--index-url", index.simple, root=root, cwd=env.parent)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "brokenpkg 1.0" in proc.stderr and "no compiler here" in proc.stderr, proc.stderr
    assert proc.stdout == ""
    assert not (env.parent / ".envstore").exists()


def test_a_setup_py_sdist_from_pip_index_is_built_with_setuptools(tmp_path: Path, python_version: str) -> None:
    """docopt 0.6.2 is on the index only as an sdist with a setup.py and no pyproject.toml: the
    PEP 517 fallback (setuptools' legacy backend) builds it in a build environment resolved
    from the same index."""
    env = env_file(tmp_path / "d", "d", python_version, ["docopt==0.6.2"])
    root = tmp_path / "store"
    proc = store("realize", root=root, cwd=env.parent, pip_index=True)
    assert proc.returncode == 0, proc.stderr
    assert "building docopt 0.6.2 from source" in proc.stderr, proc.stderr
    py = Path(proc.stdout.strip()) / "bin" / "python"
    ran = subprocess.run([str(py), "-c", "import docopt; print(docopt.__version__)"], capture_output=True, text=True)
    assert ran.returncode == 0 and ran.stdout.strip() == "0.6.2", ran.stderr
    assert "sdist" in tomllib.loads((env.parent / "pylock.toml").read_text())["packages"][0]


def flit_project(d: Path, name: str, value: int, deps: list[str] = ()) -> Path:
    """A project directory as a developer has one: pyproject.toml (flit_core) and a package."""
    (d / name).mkdir(parents=True, exist_ok=True)
    (d / "pyproject.toml").write_text(PYPROJECT.format(name=name, version="0.1", deps=repr(list(deps))))
    (d / name / "__init__.py").write_text(f'"""{name}."""\nVALUE = {value}\n')
    return d


def run_value(store_root: Path, cwd: Path, module: str, attr: str = "VALUE") -> str:
    proc = store("run", "--", "python", "-c", f"import {module}; print({module}.{attr})", root=store_root, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_local_directories_editable_and_not(tmp_path: Path, index: LocalIndex, python_version: str) -> None:
    app = tmp_path / "app"
    flit_project(app / "libs" / "fixedpkg", "fixedpkg", 1)
    flit_project(app / "libs" / "editpkg", "editpkg", 1)
    env = env_file(app, "app", python_version, ["./libs/fixedpkg", "-e ./libs/editpkg"])
    root = tmp_path / "store"
    flags = ("--index-url", index.simple)
    before = {p: p.read_bytes() for p in (app / "libs").rglob("*") if p.is_file()}

    first = store("realize", *flags, root=root, cwd=app)
    assert first.returncode == 0, first.stderr
    assert "building editpkg 0.1 from source (editable)" in first.stderr, first.stderr
    prefix = Path(first.stdout.strip())
    lock_text = (app / "pylock.toml").read_text()
    packages = {p["name"]: p for p in tomllib.loads(lock_text)["packages"]}
    assert packages["fixedpkg"]["directory"] == {"path": "libs/fixedpkg"}, lock_text
    assert packages["editpkg"]["directory"] == {"path": "libs/editpkg", "editable": True}, lock_text
    assert str(tmp_path) not in lock_text  # relative paths: the lock holds on every checkout
    # the non-editable build worked on a copy: nothing new in the user's project
    assert {p for p in (app / "libs").rglob("*") if p.is_file() and "__pycache__" not in p.parts} == set(before)
    assert run_value(root, app, "fixedpkg") == "1" and run_value(root, app, "editpkg") == "1"
    # a copy's direct_url.json would name this checkout; the same content elsewhere is the same prefix
    assert not list(prefix.glob("lib/python*/site-packages/fixedpkg-*.dist-info/direct_url.json"))

    # The editable is marked where it is seen: PEP 610 direct_url.json (pip reads it), store
    # list and store export, which names its directory rather than pinning a copy.
    freeze = subprocess.run([sys.executable, "-m", "pip", "--python", str(prefix / "bin" / "python"), "freeze"],
                            capture_output=True, text=True)
    editable_dir = str((app / "libs" / "editpkg").resolve())
    assert f"-e file://{editable_dir}" in freeze.stdout or f"-e {editable_dir}" in freeze.stdout, freeze.stdout
    assert "fixedpkg==" in freeze.stdout or "fixedpkg @" in freeze.stdout, freeze.stdout
    listed = store("list", root=root, cwd=app)
    assert f"editable: editpkg -> {editable_dir}" in listed.stdout and "fixedpkg ->" not in listed.stdout, listed.stdout
    exported = store("export", str(prefix), root=root, cwd=app)
    assert exported.returncode == 0 and f"- -e {editable_dir}" in exported.stdout, exported.stdout + exported.stderr
    assert "editpkg==" not in exported.stdout and "fixedpkg==0.1" in exported.stdout, exported.stdout
    from_lock = store("export", str(app / "env.yml"), root=root, cwd=app)
    assert f"- -e {editable_dir}" in from_lock.stdout, from_lock.stdout + from_lock.stderr

    # An edit to the editable's source is live, with no new realize and the same prefix.
    (app / "libs" / "editpkg" / "editpkg" / "__init__.py").write_text("VALUE = 2\n")
    assert run_value(root, app, "editpkg") == "2"
    again = store("realize", *flags, root=root, cwd=app)
    assert again.returncode == 0 and Path(again.stdout.strip()) == prefix, again.stderr
    assert "from source" not in again.stderr

    # An edit to the non-editable one gives a new prefix with the new code; the lock stays.
    (app / "libs" / "fixedpkg" / "fixedpkg" / "__init__.py").write_text("VALUE = 3\n")
    edited = store("realize", *flags, root=root, cwd=app)
    assert edited.returncode == 0, edited.stderr
    assert Path(edited.stdout.strip()) != prefix
    assert "building fixedpkg 0.1 from source" in edited.stderr
    assert (app / "pylock.toml").read_text() == lock_text
    assert run_value(root, app, "fixedpkg") == "3"

    # A change to the editable's dependencies makes the lock stale.
    flit_project(app / "libs" / "editpkg", "editpkg", 2, deps=["alpha"])
    frozen = store("realize", "--frozen", *flags, root=root, cwd=app)
    assert frozen.returncode != 0 and "stale" in frozen.stderr and "Traceback" not in frozen.stderr, frozen.stderr
    relocked = store("realize", *flags, root=root, cwd=app)
    assert relocked.returncode == 0, relocked.stderr
    assert 'name = "alpha"' in (app / "pylock.toml").read_text()
    assert run_value(root, app, "alpha", "__version__") == "1.0"


def git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c",
                           "init.defaultBranch=main", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def commit_of(project: Path) -> str:
    return tomllib.loads((project / "pylock.toml").read_text())["packages"][0]["vcs"]["commit-id"]


def test_a_git_url_is_locked_at_its_commit(tmp_path: Path, index: LocalIndex, python_version: str) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    flit_project(repo / "sub", "gitpkg", 1)
    (repo / "README").write_text("a monorepo: the package is in sub/\n")
    git("init", "-q", ".", cwd=repo)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "v1", cwd=repo)
    git("tag", "v1", cwd=repo)
    v1 = git("rev-parse", "HEAD", cwd=repo)
    flit_project(repo / "sub", "gitpkg", 2)
    git("commit", "-q", "-am", "two", cwd=repo)
    two = git("rev-parse", "HEAD", cwd=repo)
    root = tmp_path / "store"
    flags = ("--index-url", index.simple)

    tagged = env_file(tmp_path / "tagged", "tagged", python_version,
                      [f"'gitpkg @ git+{repo.as_uri()}@v1#subdirectory=sub'"])
    proc = store("realize", *flags, root=root, cwd=tagged.parent)
    assert proc.returncode == 0, proc.stderr
    vcs = tomllib.loads((tagged.parent / "pylock.toml").read_text())["packages"][0]["vcs"]
    assert vcs == {"type": "git", "url": repo.as_uri(), "requested-revision": "v1", "commit-id": v1,
                   "subdirectory": "sub"}, vcs
    assert run_value(root, tagged.parent, "gitpkg") == "1"
    direct = next(Path(proc.stdout.strip()).glob("lib/python*/site-packages/gitpkg-*.dist-info/direct_url.json"))
    assert json.loads(direct.read_text()) == {  # PEP 610, as pip writes it for a VCS install
        "url": repo.as_uri(), "vcs_info": {"vcs": "git", "commit_id": v1, "requested_revision": "v1"},
        "subdirectory": "sub"}

    # A branch: locked at the commit it names now; a later commit on it changes nothing until
    # the next `store lock`, which takes it.
    branch = env_file(tmp_path / "branch", "branch", python_version,
                      [f"'gitpkg @ git+{repo.as_uri()}@main#subdirectory=sub'"])
    assert store("lock", *flags, root=root, cwd=branch.parent).returncode == 0
    assert commit_of(branch.parent) == two
    flit_project(repo / "sub", "gitpkg", 3)
    git("commit", "-q", "-am", "three", cwd=repo)
    three = git("rev-parse", "HEAD", cwd=repo)
    proc = store("realize", *flags, root=root, cwd=branch.parent)
    assert proc.returncode == 0, proc.stderr
    assert run_value(root, branch.parent, "gitpkg") == "2"
    assert store("lock", *flags, root=root, cwd=branch.parent).returncode == 0
    assert commit_of(branch.parent) == three
    assert store("realize", *flags, root=root, cwd=branch.parent).returncode == 0
    assert run_value(root, branch.parent, "gitpkg") == "3"

    bad = env_file(tmp_path / "bad", "bad", python_version, [f"'gitpkg @ git+{repo.as_uri()}@no-such-tag'"])
    proc = store("lock", *flags, root=root, cwd=bad.parent)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "no such branch, tag or commit" in proc.stderr and not (bad.parent / "pylock.toml").exists()


def test_a_universal_lock_keeps_sources_for_where_no_wheel_fits(tmp_path: Path, index: LocalIndex,
                                                                 python_version: str) -> None:
    """Issue 17 with issue 16: `fast` has a Linux wheel and an sdist, so the lock for Linux and
    Windows lists both (the Windows machine builds it); an editable project is one directory
    entry for every environment. Realize here takes the wheel and builds only the project."""
    cp = "cp" + python_version.replace(".", "")
    index.add("fast", "1.0", tag=f"{cp}-{cp}-manylinux_2_17_x86_64")
    index.add_file("fast", make_sdist(tmp_path / "sd", "fast", "1.0", [], pkg_info=True))
    app = tmp_path / "app"
    flit_project(app / "libs" / "mine", "mine", 7, ["fast"])
    (app / "env.yml").write_text(
        f"name: uni\nenvstore:\n  platforms: [linux-x86_64, windows-x86_64]\n  python: ['{python_version}']\n"
        "dependencies:\n  - pip:\n      - -e ./libs/mine\n")
    root = tmp_path / "store"
    proc = store("lock", "--index-url", index.simple, root=root, cwd=app)
    assert proc.returncode == 0, proc.stderr
    packages = {p["name"]: p for p in tomllib.loads((app / "pylock.toml").read_text())["packages"]}
    assert [w["name"] for w in packages["fast"]["wheels"]] == [f"fast-1.0-{cp}-{cp}-manylinux_2_17_x86_64.whl"]
    assert packages["fast"]["sdist"]["name"] == "fast-1.0.tar.gz" and "marker" not in packages["fast"]
    assert packages["mine"]["directory"] == {"path": "libs/mine", "editable": True}
    # as a Windows interpreter reads the lock: no wheel of fast fits, so fast is built there
    from envstore.lockfile import Misfit, read_lock
    from envstore.resolve.universal import Environment

    windows = Environment(python_version, "windows-x86_64").target()
    fitted = read_lock(app / "pylock.toml").fit(windows.tags, windows.marker_env)
    assert not isinstance(fitted, Misfit), fitted
    assert {p.name: p.from_source for p in fitted.packages} == {"fast": True, "mine": True}

    realized = store("realize", "--index-url", index.simple, root=root, cwd=app)
    assert realized.returncode == 0, realized.stderr
    assert "building mine 0.1 from source (editable)" in realized.stderr
    assert "building fast" not in realized.stderr, realized.stderr  # the Linux wheel fits here
    assert run_value(root, app, "mine") == "7"


WRAPPER_BACKEND = textwrap.dedent('''
    """An in-tree backend (backend-path) over flit_core that asks for one more build requirement
    and records the config_settings its build_wheel was given inside the package it builds."""
    import pathlib

    from flit_core import buildapi
    from flit_core.buildapi import build_sdist, get_requires_for_build_sdist  # noqa: F401


    def get_requires_for_build_wheel(config_settings=None):
        return ["alpha"]


    def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
        if "mode" not in (config_settings or {}):
            raise RuntimeError("the metadata hook got no config_settings")
        return buildapi.prepare_metadata_for_build_wheel(metadata_directory, None)


    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        import alpha  # noqa: F401 - fails unless the extra requirement is in the build environment
        pathlib.Path("cfgpkg/settings.txt").write_text(repr(sorted((config_settings or {}).items())))
        return buildapi.build_wheel(wheel_directory, None, metadata_directory)
''')


def test_backend_requirements_and_config_settings(tmp_path: Path, index: LocalIndex, python_version: str) -> None:
    """PEP 517's get_requires_for_build_wheel adds to the build environment; the env file's
    config-settings reach the backend, are kept in the lock, and changing them builds again
    into a new prefix."""
    app = tmp_path / "app"
    project = app / "cfgpkg"
    (project / "cfgpkg").mkdir(parents=True)
    (project / "_backend").mkdir()
    (project / "_backend" / "wrapper.py").write_text(WRAPPER_BACKEND)
    (project / "cfgpkg" / "__init__.py").write_text('"""cfgpkg."""\n__version__ = "1.0"\n')
    (project / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["flit_core>=3.4,<4"]
        build-backend = "wrapper"
        backend-path = ["_backend"]

        [project]
        name = "cfgpkg"
        version = "1.0"
        description = "config-settings"
    '''))

    def write(mode: str) -> None:
        (app / "env.yml").write_text(
            f"name: cfg\nenvstore:\n  config-settings:\n    mode: {mode}\n  config-settings-package:\n"
            f"    CfgPkg:\n      level: ['1', '2']\ndependencies:\n  - python={python_version}\n"
            "  - pip:\n      - ./cfgpkg\n")

    def settings_in(prefix: Path) -> str:
        return next(prefix.glob("lib/python*/site-packages/cfgpkg/settings.txt")).read_text()

    write("fast")
    root = tmp_path / "store"
    first = store("realize", "--index-url", index.simple, root=root, cwd=app)
    assert first.returncode == 0, first.stderr
    assert "cfgpkg 1.0: its backend also needs alpha" in first.stderr, first.stderr
    prefix = Path(first.stdout.strip())
    assert settings_in(prefix) == "[('level', ['1', '2']), ('mode', 'fast')]"
    tool = tomllib.loads((app / "pylock.toml").read_text())["tool"]["envstore"]
    assert tool["config-settings"] == {"mode": "fast"} and tool["config-settings-package"] == {"cfgpkg": {"level": ["1", "2"]}}

    write("slow")
    frozen = store("realize", "--frozen", root=root, cwd=app)
    assert frozen.returncode != 0 and "stale" in frozen.stderr, frozen.stderr
    second = store("realize", "--index-url", index.simple, root=root, cwd=app)
    assert second.returncode == 0 and "building cfgpkg 1.0 from source" in second.stderr, second.stderr
    assert Path(second.stdout.strip()) != prefix
    assert settings_in(Path(second.stdout.strip())) == "[('level', ['1', '2']), ('mode', 'slow')]"

    # pip's spelling: -C lines in the `- pip:` list and in a requirements file it includes (a
    # key given twice is a list, as pip passes it), under the envstore: section's keys
    (app / "build.txt").write_text("-C level=3\n--config-settings=level=4\n")
    (app / "env.yml").write_text(
        f"name: cfg\nenvstore:\n  config-settings:\n    mode: slow\ndependencies:\n  - python={python_version}\n"
        "  - pip:\n      - -r build.txt\n      - -C mode=ignored\n      - --config-settings extra=yes\n"
        "      - ./cfgpkg\n")
    third = store("realize", "--index-url", index.simple, root=root, cwd=app)
    assert third.returncode == 0, third.stderr
    assert settings_in(Path(third.stdout.strip())) == "[('extra', 'yes'), ('level', ['3', '4']), ('mode', 'slow')]"
    tool = tomllib.loads((app / "pylock.toml").read_text())["tool"]["envstore"]
    assert tool["config-settings"] == {"extra": "yes", "level": ["3", "4"], "mode": "slow"}

    # A value that is not a string is one error at its line, before anything is resolved.
    (app / "env.yml").write_text("name: cfg\nenvstore:\n  config-settings:\n    debug: true\ndependencies:\n"
                                 "  - pip:\n      - ./cfgpkg\n")
    bad = store("lock", root=root, cwd=app)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr, bad.stderr
    assert bad.stderr.startswith("error: env.yml:4:") and "'debug'" in bad.stderr and "quote it" in bad.stderr, bad.stderr
    (app / "env.yml").write_text("name: cfg\ndependencies:\n  - pip:\n      - -C debug\n      - ./cfgpkg\n")
    bad = store("lock", root=root, cwd=app)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr, bad.stderr
    assert bad.stderr.startswith("error: env.yml:4:") and "'debug' is not KEY=VALUE" in bad.stderr, bad.stderr


def test_constraints_files_in_the_pip_list(tmp_path: Path, index: LocalIndex, python_version: str) -> None:
    """`-c FILE` in the `- pip:` list, as pip reads it: the file's lines limit versions without
    adding packages, relative to the env file; its own -c lines count too."""
    index.add("alpha", "2.0")
    index.add("beta", "1.0")
    index.add("beta", "2.0")
    app = tmp_path / "app"
    app.mkdir()
    (app / "more.txt").write_text("beta<2\n")
    (app / "cons.txt").write_text("alpha<2\n-c more.txt\n")
    (app / "env.yml").write_text(f"name: cons\ndependencies:\n  - python={python_version}\n  - pip:\n"
                                 "      - -c cons.txt\n      - alpha\n")
    locked = store("lock", "--index-url", index.simple, "--python", python_version, "--platform", "linux-x86_64",
                   root=tmp_path / "store", cwd=app)
    assert locked.returncode == 0, locked.stderr
    pins = {p["name"]: p["version"] for p in tomllib.loads((app / "pylock.toml").read_text())["packages"]}
    assert pins == {"alpha": "1.0"}, pins  # beta is only constrained, not added
    (app / "cons.txt").write_text("alpha>1\n")
    relocked = store("lock", "--index-url", index.simple, "--python", python_version, "--platform", "linux-x86_64",
                     root=tmp_path / "store", cwd=app)
    assert relocked.returncode == 0, relocked.stderr
    pins = {p["name"]: p["version"] for p in tomllib.loads((app / "pylock.toml").read_text())["packages"]}
    assert pins == {"alpha": "2.0"}, pins  # a changed constraints file makes the lock stale: the pin moves
