"""Interpreters as store paths, with the real pyenv CPythons of this machine and real `store`
subprocesses. One session store is shared by the tests that only need "version X imported";
tests about what an import adds (blobs, sharing, copies) use their own store."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from envstore._core import Store
from envstore.interpreters import InterpreterError, InterpreterInfo, find_interpreter, list_interpreters
from envstore.interpreters.relocate import patchelf_path
from interp_helpers import (  # noqa: E402 - tests/ is on sys.path (rootdir conftest)
    EXPECTED_MINORS, assert_one_error_line, blob_count, new_blobs, pyenv_pythons, run_store,
    store_env, tree_files,
)

PYTHONS = pyenv_pythons()
MINORS = sorted(set(EXPECTED_MINORS) | set(PYTHONS), key=lambda m: tuple(int(x) for x in m.split(".")))
STDLIB_EXTENSIONS = "import ssl, sqlite3, ctypes, zlib, lzma, bz2, decimal, venv"
pytestmark = pytest.mark.timeout(600)


def origin(minor: str) -> Path:
    if minor not in PYTHONS:
        pytest.skip(f"no pyenv CPython {minor} on this machine")
    return PYTHONS[minor]


def newest(*preferred: str) -> str:
    for m in preferred:
        if m in PYTHONS:
            return m
    if not PYTHONS:
        pytest.skip("no pyenv CPython 3.8+ on this machine")
    return max(PYTHONS, key=lambda m: tuple(int(x) for x in m.split(".")))


@pytest.fixture(scope="session")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("interp") / "store"


@pytest.fixture(scope="session")
def imported(shared_store: Path):  # type: ignore[no-untyped-def]
    """minor -> store path, importing on first use through the command line."""
    cache: dict[str, Path] = {}

    def get(minor: str) -> Path:
        if minor not in cache:
            proc = run_store(shared_store, "python", "import", str(origin(minor)))
            assert proc.returncode == 0, proc.stderr
            lines = proc.stdout.splitlines()
            assert len(lines) == 1, proc.stdout  # the store path and nothing else
            cache[minor] = Path(lines[0])
        return cache[minor]

    return get


def exe(store_path: Path) -> Path:
    return next(p for p in sorted((store_path / "bin").iterdir())
                if p.name.startswith("python3.") and p.name[len("python3."):].isdigit())


# -- every version: imports, runs, is self-contained -----------------------------------------------

@pytest.mark.parametrize("minor", MINORS)
def test_imported_interpreter_runs_stdlib_extensions(minor: str, imported, shared_store: Path) -> None:
    store_path = imported(minor)
    assert store_path.parent == shared_store / "python"
    assert store_path.name.endswith(f"-cpython-{minor}." + store_path.name.rsplit(".", 1)[-1])
    proc = subprocess.run([str(exe(store_path)), "-c", STDLIB_EXTENSIONS + "; import sys; print(sys.prefix)"],
                          capture_output=True, text=True, env=store_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(store_path)


@pytest.mark.parametrize("minor", MINORS)
def test_venv_style_prefix_sees_its_own_site_packages(minor: str, imported, tmp_path: Path) -> None:
    store_path = imported(minor)
    prefix = tmp_path / "env"
    site = prefix / "lib" / f"python{minor}" / "site-packages"
    site.mkdir(parents=True)
    (site / "envstore_probe_mod.py").write_text("VALUE = 42\n")
    (prefix / "bin").mkdir()
    os.symlink(exe(store_path), prefix / "bin" / "python")
    (prefix / "pyvenv.cfg").write_text(f"home = {store_path / 'bin'}\ninclude-system-site-packages = false\n")
    code = "import sys, envstore_probe_mod, ssl; print(sys.prefix); print(sys.base_prefix); print(envstore_probe_mod.__file__)"
    proc = subprocess.run([str(prefix / "bin" / "python"), "-c", code], capture_output=True, text=True, env=store_env())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == str(prefix)
    assert out[1] == str(store_path)
    assert out[2] == str(site / "envstore_probe_mod.py")


@pytest.mark.parametrize("minor", MINORS)
def test_store_path_never_refers_to_the_original(minor: str, imported) -> None:
    store_path = imported(minor)
    needles = {str(origin(minor)).encode(), os.path.realpath(origin(minor)).encode()}
    patchelf = patchelf_path()
    elves = 0
    for f in tree_files(store_path):
        data = f.read_bytes()
        assert not any(n in data for n in needles), f"{f} refers to {origin(minor)}"
        if data[:4] == b"\x7fELF":
            elves += 1
            rpath = subprocess.run([patchelf, "--print-rpath", str(f)], capture_output=True, text=True).stdout.strip()
            for entry in filter(None, rpath.split(":")):
                assert entry.startswith("$ORIGIN"), (f, rpath)
    assert elves > 10
    # Nothing is writable, site-packages is there and empty, and the bytecode is hash-based.
    site = store_path / "lib" / f"python{minor}" / "site-packages"
    assert site.is_dir() and not any(site.iterdir())
    pycs = [f for f in tree_files(store_path) if f.suffix == ".pyc"]
    assert len(pycs) > 500
    for f in pycs:
        flags = int.from_bytes(f.read_bytes()[4:8], "little")
        assert flags & 1, f"{f} is a timestamp-based pyc"
    assert not [f for f in (store_path / "bin").iterdir() if f.name.startswith("pip")]
    assert os.stat(store_path).st_mode & 0o222 == 0


def test_scripts_and_build_data_are_relocated(imported, shared_store: Path) -> None:
    minor = newest("3.12", "3.13", "3.11")
    store_path = imported(minor)
    env = store_env()
    pydoc = subprocess.run([str(store_path / "bin" / f"pydoc{minor}"), "-k", "zzzz-no-such-topic"],
                           capture_output=True, text=True, env=env)
    assert pydoc.returncode == 0, pydoc.stderr
    code = "import sysconfig; print(sysconfig.get_config_var('prefix')); print(sysconfig.get_paths()['include'])"
    out = subprocess.run([str(exe(store_path)), "-c", code], capture_output=True, text=True, env=env).stdout.split()
    assert out == [str(store_path), str(store_path / "include" / f"python{minor}")]
    config = subprocess.run([str(store_path / "bin" / f"python{minor}-config"), "--includes", "--ldflags"],
                            capture_output=True, text=True, env=env)
    assert config.returncode == 0 and f"-I{store_path}/include" in config.stdout, config
    assert "envstore-relocated" not in config.stdout


def test_stdlib_imports_are_warm_from_the_store(imported) -> None:
    """Read-only directories: any stale or missing .pyc would be recompiled on every start."""
    store_path = imported(newest("3.12", "3.13"))
    code = "import sys, json, asyncio, decimal, email.message; print(len(sys.modules))"
    proc = subprocess.run([str(exe(store_path)), "-X", "importtime", "-c", code],
                          capture_output=True, text=True, env=store_env())
    assert proc.returncode == 0, proc.stderr
    # Imports found no writable cache: a cold compile would show in -X importtime as large self times.
    assert not list(store_path.rglob("*.pyc.*"))


# -- blobs: repeat imports, sharing, copies --------------------------------------------------------

def test_importing_twice_adds_no_blobs(imported, shared_store: Path) -> None:
    minor = newest("3.12", "3.13")
    store_path = imported(minor)
    before = blob_count(shared_store)
    again = run_store(shared_store, "python", "import", "--force", str(origin(minor)))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == str(store_path)
    assert new_blobs(again.stderr) == 0
    assert blob_count(shared_store) == before
    quick = run_store(shared_store, "python", "import", str(origin(minor)))
    assert quick.stdout.strip() == str(store_path)
    assert "already in the store" in quick.stderr


def test_second_version_shares_identical_files(tmp_path: Path) -> None:
    first, second = newest("3.13"), newest("3.12")
    if first == second:
        pytest.skip("needs two pyenv CPython versions")
    root = tmp_path / "store"
    a = run_store(root, "python", "import", str(origin(first)))
    assert a.returncode == 0, a.stderr
    before = blob_count(root)
    b = run_store(root, "python", "import", str(origin(second)))
    assert b.returncode == 0, b.stderr
    store = Store(root, fsync=False)
    infos = {i.version.rsplit(".", 1)[0]: i for i in list_interpreters(store)}
    entries = {m: json.loads(store.manifest_json(infos[m].manifest_id))["entries"] for m in (first, second)}
    key = lambda e: (e["hash"], e["executable"])  # noqa: E731 - a blob is content plus exec bit
    have = {key(e) for e in entries[first].values() if e["type"] == "file"}
    second_blobs = {key(e) for e in entries[second].values() if e["type"] == "file"}
    shared = second_blobs & have
    assert shared, "identical files (license texts, data, shared sources) must be stored once"
    assert new_blobs(b.stderr) == len(second_blobs - have)  # every identical file shared
    assert blob_count(root) - before == len(second_blobs - have)
    files_second = sum(1 for e in entries[second].values() if e["type"] == "file")
    assert new_blobs(b.stderr) < files_second


def test_copy_imported_then_deleted_still_runs(tmp_path: Path, imported) -> None:
    minor = newest("3.12", "3.11", "3.13")
    copy = tmp_path / "elsewhere" / f"py{minor}"
    shutil.copytree(origin(minor), copy, symlinks=True,
                    ignore=lambda d, names: names if d.endswith("site-packages") else [])
    root = tmp_path / "store"
    proc = run_store(root, "python", "import", str(copy / "bin" / f"python{minor}"))
    assert proc.returncode == 0, proc.stderr
    store_path = Path(proc.stdout.strip())
    # Relocation removes every trace of where the tree was, so a copy is the same store path.
    assert store_path.name == imported(minor).name
    shutil.rmtree(copy)
    run = subprocess.run([str(exe(store_path)), "-c", STDLIB_EXTENSIONS + "; import _ssl, _sqlite3, _ctypes; print('ok')"],
                         capture_output=True, text=True, env=store_env())
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    needle = str(tmp_path / "elsewhere").encode()
    assert not [f for f in tree_files(store_path) if needle in f.read_bytes()]


# -- selection ------------------------------------------------------------------------------------

def test_find_interpreter_prefers_the_store_and_reports_identity(imported, shared_store: Path) -> None:
    minor = newest("3.12", "3.13")
    store_path = imported(minor)
    info = find_interpreter(Store(shared_store, fsync=False), minor)
    assert isinstance(info, InterpreterInfo)
    assert info.store_path == store_path and info.implementation == "cpython"
    assert info.version.startswith(minor + ".")
    assert info.executable.is_file() and info.executable.parent == store_path / "bin"
    assert len(info.manifest_id) == 64
    assert info.marker_env["python_version"] == minor
    assert info.marker_env["python_full_version"] == info.version
    cp = "cp" + minor.replace(".", "")
    assert info.tags[0].startswith(f"{cp}-{cp}-")
    assert f"{cp}-abi3-linux_x86_64" in info.tags or info.architecture != "x86_64"
    assert info.tags[-1] == "py30-none-any"


def test_find_interpreter_imports_a_discovered_one(tmp_path: Path) -> None:
    minor = newest("3.8", "3.9", "3.10")
    store = Store(tmp_path / "store", fsync=False)
    assert list_interpreters(store) == []
    info = find_interpreter(store, f"{minor}.*")
    assert info.version.startswith(minor + ".")
    assert [i.name for i in list_interpreters(store)] == [info.name]
    assert find_interpreter(store, f">={minor},<{minor}.999") == info  # now from the store
    with pytest.raises(InterpreterError, match="no interpreter matching"):
        find_interpreter(store, "2.5")
    with pytest.raises(InterpreterError, match="invalid python version constraint"):
        find_interpreter(store, ">=three")


# -- python-build-standalone archives ---------------------------------------------------------------

def _standalone_archive(minor: str, dest: Path) -> Path:
    """An install_only-layout archive (python/bin/python3.X, python/lib/...) made from a local
    interpreter; the test suite and the static library are left out to keep it quick."""
    src = origin(minor)
    archive = dest / f"cpython-{minor}-test-install_only.tar"

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        if "site-packages" in parts[:-1] or (len(parts) > 3 and parts[3] == "test") or info.name.endswith(".a"):
            return None
        return info

    with tarfile.open(archive, "w") as tar:
        tar.add(src, arcname="python", filter=keep)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    Path(str(archive) + ".sha256").write_text(f"{digest}  {archive.name}\n")
    return archive


def test_install_from_standalone_archive(tmp_path: Path, shared_store: Path) -> None:
    minor = newest("3.12", "3.11", "3.13")
    archive = _standalone_archive(minor, tmp_path)
    proc = run_store(shared_store, "python", "install", minor, "--from", archive.as_uri())
    assert proc.returncode == 0, proc.stderr
    store_path = Path(proc.stdout.strip())
    run = subprocess.run([str(exe(store_path)), "-c", STDLIB_EXTENSIONS + "; print('ok')"],
                         capture_output=True, text=True, env=store_env())
    assert run.stdout.strip() == "ok", run.stderr
    # The same archive through the URL template users point at a mirror.
    template = (tmp_path.as_uri() + "/cpython-{version}-test-install_only.tar")
    version = subprocess.run([str(exe(store_path)), "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True).stdout.strip()
    shutil.copy(archive, tmp_path / f"cpython-{version}-test-install_only.tar")
    shutil.copy(str(archive) + ".sha256", tmp_path / f"cpython-{version}-test-install_only.tar.sha256")
    env = store_env(ENVSTORE_FSYNC="0", ENVSTORE_PYTHON_URL=template)
    again = run_store(shared_store, "python", "install", version, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == str(store_path)
    # A damaged archive is refused with expected and actual hashes, and nothing is added.
    bad = tmp_path / "bad.tar"
    shutil.copy(archive, bad)
    with open(bad, "r+b") as f:
        f.seek(2000)
        f.write(b"\xff")
    Path(str(bad) + ".sha256").write_text(Path(str(archive) + ".sha256").read_text())
    before = sorted(p.name for p in (shared_store / "python").iterdir())
    refused = run_store(shared_store, "python", "install", minor, "--from", bad.as_uri())
    assert_one_error_line(refused)
    assert "sha256 mismatch" in refused.stderr
    assert sorted(p.name for p in (shared_store / "python").iterdir()) == before
    no_hash = tmp_path / "nohash.tar"
    shutil.copy(archive, no_hash)
    assert_one_error_line(run_store(shared_store, "python", "install", minor, "--from", no_hash.as_uri()))


# -- remove ---------------------------------------------------------------------------------------

def test_remove_refuses_while_a_prefix_uses_it(tmp_path: Path) -> None:
    minor = newest("3.8", "3.9", "3.10")
    root = tmp_path / "store"
    store_path = Path(run_store(root, "python", "import", str(origin(minor))).stdout.strip())
    env_dir = root / "envs" / "abc-demo"
    env_dir.mkdir(parents=True)
    (env_dir / "pyvenv.cfg").write_text(f"home = {store_path / 'bin'}\n")
    refused = run_store(root, "python", "remove", store_path.name)
    assert_one_error_line(refused)
    assert "abc-demo" in refused.stderr
    assert store_path.is_dir()
    shutil.rmtree(env_dir)
    ok = run_store(root, "python", "remove", minor)
    assert ok.returncode == 0, ok.stderr
    assert not store_path.exists()
    listed = json.loads(run_store(root, "python", "list", "--json", "--store-only").stdout)
    assert listed["version"] == 1 and listed["data"]["store"] == []
    assert not list((root / "tmp").iterdir())


# -- discovery and bad input ---------------------------------------------------------------------

def test_list_shows_store_and_discovered(imported, shared_store: Path) -> None:
    minor = newest("3.12", "3.13")
    store_path = imported(minor)
    proc = run_store(shared_store, "python", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)["data"]
    assert str(store_path) in [i["store_path"] for i in data["store"]]
    found = {r["origin"] for r in data["discovered"] if r["usable"]}
    assert {str(p) for p in PYTHONS.values()} <= found
    text = run_store(shared_store, "python", "list").stdout
    assert str(store_path) in text


@pytest.mark.parametrize("args", [
    ["python", "import", "/nonexistent/python3.99"],
    ["python", "import", "/etc"],
    ["python", "import", "/bin/sh"],
    ["python", "install", "3.99.0", "--from", "/nonexistent/archive.tar.gz"],
    ["python", "install", "3.99.0"],
    ["python", "remove", "3.99"],
])
def test_bad_input_is_one_error_line(args: list[str], tmp_path: Path) -> None:
    proc = run_store(tmp_path / "store", *args)
    assert_one_error_line(proc)


def test_not_an_interpreter_file(tmp_path: Path) -> None:
    fake = tmp_path / "python3.12"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    proc = run_store(tmp_path / "store", "python", "import", str(fake))
    assert_one_error_line(proc)
    assert "not a" in proc.stderr


def test_a_venv_interpreter_imports_its_base(imported, tmp_path: Path, shared_store: Path) -> None:
    minor = newest("3.12", "3.13")
    store_path = imported(minor)
    venv = tmp_path / "venv"
    subprocess.run([str(origin(minor) / "bin" / f"python{minor}"), "-m", "venv", "--without-pip", str(venv)],
                   check=True, env=store_env())
    proc = run_store(shared_store, "python", "import", str(venv / "bin" / "python"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(store_path)


def test_python_version_file_puts_its_pin_first(tmp_path: Path) -> None:
    from envstore.interpreters.discover import discover

    minor = newest("3.10", "3.9", "3.11")
    (tmp_path / ".python-version").write_text(f"# pinned for this project\n{minor}\n")
    (tmp_path / "sub").mkdir()
    first = discover(tmp_path / "sub")[0]
    assert first.source == "pyenv:.python-version"
    assert first.executable.parent.parent == origin(minor)


def test_system_python_imports_only_its_own_parts(tmp_path: Path) -> None:
    system = sorted(Path("/usr/bin").glob("python3.[0-9]*"))
    system = [p for p in system if p.name[len("python3."):].isdigit() and int(p.name[len("python3."):]) >= 8]
    if not system:
        pytest.skip("no /usr/bin/python3.X (3.8+) on this machine")
    proc = run_store(tmp_path / "store", "python", "import", str(system[-1]))
    assert proc.returncode == 0, proc.stderr
    store_path = Path(proc.stdout.strip())
    assert sorted(p.name for p in store_path.iterdir()) <= ["bin", "include", "lib"]
    run = subprocess.run([str(exe(store_path)), "-c", STDLIB_EXTENSIONS + "; import sys; print(sys.prefix)"],
                         capture_output=True, text=True, env=store_env())
    assert run.returncode == 0 and run.stdout.strip() == str(store_path), run.stderr


def test_constraints_follow_conda_match_specs() -> None:
    from packaging.version import Version

    from envstore.interpreters import parse_constraint

    versions = ["3.8.18", "3.10.13", "3.11.7", "3.12.1", "3.12.10", "3.13.0"]

    def picks(c: str | None) -> list[str]:
        m = parse_constraint(c)
        return [v for v in versions if m(Version(v))]

    assert picks("3.12") == ["3.12.1", "3.12.10"]
    assert picks("=3.12") == picks("3.12.*") == picks("python=3.12") == ["3.12.1", "3.12.10"]
    assert picks("3.12.1") == ["3.12.1"]
    assert picks("==3.12") == []
    assert picks(">=3.10,<3.13") == ["3.10.13", "3.11.7", "3.12.1", "3.12.10"]
    assert picks("3.8|3.13") == ["3.8.18", "3.13.0"]
    assert picks(None) == picks("*") == versions
    assert picks("~=3.11.0") == ["3.11.7"]
    for bad in (">=", "three", "3.12,,>", ">=3.1O"):
        with pytest.raises(InterpreterError):
            parse_constraint(bad)
